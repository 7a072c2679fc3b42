use super::*;

fn one(output: &str) -> GateProblem {
    let problems = parse(output, None);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    problems.into_iter().next().expect("one problem")
}

fn at(p: &GateProblem) -> (&str, Option<u32>, Option<u32>) {
    (p.file.as_str(), p.line, p.col)
}

#[test]
fn file_line_col_and_file_line_forms() {
    let out = "\
src/app.c:12:5: error: 'x' undeclared (first use in this function)
app.py:3:1: F401 'os' imported but unused
app.py:7: error: Incompatible return value type (got \"int\", expected \"str\")  [return-value]
12:30:05: server started
see http://example.com:80: for more
";
    let problems = parse(out, None);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert_eq!(at(&problems[0]), ("src/app.c", Some(12), Some(5)));
    assert_eq!(problems[0].kind, "error");
    assert_eq!(
        problems[0].message,
        "'x' undeclared (first use in this function)"
    );
    assert_eq!(at(&problems[1]), ("app.py", Some(3), Some(1)));
    assert_eq!(problems[1].message, "F401 'os' imported but unused");
    assert_eq!(at(&problems[2]), ("app.py", Some(7), None));
    assert!(problems.iter().all(|p| p.format == ProblemFormat::FileLine));
}

#[test]
fn cargo_json_diagnostics() {
    let out = r#"{"reason":"compiler-artifact","package_id":"x 0.1.0","target":{"name":"x"}}
{"reason":"compiler-message","package_id":"x 0.1.0","manifest_path":"/w/Cargo.toml","target":{"name":"x"},"message":{"rendered":"error[E0308]: mismatched types\n --> src/main.rs:3:18\n","$message_type":"diagnostic","children":[],"code":{"code":"E0308","explanation":"..."},"level":"error","message":"mismatched types","spans":[{"byte_end":40,"byte_start":38,"column_end":20,"column_start":18,"expansion":null,"file_name":"src/main.rs","is_primary":true,"label":"expected `u32`, found `&str`","line_end":3,"line_start":3,"suggested_replacement":null,"suggestion_applicability":null,"text":[]}]}}
{"reason":"compiler-message","package_id":"x 0.1.0","manifest_path":"/w/Cargo.toml","target":{"name":"x"},"message":{"rendered":"error: aborting due to 1 previous error\n","$message_type":"diagnostic","children":[],"code":null,"level":"error","message":"aborting due to 1 previous error","spans":[]}}
{"reason":"build-finished","success":false}
"#;
    let p = one(out);
    assert_eq!(at(&p), ("src/main.rs", Some(3), Some(18)));
    assert_eq!(
        p.message,
        "[E0308] mismatched types: expected `u32`, found `&str`"
    );
    assert_eq!(
        (p.kind.as_str(), p.format),
        ("error", ProblemFormat::CargoJson)
    );
}

#[test]
fn rustc_human_output() {
    let out = "\
   Compiling x v0.1.0 (/w)
warning: unused variable: `y`
 --> src/lib.rs:2:9
  |
2 |     let y = 1;
  |         ^ help: if this is intentional, prefix it with an underscore: `_y`
error[E0425]: cannot find value `z` in this scope
  --> src/lib.rs:10:5
   |
error: could not compile `x` (lib) due to 1 previous error
";
    let problems = parse(out, None);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_eq!(at(&problems[0]), ("src/lib.rs", Some(2), Some(9)));
    assert_eq!(problems[0].kind, "warning");
    assert_eq!(
        problems[1].message,
        "[E0425] cannot find value `z` in this scope"
    );
    assert_eq!(problems[1].format, ProblemFormat::Rustc);
}

#[test]
fn pytest_summary_and_short_lines() {
    let out = "\
============================= test session starts ==============================
collected 3 items

tests/test_items.py .F.                                                  [100%]

=================================== FAILURES ===================================
_______________________________ test_newest_first ______________________________

    def test_newest_first():
>       assert items()[0]['id'] == 3
E       assert 1 == 3

tests/test_items.py:12: AssertionError
=========================== short test summary info ============================
FAILED tests/test_items.py::test_newest_first - assert 1 == 3
ERROR tests/test_other.py - ModuleNotFoundError: No module named 'app2'
========================= 1 failed, 2 passed in 0.03s ==========================
";
    let problems = parse(out, None);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert_eq!(at(&problems[0]), ("tests/test_items.py", Some(12), None));
    assert_eq!(problems[0].message, "AssertionError");
    assert_eq!(at(&problems[1]), ("tests/test_items.py", None, None));
    assert_eq!(problems[1].message, "test_newest_first: assert 1 == 3");
    assert_eq!(
        (problems[1].kind.as_str(), problems[1].format),
        ("test_failure", ProblemFormat::Pytest)
    );
    assert_eq!(problems[2].file, "tests/test_other.py");
    assert_eq!(problems[2].kind, "error");
}

#[test]
fn python_tracebacks_point_at_the_plugins_own_frame() {
    let out = r#"F
======================================================================
FAIL: test_items (test_app.AppTest.test_items)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/ws/.naap/candidates/k3x9q2/tree/test_app.py", line 8, in test_items
    self.assertEqual(app.items(), [3, 2, 1])
  File "/usr/lib/python3.11/unittest/case.py", line 873, in assertEqual
    assertion_func(first, second, msg=msg)
AssertionError: Lists differ: [1, 2, 3] != [3, 2, 1]

First differing element 0:
----------------------------------------------------------------------
Ran 1 test in 0.001s

FAILED (failures=1)
"#;
    let root = std::path::Path::new("/ws/.naap/candidates/k3x9q2/tree");
    let problems = parse(out, Some(root));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert_eq!(at(p), ("test_app.py", Some(8), None));
    assert_eq!(
        p.message,
        "AssertionError: Lists differ: [1, 2, 3] != [3, 2, 1]"
    );
    assert_eq!(
        (p.kind.as_str(), p.format),
        ("exception", ProblemFormat::PythonTraceback)
    );

    let syntax =
        "  File \"app.py\", line 3\n    def f(:\n          ^\nSyntaxError: invalid syntax\n";
    let p = one(syntax);
    assert_eq!(at(&p), ("app.py", Some(3), None));
    assert_eq!(p.message, "SyntaxError: invalid syntax");
}

#[test]
fn eslint_stylish_and_unix_formats() {
    let stylish = "
/home/ana/shop/src/index.js
   3:7   error    'unused' is assigned a value but never used  no-unused-vars
  10:1   warning  Unexpected console statement                 no-console

✖ 2 problems (1 error, 1 warning)
";
    let root = std::path::Path::new("/home/ana/shop");
    let problems = parse(stylish, Some(root));
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_eq!(at(&problems[0]), ("src/index.js", Some(3), Some(7)));
    assert_eq!(
        problems[0].message,
        "'unused' is assigned a value but never used (no-unused-vars)"
    );
    assert_eq!(
        (problems[1].kind.as_str(), problems[1].format),
        ("warning", ProblemFormat::Eslint)
    );

    let unix = "/home/ana/shop/src/index.js:3:7: 'unused' is assigned a value but never used. [Error/no-unused-vars]\n\n1 problem\n";
    let p = parse(unix, Some(root)).into_iter().next().expect("one");
    assert_eq!(at(&p), ("src/index.js", Some(3), Some(7)));
    assert_eq!(p.kind, "error");
    assert_eq!(
        p.message,
        "'unused' is assigned a value but never used. (no-unused-vars)"
    );
}

#[test]
fn tsc_errors() {
    let out = "src/items.ts(3,5): error TS2322: Type 'string' is not assignable to type 'number'.\nFound 1 error in src/items.ts:3\n";
    let problems = parse(out, None);
    assert_eq!(at(&problems[0]), ("src/items.ts", Some(3), Some(5)));
    assert_eq!(
        problems[0].message,
        "TS2322: Type 'string' is not assignable to type 'number'."
    );
    assert_eq!(problems[0].format, ProblemFormat::Tsc);
}

#[test]
fn output_in_no_known_format_gives_no_problems() {
    assert!(
        parse(
            "FAIL: 1 of 12 tests failed\nmake: *** [test] Error 4\n",
            None
        )
        .is_empty()
    );
    assert!(parse("", None).is_empty());
}
