//! Commune names in French sentences (`core/src/communes/names.rs`, issue 17): the registry's
//! `typeLiaison` is imported with each commune, and pages write « d'Annecy », « du Havre »,
//! never « de Annecy » or « de Le Havre ».

use parvis_core::authz::Role;
use parvis_tests::{TestApp, both_backends, html};

const PASSWORD: &str = "mot de passe solide";

both_backends!(
    commune_names_take_their_elision_and_article,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let annecy = app.commune("74010").await?;
        let havre = app.commune("76351").await?;
        let kinds: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT name, name_kind FROM communes WHERE insee IN ('74010', '76351') ORDER BY insee",
        )
        .fetch_all(&mut *app.state.db.platform_tx().await?)
        .await?;
        assert_eq!(
            kinds,
            vec![
                ("Annecy".to_string(), Some(1)),
                ("Le Havre".to_string(), Some(2))
            ]
        );

        let mayor = app.account("maire@annecy.test", PASSWORD).await?;
        app.grant(&mayor, Role::TenantAdmin, Some(&annecy)).await?;
        app.grant(&mayor, Role::TenantAdmin, Some(&havre)).await?;
        app.account("ines@example.org", PASSWORD).await?;
        let mayor = app
            .signed_in(Some(&annecy), "maire@annecy.test", PASSWORD)
            .await?;
        let ines = app
            .signed_in(Some(&annecy), "ines@example.org", PASSWORD)
            .await?;

        // The pages of a commune's own staff and citizens.
        let text = |page: &str, selector: &str| -> anyhow::Result<String> {
            Ok(html::texts(page, selector)?.join(" "))
        };
        let get = |client: &reqwest::Client, url: String| {
            let request = client.get(url);
            async move { anyhow::Ok(request.send().await?.text().await?) }
        };
        let moderation = get(&mayor, app.url(Some(&annecy), "/admin/moderation")).await?;
        assert_eq!(text(&moderation, "h1")?, "Modération d'Annecy");
        let publish = get(&mayor, app.url(Some(&annecy), "/publier")).await?;
        assert!(
            text(&publish, "main p")?.contains("Les abonnés d'Annecy verront"),
            "{publish}"
        );
        let inbox = get(&ines, app.url(Some(&annecy), "/messages")).await?;
        assert!(
            text(&inbox, "main p")?.contains("la mairie d'Annecy"),
            "{inbox}"
        );
        let mayor_havre = app
            .signed_in(Some(&havre), "maire@annecy.test", PASSWORD)
            .await?;
        let admin = get(&mayor_havre, app.url(Some(&havre), "/admin")).await?;
        assert_eq!(text(&admin, "h1")?, "Administration du Havre");

        // Why a post is in one's feed.
        app.follow_commune(&ines, &annecy).await?;
        app.publish(
            &mayor,
            &annecy,
            "Fermeture du pont des Amours pour travaux.",
        )
        .await?;
        let feed = get(&ines, app.url(Some(&annecy), "/fil")).await?;
        assert_eq!(
            html::texts(&feed, ".post .why")?,
            vec!["Pourquoi je vois ceci ? Vous suivez la commune d'Annecy.".to_string()]
        );
        app.stop().await;
        Ok(())
    }
);
