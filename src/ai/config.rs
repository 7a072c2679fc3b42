//! Which language model the operator talks to, and how patiently.
//!
//! Settings are layered, lowest to highest: built-in defaults, the user's
//! `~/.config/naap/ai.toml` (or the file `NAAP_AI_CONFIG` names), the `[ai]` table of the
//! workspace's naap.toml, the `NAAP_AI_PROVIDER` / `NAAP_AI_MODEL` / `NAAP_AI_BASE_URL` /
//! `NAAP_AI_API_KEY_ENV` environment variables, then command-line flags. A layer that
//! switches to another provider drops the model, base URL and key variable of the layers
//! under it, which were meant for the other provider.
//!
//! The key itself never appears here: the configuration names the environment variable that
//! holds it, and [`build`] reads that variable. A key written into a file is refused.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use toml::de::DeTable;

use crate::ai::provider::{
    Anthropic, HttpSettings, Ollama, OpenAi, Provider, ProviderError, Resilient, ResilientSettings,
};
use crate::core::workspace::{
    Problem, Problems, Report, Source, TableRef, WORKSPACE_FILE, did_you_mean, quoted_list,
    syntax_problems,
};

/// The environment variable naming another user config file (tests, several setups).
pub const CONFIG_ENV: &str = "NAAP_AI_CONFIG";
pub const PROVIDER_ENV: &str = "NAAP_AI_PROVIDER";
pub const MODEL_ENV: &str = "NAAP_AI_MODEL";
pub const BASE_URL_ENV: &str = "NAAP_AI_BASE_URL";
pub const API_KEY_ENV_ENV: &str = "NAAP_AI_API_KEY_ENV";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
    Ollama,
    /// No model: the deterministic intent router answers.
    Offline,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Ollama,
        ProviderKind::Offline,
    ];

    /// The name used in files, flags and `ProviderInfo::kind`.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Ollama => "ollama",
            ProviderKind::Offline => "offline",
        }
    }

    pub fn default_model(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "gpt-4o-mini",
            ProviderKind::Anthropic => "claude-sonnet-4-5",
            ProviderKind::Ollama => "llama3.2",
            ProviderKind::Offline => "",
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::Ollama => "http://127.0.0.1:11434",
            ProviderKind::Offline => "",
        }
    }

    /// The variable the key is read from unless the configuration names another.
    pub fn default_api_key_env(self) -> Option<&'static str> {
        match self {
            ProviderKind::OpenAi => Some("OPENAI_API_KEY"),
            ProviderKind::Anthropic => Some("ANTHROPIC_API_KEY"),
            ProviderKind::Ollama | ProviderKind::Offline => None,
        }
    }

    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.name()).collect()
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or_else(|| {
                format!(
                    "there is no provider `{s}`; choose one of {}",
                    quoted_list(&Self::names())
                )
            })
    }
}

/// Fixes iterate asks for when `[ai] heal_attempts` does not say.
pub const DEFAULT_HEAL_ATTEMPTS: u32 = 3;

/// The resolved settings.
#[derive(Clone, Debug, PartialEq)]
pub struct AiConfig {
    pub provider: ProviderKind,
    pub model: String,
    pub base_url: String,
    /// The NAME of the environment variable holding the key (never the key); `None` when
    /// the provider needs none.
    pub api_key_env: Option<String>,
    /// Longest wait for connecting, for the first streamed byte and between two chunks.
    pub timeout: Duration,
    /// Attempts after the first on connection errors, 429, 5xx and overload.
    pub max_retries: u32,
    /// Upper bound on an answer's tokens.
    pub max_tokens: u32,
    /// Failed requests in a row before the provider is not tried for `breaker_cooldown`.
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
    /// What the model costs, when the person wrote it down: the face shows a turn's cost.
    pub price: Option<Price>,
    /// Rounds of fixing a candidate whose gates fail before it is handed to a person.
    pub heal_attempts: u32,
    /// How far the operator may go (`confirm`, `read-only`, `suggest`) where a face's flag
    /// does not say: a team can make a workspace's operator read-only for every face.
    pub mode: super::policy::Mode,
}

/// A cost as a person reads it: `$0.0123`, `$1.20`.
pub fn dollars(cost: f64) -> String {
    if cost < 0.01 {
        format!("${cost:.4}")
    } else {
        format!("${cost:.2}")
    }
}

/// A model's price in US dollars per million tokens (`input_price`, `output_price`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Price {
    /// The cost of `usage` at this price.
    pub fn cost(&self, usage: &super::provider::Usage) -> f64 {
        (usage.input_tokens as f64 * self.input_per_mtok
            + usage.output_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

impl AiConfig {
    /// The defaults for `provider`.
    pub fn defaults(provider: ProviderKind) -> Self {
        AiConfig {
            provider,
            model: provider.default_model().to_string(),
            base_url: provider.default_base_url().to_string(),
            api_key_env: provider.default_api_key_env().map(str::to_string),
            timeout: Duration::from_secs(60),
            max_retries: 2,
            max_tokens: 4096,
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(30),
            price: None,
            heal_attempts: DEFAULT_HEAL_ATTEMPTS,
            mode: super::policy::Mode::Confirm,
        }
    }

    /// The resilience settings this configuration asks for.
    pub fn resilience(&self) -> ResilientSettings {
        ResilientSettings {
            timeout: self.timeout,
            max_retries: self.max_retries,
            breaker_failures: self.breaker_failures,
            breaker_cooldown: self.breaker_cooldown,
            ..ResilientSettings::default()
        }
    }
}

impl Default for AiConfig {
    fn default() -> Self {
        Self::defaults(ProviderKind::Offline)
    }
}

/// What the command line sets; each `Some` wins over every file and variable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AiOverrides {
    pub provider: Option<ProviderKind>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AiConfigError {
    /// Problems in ai.toml or the `[ai]` table, each with file, line, column, field and hint.
    #[error("{0}")]
    Files(Problems),
    #[error("{var}={value:?}: {message}\n  hint: {hint}")]
    Env {
        var: String,
        value: String,
        message: String,
        hint: String,
    },
    #[error("--{flag}: {message}\n  hint: {hint}")]
    Flag {
        flag: String,
        message: String,
        hint: String,
    },
    #[error(
        "the {provider} key is read from the environment variable {var}, which is not set\n  hint: export {var}=<your key>, or set api_key_env in the [ai] table of naap.toml (or in ~/.config/naap/ai.toml) to the variable that holds it"
    )]
    KeyNotSet { provider: String, var: String },
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// Where the settings are read from; [`AiSources::from_environment`] gives the real ones.
#[derive(Clone, Debug, Default)]
pub struct AiSources {
    /// The user's ai.toml; a path to a file that does not exist is no layer.
    pub user_file: Option<PathBuf>,
    /// The workspace's naap.toml, whose `[ai]` table is read.
    pub workspace_file: Option<PathBuf>,
    /// The `NAAP_AI_*` variables.
    pub env: HashMap<String, String>,
}

impl AiSources {
    /// The user's file (`NAAP_AI_CONFIG`, else `~/.config/naap/ai.toml`), the naap.toml of
    /// `workspace_root` when given, and the process's `NAAP_AI_*` variables.
    pub fn from_environment(workspace_root: Option<&Path>) -> Self {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(name, _)| name.starts_with("NAAP_AI_"))
            .collect();
        AiSources {
            user_file: user_file(&env),
            workspace_file: workspace_root.map(|root| root.join(WORKSPACE_FILE)),
            env,
        }
    }
}

/// The user's ai.toml: the file `NAAP_AI_CONFIG` names, else `~/.config/naap/ai.toml` (the
/// platform's config directory elsewhere); `None` when there is no home to find it in.
pub fn user_file(env: &HashMap<String, String>) -> Option<PathBuf> {
    match env.get(CONFIG_ENV).filter(|p| !p.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            directories::ProjectDirs::from("", "", "naap").map(|d| d.config_dir().join("ai.toml"))
        }
    }
}

/// Reads the settings from the real files and environment, then applies `overrides`.
pub fn load(
    workspace_root: Option<&Path>,
    overrides: &AiOverrides,
) -> Result<AiConfig, AiConfigError> {
    load_from(&AiSources::from_environment(workspace_root), overrides)
}

/// Reads the settings from `sources`, then applies `overrides`.
pub fn load_from(sources: &AiSources, overrides: &AiOverrides) -> Result<AiConfig, AiConfigError> {
    let mut problems = Vec::new();
    let mut layers = Vec::new();
    if let Some(file) = &sources.user_file {
        match read_file(file, Section::WholeFile) {
            Ok(Some(layer)) => layers.push(layer),
            Ok(None) => {}
            Err(mut p) => problems.append(&mut p),
        }
    }
    if let Some(file) = &sources.workspace_file {
        match read_file(file, Section::AiTable) {
            Ok(Some(layer)) => layers.push(layer),
            Ok(None) => {}
            Err(mut p) => problems.append(&mut p),
        }
    }
    if !problems.is_empty() {
        return Err(AiConfigError::Files(Problems(problems)));
    }
    layers.push(env_layer(&sources.env)?);
    layers.push(flag_layer(overrides)?);

    let mut merged = Layer::default();
    for layer in layers {
        merged.apply(layer);
    }
    Ok(merged.resolve())
}

/// One source's settings; `None` leaves the value to the layers below.
#[derive(Clone, Debug, Default)]
struct Layer {
    provider: Option<ProviderKind>,
    model: Option<String>,
    base_url: Option<String>,
    /// `Some("")` means "no key".
    api_key_env: Option<String>,
    timeout: Option<Duration>,
    max_retries: Option<u32>,
    max_tokens: Option<u32>,
    breaker_failures: Option<u32>,
    breaker_cooldown: Option<Duration>,
    input_price: Option<f64>,
    output_price: Option<f64>,
    heal_attempts: Option<u32>,
    mode: Option<super::policy::Mode>,
}

impl Layer {
    fn apply(&mut self, upper: Layer) {
        if let Some(provider) = upper.provider {
            if self.provider.is_some_and(|p| p != provider) {
                self.model = None;
                self.base_url = None;
                self.api_key_env = None;
                // A price is the price of a model.
                self.input_price = None;
                self.output_price = None;
            }
            self.provider = Some(provider);
        }
        fn over<T>(lower: &mut Option<T>, upper: Option<T>) {
            if upper.is_some() {
                *lower = upper;
            }
        }
        over(&mut self.model, upper.model);
        over(&mut self.base_url, upper.base_url);
        over(&mut self.api_key_env, upper.api_key_env);
        over(&mut self.timeout, upper.timeout);
        over(&mut self.max_retries, upper.max_retries);
        over(&mut self.max_tokens, upper.max_tokens);
        over(&mut self.breaker_failures, upper.breaker_failures);
        over(&mut self.breaker_cooldown, upper.breaker_cooldown);
        over(&mut self.input_price, upper.input_price);
        over(&mut self.output_price, upper.output_price);
        over(&mut self.heal_attempts, upper.heal_attempts);
        over(&mut self.mode, upper.mode);
    }

    fn resolve(self) -> AiConfig {
        let defaults = AiConfig::defaults(self.provider.unwrap_or(ProviderKind::Offline));
        AiConfig {
            provider: defaults.provider,
            model: self.model.unwrap_or(defaults.model),
            base_url: self.base_url.unwrap_or(defaults.base_url),
            api_key_env: match self.api_key_env {
                Some(name) if name.is_empty() => None,
                Some(name) => Some(name),
                None => defaults.api_key_env,
            },
            timeout: self.timeout.unwrap_or(defaults.timeout),
            max_retries: self.max_retries.unwrap_or(defaults.max_retries),
            max_tokens: self.max_tokens.unwrap_or(defaults.max_tokens),
            breaker_failures: self.breaker_failures.unwrap_or(defaults.breaker_failures),
            breaker_cooldown: self.breaker_cooldown.unwrap_or(defaults.breaker_cooldown),
            // Either price alone is a price of zero for the other side.
            price: match (self.input_price, self.output_price) {
                (None, None) => None,
                (input, output) => Some(Price {
                    input_per_mtok: input.unwrap_or(0.0),
                    output_per_mtok: output.unwrap_or(0.0),
                }),
            },
            heal_attempts: self.heal_attempts.unwrap_or(defaults.heal_attempts),
            mode: self.mode.unwrap_or(defaults.mode),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    /// ai.toml: the settings are at the top level.
    WholeFile,
    /// naap.toml: the settings are in `[ai]`; the rest of the file is the core's.
    AiTable,
}

const KEYS: [&str; 13] = [
    "provider",
    "model",
    "base_url",
    "api_key_env",
    "timeout",
    "max_retries",
    "max_tokens",
    "breaker_failures",
    "breaker_cooldown",
    "input_price",
    "output_price",
    "heal_attempts",
    "mode",
];

/// The layer in `file`; `None` when the file (or its `[ai]` table) does not exist.
fn read_file(file: &Path, section: Section) -> Result<Option<Layer>, Vec<Problem>> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(vec![Problem::unplaced(
                file,
                "",
                format!("cannot read the file: {e}"),
                "check the file's permissions and that it is UTF-8 text",
            )]);
        }
    };
    parse_text(file, &text, section)
}

fn parse_text(file: &Path, text: &str, section: Section) -> Result<Option<Layer>, Vec<Problem>> {
    let src = Source::new(file.to_path_buf(), text.to_string());
    let (doc, errors) = DeTable::parse_recoverable(&src.text);
    if !errors.is_empty() {
        return Err(syntax_problems(&src, &errors));
    }
    let mut r = Report::new(&src);
    let root = TableRef::root(&doc);
    let table = match section {
        Section::WholeFile => root,
        Section::AiTable => match root.table(&mut r, "ai").value() {
            Some(table) => table.clone(),
            None if r.count() == 0 => return Ok(None),
            None => return Err(r.problems),
        },
    };
    let layer = read_table(&table, &mut r);
    if r.problems.is_empty() {
        Ok(Some(layer))
    } else {
        Err(r.problems)
    }
}

fn read_table(t: &TableRef, r: &mut Report) -> Layer {
    let mut known = KEYS.to_vec();
    known.push("api_key");
    t.deny_unknown(r, &known);
    // Read as any type: a type error's hint would show how to write the key in.
    if let Some(value) = t.table.get("api_key") {
        r.at(
            &value.span(),
            t.field("api_key"),
            "a key does not belong in a file, where it is copied, committed and shown",
            "remove it, export the key in your shell (e.g. export OPENAI_API_KEY=…) and name that variable instead: api_key_env = \"OPENAI_API_KEY\"",
        );
    }

    let mut layer = Layer::default();
    if let Some(value) = t.string(r, "provider").value() {
        match value.get_ref().parse::<ProviderKind>() {
            Ok(kind) => layer.provider = Some(kind),
            Err(_) => r.at(
                &value.span(),
                t.field("provider"),
                format!("there is no provider `{}`", value.get_ref()),
                did_you_mean(value.get_ref(), &ProviderKind::names()),
            ),
        }
    }
    if let Some(value) = t.string(r, "mode").value() {
        match value.get_ref().parse::<super::policy::Mode>() {
            Ok(mode) => layer.mode = Some(mode),
            Err(message) => r.at(
                &value.span(),
                t.field("mode"),
                message,
                "write mode = \"confirm\", \"read-only\" or \"suggest\"",
            ),
        }
    }
    if let Some(value) = t.string(r, "model").value() {
        match check_model(value.get_ref()) {
            Ok(model) => layer.model = Some(model),
            Err((message, hint)) => r.at(&value.span(), t.field("model"), message, hint),
        }
    }
    if let Some(value) = t.string(r, "base_url").value() {
        match check_base_url(value.get_ref()) {
            Ok(url) => layer.base_url = Some(url),
            Err((message, hint)) => r.at(&value.span(), t.field("base_url"), message, hint),
        }
    }
    if let Some(value) = t.string(r, "api_key_env").value() {
        match check_key_env(value.get_ref()) {
            Ok(name) => layer.api_key_env = Some(name),
            Err((message, hint)) => r.at(&value.span(), t.field("api_key_env"), message, hint),
        }
    }
    for (key, slot) in [
        ("timeout", &mut layer.timeout),
        ("breaker_cooldown", &mut layer.breaker_cooldown),
    ] {
        if let Some(value) = t.duration(r, key).value() {
            if value.get_ref().is_zero() {
                r.at(
                    &value.span(),
                    t.field(key),
                    "must be longer than zero",
                    format!("write e.g. {key} = \"30s\""),
                );
            } else {
                *slot = Some(*value.get_ref());
            }
        }
    }
    for (key, slot, min, max) in [
        ("max_retries", &mut layer.max_retries, 0, 10),
        ("max_tokens", &mut layer.max_tokens, 1, 1_000_000),
        ("breaker_failures", &mut layer.breaker_failures, 1, 100),
        ("heal_attempts", &mut layer.heal_attempts, 0, 10),
    ] {
        if let Some(value) = t.integer(r, key).value() {
            let n = *value.get_ref();
            match u32::try_from(n) {
                Ok(n) if (min..=max).contains(&n) => *slot = Some(n),
                _ => r.at(
                    &value.span(),
                    t.field(key),
                    format!("{n} is out of range"),
                    format!("use a whole number from {min} to {max}"),
                ),
            }
        }
    }
    for (key, slot) in [
        ("input_price", &mut layer.input_price),
        ("output_price", &mut layer.output_price),
    ] {
        if let Some(value) = t.float(r, key).value() {
            let price = *value.get_ref();
            if price.is_finite() && (0.0..=10_000.0).contains(&price) {
                *slot = Some(price);
            } else {
                r.at(
                    &value.span(),
                    t.field(key),
                    format!("{price} is not a price"),
                    format!("write US dollars per million tokens, e.g. {key} = 0.15"),
                );
            }
        }
    }
    layer
}

type Invalid = (String, String);

fn check_model(model: &str) -> Result<String, Invalid> {
    let model = model.trim();
    if model.is_empty() {
        return Err((
            "the model name is empty".into(),
            "name the model, e.g. model = \"gpt-4o-mini\", or leave the key out for the provider's default".into(),
        ));
    }
    Ok(model.to_string())
}

fn check_base_url(url: &str) -> Result<String, Invalid> {
    let url = url.trim();
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Ok(url.trim_end_matches('/').to_string())
        }
        Ok(_) | Err(_) => Err((
            format!("`{url}` is not an http(s) URL"),
            "write the API's base URL, e.g. \"http://127.0.0.1:8080/v1\" for llama.cpp's server or \"http://127.0.0.1:11434\" for Ollama".into(),
        )),
    }
}

/// An environment variable's name (empty for "no key"). Anything else is most likely the
/// key itself, pasted in the wrong place.
fn check_key_env(name: &str) -> Result<String, Invalid> {
    let name = name.trim();
    let valid = name.is_empty()
        || (name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let looks_like_a_key = name.starts_with("sk-") || name.len() > 64;
    if valid && !looks_like_a_key {
        return Ok(name.to_string());
    }
    let message = if looks_like_a_key || name.contains('-') {
        "this looks like a key, not the name of the variable holding it".to_string()
    } else {
        format!("`{name}` is not an environment variable name")
    };
    Err((
        message,
        "name the variable that holds the key, e.g. api_key_env = \"OPENAI_API_KEY\", and export the key in that variable".into(),
    ))
}

fn env_layer(env: &HashMap<String, String>) -> Result<Layer, AiConfigError> {
    let mut layer = Layer::default();
    let invalid = |var: &str, value: &str, (message, hint): Invalid| AiConfigError::Env {
        var: var.to_string(),
        value: value.to_string(),
        message,
        hint,
    };
    let get = |var: &str| env.get(var).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(value) = get(PROVIDER_ENV) {
        let kind = value.parse::<ProviderKind>().map_err(|message| {
            invalid(
                PROVIDER_ENV,
                value,
                (
                    message,
                    format!(
                        "set {PROVIDER_ENV} to openai, anthropic, ollama or offline, or unset it"
                    ),
                ),
            )
        })?;
        layer.provider = Some(kind);
    }
    if let Some(value) = get(MODEL_ENV) {
        layer.model = Some(check_model(value).map_err(|e| invalid(MODEL_ENV, value, e))?);
    }
    if let Some(value) = get(BASE_URL_ENV) {
        layer.base_url = Some(check_base_url(value).map_err(|e| invalid(BASE_URL_ENV, value, e))?);
    }
    // Set but empty is meaningful here: "no key".
    if let Some(value) = env.get(API_KEY_ENV_ENV) {
        let name = check_key_env(value).map_err(|e| {
            // Never echo what may be a key.
            invalid(API_KEY_ENV_ENV, "…", e)
        })?;
        layer.api_key_env = Some(name);
    }
    Ok(layer)
}

fn flag_layer(overrides: &AiOverrides) -> Result<Layer, AiConfigError> {
    let invalid = |flag: &str, (message, hint): Invalid| AiConfigError::Flag {
        flag: flag.to_string(),
        message,
        hint,
    };
    let mut layer = Layer {
        provider: overrides.provider,
        timeout: overrides.timeout,
        max_retries: overrides.max_retries,
        ..Layer::default()
    };
    if let Some(model) = &overrides.model {
        layer.model = Some(check_model(model).map_err(|e| invalid("model", e))?);
    }
    if let Some(url) = &overrides.base_url {
        layer.base_url = Some(check_base_url(url).map_err(|e| invalid("base-url", e))?);
    }
    if let Some(name) = &overrides.api_key_env {
        layer.api_key_env = Some(check_key_env(name).map_err(|e| invalid("api-key-env", e))?);
    }
    if overrides.timeout.is_some_and(|t| t.is_zero()) {
        return Err(invalid(
            "timeout",
            (
                "must be longer than zero".into(),
                "write e.g. --timeout 30s".into(),
            ),
        ));
    }
    Ok(layer)
}

/// The provider `config` names, wrapped in the timeouts, retries and circuit breaker it
/// asks for; `None` for the offline operator. The key is read from the variable the
/// configuration names, now.
pub fn build(config: &AiConfig) -> Result<Option<Arc<dyn Provider>>, AiConfigError> {
    build_with_env(config, &|name| std::env::var(name).ok())
}

/// [`build`] with the environment given, for tests.
pub fn build_with_env(
    config: &AiConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn Provider>>, AiConfigError> {
    if config.provider == ProviderKind::Offline {
        return Ok(None);
    }
    let api_key = match &config.api_key_env {
        Some(var) => match env(var).filter(|k| !k.trim().is_empty()) {
            Some(key) => Some(key.trim().to_string()),
            // The provider's own cloud always wants a key; a local or compatible server
            // (llama.cpp, vLLM, a proxy) often does not, so going on without one is fine.
            None if config.base_url == config.provider.default_base_url() => {
                return Err(AiConfigError::KeyNotSet {
                    provider: config.provider.name().to_string(),
                    var: var.clone(),
                });
            }
            None => None,
        },
        None => None,
    };
    let settings = HttpSettings {
        base_url: config.base_url.clone(),
        model: config.model.clone(),
        api_key,
        timeout: config.timeout,
    };
    let inner: Arc<dyn Provider> = match config.provider {
        ProviderKind::OpenAi => Arc::new(OpenAi::new(settings)?),
        ProviderKind::Anthropic => Arc::new(Anthropic::new(settings)?),
        ProviderKind::Ollama => Arc::new(Ollama::new(settings)?),
        ProviderKind::Offline => return Ok(None),
    };
    Ok(Some(Arc::new(Resilient::new(inner, config.resilience()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn sources(dir: &Path, user: Option<&str>, workspace: Option<&str>) -> AiSources {
        AiSources {
            user_file: Some(match user {
                Some(text) => write(dir, "ai.toml", text),
                None => dir.join("missing-ai.toml"),
            }),
            workspace_file: workspace.map(|text| write(dir, "naap.toml", text)),
            env: HashMap::new(),
        }
    }

    fn problems(result: Result<AiConfig, AiConfigError>) -> Vec<Problem> {
        match result {
            Err(AiConfigError::Files(p)) => p.0,
            other => panic!("expected file problems, got {other:?}"),
        }
    }

    #[test]
    fn naap_ai_config_names_the_user_file() {
        let mut env = HashMap::new();
        env.insert(CONFIG_ENV.to_string(), "/tmp/other-ai.toml".to_string());
        assert_eq!(user_file(&env), Some(PathBuf::from("/tmp/other-ai.toml")));
        env.clear();
        if let Some(default) = user_file(&env) {
            assert!(default.ends_with("naap/ai.toml"), "{}", default.display());
        }
    }

    #[test]
    fn nothing_configured_is_offline() {
        let dir = tempfile::tempdir().unwrap();
        let config = load_from(&sources(dir.path(), None, None), &AiOverrides::default()).unwrap();
        assert_eq!(config, AiConfig::default());
        assert_eq!(config.provider, ProviderKind::Offline);
    }

    #[test]
    fn layers_apply_lowest_to_highest() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sources(
            dir.path(),
            Some(
                "provider = \"openai\"\nmodel = \"from-user\"\ntimeout = \"5s\"\nmax_retries = 4\n",
            ),
            Some(
                "[router]\nlisten = \"127.0.0.1:0\"\n\n[ai]\nmodel = \"from-workspace\"\nbase_url = \"http://127.0.0.1:8080/v1/\"\n",
            ),
        );
        let config = load_from(&s, &AiOverrides::default()).unwrap();
        assert_eq!(config.provider, ProviderKind::OpenAi);
        assert_eq!(config.model, "from-workspace");
        assert_eq!(config.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.max_retries, 4);
        assert_eq!(config.api_key_env.as_deref(), Some("OPENAI_API_KEY"));

        s.env.insert(MODEL_ENV.into(), "from-env".into());
        s.env.insert(API_KEY_ENV_ENV.into(), "MY_KEY".into());
        let config = load_from(&s, &AiOverrides::default()).unwrap();
        assert_eq!(config.model, "from-env");
        assert_eq!(config.api_key_env.as_deref(), Some("MY_KEY"));

        let flags = AiOverrides {
            model: Some("from-flag".into()),
            ..AiOverrides::default()
        };
        assert_eq!(load_from(&s, &flags).unwrap().model, "from-flag");
    }

    #[test]
    fn prices_give_a_turns_cost_and_a_bad_price_is_positioned() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(
            dir.path(),
            Some(
                "provider = \"openai\"\ninput_price = 0.15\noutput_price = 0.6\nheal_attempts = 5\n",
            ),
            None,
        );
        let config = load_from(&s, &AiOverrides::default()).unwrap();
        assert_eq!(config.heal_attempts, 5);
        let price = config.price.expect("a price");
        let usage = crate::ai::provider::Usage {
            input_tokens: 2_000_000,
            output_tokens: 500_000,
        };
        assert!((price.cost(&usage) - 0.6).abs() < 1e-9);
        assert_eq!(dollars(0.6), "$0.60");
        assert_eq!(dollars(0.00042), "$0.0004");
        assert_eq!(AiConfig::default().heal_attempts, 3);
        let s = sources(dir.path(), Some("mode = \"read-only\"\n"), None);
        let config = load_from(&s, &AiOverrides::default()).unwrap();
        assert_eq!(config.mode, crate::ai::policy::Mode::ReadOnly);
        let s = sources(dir.path(), Some("mode = \"yolo\"\n"), None);
        let found = problems(load_from(&s, &AiOverrides::default()));
        assert!(found[0].to_string().contains("not a mode"), "{found:?}");

        let s = sources(
            dir.path(),
            Some("provider = \"openai\"\n\noutput_price = -1\n"),
            None,
        );
        let found = problems(load_from(&s, &AiOverrides::default()));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, 3, "{found:?}");
        assert!(found[0].to_string().contains("output_price"), "{found:?}");
    }

    #[test]
    fn switching_provider_drops_the_other_providers_model_and_url() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sources(
            dir.path(),
            Some("provider = \"openai\"\nmodel = \"gpt-x\"\nbase_url = \"http://h/v1\"\n"),
            None,
        );
        s.env.insert(PROVIDER_ENV.into(), "ollama".into());
        let config = load_from(&s, &AiOverrides::default()).unwrap();
        assert_eq!(config.provider, ProviderKind::Ollama);
        assert_eq!(config.model, "llama3.2");
        assert_eq!(config.base_url, "http://127.0.0.1:11434");
        assert_eq!(config.api_key_env, None);
    }

    #[test]
    fn a_key_in_the_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(
            dir.path(),
            None,
            Some(
                "[router]\nlisten = \"127.0.0.1:0\"\n\n[ai]\nprovider = \"openai\"\napi_key = \"sk-abc\"\n",
            ),
        );
        let found = problems(load_from(&s, &AiOverrides::default()));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, 6);
        assert_eq!(found[0].field, "ai.api_key");
        assert!(found[0].file.ends_with("naap.toml"));
        assert!(found[0].hint.contains("api_key_env"), "{}", found[0].hint);
        assert!(!found[0].to_string().contains("sk-abc"));
    }

    #[test]
    fn bad_values_name_file_line_field_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(
            dir.path(),
            Some(
                "provider = \"opnai\"\nbase_url = \"ftp://x\"\ntimeout = 5\nmax_retries = 99\nmodle = \"x\"\napi_key_env = \"sk-123456\"\n",
            ),
            None,
        );
        let found = problems(load_from(&s, &AiOverrides::default()));
        let by_field: HashMap<&str, &Problem> =
            found.iter().map(|p| (p.field.as_str(), p)).collect();
        assert_eq!(by_field["provider"].line, 1);
        assert!(by_field["provider"].hint.contains("openai"));
        assert_eq!(by_field["base_url"].line, 2);
        assert_eq!(by_field["timeout"].line, 3);
        assert!(by_field["max_retries"].hint.contains("0 to 10"));
        assert!(by_field["modle"].hint.contains("model"));
        assert!(by_field["api_key_env"].message.contains("looks like a key"));
        assert!(found.iter().all(|p| p.file.ends_with("ai.toml")));
    }

    #[test]
    fn syntax_errors_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(dir.path(), Some("provider = \"openai\n"), None);
        let found = problems(load_from(&s, &AiOverrides::default()));
        assert_eq!(found[0].line, 1);
    }

    #[test]
    fn bad_env_values_name_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sources(dir.path(), None, None);
        s.env.insert(PROVIDER_ENV.into(), "gpt".into());
        let error = load_from(&s, &AiOverrides::default()).unwrap_err();
        assert!(
            error.to_string().starts_with("NAAP_AI_PROVIDER=\"gpt\""),
            "{error}"
        );
        assert!(error.to_string().contains("hint:"));
    }

    #[test]
    fn a_workspace_without_an_ai_table_is_no_layer() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(
            dir.path(),
            None,
            Some("[router]\nlisten = \"127.0.0.1:0\"\n"),
        );
        assert_eq!(
            load_from(&s, &AiOverrides::default()).unwrap(),
            AiConfig::default()
        );
    }

    #[test]
    fn build_reads_the_key_from_the_named_variable() {
        let mut config = AiConfig::defaults(ProviderKind::OpenAi);
        let none = |_: &str| None;
        assert!(matches!(
            build_with_env(&config, &none),
            Err(AiConfigError::KeyNotSet { var, .. }) if var == "OPENAI_API_KEY"
        ));
        let key = |name: &str| (name == "OPENAI_API_KEY").then(|| "sk-test".to_string());
        let provider = build_with_env(&config, &key).unwrap().unwrap();
        assert_eq!(provider.info().kind, "openai");

        // A local OpenAI-compatible server needs no key.
        config.base_url = "http://127.0.0.1:8080/v1".into();
        assert!(build_with_env(&config, &none).unwrap().is_some());
        assert!(
            build_with_env(&AiConfig::default(), &none)
                .unwrap()
                .is_none()
        );
    }
}
