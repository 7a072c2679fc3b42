//! Loading real workspaces from temporary directories: broken ones, a full one, defaults, init.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::core::types::StrategyKind;

const ONE_PLUGIN: &str = "[[plugins]]\npath = \"plugins/a\"\n";
const TWO_PLUGINS: &str = "[[plugins]]\npath = \"plugins/a\"\n[[plugins]]\npath = \"plugins/b\"\n";

/// The smallest valid plugin.toml, named `a` at route `/a`.
const MINIMAL: &str = r#"[plugin]
name = "a"
version = "1.0.0"
route = "/a"

[run]
command = "{naap} sample-service --port {port}"
"#;

/// A workspace on disk: naap.toml plus (directory, plugin.toml) pairs under the root.
fn workspace(naap: &str, plugins: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("naap.toml"), naap).expect("write naap.toml");
    for (plugin_dir, manifest) in plugins {
        let d = dir.path().join(plugin_dir);
        std::fs::create_dir_all(&d).expect("mkdir plugin");
        std::fs::write(d.join("plugin.toml"), manifest).expect("write plugin.toml");
    }
    dir
}

/// A minimal plugin manifest with `extra` appended (extra tables for the case under test).
fn minimal_with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

/// `extra` (an `[analysis]` table) with a canary strategy after it, so line numbers in
/// `extra` are those of `minimal_with`.
fn canary_with(extra: &str) -> String {
    format!(
        "{MINIMAL}{extra}\n[strategy]\nkind = \"canary\"\nsteps = [50, 100]\nstep_interval = \"60s\"\n"
    )
}

struct Case {
    what: &'static str,
    naap: &'static str,
    plugins: Vec<(&'static str, String)>,
    /// Extra directories to create (plugin dirs without a manifest, cwd targets).
    dirs: &'static [&'static str],
    file: &'static str,
    line: usize,
    /// 0: not checked.
    column: usize,
    field: &'static str,
    message: &'static str,
    /// "": not checked.
    hint: &'static str,
    /// How many problems the workspace has in total.
    count: usize,
}

fn case(what: &'static str) -> Case {
    Case {
        what,
        naap: ONE_PLUGIN,
        plugins: vec![("plugins/a", MINIMAL.to_string())],
        dirs: &[],
        file: "plugins/a/plugin.toml",
        line: 0,
        column: 0,
        field: "",
        message: "",
        hint: "",
        count: 1,
    }
}

impl Case {
    fn naap(mut self, text: &'static str) -> Self {
        self.naap = text;
        self
    }
    fn plugin(mut self, text: impl Into<String>) -> Self {
        self.plugins = vec![("plugins/a", text.into())];
        self
    }
    fn plugins(mut self, list: Vec<(&'static str, String)>) -> Self {
        self.plugins = list;
        self
    }
    fn dirs(mut self, dirs: &'static [&'static str]) -> Self {
        self.dirs = dirs;
        self
    }
    fn at(mut self, file: &'static str, line: usize, field: &'static str) -> Self {
        self.file = file;
        self.line = line;
        self.field = field;
        self
    }
    fn column(mut self, column: usize) -> Self {
        self.column = column;
        self
    }
    fn says(mut self, message: &'static str) -> Self {
        self.message = message;
        self
    }
    fn hint(mut self, hint: &'static str) -> Self {
        self.hint = hint;
        self
    }
    fn count(mut self, count: usize) -> Self {
        self.count = count;
        self
    }
}

fn broken_cases() -> Vec<Case> {
    const P: &str = "plugins/a/plugin.toml";
    const N: &str = "naap.toml";
    vec![
        // naap.toml
        case("toml syntax error in naap.toml")
            .naap("[router\nlisten = 1\n")
            .at(N, 1, "")
            .says("invalid TOML"),
        case("unknown key in [router]")
            .naap("[router]\nlisten = \"127.0.0.1:0\"\nlisen = \"x\"\n")
            .at(N, 3, "router.lisen")
            .column(1)
            .says("unknown key `lisen` in [router]")
            .hint("did you mean `listen`?"),
        case("unknown top-level table")
            .naap("[[plugin]]\npath = \"plugins/a\"\n")
            .at(N, 1, "plugin")
            .column(3)
            .says("unknown key `plugin` at the top level")
            .hint("did you mean `plugins`?"),
        case("listen is not an address")
            .naap("[router]\nlisten = \"localhost:8080\"\n[[plugins]]\npath = \"plugins/a\"\n")
            .at(N, 2, "router.listen")
            .column(10)
            .says("invalid address `localhost:8080`")
            .hint("use an IP address"),
        case("admin equals listen")
            .naap("[router]\nlisten = \"127.0.0.1:9000\"\nadmin = \"127.0.0.1:9000\"\n[[plugins]]\npath = \"plugins/a\"\n")
            .at(N, 3, "router.admin")
            .says("same as router.listen"),
        case("state dir of the wrong type")
            .naap("[state]\ndir = 5\n[[plugins]]\npath = \"plugins/a\"\n")
            .at(N, 2, "state.dir")
            .column(7)
            .says("expected a string, found integer 5"),
        case("plugin directory does not exist")
            .naap("[[plugins]]\npath = \"plugins/a\"\n[[plugins]]\npath = \"plugins/nope\"\n")
            .at(N, 4, "plugins[1].path")
            .says("plugin directory `plugins/nope` does not exist"),
        case("plugin directory without plugin.toml")
            .naap("[[plugins]]\npath = \"plugins/a\"\n[[plugins]]\npath = \"plugins/empty\"\n")
            .dirs(&["plugins/empty"])
            .at(N, 4, "plugins[1].path")
            .says("has no plugin.toml"),
        case("plugins entry without path")
            .naap("[[plugins]]\npath = \"plugins/a\"\n\n[[plugins]]\ndir = \"plugins/b\"\n")
            .at(N, 4, "plugins[1].path")
            .says("missing required key `path`")
            .hint("path = \"plugins/hello\"")
            .count(2),
        case("same plugin listed twice")
            .naap("[[plugins]]\npath = \"plugins/a\"\n[[plugins]]\npath = \"./plugins/a/\"\n")
            .at(N, 4, "plugins[1].path")
            .says("already listed as plugins[0]"),
        // plugin.toml: [plugin]
        case("toml syntax error in plugin.toml")
            .plugin("[plugin]\nname = \"a\"\nname = \"b\"\n")
            .at(P, 3, "")
            .says("duplicate key")
            .hint("only once per table"),
        case("missing [plugin]")
            .plugin("[run]\ncommand = \"x\"\n")
            .at(P, 0, "plugin")
            .says("missing table [plugin]")
            .hint("name = \"a\""),
        case("missing plugin.name")
            .plugin(MINIMAL.replace("name = \"a\"\n", ""))
            .at(P, 1, "plugin.name")
            .column(1)
            .says("missing required key `name` in [plugin]")
            .hint("name = \"a\""),
        case("invalid plugin name")
            .plugin(MINIMAL.replace("name = \"a\"", "name = \"Expense_Tracker\""))
            .at(P, 2, "plugin.name")
            .column(8)
            .says("invalid plugin name `Expense_Tracker`"),
        case("missing version")
            .plugin(MINIMAL.replace("version = \"1.0.0\"\n", ""))
            .at(P, 1, "plugin.version")
            .says("missing required key `version`")
            .hint("version = \"0.1.0\""),
        case("version with whitespace")
            .plugin(MINIMAL.replace("\"1.0.0\"", "\"1.0 beta\""))
            .at(P, 3, "plugin.version")
            .says("contains whitespace"),
        case("route and host")
            .plugin(MINIMAL.replace("route = \"/a\"", "route = \"/a\"\nhost = \"a.localhost\""))
            .at(P, 5, "plugin.host")
            .says("either `route` or `host`, not both"),
        case("neither route nor host")
            .plugin(MINIMAL.replace("route = \"/a\"\n", ""))
            .at(P, 1, "plugin.route")
            .says("missing `route` or `host`")
            .hint("route = \"/a\""),
        case("route without leading slash")
            .plugin(MINIMAL.replace("\"/a\"", "\"a\""))
            .at(P, 4, "plugin.route")
            .says("must start with \"/\"")
            .hint("route = \"/a\""),
        case("name of the wrong type")
            .plugin(MINIMAL.replace("name = \"a\"", "name = 7"))
            .at(P, 2, "plugin.name")
            .says("expected a string, found integer 7"),
        // [routing]
        case("both sticky keys")
            .plugin(minimal_with("[routing]\nsticky_header = \"x-user\"\nsticky_cookie = \"s\"\n"))
            .at(P, 10, "routing.sticky_cookie")
            .says("not both"),
        // [run]
        case("missing [run]")
            .plugin("[plugin]\nname = \"a\"\nversion = \"1\"\nroute = \"/a\"\n")
            .at(P, 0, "run")
            .says("missing table [run]")
            .hint("command = "),
        case("missing run.command")
            .plugin("[plugin]\nname = \"a\"\nversion = \"1\"\nroute = \"/a\"\n\n[run]\nbuild = \"make\"\n")
            .at(P, 6, "run.command")
            .says("missing required key `command` in [run]")
            .hint("add a line like: command = "),
        case("unknown placeholder in command")
            .plugin(MINIMAL.replace("--port {port}", "--port {prot}"))
            .at(P, 7, "run.command")
            .column(41)
            .says("unknown placeholder `{prot}`")
            .hint("did you mean `{port}`?"),
        case("unknown placeholder in env value")
            .plugin(minimal_with("env = { GREETING = \"hi {who}\" }\n"))
            .at(P, 8, "run.env.GREETING")
            .column(24)
            .says("unknown placeholder `{who}`"),
        case("unclosed brace in test gate")
            .plugin(minimal_with("test = \"cargo test {port\"\n"))
            .at(P, 8, "run.test")
            .column(20)
            .says("unclosed `{`"),
        case("cwd that does not exist")
            .plugin(minimal_with("cwd = \"build/out\"\n"))
            .at(P, 8, "run.cwd")
            .says("directory `build/out` does not exist"),
        case("stop_grace as a bare number")
            .plugin(minimal_with("stop_grace = 5\n"))
            .at(P, 8, "run.stop_grace")
            .says("expected a duration string, found integer 5")
            .hint("stop_grace = \"2s\""),
        case("unknown key in [run]")
            .plugin(minimal_with("comand = \"x\"\n"))
            .at(P, 8, "run.comand")
            .says("unknown key `comand` in [run]")
            .hint("did you mean `command`?"),
        // [health]
        case("unknown key in [health]")
            .plugin(minimal_with("[health]\nintervall = \"5s\"\n"))
            .at(P, 9, "health.intervall")
            .hint("did you mean `interval`?")
            .says("unknown key `intervall` in [health]"),
        case("threshold as a string")
            .plugin(minimal_with("[health]\nunhealthy_threshold = \"3\"\n"))
            .at(P, 9, "health.unhealthy_threshold")
            .column(23)
            .says("expected an integer, found string \"3\""),
        case("threshold zero")
            .plugin(minimal_with("[health]\nhealthy_threshold = 0\n"))
            .at(P, 9, "health.healthy_threshold")
            .says("between 1 and"),
        case("garbage duration")
            .plugin(minimal_with("[health]\ninterval = \"fast\"\n"))
            .at(P, 9, "health.interval")
            .says("invalid duration `fast`"),
        case("timeout longer than interval")
            .plugin(minimal_with("[health]\ninterval = \"1s\"\ntimeout = \"2s\"\n"))
            .at(P, 10, "health.timeout")
            .says("timeout 2s is longer than interval 1s")
            .hint("timeout = \"1s\" or less"),
        case("tcp check with a path")
            .plugin(minimal_with("[health]\nkind = \"tcp\"\npath = \"/health\"\n"))
            .at(P, 10, "health.path")
            .says("only applies to http"),
        case("health path without slash")
            .plugin(minimal_with("[health]\npath = \"health\"\n"))
            .at(P, 9, "health.path")
            .says("must start with \"/\""),
        // [strategy]
        case("unknown strategy")
            .plugin(minimal_with("[strategy]\nkind = \"canery\"\n"))
            .at(P, 9, "strategy.kind")
            .says("unknown strategy `canery`")
            .hint("did you mean `canary`?"),
        case("canary without steps")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\n"))
            .at(P, 9, "strategy.steps")
            .says("canary strategy needs `steps`")
            .hint("step_weight = 10 with max_weight = 50"),
        case("steps for blue-green")
            .plugin(minimal_with("[strategy]\nsteps = [50, 100]\n"))
            .at(P, 9, "strategy.steps")
            .says("only applies to canary strategies (kind defaults to `blue-green`)")
            .hint("kind = \"canary\""),
        case("steps not ascending")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nsteps = [5, 50, 25, 100]\n"))
            .at(P, 10, "strategy.steps[2]")
            .column(17)
            .says("step 25 is not above the step before it (50)"),
        case("last step not 100")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nsteps = [5, 50]\n"))
            .at(P, 10, "strategy.steps[1]")
            .says("the last step must be 100"),
        case("step out of range")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nsteps = [0, 100]\n"))
            .at(P, 10, "strategy.steps[0]")
            .says("step 0 is not between 1 and 100"),
        case("pause as the first step")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nsteps = [\"pause\", 50, 100]\n"))
            .at(P, 10, "strategy.steps[0]")
            .says("a pause cannot be the first step"),
        case("pause as the last step")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nsteps = [50, 100, \"pause\"]\n"))
            .at(P, 10, "strategy.steps[2]")
            .says("a pause cannot be the last step")
            .hint("[.., 50, \"pause\", 100]"),
        case("two pauses in a row")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nsteps = [5, \"pause\", \"pause\", 100]\n"))
            .at(P, 10, "strategy.steps[2]")
            .says("two pauses in a row"),
        case("a word that is not pause")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nsteps = [5, \"wait\", 100]\n"))
            .at(P, 10, "strategy.steps[1]")
            .says("`wait` is not a step")
            .hint("\"pause\""),
        case("steps and step_weight together")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nsteps = [5, 100]\nstep_weight = 10\n"))
            .at(P, 11, "strategy.step_weight")
            .says("`step_weight` and `steps` are both set")
            .hint("keep one"),
        case("max_weight without step_weight")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nmax_weight = 50\n"))
            .at(P, 10, "strategy.max_weight")
            .says("`max_weight` needs `step_weight`"),
        case("max_weight below step_weight")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nstep_weight = 30\nmax_weight = 20\n"))
            .at(P, 11, "strategy.max_weight")
            .says("max_weight 20 is not between step_weight (30) and 100"),
        case("step_weight out of range")
            .plugin(minimal_with("[strategy]\nkind = \"canary\"\nstep_weight = 0\n"))
            .at(P, 10, "strategy.step_weight")
            .says("step_weight 0 is not between 1 and 100"),
        case("step_weight for blue-green")
            .plugin(minimal_with("[strategy]\nkind = \"blue-green\"\nstep_weight = 10\n"))
            .at(P, 10, "strategy.step_weight")
            .says("`step_weight` only applies to canary strategies (kind is `blue-green`)"),
        // [rollback]
        case("error rate above 1")
            .plugin(minimal_with("[rollback]\non_error_rate = 1.5\n"))
            .at(P, 9, "rollback.on_error_rate")
            .says("at most 1, got 1.5"),
        case("negative latency limit")
            .plugin(minimal_with("[rollback]\non_latency_p99_ms = -5\n"))
            .at(P, 9, "rollback.on_latency_p99_ms")
            .says("above 0 ms"),
        // [[alerts]]
        case("unknown severity")
            .plugin(minimal_with(
                "[[alerts]]\nname = \"e\"\ncondition = \"error_rate > 0.05 for 30s\"\nseverity = \"critcal\"\n",
            ))
            .at(P, 11, "alerts[0].severity")
            .says("unknown severity `critcal`")
            .hint("did you mean `critical`?"),
        case("bad alert channel")
            .plugin(minimal_with(
                "[[alerts]]\nname = \"e\"\ncondition = \"rps < 1\"\nchannels = [\"log\", \"email:me\"]\n",
            ))
            .at(P, 11, "alerts[0].channels[1]")
            .column(20)
            .says("unknown alert channel `email:me`"),
        case("webhook with a non-http scheme")
            .plugin(minimal_with(
                "[[alerts]]\nname = \"e\"\ncondition = \"rps < 1\"\nchannels = [\"webhook:ftp://host/x\"]\n",
            ))
            .at(P, 11, "alerts[0].channels[0]")
            .says("scheme `ftp` is not http or https"),
        case("label name with a dash")
            .plugin(minimal_with(
                "[[alerts]]\nname = \"e\"\ncondition = \"rps < 1\"\nlabels = { a-b = \"x\" }\n",
            ))
            .at(P, 11, "alerts[0].labels.a-b")
            .says("`a-b` is not a label name"),
        case("repeat interval of one second")
            .plugin(minimal_with(
                "[[alerts]]\nname = \"e\"\ncondition = \"rps < 1\"\nrepeat_interval = \"500ms\"\n",
            ))
            .at(P, 11, "alerts[0].repeat_interval")
            .says("would page every tick"),
        case("empty alert summary")
            .plugin(minimal_with(
                "[[alerts]]\nname = \"e\"\ncondition = \"rps < 1\"\nsummary = \" \"\n",
            ))
            .at(P, 11, "alerts[0].summary")
            .says("must not be empty"),
        case("alert without condition")
            .plugin(minimal_with("[[alerts]]\nname = \"e\"\n"))
            .at(P, 8, "alerts[0].condition")
            .says("missing required key `condition` in [[alerts]]"),
        case("alerts as a plain table")
            .plugin(minimal_with("[alerts]\nname = \"e\"\n"))
            .at(P, 8, "alerts")
            .says("expected an array of tables, found a table"),
        // [analysis]
        case("unknown analysis metric")
            .plugin(canary_with("[analysis]\nmetrics = [\"error_rate\", \"p95_ms\"]\n"))
            .at(P, 9, "analysis.metrics[1]")
            .column(26)
            .says("unknown analysis metric `p95_ms`")
            .hint("did you mean `p99_ms`?"),
        case("analysis metric listed twice")
            .plugin(canary_with("[analysis]\nmetrics = [\"p99_ms\", \"p99_ms\"]\n"))
            .at(P, 9, "analysis.metrics[1]")
            .says("metric `p99_ms` is listed twice"),
        case("empty analysis metrics")
            .plugin(canary_with("[analysis]\nmetrics = []\n"))
            .at(P, 9, "analysis.metrics")
            .says("metrics must not be empty"),
        case("unknown analysis key")
            .plugin(canary_with("[analysis]\ntolerence = 0.2\n"))
            .at(P, 9, "analysis.tolerence")
            .hint("tolerance"),
        case("negative tolerance")
            .plugin(canary_with("[analysis]\ntolerance = -0.1\n"))
            .at(P, 9, "analysis.tolerance")
            .says("tolerance must be a number >= 0, got -0.1")
            .hint("25 % worse"),
        case("pass score above 100")
            .plugin(canary_with("[analysis]\npass_score = 150\n"))
            .at(P, 9, "analysis.pass_score")
            .says("pass_score must be between 0 and 100, got 150"),
        case("marginal score above pass score")
            .plugin(canary_with("[analysis]\npass_score = 80\nmarginal_score = 90\n"))
            .at(P, 10, "analysis.marginal_score")
            .says("marginal_score 90 is above pass_score 80"),
        case("too few samples to ever be significant")
            .plugin(canary_with("[analysis]\nmin_samples = 2\n"))
            .at(P, 9, "analysis.min_samples")
            .says("min_samples must be between 5 and 300, got 2")
            .hint("one second with traffic"),
        case("more samples than a step has seconds")
            .plugin(minimal_with(
                "[strategy]\nkind = \"canary\"\nsteps = [50, 100]\nstep_interval = \"8s\"\n\n[analysis]\nmin_samples = 10\n",
            ))
            .at(P, 14, "analysis.min_samples")
            .says("min_samples 10 cannot be reached in a step of 8s")
            .hint("raise strategy.step_interval to \"10s\""),
        case("success rate above 1")
            .plugin(canary_with("[analysis]\nsuccess_rate = 99\n"))
            .at(P, 9, "analysis.success_rate")
            .says("at most 1, got 99")
            .hint("success_rate = 0.99"),
        case("zero p99 threshold")
            .plugin(canary_with("[analysis]\np99_ms = 0\n"))
            .at(P, 9, "analysis.p99_ms")
            .says("above 0 ms"),
        case("warmup load without a unit")
            .plugin(canary_with("[analysis]\nwarmup_load = \"fast\"\n"))
            .at(P, 9, "analysis.warmup_load")
            .column(15)
            .says("`fast` is not a request rate")
            .hint("warmup_load = \"20rps\""),
        case("warmup load of zero")
            .plugin(canary_with("[analysis]\nwarmup_load = \"0rps\"\n"))
            .at(P, 9, "analysis.warmup_load")
            .says("between 1 and 1000 requests per second, got 0"),
        case("warmup path without a slash")
            .plugin(canary_with("[analysis]\nwarmup_path = \"api/items\"\n"))
            .at(P, 9, "analysis.warmup_path")
            .says("warmup_path `api/items` is not a URL path"),
        case("health threshold not a boolean")
            .plugin(canary_with("[analysis]\nhealth = \"yes\"\n"))
            .at(P, 9, "analysis.health")
            .says("expected a boolean"),
        // Across plugins
        case("duplicate plugin names")
            .naap(TWO_PLUGINS)
            .plugins(vec![
                ("plugins/a", MINIMAL.to_string()),
                ("plugins/b", MINIMAL.replace("\"/a\"", "\"/b\"")),
            ])
            .at("plugins/b/plugin.toml", 2, "plugin.name")
            .says("plugin name `a` is already used by")
            .hint("unique"),
        case("duplicate routes after normalisation")
            .naap(TWO_PLUGINS)
            .plugins(vec![
                ("plugins/a", MINIMAL.to_string()),
                ("plugins/b", MINIMAL.replace("\"a\"", "\"b\"").replace("\"/a\"", "\"/a/\"")),
            ])
            .at("plugins/b/plugin.toml", 4, "plugin.route")
            .says("route `/a` is already used by plugin `a` ("),
        case("duplicate hosts ignoring case")
            .naap(TWO_PLUGINS)
            .plugins(vec![
                ("plugins/a", MINIMAL.replace("route = \"/a\"", "host = \"shop.localhost\"")),
                (
                    "plugins/b",
                    MINIMAL
                        .replace("\"a\"", "\"b\"")
                        .replace("route = \"/a\"", "host = \"Shop.Localhost\""),
                ),
            ])
            .at("plugins/b/plugin.toml", 4, "plugin.host")
            .says("host `shop.localhost` is already used by plugin `a`"),
    ]
}

#[test]
fn broken_workspaces_report_file_line_field_and_message() {
    let cases = broken_cases();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for c in &cases {
        let plugins: Vec<(&str, &str)> = c.plugins.iter().map(|(d, t)| (*d, t.as_str())).collect();
        let dir = workspace(c.naap, &plugins);
        for extra in c.dirs {
            std::fs::create_dir_all(dir.path().join(extra)).expect("mkdir");
        }
        let problems = match load(dir.path()) {
            Ok(_) => {
                failures.push(format!("{}: loaded without problems", c.what));
                continue;
            }
            Err(p) => p,
        };
        let found = problems.iter().any(|p| {
            p.file.ends_with(c.file)
                && p.line == c.line
                && (c.column == 0 || p.column == c.column)
                && p.field == c.field
                && p.message.contains(c.message)
                && p.hint.contains(c.hint)
        });
        if !found || problems.len() != c.count {
            failures.push(format!(
                "{}: expected {} problem(s) incl. {}:{}:{} {} `{}` (hint `{}`), got:\n{problems}",
                c.what, c.count, c.file, c.line, c.column, c.field, c.message, c.hint
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_problem_in_every_file_is_reported_in_order() {
    let naap = "[router]\nlisten = \"nope\"\nadmn = \"x\"\n[[plugins]]\npath = \"plugins/a\"\n[[plugins]]\npath = \"plugins/b\"\n";
    let a = "[plugin]\nname = \"A\"\nversion = \"1\"\nroute = \"/a\"\n[run]\ncommand = \"{x}\"\n[health]\ninterval = 2\n";
    let b = "[plugin]\nname = \"b\"\nversion = \"1\"\nroute = \"b\"\n[run]\ncommand = \"ok\"\nfoo = 1\n[strategy]\nkind = \"canary\"\nsteps = [1, 1]\n";
    let dir = workspace(naap, &[("plugins/a", a), ("plugins/b", b)]);
    let problems = load(dir.path()).expect_err("broken");
    let summary: Vec<(String, usize, &str)> = problems
        .iter()
        .map(|p| {
            let file = p
                .file
                .strip_prefix(dir.path().canonicalize().expect("canon"))
                .expect("in dir");
            (file.display().to_string(), p.line, p.field.as_str())
        })
        .collect();
    let expected = [
        ("naap.toml", 2, "router.listen"),
        ("naap.toml", 3, "router.admn"),
        ("plugins/a/plugin.toml", 2, "plugin.name"),
        ("plugins/a/plugin.toml", 6, "run.command"),
        ("plugins/a/plugin.toml", 8, "health.interval"),
        ("plugins/b/plugin.toml", 4, "plugin.route"),
        ("plugins/b/plugin.toml", 7, "run.foo"),
        ("plugins/b/plugin.toml", 10, "strategy.steps[1]"),
        ("plugins/b/plugin.toml", 10, "strategy.steps[1]"),
    ];
    let expected: Vec<(String, usize, &str)> = expected
        .iter()
        .map(|(f, l, field)| (f.to_string(), *l, *field))
        .collect();
    assert_eq!(summary, expected, "{problems}");
    // The rendered form is one block per problem, each with its hint.
    let text = problems.to_string();
    assert!(text.contains("naap.toml:3:1: router.admn: unknown key `admn` in [router]\n  hint: did you mean `admin`?"), "{text}");
}

const FULL_NAAP: &str = r#"
[router]
listen = "127.0.0.1:0"
admin = "127.0.0.1:0"

[state]
dir = "var/../state/./naap"

[[plugins]]
path = "plugins/expense-tracker"

[[plugins]]
path = "plugins/search"
"#;

const FULL_PLUGIN: &str = r#"
[plugin]
name = "expense-tracker"
version = "1.3.0"
route = "/expenses/"
strip_prefix = false

[routing]
sticky_header = "X-User-Id"

[run]
command = "{naap} sample-service --port {port} --version {version}"
build = "cargo build --release"
test = "cargo test"
lint = "cargo clippy -- -D warnings"
env = { RUST_LOG = "info", SLOT = "{slot}" }
cwd = "bin"
stop_grace = "10s"
startup_timeout = "1m"

[health]
kind = "http"
path = "/healthz"
interval = "3s"
timeout = "500ms"
unhealthy_threshold = 4
healthy_threshold = 2

[strategy]
kind = "canary"
steps = [5, 25, 50, 100]
step_interval = "45s"

[rollback]
on_error_rate = 0.05
on_latency_p99_ms = 2000
on_health_check_fail = false
keep_previous_warm = "0s"

[[alerts]]
name = "errors"
condition = "error_rate > 0.05 for 30s"
severity = "critical"
channels = ["log", "webhook:http://127.0.0.1:9000/hook", "command:notify-send naap"]

[[alerts]]
name = "slow"
condition = "p99_ms > 800 for 1m"
rollback = true
labels = { team = "payments" }
repeat_interval = "1h"
summary = "checkout is slow"
"#;

const SEARCH_PLUGIN: &str = r#"
[plugin]
name = "search"
version = "2024.05.01"
host = "Search.Localhost"

[routing]
sticky_cookie = "session"

[run]
command = "./search --listen 127.0.0.1:{port} --json '{{\"slot\": \"{slot}\"}}'"

[health]
kind = "tcp"

[strategy]
kind = "immediate"
"#;

#[test]
fn full_example_loads_with_every_value() {
    let dir = workspace(
        FULL_NAAP,
        &[
            ("plugins/expense-tracker", FULL_PLUGIN),
            ("plugins/search", SEARCH_PLUGIN),
        ],
    );
    std::fs::create_dir_all(dir.path().join("plugins/expense-tracker/bin")).expect("mkdir");
    let ws = load(dir.path()).unwrap_or_else(|p| panic!("{p}"));
    let root = dir.path().canonicalize().expect("canon");
    assert_eq!(ws.root, root);
    assert_eq!(ws.file, root.join("naap.toml"));
    assert_eq!(ws.state_dir, root.join("state/naap"));
    assert_eq!(ws.router.listen, "127.0.0.1:0".parse().expect("addr"));
    assert_eq!(ws.router.admin, Some("127.0.0.1:0".parse().expect("addr")));
    assert_eq!(ws.plugins.len(), 2);

    let p = ws.plugin("expense-tracker").expect("plugin");
    let pdir = root.join("plugins/expense-tracker");
    assert_eq!(p.version, "1.3.0");
    assert_eq!(p.dir, pdir);
    assert_eq!(p.manifest_path, pdir.join("plugin.toml"));
    assert_eq!(
        p.route,
        Route::Prefix {
            prefix: "/expenses".into(),
            strip: false
        }
    );
    assert_eq!(p.sticky, Some(Sticky::Header("x-user-id".into())));
    assert_eq!(
        p.run.command,
        "{naap} sample-service --port {port} --version {version}"
    );
    assert_eq!(p.run.build.as_deref(), Some("cargo build --release"));
    assert_eq!(p.run.test.as_deref(), Some("cargo test"));
    assert_eq!(p.run.lint.as_deref(), Some("cargo clippy -- -D warnings"));
    assert_eq!(p.run.env.get("RUST_LOG").map(String::as_str), Some("info"));
    assert_eq!(p.run.env.get("SLOT").map(String::as_str), Some("{slot}"));
    assert_eq!(p.run.cwd, pdir.join("bin"));
    assert_eq!(p.run.stop_grace, Duration::from_secs(10));
    assert_eq!(p.run.startup_timeout, Duration::from_secs(60));
    assert_eq!(
        p.health,
        HealthSpec {
            check: HealthCheck::Http {
                path: "/healthz".into()
            },
            interval: Duration::from_secs(3),
            timeout: Duration::from_millis(500),
            unhealthy_threshold: 4,
            healthy_threshold: 2,
        }
    );
    assert_eq!(
        p.strategy,
        StrategySpec {
            kind: StrategyKind::Canary,
            steps: vec![5, 25, 50, 100],
            pause_after: vec![],
            step_interval: Duration::from_secs(45),
        }
    );
    assert_eq!(
        p.rollback,
        RollbackSpec {
            on_error_rate: Some(0.05),
            on_latency_p99_ms: Some(2000),
            on_health_check_fail: false,
            keep_previous_warm: Duration::ZERO,
        }
    );
    assert_eq!(p.alerts.len(), 2);
    assert_eq!(p.alerts[0].severity, "critical");
    assert_eq!(p.alerts[0].channels.len(), 3);
    assert_eq!(
        p.alerts[1],
        AlertSpec {
            name: "slow".into(),
            condition: "p99_ms > 800 for 1m".into(),
            severity: "warning".into(),
            channels: vec!["log".into()],
            rollback: true,
            labels: [("team".to_string(), "payments".to_string())].into(),
            repeat_interval: std::time::Duration::from_secs(3600),
            summary: Some("checkout is slow".into()),
        }
    );
    assert!(!p.alerts[0].rollback);
    assert_eq!(
        p.alerts[0].repeat_interval,
        crate::core::alerts::DEFAULT_REPEAT_INTERVAL
    );

    let s = ws.plugin("search").expect("search");
    assert_eq!(s.route, Route::Host("search.localhost".into()));
    assert_eq!(s.sticky, Some(Sticky::Cookie("session".into())));
    assert_eq!(s.health.check, HealthCheck::Tcp);
    assert_eq!(s.strategy.kind, StrategyKind::Immediate);
    assert!(s.strategy.steps.is_empty());
    let vars = Placeholders {
        port: 4100,
        version: &s.version,
        slot: "blue",
        plugin: &s.name,
        naap: "/bin/naap",
    };
    assert_eq!(
        expand_placeholders(&s.run.command, &vars),
        "./search --listen 127.0.0.1:4100 --json '{\"slot\": \"blue\"}'"
    );
    assert!(ws.plugin("nope").is_none());

    // The engine stores specs as JSON; they must survive the round trip.
    let json = serde_json::to_string(p).expect("serialise");
    let back: PluginManifest = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(&back, p);
}

fn canary_strategy(body: &str) -> StrategySpec {
    let dir = workspace(
        ONE_PLUGIN,
        &[(
            "plugins/a",
            &minimal_with(&format!("[strategy]\nkind = \"canary\"\n{body}")),
        )],
    );
    let ws = load(dir.path()).unwrap_or_else(|p| panic!("{body}: {p}"));
    ws.plugins[0].strategy.clone()
}

#[test]
fn canary_plans_load_with_pauses_and_the_shorthand() {
    let s = canary_strategy("steps = [5, 25, \"pause\", 50, \"pause\", 100]\n");
    assert_eq!(s.steps, [5, 25, 50, 100]);
    assert_eq!(s.pause_after, [1, 2]);
    let s = canary_strategy("step_weight = 10\nmax_weight = 50\n");
    assert_eq!(s.steps, [10, 20, 30, 40, 50, 100]);
    assert!(s.pause_after.is_empty());
    assert_eq!(
        canary_strategy("step_weight = 30\nmax_weight = 50\n").steps,
        [30, 50, 100]
    );
    assert_eq!(
        canary_strategy("step_weight = 25\n").steps,
        [25, 50, 75, 100]
    );
    assert_eq!(
        canary_strategy("step_weight = 40\nmax_weight = 100\n").steps,
        [40, 80, 100]
    );
    assert_eq!(canary_strategy("steps = [100]\n").steps, [100]);
}

#[test]
fn defaults_fill_everything_optional() {
    let dir = workspace(ONE_PLUGIN, &[("plugins/a", MINIMAL)]);
    let ws = load(dir.path()).unwrap_or_else(|p| panic!("{p}"));
    let root = dir.path().canonicalize().expect("canon");
    assert_eq!(ws.router.listen, "127.0.0.1:8080".parse().expect("addr"));
    assert_eq!(ws.router.admin, None);
    assert_eq!(ws.state_dir, root.join(".naap"));
    let p = &ws.plugins[0];
    assert_eq!(
        p.route,
        Route::Prefix {
            prefix: "/a".into(),
            strip: true
        }
    );
    assert_eq!(p.sticky, None);
    assert_eq!(p.run.build, None);
    assert_eq!(p.run.test, None);
    assert_eq!(p.run.lint, None);
    assert!(p.run.env.is_empty());
    assert_eq!(p.run.cwd, root.join("plugins/a"));
    assert_eq!(p.run.stop_grace, Duration::from_secs(5));
    assert_eq!(p.run.startup_timeout, Duration::from_secs(30));
    assert_eq!(
        p.health,
        HealthSpec {
            check: HealthCheck::Http {
                path: "/health".into()
            },
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            unhealthy_threshold: 3,
            healthy_threshold: 1,
        }
    );
    assert_eq!(
        p.strategy,
        StrategySpec {
            kind: StrategyKind::BlueGreen,
            steps: vec![],
            pause_after: vec![],
            step_interval: Duration::from_secs(30),
        }
    );
    assert_eq!(
        p.rollback,
        RollbackSpec {
            on_error_rate: None,
            on_latency_p99_ms: None,
            on_health_check_fail: true,
            keep_previous_warm: Duration::from_secs(30 * 60),
        }
    );
    assert!(p.alerts.is_empty());
}

#[test]
fn root_route_stays_slash_and_empty_workspace_loads() {
    let dir = workspace(
        ONE_PLUGIN,
        &[("plugins/a", &MINIMAL.replace("\"/a\"", "\"//\""))],
    );
    let ws = load(dir.path()).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(
        ws.plugins[0].route,
        Route::Prefix {
            prefix: "/".into(),
            strip: true
        }
    );
    let empty = workspace("", &[]);
    let ws = load(empty.path()).unwrap_or_else(|p| panic!("{p}"));
    assert!(ws.plugins.is_empty());
}

#[test]
fn an_ai_table_is_left_to_the_ai_operator() {
    // The core neither reads nor checks `[ai]`; even keys it would not know pass here.
    let naap = format!("{ONE_PLUGIN}\n[ai]\nprovider = \"ollama\"\nanything = 1\n");
    let dir = workspace(&naap, &[("plugins/a", MINIMAL)]);
    let ws = load(dir.path()).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(ws.plugins.len(), 1);
}

#[test]
fn missing_workspace_file_is_a_problem_with_a_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let problems = load(dir.path()).expect_err("no naap.toml");
    assert_eq!(problems.len(), 1);
    assert!(problems.0[0].file.ends_with("naap.toml"));
    assert!(problems.0[0].hint.contains("naap init"));
    let problems = load(&dir.path().join("does-not-exist")).expect_err("no dir");
    assert!(
        problems.0[0]
            .message
            .contains("cannot open the workspace directory")
    );
}

#[test]
fn init_writes_a_workspace_that_loads_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("new");
    let written = init(&root, false).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(
        written,
        vec![
            root.join("naap.toml"),
            root.join("plugins/hello/plugin.toml")
        ]
    );
    let ws = load(&root).unwrap_or_else(|p| panic!("init output must load cleanly:\n{p}"));
    let hello = ws.plugin("hello").expect("hello plugin");
    assert_eq!(
        hello.route,
        Route::Prefix {
            prefix: "/hello".into(),
            strip: true
        }
    );
    assert_eq!(
        hello.run.command,
        "{naap} sample-service --port {port} --version {version}"
    );
    assert_eq!(
        hello.health.check,
        HealthCheck::Http {
            path: "/health".into()
        }
    );

    // A second init refuses and touches nothing.
    std::fs::write(root.join("naap.toml"), "# mine\n").expect("write");
    let problems = init(&root, false).expect_err("must refuse");
    assert_eq!(problems.len(), 2);
    assert!(problems.iter().all(|p| p.hint.contains("--force")));
    assert_eq!(
        std::fs::read_to_string(root.join("naap.toml")).expect("read"),
        "# mine\n"
    );

    // Force overwrites.
    init(&root, true).unwrap_or_else(|p| panic!("{p}"));
    assert!(load(&root).is_ok());
}

#[test]
fn find_root_walks_up_to_the_workspace() {
    let dir = workspace(ONE_PLUGIN, &[("plugins/a", MINIMAL)]);
    let deep = dir.path().join("plugins/a/src/deeper");
    std::fs::create_dir_all(&deep).expect("mkdir");
    assert_eq!(find_root(&deep).as_deref(), Some(dir.path()));
    assert_eq!(find_root(dir.path()).as_deref(), Some(dir.path()));
    let outside = tempfile::tempdir().expect("tempdir");
    // A tempdir outside any workspace: nothing above it has naap.toml (unless the machine's
    // /tmp does, which would be a broken test environment).
    assert_eq!(find_root(outside.path()), None);
}

/// Loads `naap` (with one plugin dir holding `plugin`); must not panic, whatever the input.
fn load_any(naap: &str, plugin: &str) -> Result<Workspace, Problems> {
    let dir = workspace(naap, &[("plugins/a", plugin)]);
    load(dir.path())
}

#[test]
fn analysis_is_off_without_the_table_and_filled_in_with_it() {
    let dir = workspace(ONE_PLUGIN, &[("plugins/a", &canary_with("[analysis]\n"))]);
    let ws = load(dir.path()).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(ws.plugins[0].analysis, Some(AnalysisSpec::default()));
    let dir = workspace(ONE_PLUGIN, &[("plugins/a", MINIMAL)]);
    let ws = load(dir.path()).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(ws.plugins[0].analysis, None);

    let every_key = minimal_with(
        r#"[strategy]
kind = "canary"
steps = [10, 50, 100]
step_interval = "20s"

[analysis]
metrics = ["p99_ms", "error_rate"]
tolerance = 0.5
pass_score = 90
marginal_score = 60.5
min_samples = 20
success_rate = 0.99
p99_ms = 500
health = false
warmup_load = "20rps"
warmup_path = "/api/items"
"#,
    );
    let dir = workspace(ONE_PLUGIN, &[("plugins/a", &every_key)]);
    let ws = load(dir.path()).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(
        ws.plugins[0].analysis,
        Some(AnalysisSpec {
            metrics: vec!["p99_ms".into(), "error_rate".into()],
            tolerance: 0.5,
            pass_score: 90.0,
            marginal_score: 60.5,
            min_samples: 20,
            success_rate: Some(0.99),
            p99_ms: Some(500),
            health: false,
            warmup_load: Some(20),
            warmup_path: Some("/api/items".into()),
        })
    );
}

#[test]
fn garbage_never_panics() {
    let garbage = [
        "",
        "\0\0\0",
        "=",
        "[[[[",
        "]]",
        "a = ",
        "\"unterminated",
        "x = 99999999999999999999999999",
        "[plugin]\nname = 99999999999999999999\n",
        "plugins = 5",
        "plugins = [1, \"x\", {path = 3}]",
        "router = []",
        "[router]\nlisten = [1,2]\nadmin = {a = 1}\n",
        "plugin = \"x\"\nrun = 1\nhealth = []\nstrategy = 1.5\nrollback = true\nalerts = \"x\"",
        "[plugin]\nname = \"a\"\nroute = \"/\"\nhost = \"\"\nversion = \"\"\n[run]\ncommand = \"\"\nenv = 5\n",
        "[run]\nenv = { \"\" = \"{\", X = 1, Y = \"}}}{{{\" }\ncwd = \"\"\nstop_grace = \"-1s\"\n",
        "[strategy]\nkind = \"canary\"\nsteps = []\nstep_interval = \"0s\"\n",
        "[strategy]\nkind = 1\nsteps = [\"a\", 1.5, -1, 101, 9223372036854775807]\n",
        "[rollback]\non_error_rate = nan\non_latency_p99_ms = 1.5\n[health]\ntimeout = \"0s\"\ninterval = \"0s\"\n",
        "[rollback]\non_error_rate = inf\nkeep_previous_warm = \"99999999999999999999h\"\n",
        "[[alerts]]\n[[alerts]]\nname = \"\"\nchannels = []\n[[alerts]]\nchannels = [1, \"webhook:\", \"command: \"]\n",
        "a.b.c.d.e.f = 1\n[x.y.z]\n",
        "d = 1979-05-27T07:32:00Z\n[plugin]\nname = 1979-05-27\n",
        "[plugin]\nname = \"é\"\nroute = \"/é ?\"\n[run]\ncommand = \"é{é}\\u00e9{\"\n",
        "\u{feff}[plugin]\n",
        "x = \"\"\"\nmulti\nline {bad}\"\"\"\n[run]\ncommand = '''\n{bad}'''\n",
    ];
    for text in garbage {
        let _ = load_any(text, MINIMAL);
        assert!(
            load_any(ONE_PLUGIN, text).is_err(),
            "{text:?} must not load"
        );
    }
    let _ = load_any("", "");
    let _ = load_any(ONE_PLUGIN, &"[".repeat(10_000));
    let _ = load_any(
        ONE_PLUGIN,
        &format!("x = {}1{}", "[".repeat(500), "]".repeat(500)),
    );
}

#[test]
fn mutated_manifests_never_panic() {
    // Deterministic mutations of a valid manifest: deletions, insertions, swaps of bytes
    // that matter to TOML, so parse errors and half-valid tables both get exercised.
    let mut rng = fastrand::Rng::with_seed(7);
    let alphabet: Vec<char> = "[]{}=\"'.,\n #0123456789abc-_/:é".chars().collect();
    let dir = workspace(ONE_PLUGIN, &[("plugins/a", FULL_PLUGIN)]);
    std::fs::create_dir_all(dir.path().join("plugins/a/bin")).expect("mkdir");
    let manifest = dir.path().join("plugins/a/plugin.toml");
    let base: Vec<char> = FULL_PLUGIN.chars().collect();
    for _ in 0..300 {
        let mut text = base.clone();
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(0..text.len());
            match rng.u8(0..3) {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(at, alphabet[rng.usize(0..alphabet.len())]),
                _ => text[at] = alphabet[rng.usize(0..alphabet.len())],
            }
        }
        let text: String = text.into_iter().collect();
        std::fs::write(&manifest, &text).expect("write");
        if let Err(problems) = load(dir.path()) {
            for p in problems.iter() {
                assert!(!p.message.is_empty(), "{text}");
            }
        }
    }
}

#[test]
fn problem_positions_point_into_the_file() {
    // Every placed problem must name a real line and column of its file.
    let text =
        "[plugin]\nname = \"A\"\nversion = \"\"\nroute = \"x\"\n[run]\ncommand = \"a {b} c {d\"\n";
    let dir = workspace(ONE_PLUGIN, &[("plugins/a", text)]);
    let problems = load(dir.path()).expect_err("broken");
    let lines: Vec<&str> = text.lines().collect();
    for p in problems.iter() {
        assert!(p.line >= 1 && p.line <= lines.len(), "{p}");
        assert!(
            p.column >= 1 && p.column <= lines[p.line - 1].chars().count() + 1,
            "{p}"
        );
    }
    let cols: Vec<usize> = problems
        .iter()
        .filter(|p| p.field == "run.command")
        .map(|p| p.column)
        .collect();
    assert_eq!(cols, vec![14, 20]);
}

#[test]
fn escaped_strings_point_at_the_value() {
    // With escapes the source differs from the value, so the value's start is the best column.
    let text = MINIMAL.replace("--port {port}", "--port \\u007bprot}");
    let dir = workspace(ONE_PLUGIN, &[("plugins/a", &text)]);
    let problems = load(dir.path()).expect_err("broken");
    assert_eq!(problems.len(), 1, "{problems}");
    assert_eq!((problems.0[0].line, problems.0[0].column), (7, 11));
    assert!(Path::new(&problems.0[0].file).ends_with("plugins/a/plugin.toml"));
}

#[test]
fn lenient_load_sets_broken_plugins_aside_and_keeps_the_good_ones() {
    // b repeats a's name: the problem is at b, so a keeps working.
    let dir = workspace(
        TWO_PLUGINS,
        &[("plugins/a", MINIMAL), ("plugins/b", MINIMAL)],
    );
    let ws = load_lenient(dir.path()).expect("naap.toml is fine");
    assert_eq!(
        ws.plugins
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(ws.broken.len(), 1);
    let b = &ws.broken[0];
    assert!(b.manifest_path.ends_with("plugins/b/plugin.toml"));
    assert!(
        b.problems.to_string().contains("already used"),
        "{}",
        b.problems
    );
    // A plugin.toml that is not even TOML is broken too, named by its directory.
    let dir = workspace(
        TWO_PLUGINS,
        &[("plugins/a", MINIMAL), ("plugins/b", "[plugin\n")],
    );
    let ws = load_lenient(dir.path()).expect("naap.toml is fine");
    assert_eq!(ws.broken[0].label(), "b");
    assert!(ws.broken_plugin("b").is_some() && ws.plugin("a").is_some());
    // The strict load still fails with the same problems; naap.toml problems fail both.
    assert!(load(dir.path()).is_err());
    let dir = workspace("[router]\nlisten = \"nope\"\n", &[]);
    assert!(load_lenient(dir.path()).is_err());
}
