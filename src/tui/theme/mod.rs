//! Colour themes as data. Every colour the dashboard paints has a name (`section.key`, e.g.
//! `slots.blue`); `themes/*.toml` are built into the binary, and a file of the same name in
//! the user's config directory (`themes/NAME.toml`) overrides any subset of a built-in one,
//! or defines a new theme on top of the one it `extends` (default `dark`).
//!
//! Colours are `#rrggbb` or one of the 16 ANSI names. What reaches the terminal is fitted to
//! what it can show ([`ColorDepth`]): true colour as is, the nearest of the 256 or 16 colours
//! otherwise, and nothing at all under `NO_COLOR` (the dashboard then shows state in text
//! and bold/reverse only).

use crate::core::workspace::{
    Problem, Problems, Report, Source, TableRef, did_you_mean, quoted_list, syntax_problems,
};
use ratatui::style::Color;
use std::path::{Path, PathBuf};
use toml::de::DeTable;

/// Declares the named colours: one enum variant per `section.key`, in theme-file order.
macro_rules! paints {
    ($($variant:ident = $section:literal . $key:literal),+ $(,)?) => {
        /// A named colour of the theme.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Paint { $($variant),+ }

        impl Paint {
            /// Every named colour, in theme-file order.
            pub const ALL: &'static [Paint] = &[$(Paint::$variant),+];

            /// The table of the theme file the colour is in.
            pub fn section(self) -> &'static str {
                match self { $(Paint::$variant => $section),+ }
            }

            /// Its key in that table.
            pub fn key(self) -> &'static str {
                match self { $(Paint::$variant => $key),+ }
            }
        }
    };
}

paints! {
    Background = "base"."background",
    Foreground = "base"."foreground",
    Muted = "base"."muted",
    Border = "base"."border",
    BorderFocused = "base"."border_focused",
    Title = "base"."title",
    SelectionBg = "base"."selection_bg",
    SelectionFg = "base"."selection_fg",
    SlotBlue = "slots"."blue",
    SlotGreen = "slots"."green",
    SlotPreview = "slots"."preview",
    Healthy = "state"."healthy",
    Unhealthy = "state"."unhealthy",
    Unknown = "state"."unknown",
    Starting = "state"."starting",
    Failed = "state"."failed",
    Warm = "state"."warm",
    Danger = "state"."danger",
    LevelTrace = "levels"."trace",
    LevelDebug = "levels"."debug",
    LevelInfo = "levels"."info",
    LevelWarn = "levels"."warn",
    LevelError = "levels"."error",
    AlertFiring = "alerts"."firing",
    AlertPending = "alerts"."pending",
    AlertResolved = "alerts"."resolved",
    AlertSilenced = "alerts"."silenced",
    ChartRps = "charts"."rps",
    ChartErrors = "charts"."errors",
    ChartP50 = "charts"."p50",
    ChartP99 = "charts"."p99",
}

impl Paint {
    /// `section.key`, as in messages and docs.
    pub fn name(self) -> String {
        format!("{}.{}", self.section(), self.key())
    }
}

/// The themes built into the binary: name and file text.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../../themes/dark.toml")),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
];

/// The theme used when none is chosen.
pub const DEFAULT_THEME: &str = "dark";

/// The 16 ANSI colour names a theme may use, with the colour each is.
const ANSI_NAMES: &[(&str, Color)] = &[
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    // ANSI 7 and 8; ratatui calls them Gray and DarkGray.
    ("white", Color::Gray),
    ("bright_black", Color::DarkGray),
    ("bright_red", Color::LightRed),
    ("bright_green", Color::LightGreen),
    ("bright_yellow", Color::LightYellow),
    ("bright_blue", Color::LightBlue),
    ("bright_magenta", Color::LightMagenta),
    ("bright_cyan", Color::LightCyan),
    ("bright_white", Color::White),
];

/// A complete theme: a colour for every [`Paint`].
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub name: String,
    colors: Vec<Color>,
}

impl Theme {
    /// The colour of `paint`.
    pub fn color(&self, paint: Paint) -> Color {
        self.colors[paint as usize]
    }

    /// Loads theme `name`: the built-in one of that name, overridden by
    /// `config_dir/themes/NAME.toml` when that file exists. Every problem in the user's file
    /// is reported, with its line, column and key; nothing of a broken file is applied.
    pub fn load(name: &str, config_dir: Option<&Path>) -> Result<Theme, Problems> {
        let user_file = config_dir.map(|d| d.join("themes").join(format!("{name}.toml")));
        match user_file.filter(|f| f.is_file()) {
            Some(file) => {
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    Problems(vec![Problem::unplaced(
                        &file,
                        "",
                        format!("cannot read the theme: {e}"),
                        "check the file's permissions and that it is UTF-8 text",
                    )])
                })?;
                parse(&file, &text, name, Layer::OverBuiltIn)
            }
            None => built_in(name).ok_or_else(|| {
                Problems(vec![Problem::unplaced(
                    user_file_hint(config_dir, name),
                    "theme",
                    format!("there is no theme `{name}`"),
                    format!(
                        "built-in themes: {}; or create {}",
                        quoted_list(&BUILT_IN.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
                        user_file_hint(config_dir, name).display()
                    ),
                )])
            }),
        }
    }

    /// The same theme fitted to what the terminal can show.
    pub fn fitted(&self, depth: ColorDepth) -> Theme {
        let colors = self.colors.iter().map(|c| depth.fit(*c)).collect();
        Theme {
            name: self.name.clone(),
            colors,
        }
    }
}

fn user_file_hint(config_dir: Option<&Path>, name: &str) -> PathBuf {
    config_dir
        .map(|d| d.join("themes").join(format!("{name}.toml")))
        .unwrap_or_else(|| PathBuf::from(format!("themes/{name}.toml")))
}

/// A built-in theme, complete by construction (a test checks every file).
pub fn built_in(name: &str) -> Option<Theme> {
    let (_, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
    parse(
        Path::new(&format!("themes/{name}.toml")),
        text,
        name,
        Layer::Complete,
    )
    .ok()
}

/// What a theme file is read over.
#[derive(Clone, Copy, PartialEq)]
enum Layer {
    /// Nothing: a built-in theme names every colour itself.
    Complete,
    /// A user's file: over the built-in theme it `extends`, else the built-in one of the same
    /// name, else `dark`.
    OverBuiltIn,
}

/// Reads a theme file; see [`Layer`].
fn parse(file: &Path, text: &str, name: &str, layer: Layer) -> Result<Theme, Problems> {
    let src = Source::new(file.to_path_buf(), text.to_string());
    let (doc, errors) = DeTable::parse_recoverable(&src.text);
    if !errors.is_empty() {
        return Err(Problems(syntax_problems(&src, &errors)));
    }
    let mut report = Report::new(&src);
    let root = TableRef::root(&doc);
    let sections: Vec<&str> = {
        let mut s: Vec<&str> = Paint::ALL.iter().map(|p| p.section()).collect();
        s.dedup();
        s
    };
    let mut known_top = vec!["name", "extends"];
    known_top.extend(&sections);
    root.deny_unknown(&mut report, &known_top);

    let own_name = root.string(&mut report, "name");
    let extends = root.string(&mut report, "extends");
    let base: Option<Theme> = if layer == Layer::Complete {
        None
    } else if let Some(parent) = extends.value() {
        let parent_name = parent.get_ref().as_str();
        let base = built_in(parent_name);
        if base.is_none() {
            report.at(
                &parent.span(),
                "extends",
                format!("there is no built-in theme `{parent_name}` to extend"),
                did_you_mean(
                    parent_name,
                    &BUILT_IN.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                ),
            );
        }
        base
    } else {
        built_in(name).or_else(|| built_in(DEFAULT_THEME))
    };

    let mut colors: Vec<Option<Color>> = match &base {
        Some(theme) => theme.colors.iter().copied().map(Some).collect(),
        None => vec![None; Paint::ALL.len()],
    };
    for section in &sections {
        let Some(table) = root.table(&mut report, section).value().cloned() else {
            continue;
        };
        let keys: Vec<&str> = Paint::ALL
            .iter()
            .filter(|p| p.section() == *section)
            .map(|p| p.key())
            .collect();
        table.deny_unknown(&mut report, &keys);
        for paint in Paint::ALL.iter().filter(|p| p.section() == *section) {
            let Some(value) = table.string(&mut report, paint.key()).value().cloned() else {
                continue;
            };
            match parse_color(value.get_ref()) {
                Some(color) => colors[*paint as usize] = Some(color),
                None => report.at(
                    &value.span(),
                    paint.name(),
                    format!("`{}` is not a colour", value.get_ref()),
                    "write \"#rrggbb\" (e.g. \"#61afef\") or an ANSI name: black, red, green, yellow, blue, magenta, cyan, white, or bright_ and one of those",
                ),
            }
        }
    }
    let missing: Vec<String> = Paint::ALL
        .iter()
        .filter(|p| colors[**p as usize].is_none())
        .map(|p| p.name())
        .collect();
    if !missing.is_empty() {
        report.unplaced(
            "",
            format!("the theme has no colour for {}", missing.join(", ")),
            "a built-in theme must name every colour; a user theme gets the rest from the theme it extends",
        );
    }
    if !report.problems.is_empty() {
        return Err(Problems(report.problems));
    }
    let theme_name = own_name
        .value()
        .map(|n| n.get_ref().clone())
        .unwrap_or_else(|| name.to_string());
    Ok(Theme {
        name: theme_name,
        colors: colors
            .into_iter()
            .map(|c| c.unwrap_or(Color::Reset))
            .collect(),
    })
}

/// `#rrggbb` or an ANSI colour name.
pub fn parse_color(text: &str) -> Option<Color> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix('#') {
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        return Some(Color::Rgb(byte(0)?, byte(2)?, byte(4)?));
    }
    let lower = text.to_ascii_lowercase();
    ANSI_NAMES
        .iter()
        .find(|(n, _)| *n == lower)
        .map(|(_, c)| *c)
}

/// How many colours the terminal shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorDepth {
    TrueColor,
    Ansi256,
    Ansi16,
    /// `NO_COLOR` is set: paint nothing.
    None,
}

impl ColorDepth {
    /// From the environment: `NO_COLOR` (any non-empty value) wins; `COLORTERM=truecolor`
    /// or `24bit` means true colour; a `TERM` with `256color` means 256; otherwise 16.
    pub fn detect(var: impl Fn(&str) -> Option<String>) -> ColorDepth {
        if var("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorDepth::None;
        }
        let colorterm = var("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return ColorDepth::TrueColor;
        }
        if var("TERM").unwrap_or_default().contains("256color") {
            return ColorDepth::Ansi256;
        }
        ColorDepth::Ansi16
    }

    /// The colour this terminal shows for `color`.
    pub fn fit(self, color: Color) -> Color {
        match (self, color) {
            (ColorDepth::None, _) => Color::Reset,
            (ColorDepth::TrueColor, c) => c,
            (ColorDepth::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(nearest_256(r, g, b)),
            (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => nearest_16(r, g, b),
            (_, c) => c,
        }
    }
}

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs();
    d(a.0, b.0).pow(2) + d(a.1, b.1).pow(2) + d(a.2, b.2).pow(2)
}

/// The ANSI colour of the same hue. Nearest-by-distance would turn a muted red into grey,
/// and on a 16-colour terminal "red means bad" matters more than the exact shade.
fn nearest_16(r: u8, g: u8, b: u8) -> Color {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let chroma = f64::from(max - min);
    let bright = max > 200;
    if chroma < 40.0 {
        let light = (u32::from(r) + u32::from(g) + u32::from(b)) / 3;
        return match light {
            0..64 => Color::Black,
            64..160 => Color::DarkGray,
            160..224 => Color::Gray,
            _ => Color::White,
        };
    }
    let (rf, gf, bf) = (f64::from(r), f64::from(g), f64::from(b));
    let hue = if max == r {
        60.0 * ((gf - bf) / chroma).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((bf - rf) / chroma + 2.0)
    } else {
        60.0 * ((rf - gf) / chroma + 4.0)
    };
    // Six sectors of 60° centred on red, yellow, green, cyan, blue and magenta.
    let sector = (((hue + 30.0) % 360.0) / 60.0) as usize;
    let (normal, light) = [
        (Color::Red, Color::LightRed),
        (Color::Yellow, Color::LightYellow),
        (Color::Green, Color::LightGreen),
        (Color::Cyan, Color::LightCyan),
        (Color::Blue, Color::LightBlue),
        (Color::Magenta, Color::LightMagenta),
    ][sector.min(5)];
    if bright { light } else { normal }
}

/// The nearest colour of the 6×6×6 cube and the grey ramp (indexes 16–255).
fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let level = |v: u8| {
        (0..6)
            .min_by_key(|i| (i32::from(LEVELS[*i]) - i32::from(v)).unsigned_abs())
            .unwrap_or(0)
    };
    let (ri, gi, bi) = (level(r), level(g), level(b));
    let cube = (LEVELS[ri], LEVELS[gi], LEVELS[bi]);
    let cube_index = 16 + 36 * ri + 6 * gi + bi;
    let grey_step = ((u32::from(r) + u32::from(g) + u32::from(b)) / 3).saturating_sub(3) / 10;
    let grey_step = grey_step.min(23) as usize;
    let grey_value = (8 + 10 * grey_step) as u8;
    let grey = (grey_value, grey_value, grey_value);
    if distance((r, g, b), grey) < distance((r, g, b), cube) {
        (232 + grey_step) as u8
    } else {
        cube_index as u8
    }
}

#[cfg(test)]
mod tests;
