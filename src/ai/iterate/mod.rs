//! Iterate: from an instruction or a plugin.md to a plugin that ships. [`spec`] reads the
//! plugin.md format and writes the offline scaffold.

pub mod heal;
pub mod pipeline;
pub mod prompt;
pub mod route;
pub mod spec;
