//! Images: checked from their header before any pixel is decoded, decoded with allocation
//! limits, turned upright (EXIF orientation), then re-encoded as JPEG in each size asked for.
//!
//! Why JPEG: it is read everywhere, and the `image` crate's JPEG encoder is lossy, so a 256 px
//! photo weighs a few kilobytes; its WebP encoder is lossless only, several times heavier for
//! photographs. Re-encoding also means no uploaded byte is ever served back: metadata (EXIF
//! position, camera serials), trailing payloads and polyglot files are gone.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, Limits, RgbImage};

use crate::media::MediaError;

/// Longest side accepted on input.
pub const MAX_INPUT_SIDE: u32 = 10_000;
/// Largest area accepted on input (40 megapixels: any phone photo, no bomb).
pub const MAX_INPUT_PIXELS: u64 = 40_000_000;
/// JPEG quality of what is stored.
const QUALITY: u8 = 85;

/// How one output size is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Scaled down (never up) so that both sides fit in this many pixels.
    Within(u32),
    /// Cropped to a centred square, then scaled to this side (avatars).
    Square(u32),
}

/// One cleaned image, ready to store.
#[derive(Debug, Clone)]
pub struct Cleaned {
    /// JPEG bytes.
    pub bytes: Vec<u8>,
    /// Always `image/jpeg`.
    pub content_type: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_INPUT_SIDE);
    limits.max_image_height = Some(MAX_INPUT_SIDE);
    // RGBA at the largest area, plus the decoder's own buffers.
    limits.max_alloc = Some(MAX_INPUT_PIXELS * 4 + (64 << 20));
    limits
}

fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, MediaError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| MediaError::NotAnImage)?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif) => {
            Ok(reader)
        }
        _ => Err(MediaError::NotAnImage),
    }
}

/// The declared size of an image, read from its header only; refuses what is not an image of
/// an accepted format and what is too large to decode safely.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), MediaError> {
    let too_many = MediaError::TooManyPixels {
        max_side: MAX_INPUT_SIDE,
        megapixels: MAX_INPUT_PIXELS / 1_000_000,
    };
    // The header alone is read here: no limit applies yet, so a huge declared size is
    // reported as such rather than as an unreadable file.
    let mut header = reader(bytes)?;
    header.no_limits();
    let (w, h) = header
        .into_dimensions()
        .map_err(|_| MediaError::NotAnImage)?;
    if w == 0 || h == 0 {
        return Err(MediaError::NotAnImage);
    }
    if w > MAX_INPUT_SIDE || h > MAX_INPUT_SIDE || u64::from(w) * u64::from(h) > MAX_INPUT_PIXELS {
        return Err(too_many);
    }
    Ok((w, h))
}

/// Decodes `bytes` (after [`dimensions`] accepted them), upright.
fn decode(bytes: &[u8]) -> Result<DynamicImage, MediaError> {
    dimensions(bytes)?;
    let mut reader = reader(bytes)?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(|_| MediaError::NotAnImage)?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|_| MediaError::NotAnImage)?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    Ok(image)
}

/// Transparent pixels over white (JPEG has no alpha channel).
fn flatten(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

fn cut(image: &DynamicImage, fit: Fit) -> DynamicImage {
    match fit {
        Fit::Within(side) if image.width() > side || image.height() > side => {
            image.resize(side, side, image::imageops::FilterType::Lanczos3)
        }
        Fit::Within(_) => image.clone(),
        Fit::Square(side) => {
            let s = image.width().min(image.height());
            let square = image.crop_imm((image.width() - s) / 2, (image.height() - s) / 2, s, s);
            if s == side {
                square
            } else {
                square.resize_exact(side, side, image::imageops::FilterType::Lanczos3)
            }
        }
    }
}

fn encode(image: &DynamicImage) -> Result<Cleaned, MediaError> {
    let rgb = flatten(image);
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, QUALITY)
        .encode_image(&rgb)
        .map_err(|_| MediaError::NotAnImage)?;
    Ok(Cleaned {
        bytes,
        content_type: "image/jpeg",
        width: rgb.width(),
        height: rgb.height(),
    })
}

/// Decodes an uploaded image once and returns one cleaned JPEG per `fits` entry, in order.
/// CPU-bound: call it through [`clean_blocking`] from async code.
pub fn clean(bytes: &[u8], fits: &[Fit]) -> Result<Vec<Cleaned>, MediaError> {
    let image = decode(bytes)?;
    fits.iter().map(|&fit| encode(&cut(&image, fit))).collect()
}

/// [`clean`] on the blocking thread pool, so decoding never stalls the server's workers.
pub async fn clean_blocking(
    bytes: axum::body::Bytes,
    fits: Vec<Fit>,
) -> Result<Vec<Cleaned>, MediaError> {
    tokio::task::spawn_blocking(move || clean(&bytes, &fits))
        .await
        .map_err(|_| MediaError::NotAnImage)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 120, 200, 128]));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap_or_default();
        out
    }

    #[test]
    fn resizes_and_reencodes() -> Result<(), MediaError> {
        let out = clean(
            &png(800, 400),
            &[Fit::Square(256), Fit::Within(300), Fit::Within(1000)],
        )?;
        assert_eq!((out[0].width, out[0].height), (256, 256));
        assert_eq!((out[1].width, out[1].height), (300, 150));
        assert_eq!((out[2].width, out[2].height), (800, 400));
        assert!(out.iter().all(|c| c.bytes.starts_with(&[0xFF, 0xD8])));
        Ok(())
    }

    #[test]
    fn refuses_what_is_not_an_image() {
        assert!(matches!(
            clean(b"hello world", &[Fit::Within(10)]),
            Err(MediaError::NotAnImage)
        ));
        let mut truncated = png(50, 50);
        truncated.truncate(60);
        assert!(matches!(
            clean(&truncated, &[Fit::Within(10)]),
            Err(MediaError::NotAnImage)
        ));
    }
}
