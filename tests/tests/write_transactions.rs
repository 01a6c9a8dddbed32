//! Tenants' write transactions. On SQLite they run on the direct writer and are committed in
//! groups (core/src/db/direct.rs): whatever the grouping, each transaction keeps its own
//! outcome, a commit that returned is visible to every reader, and a writer that goes away
//! while waiting for its turn leaves no one hanging.

use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use parvis_core::db::Db;
use parvis_core::types::TenantId;
use parvis_tests::{TestApp, both_backends};

async fn tenant_of(db: &Db, slug: &str) -> Result<TenantId> {
    let id: i64 = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_one(db.pool())
        .await?;
    Ok(TenantId(id))
}

async fn insert_link(tx: &mut parvis_core::db::TenantTx, id: &str) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant_id();
    sqlx::query(
        "INSERT INTO commune_links (tenant_id, id, label, url, position) VALUES ($1, $2, $2, 'https://example.org/', 0)",
    )
    .bind(tenant)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn links(db: &Db, tenant: TenantId) -> Result<Vec<String>> {
    let mut tx = db.tenant(tenant).begin().await?;
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM commune_links WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.0)
            .fetch_all(tx.conn())
            .await?;
    tx.commit().await?;
    Ok(ids)
}

both_backends!(
    concurrent_writers_keep_their_own_outcome,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = tenant_of(&app.state.db, &app.commune("75056").await?).await?;
        let lyon = tenant_of(&app.state.db, &app.commune("69123").await?).await?;

        // 120 writers at once, over two communes: a third commit, a third give up, a third hit
        // a constraint (their own first row stays theirs to lose) and give up.
        let mut writers = Vec::new();
        for i in 0..120 {
            let db = app.state.db.clone();
            let tenant = if i % 2 == 0 { paris } else { lyon };
            writers.push(tokio::spawn(async move {
                let id = format!("lien-{i:03}");
                let mut tx = db.tenant(tenant).begin_write().await?;
                insert_link(&mut tx, &id).await?;
                match i % 3 {
                    0 => {
                        tx.commit().await?;
                        // A commit that returned is visible to readers elsewhere.
                        let seen = links(&db, tenant).await?;
                        ensure!(seen.contains(&id), "{id} committed but not seen");
                    }
                    1 => drop(tx),
                    _ => {
                        let again = insert_link(&mut tx, &id).await;
                        ensure!(again.is_err(), "the duplicate {id} was accepted");
                        drop(tx);
                    }
                }
                anyhow::Ok(())
            }));
        }
        for w in writers {
            w.await??;
        }
        let expect = |parity: usize| -> Vec<String> {
            (0..120)
                .filter(|i| i % 3 == 0 && i % 2 == parity)
                .map(|i| format!("lien-{i:03}"))
                .collect()
        };
        assert_eq!(links(&app.state.db, paris).await?, expect(0));
        assert_eq!(links(&app.state.db, lyon).await?, expect(1));
        Ok(())
    }
);

both_backends!(a_writer_leaving_hangs_no_one, |backend| async move {
    let app = TestApp::start(backend).await?;
    let paris = tenant_of(&app.state.db, &app.commune("75056").await?).await?;
    let db = app.state.db.clone();

    // 1. A holds the writer and B waits for it. A commits: on SQLite it sees B waiting and
    // hands its open group over instead of committing. B then goes away without ever
    // running (a cancelled request): nobody is left to commit A's group but A itself.
    let mut a = db.tenant(paris).begin_write().await?;
    insert_link(&mut a, "lien-a").await?;
    let paris_db = db.tenant(paris);
    let mut b = Box::pin(paris_db.begin_write());
    let _ = poll_once(&mut b).await;
    let mut commit_a = Box::pin(a.commit());
    let first = poll_once(&mut commit_a).await;
    drop(b);
    let committed = match first {
        // PostgreSQL has no writer to wait for: the commit may end at once.
        Poll::Ready(committed) => committed,
        Poll::Pending => tokio::time::timeout(Duration::from_secs(5), commit_a)
            .await
            .context("A's commit hangs after B left the queue")?,
    };
    committed?;

    // 2. C holds the writer when its task is cancelled: its work goes, the writer is free.
    let queued = db.clone();
    let c = tokio::spawn(async move {
        let mut tx = queued.tenant(paris).begin_write().await?;
        insert_link(&mut tx, "lien-c").await?;
        tokio::time::sleep(Duration::from_secs(60)).await;
        tx.commit().await?;
        anyhow::Ok(())
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.abort();
    let mut d = tokio::time::timeout(Duration::from_secs(5), paris_db.begin_write())
        .await
        .context("the writer stays taken after C was cancelled")??;
    insert_link(&mut d, "lien-d").await?;
    d.commit().await?;
    assert_eq!(links(&db, paris).await?, ["lien-a", "lien-d"]);
    Ok(())
});

/// Polls a future once (to put it in a queue without letting it go further).
async fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
}
