//! A Celery message as kombu's Redis transport stores it: JSON `{body, content-type,
//! headers, properties}`, protocol 2 (`headers.task` and `headers.id`), the body base64 of
//! `[args, kwargs, embed]` when the task serializer is JSON.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// What opsdeck reads of a message.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Message {
    pub id: String,
    pub task: String,
    pub headers: Map<String, Value>,
    /// The arguments, when the body is JSON; `None` for another serializer.
    pub args: Option<Value>,
    pub kwargs: Option<Value>,
    /// The routing key it was sent with (its queue, with the default exchange).
    pub routing_key: Option<String>,
}

/// Why a message was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NotRead {
    /// Not JSON: not kombu's Redis transport as opsdeck knows it.
    NotJson,
    /// JSON without `headers.task` and `headers.id`: message protocol 1 or something else.
    NotProtocol2,
}

impl NotRead {
    pub fn describe(&self) -> &'static str {
        match self {
            NotRead::NotJson => "a message on the broker is not JSON",
            NotRead::NotProtocol2 => {
                "a message on the broker has no headers.task and headers.id (not message protocol 2)"
            }
        }
    }
}

pub(super) fn parse(raw: &[u8]) -> Result<Message, NotRead> {
    let value: Value = serde_json::from_slice(raw).map_err(|_| NotRead::NotJson)?;
    from_value(&value)
}

/// A message out of its JSON (also the first element of an `unacked` entry).
pub(super) fn from_value(value: &Value) -> Result<Message, NotRead> {
    let headers = value
        .get("headers")
        .and_then(Value::as_object)
        .ok_or(NotRead::NotProtocol2)?;
    let text = |key: &str| headers.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(id), Some(task)) = (text("id"), text("task")) else {
        return Err(NotRead::NotProtocol2);
    };
    let properties = value.get("properties");
    let routing_key = properties
        .and_then(|p| p.pointer("/delivery_info/routing_key"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (args, kwargs) = body_arguments(value).unwrap_or((None, None));
    Ok(Message {
        id,
        task,
        headers: headers.clone(),
        args,
        kwargs,
        routing_key,
    })
}

/// `[args, kwargs, embed]` from a JSON body (base64 as kombu's Redis transport encodes it).
fn body_arguments(value: &Value) -> Option<(Option<Value>, Option<Value>)> {
    let content_type = value.get("content-type").and_then(Value::as_str)?;
    if content_type != "application/json" {
        return None;
    }
    let body = value.get("body")?;
    let decoded: Value = match body {
        Value::String(text) => {
            let base64 = value
                .pointer("/properties/body_encoding")
                .and_then(Value::as_str)
                == Some("base64");
            if base64 {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()?;
                serde_json::from_slice(&bytes).ok()?
            } else {
                serde_json::from_str(text).ok()?
            }
        }
        other => other.clone(),
    };
    let parts = decoded.as_array()?;
    Some((parts.first().cloned(), parts.get(1).cloned()))
}

impl Message {
    /// The message as `tenant_path` reads it.
    pub fn as_job(&self) -> Value {
        json!({
            "id": self.id,
            "task": self.task,
            "headers": self.headers,
            "args": self.args,
            "kwargs": self.kwargs,
        })
    }
}
