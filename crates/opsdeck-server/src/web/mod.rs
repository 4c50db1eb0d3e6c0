//! Server-rendered pages. Templates live in `templates/` and are compiled into the binary
//! (askama); handlers here fill a template's struct and nothing else.

pub mod login;
