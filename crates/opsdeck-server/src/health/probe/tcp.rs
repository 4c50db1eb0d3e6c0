//! `tcp`: a connection to `host:port` is accepted.

use tokio::net::TcpStream;

use super::Observation;

pub(super) async fn observe(address: &str) -> Observation {
    match TcpStream::connect(address).await {
        Ok(_) => Observation::pass(),
        Err(err) => Observation::fail(format!("could not connect to {address}: {err}")),
    }
}
