//! The layers hold: the back-office (`admin-ui`) goes through the features' services, never
//! their SQL. It names no `store` module, writes no SQL (it does not depend on sqlx) and opens
//! no transaction of its own; the transaction, the rules, the audit and the cache invalidation
//! around a change are the service's, where the core's own routes find them too.

use crate::templates::{root, shown, sources};

/// What `admin-ui` must not write: `(what, why)`.
const REFUSED: [(&str, &str); 4] = [
    ("store", "names a feature's store module: call its service"),
    ("sqlx", "writes SQL: that is a store's, behind a service"),
    (".begin(", "opens a transaction: the service opens it"),
    (".begin_write(", "opens a transaction: the service opens it"),
];

/// Whether `code` holds `word` as a whole identifier (or, for punctuation, as written).
fn holds(code: &str, word: &str) -> bool {
    if !word.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return code.contains(word);
    }
    code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|token| token == word)
}

#[test]
fn the_back_office_goes_through_services() {
    let mut files = Vec::new();
    sources(&root().join("admin-ui").join("src"), &mut files);
    assert!(files.len() >= 5, "admin-ui sources: {files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let shown = shown(file);
        for (n, line) in text.lines().enumerate() {
            // Comments may speak of stores; code may not reach them.
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (word, why) in REFUSED {
                if holds(line, word) {
                    found.push(format!("{shown}:{}: {why}\n    {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "admin-ui past the services:\n{}",
        found.join("\n")
    );
    let manifest =
        std::fs::read_to_string(root().join("admin-ui").join("Cargo.toml")).unwrap_or_default();
    assert!(
        !manifest.lines().any(|l| l.trim_start().starts_with("sqlx")),
        "admin-ui depends on sqlx"
    );
}
