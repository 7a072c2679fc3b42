use super::*;
use std::collections::BTreeMap;

const PROTECTED: &[&str] = &[".git", ".naap"];

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, body) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, body).expect("write");
    }
    dir
}

fn sr(path: &str, search: &str, replace: &str) -> Edit {
    Edit::SearchReplace {
        path: path.into(),
        search: search.into(),
        replace: replace.into(),
    }
}

const APP: &str = "def items():\n    rows = load()\n    return sorted(rows, key=lambda r: r['id'])\n\n\ndef health():\n    return 'ok'\n";

#[test]
fn a_search_that_occurs_once_is_replaced_and_later_edits_see_earlier_ones() {
    let dir = tree(&[("app.py", APP)]);
    let edits = [
        sr(
            "app.py",
            "key=lambda r: r['id'])",
            "key=lambda r: r['id'], reverse=True)",
        ),
        sr("./app.py", "reverse=True", "reverse=True  # newest first"),
        Edit::WholeFile {
            path: "docs/notes.md".into(),
            content: "new\n".into(),
        },
    ];
    let planned = plan(dir.path(), &edits, PROTECTED).expect("plan");
    assert_eq!(planned.len(), 2);
    assert_eq!(planned[0].path, PathBuf::from("app.py"));
    assert_eq!(planned[0].before.as_deref(), Some(APP));
    assert!(
        planned[0].after.contains("reverse=True  # newest first"),
        "{}",
        planned[0].after
    );
    assert_eq!(planned[1].path, PathBuf::from("docs/notes.md"));
    assert_eq!(planned[1].before, None);
    // Nothing was written: planning only reads.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("app.py")).expect("read"),
        APP
    );
    assert!(!dir.path().join("docs").exists());
}

#[test]
fn a_search_that_misses_is_refused_with_the_nearest_lines_numbered() {
    let dir = tree(&[("app.py", APP)]);
    // A model's near miss: two spaces less indentation and `x` instead of `r`.
    let edits = [
        sr("app.py", "return 1", "return 2"),
        sr(
            "app.py",
            "  rows = load()\n  return sorted(rows, key=lambda x: x['id'])",
            "no",
        ),
    ];
    let err = plan(dir.path(), &edits, PROTECTED).expect_err("no match");
    assert_eq!(
        (err.index, err.total, err.kind),
        (0, 2, RefusalKind::NoMatch)
    );
    let edits = &edits[1..];
    let err = plan(dir.path(), edits, PROTECTED).expect_err("no match");
    assert_eq!(err.kind, RefusalKind::NoMatch);
    let nearest = err.nearest.clone().expect("nearest lines");
    assert_eq!(
        (nearest.first_line, nearest.last_line),
        (2, 3),
        "{nearest:?}"
    );
    assert!(
        nearest.similarity > 0.8 && nearest.similarity < 1.0,
        "{nearest:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("edit 1 of 1 (`app.py`): the search text does not occur"),
        "{text}"
    );
    assert!(text.contains("    2 |     rows = load()"), "{text}");
    assert!(
        text.contains("    3 |     return sorted(rows, key=lambda r: r['id'])"),
        "{text}"
    );
}

#[test]
fn a_search_that_occurs_twice_names_the_lines_and_is_refused() {
    let dir = tree(&[("a.txt", "x = 1\ny = 2\nx = 1\n")]);
    let err = plan(dir.path(), &[sr("a.txt", "x = 1", "x = 3")], PROTECTED).expect_err("ambiguous");
    assert_eq!(err.kind, RefusalKind::Ambiguous);
    assert!(
        err.reason.contains("occurs 2 times (at lines 1, 3)"),
        "{}",
        err.reason
    );
}

#[test]
fn crlf_files_and_a_missing_final_newline_match_the_same_lines_only() {
    let dir = tree(&[("w.txt", "one\r\ntwo\r\nthree"), ("u.txt", "a\nb")]);
    let planned = plan(
        dir.path(),
        &[sr("w.txt", "one\ntwo\n", "uno\ndos\n")],
        PROTECTED,
    )
    .expect("crlf");
    assert_eq!(planned[0].after, "uno\r\ndos\r\nthree");
    let planned = plan(dir.path(), &[sr("u.txt", "b\n", "c\n")], PROTECTED).expect("final line");
    assert_eq!(planned[0].after, "a\nc");
    // Trailing spaces are not forgiven: that would be fuzzy.
    let err = plan(dir.path(), &[sr("u.txt", "b ", "c")], PROTECTED).expect_err("fuzzy");
    assert_eq!(err.kind, RefusalKind::NoMatch);
}

#[test]
fn paths_outside_the_plugin_directory_are_refused() {
    let outside = tree(&[("secret.txt", "s\n")]);
    let dir = tree(&[
        ("app.py", APP),
        (".git/config", "x"),
        (".naap/naap.db", "x"),
    ]);
    std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).expect("symlink");
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("s.txt"))
        .expect("symlink");
    std::os::unix::fs::symlink("app.py", dir.path().join("inner.py")).expect("symlink");
    let cases = [
        "../x",
        "src/../../x",
        "/etc/passwd",
        "out/secret.txt",
        "out/new.txt",
        "s.txt",
        ".git/config",
        "sub/.naap/x",
        ".",
        "",
    ];
    for path in cases {
        let edit = Edit::WholeFile {
            path: path.into(),
            content: "x".into(),
        };
        let err = plan(dir.path(), &[edit], PROTECTED).expect_err(path);
        assert_eq!(err.kind, RefusalKind::Outside, "{path}: {err}");
    }
    let err = plan(
        dir.path(),
        &[Edit::WholeFile {
            path: "../x".into(),
            content: String::new(),
        }],
        PROTECTED,
    )
    .expect_err("parent");
    assert!(
        err.reason.contains("leads out of the plugin directory"),
        "{err}"
    );
    // A symlink that stays inside is fine.
    let planned =
        plan(dir.path(), &[sr("inner.py", "'ok'", "'fine'")], PROTECTED).expect("inner link");
    assert_eq!(planned[0].path, PathBuf::from("inner.py"));
}

#[test]
fn edits_decode_from_tagged_json_and_unknown_fields_are_refused() {
    let edit: Edit = serde_json::from_value(serde_json::json!(
        {"kind": "search_replace", "path": "a", "search": "b", "replace": "c"}
    ))
    .expect("decode");
    assert_eq!(edit, sr("a", "b", "c"));
    let bad = serde_json::from_value::<Edit>(serde_json::json!(
        {"kind": "whole_file", "path": "a", "content": "b", "mode": "0755"}
    ));
    assert!(
        bad.expect_err("unknown field")
            .to_string()
            .contains("unknown field")
    );
}

#[test]
fn the_unified_diff_has_headers_hunks_and_agrees_with_the_structured_form() {
    let old: BTreeMap<String, Vec<u8>> = [
        ("app.py".to_string(), APP.as_bytes().to_vec()),
        ("gone.txt".to_string(), b"bye\n".to_vec()),
        ("logo.png".to_string(), vec![0xff, 0x00, 0x01]),
    ]
    .into();
    let mut new = old.clone();
    new.insert(
        "app.py".into(),
        APP.replace("r['id'])", "r['id'], reverse=True)")
            .into_bytes(),
    );
    new.remove("gone.txt");
    new.insert("new.txt".into(), b"hello".to_vec());
    new.insert("logo.png".into(), vec![0xff, 0x00, 0x02]);
    let diff = diff_trees(&old, &new);
    assert_eq!(
        diff.stat,
        DiffStat {
            files: 4,
            added: 2,
            removed: 2
        }
    );
    let text = diff.unified();
    let expected_app = "--- a/app.py\n+++ b/app.py\n@@ -1,6 +1,6 @@\n def items():\n     rows = load()\n-    return sorted(rows, key=lambda r: r['id'])\n+    return sorted(rows, key=lambda r: r['id'], reverse=True)\n \n \n def health():\n";
    assert!(text.contains(expected_app), "{text}");
    assert!(
        text.contains("--- a/gone.txt\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-bye\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,1 @@\n+hello\n\\ No newline at end of file\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("Binary files a/logo.png and b/logo.png differ"),
        "{text}"
    );
    let app = &diff.files[0];
    assert_eq!(
        (app.path.as_str(), app.change),
        ("app.py", FileChange::Modified)
    );
    let kinds: Vec<LineKind> = app.hunks[0].lines.iter().map(|l| l.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == LineKind::Add).count(), 1);
    assert_eq!(kinds[2], LineKind::Remove);
    assert_eq!(
        diff.summary(),
        "4 files changed, 2 insertions(+), 2 deletions(-)"
    );
    assert!(diff_trees(&old, &old).is_empty());
}
