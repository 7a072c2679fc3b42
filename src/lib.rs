//! naap: deploy, shift traffic between, watch and roll back plugins.
//!
//! `core` is the engine and knows nothing of terminals or command lines; `api` serves it on a
//! unix socket and is the client every face uses; `cli` is the headless face.

pub mod ai;
pub mod api;
pub mod cli;
pub mod core;
pub mod sample_service;
pub mod tui;
