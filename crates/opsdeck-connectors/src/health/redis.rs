//! `redis`: a fresh connection answers `PING` with `PONG`.

use async_trait::async_trait;
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::target::{server_address, shown_target};
use super::{ComponentType, Observation, ProbeContext, ProbeType};

/// `type = "redis"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// `redis://[:PASSWORD@]HOST[:PORT][/DB]`; may hold credentials.
    pub url: Secret,
}

#[async_trait]
impl ProbeType for Redis {
    const TYPE: &'static str = "redis";
    const COMPONENT: ComponentType = ComponentType::Datastore;

    fn target(&self) -> String {
        shown_target(self.url.expose())
    }

    fn secrets(&self) -> Vec<&Secret> {
        vec![&self.url]
    }

    async fn run(&self, _: &ProbeContext) -> Observation {
        let url = &self.url;
        let at = server_address(url.expose(), 6379);
        let client = match ::redis::Client::open(url.expose()) {
            Ok(client) => client,
            Err(err) => return Observation::fail(format!("the redis URL is not valid: {err}")),
        };
        // The check's own timeout bounds the probe; the client's defaults (1 s to connect,
        // 500 ms per reply) would otherwise fail a slow Redis before that timeout says so.
        let config = ::redis::AsyncConnectionConfig::new()
            .set_connection_timeout(None)
            .set_response_timeout(None);
        let mut conn = match client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(conn) => conn,
            Err(err) => {
                return Observation::fail(format!("could not connect to redis at {at}: {err}"));
            }
        };
        match ::redis::cmd("PING").query_async::<String>(&mut conn).await {
            Ok(reply) if reply == "PONG" => Observation::pass(),
            Ok(reply) => Observation::fail(format!(
                "redis at {at} answered PING with \"{}\" instead of PONG",
                reply.chars().take(40).collect::<String>()
            )),
            Err(err) => Observation::fail(format!("redis at {at} did not answer PING: {err}")),
        }
    }
}
