//! Fuzz targets for the parsers that take outside input: the Host header and site resolution,
//! the communes registry and RNE files, form and query decoding into a module request, the
//! module response's redirect target, markdown, image and PDF checks, and Stripe event
//! envelopes.
//!
//! They run under `cargo test`/`cargo nextest` on stable Rust, in the same build as every
//! other test (nothing is rebuilt with sanitizer flags, which cargo-fuzz would need on a
//! nightly toolchain): each target replays its corpus (`tests/fuzz/<target>/`: seeds, and every
//! input that once failed, kept as a regression case), then runs random inputs for
//! `PARVIS_FUZZ_SECONDS` seconds (default 2, what CI runs; `PARVIS_FUZZ_SEED` replays a run).
//! Random bytes alone rarely get past a PNG or PDF header, so most inputs are mutation
//! instructions applied to a seed (bit flips, byte changes, insertions, cuts, splices from
//! another seed, long repeats). `bolero` was the first choice, but its derive crate pins an
//! `indexmap` older than wasmtime's, and the workspace cannot hold both.
//!
//! Each target asserts what must hold of any input (no panic, bounds respected, nothing unsafe
//! in the output), not just that the parser returns.

use std::borrow::Cow;
use std::panic::RefUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use parvis_billing::webhook::{self, EnvelopeError};
use parvis_core::db::Db;
use parvis_core::feed::markdown;
use parvis_core::media::{image as media_image, pdf};
use parvis_core::modules::input;
use parvis_core::web::site::{Site, SiteResolver, request_host};

/// Longest input a mutation may grow to (the long repeats test the form bounds past 128 KiB).
const MAX_INPUT: usize = 600 << 10;

/// Seconds of random inputs per target.
fn fuzz_time() -> Duration {
    let secs = std::env::var("PARVIS_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(2);
    Duration::from_secs(secs)
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(target)
}

/// The files of `tests/fuzz/<target>/`, sorted by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(corpus_dir(target)) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            std::fs::read(e.path()).ok().map(|bytes| (name, bytes))
        })
        .collect();
    files.sort();
    files
}

fn at(data: &[u8], i: usize) -> usize {
    data.get(i).copied().unwrap_or(0) as usize
}

/// Reads `data` as an input: either raw bytes (first byte even), or a seed picked by the second
/// byte and changed by the instructions that follow, four bytes each.
fn input<'a>(seeds: &[Vec<u8>], data: &'a [u8]) -> Cow<'a, [u8]> {
    if seeds.is_empty() || data.len() < 2 || data[0].is_multiple_of(2) {
        return Cow::Borrowed(data.get(1..).unwrap_or_default());
    }
    let mut out = seeds[at(data, 1) % seeds.len()].clone();
    for op in data[2..].chunks(4) {
        let (a, b, c) = (at(op, 1), at(op, 2), at(op, 3));
        let pos = if out.is_empty() {
            0
        } else {
            (a << 8 | b) % out.len()
        };
        match at(op, 0) % 9 {
            0 if !out.is_empty() => out[pos] ^= 1 << (c % 8),
            1 if !out.is_empty() => out[pos] = c as u8,
            2 => out.insert(pos.min(out.len()), c as u8),
            3 if !out.is_empty() => {
                out.remove(pos);
            }
            4 => out.truncate(pos),
            5 if !out.is_empty() => {
                // Interesting values where parsers keep lengths and counts.
                let v: &[u8] = match c % 5 {
                    0 => &[0xff, 0xff, 0xff, 0xff],
                    1 => &[0, 0, 0, 0],
                    2 => &[0x7f, 0xff, 0xff, 0xff],
                    3 => &[0x80, 0, 0, 0],
                    _ => &[0, 0, 0x27, 0x10],
                };
                let end = (pos + v.len()).min(out.len());
                out[pos..end].copy_from_slice(&v[..end - pos]);
            }
            6 => {
                // A splice from another seed.
                let other = &seeds[c % seeds.len()];
                if !other.is_empty() {
                    let from = (a * 31 + b) % other.len();
                    let len = (c + 1).min(other.len() - from);
                    let at_pos = pos.min(out.len());
                    out.splice(at_pos..at_pos, other[from..from + len].iter().copied());
                }
            }
            7 if !out.is_empty() => {
                // A long repeat of a short slice: what floods a bound.
                let len = (c % 8 + 1).min(out.len() - pos);
                let chunk = out[pos..pos + len].to_vec();
                let times = (a << 8 | b) % 40_000;
                let mut grown = Vec::with_capacity(out.len() + chunk.len() * times);
                grown.extend_from_slice(&out[..pos]);
                for _ in 0..times {
                    grown.extend_from_slice(&chunk);
                }
                grown.extend_from_slice(&out[pos..]);
                out = grown;
            }
            _ => {}
        }
        if out.len() > MAX_INPUT {
            out.truncate(MAX_INPUT);
        }
    }
    Cow::Owned(out)
}

/// Runs `check` on every corpus file, then on random inputs for [`fuzz_time`]. An input that
/// panics is written to the target's corpus folder (a regression case from then on) before
/// the test fails with its name.
fn fuzz(target: &str, extra_seeds: Vec<Vec<u8>>, check: impl Fn(&[u8]) + RefUnwindSafe) {
    use rand::{Rng as _, RngCore as _, SeedableRng as _};
    let files = corpus(target);
    for (name, bytes) in &files {
        if let Err(panic) = std::panic::catch_unwind(|| check(bytes)) {
            panic!("{target}: corpus file {name} fails: {}", message(&panic));
        }
    }
    let mut seeds: Vec<Vec<u8>> = files.into_iter().map(|(_, b)| b).collect();
    seeds.extend(extra_seeds);
    let seed = std::env::var("PARVIS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| rand::thread_rng().r#gen());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (started, budget) = (Instant::now(), fuzz_time());
    let mut runs = 0u64;
    let mut data = Vec::new();
    while started.elapsed() < budget {
        let len = match rng.gen_range(0..4) {
            0 => rng.gen_range(0..16),
            1 | 2 => rng.gen_range(0..256),
            _ => rng.gen_range(0..4096),
        };
        data.resize(len, 0);
        rng.fill_bytes(&mut data);
        let case = input(&seeds, &data);
        runs += 1;
        if let Err(panic) = std::panic::catch_unwind(|| check(&case)) {
            let name = format!("crash-{seed}-{runs}");
            let path = corpus_dir(target).join(&name);
            let _ = std::fs::create_dir_all(corpus_dir(target));
            let _ = std::fs::write(&path, &case);
            panic!(
                "{target}: input {} ({} bytes) fails: {}",
                path.display(),
                case.len(),
                message(&panic)
            );
        }
    }
    eprintln!(
        "fuzz {target}: {runs} inputs in {:.1?} (PARVIS_FUZZ_SEED={seed})",
        started.elapsed()
    );
}

fn message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
        .chars()
        .take(500)
        .collect()
}

// --- Host header and site resolution ---------------------------------------------------------

#[test]
fn host_header() {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let (db, _dir) = match rt.block_on(annecy_database()) {
        Ok(x) => x,
        Err(e) => panic!("database: {e:#}"),
    };
    let resolver = SiteResolver::new("parvis.test");
    let ctx = std::panic::AssertUnwindSafe((rt, db, resolver));
    fuzz("host_header", Vec::new(), move |bytes| {
        let (rt, db, resolver) = &*ctx;
        let mut headers = axum::http::HeaderMap::new();
        if let Ok(v) = axum::http::HeaderValue::from_bytes(bytes) {
            headers.insert(axum::http::header::HOST, v);
        }
        let uri = axum::http::Uri::from_static("/");
        let host = request_host(&headers, &uri).unwrap_or_default();
        let site = rt.block_on(resolver.resolve(db, &host));
        let normal = host.trim().to_ascii_lowercase();
        let name = normal
            .rsplit_once(':')
            .map_or(normal.as_str(), |(n, _)| n)
            .trim_end_matches('.');
        match site {
            Ok(Some(Site::Platform)) => assert!(
                name == "parvis.test" || name == "www.parvis.test",
                "{host:?} resolved to the platform"
            ),
            Ok(Some(Site::Commune(c))) => assert!(
                c.slug == "annecy" && name == "annecy.parvis.test",
                "{host:?} resolved to {}",
                c.slug
            ),
            Ok(None) => {}
            Err(e) => panic!("{host:?}: {e}"),
        }
    });
}

/// A fresh SQLite database serving Annecy.
async fn annecy_database() -> anyhow::Result<(Db, tempfile::TempDir)> {
    use parvis_tenants::communes::{self, Progress, Selection, Source};
    let dir = tempfile::tempdir()?;
    let db = Db::connect(&format!("sqlite://{}/parvis.db", dir.path().display())).await?;
    db.migrate().await?;
    let code = parvis_core::types::InseeCode::parse("74010")?;
    communes::import(
        &db,
        &Source::Embedded,
        &Selection::Only(vec![code.clone()]),
        Progress::Hidden,
    )
    .await?;
    parvis_tenants::provision::create_tenant(&db, &code, None).await?;
    Ok((db, dir))
}

// --- Registry files: communes and RNE --------------------------------------------------------

#[test]
fn communes_files() {
    use parvis_tenants::data::{FILES, parse_file};
    fuzz("communes_files", Vec::new(), |bytes| {
        let Some((&which, rest)) = bytes.split_first() else {
            return;
        };
        let name = FILES[which as usize % FILES.len()];
        // Half the time a `.gz` file gets valid gzip around the bytes, so the JSON or CSV
        // parser sees them; otherwise the gzip reader sees them raw.
        let raw: Cow<[u8]> = if name.ends_with(".gz") && which & 0x80 != 0 {
            use std::io::Write as _;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = gz.write_all(rest);
            Cow::Owned(gz.finish().unwrap_or_default())
        } else {
            Cow::Borrowed(rest)
        };
        let _ = parse_file(name, &raw);
    });
}

#[test]
fn rne_file() {
    use parvis_tenants::officials::parse::parse;
    fuzz("rne_file", Vec::new(), |bytes| {
        if let Ok((_, rows, rejected)) = parse(bytes) {
            let lines = 1 + bytes.iter().filter(|b| matches!(b, b'\n' | b'\r')).count();
            assert!(rows.len() + rejected.len() <= lines, "more rows than lines");
        }
    });
}

// --- Module requests and responses -----------------------------------------------------------

#[test]
fn module_form() {
    fuzz("module_form", Vec::new(), |bytes| {
        match input::form(bytes) {
            Ok(fields) => {
                assert!(fields.len() <= input::MAX_FORM_FIELDS);
                let mut total = 0;
                for f in &fields {
                    assert!(f.name.len() <= input::MAX_FIELD_NAME);
                    assert!(f.value.len() <= input::MAX_FIELD_VALUE);
                    assert_ne!(f.name, "csrf_token", "the CSRF token reached the module");
                    total += f.name.len() + f.value.len();
                }
                assert!(total <= input::MAX_FORM_BYTES);
            }
            Err(e) => assert!(e.status().is_client_error()),
        }
        let query = String::from_utf8_lossy(bytes);
        match input::query(Some(&query)) {
            Ok(fields) => {
                assert!(fields.len() <= input::MAX_QUERY_FIELDS);
                assert!(query.len() <= input::MAX_QUERY);
            }
            Err(e) => assert!(e.status().is_client_error()),
        }
        if input::path(&query).is_ok() {
            assert!(query.len() <= input::MAX_PATH);
        }
    });
}

#[test]
fn module_redirect() {
    fuzz("module_redirect", Vec::new(), |bytes| {
        let target = String::from_utf8_lossy(bytes);
        let Some(path) = parvis_core::util::same_origin_path(&target) else {
            return;
        };
        assert!(path.starts_with('/'), "{target:?} → {path:?}");
        assert!(
            !path.starts_with("//") && !path.starts_with("/\\"),
            "{target:?} → {path:?} leaves the site"
        );
        assert!(
            !path.chars().any(|c| c.is_control()),
            "{target:?} → {path:?} has a control character"
        );
        assert!(
            axum::http::HeaderValue::from_str(&path).is_ok(),
            "{target:?} → {path:?} is no Location value"
        );
        // What the browser reads from the Location is the same path again.
        assert_eq!(
            parvis_core::util::same_origin_path(&path).as_deref(),
            Some(path.as_str()),
            "{target:?} is not normalised in one pass"
        );
    });
}

// --- Markdown --------------------------------------------------------------------------------

#[test]
fn markdown() {
    fuzz("markdown", Vec::new(), |bytes| {
        let source = String::from_utf8_lossy(bytes);
        let html = markdown::render(&source).to_ascii_lowercase();
        for tag in [
            "<script",
            "<img",
            "<iframe",
            "<object",
            "<svg",
            "<style",
            "<a href=\"javascript",
        ] {
            assert!(!html.contains(tag), "renders {tag}");
        }
        // Text is escaped (`<` is `&lt;`), so `<a href="` only starts a real link.
        for (i, _) in html.match_indices("<a href=\"") {
            let url = &html[i + 9..];
            assert!(
                url.starts_with("http://")
                    || url.starts_with("https://")
                    || url.starts_with("mailto:"),
                "a link to {:?}",
                url.chars().take(40).collect::<String>()
            );
        }
        let excerpt = markdown::excerpt(&source, 160);
        assert!(excerpt.chars().count() <= 161, "excerpt too long");
    });
}

// --- Uploads: images and PDFs ----------------------------------------------------------------

/// Small images of each accepted format, made here so the corpus holds no binary blobs.
fn image_seeds() -> Vec<Vec<u8>> {
    let img = image::RgbImage::from_fn(12, 8, |x, y| {
        image::Rgb([(x * 20) as u8, (y * 30) as u8, 90])
    });
    let mut seeds = Vec::new();
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Jpeg,
        image::ImageFormat::Gif,
        image::ImageFormat::WebP,
    ] {
        let mut out = std::io::Cursor::new(Vec::new());
        if image::DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut out, format)
            .is_ok()
        {
            seeds.push(out.into_inner());
        }
    }
    seeds
}

#[test]
fn image_upload() {
    use media_image::Fit;
    fuzz("image_upload", image_seeds(), |bytes| {
        let Ok((w, h)) = media_image::dimensions(bytes) else {
            return;
        };
        assert!(w <= media_image::MAX_INPUT_SIDE && h <= media_image::MAX_INPUT_SIDE);
        assert!(u64::from(w) * u64::from(h) <= media_image::MAX_INPUT_PIXELS);
        // Large declared images are the decode-bounds tests' business (tests/tests/suite/media.rs):
        // here, many small ones per second.
        if u64::from(w) * u64::from(h) > 1 << 20 {
            return;
        }
        if let Ok(out) = media_image::clean(bytes, &[Fit::Within(64), Fit::Square(16)]) {
            assert_eq!(out.len(), 2);
            assert!(out[0].width <= 64 && out[0].height <= 64);
            assert_eq!((out[1].width, out[1].height), (16, 16));
            for o in &out {
                assert!(o.bytes.starts_with(&[0xff, 0xd8]), "not a JPEG");
            }
        }
    });
}

#[test]
fn pdf_upload() {
    fuzz("pdf_upload", Vec::new(), |bytes| {
        if pdf::check(bytes, 64 << 10).is_ok() {
            assert!(bytes.starts_with(b"%PDF-") && bytes.len() <= 64 << 10);
        }
    });
}

// --- Stripe event envelopes ------------------------------------------------------------------

#[test]
fn stripe_envelope() {
    use hmac::Mac as _;
    const SECRET: &str = "whsec_fuzz";
    const NOW: i64 = 1_800_000_000;
    fuzz("stripe_envelope", Vec::new(), |bytes| {
        // Correctly signed: only an envelope without id or type may be refused.
        let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()) {
            Ok(m) => m,
            Err(e) => panic!("hmac: {e}"),
        };
        mac.update(format!("{NOW}.").as_bytes());
        mac.update(bytes);
        let header = format!("t={NOW},v1={}", hex::encode(mac.finalize().into_bytes()));
        match webhook::open(bytes, &header, SECRET, NOW) {
            Ok(e) => {
                let _ = e.subject();
            }
            Err(EnvelopeError::Unreadable(_)) => {}
            Err(other) => panic!("a signed event refused: {other:?}"),
        }
        // The same bytes as a header never pass for a signature.
        let forged = String::from_utf8_lossy(bytes);
        assert!(webhook::open(b"{}", &forged, SECRET, NOW).is_err());
    });
}

/// The regression inputs are files: a target with none still runs its random inputs.
#[test]
fn every_target_has_a_corpus() {
    for target in [
        "host_header",
        "communes_files",
        "rne_file",
        "module_form",
        "module_redirect",
        "markdown",
        "image_upload",
        "pdf_upload",
        "stripe_envelope",
    ] {
        assert!(
            !corpus(target).is_empty(),
            "tests/fuzz/{target}/ holds no seed"
        );
    }
}
