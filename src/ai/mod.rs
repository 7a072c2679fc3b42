//! The AI operator: turns requests in plain words into engine actions or read-only answers.
//!
//! This build works offline: [`intent`] recognises operational requests, [`answer`] builds
//! read-only answers from what the engine reports, and [`transcript`] keeps the
//! conversation, where an action waits as a card with the exact call until a person says
//! yes or no. A language-model provider (a later issue) streams its text into the same
//! transcript (`Transcript::stream`) and proposes actions as the same cards, so nothing it
//! says can change anything without the same confirmation.

pub mod answer;
pub mod approval;
pub mod intent;
pub mod offline;
pub mod operator;
pub mod policy;
pub mod proposal;
pub mod provider;
pub mod redact;
pub mod session;
pub mod tools;
pub mod transcript;
