//! A builder for the module's manifest. What the commune's admins read of it (the
//! description, the settings' labels and help) gets French typography's no-break spaces here,
//! since the host shows it as text.

use crate::{Capability, Manifest, NavEntry, Setting, SettingKind};
use parvis_names::typography::spaces;

impl Manifest {
    /// A free module with no capability, setting nor navigation entry yet.
    pub fn new(id: &str, name: &str, version: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            description: String::new(),
            version: version.to_owned(),
            premium: false,
            capabilities: Vec::new(),
            settings: Vec::new(),
            nav: Vec::new(),
        }
    }

    /// Sets the description shown to the commune's admins.
    pub fn description(mut self, description: &str) -> Self {
        self.description = spaces(description).into_owned();
        self
    }

    /// Marks the module premium (it then needs an entitlement from billing).
    pub fn premium(mut self, premium: bool) -> Self {
        self.premium = premium;
        self
    }

    /// Asks the host for these capabilities.
    pub fn capabilities(mut self, capabilities: &[Capability]) -> Self {
        self.capabilities.extend_from_slice(capabilities);
        self
    }

    /// Declares a setting the commune's admins can change.
    pub fn setting(
        mut self,
        key: &str,
        label: &str,
        help: &str,
        kind: SettingKind,
        default_value: &str,
    ) -> Self {
        self.settings.push(Setting {
            key: key.to_owned(),
            label: spaces(label).into_owned(),
            help: spaces(help).into_owned(),
            kind,
            default_value: default_value.to_owned(),
        });
        self
    }

    /// Adds a navigation entry (in the admin menu when `admin`); `path` is below the mount point.
    pub fn nav(mut self, label: &str, path: &str, admin: bool) -> Self {
        self.nav.push(NavEntry {
            label: label.to_owned(),
            path: path.to_owned(),
            admin,
        });
        self
    }
}
