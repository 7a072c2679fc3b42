//! The parser on the sample spec and on a table of broken specs, each with its line and fix.

use std::path::Path;

use super::stories::Check;
use super::*;

const SAMPLE: &str = include_str!("../../../../assets/expense-tracker.plugin.md");

fn parse(text: &str) -> Result<Parsed, SpecErrors> {
    parse_spec(Path::new("spec.md"), text)
}

#[test]
fn the_sample_spec_parses_whole() {
    let parsed = parse(SAMPLE).expect("the sample parses");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let spec = parsed.spec;
    assert_eq!(spec.display_name, "Expense Tracker");
    assert_eq!(spec.name, "expense-tracker");
    assert!(spec.description.starts_with("Employees submit expenses"));
    assert_eq!(spec.stories.len(), 3);
    let us1 = &spec.stories[0];
    assert_eq!(
        (us1.id.as_str(), us1.title.as_str()),
        ("US-1", "Submit an expense")
    );
    assert_eq!(us1.role, "employee");
    assert_eq!(us1.action, "to submit an expense with its receipt");
    assert_eq!(us1.benefit, "I get my money back");
    assert_eq!(us1.criteria.len(), 4);
    assert!(!us1.criteria[0].done);
    let expense = spec.entity("Expense").expect("Expense");
    let status = expense.field("status").expect("status");
    assert_eq!(
        status.ty,
        FieldType::Enum(vec![
            "submitted".into(),
            "approved".into(),
            "rejected".into()
        ])
    );
    assert!(status.optional);
    assert_eq!(status.default.as_deref(), Some("submitted"));
    assert_eq!(
        expense.field("category").map(|f| &f.ty),
        Some(&FieldType::Reference("Category".into()))
    );
    assert_eq!(
        expense.field("amount").and_then(|f| f.note.as_deref()),
        Some("in the expense's currency")
    );
    assert_eq!(spec.permissions.len(), 3);
    assert_eq!(spec.permissions[1].role, "manager");
    assert_eq!(spec.integrations.len(), 2);
    assert!(!spec.integrations[0].required);
    assert_eq!(spec.settings[0].name, "approval_limit");
    assert_eq!(spec.settings[0].ty, "Decimal");
}

#[test]
fn criteria_about_data_get_real_checks_and_the_rest_are_to_implement() {
    let spec = parse(SAMPLE).expect("parses").spec;
    let plan = stories::plan(&spec, "plugin.md", "python3 -m unittest");
    let checks: Vec<&Check> = plan
        .stories
        .iter()
        .flat_map(|s| s.criteria.iter().map(|c| &c.check))
        .collect();
    assert_eq!(
        checks[0],
        &Check::Fields {
            entity: "Expense".into(),
            fields: vec![
                "amount".into(),
                "currency".into(),
                "description".into(),
                "category".into()
            ]
        }
    );
    assert_eq!(
        checks[1],
        &Check::Fields {
            entity: "Expense".into(),
            fields: vec!["amount".into()]
        }
    );
    assert!(matches!(checks[2], Check::Fields { entity, .. } if entity == "Receipt"));
    assert!(matches!(checks[3], Check::EnumValues { values, .. } if values == &["submitted"]));
    assert!(
        matches!(checks[4], Check::EnumValues { field, values, .. } if field == "status" && values == &["approved", "rejected"])
    );
    // Roles, mail and totals are beyond a scaffold.
    assert_eq!(checks[6], &Check::ToImplement);
    assert_eq!(checks[7], &Check::ToImplement);
    assert_eq!(
        checks[8],
        &Check::Routes {
            entity: "Category".into()
        }
    );
    assert_eq!(checks[9], &Check::ToImplement);
    assert_eq!(checks[10], &Check::ToImplement);
    assert_eq!(
        plan.stories[0].criteria[1].method,
        "test_us1_c2_an_expense_without_an_amount_is_refused"
    );
}

#[test]
fn names_and_collections_follow_english() {
    assert_eq!(plugin_name("Expense Tracker!"), "expense-tracker");
    assert_eq!(plugin_name("  ÜberCab  2 "), "bercab-2");
    assert_eq!(stories::collection("Category"), "categories");
    assert_eq!(stories::collection("ExpenseReport"), "expense-reports");
    assert_eq!(stories::collection("Box"), "boxes");
    assert_eq!(stories::collection("Day"), "days");
}

/// A spec that is right but for `broken` (a replacement of `from` in the sample).
fn broken(from: &str, to: &str) -> String {
    assert!(SAMPLE.contains(from), "the sample has {from:?}");
    SAMPLE.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} in the text"))
}

#[test]
fn broken_specs_are_reported_at_their_line_with_a_fix() {
    // (what is changed, into what, the line's text after it, the message and fix expected)
    let table: &[(&str, &str, &str, &str)] = &[
        (
            "## Plugin: Expense Tracker",
            "## Plugin:",
            "## Plugin:",
            "`## Plugin:` names no plugin; write its name after the colon",
        ),
        (
            "As a manager, I want to approve or reject submitted expenses, so that only valid spend is paid.",
            "Managers approve things.",
            "#### US-2",
            "in ### User Stories, US-2 has no \"As a …, I want …, so that ….\" sentence; write one under its #### heading",
        ),
        (
            "As a manager, I want to approve or reject submitted expenses, so that only valid spend is paid.",
            "As a manager, I want to approve or reject submitted expenses.",
            "As a manager, I want",
            "US-2's sentence has no \", so that …\"; write it as \"As a ROLE, I want ACTION, so that BENEFIT.\"",
        ),
        (
            "#### US-3: See spend by month and category",
            "#### Story three",
            "#### Story three",
            "`#### Story three` is not a story heading; write story headings as `#### US-1: Title`",
        ),
        (
            "#### US-3: See spend",
            "#### US-2: See spend",
            "#### US-2: See spend",
            "US-2 is used twice (first at line",
        ),
        (
            "- [ ] An expense without an amount is refused",
            "- An expense without an amount is refused",
            "- An expense without an amount",
            "US-1's criterion `An expense without an amount is refused` has no checkbox; write it as `- [ ] An expense without an amount is refused`",
        ),
        (
            "**Acceptance Criteria:**\n- [ ] Categories can be created, listed, renamed and deleted\n- [ ] The dashboard shows the total of approved expenses per month\n- [ ] The dashboard splits each month's total by category",
            "",
            "#### US-3",
            "US-3 has no acceptance criteria; add `**Acceptance Criteria:**`",
        ),
        (
            "  amount: Decimal (in the expense's currency)",
            "  amount: Money (in the expense's currency)",
            "amount: Money",
            "in ### Data Model, Expense.amount: unknown type `Money`; write `Decimal`",
        ),
        (
            "  category: Category",
            "  category: Categroy",
            "category: Categroy",
            "Expense.category: unknown type `Categroy`, neither a built-in type nor an entity",
        ),
        (
            "  status: Enum (submitted, approved, rejected)? (default submitted)",
            "  status: Enum? (default submitted)",
            "status: Enum?",
            "Expense.status: Enum lists no values; write its values in parentheses",
        ),
        (
            "  status: Enum (submitted, approved, rejected)? (default submitted)",
            "  status: Enum (submitted, approved, rejected)? (default pending)",
            "status: Enum",
            "the default `pending` is not one of its values; use one of: submitted, approved, rejected",
        ),
        (
            "  file_name: String",
            "  file_name String",
            "file_name String",
            "Receipt: `file_name String` has no type; write `file_name: String`",
        ),
        (
            "  size_bytes: Int?\n}",
            "  size_bytes: Int?\n",
            "Receipt {",
            "`Receipt {` is never closed; add a `}` line",
        ),
        (
            "  id: UUID\n  amount",
            "  id: Int\n  amount",
            "id: Int",
            "Expense.id is Int, but the service assigns ids as UUIDs",
        ),
        (
            "- expenses:manager - approve or reject submitted expenses",
            "- manager approves expenses",
            "- manager approves",
            "in ### Permissions, `manager approves expenses` is not a permission; write `- scope:role - what it may do`",
        ),
        (
            "- Mail: tells an employee about a decision (optional)",
            "- Mail: tells an employee about a decision",
            "- Mail:",
            "in ### Integrations, `Mail: tells an employee about a decision` is not an integration; end it with (required) or (optional)",
        ),
        (
            "- approval_limit: Decimal (amount above which a second manager must approve)",
            "- approval limit is a decimal",
            "- approval limit",
            "in ### Settings, `approval limit is a decimal` is not a setting",
        ),
    ];
    for (from, to, at, expected) in table {
        let text = broken(from, to);
        let errors = match parse(&text) {
            Ok(_) => panic!("{from:?} → {to:?} parsed"),
            Err(e) => e,
        };
        let line = line_of(&text, at);
        let found = errors.0.iter().find(|p| p.to_string().contains(expected));
        let Some(problem) = found else {
            panic!("{from:?} → {to:?}: no problem says {expected:?}; got:\n{errors}");
        };
        assert_eq!(problem.line, line, "{from:?} → {to:?}: {problem}");
        assert!(
            problem.to_string().starts_with(&format!("spec.md:{line}")),
            "{problem}"
        );
    }
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let text = broken("  category: Category", "  category: Categroy")
        .replacen("- [ ] An expense without", "- An expense without", 1)
        .replacen("(optional)\n- Mail", "\n- Mail", 1);
    let errors = parse(&text).expect_err("three problems");
    assert_eq!(errors.0.len(), 3, "{errors}");
    let lines: Vec<usize> = errors.0.iter().map(|p| p.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "in line order");
}

#[test]
fn a_spec_without_plugin_heading_or_stories_says_what_to_add() {
    let errors = parse("Some notes.\n\n### Description\n\nA thing.\n").expect_err("bad");
    let text = errors.to_string();
    assert!(
        text.contains("spec.md:1: the spec has no `## Plugin:` heading; start it with `## Plugin: Display Name`"),
        "{text}"
    );
    assert!(
        text.contains("the spec has no ### User Stories section; add `### User Stories`"),
        "{text}"
    );
}

#[test]
fn an_unknown_section_is_a_warning_and_a_missing_data_model_is_fine() {
    let text = "## Plugin: Notes\n\n### Description\n\nKeeps notes.\n\n### Roadmap\n\n- later\n\n\
                ### User Stories\n\n#### US-1: Write a note\n\nAs a writer, I want to write a note, so that I remember.\n\n\
                **Acceptance Criteria:**\n- [x] A note can be written\n";
    let parsed = parse(text).expect("parses");
    assert_eq!(parsed.warnings.len(), 1);
    assert_eq!(parsed.warnings[0].line, 7);
    assert!(
        parsed.warnings[0]
            .to_string()
            .contains("`### Roadmap` is not a section naap reads")
    );
    assert!(parsed.spec.entities.is_empty());
    assert!(parsed.spec.stories[0].criteria[0].done);
}

#[test]
fn a_heading_inside_a_code_block_is_not_a_section() {
    let text = SAMPLE.replacen("Category {\n", "Category {\n  // ### Not a heading\n", 1);
    let parsed = parse(&text).expect("parses");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
}

#[test]
fn naap_toml_gets_an_entry_appended_with_its_comments_kept() {
    let before = "# my workspace\n[router]\nlisten = \"127.0.0.1:8080\" # the port\n\n[[plugins]]\npath = \"plugins/a\"";
    let after = write::with_plugin_entry(before, "plugins/b").expect("appended");
    assert_eq!(
        after,
        format!("{before}\n\n[[plugins]]\npath = \"plugins/b\"\n")
    );
    let inline = "plugins = [{ path = \"plugins/a\" }]\n";
    let refused = write::with_plugin_entry(inline, "plugins/b").expect_err("inline list");
    assert!(refused.contains("would not parse"), "{refused}");
}
