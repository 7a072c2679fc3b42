//! What iterate tells the model: how to edit a candidate, the instruction with the
//! plugin's files, and, after a failed gate, the problems with the files they point at.
//! Everything here still passes the operator's redactor on its way out.

use crate::core::engine::FailedGate;

/// Most bytes of file content put in one prompt; a plugin bigger than that is shown in
/// part and the model reads the rest with the read tools.
pub const FILES_BUDGET: usize = 48 * 1024;

/// The system prompt of an editing turn; `edit_tool` is the tool that applies edits.
pub fn system(edit_tool: &str) -> String {
    format!(
        "You change the code of one plugin of naap (a small web service) to do what the person asks. \
         You work on a candidate: a copy of the plugin's source, kept apart from what serves. \
         Change it only with the `{edit_tool}` tool: each edit is a search/replace block (the search text \
         must match the file exactly, once; include enough lines to make it unique) or a whole file. \
         If an edit is refused, read the nearest lines it reports and send a corrected edit. \
         Keep the change as small as the request allows, keep the plugin's style, and update or add its \
         tests when behaviour changes. Paths are relative to the plugin's directory. After your edits, \
         naap runs the plugin's build and test gates; you will get their problems to fix if they fail. \
         Finish with one or two sentences saying what you changed."
    )
}

/// The first turn: the instruction and the plugin's files.
pub fn instruction(
    plugin: &str,
    candidate: &str,
    instruction: &str,
    files: &[(String, String)],
) -> String {
    let mut text = format!(
        "Plugin `{plugin}`, candidate `{candidate}`.\nRequest: {}\n\nThe plugin's files:\n",
        instruction.trim()
    );
    push_files(&mut text, files);
    text
}

/// What a retry is told of the candidate before it: its request, the version it became,
/// and how its rollout ended (the canary's verdict). Its change is in the source now.
pub fn previous(report: &crate::core::engine::CandidateReport) -> String {
    let c = &report.candidate;
    let ended = report
        .history
        .iter()
        .rev()
        .find(|s| s.kind == "rolled_back")
        .or_else(|| report.history.last())
        .map(|s| s.summary.clone())
        .unwrap_or_else(|| c.status.to_string());
    format!(
        "\nThis follows candidate `{}` (request: {}), which became version {} and ended: {ended}\n\
         Its change is in the source shown above. Find what made it fail and fix that; keep what the \
         request asked for unless it is the cause.\n",
        c.id,
        c.instruction.trim(),
        c.version.as_deref().unwrap_or("(none)"),
    )
}

/// A heal turn: what failed, and the files it points at as they are now.
pub fn heal(attempt: u32, limit: u32, failure: &FailedGate, files: &[(String, String)]) -> String {
    let mut text = format!(
        "The `{}` gate failed on the candidate (fix {attempt} of at most {limit}). ",
        failure.gate
    );
    if failure.problems.is_empty() {
        text.push_str("Its output, which names no file naap could read:\n```\n");
        text.push_str(failure.output.trim_end());
        text.push_str("\n```\n");
    } else {
        text.push_str("The problems it reported:\n");
        for p in &failure.problems {
            let place = match (p.line, p.col) {
                (Some(line), Some(col)) => format!("{}:{line}:{col}", p.file),
                (Some(line), None) => format!("{}:{line}", p.file),
                _ => p.file.clone(),
            };
            text.push_str(&format!("- {place}: {} ({})\n", p.message, p.kind));
        }
        text.push_str("\nThe end of its output:\n```\n");
        text.push_str(failure.output.trim_end());
        text.push_str("\n```\n");
    }
    text.push_str("\nFix the cause with the edit tool (not the test, unless the test is what is wrong). The files as they are now:\n");
    push_files(&mut text, files);
    text
}

/// The files as fenced blocks, within [`FILES_BUDGET`]; the ones left out are named.
fn push_files(text: &mut String, files: &[(String, String)]) {
    let mut used = 0;
    let mut left_out = Vec::new();
    for (path, content) in files {
        if used + content.len() > FILES_BUDGET {
            left_out.push(path.as_str());
            continue;
        }
        used += content.len();
        text.push_str(&format!("\n`{path}`:\n```\n{}", content));
        if !content.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("```\n");
    }
    if !left_out.is_empty() {
        text.push_str(&format!(
            "\nNot shown (too large for one message; read them with read_file if you need them): {}\n",
            left_out.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::gate_problems::{GateProblem, ProblemFormat};

    #[test]
    fn a_heal_prompt_names_each_problem_where_it_is() {
        let failure = FailedGate {
            gate: "test".into(),
            status: "exit status 1".into(),
            duration_ms: 20,
            problems: vec![GateProblem {
                file: "test_app.py".into(),
                line: Some(12),
                col: None,
                message: "AssertionError: 'oldest' != 'newest'".into(),
                kind: "test_failure".into(),
                format: ProblemFormat::PythonTraceback,
            }],
            output: "FAILED test_app.py::test_order\n1 failed in 0.02s\n".into(),
        };
        let files = vec![("app.py".to_string(), "print('hi')".to_string())];
        let text = heal(1, 3, &failure, &files);
        assert!(text.contains("fix 1 of at most 3"), "{text}");
        assert!(text.contains("- test_app.py:12: AssertionError"), "{text}");
        assert!(text.contains("`app.py`:\n```\nprint('hi')\n```"), "{text}");
    }

    #[test]
    fn files_past_the_budget_are_named_not_shown() {
        let big = "x".repeat(FILES_BUDGET);
        let files = vec![
            ("small.py".to_string(), "a = 1\n".to_string()),
            ("big.py".to_string(), big),
        ];
        let text = instruction("web", "c1", "do it", &files);
        assert!(text.contains("`small.py`"), "{text}");
        assert!(!text.contains("`big.py`:"), "the big file is not inlined");
        assert!(text.contains("Not shown") && text.contains("big.py"));
    }
}
