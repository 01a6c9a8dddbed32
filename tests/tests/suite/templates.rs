//! The templates and their contexts: every file of the template folders is filled by one typed
//! context (`impl Template for …` with its `NAME`), or is a part another template extends or
//! includes; no context names a template that does not exist; and the host has one template
//! engine, built in one place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use parvis_core::web::render::Templates;

/// The workspace's root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every `.rs` file under `dir`.
/// A source file's path as a failure names it: from the workspace's root.
pub(crate) fn shown(file: &Path) -> String {
    file.strip_prefix(root())
        .unwrap_or(file)
        .display()
        .to_string()
}

pub(crate) fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && !name.to_string_lossy().starts_with('.') {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crates whose templates the host compiles, and their folders.
const CRATES: [&str; 3] = ["core", "admin-ui", "billing"];

/// `template name → the contexts naming it`, read from the crates' sources.
fn contexts() -> BTreeMap<String, Vec<String>> {
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for krate in CRATES {
        let mut files = Vec::new();
        sources(&root().join(krate).join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            // Unit tests' own templates are not the host's.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (at, _) in text.match_indices("impl Template for ") {
                let rest = &text[at + "impl Template for ".len()..];
                let ty = rest.split([' ', '<']).next().unwrap_or_default();
                let name = rest
                    .split_once("const NAME: &'static str = \"")
                    .and_then(|(_, r)| r.split_once('"'))
                    .map(|(name, _)| name.to_string())
                    .unwrap_or_default();
                named.entry(name).or_default().push(format!(
                    "{ty} ({})",
                    file.strip_prefix(root()).unwrap_or(&file).display()
                ));
            }
        }
    }
    named
}

/// The templates a template's text extends, includes or imports (macros: `ui.html`).
fn parts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tag in ["{% extends \"", "{% include \"", "{% import \""] {
        for (at, _) in text.match_indices(tag) {
            if let Some((name, _)) = text[at + tag.len()..].split_once('"') {
                out.push(name.to_string());
            }
        }
    }
    out
}

#[test]
fn every_template_is_filled_by_one_typed_context() -> anyhow::Result<()> {
    let templates = Templates::new(&[
        &parvis_admin_ui::TEMPLATES,
        &parvis_billing::routes::TEMPLATES,
    ])?;
    let all: BTreeSet<String> = templates.names().map(str::to_string).collect();
    assert!(all.len() > 40, "{all:?}");
    let named = contexts();
    let twice: Vec<_> = named.iter().filter(|(_, c)| c.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "templates with several contexts: {twice:?}"
    );
    let unknown: Vec<_> = named.keys().filter(|n| !all.contains(*n)).collect();
    assert!(unknown.is_empty(), "contexts of no template: {unknown:?}");
    // What the named templates reach through `extends` and `include`.
    let text = |name: &str| {
        CRATES
            .iter()
            .find_map(|k| std::fs::read_to_string(root().join(k).join("templates").join(name)).ok())
            .unwrap_or_default()
    };
    let mut reached: BTreeSet<String> = named.keys().cloned().collect();
    let mut todo: Vec<String> = reached.iter().cloned().collect();
    while let Some(name) = todo.pop() {
        for part in parts(&text(&name)) {
            if reached.insert(part.clone()) {
                todo.push(part);
            }
        }
    }
    let orphans: Vec<_> = all.difference(&reached).collect();
    assert!(
        orphans.is_empty(),
        "templates no typed context fills (nor extends, includes or imports): {orphans:?}"
    );
    Ok(())
}

#[test]
fn the_host_has_one_template_engine() {
    let mut files = Vec::new();
    sources(&root(), &mut files);
    let this = root().join(file!());
    let mut engines = Vec::new();
    let mut built = Vec::new();
    for file in files.iter().filter(|f| **f != this) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let shown = shown(file);
        for constructor in [
            "Tera::default(",
            "Tera::new(",
            "Tera::parse(",
            "Tera::one_off(",
        ] {
            engines.extend(text.matches(constructor).map(|_| shown.clone()));
        }
        // Outside tests (a unit test may build one from a folder of its own).
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        built.extend(code.matches("Templates::new(").map(|_| shown.clone()));
    }
    assert_eq!(engines, ["core/src/web/render.rs"], "tera engines");
    assert_eq!(built, ["core/src/server.rs"], "template sets built");
}
