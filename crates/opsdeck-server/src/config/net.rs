//! Network values in the configuration: the listen address and the trusted proxy ranges
//! ([`Cidr`], [`TrustedProxies`]) whose `X-Forwarded-*` headers are honoured.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`). A plain address
/// is a network of one (`/32` or `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/PREFIX`. Host bits must be zero (`10.0.0.1/8` is refused
    /// with a suggestion): a range written with them is usually a typo for something else.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| match prefix {
            Some(_) => format!("invalid IP address \"{addr}\" in \"{text}\""),
            None => format!("invalid IP address or CIDR range \"{text}\""),
        })?;
        let max = max_prefix(network);
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                format!("invalid prefix length in \"{text}\"; expected 0 to {max}")
            })?,
        };
        let cidr = Self { network, prefix };
        let masked = cidr.masked(network);
        if masked != network {
            return Err(format!(
                "\"{text}\" has host bits set; did you mean {masked}/{prefix}?"
            ));
        }
        Ok(cidr)
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this network. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a
    /// dual-stack socket reports) count as the IPv4 address they carry.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && self.masked(ip) == self.network
    }

    /// `ip` with the bits beyond the prefix cleared (same address family as `ip`).
    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        }
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The proxies whose `X-Forwarded-*` headers are believed. Empty (the default) trusts none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// A list of ranges.
    pub fn new(ranges: Vec<Cidr>) -> Self {
        Self(ranges)
    }

    /// Whether a peer address belongs to a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }

    /// The configured ranges.
    pub fn ranges(&self) -> &[Cidr] {
        &self.0
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `#[serde(with)]` for the listen address, with a message that shows the expected form
/// (a host name such as `localhost:8080` is not accepted: binding must not depend on DNS).
pub mod socket_addr {
    use super::{Deserialize, Deserializer, Serializer, SocketAddr};

    /// Writes `IP:PORT`.
    pub fn serialize<S: Serializer>(value: &SocketAddr, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Reads `IP:PORT`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// Parses `IP:PORT` (`127.0.0.1:8080`, `[::]:8080`).
    pub fn parse(text: &str) -> Result<SocketAddr, String> {
        text.trim().parse().map_err(|_| {
            format!(
                "invalid address \"{text}\"; expected IP:PORT, e.g. 127.0.0.1:8080 or [::]:8080"
            )
        })
    }
}
