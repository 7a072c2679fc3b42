//! The AI operator, one library behind every face (the dashboard pane, `naap chat`, `naap
//! mcp`). [`operator`] runs a turn: a language model ([`provider`]) or, when none answers,
//! the offline intent router ([`intent`], [`offline`], [`answer`]) reads through the
//! engine's catalog ([`tools`]); every change it wants becomes a [`proposal`] that runs
//! only on a person's yes ([`policy`]). Everything bound for a provider passes
//! [`redact`]; conversations are kept in [`session`].

pub mod answer;
pub mod approval;
pub mod config;
pub mod intent;
pub mod iterate;
pub mod offline;
pub mod operator;
pub mod policy;
pub mod proposal;
pub mod provider;
pub mod redact;
pub mod session;
pub mod setup;
pub mod tools;
pub mod transcript;
