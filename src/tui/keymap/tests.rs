use super::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn key(text: &str) -> Key {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn every_built_in_key_parses_and_no_context_binds_a_key_twice() {
    let mut seen: BTreeMap<(Context, Key), Action> = BTreeMap::new();
    for action in Action::ALL {
        for text in action.default_keys() {
            let k = key(text);
            if let Some(other) = seen.insert((action.context(), k), *action) {
                panic!("`{text}` is bound to both {other} and {action}");
            }
        }
    }
    // Every action has a key out of the box.
    let keymap = Keymap::defaults();
    for action in Action::ALL {
        assert!(!keymap.keys_of(*action).is_empty(), "{action} has no key");
    }
}

#[test]
fn keys_read_and_print_the_same_way() {
    for text in [
        "r",
        "R",
        "?",
        "ctrl+r",
        "alt+x",
        "shift+left",
        "enter",
        "space",
        "f1",
        "+",
        "ctrl++",
        "backtab",
        "pagedown",
    ] {
        assert_eq!(key(text).to_string(), text);
    }
    assert_eq!(
        key("Ctrl+R"),
        Key {
            code: Code::Char('R'),
            ctrl: true,
            alt: false,
            shift: false
        }
    );
    assert!("shift+r".parse::<Key>().unwrap_err().contains("\"R\""));
    assert!(
        "hyper+x"
            .parse::<Key>()
            .unwrap_err()
            .contains("not a modifier")
    );
    assert!("pgdn".parse::<Key>().unwrap_err().contains("not a key"));
}

#[test]
fn terminal_events_map_to_the_keys_bindings_name() {
    let ev = |code, mods| KeyEvent::new(code, mods);
    assert_eq!(
        Key::from_event(&ev(KeyCode::Char('R'), KeyModifiers::SHIFT)),
        Some(key("R"))
    );
    assert_eq!(
        Key::from_event(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL)),
        Some(key("ctrl+r"))
    );
    assert_eq!(
        Key::from_event(&ev(KeyCode::Left, KeyModifiers::SHIFT)),
        Some(key("shift+left"))
    );
    assert_eq!(
        Key::from_event(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
        Some(key("backtab"))
    );
    let keymap = Keymap::defaults();
    let rollback = Key::from_event(&ev(KeyCode::Char('r'), KeyModifiers::NONE)).unwrap();
    assert_eq!(
        keymap.action(Context::Plugins, rollback),
        Some(Action::Rollback)
    );
    // A context binding shadows a global one; other keys fall through to global.
    assert_eq!(keymap.action(Context::Logs, key("q")), Some(Action::Quit));
    assert_eq!(keymap.action(Context::Logs, key("s")), Some(Action::Slot));
    assert_eq!(
        keymap.action(Context::Alerts, key("s")),
        Some(Action::Silence)
    );
}

#[test]
fn a_user_keymap_replaces_the_keys_of_the_actions_it_names() {
    let keymap = Keymap::parse(
        Path::new("keymap.toml"),
        "[plugins]\nrollback = \"ctrl+r\"\npromote = []\n[global]\nquit = [\"ctrl+q\"]\n",
    )
    .unwrap();
    assert_eq!(keymap.keys_of(Action::Rollback), [key("ctrl+r")]);
    assert_eq!(keymap.action(Context::Plugins, key("r")), None);
    assert!(keymap.keys_of(Action::Promote).is_empty());
    assert_eq!(keymap.action(Context::Plugins, key("q")), None);
    assert_eq!(
        keymap.action(Context::Plugins, key("ctrl+q")),
        Some(Action::Quit)
    );
    // Untouched actions keep their built-in keys.
    assert_eq!(
        keymap.action(Context::Plugins, key("d")),
        Some(Action::Deploy)
    );
}

#[test]
fn broken_keymaps_name_line_key_and_fix() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "[plugins]\nrolback = \"r\"\n",
            "plugins.rolback",
            2,
            "did you mean `rollback`",
        ),
        (
            "[plugin]\nrollback = \"r\"\n",
            "plugin",
            1,
            "did you mean `plugins`",
        ),
        (
            "[plugins]\nrollback = \"ctrl+\"\n",
            "plugins.rollback",
            2,
            "ctrl+r",
        ),
        (
            "[plugins]\nrollback = \"shift+r\"\n",
            "plugins.rollback",
            2,
            "\"R\"",
        ),
        (
            "[plugins]\nrollback = 5\n",
            "plugins.rollback",
            2,
            "rollback",
        ),
        (
            "[plugins]\nrollback = \"y\"\npromote = \"y\"\n",
            "plugins.promote",
            3,
            "bound to both `rollback` and `promote`",
        ),
        (
            "[plugins]\nrollback = \"d\"\n",
            "plugins.rollback",
            2,
            "unbind it with deploy = []",
        ),
        ("[plugins\n", "", 1, "TOML"),
    ];
    for (text, field, line, hint) in cases {
        let problems =
            Keymap::parse(Path::new("/home/op/.config/naap/keymap.toml"), text).expect_err(text);
        let p = &problems.0[0];
        let shown = problems.to_string();
        assert_eq!(&p.field, field, "{text}: {shown}");
        assert_eq!(p.line, *line, "{text}: {shown}");
        assert!(shown.contains("keymap.toml"), "{text}: {shown}");
        assert!(shown.contains(hint), "{text}: expected `{hint}` in {shown}");
    }
    // Rebinding both sides of a swap is fine.
    Keymap::parse(
        Path::new("k.toml"),
        "[plugins]\nrollback = \"d\"\ndeploy = \"r\"\n",
    )
    .unwrap();
}
