use super::*;

fn user_theme(dir: &Path, name: &str, text: &str) {
    let themes = dir.join("themes");
    std::fs::create_dir_all(&themes).unwrap();
    std::fs::write(themes.join(format!("{name}.toml")), text).unwrap();
}

#[test]
fn every_built_in_theme_names_every_colour() {
    for (name, _) in BUILT_IN {
        let theme = built_in(name).unwrap_or_else(|| panic!("built-in theme {name} is broken"));
        assert_eq!(theme.name, *name);
        for paint in Paint::ALL {
            assert_ne!(
                theme.color(*paint),
                Color::Reset,
                "{name}: {}",
                paint.name()
            );
        }
    }
}

#[test]
fn a_user_file_overrides_a_subset_of_the_built_in_theme() {
    let dir = tempfile::tempdir().unwrap();
    user_theme(dir.path(), "dark", "[slots]\nblue = \"#0000ff\"\n");
    let theme = Theme::load("dark", Some(dir.path())).unwrap();
    let dark = built_in("dark").unwrap();
    assert_eq!(theme.color(Paint::SlotBlue), Color::Rgb(0, 0, 255));
    assert_eq!(theme.color(Paint::SlotGreen), dark.color(Paint::SlotGreen));
}

#[test]
fn a_new_theme_extends_a_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    user_theme(
        dir.path(),
        "night-shift",
        "name = \"night-shift\"\nextends = \"light\"\n[alerts]\nfiring = \"bright_red\"\n",
    );
    let theme = Theme::load("night-shift", Some(dir.path())).unwrap();
    assert_eq!(theme.name, "night-shift");
    assert_eq!(theme.color(Paint::AlertFiring), Color::LightRed);
    let light = built_in("light").unwrap();
    assert_eq!(
        theme.color(Paint::Background),
        light.color(Paint::Background)
    );
}

#[test]
fn broken_theme_files_name_line_key_and_fix() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "[slots]\nblu = \"#000000\"\n",
            "slots.blu",
            2,
            "did you mean `blue`",
        ),
        ("[slots]\nblue = \"#12345\"\n", "slots.blue", 2, "#rrggbb"),
        (
            "[slots]\nblue = \"purple-ish\"\n",
            "slots.blue",
            2,
            "ANSI name",
        ),
        ("[slots]\nblue = 3\n", "slots.blue", 2, "blue = "),
        ("extends = \"drak\"\n", "extends", 1, "did you mean `dark`"),
        ("[colours]\nx = \"red\"\n", "colours", 1, "known"),
        ("[slots\nblue = \"red\"\n", "", 1, "TOML"),
    ];
    for (text, field, line, hint) in cases {
        let dir = tempfile::tempdir().unwrap();
        user_theme(dir.path(), "mine", text);
        let problems = Theme::load("mine", Some(dir.path())).expect_err(text);
        let p = &problems.0[0];
        assert_eq!(&p.field, field, "{text}: {problems}");
        assert_eq!(p.line, *line, "{text}: {problems}");
        assert!(p.file.ends_with("themes/mine.toml"), "{text}: {problems}");
        let shown = problems.to_string();
        assert!(shown.contains(hint), "{text}: expected `{hint}` in {shown}");
    }
}

#[test]
fn an_unknown_theme_lists_the_built_in_ones() {
    let problems = Theme::load("solarized", None).unwrap_err();
    let shown = problems.to_string();
    assert!(shown.contains("no theme `solarized`"), "{shown}");
    assert!(shown.contains("`high-contrast`"), "{shown}");
}

#[test]
fn colours_fit_the_terminal() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(
        ColorDepth::detect(env(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")])),
        ColorDepth::None
    );
    assert_eq!(
        ColorDepth::detect(env(&[("NO_COLOR", ""), ("COLORTERM", "truecolor")])),
        ColorDepth::TrueColor
    );
    assert_eq!(
        ColorDepth::detect(env(&[("TERM", "tmux-256color")])),
        ColorDepth::Ansi256
    );
    assert_eq!(
        ColorDepth::detect(env(&[("TERM", "xterm")])),
        ColorDepth::Ansi16
    );

    let red = Color::Rgb(0xe0, 0x6c, 0x75);
    assert_eq!(ColorDepth::TrueColor.fit(red), red);
    assert_eq!(ColorDepth::Ansi16.fit(red), Color::LightRed);
    assert_eq!(
        ColorDepth::Ansi256.fit(Color::Rgb(0, 0, 0)),
        Color::Indexed(16)
    );
    assert_eq!(
        ColorDepth::Ansi256.fit(Color::Rgb(128, 128, 128)),
        Color::Indexed(244)
    );
    assert_eq!(
        ColorDepth::Ansi256.fit(Color::Rgb(255, 0, 0)),
        Color::Indexed(196)
    );
    assert_eq!(ColorDepth::None.fit(red), Color::Reset);
    // Named colours are already what a 16-colour terminal shows.
    assert_eq!(ColorDepth::Ansi16.fit(Color::Cyan), Color::Cyan);

    // Every built-in theme stays distinguishable on 16 colours where it matters most.
    for (name, _) in BUILT_IN {
        let theme = built_in(name).unwrap().fitted(ColorDepth::Ansi16);
        assert_ne!(
            theme.color(Paint::Healthy),
            theme.color(Paint::Unhealthy),
            "{name}: healthy and unhealthy look the same on 16 colours"
        );
        assert_ne!(
            theme.color(Paint::SlotBlue),
            theme.color(Paint::SlotGreen),
            "{name}: the slots look the same on 16 colours"
        );
    }
}
