//! An `rq` source against real RQ (3.0.0, from the Python fixtures) on the machine's Redis,
//! each test under its own `RQ_KEY_PREFIX`: jobs enqueued by RQ's `Queue.enqueue` and failed
//! or run by a real RQ worker; counts as RQ's own registries say; requeues run once by a
//! real worker and never move a job that changed; discards delete what RQ's own removal
//! deletes; descriptions and tracebacks come out redacted; a layout or worker version opsdeck
//! does not know and an unreachable Redis are reported, never guessed at.

mod actions;
pub(crate) mod fixture;
mod view;
