//! Contract 0.2.8, `cache`: what a module keeps in the server's memory for its commune. Driven
//! through the real router and the `hostile` test module's `/cache/…` routes: a value kept by a
//! GET is read back with its age, by that module of that commune only; a call that fails keeps
//! nothing; oversized keys and values are refused with the reason; one lease at a time, ended
//! by the value it was taken for.

use parvis_tests::{Backend, TestApp, both_backends};
use serde_json::Value;

const HOSTILE: &str = "hostile";

async fn call(app: &TestApp, slug: &str, path: &str) -> anyhow::Result<Value> {
    let (status, answer) = app
        .get_json(slug, &format!("/m/{HOSTILE}/cache{path}"))
        .await?;
    assert_eq!(status, 200, "{path}: {answer}");
    Ok(answer)
}

both_backends!(
    a_value_is_kept_for_its_module_and_commune_only,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await?;
        let [paris, lyon] = &app
            .module_in_each("parvis-module-hostile", ["75056", "69123"])
            .await?;

        let kept = call(&app, paris, "/set?key=resultats&value=paris").await?;
        assert_eq!(kept["refused"], Value::Null, "{kept}");
        let found = call(&app, paris, "/get?key=resultats").await?;
        assert_eq!(found["found"]["value"], "paris", "{found}");
        assert!(
            found["found"]["age_ms"]
                .as_u64()
                .is_some_and(|age| age < 10_000)
        );
        // Lyon's shelf is its own: the same key reads nothing, and its value leaves Paris's.
        assert_eq!(
            call(&app, lyon, "/get?key=resultats").await?["found"],
            Value::Null
        );
        call(&app, lyon, "/set?key=resultats&value=lyon").await?;
        assert_eq!(
            call(&app, paris, "/get?key=resultats").await?["found"]["value"],
            "paris"
        );
        assert_eq!(
            call(&app, lyon, "/get?key=resultats").await?["found"]["value"],
            "lyon"
        );

        // A call that fails keeps nothing.
        let (status, _) = app
            .get_json(
                paris,
                &format!("/m/{HOSTILE}/cache/set?key=rate&value=x&fail=1"),
            )
            .await?;
        assert_eq!(status, 500);
        assert_eq!(
            call(&app, paris, "/get?key=rate").await?["found"],
            Value::Null
        );

        // Past its life, a value is gone.
        call(&app, paris, "/set?key=bref&value=x&ttl_ms=1").await?;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(
            call(&app, paris, "/get?key=bref").await?["found"],
            Value::Null
        );
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    oversized_values_are_refused_and_leases_come_one_at_a_time,
    |backend: Backend| async move {
        let app = TestApp::start(backend).await?;
        let [paris] = &app
            .module_in_each("parvis-module-hostile", ["75056"])
            .await?;

        // 1 MiB exactly is kept (as JSON, with its two quotes: 2 letters fewer); one more
        // byte is refused, with the bound, and nothing is kept.
        let mib = 1 << 20;
        let at_bound = call(&app, paris, &format!("/set?key=gros&bytes={}", mib - 2)).await?;
        assert_eq!(at_bound["refused"], Value::Null, "{at_bound}");
        let past = call(&app, paris, &format!("/set?key=trop&bytes={}", mib - 1)).await?;
        assert!(
            past["refused"]
                .as_str()
                .is_some_and(|why| why.contains("au plus 1048576")),
            "{past}"
        );
        assert_eq!(
            call(&app, paris, "/get?key=trop").await?["found"],
            Value::Null
        );
        let long_key = "k".repeat(201);
        let refused = call(&app, paris, &format!("/set?key={long_key}&value=x")).await?;
        assert!(
            refused["refused"]
                .as_str()
                .is_some_and(|why| why.contains("200 octets")),
            "{refused}"
        );

        // At most 16 keys changed in one call: the 17th is refused, the 16 before are kept.
        let many = call(&app, paris, "/set?key=k&value=x&copies=17").await?;
        assert!(
            many["refused"]
                .as_str()
                .is_some_and(|why| why.contains("au plus 16 clés")),
            "{many}"
        );
        assert_eq!(
            call(&app, paris, "/get?key=k-15").await?["found"]["value"],
            "x"
        );
        assert_eq!(
            call(&app, paris, "/get?key=k-16").await?["found"],
            Value::Null
        );

        // One lease at a time: the first call gets it, the next not, until a value is kept.
        let lease = |key: &str| format!("/lease?key={key}&ms=30000");
        assert_eq!(call(&app, paris, &lease("resultats")).await?["lease"], true);
        assert_eq!(
            call(&app, paris, &lease("resultats")).await?["lease"],
            false
        );
        assert_eq!(call(&app, paris, &lease("autre")).await?["lease"], true);
        call(&app, paris, "/set?key=resultats&value=frais").await?;
        assert_eq!(call(&app, paris, &lease("resultats")).await?["lease"], true);
        app.stop().await;
        Ok(())
    }
);
