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
            vec!["Pourquoi je vois ceci ? Vous suivez la commune d'Annecy.".to_string()]
        );
        app.stop().await;
        Ok(())
    }
);

/// Every commune of the registry shipped in `data/`, in sentences: the registry's
/// `typeLiaison` agrees with the name's letters (an article where it says one), the sentences
/// never read « de Le », « à Les », « de A… », and the letters alone (what a name from
/// elsewhere gets) decide as the registry does except for an initial h or y, which only the
/// registry can tell (« d'Hyères », « de Hautot »).
#[test]
fn every_commune_of_the_registry_joins_a_sentence() -> anyhow::Result<()> {
    use parvis_core::communes::names::{at, of};
    let registry = parvis_tenants::data::load(&parvis_tenants::communes::Source::Embedded)?;
    let communes: Vec<_> = registry
        .communes
        .iter()
        .filter(|c| c.kind == "commune-actuelle")
        .collect();
    assert!(communes.len() > 34_000, "{}", communes.len());
    let vowel = |c: char| "AEIOUYÂÀÉÈÊËÎÏÔÖÛÜŒaeiouyâàéèêëîïôöûüœ".contains(c);
    let mut wrong = Vec::new();
    let mut only_the_registry_knows = 0;
    for c in communes {
        let (name, tncc) = (c.nom.as_str(), c.name_kind);
        let first = name.chars().next().unwrap_or(' ');
        let article_agrees = match tncc {
            Some(0) => !vowel(first) || first == 'Y',
            Some(1) => vowel(first) || first == 'H',
            Some(2) => name.starts_with("Le "),
            Some(3) => name.starts_with("La "),
            Some(4) => name.starts_with("Les "),
            Some(5) => name.starts_with("L'") || name.starts_with("L’"),
            Some(6) => name.starts_with("Aux "),
            Some(7) => name.starts_with("Las "),
            Some(8) => name.starts_with("Los "),
            // Collectivities overseas the registry gives no type: the letters decide.
            None => true,
            _ => false,
        };
        let (de, a) = (of(name, tncc), at(name, tncc));
        let reads_wrong = ["de Le ", "de Les ", "de Aux ", "à Le ", "à Les ", "à Aux "]
            .iter()
            .any(|bad| de.starts_with(bad) || a.starts_with(bad))
            || de
                .strip_prefix("de ")
                .and_then(|r| r.chars().next())
                .is_some_and(|f| vowel(f) && f != 'Y');
        if !article_agrees || reads_wrong {
            wrong.push(format!("{} {name} ({tncc:?}): {de}, {a}", c.code));
        }
        if (of(name, None), at(name, None)) != (de, a) {
            if matches!(first, 'H' | 'Y') {
                only_the_registry_knows += 1;
            } else {
                wrong.push(format!(
                    "{} {name} ({tncc:?}): the letters say {}",
                    c.code,
                    of(name, None)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} communes:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Hyères, Haguenau, Yerres…: the registry's h muet and y, where the letters guess wrong.
    assert!(
        (50..2_000).contains(&only_the_registry_knows),
        "{only_the_registry_knows}"
    );
    Ok(())
}
