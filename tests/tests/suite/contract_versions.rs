//! Contract 0.2.1 only adds imports to 0.2.0 (`payments.available`, the `commune` interface):
//! the host runs both. The elder (`modules/elder`, built with `wit-bindgen` against the frozen
//! `wit/v0.2.0/`) installs, answers, stores and reaches payments through 0.2.0's import; the
//! modules the SDK builds now are 0.2.1 components, which ask the host whether payments are
//! open before showing a form, and write the commune's name with the registry's liaison type.

use parvis_tests::app::module_wasm;
use parvis_tests::{TestApp, both_backends, html};

const ELDER: &str = "parvis-module-elder";

/// The `parvis:module` versions a component's imports and exports name.
fn contract_versions(package: &str) -> anyhow::Result<std::collections::BTreeSet<String>> {
    let wasm = std::fs::read(module_wasm(package)?)?;
    let text = String::from_utf8_lossy(&wasm);
    Ok(text
        .match_indices("parvis:module/")
        .filter_map(|(at, _)| {
            let rest = &text[at..];
            let version = rest.split_once('@')?.1;
            let end = version
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(version.len());
            Some(version[..end].trim_end_matches('.').to_string())
        })
        .filter(|v| !v.is_empty())
        .collect())
}

both_backends!(
    a_module_built_for_0_2_0_runs_on_this_host,
    |backend| async move {
        assert_eq!(
            contract_versions(ELDER)?.into_iter().collect::<Vec<_>>(),
            ["0.2.0"],
            "the elder is a 0.2.0 component"
        );
        assert_eq!(
            contract_versions("parvis-module-donations")?
                .into_iter()
                .collect::<Vec<_>>(),
            ["0.2.9"],
            "the SDK builds 0.2.9 components"
        );
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        assert_eq!(app.install_module(ELDER).await?, "elder");
        app.enable_module(&paris, "elder").await?;
        let visitor = app.client()?;
        for visit in ["Visite n° 1 à Paris.", "Visite n° 2 à Paris."] {
            let r = visitor
                .get(app.url(Some(&paris), "/m/elder/"))
                .send()
                .await?;
            assert_eq!(r.status(), 200);
            let page = r.text().await?;
            assert_eq!(
                html::texts(&page, "main p")?.last().map(String::as_str),
                Some(visit),
                "{page}"
            );
        }
        // 0.2.0's payments import is the host's: it answers (here, that payments are not
        // configured), it does not trap.
        let r = visitor
            .get(app.url(Some(&paris), "/m/elder/paiement"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let page = r.text().await?;
        assert!(
            page.contains("Paiement refusé : Le paiement en ligne n&#x27;est pas configuré")
                || page.contains("Paiement refusé : Le paiement en ligne n'est pas configuré"),
            "{page}"
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    modules_write_the_commune_name_with_the_registrys_liaison,
    |backend| async move {
        // « Hyères » starts with an h muet: the letters alone would write « de Hyères »; the
        // host tells the module the registry's liaison type (`commune.name-kind`).
        let app = TestApp::start(backend).await?;
        let hyeres = app.commune("83069").await?;
        assert_eq!(app.install_module("parvis-module-alerts").await?, "alerts");
        app.enable_module(&hyeres, "alerts").await?;
        app.account("ines@example.org", "mot-de-passe-solide")
            .await?;
        let ines = app
            .signed_in(Some(&hyeres), "ines@example.org", "mot-de-passe-solide")
            .await?;
        let r = ines
            .get(app.url(Some(&hyeres), "/m/alerts/sms"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        let page = r.text().await?;
        assert!(
            html::texts(&page, "main p")?.contains(
                &"Recevez les alertes d'Hyères par SMS sur votre téléphone mobile.".to_string()
            ),
            "{page}"
        );
        app.stop().await;
        Ok(())
    }
);
