//! A `bullmq` source against real BullMQ (6.7.6 and 5.81.5, from the Node fixtures) on the
//! machine's Redis, each test under its own key prefix: the view and the job lists say what
//! BullMQ itself says; retries and discards through opsdeck are seen by real workers, once,
//! never touching a job that failed after the dry run; pause and resume are BullMQ's;
//! payloads and stacks come out redacted; a version opsdeck does not know and an
//! unreachable Redis are reported, never guessed at; `rediss://` works with a password.

mod actions;
pub(crate) mod fixture;
mod tls;
mod view;
