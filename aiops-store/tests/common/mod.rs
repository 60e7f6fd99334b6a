//! Shared by the store's integration tests: the behaviours every backend must have, and a
//! throwaway PostgreSQL server.
#![allow(dead_code)]

pub(crate) mod behaviour;
pub(crate) mod postgres;
