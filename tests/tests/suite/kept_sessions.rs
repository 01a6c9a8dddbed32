//! Issue 16: a signed-in page asks the database nothing while nothing it shows has changed:
//! what the session statement read is kept in the process and dropped when the database says
//! something changed (`core/src/db/changes.rs`: PostgreSQL's notices of migration 0028, an
//! SQLite file's `data_version`). These checks change what a kept session shows behind the
//! server's back and look for it on the next page.

use parvis_tests::*;

const TOKEN: &str = "jeton-des-metriques-des-sessions";

/// How many session reads the server answered from what it kept, and from the database.
async fn session_reads(app: &TestApp) -> anyhow::Result<(u64, u64)> {
    let text = app
        .client()?
        .get(app.url(None, "/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .text()
        .await?;
    let count = |from: &str| {
        let series = format!("parvis_session_reads_total{{from=\"{from}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(series.as_str()))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((count("kept"), count("database")))
}

/// A server with metrics, Paris, and Alice signed in there.
async fn alice_in_paris(
    backend: Backend,
) -> anyhow::Result<(TestApp, parvis_core::types::AccountId, reqwest::Client)> {
    let app = TestApp::start_configured(backend, 0, |c| {
        c.metrics_token = Some(TOKEN.into());
    })
    .await?;
    app.commune("75056").await?;
    let alice = app.account("alice@paris.test", "motdepasse-alice").await?;
    let client = app
        .signed_in(Some("paris"), "alice@paris.test", "motdepasse-alice")
        .await?;
    Ok((app, alice, client))
}

async fn home(app: &TestApp, client: &reqwest::Client) -> anyhow::Result<String> {
    expect_page(
        client.get(app.url(Some("paris"), "/")).send().await?,
        200,
        "Paris",
    )
    .await
}

both_backends!(
    kept_sessions_follow_every_change_made_anywhere,
    |backend| async move {
        let (app, alice, client) = alice_in_paris(backend).await?;
        home(&app, &client).await?;
        // The same page again comes from what was kept (a background write, such as the digest
        // scheduler's at start, may void it once on SQLite, where any write voids all).
        let (kept_before, _) = session_reads(&app).await?;
        for attempt in 0.. {
            let page = home(&app, &client).await?;
            assert!(page.contains(&display_name("alice@paris.test")), "{page}");
            if session_reads(&app).await?.0 > kept_before {
                break;
            }
            anyhow::ensure!(attempt < 10, "the session was never kept");
        }

        // Another process renames the account: the next page says the new name.
        sqlx::query("UPDATE accounts SET display_name = 'Alice Renommée' WHERE id = $1")
            .bind(&alice.0)
            .execute(app.state.db.platform())
            .await?;
        app.state.db.sync_changes().await;
        let page = home(&app, &client).await?;
        assert!(page.contains("Alice Renommée"), "{page}");

        // A notice for her, written by another process: counted at once.
        sqlx::query(
            "INSERT INTO notifications (account_id, id, tenant_id, title, link, created_at) \
             SELECT $1, 'n-1', id, 'Un avis', '/', 0 FROM tenants WHERE slug = 'paris'",
        )
        .bind(&alice.0)
        .execute(app.state.db.platform())
        .await?;
        app.state.db.sync_changes().await;
        let page = home(&app, &client).await?;
        assert!(
            page.contains("Notifications <span class=\"badge\">1<"),
            "{page}"
        );

        // Her own follow, through the page: the answer waits until it is told, so the next
        // page knows she follows.
        assert!(page.contains("Suivre Paris"), "{page}");
        app.follow_commune(&client, "paris").await?;
        let page = home(&app, &client).await?;
        assert!(page.contains("Ne plus suivre Paris"), "{page}");

        // Her sessions ended elsewhere (a password reset in another process): signed out.
        sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(&alice.0)
            .execute(app.state.db.platform())
            .await?;
        app.state.db.sync_changes().await;
        let page = home(&app, &client).await?;
        assert!(page.contains("Se connecter"), "{page}");
        assert!(!page.contains("Alice Renommée"), "{page}");
        app.stop().await;
        Ok(())
    }
);

/// The pid of the connection listening to the change notices, once there is one.
async fn listener_pid(app: &TestApp, not: Option<i32>) -> anyhow::Result<i32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %parvis_changed%'",
        )
        .fetch_all(app.state.db.platform())
        .await?;
        if let Some(pid) = pids.into_iter().find(|p| Some(*p) != not) {
            return Ok(pid);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no listener of the change notices"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_is_replaced_and_nothing_stale_is_shown_meanwhile() -> anyhow::Result<()> {
    let (app, alice, client) = alice_in_paris(Backend::Postgres).await?;
    home(&app, &client).await?;
    let first = listener_pid(&app, None).await?;

    // The listener's connection dies (a restart of PostgreSQL, a network cut).
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(app.state.db.platform())
        .await?;
    assert!(killed);
    // Changed while no one may be listening: its notice can be lost.
    sqlx::query("UPDATE accounts SET display_name = 'Alice Renommée' WHERE id = $1")
        .bind(&alice.0)
        .execute(app.state.db.platform())
        .await?;
    listener_pid(&app, Some(first)).await?;
    let page = home(&app, &client).await?;
    assert!(page.contains("Alice Renommée"), "{page}");

    // Listening again, sessions are kept again (from the first page read once it listens).
    let (kept_before, _) = session_reads(&app).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while session_reads(&app).await?.0 == kept_before {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "sessions never kept again after the listener came back"
        );
        home(&app, &client).await?;
    }
    app.stop().await;
    Ok(())
}
