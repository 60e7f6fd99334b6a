"""The exception hierarchy."""

import pickle

import pytest

import aiops
from aiops import (
    AiopsError,
    AiopsFileNotFoundError,
    AiopsIOError,
    ConfigError,
    InvalidInputError,
    InvalidParameterError,
    ModelFitError,
    NotEnoughDataError,
    ParseError,
    RemoteError,
    SnapshotError,
    UnknownResourceError,
)
from aiops._aiops import _error_variants

CLASSES = [
    AiopsError,
    InvalidInputError,
    ParseError,
    ConfigError,
    SnapshotError,
    InvalidParameterError,
    UnknownResourceError,
    NotEnoughDataError,
    ModelFitError,
    RemoteError,
    AiopsIOError,
    AiopsFileNotFoundError,
]


def test_hierarchy() -> None:
    assert issubclass(AiopsError, Exception)
    assert issubclass(InvalidInputError, AiopsError)
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(ParseError, InvalidInputError)
    assert issubclass(ParseError, ValueError)
    assert issubclass(InvalidParameterError, InvalidInputError)
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(AiopsIOError, AiopsError)
    assert issubclass(AiopsIOError, OSError)
    assert issubclass(AiopsFileNotFoundError, AiopsIOError)
    assert issubclass(AiopsFileNotFoundError, FileNotFoundError)
    assert issubclass(ConfigError, ParseError)
    assert issubclass(SnapshotError, ParseError)
    assert issubclass(UnknownResourceError, InvalidInputError)
    assert issubclass(NotEnoughDataError, InvalidInputError)
    assert issubclass(ModelFitError, AiopsError) and not issubclass(ModelFitError, ValueError)
    assert issubclass(RemoteError, AiopsError) and not issubclass(RemoteError, ValueError)
    assert not issubclass(AiopsIOError, ValueError)
    assert not issubclass(InvalidInputError, OSError)


@pytest.mark.parametrize("cls", CLASSES)
def test_classes_are_documented_and_picklable(cls: type[Exception]) -> None:
    assert cls.__module__ == "aiops._aiops"
    assert cls.__doc__
    assert getattr(aiops, cls.__name__) is cls
    e = pickle.loads(pickle.dumps(cls("boom")))
    assert type(e) is cls and "boom" in str(e)


def test_raised_errors_are_catchable_by_standard_classes() -> None:
    with pytest.raises(ValueError):
        aiops.read_csv_text("timestamp,value\n1,x\n")
    with pytest.raises(AiopsError):
        aiops.Detector("zscore", window=0)
    with pytest.raises(OSError):
        aiops.read_jsonl("/nonexistent/dir/file.jsonl")


def test_every_variant_of_every_rust_error_has_a_specific_class() -> None:
    """The binding maps each crate error with a `match` that has no catch-all arm and numbers
    the variants; one value of each variant must reach a subclass of AiopsError, never the
    bare base class (which is left for the binding's own internal failures)."""
    variants = _error_variants()
    enums = {name for name, _, _, _ in variants}
    assert enums == {
        "CoreError",
        "DetectError",
        "LogError",
        "AlertError",
        "RcaError",
        "ForecastError",
        "EvalError",
        "IntegrationError",
    }
    for enum in sorted(enums):
        seen = sorted(n for name, n, _, _ in variants if name == enum)
        (count,) = {c for name, _, c, _ in variants if name == enum}
        assert seen == list(range(count)), f"{enum}: a variant has no sample"
    for enum, n, _, exc in variants:
        assert isinstance(exc, AiopsError), (enum, n, exc)
        assert type(exc) is not AiopsError, f"{enum} variant {n} maps to the bare AiopsError"
        assert type(exc) in CLASSES, (enum, n, type(exc))
    # The IO variants are OSErrors with their errno; a missing file is a FileNotFoundError.
    io = [exc for _, _, _, exc in variants if isinstance(exc, OSError)]
    assert any(isinstance(e, AiopsFileNotFoundError) and e.errno == 2 for e in io)
