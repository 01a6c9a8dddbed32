//! `parvis officials import`: the official Répertoire national des élus (RNE) attached to the
//! communes served. Idempotent: a re-import updates mandates in place, ends the mandates that
//! disappeared from the file, and creates nothing twice. Rejected rows are reported with
//! their line number and reason; everything else is written in one transaction.

pub mod import;
pub mod parse;

pub use import::{ImportError, OfficialsReport, import_file, import_rows};
pub use parse::{FileKind, Rejected, Row};
