//! `redis`: a fresh connection answers `PING` with `PONG`.

use super::Observation;
use super::postgres::server_address;
use opsdeck_core::secret::Secret;

pub(super) async fn observe(url: &Secret) -> Observation {
    let at = server_address(url.expose(), 6379);
    let client = match redis::Client::open(url.expose()) {
        Ok(client) => client,
        Err(err) => return Observation::fail(format!("the redis URL is not valid: {err}")),
    };
    // The check's own timeout bounds the probe; the client's defaults (1 s to connect,
    // 500 ms per reply) would otherwise fail a slow Redis before that timeout says so.
    let config = redis::AsyncConnectionConfig::new()
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
    match redis::cmd("PING").query_async::<String>(&mut conn).await {
        Ok(reply) if reply == "PONG" => Observation::pass(),
        Ok(reply) => Observation::fail(format!(
            "redis at {at} answered PING with \"{}\" instead of PONG",
            reply.chars().take(40).collect::<String>()
        )),
        Err(err) => Observation::fail(format!("redis at {at} did not answer PING: {err}")),
    }
}
