//! Tenant resolution and isolation: each commune on its own subdomain, the platform on the
//! apex, unknown or malformed hosts get a 404 page, and no tenant sees another's rows.

use parvis_core::authz::Role;
use parvis_core::db::{TenantSql as _, sql};
use parvis_tests::html::attrs;
use parvis_tests::{TestApp, both_backends, form_token};

both_backends!(hosts_resolve_to_their_site, |backend| async move {
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    assert_eq!(paris, "paris");
    let client = app.client()?;

    let apex = client.get(app.url(None, "/")).send().await?;
    assert_eq!(apex.status(), 200);
    let html = apex.text().await?;
    assert!(
        html.contains("Trouver une commune"),
        "apex shows the platform landing"
    );

    let page = client.get(app.url(Some("paris"), "/")).send().await?;
    assert_eq!(page.status(), 200);
    let html = page.text().await?;
    assert!(html.contains("<h1>Paris</h1>"));
    assert!(
        html.contains("2\u{202F}103\u{202F}778 habitants"),
        "population with French grouping"
    );
    assert!(html.contains("Paris (75)"), "département");
    assert!(html.contains("Île-de-France"), "région");

    let unknown = client.get(app.url(Some("atlantis"), "/")).send().await?;
    assert_eq!(unknown.status(), 404);
    let html = unknown.text().await?;
    assert!(html.contains("est servie à l"), "clear French 404: {html}");
    assert!(!html.contains("<h1>Paris</h1>"));

    // The address of a commune that has not opened yet says so and invites its mayor; a
    // name several communes share lists each of them.
    app.registry(&["76351", "05135", "77404"]).await?;
    let havre = client.get(app.url(Some("le-havre"), "/")).send().await?;
    assert_eq!(havre.status(), 404);
    let html = havre.text().await?;
    assert_eq!(
        parvis_tests::html::texts(&html, "h1")?,
        vec!["Le Havre n'est pas encore sur Parvis".to_string()]
    );
    assert!(
        parvis_tests::html::texts(&html, "main p")?
            .iter()
            .any(|p| p.starts_with("La commune du Havre (76) n'a pas encore ouvert son espace")),
        "{html}"
    );
    assert_eq!(
        parvis_tests::html::attrs(&html, "main a.button", "href")?,
        vec![app.url(None, "/inscrire-ma-commune?insee=76351")]
    );
    let colombe = client
        .get(app.url(Some("sainte-colombe"), "/"))
        .send()
        .await?;
    assert_eq!(colombe.status(), 404);
    let links = parvis_tests::html::attrs(&colombe.text().await?, "main a.button", "href")?;
    assert_eq!(links.len(), 2, "{links:?}");

    // Two labels deep, or another domain entirely: never a tenant.
    let deep = client.get(app.url(Some("www.paris"), "/")).send().await?;
    assert_eq!(deep.status(), 404);
    app.stop().await;
    Ok(())
});

both_backends!(malformed_hosts_get_a_404_page, |backend| async move {
    let app = TestApp::start(backend).await?;
    app.commune("75056").await?;
    let client = app.client()?;
    for host in [
        "paris..parvis.test",
        "par is.parvis.test",
        "-paris.parvis.test",
        "paris.parvis.test:abc",
        "%00",
    ] {
        let response = client
            .get(format!("http://127.0.0.1:{}/", app.addr.port()))
            .header("host", host)
            .send()
            .await?;
        assert_eq!(response.status(), 404, "host {host:?}");
        let page = response.text().await?;
        assert!(page.contains("Adresse inconnue"));
        // Its links lead to the platform, not back to the unknown host.
        let links = attrs(&page, "header a, footer a", "href")?;
        assert!(links.contains(&app.url(None, "/connexion")), "{links:?}");
        assert!(
            links.contains(&app.url(None, "/mentions-legales")),
            "{links:?}"
        );
        assert!(
            links
                .iter()
                .all(|href| href.starts_with(&app.url(None, "/"))),
            "{links:?}"
        );
    }
    // healthz answers on any host, even an unknown one.
    for host in ["nowhere.example", "paris.parvis.test", "parvis.test"] {
        let response = client
            .get(format!("http://127.0.0.1:{}/healthz", app.addr.port()))
            .header("host", host)
            .send()
            .await?;
        assert_eq!(response.status(), 200, "healthz on {host}");
    }
    // Without a configured token there is no public /metrics (issue 13, defect 11).
    for host in [None, Some("paris")] {
        let metrics = client.get(app.url(host, "/metrics")).send().await?;
        assert_eq!(metrics.status(), 404, "/metrics on {host:?}");
        assert!(!metrics.text().await?.contains("parvis_http_requests_total"));
    }
    app.stop().await;
    Ok(())
});

const METRICS_TOKEN: &str = "jeton-de-test-des-metriques";

both_backends!(metrics_answer_only_to_the_operator, |backend| async move {
    // Issue 13, defect 11: per-route traffic, module faults and throttling were public.
    let app = TestApp::start_configured(backend, 0, |c| {
        c.metrics_token = Some(METRICS_TOKEN.into());
    })
    .await?;
    app.commune("75056").await?;
    let client = app.client()?;
    client.get(app.url(Some("paris"), "/")).send().await?;
    for host in [None, Some("paris")] {
        let anonymous = client.get(app.url(host, "/metrics")).send().await?;
        assert_eq!(anonymous.status(), 401, "anonymous /metrics on {host:?}");
        assert_eq!(
            anonymous.headers()["www-authenticate"],
            "Bearer realm=\"metrics\""
        );
        assert!(!anonymous.text().await?.contains("parvis_http"));
        let wrong = client
            .get(app.url(host, "/metrics"))
            .bearer_auth("jeton-de-test-des-metriquez")
            .send()
            .await?;
        assert_eq!(wrong.status(), 401);
    }
    let metrics = client
        .get(app.url(None, "/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await?;
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()?
            .starts_with("text/plain")
    );
    let text = metrics.text().await?;
    assert!(text.contains("parvis_http_requests_total"), "{text}");

    // PARVIS_METRICS_BIND: a listener of its own, serving /metrics and nothing else.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let private = listener.local_addr()?;
    tokio::spawn(parvis_core::server::serve(
        listener,
        parvis_core::server::metrics_router(app.state.clone()),
        std::future::pending(),
    ));
    let at = |path: &str| format!("http://{private}{path}");
    assert_eq!(client.get(at("/metrics")).send().await?.status(), 401);
    let scraped = client
        .get(at("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await?;
    assert_eq!(scraped.status(), 200);
    assert!(scraped.text().await?.contains("parvis_http_requests_total"));
    assert_eq!(client.get(at("/")).send().await?.status(), 404);
    app.stop().await;
    Ok(())
});

both_backends!(
    links_come_from_configuration_not_the_host_header,
    |backend| async move {
        // Issue 13, defect 9: one `GET /` with `Host: paris.parvis.test:6666` made every visitor
        // of the next seconds get links to port 6666 (the page is cached).
        let app = TestApp::start(backend).await?;
        app.commune("75056").await?;
        let client = app.client()?;
        let direct = format!("http://127.0.0.1:{}", app.addr.port());
        for host in ["paris.parvis.test:6666", "parvis.test:6666"] {
            let poisoned = client
                .get(format!("{direct}/"))
                .header("host", host)
                .send()
                .await?;
            assert_eq!(poisoned.status(), 200, "{host}");
            let csp = poisoned.headers()["content-security-policy"]
                .to_str()?
                .to_string();
            assert!(!csp.contains("6666"), "{csp}");
            assert!(!poisoned.text().await?.contains(":6666"), "{host}");
        }
        let page = client
            .get(app.url(Some("paris"), "/"))
            .send()
            .await?
            .text()
            .await?;
        assert!(page.contains("<h1>Paris</h1>"));
        assert!(
            !page.contains(":6666"),
            "the next visitor got the attacker's port"
        );
        assert!(
            page.contains(&format!("parvis.test:{}", app.addr.port())),
            "links carry the configured port"
        );

        // E-mailed links too: a reset link asked through another port keeps the configured one.
        app.account("paul@example.org", "mot de passe solide")
            .await?;
        let html = client
            .get(format!("{direct}/mot-de-passe-oublie"))
            .header("host", "paris.parvis.test:6666")
            .send()
            .await?
            .text()
            .await?;
        let token = parvis_tests::csrf(&html).ok_or_else(|| anyhow::anyhow!("no csrf: {html}"))?;
        let r = client
            .post(format!("{direct}/mot-de-passe-oublie"))
            .header("host", "paris.parvis.test:6666")
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "paul@example.org"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let mail = app
            .smtp
            .wait_for("paul@example.org", "Réinitialisez")
            .await?;
        let link = mail
            .link("/reinitialiser?token=")
            .ok_or_else(|| anyhow::anyhow!("no link in {}", mail.text))?;
        assert!(
            link.starts_with(&app.url(Some("paris"), "/reinitialiser")),
            "{link}"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    an_admin_of_one_commune_cannot_touch_another,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        app.commune("75056").await?;
        app.commune("69123").await?;
        let mayor = app
            .account("maire@paris.test", "mot de passe solide")
            .await?;
        app.grant(&mayor, Role::TenantAdmin, Some("paris")).await?;

        let paris = app
            .signed_in(Some("paris"), "maire@paris.test", "mot de passe solide")
            .await?;
        let token = form_token(&paris, &app.url(Some("paris"), "/admin/commune")).await?;
        let saved = paris
            .post(app.url(Some("paris"), "/admin/commune/presentation"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("presentation", "Bienvenue à Paris, ville lumière."),
            ])
            .send()
            .await?;
        assert_eq!(saved.status(), 303);
        let html = app.anonymous_page(app.url(Some("paris"), "/")).await?;
        assert!(html.contains("Bienvenue à Paris, ville lumière."));

        // The same account on Lyon's host: signed in there too, but not Lyon's admin.
        let lyon = app
            .signed_in(Some("lyon"), "maire@paris.test", "mot de passe solide")
            .await?;
        let refused = lyon
            .get(app.url(Some("lyon"), "/admin/commune"))
            .send()
            .await?;
        assert_eq!(refused.status(), 403);
        let token = form_token(&lyon, &app.url(Some("lyon"), "/connexion")).await?;
        let refused = lyon
            .post(app.url(Some("lyon"), "/admin/commune/presentation"))
            .form(&[("csrf_token", token.as_str()), ("presentation", "Piraté")])
            .send()
            .await?;
        assert_eq!(refused.status(), 403);
        let html = app.anonymous_page(app.url(Some("lyon"), "/")).await?;
        assert!(
            !html.contains("Piraté") && !html.contains("ville lumière"),
            "Lyon's page untouched"
        );

        // Paris's link ids are not reachable from Lyon's admin even for a Lyon admin.
        app.grant(&mayor, Role::TenantAdmin, Some("lyon")).await?;
        let token = form_token(&paris, &app.url(Some("paris"), "/admin/commune")).await?;
        let added = paris
            .post(app.url(Some("paris"), "/admin/commune/liens"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("label", "Mairie de Paris"),
                ("url", "https://www.paris.fr/"),
            ])
            .send()
            .await?;
        assert_eq!(added.status(), 303, "{}", added.text().await?);
        let admin_html = paris
            .get(app.url(Some("paris"), "/admin/commune"))
            .send()
            .await?
            .text()
            .await?;
        let id_at = admin_html
            .find("/admin/commune/liens/")
            .map(|i| i + "/admin/commune/liens/".len())
            .ok_or_else(|| anyhow::anyhow!("no link form"))?;
        let link_id: String = admin_html[id_at..]
            .chars()
            .take_while(|c| *c != '/')
            .collect();
        let token = form_token(&lyon, &app.url(Some("lyon"), "/admin/commune")).await?;
        let cross = lyon
            .post(app.url(
                Some("lyon"),
                &format!("/admin/commune/liens/{link_id}/supprimer"),
            ))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(cross.status(), 404, "Lyon cannot delete Paris's link");
        let html = app.anonymous_page(app.url(Some("paris"), "/")).await?;
        assert!(html.contains("Mairie de Paris"));
        app.stop().await;
        Ok(())
    }
);

/// On PostgreSQL, Row-Level Security is a second wall: without the tenant set, a query sees
/// nothing, and with one tenant set it sees only that tenant's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_row_level_security_fails_closed() -> anyhow::Result<()> {
    use sqlx::Row as _;
    let app = TestApp::start(parvis_tests::Backend::Postgres).await?;
    app.commune("75056").await?;
    app.commune("69123").await?;
    let ids: Vec<parvis_core::types::TenantId> = sqlx::query("SELECT id FROM tenants ORDER BY id")
        .fetch_all(app.state.db.platform())
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    for id in &ids {
        let mut tx = app.state.db.tenant(*id).begin().await?;
        parvis_core::communes::store::add_link(&mut tx, "Lien", "https://example.org/").await?;
        tx.commit().await?;
    }
    // Plain pool connection, no tenant set: RLS hides every row, even with no WHERE clause.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM commune_links")
        .fetch_one(app.state.db.platform())
        .await?;
    assert_eq!(n, 0, "no tenant set: nothing visible");
    // Tenant set: a query that "forgets" its filter still sees only that tenant. (A tenant's
    // statements are `scoped`; `platform()` is the escape hatch, taken here on purpose.)
    let mut tx = app.state.db.tenant(ids[0]).begin().await?;
    let n: i64 = sql::query_scalar("SELECT COUNT(*) FROM commune_links")
        .fetch_one(tx.platform())
        .await?;
    assert_eq!(n, 1);
    // Writing another tenant's row is refused by the policy's WITH CHECK.
    let forged = sql::query("INSERT INTO commune_links (tenant_id, id, label, url, position) VALUES ($1, 'x', 'x', 'https://x.org/', 9)")
        .bind(ids[1])
        .execute(tx.platform())
        .await;
    assert!(forged.is_err(), "RLS refuses a row of another tenant");
    drop(tx);
    app.stop().await;
    Ok(())
}
