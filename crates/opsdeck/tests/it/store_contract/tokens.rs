//! Contract tests for the tokens store, on both backends.
