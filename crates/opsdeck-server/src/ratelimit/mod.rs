//! Rate limits (SPEC §2): GCRA budgets from `[rate_limit]`, enforced with `governor`.
//!
//! - **Reads and writes, per principal.** After the role check, [`authorize`] charges a GET or
//!   HEAD to the principal's read budget and any other method to its (tighter) write budget.
//! - **Failed authentication, per client address.** Before a presented credential is looked
//!   up, [`authenticate`] asks whether the address has spent its budget and, if so, answers
//!   429 without checking the credential, so a valid token is refused too while the address
//!   is blocked; every refused credential spends one unit, a valid one spends nothing. The
//!   address is the one `middleware/client.rs` trusts (`X-Forwarded-For` only from trusted
//!   proxies); IPv6 addresses count per /64, the block one host is usually given.
//! - **Ingest, per ingest key**, with a higher budget: [`RateLimits::check_ingest`].
//!
//! Over budget, a request is answered 429 with `Retry-After` and the draft `RateLimit` /
//! `RateLimit-Policy` headers, which allowed requests carry too (see `http.rs`).
//!
//! The budgets live in this process's memory: with N replicas a caller may get up to N
//! times each rate. That is acceptable for an admin API; a strict global limit would need
//! a shared counter in the database. Memory stays bounded because a background loop drops
//! every key whose budget is full again ([`RateLimits::retain_recent`]) and gives the
//! space back ([`RateLimits::shrink_to_fit`]).
//!
//! [`authenticate`] attaches the service to each request as an `Arc<RateLimits>` extension;
//! [`authorize`] takes it from there, and a request without it is not limited.
//!
//! [`authorize`]: crate::middleware::auth::authorize
//! [`authenticate`]: crate::auth::authenticate

mod http;
mod store;

use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::Request;
use axum::http::Method;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};
use opsdeck_core::auth::Principal;
use uuid::Uuid;

use self::http::Policy;
pub use self::http::{Allowed, Limited};
use self::store::{Probe, Store};
use crate::background::Job;
use crate::config::RateLimitConfig;

/// A clock that tests move by hand, for [`RateLimits::with_clock`].
pub use governor::clock::FakeRelativeClock;

/// What a check answers: let it through (with the budget's state), or 429.
pub type Outcome = Result<Allowed, Limited>;

/// Every budget of this process.
pub struct RateLimits<C: Clock = DefaultClock> {
    enabled: bool,
    reads: Bucket<String, C>,
    writes: Bucket<String, C>,
    failed_auth: Bucket<IpAddr, C>,
    ingest: Bucket<Uuid, C>,
}

impl RateLimits {
    /// The budgets of `config`, on the monotonic clock.
    pub fn new(config: &RateLimitConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    /// The budgets of `config`, on `clock` (tests pass a [`FakeRelativeClock`]).
    pub fn with_clock(config: &RateLimitConfig, clock: C) -> Self {
        let policy =
            |name, per_minute, burst, refused| Policy::new(name, quota(per_minute, burst), refused);
        let busy = "too many requests";
        Self {
            enabled: config.enabled,
            reads: Bucket::new(
                policy("reads", config.reads_per_minute, config.read_burst, busy),
                clock.clone(),
            ),
            writes: Bucket::new(
                policy(
                    "writes",
                    config.writes_per_minute,
                    config.write_burst,
                    "too many write requests",
                ),
                clock.clone(),
            ),
            failed_auth: Bucket::new(
                policy(
                    "failed-auth",
                    config.failed_auth_per_minute,
                    config.failed_auth_burst,
                    "too many failed authentication attempts from this address",
                ),
                clock.clone(),
            ),
            ingest: Bucket::new(
                policy(
                    "ingest",
                    config.ingest_per_minute,
                    config.ingest_burst,
                    busy,
                ),
                clock,
            ),
        }
    }
}

impl<C: Clock> RateLimits<C> {
    /// Charges one read (GET, HEAD) to `principal`.
    pub fn check_read(&self, principal: &str) -> Outcome {
        self.charge(&self.reads, principal.to_owned())
    }

    /// Charges one write (any other method) to `principal`.
    pub fn check_write(&self, principal: &str) -> Outcome {
        self.charge(&self.writes, principal.to_owned())
    }

    /// Charges a request by `principal` to its read or its write budget, by method.
    pub fn check_request(&self, method: &Method, principal: &str) -> Outcome {
        if *method == Method::GET || *method == Method::HEAD {
            self.check_read(principal)
        } else {
            self.check_write(principal)
        }
    }

    /// Charges one ingest call to the ingest key `key_id`.
    pub fn check_ingest(&self, key_id: Uuid) -> Outcome {
        self.charge(&self.ingest, key_id)
    }

    /// Whether credentials from `client` may still be checked: `Err` once the address has
    /// spent its failed-authentication budget. Spends nothing and remembers nothing.
    pub fn check_auth_allowed(&self, client: IpAddr) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.failed_auth
            .check(Probe::look(address_key(client)))
            .map(drop)
    }

    /// Charges one refused credential to `client`.
    pub fn record_failed_auth(&self, client: IpAddr) -> Outcome {
        self.charge(&self.failed_auth, address_key(client))
    }

    /// Forgets every key whose budget is full again: such a key behaves exactly as one
    /// never seen.
    pub fn retain_recent(&self) {
        self.reads.limiter.retain_recent();
        self.writes.limiter.retain_recent();
        self.failed_auth.limiter.retain_recent();
        self.ingest.limiter.retain_recent();
    }

    /// Gives back the memory of forgotten keys.
    pub fn shrink_to_fit(&self) {
        self.reads.limiter.shrink_to_fit();
        self.writes.limiter.shrink_to_fit();
        self.failed_auth.limiter.shrink_to_fit();
        self.ingest.limiter.shrink_to_fit();
    }

    /// Keys currently remembered, over all budgets.
    pub fn len(&self) -> usize {
        self.reads.limiter.len()
            + self.writes.limiter.len()
            + self.failed_auth.limiter.len()
            + self.ingest.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn charge<K: Hash + Eq + Clone>(&self, bucket: &Bucket<K, C>, key: K) -> Outcome {
        if !self.enabled {
            return Ok(Allowed::unlimited());
        }
        bucket.check(Probe::spend(key))
    }
}

/// Lists sizes only: the keys are principals and client addresses.
impl<C: Clock> fmt::Debug for RateLimits<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimits")
            .field("enabled", &self.enabled)
            .field("reads", &self.reads.limiter.len())
            .field("writes", &self.writes.limiter.len())
            .field("failed_auth", &self.failed_auth.limiter.len())
            .field("ingest", &self.ingest.limiter.len())
            .finish()
    }
}

/// One budget: a keyed GCRA limiter and how its decisions are told.
struct Bucket<K: Hash + Eq + Clone, C: Clock> {
    policy: Policy,
    limiter: RateLimiter<Probe<K>, Store<K>, C, StateInformationMiddleware>,
}

impl<K: Hash + Eq + Clone, C: Clock> Bucket<K, C> {
    fn new(policy: Policy, clock: C) -> Self {
        Self {
            policy,
            limiter: RateLimiter::new(policy.quota(), Store::default(), clock),
        }
    }

    fn check(&self, probe: Probe<K>) -> Outcome {
        match self.limiter.check_key(&probe) {
            Ok(state) => Ok(self.policy.allowed(state.remaining_burst_capacity())),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Err(self.policy.limited(wait))
            }
        }
    }
}

/// `per_minute` requests a minute, `burst` at once. Validation rejects zeros; were one to
/// slip through, a budget of one is the safe reading.
fn quota(per_minute: u32, burst: u32) -> Quota {
    let at_least_one = |n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(at_least_one(per_minute)).allow_burst(at_least_one(burst))
}

/// The key an address is counted under: an IPv4 address (also when IPv4-mapped), or the
/// /64 of an IPv6 address, since one host can use every address of its /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// Charges an authenticated request to its principal's read or write budget, with the
/// service that [`authenticate`](crate::auth::authenticate) attached to the request.
pub fn charge_request(request: &Request, principal: &Principal) -> Outcome {
    match request.extensions().get::<Arc<RateLimits>>() {
        Some(limits) => limits.check_request(request.method(), &principal.id),
        None => Ok(Allowed::unlimited()),
    }
}

/// The background loop that keeps memory bounded under many distinct keys.
#[derive(Debug)]
pub struct RateLimitSweepJob {
    pub limits: Arc<RateLimits>,
}

#[async_trait]
impl Job for RateLimitSweepJob {
    async fn tick(&self) -> anyhow::Result<()> {
        self.limits.retain_recent();
        self.limits.shrink_to_fit();
        Ok(())
    }
}
