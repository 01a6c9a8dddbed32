//! The donations module (premium) through the real host: it needs an entitlement, staff run
//! campaigns, a gift that cannot be paid records nothing, and a payment confirmed by billing
//! is counted once, thanked by e-mail and listed only with the donor's consent.

use parvis_core::authz::Role;
use parvis_core::db::TenantSql as _;
use parvis_core::modules::bindings::parvis::module::types::{Event, Payment};
use parvis_core::modules::{call, service};
use parvis_core::types::{ModuleId, Slug};
use parvis_tests::{TestApp, both_backends, form_token};

both_backends!(
    a_campaign_collects_gifts_confirmed_by_billing,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let tenant = parvis_tenants::provision::find_by_slug(&app.state.db, &Slug::parse(&paris)?)
            .await?
            .ok_or_else(|| anyhow::anyhow!("paris"))?;
        assert_eq!(
            app.install_module("parvis-module-donations").await?,
            "donations"
        );

        // Premium: no entitlement, no activation.
        let refused = service::enable(
            &app.state.modules,
            &app.state.db.tenant(tenant.id),
            "donations",
            None,
        )
        .await;
        assert!(
            matches!(refused, Err(service::ModuleError::NotEntitled(_))),
            "{refused:?}"
        );
        parvis_tests::donations::turn_on(&app, &paris).await?;
        let home = app.anonymous_page(app.url(Some(&paris), "/")).await?;
        assert!(
            home.contains("/m/donations/\">Appels au don</a>"),
            "the commune page lists its services: {home}"
        );

        let maire = app.account("maire@paris.fr", "mot-de-passe-solide").await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.fr", "mot-de-passe-solide")
            .await?;
        let form = app.url(Some(&paris), "/admin/m/donations/nouvelle");
        let token = form_token(&admin, &form).await?;
        let r = admin
            .post(&form)
            .form(&[
                ("csrf_token", token.as_str()),
                ("titre", ""),
                ("description", "Pour la toiture"),
                ("objectif", "beaucoup"),
                ("echeance", "2020-01-01"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 422);
        let page = r.text().await?;
        assert!(page.contains("Le titre est obligatoire"), "{page}");
        assert!(page.contains("objectif doit être un montant"), "{page}");
        let id = parvis_tests::donations::open_campaign(
            &app,
            &admin,
            &paris,
            "Restaurer l'orgue de Saint-Eustache",
        )
        .await?;

        // A citizen tries to give: payment is not configured yet, so nothing is recorded.
        app.account("claire@example.org", "mot-de-passe-solide")
            .await?;
        let claire = app
            .signed_in(Some(&paris), "claire@example.org", "mot-de-passe-solide")
            .await?;
        let campaign_url = app.url(Some(&paris), &format!("/m/donations/{id}"));
        let page = claire.get(&campaign_url).send().await?.text().await?;
        assert!(page.contains("<progress"), "{page}");
        assert!(page.contains("<strong>0 €</strong> collectés"), "{page}");
        // She is told before filling anything in (issue 17: the form led to a dead end).
        assert!(
            !parvis_tests::html::attrs(&page, "form", "action")?
                .iter()
                .any(|a| a.ends_with("/donner")),
            "no gift form while payments are closed: {page}"
        );
        let notices = parvis_tests::html::texts(&page, "main .notice")?;
        assert!(
            notices.iter().any(|n| n.starts_with(
                "Le paiement en ligne n'est pas configuré sur cette plateforme. Pour donner"
            )),
            "{notices:?}"
        );
        let admin_list = admin
            .get(app.url(Some(&paris), "/admin/m/donations/"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            parvis_tests::html::texts(&admin_list, "main .notice.error")?
                .iter()
                .any(|n| n.starts_with("Les habitants ne peuvent pas encore donner en ligne.")),
            "{admin_list}"
        );
        // A post made anyway (an old tab) is refused, and records nothing.
        let token = form_token(&claire, &campaign_url).await?;
        let r = claire
            .post(format!("{campaign_url}/donner"))
            .form(&[("csrf_token", token.as_str()), ("montant", "0,5")])
            .send()
            .await?;
        assert_eq!(r.status(), 422);
        let r = claire
            .post(format!("{campaign_url}/donner"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("montant", "20"),
                ("afficher", "on"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 503);
        assert!(r.text().await?.contains("pas configuré"));
        let mut tx = app.state.db.tenant(tenant.id).begin().await?;
        let pledges: i64 = tx
            .scoped_scalar(
                "SELECT COUNT(*) FROM module_docs WHERE tenant_id = $1 AND collection = 'pledges'",
            )
            .fetch_one(&mut tx)
            .await?;
        tx.commit().await?;
        assert_eq!(
            pledges, 0,
            "a gift that cannot be paid must leave nothing behind"
        );

        // What a completed checkout leaves: a pledge, then billing's confirmation.
        let claire_id: String =
            sqlx::query_scalar("SELECT id FROM accounts WHERE email = 'claire@example.org'")
                .fetch_one(app.state.db.platform())
                .await?;
        let pledge = serde_json::json!({
            "campaign": id, "account": claire_id, "name": "Claire", "amount_cents": 2000,
            "show_name": true, "paid": false
        });
        let mut tx = app.state.db.tenant(tenant.id).begin().await?;
        parvis_core::modules::store::write(
            &mut tx,
            &ModuleId::parse("donations")?,
            "pledges",
            "pledge-1",
            &pledge.to_string(),
            &[("campaign".into(), id.clone())],
            &[],
            true,
            None,
            0,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        tx.commit().await?;
        let module = app
            .state
            .modules
            .get("donations")
            .ok_or_else(|| anyhow::anyhow!("donations not loaded"))?;
        // What Claire's pledge form records when she posts it (the pledge above is written
        // directly): she acted in the module, so it may thank her.
        parvis_core::modules::quota::note_contact(
            &app.state.db.tenant(tenant.id),
            "donations",
            &claire_id,
        )
        .await;
        let paid = Event::PaymentSucceeded(Payment {
            reference: "pledge-1".into(),
            amount_cents: 2000,
            currency: "eur".into(),
            account: Some(claire_id.clone()),
        });
        for _ in 0..2 {
            let outcome = call::event(
                &app.state.modules,
                &module,
                tenant.id,
                app.url(Some(&paris), ""),
                &paid,
            )
            .await?;
            assert_eq!(outcome, Ok(()));
        }
        let page = claire.get(&campaign_url).send().await?.text().await?;
        assert!(
            page.contains("<strong>20 €</strong> collectés"),
            "counted once: {page}"
        );
        assert!(page.contains("1 don."), "{page}");
        assert!(page.contains("<li>Claire</li>"), "{page}");
        // Billing's confirmation came twice: Claire is thanked once, when every job the two
        // events caused has run.
        app.settle_jobs().await?;
        let thanks: Vec<_> = app
            .smtp
            .messages()?
            .into_iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r == "claire@example.org"))
            .filter(|m| m.subject.contains("Merci pour votre don"))
            .collect();
        assert_eq!(thanks.len(), 1, "{thanks:?}");
        assert!(thanks[0].text.contains("20 €"), "{}", thanks[0].text);

        // Another commune does not see Paris's campaigns.
        let lyon = app.commune("69123").await?;
        parvis_tests::donations::turn_on(&app, &lyon).await?;
        let r = claire
            .get(app.url(Some(&lyon), &format!("/m/donations/{id}")))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    one_donor_cannot_open_checkouts_without_limit,
    |backend| async move {
        let (app, stripe, paris, tenant, admin) =
            parvis_tests::donations::paris_collects(backend).await?;
        let mut tx = app.state.db.tenant(tenant).begin_write().await?;
        parvis_billing::store::set_connected_account(&mut tx, "acct_paris_mairie").await?;
        tx.commit().await?;
        let id = parvis_tests::donations::open_campaign(&app, &admin, &paris, "Restaurer l'orgue")
            .await?;

        app.account("claire@example.org", "mot-de-passe-solide")
            .await?;
        let claire = app
            .signed_in(Some(&paris), "claire@example.org", "mot-de-passe-solide")
            .await?;
        let campaign = app.url(Some(&paris), &format!("/m/donations/{id}"));
        let token = form_token(&claire, &campaign).await?;
        let mut statuses = Vec::new();
        for _ in 0..8 {
            let r = claire
                .post(format!("{campaign}/donner"))
                .form(&[("csrf_token", token.as_str()), ("montant", "10")])
                .send()
                .await?;
            statuses.push(r.status().as_u16());
            if r.status() == 429 {
                let page = r.text().await?;
                assert!(page.contains("Trop de dons commencés"), "{page}");
            }
        }
        assert_eq!(statuses, [303, 303, 303, 303, 303, 429, 429, 429]);
        let sessions = stripe
            .requests()?
            .iter()
            .filter(|(method, path, _)| method == "POST" && path == "/v1/checkout/sessions")
            .count();
        assert_eq!(
            sessions, 5,
            "one checkout session per accepted gift, no more"
        );
        let mut tx = app.state.db.tenant(tenant).begin().await?;
        let pledges: i64 = tx
            .scoped_scalar(
                "SELECT COUNT(*) FROM module_docs WHERE tenant_id = $1 AND collection = 'pledges'",
            )
            .fetch_one(&mut tx)
            .await?;
        tx.commit().await?;
        assert_eq!(pledges, 5, "a refused gift leaves no pledge");
        app.stop().await;
        Ok(())
    }
);
