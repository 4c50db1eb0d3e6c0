//! The Redis connection of a Redis-backed queue source (BullMQ, Sidekiq, RQ, Celery): made
//! on first use (an unreachable Redis fails each call, bounded by the read timeout, and is
//! tried again on the next), shared by every call (one multiplexed connection), dropped after
//! an I/O error. Scripts are sent by their SHA-1 and loaded once, again if Redis forgot them.
//! The rules of a Redis URL key are here too ([`redis_url_problems`]).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Pipeline, RedisError, Value};
use tokio::sync::Mutex;

use opsdeck_core::secret::Secret;

use crate::queues::{Problems, QueueError};

/// A Lua script of a connector: its name (for errors) and its text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Script {
    pub name: &'static str,
    pub text: &'static str,
}

pub(crate) struct Client {
    client: redis::Client,
    timeout: Duration,
    connection: Mutex<Option<MultiplexedConnection>>,
    shas: std::sync::Mutex<HashMap<&'static str, String>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A Redis error as the source's error: connection trouble makes the source unreachable.
pub(crate) fn source_error(err: &RedisError) -> QueueError {
    if err.is_io_error() || err.is_timeout() || err.is_connection_dropped() {
        QueueError::Unreachable(format!("redis: {err}"))
    } else {
        QueueError::Other(format!("redis: {err}"))
    }
}

impl Client {
    /// Parses `url` (and reads `ca_file`, the private CA a TLS server's certificate is
    /// checked against); connects on first use.
    pub async fn new(
        url: &str,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, QueueError> {
        let invalid = |e: RedisError| QueueError::Other(format!("the redis URL is not valid: {e}"));
        let client = match ca_file {
            None => redis::Client::open(url).map_err(invalid)?,
            Some(path) => {
                let pem = tokio::fs::read(path).await.map_err(|e| {
                    QueueError::Other(format!("could not read ca_file {}: {e}", path.display()))
                })?;
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(url, certificates).map_err(invalid)?
            }
        };
        Ok(Self {
            client,
            timeout,
            connection: Mutex::new(None),
            shas: std::sync::Mutex::new(HashMap::new()),
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, QueueError> {
        let mut slot = self.connection.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| QueueError::Unreachable(format!("could not connect to redis: {e}")))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn forget_on(&self, err: &RedisError) {
        if err.is_io_error() || err.is_timeout() || err.is_connection_dropped() {
            *self.connection.lock().await = None;
        }
    }

    /// Runs `pipe`, whose replies are `T`.
    pub async fn query<T: redis::FromRedisValue>(&self, pipe: &Pipeline) -> Result<T, QueueError> {
        let mut conn = self.connection().await?;
        match pipe.query_async::<T>(&mut conn).await {
            Ok(value) => Ok(value),
            Err(err) => {
                self.forget_on(&err).await;
                Err(source_error(&err))
            }
        }
    }

    /// One command.
    pub async fn command<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, QueueError> {
        let mut conn = self.connection().await?;
        match cmd.query_async::<T>(&mut conn).await {
            Ok(value) => Ok(value),
            Err(err) => {
                self.forget_on(&err).await;
                Err(source_error(&err))
            }
        }
    }

    async fn sha(&self, script: Script, reload: bool) -> Result<String, QueueError> {
        if !reload
            && let Some(sha) = self
                .shas
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(script.name)
        {
            return Ok(sha.clone());
        }
        let sha: String = self
            .command(redis::cmd("SCRIPT").arg("LOAD").arg(script.text))
            .await?;
        self.shas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(script.name, sha.clone());
        Ok(sha)
    }

    /// Runs each of `calls` (keys, then arguments) of `script`, pipelined in one round trip.
    pub async fn scripts(
        &self,
        script: Script,
        calls: &[(Vec<String>, Vec<String>)],
    ) -> Result<Vec<Value>, QueueError> {
        let mut reload = false;
        loop {
            let sha = self.sha(script, reload).await?;
            let mut pipe = redis::pipe();
            for (keys, args) in calls {
                pipe.cmd("EVALSHA")
                    .arg(&sha)
                    .arg(keys.len())
                    .arg(keys)
                    .arg(args);
            }
            let mut conn = self.connection().await?;
            match pipe.query_async::<Vec<Value>>(&mut conn).await {
                Ok(values) => return Ok(values),
                Err(err) if err.code() == Some("NOSCRIPT") && !reload => reload = true,
                Err(err) => {
                    self.forget_on(&err).await;
                    return Err(match source_error(&err) {
                        QueueError::Other(_) => {
                            QueueError::Other(format!("redis, script {}: {err}", script.name))
                        }
                        unreachable => unreachable,
                    });
                }
            }
        }
    }

    /// Runs `script` once.
    pub async fn script(
        &self,
        script: Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<Value, QueueError> {
        let mut values = self.scripts(script, &[(keys, args)]).await?;
        values
            .pop()
            .ok_or_else(|| QueueError::Other(format!("redis, script {}: no reply", script.name)))
    }
}

/// The problems of a Redis source's URL under `key` (and whether a `ca_file` fits it), as (key, message).
pub(crate) fn redis_url_problems(key: &str, url: &Secret, has_ca_file: bool) -> Problems {
    let mut problems = Problems::new();
    match url::Url::parse(url.expose()) {
        Ok(url) if url.scheme() == "redis" && has_ca_file => problems.push((
            "ca_file".to_owned(),
            "applies to TLS connections only: use a rediss:// url".to_owned(),
        )),
        Ok(url) if matches!(url.scheme(), "redis" | "rediss") => {}
        Ok(_) => problems.push((
            key.to_owned(),
            "must be a redis:// or rediss:// (TLS) URL".to_owned(),
        )),
        Err(_) => problems.push((
            key.to_owned(),
            "is not a URL: expected redis://[:password@]host[:port][/db] or rediss://…".to_owned(),
        )),
    }
    problems
}

/// Reading script replies.
pub(crate) mod reply {
    use redis::Value;

    pub fn text(value: &Value) -> Option<String> {
        match value {
            Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Value::SimpleString(text) => Some(text.clone()),
            Value::Int(n) => Some(n.to_string()),
            Value::VerbatimString { text, .. } => Some(text.clone()),
            _ => None,
        }
    }

    pub fn int(value: &Value) -> Option<i64> {
        match value {
            Value::Int(n) => Some(*n),
            other => text(other).and_then(|t| t.trim().parse().ok()),
        }
    }

    pub fn float(value: &Value) -> Option<f64> {
        match value {
            Value::Int(n) => Some(*n as f64),
            Value::Double(n) => Some(*n),
            other => text(other).and_then(|t| t.trim().parse().ok()),
        }
    }

    pub fn array(value: &Value) -> &[Value] {
        match value {
            Value::Array(items) | Value::Set(items) => items,
            _ => &[],
        }
    }

    /// `{ "unsupported", version }`, a script's refusal, gives the version found.
    pub fn refusal(value: &Value) -> Option<String> {
        let items = array(value);
        match items {
            [first, version] if text(first).as_deref() == Some("unsupported") => {
                Some(text(version).unwrap_or_default())
            }
            _ => None,
        }
    }
}
