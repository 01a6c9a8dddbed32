//! A request dropped while its transaction begins (its client went away: a load tool stopping,
//! a phone losing its signal) must leave no pooled connection inside a transaction. sqlx's
//! `begin` is not cancel-safe: on SQLite such a connection kept the write lock of its
//! `BEGIN IMMEDIATE` for good, and every writer of the platform then waited for it
//! (« database is locked »). `bench/load.sh` found it; `db::begin_pooled` is the fix.

use std::time::Duration;

use anyhow::Context as _;
use parvis_core::db::TenantSql as _;
use parvis_core::types::TenantId;
use parvis_tests::{TestApp, both_backends};

both_backends!(
    a_write_cancelled_while_it_begins_blocks_no_one,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let slug = app.commune("75056").await?;
        let paris: TenantId = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
            .bind(&slug)
            .fetch_one(app.state.db.platform())
            .await?;
        let db = app.state.db.tenant(paris);

        // Writers given up after 0 to 400 µs, many of them inside their BEGIN's round trip, and
        // readers likewise: 400 rounds, and more while none was cut (under a full test run's
        // load the timer may fire only after every begin of the first rounds ended).
        let mut cancelled = 0;
        let mut round = 0u64;
        while round < 400 || (cancelled == 0 && round < 4_000) {
            let wait = Duration::from_micros(round % 400);
            round += 1;
            if tokio::time::timeout(wait, db.begin_write()).await.is_err() {
                cancelled += 1;
            }
            let _ = tokio::time::timeout(wait, db.begin()).await;
        }
        anyhow::ensure!(
            cancelled > 0,
            "no begin was cancelled: the test proved nothing"
        );

        // Then more writers than the pool has connections, one after another, each on whatever
        // connection the pool hands out: every one commits, promptly.
        for i in 0..24 {
            let write = async {
                let mut tx = db.begin_write().await?;
                tx.scoped(
                "INSERT INTO commune_links (tenant_id, id, label, url, position) VALUES ($1, $2, $2, 'https://example.org/', 0)",
            )
            .bind(format!("lien-{i}"))
            .execute(&mut tx)
            .await?;
                tx.commit().await?;
                anyhow::Ok(())
            };
            tokio::time::timeout(Duration::from_secs(15), write)
                .await
                .with_context(|| {
                    format!(
                        "write {i} still waiting after 15 s ({cancelled} begins cancelled before)"
                    )
                })?
                .with_context(|| {
                    format!("write {i} failed ({cancelled} begins cancelled before)")
                })?;
        }
        let mut tx = db.read().await?;
        let links: i64 = tx
            .scoped_scalar("SELECT COUNT(*) FROM commune_links WHERE tenant_id = $1")
            .fetch_one(&mut tx)
            .await?;
        tx.commit().await?;
        anyhow::ensure!(links == 24, "{links} links written, not 24");
        app.stop().await;
        Ok(())
    }
);
