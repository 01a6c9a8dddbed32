//! The narrow statement API of the hot path: the statements a module call runs (its storage,
//! quotas, posts and notices, the jobs it queues) and the session lookup of every request.
//!
//! These statements run on SQLite's writer and readers in the calling task (`db/direct.rs`),
//! with no round trip to a connection thread, and on a pooled sqlx connection elsewhere
//! (PostgreSQL, and SQLite outside the hot path). The API is Parvis's own, so the direct
//! connection needs nothing of sqlx's internals: arguments are [`Arg`]s, rows are [`Row`]s of
//! SQLite values, read with rusqlite's [`FromSql`]. On the pool, a statement is an ordinary
//! `sqlx::query` bound through sqlx's public API, and its rows are read back through it.
//!
//! The surface mirrors sqlx's (`query`, `query_as`, `query_scalar`, `bind`, `execute`,
//! `fetch_one`, `fetch_optional`, `fetch_all`), so a statement reads the same either way; it
//! runs on a [`Target`]: a pool, a pooled connection or transaction, or a direct connection.

use std::marker::PhantomData;
use std::sync::Arc;

pub use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, Value, ValueRef};
use sqlx::any::{AnyArguments, AnyRow, AnyTypeInfoKind};
use sqlx::{Any, AnyConnection, AnyPool, Column as _, Row as _, ValueRef as _};

use super::direct::DirectConn;
use crate::types::{AccountId, ModuleId, TenantId};

pub use parvis_derive::Row;
pub use sqlx::Error;

/// A statement's argument, typed even when NULL (PostgreSQL types its parameters).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// An integer (flags and times too).
    Int(Option<i64>),
    /// A floating-point number.
    Real(Option<f64>),
    /// Text.
    Text(Option<String>),
    /// Bytes.
    Blob(Option<Vec<u8>>),
}

/// What can be bound to a statement.
pub trait Param {
    /// The NULL of this type, for `None`.
    const NULL: Arg;
    /// The argument.
    fn into_arg(self) -> Arg;
}

macro_rules! param {
    ($($t:ty => $variant:ident($conv:expr)),* $(,)?) => {$(
        impl Param for $t {
            const NULL: Arg = Arg::$variant(None);
            fn into_arg(self) -> Arg {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(Some(($conv)(self)))
            }
        }
    )*};
}

param! {
    i64 => Int(|v| v),
    i32 => Int(i64::from),
    u32 => Int(i64::from),
    bool => Int(i64::from),
    f64 => Real(|v| v),
    String => Text(|v| v),
    &str => Text(str::to_string),
    Vec<u8> => Blob(|v| v),
    &[u8] => Blob(<[u8]>::to_vec),
    TenantId => Int(|t: TenantId| t.get()),
    AccountId => Text(|a: AccountId| a.0),
    ModuleId => Text(|m: ModuleId| m.as_str().to_string()),
}

impl<T: Param + Clone> Param for &T {
    const NULL: Arg = T::NULL;
    fn into_arg(self) -> Arg {
        self.clone().into_arg()
    }
}

impl<T: Param> Param for Option<T> {
    const NULL: Arg = T::NULL;
    fn into_arg(self) -> Arg {
        match self {
            Some(v) => v.into_arg(),
            None => T::NULL,
        }
    }
}

/// One row: its columns' names and SQLite values (on PostgreSQL, the values as SQLite would
/// store them: integers, reals, text, bytes or NULL).
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// The value of the named column.
    pub fn get<T: FromSql>(&self, column: &str) -> Result<T, sqlx::Error> {
        let index = self
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(column.to_string()))?;
        self.at(index)
    }

    /// The value of the `index`-th column (from 0).
    pub fn at<T: FromSql>(&self, index: usize) -> Result<T, sqlx::Error> {
        let value = self
            .values
            .get(index)
            .ok_or(sqlx::Error::ColumnIndexOutOfBounds {
                index,
                len: self.values.len(),
            })?;
        T::column_result(ValueRef::from(value)).map_err(|e| sqlx::Error::ColumnDecode {
            index: self
                .columns
                .get(index)
                .cloned()
                .unwrap_or_else(|| index.to_string()),
            source: Box::new(e),
        })
    }

    pub(crate) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// A pooled connection's row, read through sqlx's public API by the kind of each value.
    fn from_any(row: &AnyRow, columns: &Arc<[String]>) -> Result<Row, sqlx::Error> {
        let mut values = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            let kind = row.try_get_raw(i)?.type_info().kind();
            values.push(match kind {
                AnyTypeInfoKind::Null => Value::Null,
                AnyTypeInfoKind::Bool => Value::Integer(i64::from(row.try_get::<bool, _>(i)?)),
                AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
                    Value::Integer(row.try_get::<i64, _>(i)?)
                }
                AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => {
                    Value::Real(row.try_get::<f64, _>(i)?)
                }
                AnyTypeInfoKind::Text => Value::Text(row.try_get::<String, _>(i)?),
                AnyTypeInfoKind::Blob => Value::Blob(row.try_get::<Vec<u8>, _>(i)?),
            });
        }
        Ok(Row {
            columns: columns.clone(),
            values,
        })
    }
}

/// A row read into a type: by column name for structs, by position for tuples.
pub trait FromRow: Sized {
    /// Reads the row.
    fn from_row(row: &Row) -> Result<Self, sqlx::Error>;
}

impl FromRow for Row {
    fn from_row(row: &Row) -> Result<Self, sqlx::Error> {
        Ok(row.clone())
    }
}

macro_rules! tuple_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: FromSql),+> FromRow for ($($t,)+) {
            fn from_row(row: &Row) -> Result<Self, sqlx::Error> {
                Ok(($(row.at::<$t>($i)?,)+))
            }
        }
    };
}

tuple_row!(A 0);
tuple_row!(A 0, B 1);
tuple_row!(A 0, B 1, C 2);
tuple_row!(A 0, B 1, C 2, D 3);
tuple_row!(A 0, B 1, C 2, D 3, E 4);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A column read as `F` and converted into a field's type (`#[row(try_from = "F")]`).
pub fn convert<F, T>(from: F, column: &str) -> Result<T, sqlx::Error>
where
    T: TryFrom<F>,
    T::Error: std::fmt::Display,
{
    T::try_from(from).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: e.to_string().into(),
    })
}

/// Implements [`FromSql`] for a newtype over a type that has it (a column shape such as
/// `crate::rows::Flag`): `sql::transparent!(Flag(i64));`.
#[macro_export]
macro_rules! transparent_column {
    ($($name:ident($inner:ty)),+ $(,)?) => {$(
        impl $crate::db::sql::FromSql for $name {
            fn column_result(
                value: $crate::db::sql::ValueRef<'_>,
            ) -> $crate::db::sql::FromSqlResult<Self> {
                <$inner as $crate::db::sql::FromSql>::column_result(value).map($name)
            }
        }
    )+};
}
pub use transparent_column as transparent;

/// How a row is read into a statement's item: [`Whole`] rows, or their [`First`] column.
pub trait Read<T> {
    /// Reads one row.
    fn read(row: &Row) -> Result<T, sqlx::Error>;
}

/// The whole row, through [`FromRow`] (`query`, `query_as`).
#[derive(Debug)]
pub struct Whole;

/// The first column of the row (`query_scalar`).
#[derive(Debug)]
pub struct First;

impl<T: FromRow> Read<T> for Whole {
    fn read(row: &Row) -> Result<T, sqlx::Error> {
        T::from_row(row)
    }
}

impl<T: FromSql> Read<T> for First {
    fn read(row: &Row) -> Result<T, sqlx::Error> {
        row.at(0)
    }
}

/// Where a statement runs.
#[derive(Debug)]
pub enum Target<'c> {
    /// The pool: a connection for this statement.
    Pool(&'c AnyPool),
    /// A pooled connection, or the connection of a pooled transaction.
    Conn(&'c mut AnyConnection),
    /// A direct SQLite connection (the writer, or a reader).
    Direct(&'c mut DirectConn),
}

impl<'c> From<&'c AnyPool> for Target<'c> {
    fn from(pool: &'c AnyPool) -> Self {
        Target::Pool(pool)
    }
}

/// What an `execute` changed.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    /// Rows inserted, updated or deleted.
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

/// A statement and its arguments, its rows read into `T` as `R` says.
#[must_use = "a statement does nothing until it is executed or fetched"]
#[derive(Debug)]
pub struct Query<'q, T, R = Whole> {
    sql: &'q str,
    args: Vec<Arg>,
    out: PhantomData<fn() -> (T, R)>,
}

/// A statement whose rows (if any) are read as [`Row`]s.
pub fn query(sql: &str) -> Query<'_, Row> {
    Query {
        sql,
        args: Vec::new(),
        out: PhantomData,
    }
}

/// A statement whose rows are read into `T`.
pub fn query_as<T: FromRow>(sql: &str) -> Query<'_, T> {
    Query {
        sql,
        args: Vec::new(),
        out: PhantomData,
    }
}

/// A statement whose rows' first column is read as `T`.
pub fn query_scalar<T: FromSql>(sql: &str) -> Query<'_, T, First> {
    Query {
        sql,
        args: Vec::new(),
        out: PhantomData,
    }
}

impl<'q, T, R: Read<T>> Query<'q, T, R> {
    /// Binds the next `$N`.
    pub fn bind(mut self, value: impl Param) -> Self {
        self.args.push(value.into_arg());
        self
    }

    /// Runs the statement; its rows, if any, are discarded.
    pub async fn execute<'c>(self, on: impl Into<Target<'c>>) -> Result<Done, sqlx::Error> {
        let rows_affected = match on.into() {
            Target::Pool(pool) => self.sqlx().execute(pool).await?.rows_affected(),
            Target::Conn(conn) => self.sqlx().execute(conn).await?.rows_affected(),
            Target::Direct(conn) => conn.run(self.sql, self.args, Some(0))?.1,
        };
        Ok(Done { rows_affected })
    }

    /// The first row, or None.
    pub async fn fetch_optional<'c>(
        self,
        on: impl Into<Target<'c>>,
    ) -> Result<Option<T>, sqlx::Error> {
        let row = match on.into() {
            Target::Pool(pool) => self.sqlx().fetch_optional(pool).await?.map(from_any),
            Target::Conn(conn) => self.sqlx().fetch_optional(conn).await?.map(from_any),
            Target::Direct(conn) => conn
                .run(self.sql, self.args, Some(1))?
                .0
                .into_iter()
                .next()
                .map(Ok),
        };
        row.transpose()?.as_ref().map(R::read).transpose()
    }

    /// The first row; `RowNotFound` if there is none.
    pub async fn fetch_one<'c>(self, on: impl Into<Target<'c>>) -> Result<T, sqlx::Error> {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Every row.
    pub async fn fetch_all<'c>(self, on: impl Into<Target<'c>>) -> Result<Vec<T>, sqlx::Error> {
        let rows = match on.into() {
            Target::Pool(pool) => from_any_rows(self.sqlx().fetch_all(pool).await?)?,
            Target::Conn(conn) => from_any_rows(self.sqlx().fetch_all(conn).await?)?,
            Target::Direct(conn) => conn.run(self.sql, self.args, None)?.0,
        };
        rows.iter().map(R::read).collect()
    }

    /// The statement as sqlx's, for a pooled connection.
    fn sqlx(self) -> sqlx::query::Query<'q, Any, AnyArguments<'q>> {
        self.args
            .into_iter()
            .fold(sqlx::query(self.sql), |q, arg| match arg {
                Arg::Int(v) => q.bind(v),
                Arg::Real(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Blob(v) => q.bind(v),
            })
    }
}

fn column_names(row: &AnyRow) -> Arc<[String]> {
    row.columns().iter().map(|c| c.name().to_string()).collect()
}

fn from_any(row: AnyRow) -> Result<Row, sqlx::Error> {
    Row::from_any(&row, &column_names(&row))
}

fn from_any_rows(rows: Vec<AnyRow>) -> Result<Vec<Row>, sqlx::Error> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = column_names(first);
    rows.iter().map(|r| Row::from_any(r, &columns)).collect()
}

/// A statement that arguments bind to, scoped or not: helpers that bind the same columns for
/// several statements take any of them.
pub trait Bind: Sized {
    /// Binds the next `$N`.
    fn bind(self, value: impl Param) -> Self;
}

impl<T, R: Read<T>> Bind for Query<'_, T, R> {
    fn bind(self, value: impl Param) -> Self {
        Query::bind(self, value)
    }
}

impl<T, R: Read<T>> Bind for TenantQuery<'_, T, R> {
    fn bind(self, value: impl Param) -> Self {
        TenantQuery::bind(self, value)
    }
}

/// Anything with a connection a statement of this API can run on.
pub trait Sql: Send {
    /// The target for one statement.
    fn sql(&mut self) -> Target<'_>;
}

impl Sql for AnyConnection {
    fn sql(&mut self) -> Target<'_> {
        Target::Conn(self)
    }
}

impl Sql for sqlx::Transaction<'_, Any> {
    fn sql(&mut self) -> Target<'_> {
        Target::Conn(self)
    }
}

impl Sql for Target<'_> {
    fn sql(&mut self) -> Target<'_> {
        match self {
            Target::Pool(pool) => Target::Pool(pool),
            Target::Conn(conn) => Target::Conn(conn),
            Target::Direct(conn) => Target::Direct(conn),
        }
    }
}

impl<'c, S: Sql + ?Sized> From<&'c mut S> for Target<'c> {
    fn from(on: &'c mut S) -> Self {
        on.sql()
    }
}

pub(crate) mod sealed {
    /// Lends a tenant's transaction to the statements of [`super::TenantQuery`]; not reachable
    /// outside the crate, so nothing else runs on a tenant's transaction unscoped.
    pub trait Lend: Send {
        /// The target for one statement.
        fn lend(&mut self) -> super::Target<'_>;
    }
}

/// A transaction bound to one tenant: a [`TenantTx`](super::TenantTx) or a
/// [`GroupTx`](super::GroupTx). Its statements are [`TenantQuery`]s, made by
/// [`TenantSql::scoped`] (which binds the tenant as `$1`), so a statement on tenant rows cannot
/// be written without its tenant: an unscoped [`Query`] does not run on it. Statements on
/// platform and account tables in the same transaction (an account's name, a job, an e-mail
/// queued) go through [`TenantSql::platform`], the visible exception.
pub trait TenantSql: sealed::Lend {
    /// The tenant the transaction is bound to.
    fn tenant_id(&self) -> TenantId;

    /// A statement scoped to the transaction's tenant: `$1` is bound to it, the statement's
    /// own arguments start at `$2`. On SQLite, a statement that does not use `$1` fails (one
    /// argument too many): a forgotten `tenant_id = $1` does not pass the tests.
    fn scoped<'q>(&self, sql: &'q str) -> TenantQuery<'q, Row> {
        TenantQuery(query(sql).bind(self.tenant_id()))
    }

    /// [`TenantSql::scoped`], read into `T`.
    fn scoped_as<'q, T: FromRow>(&self, sql: &'q str) -> TenantQuery<'q, T> {
        TenantQuery(query_as(sql).bind(self.tenant_id()))
    }

    /// [`TenantSql::scoped`], its first column read as `T`.
    fn scoped_scalar<'q, T: FromSql>(&self, sql: &'q str) -> TenantQuery<'q, T, First> {
        TenantQuery(query_scalar(sql).bind(self.tenant_id()))
    }

    /// A statement on the transaction itself, which touches no table (`SAVEPOINT …`, an
    /// advisory lock): nothing is bound.
    fn control<'q>(&self, sql: &'q str) -> TenantQuery<'q, Row> {
        TenantQuery(query(sql))
    }

    /// [`TenantSql::control`], its first column read as `T`.
    fn control_scalar<'q, T: FromSql>(&self, sql: &'q str) -> TenantQuery<'q, T, First> {
        TenantQuery(query_scalar(sql))
    }

    /// The transaction, for statements on platform- or account-owned tables that must commit
    /// with the tenant's rows (`sql::query(..).execute(tx.platform())`): never for a table of
    /// `db::ownership`'s tenant-owned list.
    fn platform(&mut self) -> Target<'_> {
        self.lend()
    }
}

/// A statement of a tenant's transaction ([`TenantSql::scoped`]): its `$1` is the tenant.
#[must_use = "a statement does nothing until it is executed or fetched"]
#[derive(Debug)]
pub struct TenantQuery<'q, T, R = Whole>(Query<'q, T, R>);

impl<'q, T, R: Read<T>> TenantQuery<'q, T, R> {
    /// Binds the next `$N` (from `$2`).
    pub fn bind(self, value: impl Param) -> Self {
        TenantQuery(self.0.bind(value))
    }

    /// Runs the statement in the tenant's transaction; its rows, if any, are discarded.
    pub async fn execute(self, tx: &mut impl TenantSql) -> Result<Done, sqlx::Error> {
        self.0.execute(tx.lend()).await
    }

    /// The first row, or None.
    pub async fn fetch_optional(self, tx: &mut impl TenantSql) -> Result<Option<T>, sqlx::Error> {
        self.0.fetch_optional(tx.lend()).await
    }

    /// The first row; `RowNotFound` if there is none.
    pub async fn fetch_one(self, tx: &mut impl TenantSql) -> Result<T, sqlx::Error> {
        self.0.fetch_one(tx.lend()).await
    }

    /// Every row.
    pub async fn fetch_all(self, tx: &mut impl TenantSql) -> Result<Vec<T>, sqlx::Error> {
        self.0.fetch_all(tx.lend()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_keep_their_type() {
        assert_eq!(None::<String>.into_arg(), Arg::Text(None));
        assert_eq!(None::<&str>.into_arg(), Arg::Text(None));
        assert_eq!(None::<i64>.into_arg(), Arg::Int(None));
        assert_eq!(Some(true).into_arg(), Arg::Int(Some(1)));
        assert_eq!((&"x".to_string()).into_arg(), Arg::Text(Some("x".into())));
    }

    #[test]
    fn rows_read_by_name_and_position() {
        let row = Row::new(
            Arc::from(vec!["n".to_string(), "t".to_string(), "z".to_string()]),
            vec![Value::Integer(1), Value::Text("a".into()), Value::Null],
        );
        assert_eq!(row.get::<i64>("n").ok(), Some(1));
        assert_eq!(row.get::<bool>("n").ok(), Some(true));
        assert_eq!(row.get::<Option<String>>("z").ok(), Some(None));
        assert!(matches!(
            row.get::<i64>("absent"),
            Err(sqlx::Error::ColumnNotFound(_))
        ));
        assert!(matches!(
            row.get::<i64>("t"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
        assert_eq!(
            <(i64, String)>::from_row(&row).ok(),
            Some((1, "a".to_string()))
        );
    }

    /// A column shape read through `try_from`.
    #[derive(Debug)]
    struct Flag(i64);
    crate::db::sql::transparent!(Flag(i64));
    impl From<Flag> for bool {
        fn from(flag: Flag) -> bool {
            flag.0 != 0
        }
    }

    #[derive(Debug, PartialEq, super::Row)]
    struct Inner {
        t: String,
    }

    #[derive(Debug, PartialEq, super::Row)]
    struct Outer {
        #[row(rename = "n")]
        count: i64,
        #[row(try_from = "Flag", rename = "n")]
        on: bool,
        #[row(flatten)]
        inner: Inner,
        #[row(skip)]
        later: Vec<String>,
        z: Option<i64>,
    }

    #[derive(Debug, super::Row)]
    struct Strict {
        #[row(try_from = "String")]
        #[allow(dead_code)]
        kind: Kind,
    }

    #[derive(Debug)]
    struct Kind;
    impl TryFrom<String> for Kind {
        type Error = String;
        fn try_from(s: String) -> Result<Kind, String> {
            Err(format!("type inconnu : {s}"))
        }
    }

    #[test]
    fn rows_derive_by_name_with_renames_conversions_and_flattening() {
        let row = Row::new(
            Arc::from(vec!["n".to_string(), "t".to_string(), "z".to_string()]),
            vec![Value::Integer(2), Value::Text("a".into()), Value::Null],
        );
        assert_eq!(
            Outer::from_row(&row).ok(),
            Some(Outer {
                count: 2,
                on: true,
                inner: Inner { t: "a".into() },
                later: Vec::new(),
                z: None,
            })
        );
        let refused = Strict::from_row(&Row::new(
            Arc::from(vec!["kind".to_string()]),
            vec![Value::Text("x".into())],
        ));
        assert!(
            matches!(&refused, Err(sqlx::Error::ColumnDecode { index, .. }) if index == "kind"),
            "{refused:?}"
        );
    }
}
