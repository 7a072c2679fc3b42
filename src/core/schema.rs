//! JSON schemas of the types that travel as strings (`blue`, `1.4.0`, `gate`), so the
//! engine's call parameters can be described to a model or an MCP client from the types
//! themselves (`schemars`), not from hand-written copies that drift.

use crate::core::logs::LogOrigin;
use crate::core::types::SlotName;
use crate::core::version::Version;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

impl JsonSchema for SlotName {
    fn schema_name() -> Cow<'static, str> {
        "SlotName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "a slot: `blue`, `green`, or a preview `preview-<6 hex digits>`",
            "pattern": "^(blue|green|preview-[0-9a-f]{1,6})$"
        })
    }
}

impl JsonSchema for Version {
    fn schema_name() -> Cow<'static, str> {
        "Version".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": crate::core::version::VERSION_RULE,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
        })
    }
}

impl JsonSchema for LogOrigin {
    fn schema_name() -> Cow<'static, str> {
        "LogOrigin".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "whose lines: a slot (`blue`, `green`, `preview-<id>`) or `gate` (the build and test gates)",
            "pattern": "^(blue|green|gate|preview-[0-9a-f]{1,6})$"
        })
    }
}
