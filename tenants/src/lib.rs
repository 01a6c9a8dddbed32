//! Communes as tenants: the import of the official registry of communes, and provisioning
//! (one commune → one tenant on its own subdomain).

pub mod communes;
#[doc(hidden)]
pub mod data;
pub mod officials;
pub mod provision;

/// Whether long operations draw a progress bar (CLI) or stay silent (server, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// An indicatif bar on standard error.
    Bar,
    /// Nothing.
    Hidden,
}

impl Progress {
    pub(crate) fn bar(self, len: u64, message: &'static str) -> indicatif::ProgressBar {
        match self {
            Progress::Hidden => indicatif::ProgressBar::hidden(),
            Progress::Bar => {
                let bar = indicatif::ProgressBar::new(len);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{msg:>24} [{bar:40}] {pos}/{len} ({elapsed})",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(message);
                bar
            }
        }
    }
}

pub use communes::{ImportError, ImportReport, Selection, Source};
