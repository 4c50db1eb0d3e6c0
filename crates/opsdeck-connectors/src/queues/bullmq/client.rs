//! BullMQ's scripts, run by the shared Redis client ([`crate::queues::redis_client`]).

pub(super) use crate::queues::redis_client::{Client, Script, reply};

pub(super) const POLL: Script = Script {
    name: "poll",
    text: include_str!("poll.lua"),
};
pub(super) const LIST: Script = Script {
    name: "list",
    text: include_str!("list.lua"),
};
pub(super) const RETRY: Script = Script {
    name: "retry",
    text: include_str!("retry.lua"),
};
pub(super) const DISCARD: Script = Script {
    name: "discard",
    text: include_str!("discard.lua"),
};
pub(super) const PAUSE: Script = Script {
    name: "pause",
    text: include_str!("pause.lua"),
};
