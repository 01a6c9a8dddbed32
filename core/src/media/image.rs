//! Images: checked from their header before any pixel is decoded, decoded with allocation
//! limits, turned upright (EXIF orientation), then re-encoded as JPEG in each size asked for.
//!
//! Why JPEG: it is read everywhere and lossy, so a 256 px photo weighs a few kilobytes (the
//! `image` crate's WebP encoder is lossless only, several times heavier for photographs).
//! Photos (8-bit RGB, what cameras and phones send) are scaled by `fast_image_resize` and
//! encoded by `jpeg-encoder`, both with SIMD: the `image` crate's own scaling and encoder took
//! most of a report's 150 ms budget (reports bench). Other images take `image`'s path. Re-encoding also means no uploaded byte is ever served back: metadata (EXIF
//! position, camera serials), trailing payloads and polyglot files are gone.

use std::io::Cursor;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use tokio::sync::Semaphore;

use crate::media::MediaError;

/// Longest side accepted on input.
pub const MAX_INPUT_SIDE: u32 = 8_192;
/// Largest area accepted on input: 24 megapixels, a 6000 × 4000 camera photo (phones give 12).
/// The decoded image is the only large buffer of a cleaning (every output is cut from it at its
/// own small size), so this, times [`MAX_DECODED_BYTES_PER_PIXEL`], bounds its memory: 96 MB.
pub const MAX_INPUT_PIXELS: u64 = 24_000_000;
/// Bytes per pixel of the largest decoded image accepted (8-bit RGBA); a 16-bit image is
/// accepted when its decoded size fits the same budget.
pub const MAX_DECODED_BYTES_PER_PIXEL: u64 = 4;
/// How long an upload waits for its turn to be decoded before it is refused as « busy ».
const QUEUE_WAIT: Duration = Duration::from_secs(20);
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

fn too_many() -> MediaError {
    MediaError::TooManyPixels {
        max_side: MAX_INPUT_SIDE,
        megapixels: MAX_INPUT_PIXELS / 1_000_000,
    }
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

/// A decoder of `bytes` that has read the header only, once its declared size passed the
/// limits: no pixel is decoded, and nothing the size of the image is allocated, before that.
fn open(bytes: &[u8]) -> Result<impl ImageDecoder + '_, MediaError> {
    let mut header = reader(bytes)?;
    // No size limit yet, so that a huge declared size is reported as such rather than as an
    // unreadable file; the default allocation limit still bounds the header's own chunks.
    header.limits(Limits::default());
    let mut decoder = header.into_decoder().map_err(|_| MediaError::NotAnImage)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(MediaError::NotAnImage);
    }
    let pixels = u64::from(w) * u64::from(h);
    if w > MAX_INPUT_SIDE
        || h > MAX_INPUT_SIDE
        || pixels > MAX_INPUT_PIXELS
        || decoder.total_bytes() > MAX_INPUT_PIXELS * MAX_DECODED_BYTES_PER_PIXEL
    {
        return Err(too_many());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_INPUT_SIDE);
    limits.max_image_height = Some(MAX_INPUT_SIDE);
    // The image's own buffer, plus the decoder's working buffers.
    limits.max_alloc = Some(MAX_INPUT_PIXELS * MAX_DECODED_BYTES_PER_PIXEL + (32 << 20));
    decoder.set_limits(limits).map_err(|_| too_many())?;
    Ok(decoder)
}

/// The declared size of an image, read from its header only; refuses what is not an image of
/// an accepted format and what is too large to decode safely.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), MediaError> {
    Ok(open(bytes)?.dimensions())
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

/// The part of an image an output keeps: left, top, width, height.
type Crop = (u32, u32, u32, u32);

/// The size `fit` gives an image of `w` × `h`, and the part of it that is kept; `None` when
/// it is kept whole at its size.
fn frame(w: u32, h: u32, fit: Fit) -> Option<((u32, u32), Crop)> {
    match fit {
        Fit::Within(side) if w > side || h > side => {
            // As `image`'s `thumbnail`: the ratio of the longer side, rounded, at least 1.
            let ratio = f64::from(side) / f64::from(w.max(h));
            let scaled = |n: u32| ((f64::from(n) * ratio).round() as u32).clamp(1, side);
            Some(((scaled(w), scaled(h)), (0, 0, w, h)))
        }
        Fit::Within(_) => None,
        Fit::Square(side) => {
            let s = w.min(h);
            Some(((side, side), ((w - s) / 2, (h - s) / 2, s, s)))
        }
    }
}

/// One output size of an 8-bit RGB image (a photo), scaled with a Lanczos filter into a buffer
/// of the output's size; `None` if the scaler refused it (the general path then serves).
fn cut_rgb(image: &RgbImage, fit: Fit) -> Option<RgbImage> {
    let (w, h) = image.dimensions();
    let Some(((dw, dh), (left, top, cw, ch))) = frame(w, h, fit) else {
        return Some(image.clone());
    };
    let source = ImageRef::new(w, h, image.as_raw(), PixelType::U8x3).ok()?;
    let mut out = Image::new(dw, dh, PixelType::U8x3);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(
            f64::from(left),
            f64::from(top),
            f64::from(cw),
            f64::from(ch),
        );
    Resizer::new().resize(&source, &mut out, &options).ok()?;
    RgbImage::from_raw(dw, dh, out.into_vec())
}

/// One output size of `image`. Photos take [`cut_rgb`]; other images are scaled by averaging
/// areas straight into the output (`thumbnail`). Either way no buffer larger than the output
/// is made, whatever the input's size.
fn cut(image: &DynamicImage, fit: Fit) -> DynamicImage {
    if let DynamicImage::ImageRgb8(rgb) = image
        && let Some(out) = cut_rgb(rgb, fit)
    {
        return DynamicImage::ImageRgb8(out);
    }
    let (w, h) = (image.width(), image.height());
    match fit {
        Fit::Within(side) if w > side || h > side => image.thumbnail(side, side),
        Fit::Within(_) => image.clone(),
        Fit::Square(side) => {
            let s = w.min(h);
            if s <= side {
                let square = image.crop_imm((w - s) / 2, (h - s) / 2, s, s);
                if s == side {
                    square
                } else {
                    square.resize_exact(side, side, image::imageops::FilterType::Lanczos3)
                }
            } else {
                // Scale the short side to `side`, then take the centred square.
                let scale = |n: u32| {
                    let scaled = u64::from(n) * u64::from(side) / u64::from(s);
                    u32::try_from(scaled).unwrap_or(side).max(side)
                };
                let (sw, sh) = (scale(w), scale(h));
                image
                    .thumbnail_exact(sw, sh)
                    .crop_imm((sw - side) / 2, (sh - side) / 2, side, side)
            }
        }
    }
}

fn encode(image: DynamicImage) -> Result<Cleaned, MediaError> {
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => flatten(&other),
    };
    let side = |n: u32| u16::try_from(n).map_err(|_| too_many());
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, QUALITY)
        .encode(
            rgb.as_raw(),
            side(rgb.width())?,
            side(rgb.height())?,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|_| MediaError::NotAnImage)?;
    Ok(Cleaned {
        bytes,
        content_type: "image/jpeg",
        width: rgb.width(),
        height: rgb.height(),
    })
}

/// Decodes an uploaded image once and returns one cleaned JPEG per `fits` entry, in order,
/// each turned upright (EXIF orientation). Turning the small outputs rather than the decoded
/// image gives the same pictures (a centred square, a square box) without a second full copy.
/// CPU-bound: call it through [`clean_blocking`] from async code.
pub fn clean(bytes: &[u8], fits: &[Fit]) -> Result<Vec<Cleaned>, MediaError> {
    let mut decoder = open(bytes)?;
    let orientation = decoder.orientation().ok();
    let image = DynamicImage::from_decoder(decoder).map_err(|_| MediaError::NotAnImage)?;
    fits.iter()
        .map(|&fit| {
            let mut out = cut(&image, fit);
            if let Some(o) = orientation {
                out.apply_orientation(o);
            }
            encode(out)
        })
        .collect()
}

/// Image cleanings running at once in this process: one per core. Each holds at most one
/// decoded image (see [`MAX_INPUT_PIXELS`]), so this bounds the memory images take, and keeps
/// cores free for everything else while a burst of uploads waits its turn.
static IMAGE_WORK: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Arc::new(Semaphore::new(cores.clamp(1, 8)))
});

/// [`clean`] on the blocking thread pool, so decoding never stalls the server's workers, and
/// at most one cleaning per core at a time (others wait their turn, up to 20 s, then get
/// [`MediaError::Busy`]). The turn is held by the work itself: a client that gives up does not
/// free it while its image is still being decoded.
pub async fn clean_blocking(
    bytes: axum::body::Bytes,
    fits: Vec<Fit>,
) -> Result<Vec<Cleaned>, MediaError> {
    // Refuse what the header already refuses without waiting for a turn.
    dimensions(&bytes)?;
    let turn = tokio::time::timeout(QUEUE_WAIT, Arc::clone(&IMAGE_WORK).acquire_owned())
        .await
        .map_err(|_| MediaError::Busy)?
        .map_err(|_| MediaError::Busy)?;
    tokio::task::spawn_blocking(move || {
        let cleaned = clean(&bytes, &fits);
        drop(turn);
        cleaned
    })
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

    /// A photo (8-bit RGB JPEG) takes the SIMD path: same sizes as any image, and the picture
    /// survives it (a flat colour stays that colour; the left half stays left).
    #[test]
    fn photos_are_scaled_and_encoded_alike() -> Result<(), MediaError> {
        let img = RgbImage::from_fn(1200, 600, |x, _| {
            if x < 600 {
                image::Rgb([200, 40, 40])
            } else {
                image::Rgb([30, 60, 220])
            }
        });
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .map_err(|_| MediaError::NotAnImage)?;
        let out = clean(
            &jpeg,
            &[Fit::Square(256), Fit::Within(300), Fit::Within(1600)],
        )?;
        let sizes: Vec<_> = out.iter().map(|c| (c.width, c.height)).collect();
        assert_eq!(sizes, [(256, 256), (300, 150), (1200, 600)]);
        for cleaned in &out {
            let back = image::load_from_memory(&cleaned.bytes)
                .map_err(|_| MediaError::NotAnImage)?
                .to_rgb8();
            assert_eq!(back.dimensions(), (cleaned.width, cleaned.height));
            let near =
                |p: [u8; 3], want: [u8; 3]| p.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= 12);
            let y = back.height() / 2;
            assert!(
                near(back.get_pixel(4, y).0, [200, 40, 40]),
                "left stays red"
            );
            assert!(
                near(back.get_pixel(back.width() - 5, y).0, [30, 60, 220]),
                "right stays blue"
            );
        }
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
