//! The engine served on a unix socket, and the client every face uses.
//!
//! Protocol: one JSON object per line in each direction. A request is
//! `{"id": 1, "method": "status", "params": {...}, "face": "cli"}`; its reply is
//! `{"id": 1, "ok": true, "result": ...}` or `{"id": 1, "ok": false, "error": {"code", "message"}}`.
//! After a `subscribe` request the server also sends `{"push": EngineEvent}` lines.
//! A malformed line gets an error reply with `"id": null` and the connection stays open.

pub mod catalog;
pub mod client;
pub mod hint;
pub mod production;
pub mod protocol;
pub mod runbook;
pub mod server;

pub use client::{Client, ClientError};
pub use protocol::{Call, Reply, Request};
