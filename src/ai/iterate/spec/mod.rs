//! plugin.md → a plugin. [`parse_spec`] reads the format (every problem positioned, with a
//! fix); [`scaffold::python_scaffold`] turns a parsed spec into the files of a working
//! stdlib-only Python plugin, and [`write::write_plugin`] puts them in place and registers
//! the plugin in naap.toml, all or nothing.
//!
//! The model-driven path (a model writes the code through the candidate, gates and heal
//! loop) starts from the same [`Spec`] and ends in the same [`write::write_plugin`]; only
//! the files differ.

mod datamodel;
mod errors;
mod lines;
mod model;
mod parse;
pub mod scaffold;
pub mod stories;
pub mod write;

#[cfg(test)]
mod tests;

pub use errors::{SpecErrors, SpecProblem, SpecWarning};
pub use model::{
    Criterion, Entity, Field, FieldType, Integration, Permission, Setting, Spec, Story,
};
pub use parse::{Parsed, parse_spec, plugin_name};

/// Reads and parses a spec file; an unreadable file is one problem of that file.
pub fn read_spec(path: &std::path::Path) -> Result<Parsed, SpecErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        SpecErrors(vec![SpecProblem {
            file: path.to_path_buf(),
            line: 0,
            column: None,
            section: String::new(),
            message: format!("cannot read the spec: {e}"),
            fix: "pass the path of a plugin.md file".to_string(),
        }])
    })?;
    parse_spec(path, &text)
}

/// A language the offline path cannot write: the model-driven path is needed.
#[derive(Debug, thiserror::Error)]
#[error(
    "only the python scaffold exists; --lang {lang} has no scaffold to start from\n  hint: use --lang python (the default), and --implement to have a model write the stories on it through a candidate"
)]
pub struct NeedsModel {
    pub lang: String,
}

/// The files of a plugin for `spec` without a model: the Python scaffold, and nothing else.
///
/// The model-driven path takes over here for other languages (and, with a model, for
/// Python too): it writes the files through the candidate loop and hands them to the same
/// [`write::write_plugin`].
pub fn offline_files(
    spec: &Spec,
    spec_text: &str,
    lang: scaffold::Lang,
) -> Result<scaffold::PluginFiles, NeedsModel> {
    match lang {
        scaffold::Lang::Python => Ok(scaffold::python_scaffold(spec, spec_text)),
        other => Err(NeedsModel {
            lang: format!("{other:?}").to_lowercase(),
        }),
    }
}

/// What a model is asked when it implements a spec on its scaffold (`naap generate
/// --implement`): every story with its criteria, the ones still open first in mind; the
/// scaffold's skipped tests mark what is left to do.
pub fn implement_instruction(spec: &Spec) -> String {
    let mut text = format!(
        "Implement the plugin `{}` ({}) as its spec says. It is a scaffold now: JSON CRUD routes for each entity, \
         and a skipped test for each acceptance criterion still to implement. Implement the criteria that are not \
         done, turn their skipped tests into real ones that pass, keep the stdlib-only style and the existing routes.\n",
        spec.name, spec.display_name
    );
    if !spec.description.is_empty() {
        text.push_str(&format!("Description: {}\n", spec.description));
    }
    for story in &spec.stories {
        text.push_str(&format!(
            "\n{} {}: as a {}, I want {}, so that {}.\n",
            story.id, story.title, story.role, story.action, story.benefit
        ));
        for c in &story.criteria {
            text.push_str(&format!(
                "- [{}] {}\n",
                if c.done { "x" } else { " " },
                c.text
            ));
        }
    }
    text
}
