//! Posting a page's forms as a browser does: the CSRF token read from the page first.

use anyhow::Result;

/// Posts `fields` to `url` (url-encoded), with the CSRF token of the page at `url`.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> Result<reqwest::Response> {
    let token = crate::form_token(client, url).await?;
    let mut body = vec![("csrf_token", token.as_str())];
    body.extend_from_slice(fields);
    Ok(client.post(url).form(&body).send().await?)
}

/// Posts `fields` and `files` (`(field, bytes, file name)`, sent as JPEG) as a multipart
/// form, the CSRF token in the query (as the modules' forms with files do).
pub async fn post_files(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
    files: &[(&str, Vec<u8>, &str)],
) -> Result<reqwest::Response> {
    let token = crate::form_token(client, url).await?;
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    for (name, bytes, file_name) in files {
        form = form.part(
            name.to_string(),
            reqwest::multipart::Part::bytes(bytes.clone())
                .file_name(file_name.to_string())
                .mime_str("image/jpeg")?,
        );
    }
    Ok(client
        .post(format!("{url}?csrf_token={token}"))
        .multipart(form)
        .send()
        .await?)
}

/// The `Location` of a redirect (empty when there is none).
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A 2,000 × 1,000 JPEG carrying an EXIF segment with a (pretend) GPS position, as a phone's
/// photo does: what the host must not publish (`PARVIS-SECRET-POSITION` in its bytes).
pub fn phone_photo() -> Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(2000, 1000, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )?;
    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08\0\0\0\0\0\0".to_vec();
    exif.extend_from_slice(b"GPSLatitude 48.8566 PARVIS-SECRET-POSITION");
    let length = u16::try_from(exif.len() + 2)?;
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    Ok(out)
}
