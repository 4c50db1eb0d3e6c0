//! `tcp`: a connection to `host:port` is accepted.

use async_trait::async_trait;
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use super::target::needs_port;
use super::{ComponentType, Observation, ProbeContext, ProbeType, Problems};

/// `type = "tcp"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    /// `host:port`.
    pub address: String,
}

#[async_trait]
impl ProbeType for Tcp {
    const TYPE: &'static str = "tcp";
    const COMPONENT: ComponentType = ComponentType::Component;

    fn validate(&self) -> Problems {
        needs_port("address", &self.address, 5432)
            .into_iter()
            .collect()
    }

    fn target(&self) -> String {
        self.address.clone()
    }

    fn secrets(&self) -> Vec<&Secret> {
        Vec::new()
    }

    async fn run(&self, _: &ProbeContext) -> Observation {
        let address = &self.address;
        match TcpStream::connect(address).await {
            Ok(_) => Observation::pass(),
            Err(err) => Observation::fail(format!("could not connect to {address}: {err}")),
        }
    }
}
