//! The deploy form behind the deploy key: which version, which strategy, or a preview.

use crate::api::protocol::Call;
use crate::core::engine::PluginStatus;
use crate::core::types::{StrategyKind, Version};
use crate::tui::keymap::{Code, Key, Named};

/// What the strategy field cycles through; `None` is the manifest's own.
const CHOICES: [Option<StrategyKind>; 4] = [
    None,
    Some(StrategyKind::Canary),
    Some(StrategyKind::BlueGreen),
    Some(StrategyKind::Immediate),
];

#[derive(Clone, Debug, PartialEq)]
pub struct DeployForm {
    pub plugin: String,
    /// The manifest's strategy, shown for the "manifest" choice.
    pub manifest_strategy: StrategyKind,
    pub version: String,
    /// Index into the strategy choices.
    pub strategy: usize,
    /// Start a preview slot instead (reachable only by header).
    pub preview: bool,
    pub error: Option<String>,
}

impl DeployForm {
    /// Prefilled with the manifest's version, which is what `naap deploy` ships by default.
    pub fn new(plugin: &PluginStatus) -> DeployForm {
        DeployForm {
            plugin: plugin.name.clone(),
            manifest_strategy: plugin.strategy,
            version: plugin.manifest_version.clone(),
            strategy: 0,
            preview: false,
            error: None,
        }
    }

    pub fn strategy_text(&self) -> String {
        match CHOICES[self.strategy % CHOICES.len()] {
            None => format!("{} (the manifest's)", self.manifest_strategy),
            Some(kind) => kind.to_string(),
        }
    }

    /// Typing edits the version; tab cycles the strategy; ctrl+p toggles preview.
    pub fn key(&mut self, key: Key) {
        match key.code {
            Code::Named(Named::Tab | Named::Down) => {
                self.strategy = (self.strategy + 1) % CHOICES.len()
            }
            Code::Named(Named::BackTab | Named::Up) => {
                self.strategy = (self.strategy + CHOICES.len() - 1) % CHOICES.len();
            }
            Code::Named(Named::Backspace) => {
                self.version.pop();
            }
            Code::Char('p') if key.ctrl => self.preview = !self.preview,
            Code::Char(c) if !key.ctrl && !key.alt && !c.is_whitespace() => self.version.push(c),
            _ => {}
        }
    }

    pub fn call(&self) -> Result<Call, String> {
        let version = self.version.trim();
        if version.is_empty() {
            return Err("type the version to deploy, e.g. 1.4.0".to_string());
        }
        // The rule every face shares; the form shows the reason and sends nothing.
        let version = Version::parse(version).map_err(|e| e.to_string())?;
        Ok(Call::Deploy(crate::api::protocol::DeployRequest {
            plugin: self.plugin.clone(),
            version: Some(version),
            strategy: CHOICES[self.strategy % CHOICES.len()],
            dry_run: false,
            no_cache: false,
            preview: self.preview,
            ttl: None,
            // The call answers once the rollout started; the panes show its progress.
            detach: true,
            force: false,
            candidate: None,
        }))
    }

    pub fn label(&self) -> String {
        let what = if self.preview { "preview" } else { "deploy" };
        format!("{what} {} {}", self.plugin, self.version.trim())
    }
}
