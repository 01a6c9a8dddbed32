//! A casbin adapter over the Parvis database (`casbin_rules`), on SQLite and PostgreSQL alike.
//! (`sqlx-adapter` serves one backend per build, so the project keeps its own.)

use async_trait::async_trait;
use casbin::error::AdapterError;
use casbin::{Adapter, Filter, Model};

use crate::db::{Db, sql};

/// The adapter; rules are written through immediately (auto-save).
pub struct DbAdapter {
    db: Db,
    filtered: bool,
}

impl DbAdapter {
    /// An adapter on `db`.
    pub fn new(db: Db) -> DbAdapter {
        DbAdapter {
            db,
            filtered: false,
        }
    }
}

fn err(e: sqlx::Error) -> casbin::Error {
    casbin::Error::AdapterError(AdapterError(Box::new(e)))
}

/// A cheap fingerprint of the rules table, to notice changes made by another process.
pub async fn rules_version(db: &Db) -> Result<i64, sqlx::Error> {
    let (n, m): (i64, i64) =
        sql::query_as("SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS m FROM casbin_rules")
            .fetch_one(db.platform())
            .await?;
    Ok(n * 1_000_000_007 + m)
}

/// Pads a rule to the six value columns.
fn values(rule: &[String]) -> [String; 6] {
    std::array::from_fn(|i| rule.get(i).cloned().unwrap_or_default())
}

/// Binds a rule's type and six values, in column order, to `statement` ($1 = ptype, $2… = v0…v5).
fn rule_query<'q>(statement: &'q str, ptype: &str, rule: &[String]) -> sql::Query<'q, sql::Row> {
    values(rule)
        .into_iter()
        .fold(sql::query(statement).bind(ptype), |q, v| q.bind(v))
}

async fn insert(
    on: &mut (impl sql::Sql + ?Sized),
    ptype: &str,
    rule: &[String],
) -> Result<bool, sqlx::Error> {
    let sql = "INSERT INTO casbin_rules (ptype, v0, v1, v2, v3, v4, v5) VALUES ($1, $2, $3, $4, $5, $6, $7) \
               ON CONFLICT DO NOTHING";
    Ok(rule_query(sql, ptype, rule)
        .execute(&mut *on)
        .await?
        .rows_affected()
        > 0)
}

async fn delete(
    on: &mut (impl sql::Sql + ?Sized),
    ptype: &str,
    rule: &[String],
) -> Result<bool, sqlx::Error> {
    let sql = "DELETE FROM casbin_rules WHERE ptype = $1 AND v0 = $2 AND v1 = $3 AND v2 = $4 \
               AND v3 = $5 AND v4 = $6 AND v5 = $7";
    Ok(rule_query(sql, ptype, rule)
        .execute(&mut *on)
        .await?
        .rows_affected()
        > 0)
}

fn load_line(m: &mut dyn Model, ptype: &str, mut rule: Vec<String>) {
    let sec = if ptype.starts_with('g') { "g" } else { "p" };
    if let Some(assertions) = m.get_mut_model().get_mut(sec)
        && let Some(assertion) = assertions.get_mut(ptype)
    {
        // Stored rules are padded to six values; casbin wants exactly its definition's.
        if sec == "p" && !assertion.tokens.is_empty() {
            rule.truncate(assertion.tokens.len());
        } else {
            while rule.last().is_some_and(String::is_empty) {
                rule.pop();
            }
        }
        assertion.get_mut_policy().insert(rule);
    }
}

/// A stored rule: its type and its values, padded to six with ''.
#[derive(sql::Row)]
struct StoredRule {
    ptype: String,
    v0: String,
    v1: String,
    v2: String,
    v3: String,
    v4: String,
    v5: String,
}

async fn load_rows(db: &Db) -> Result<Vec<(String, Vec<String>)>, sqlx::Error> {
    let rules: Vec<StoredRule> =
        sql::query_as("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rules ORDER BY id")
            .fetch_all(db.platform())
            .await?;
    Ok(rules
        .into_iter()
        .map(|r| (r.ptype, vec![r.v0, r.v1, r.v2, r.v3, r.v4, r.v5]))
        .collect())
}

#[async_trait]
impl Adapter for DbAdapter {
    async fn load_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        self.filtered = false;
        for (ptype, rule) in load_rows(&self.db).await.map_err(err)? {
            load_line(m, &ptype, rule);
        }
        Ok(())
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        m: &mut dyn Model,
        f: Filter<'a>,
    ) -> casbin::Result<()> {
        for (ptype, rule) in load_rows(&self.db).await.map_err(err)? {
            let filter = if ptype.starts_with('g') { &f.g } else { &f.p };
            let keep = filter
                .iter()
                .enumerate()
                .all(|(i, want)| want.is_empty() || rule.get(i).is_some_and(|v| v == want));
            if keep {
                load_line(m, &ptype, rule);
            } else {
                self.filtered = true;
            }
        }
        Ok(())
    }

    async fn save_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        let mut tx = self.db.begin_immediate().await.map_err(err)?;
        sql::query("DELETE FROM casbin_rules")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        for sec in ["p", "g"] {
            if let Some(assertions) = m.get_model().get(sec) {
                for (ptype, assertion) in assertions {
                    for rule in assertion.get_policy() {
                        insert(&mut tx, ptype, rule).await.map_err(err)?;
                    }
                }
            }
        }
        tx.commit().await.map_err(err)
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        sql::query("DELETE FROM casbin_rules")
            .execute(self.db.platform())
            .await
            .map_err(err)?;
        Ok(())
    }

    fn is_filtered(&self) -> bool {
        self.filtered
    }

    async fn add_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        let mut conn = self.db.platform().acquire().await.map_err(err)?;
        insert(&mut *conn, ptype, &rule).await.map_err(err)
    }

    async fn add_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let mut tx = self.db.begin_immediate().await.map_err(err)?;
        for rule in &rules {
            insert(&mut tx, ptype, rule).await.map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    async fn remove_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        let mut conn = self.db.platform().acquire().await.map_err(err)?;
        delete(&mut *conn, ptype, &rule).await.map_err(err)
    }

    async fn remove_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let mut tx = self.db.begin_immediate().await.map_err(err)?;
        for rule in &rules {
            delete(&mut tx, ptype, rule).await.map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        // Columns v<field_index>… must equal the given values (empty = any).
        let mut sql = String::from("DELETE FROM casbin_rules WHERE ptype = $1");
        let mut binds = vec![ptype.to_string()];
        for (offset, value) in field_values.iter().enumerate() {
            let column = field_index + offset;
            if column > 5 {
                break;
            }
            if !value.is_empty() {
                binds.push(value.clone());
                sql.push_str(&format!(" AND v{column} = ${}", binds.len()));
            }
        }
        let mut query = sql::query(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        let done = query.execute(self.db.platform()).await.map_err(err)?;
        Ok(done.rows_affected() > 0)
    }
}
