//! Issue 14, storage wall: a module's storage in a commune is bounded per call (4 Mio and 1,000
//! documents written) and in total (a quota in bytes and documents, 64 Mio and 100,000 by
//! default), counted exactly and transactionally with its writes; the module gets a clear
//! storage error, its commune's admins one notice when it nears the quota, and another commune
//! is not affected. The `assailant` module attacks through the real router on both backends.

use parvis_core::authz::Role;
use parvis_core::modules::host::storage::{MAX_CALL_BYTES, MAX_CALL_DOCUMENTS, SERIAL_CALL_BYTES};
use parvis_core::modules::store::{self, DEFAULT_MAX_BYTES, DEFAULT_MAX_DOCUMENTS, StorageUsage};
use parvis_core::types::{Slug, TenantId};
use parvis_tests::{Backend, TestApp, both_backends, status_and_json};
use serde_json::Value;

const ASSAILANT: &str = "assailant";
const NOTICE: &str = "stockage presque plein";
const ADMIN: &str = "maire@paris.fr";

struct Scene {
    app: TestApp,
    paris: String,
    lyon: String,
    paris_id: TenantId,
    lyon_id: TenantId,
}

async fn tenant(app: &TestApp, slug: &str) -> anyhow::Result<TenantId> {
    Ok(
        parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(slug)?)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no commune {slug}"))?
            .id,
    )
}

/// The assailant switched on in Paris and Lyon, and an admin for Paris.
async fn scene(backend: Backend) -> anyhow::Result<Scene> {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    let lyon = app.commune("69123").await?;
    assert_eq!(
        app.install_module("parvis-module-assailant").await?,
        ASSAILANT
    );
    app.enable_module(&paris, ASSAILANT).await?;
    app.enable_module(&lyon, ASSAILANT).await?;
    let admin = app.account(ADMIN, "mot-de-passe-solide").await?;
    app.grant(&admin, Role::TenantAdmin, Some(&paris)).await?;
    let paris_id = tenant(&app, &paris).await?;
    let lyon_id = tenant(&app, &lyon).await?;
    Ok(Scene {
        app,
        paris,
        lyon,
        paris_id,
        lyon_id,
    })
}

impl Scene {
    /// GETs an assailant route in a commune: its status and JSON answer.
    async fn attack(&self, slug: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        self.app
            .get_json(slug, &format!("/m/assailant{path}"))
            .await
    }

    /// The same attack `n` times at once; each answer's status and JSON.
    async fn attack_at_once(
        &self,
        slug: &str,
        path: &str,
        n: usize,
    ) -> anyhow::Result<Vec<(u16, Value)>> {
        let client = self.app.client()?;
        let url = self.app.url(Some(slug), &format!("/m/assailant{path}"));
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (client, url) = (client.clone(), url.clone());
            calls.spawn(async move { status_and_json(client.get(url).send().await?).await });
        }
        let mut answers = Vec::new();
        while let Some(answer) = calls.join_next().await {
            answers.push(answer??);
        }
        Ok(answers)
    }

    /// The assailant's usage in a commune, checked against a count of its rows.
    async fn usage(&self, tenant: TenantId) -> anyhow::Result<StorageUsage> {
        let mut tx = self.app.state.db.tenant(tenant).begin().await?;
        let usage = store::usage(&mut tx, ASSAILANT).await?;
        let counted = store::recount(&mut tx, ASSAILANT).await?;
        tx.rollback().await?;
        assert_eq!(
            (usage.bytes, usage.documents),
            (counted.bytes, counted.documents),
            "the usage kept differs from the rows stored"
        );
        Ok(usage)
    }

    async fn set_quota(
        &self,
        tenant: TenantId,
        bytes: Option<i64>,
        documents: Option<i64>,
    ) -> anyhow::Result<()> {
        let mut tx = self.app.state.db.tenant(tenant).begin_write().await?;
        store::set_quota(&mut tx, ASSAILANT, bytes, documents).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes every filler document in Paris, a page per call; how many.
    async fn clear(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        loop {
            let (status, v) = self.attack(&self.paris, "/storage/clear").await?;
            anyhow::ensure!(status == 200, "clear: {status} {v}");
            match v["deleted"].as_u64() {
                Some(0) => return Ok(total),
                Some(n) => total += n,
                None => anyhow::bail!("clear: {v}"),
            }
        }
    }

    /// Near-limit notices e-mailed to Paris's admin so far.
    fn notices(&self) -> anyhow::Result<usize> {
        Ok(self
            .app
            .smtp
            .messages()?
            .iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r == ADMIN) && m.subject.contains(NOTICE))
            .count())
    }

    /// Bytes the database holds on disk: the SQLite file and its WAL, or PostgreSQL's module
    /// tables with their TOAST and indexes.
    async fn database_bytes(&self) -> anyhow::Result<u64> {
        match self.app.backend {
            Backend::Sqlite => {
                let path = self
                    .app
                    .db
                    .url
                    .strip_prefix("sqlite://")
                    .ok_or_else(|| anyhow::anyhow!("not an SQLite URL"))?;
                let mut total = 0;
                for file in [path.to_string(), format!("{path}-wal")] {
                    total += std::fs::metadata(&file).map_or(0, |m| m.len());
                }
                Ok(total)
            }
            Backend::Postgres => {
                let n: i64 = sqlx::query_scalar(
                    "SELECT CAST(pg_total_relation_size('module_docs') + pg_total_relation_size('module_index') \
                     + pg_total_relation_size('module_counters') AS BIGINT)",
                )
                .fetch_one(self.app.state.db.platform())
                .await?;
                Ok(u64::try_from(n)?)
            }
        }
    }
}

fn written(v: &Value) -> u64 {
    v["written"].as_u64().unwrap_or(u64::MAX)
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or("")
}

/// Documents of 256 Kio (the largest) the per-call bound lets through: with its key, collection
/// and index entry a document counts a little more than 256 Kio, so 15 fit in 4 Mio, not 16.
const LARGE_PER_CALL: u64 = 15;

both_backends!(
    one_call_is_stopped_at_the_real_per_call_bound,
    |backend| async move {
        let s = scene(backend).await?;
        assert_eq!(MAX_CALL_BYTES, 4 << 20);
        assert_eq!(MAX_CALL_DOCUMENTS, 1_000);
        let fresh = s.usage(s.paris_id).await?;
        assert_eq!(
            (fresh.bytes, fresh.max_bytes, fresh.max_documents),
            (0, DEFAULT_MAX_BYTES, DEFAULT_MAX_DOCUMENTS)
        );

        // Largest documents, as many as it can: stopped past 4 Mio with the storage error. It
        // answers 200 with what it wrote within the bound: that is kept.
        let (status, v) = s.attack(&s.paris, "/storage/fill").await?;
        assert_eq!(status, 200, "{v}");
        assert_eq!(written(&v), LARGE_PER_CALL, "{v}");
        assert_eq!(v["error"], "invalid", "{v}");
        assert_eq!(
            message(&v),
            "volume d'écriture atteint : au plus 4 Mio écrits par requête"
        );
        let after = s.usage(s.paris_id).await?;
        assert_eq!(after.documents, 15);
        assert!(
            after.bytes > 15 * (256 << 10) && after.bytes <= MAX_CALL_BYTES,
            "{after:?}"
        );

        // Small documents: stopped at 1,000.
        let (status, v) = s.attack(&s.paris, "/storage/fill?size=100").await?;
        assert_eq!(status, 200, "{v}");
        assert_eq!(written(&v), 1_000, "{v}");
        assert_eq!(
            message(&v),
            "volume d'écriture atteint : au plus 1000 documents écrits par requête"
        );
        assert_eq!(s.usage(s.paris_id).await?.documents, 1_015);

        // A call that answers an error keeps nothing, its usage included.
        let before = s.usage(s.paris_id).await?;
        let (status, _) = s
            .attack(&s.paris, "/storage/fill?count=10&size=1000&status=500")
            .await?;
        assert_eq!(status, 500);
        assert_eq!(s.usage(s.paris_id).await?, before);

        // The bound is per call: the next call writes again.
        let (_, v) = s.attack(&s.paris, "/storage/fill?count=3").await?;
        assert_eq!(written(&v), 3, "{v}");
        assert_eq!(v["error"], Value::Null, "{v}");
        s.app.stop().await;
        Ok(())
    }
);

both_backends!(
    repeated_calls_hit_the_quota_and_lyon_still_writes,
    |backend| async move {
        let s = scene(backend).await?;
        // 10 Mio instead of 64, so the test writes little; the per-call bound is the real one.
        s.set_quota(s.paris_id, Some(10 << 20), None).await?;
        let before = s.database_bytes().await?;

        let mut total = 0;
        let mut refused = Vec::new();
        for _ in 0..8 {
            let (status, v) = s.attack(&s.paris, "/storage/fill").await?;
            assert_eq!(status, 200, "{v}");
            total += written(&v);
            if message(&v).starts_with("quota") {
                refused.push(written(&v));
                assert_eq!(
                    message(&v),
                    "quota de stockage atteint : 10 Mio pour ce module dans cette commune"
                );
            }
        }
        // 39 documents of 256 Kio fit in 10 Mio, 40 do not; the calls after that write nothing.
        assert_eq!(total, 39);
        assert_eq!(refused.first().copied(), Some(9));
        assert!(refused[1..].iter().all(|&n| n == 0), "{refused:?}");
        let usage = s.usage(s.paris_id).await?;
        assert!(usage.bytes <= 10 << 20, "{usage:?}");
        assert_eq!(usage.documents, 39);

        // The database grew by about the quota (the 434 Mo one call wrote before, the 2 Go of
        // six calls, are gone): under 3 times the quota, WAL included.
        let grown = s.database_bytes().await?.saturating_sub(before);
        eprintln!("{backend:?}: the database grew by {grown} bytes");
        assert!(grown < 30 << 20, "the database grew by {grown} bytes");

        // Lyon's quota is its own: its assailant writes as usual.
        let (status, v) = s.attack(&s.lyon, "/storage/fill?count=4").await?;
        assert_eq!(status, 200, "{v}");
        assert_eq!(written(&v), 4, "{v}");
        assert_eq!(s.usage(s.lyon_id).await?.documents, 4);

        // Paris's admin was told once that the module's storage is nearly full (past 80 %),
        // however many writes came after.
        let mail = s.app.smtp.wait_for(ADMIN, NOTICE).await?;
        assert!(
            mail.text.contains("Module assaillant (tests)"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("sur 10 Mio"), "{}", mail.text);
        s.app.settle_jobs().await?;
        assert_eq!(s.notices()?, 1);
        s.app.stop().await;
        Ok(())
    }
);

both_backends!(
    deleting_gives_space_back_and_overwrites_count_the_difference,
    |backend| async move {
        let s = scene(backend).await?;
        s.set_quota(s.paris_id, Some(4 << 20), Some(1_500)).await?;

        // Full: refused with the quota error.
        let (_, v) = s.attack(&s.paris, "/storage/fill").await?;
        assert_eq!(written(&v), LARGE_PER_CALL, "{v}");
        assert_eq!(
            message(&v),
            "volume d'écriture atteint : au plus 4 Mio écrits par requête"
        );
        let (_, v) = s.attack(&s.paris, "/storage/fill").await?;
        assert_eq!(written(&v), 0, "{v}");
        assert_eq!(
            message(&v),
            "quota de stockage atteint : 4 Mio pour ce module dans cette commune"
        );
        s.app.smtp.wait_for(ADMIN, NOTICE).await?;

        // Deleting everything gives it all back; writing works again.
        assert_eq!(s.clear().await?, 15);
        let empty = s.usage(s.paris_id).await?;
        assert_eq!((empty.bytes, empty.documents), (0, 0));
        let (_, v) = s.attack(&s.paris, "/storage/fill?count=2").await?;
        assert_eq!(written(&v), 2, "{v}");

        // Overwriting counts the difference, both ways.
        let (_, v) = s
            .attack(&s.paris, "/storage/overwrite?key=same&size=1000")
            .await?;
        assert_eq!(written(&v), 1, "{v}");
        let one = s.usage(s.paris_id).await?;
        s.attack(&s.paris, "/storage/overwrite?key=same&size=100000")
            .await?;
        let grown = s.usage(s.paris_id).await?;
        assert_eq!(grown.bytes - one.bytes, 99_000);
        assert_eq!(grown.documents, one.documents);
        s.attack(&s.paris, "/storage/overwrite?key=same&size=10")
            .await?;
        assert_eq!(s.usage(s.paris_id).await?.bytes - one.bytes, -990);

        // The document quota binds too.
        let (_, v) = s.attack(&s.paris, "/storage/fill?size=10").await?;
        assert_eq!(written(&v), 1_000, "{v}");
        let (_, v) = s.attack(&s.paris, "/storage/fill?size=10").await?;
        assert_eq!(written(&v), 1_500 - 1_003, "{v}");
        assert_eq!(
            message(&v),
            "quota de stockage atteint : 1500 documents pour ce module dans cette commune"
        );

        // Counters count toward the bytes: creating them stops at the quota too.
        assert_eq!(s.clear().await?, 1_500);
        s.set_quota(s.paris_id, Some(64 << 10), None).await?;
        let (_, v) = s.attack(&s.paris, "/storage/counters").await?;
        assert!(
            message(&v) == "quota de stockage atteint : 64 Kio pour ce module dans cette commune",
            "{v}"
        );
        assert!(written(&v) > 100 && written(&v) < 300, "{v}");
        let usage = s.usage(s.paris_id).await?;
        assert!(usage.bytes <= 64 << 10, "{usage:?}");

        // One notice per crossing, not per write: bytes, then (after falling back to nothing)
        // documents, then counters' bytes.
        s.app.settle_jobs().await?;
        assert_eq!(s.notices()?, 3);
        s.app.stop().await;
        Ok(())
    }
);

both_backends!(
    the_migration_counts_what_is_already_stored,
    |backend| async move {
        let s = scene(backend).await?;
        s.attack(&s.paris, "/storage/fill?count=5&size=5000")
            .await?;
        s.attack(&s.paris, "/storage/counters?count=7").await?;
        s.attack(&s.lyon, "/storage/fill?count=2&size=300").await?;
        let paris = s.usage(s.paris_id).await?;
        let lyon = s.usage(s.lyon_id).await?;
        assert_eq!(paris.documents, 5);

        // Forget the usage and run the migration's count again over the stored rows.
        let dir = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let sql = std::fs::read_to_string(
            parvis_tests::app::workspace_dir()
                .join("migrations")
                .join(dir)
                .join("0020_module_storage_usage.sql"),
        )?;
        let count = sql
            .split_once("INSERT INTO module_storage_usage")
            .map(|(_, rest)| format!("INSERT INTO module_storage_usage{rest}"))
            .ok_or_else(|| anyhow::anyhow!("no initial count in the migration"))?;
        let mut tx = s.app.state.db.platform_write_tx().await?;
        sqlx::query("DELETE FROM module_storage_usage")
            .execute(&mut *tx)
            .await?;
        sqlx::query(&count).execute(&mut *tx).await?;
        tx.commit().await?;
        assert_eq!(s.usage(s.paris_id).await?, paris);
        assert_eq!(s.usage(s.lyon_id).await?, lyon);
        s.app.stop().await;
        Ok(())
    }
);

both_backends!(
    concurrent_calls_stay_exact_and_near_the_quota,
    |backend| async move {
        let s = scene(backend).await?;
        s.set_quota(s.paris_id, Some(10 << 20), None).await?;

        // Six calls at once fill as fast as they can.
        let mut total = 0;
        for (status, v) in s.attack_at_once(&s.paris, "/storage/fill", 6).await? {
            assert_eq!(status, 200, "{v}");
            total += written(&v);
        }
        let usage = s.usage(s.paris_id).await?;
        assert_eq!(usage.documents, i64::try_from(total)?);
        // SQLite's writing calls run one at a time: the quota holds exactly. On PostgreSQL a
        // call takes its turn once it writes more than 256 Kio (at once, with documents this
        // large) or nears the quota: each may add at most that much beyond it.
        let bound = match backend {
            Backend::Sqlite => 10 << 20,
            Backend::Postgres => (10 << 20) + 5 * SERIAL_CALL_BYTES,
        };
        eprintln!("{backend:?}: six calls at once stored {usage:?}");
        assert!(usage.bytes <= bound, "{usage:?}");
        let (_, v) = s.attack(&s.paris, "/storage/fill").await?;
        assert_eq!(written(&v), 0, "{v}");

        // Sixteen calls create the same counter at once: it is counted once.
        let votes = s
            .attack_at_once(&s.lyon, "/storage/counters?count=1&name=votes", 16)
            .await?;
        for (status, v) in votes {
            assert_eq!(status, 200, "{v}");
        }
        let usage = s.usage(s.lyon_id).await?;
        assert_eq!(usage.bytes, store::counter_size("votes"));
        s.app.stop().await;
        Ok(())
    }
);

/// Writes `key` in the assailant's `notes` in Paris, in a transaction of its own.
async fn write_note(
    s: &Scene,
    key: &str,
    indexes: &[store::Entry],
    unique: &[store::Entry],
    expected: Option<i64>,
) -> anyhow::Result<i64> {
    let module = parvis_core::types::ModuleId::parse(ASSAILANT)?;
    let mut tx = s.app.state.db.tenant(s.paris_id).begin_write().await?;
    let doc = store::write(
        &mut tx,
        &module,
        "notes",
        key,
        "{\"texte\":\"note\"}",
        indexes,
        unique,
        expected.is_none(),
        expected,
        0,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{key}: {e:?}"))?;
    tx.commit().await?;
    Ok(doc.version)
}

/// The keys of the assailant's `notes` in Paris with index entry `statut` = `value`.
async fn notes_with(s: &Scene, value: &str) -> anyhow::Result<Vec<String>> {
    let module = parvis_core::types::ModuleId::parse(ASSAILANT)?;
    let mut tx = s.app.state.db.tenant(s.paris_id).begin().await?;
    let query = store::ListQuery {
        collection: "notes".into(),
        index: Some(("statut".into(), value.into())),
        limit: 100,
        ..store::ListQuery::default()
    };
    let (docs, _) = store::list(&mut tx, &module, &query).await?;
    tx.rollback().await?;
    Ok(docs.into_iter().map(|d| d.key).collect())
}

both_backends!(
    a_rewritten_document_keeps_only_its_new_entries,
    |backend| async move {
        // A write at a checked version skips replacing the entries of a document that had
        // none (a tally, rewritten at each vote): one that had some loses them all.
        let s = scene(backend).await?;
        let entry = |name: &str, value: &str| (name.to_string(), value.to_string());
        write_note(
            &s,
            "k",
            &[entry("statut", "ouvert")],
            &[entry("nom", "a")],
            None,
        )
        .await?;
        let v = write_note(&s, "k", &[entry("statut", "fermé")], &[], Some(1)).await?;
        assert_eq!(v, 2);
        assert!(notes_with(&s, "ouvert").await?.is_empty());
        assert_eq!(notes_with(&s, "fermé").await?, ["k"]);
        // Its unique value went with its old entries: another document may take it.
        write_note(&s, "autre", &[], &[entry("nom", "a")], None).await?;

        // A document with no entries gains some, then loses them, at checked versions.
        write_note(&s, "t", &[], &[], None).await?;
        write_note(&s, "t", &[entry("statut", "ouvert")], &[], Some(1)).await?;
        assert_eq!(notes_with(&s, "ouvert").await?, ["t"]);
        write_note(&s, "t", &[], &[], Some(2)).await?;
        assert!(notes_with(&s, "ouvert").await?.is_empty());

        // The usage kept is the rows' (checked in `usage`).
        assert_eq!(s.usage(s.paris_id).await?.documents, 3);
        s.app.stop().await;
        Ok(())
    }
);
