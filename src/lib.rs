//! naap: deploy, shift traffic between, watch and roll back plugins.
//!
//! `core` is the engine and knows nothing of terminals or command lines; `api` serves it on a
//! unix socket and is the client every face uses; `command` is the one grammar; `cli` is the
//! headless face, `tui` the dashboard, `ai` the operator; `launch` picks the face.

pub mod ai;
pub mod api;
#[macro_use]
pub mod cli;
pub mod command;
pub mod core;
pub mod launch;
pub mod mcp;
pub mod sample_service;
pub mod tui;
