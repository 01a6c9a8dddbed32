//! Column shapes shared by the row structs that derive `sql::Row`: a field of a Rust type
//! that no column decodes as directly reads one of these and converts it, with
//! `#[row(try_from = "…")]`.

/// An integer column holding a yes/no: both backends store flags as `INTEGER` 0 or 1 (neither
/// schema uses PostgreSQL's `BOOLEAN`, so one query reads the same on both). A `bool` field
/// reads it with `#[row(try_from = "Flag")]`.
#[derive(Debug, Clone, Copy)]
pub struct Flag(i64);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0 != 0
    }
}

/// A nullable time column read as whether it is set: a `hidden: bool` field reads
/// `hidden_at` with `#[row(rename = "hidden_at", try_from = "IsSet")]`.
#[derive(Debug, Clone, Copy)]
pub struct IsSet(Option<i64>);

impl From<IsSet> for bool {
    fn from(at: IsSet) -> bool {
        at.0.is_some()
    }
}

crate::db::sql::transparent!(Flag(i64), IsSet(Option<i64>));
