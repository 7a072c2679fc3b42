//! The dashboard face: a full-screen console over the same engine API as the CLI.
//!
//! Data flows one way: terminal and engine events become actions, actions update the app
//! state, and rendering draws from that state without awaiting anything.

pub mod app;
pub mod hint;
pub mod iterate_job;
pub mod keymap;
pub mod link;
pub mod logview;
pub mod render;
pub mod run;
pub mod theme;
pub mod turns;
