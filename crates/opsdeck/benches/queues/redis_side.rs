//! What Redis itself saw: its `SLOWLOG`, logging every command while a figure is taken
//! (the threshold and length are restored afterwards), kept to the commands that name the
//! benchmark's prefix (or queue name), so other clients of the same Redis do not count.
//! Shared by the Redis-backed systems' parts.

use redis::Value;
use redis::aio::MultiplexedConnection;

pub struct RedisSide {
    url: String,
    conn: MultiplexedConnection,
    saved: Vec<(String, String)>,
}

/// A logged command: its name and how long Redis ran it, in µs.
pub struct Logged {
    pub command: String,
    pub micros: u64,
}

fn text(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

impl RedisSide {
    pub async fn connect(url: &str) -> Self {
        let client = redis::Client::open(url).unwrap();
        // A long SLOWLOG reply takes longer than the client's default reply timeout.
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .unwrap();
        let mut saved = Vec::new();
        for name in ["slowlog-log-slower-than", "slowlog-max-len"] {
            let pair: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg(name)
                .query_async(&mut conn)
                .await
                .unwrap();
            if let [key, value] = pair.as_slice() {
                saved.push((key.clone(), value.clone()));
            }
        }
        Self {
            url: url.to_owned(),
            conn,
            saved,
        }
    }

    /// Logs every command from now on.
    pub async fn start_slowlog(&self) {
        let mut conn = self.conn.clone();
        let _: () = redis::pipe()
            .cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-log-slower-than")
            .arg(0)
            .ignore()
            .cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-max-len")
            .arg(200_000)
            .ignore()
            .cmd("SLOWLOG")
            .arg("RESET")
            .ignore()
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    /// Back to the settings found.
    pub async fn stop_slowlog(&self) {
        let mut conn = self.conn.clone();
        for (key, value) in &self.saved {
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg(key)
                .arg(value)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
        let _: () = redis::cmd("SLOWLOG")
            .arg("RESET")
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    /// The commands logged since [`Self::start_slowlog`] that name `prefix`.
    pub async fn slowlog(&self, prefix: &str) -> Vec<Logged> {
        let mut conn = self.conn.clone();
        let entries: Value = redis::cmd("SLOWLOG")
            .arg("GET")
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap();
        let Value::Array(entries) = entries else {
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|entry| {
                let Value::Array(fields) = entry else {
                    return None;
                };
                let micros = match fields.get(2)? {
                    Value::Int(n) => u64::try_from(*n).ok()?,
                    _ => return None,
                };
                let Value::Array(args) = fields.get(3)? else {
                    return None;
                };
                let args: Vec<String> = args.iter().map(text).collect();
                args.iter().any(|a| a.contains(prefix)).then(|| Logged {
                    command: args.first().cloned().unwrap_or_default().to_uppercase(),
                    micros,
                })
            })
            .collect()
    }
}

impl Drop for RedisSide {
    /// The settings found are put back however the benchmark ends.
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        else {
            return;
        };
        for (key, value) in &self.saved {
            let _: redis::RedisResult<()> = redis::cmd("CONFIG")
                .arg("SET")
                .arg(key)
                .arg(value)
                .query(&mut conn);
        }
    }
}

/// The longest script among `logged`, in µs.
pub fn longest_script(logged: &[Logged]) -> Option<u64> {
    logged
        .iter()
        .filter(|l| matches!(l.command.as_str(), "EVALSHA" | "EVAL" | "FCALL"))
        .map(|l| l.micros)
        .max()
}

/// The scripts among `logged`: how many, and Redis's time in them all, in µs.
pub fn scripts_total(logged: &[Logged]) -> (usize, u64) {
    logged
        .iter()
        .filter(|l| matches!(l.command.as_str(), "EVALSHA" | "EVAL" | "FCALL"))
        .fold((0, 0), |(n, total), l| (n + 1, total + l.micros))
}
