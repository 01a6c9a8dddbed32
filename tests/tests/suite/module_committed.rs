//! Contract 0.2.9, `storage.get-committed`: a writing call reads what it checks but does not
//! change as last committed, outside its transaction, so on SQLite it takes the commune's one
//! writer later. Driven through the real router and the `hostile` test module's
//! `POST /committed`: the read sees what is committed, and once the call has written, its own
//! transaction; it reaches its own commune's documents only; and on SQLite it answers while
//! the commune's writer is held, where a plain `get` would wait for it.

use std::time::Duration;

use parvis_tests::{Backend, TestApp, both_backends, form_token};
use serde_json::Value;

/// Posts the hostile module's `/committed` form in commune `slug` as an anonymous visitor
/// (`write`: it writes `value` between its two reads); its status and JSON answer.
async fn committed(
    app: &TestApp,
    slug: &str,
    value: &str,
    write: bool,
) -> anyhow::Result<(u16, Value)> {
    let client = app.client()?;
    let token = form_token(&client, &app.url(Some(slug), "/connexion")).await?;
    let r = client
        .post(app.url(Some(slug), "/m/hostile/committed"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("value", value),
            ("write", if write { "1" } else { "0" }),
        ])
        .send()
        .await?;
    let status = r.status().as_u16();
    let body = r.text().await?;
    let answer = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Ok((status, answer))
}

both_backends!(
    a_committed_read_sees_what_is_committed_then_the_calls_own_writes,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await?;
        let [paris, lyon] = &app
            .module_in_each("parvis-module-hostile", ["75056", "69123"])
            .await?;

        // Nothing yet; once the call has written, its second read is in its transaction.
        let (status, first) = committed(&app, paris, "un", true).await?;
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["before"], Value::Null, "{first}");
        assert_eq!(first["after"], "un", "{first}");
        let (_, second) = committed(&app, paris, "deux", true).await?;
        assert_eq!(
            (&second["before"], &second["after"]),
            (&"un".into(), &"deux".into())
        );
        // A call that does not write reads the committed value both times.
        let (_, reading) = committed(&app, paris, "ignoré", false).await?;
        assert_eq!(
            (&reading["before"], &reading["after"]),
            (&"deux".into(), &"deux".into())
        );

        // Lyon's module reads Lyon's documents only.
        let (status, lyon_reads) = committed(&app, lyon, "", false).await?;
        assert_eq!(status, 200, "{lyon_reads}");
        assert_eq!(lyon_reads["before"], Value::Null, "{lyon_reads}");
        assert_eq!(lyon_reads["after"], Value::Null, "{lyon_reads}");
        app.stop().await;
        Ok(())
    }
);

/// On SQLite a writing call's committed reads take no turn at the writer: while the commune's
/// writer is held (here by the test itself, in a write transaction of Paris), a call that only
/// reads that way answers with the value committed before, where a plain `get` would wait for
/// the writer until the host shed the call (`HOST_WAIT`, 5 s; not timed here). A call that
/// writes waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_read_does_not_wait_for_sqlites_writer() -> anyhow::Result<()> {
    let app = TestApp::start(Backend::Sqlite).await?;
    let [paris] = &app
        .module_in_each("parvis-module-hostile", ["75056"])
        .await?;
    let (status, answer) = committed(&app, paris, "avant", true).await?;
    assert_eq!(status, 200, "{answer}");

    let tenant = app.tenant_id(paris).await?;
    let held = app.state.db.tenant(tenant).begin_write().await?;
    let (status, reading) = committed(&app, paris, "", false).await?;
    assert_eq!(status, 200, "{reading}");
    assert_eq!(reading["before"], "avant", "{reading}");
    assert_eq!(reading["after"], "avant", "{reading}");

    let client = app.client()?;
    let token = form_token(&client, &app.url(Some(paris), "/connexion")).await?;
    let writing = tokio::spawn(
        client
            .post(app.url(Some(paris), "/m/hostile/committed"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("value", "après"),
                ("write", "1"),
            ])
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !writing.is_finished(),
        "a writing call went on while the writer was held"
    );
    held.rollback().await?;
    let wrote: Value = writing.await??.json().await?;
    assert_eq!(
        (&wrote["before"], &wrote["after"]),
        (&"avant".into(), &"après".into())
    );
    app.stop().await;
    Ok(())
}
