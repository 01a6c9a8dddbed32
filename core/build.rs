//! Rebuilds the crate when a file is added to its `templates/` folder or to `migrations/`:
//! `include_dir!` and `sqlx::migrate!` embed the folders, but on stable Rust a macro cannot ask
//! to be re-run for a new file (only edits of files it read are noticed).

fn main() {
    println!("cargo::rerun-if-changed=templates");
    println!("cargo::rerun-if-changed=../migrations");
}
