//! A `celery` source against real Celery (5.7.0, from the Python fixtures) with its Redis
//! broker and result backend in database 2 of the machine's Redis, each test under its own
//! `global_keyprefix`: depths as kombu counts them, messages a real worker holds, failures
//! from the backend, redacted; retry, discard and pause refused with why; an unreachable
//! Redis and a layout opsdeck does not know are reported, never guessed at.

pub(crate) mod fixture;
mod view;
