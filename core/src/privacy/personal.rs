//! What each feature keeps about a person, exported and erased with the account.
//!
//! Each feature implements [`PersonalData`] next to its store and is listed once in
//! [`FEATURES`]; an account's export (`/mon-compte/donnees.json`) and its deletion go through
//! that list, in its order. A test holds the list to the schema: every account-owned table
//! (`db::ownership`) is claimed by one feature, so a new table of personal data cannot be
//! forgotten by the export or the deletion.

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::{Column as _, Row as _};

use crate::types::AccountId;

/// What one feature keeps about a person.
#[async_trait]
pub trait PersonalData: Send + Sync {
    /// The account-owned tables (`db::ownership`) whose rows it exports and erases.
    fn tables(&self) -> &'static [&'static str];

    /// Adds its sections to an account's export (read in one transaction across communes,
    /// every statement filtered by the account).
    async fn export(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &AccountId,
        out: &mut Export,
    ) -> Result<(), sqlx::Error>;

    /// Erases, or anonymises what was published, in the deletion's transaction.
    async fn erase(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &AccountId,
    ) -> Result<(), sqlx::Error>;
}

/// Every feature that keeps something about a person, in the order a deletion erases them.
pub static FEATURES: &[&dyn PersonalData] = &[
    &crate::accounts::store::Personal,
    &crate::feed::store::Personal,
    &crate::notifications::store::Personal,
    &crate::officials::store::Personal,
    &crate::moderation::store::Personal,
    &crate::platform::requests::Personal,
    &crate::candidates::service::Personal,
    &crate::profiles::store::Personal,
    &crate::modules::personal::Personal,
    &crate::messages::store::Personal,
    &crate::feed::engagement::store::Personal,
];

/// An account's export being written: one section per key.
#[derive(Debug, Default)]
pub struct Export(pub Map<String, Value>);

impl Export {
    /// Section `key`: the rows of `sql` (bound to the account) as JSON objects.
    pub async fn rows(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        key: &str,
        sql: &str,
        account: &AccountId,
    ) -> Result<(), sqlx::Error> {
        let rows = rows(conn, sql, account).await?;
        self.0.insert(key.to_owned(), Value::Array(rows));
        Ok(())
    }

    /// Section `key`: the first row of `sql`, else `absent`.
    pub async fn first(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        key: &str,
        sql: &str,
        account: &AccountId,
        absent: Value,
    ) -> Result<(), sqlx::Error> {
        let first = rows(conn, sql, account).await?.into_iter().next();
        self.0.insert(key.to_owned(), first.unwrap_or(absent));
        Ok(())
    }
}

/// Runs each statement, bound to the account (`$1`), in order.
pub async fn erase_with(
    conn: &mut sqlx::AnyConnection,
    account: &AccountId,
    statements: &[&str],
) -> Result<(), sqlx::Error> {
    for sql in statements {
        sqlx::query(sql)
            .bind(&account.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Rows of `sql` (bound to the account) as JSON objects (text, integers and nulls).
async fn rows(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    account: &AccountId,
) -> Result<Vec<Value>, sqlx::Error> {
    let rows = sqlx::query(sql).bind(&account.0).fetch_all(conn).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let mut obj = Map::new();
            for (i, col) in row.columns().iter().enumerate() {
                let v = row
                    .try_get::<Option<String>, _>(i)
                    .map(|v| v.map(Value::String).unwrap_or(Value::Null))
                    .or_else(|_| {
                        row.try_get::<Option<i64>, _>(i)
                            .map(|v| v.map(Value::from).unwrap_or(Value::Null))
                    })
                    .unwrap_or(Value::Null);
                obj.insert(col.name().to_string(), v);
            }
            Value::Object(obj)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::db::ownership::{Owner, TABLES};

    /// Every account-owned table is exported and erased by exactly one feature.
    #[test]
    fn every_account_table_belongs_to_one_feature() {
        for table in TABLES.iter().filter(|t| t.owner == Owner::Account) {
            let claimed = super::FEATURES
                .iter()
                .filter(|f| f.tables().contains(&table.name))
                .count();
            assert_eq!(claimed, 1, "{}: claimed by {claimed} features", table.name);
        }
        for feature in super::FEATURES {
            for name in feature.tables() {
                assert!(
                    TABLES.iter().any(|t| t.name == *name),
                    "{name}: not a table of the schema"
                );
            }
        }
    }
}
