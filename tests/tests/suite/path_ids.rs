//! Ids taken from the path end up in `Location` headers and links: a percent-encoded CR/LF
//! (or any control character) in one is refused with a 400 for every route, where it used to
//! reach `Redirect::to` and panic the request's task.

use parvis_tests::{TestApp, both_backends, form_token};

both_backends!(
    a_control_character_in_a_path_id_is_a_400_not_a_panic,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        app.account("alice@example.org", "mot-de-passe-solide")
            .await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", "mot-de-passe-solide")
            .await?;
        let token = form_token(&alice, &app.url(Some(&paris), "/mon-compte")).await?;

        // Unfollowing needs no visible profile: the id went straight into the redirect.
        let r = alice
            .post(app.url(Some(&paris), "/citoyens/x%0D%0ASet-Cookie:%20a=b/suivre"))
            .form(&[("csrf_token", token.as_str()), ("action", "ne-plus-suivre")])
            .send()
            .await?;
        assert_eq!(r.status(), 400);
        assert!(
            r.headers()
                .get("set-cookie")
                .is_none_or(|c| !c.to_str().unwrap_or_default().starts_with("a=b"))
        );
        let page = r.text().await?;
        assert!(page.contains("caractères invalides"), "{page}");
        assert!(page.contains("<html lang=\"fr\">"), "{page}");

        for path in [
            "/publications/%0d%0a",
            "/messages/%00",
            "/m/polls/%0A/vote",
            "/citoyens/%7F",
        ] {
            let r = alice.get(app.url(Some(&paris), path)).send().await?;
            assert_eq!(r.status(), 400, "{path}");
        }
        // Ordinary encoded ids still reach their page.
        let r = alice
            .get(app.url(Some(&paris), "/citoyens/%C3%A9t%C3%A9"))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        app.stop().await;
        Ok(())
    }
);
