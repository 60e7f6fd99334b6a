//! NumPy in and out: borrowed columns going in, zero-copy arrays going out.

use std::borrow::Cow;

use numpy::ndarray::ArrayView1;
use numpy::{Element, PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

/// The array's data as a slice when it is contiguous, else a copy.
pub(crate) fn column<'a, T: Element + Clone>(array: &'a PyReadonlyArray1<'_, T>) -> Cow<'a, [T]> {
    match array.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(array.as_array().to_vec()),
    }
}

/// A read-only NumPy array over `data`, which `owner` owns; the array keeps `owner` alive.
///
/// # Safety
///
/// `data` must live inside `owner` and must neither be mutated nor move while `owner` lives
/// (for instance a `Vec` of a `frozen` pyclass that never changes it).
pub(crate) unsafe fn borrowed_readonly<'py, T: Element>(
    data: &[T],
    owner: Bound<'py, PyAny>,
) -> Bound<'py, PyArray1<T>> {
    let view = ArrayView1::from(data);
    // SAFETY: the caller guarantees that `data` stays valid and unchanged while `owner` lives,
    // and the array holds a reference to `owner` as its base object.
    let array = unsafe { PyArray1::borrow_from_array(&view, owner) };
    // Read-only, so that Python cannot write through the array into the Rust value. NumPy does
    // not let Python turn the flag back on: the base object owns no data and has no buffer.
    if let Ok(rw) = array.try_readwrite() {
        rw.make_nonwriteable();
    }
    array
}
