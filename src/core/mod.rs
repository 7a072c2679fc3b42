//! The engine: workspace manifests, the local runtime, the router, health checks, metrics,
//! logs, the SQLite store, and the engine that owns them all. No terminal, clap or LLM code.

pub mod alerts;
pub mod analysis;
pub mod atomic_file;
pub mod engine;
pub mod event_kind;
pub mod gate_problems;
pub mod health;
pub mod hint;
pub mod identity;
pub mod logs;
pub mod metrics;
pub mod private_files;
pub mod procstat;
pub mod rollout;
pub mod router;
pub mod runbook;
pub mod runtime;
mod schema;
pub mod store;
pub mod types;
pub mod version;
pub mod workspace;
