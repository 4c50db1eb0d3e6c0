//! A `sidekiq` source against the real Sidekiq (Debian's 6.4.1, client and server, driven
//! by `tests/fixtures/queues/sidekiq/driver.rb`) on the machine's Redis, each test in its own
//! Redis database (10 to 15, claimed through a lock key): the view and the job lists say
//! what Sidekiq's own API says; retries through opsdeck run once on the real server and never
//! move an entry that changed or was retried already; errors, backtraces and arguments come
//! out redacted; Sidekiq 7.x and 8.x payloads (written from their documented format) are
//! read in their own time format; unknown layouts and an unreachable Redis are reported.

mod actions;
pub(crate) mod fixture;
mod formats;
mod view;
