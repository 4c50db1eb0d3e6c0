//! Contract tests for the audit store, on both backends.
