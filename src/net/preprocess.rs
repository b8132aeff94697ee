//! Turns decoded images into the model's input tensor: resize to the model's
//! input size (the whole frame, so normalised coordinates are unchanged: an
//! area average when shrinking 8-bit images, bilinear otherwise), grey (Rec.
//! 709 luma) or RGB, pixels scaled to [0, 1], then `(x − mean) / std`, packed
//! NCHW. Pure and independent of ONNX Runtime.

use image::imageops::{self, FilterType};
use image::DynamicImage;

use super::Contract;

/// Appends one image's `C × H × W` values to `out`.
pub fn push_image(img: &DynamicImage, c: &Contract, out: &mut Vec<f32>) {
    let (w, h) = (c.input_size.width, c.input_size.height);
    let plane = (w as usize) * (h as usize);
    let start = out.len();
    out.resize(start + plane * c.channels, 0.0);
    let dst = &mut out[start..];
    if shrink_u8(img, c.channels, w as usize, h as usize, dst) {
        for (k, plane_values) in dst.chunks_exact_mut(plane).enumerate() {
            for v in plane_values {
                *v = (*v - c.mean[k]) / c.std[k];
            }
        }
    } else if c.channels == 1 {
        let mut g = img.to_luma32f();
        if g.dimensions() != (w, h) {
            g = imageops::resize(&g, w, h, FilterType::Triangle);
        }
        for (o, p) in dst.iter_mut().zip(g.pixels()) {
            *o = (p.0[0] - c.mean[0]) / c.std[0];
        }
    } else {
        let mut rgb = img.to_rgb32f();
        if rgb.dimensions() != (w, h) {
            rgb = imageops::resize(&rgb, w, h, FilterType::Triangle);
        }
        for (i, p) in rgb.pixels().enumerate() {
            for k in 0..3 {
                dst[k * plane + i] = (p.0[k] - c.mean[k]) / c.std[k];
            }
        }
    }
}

/// Rec. 709 luma weights on the stored (sRGB-encoded) values.
const LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// Shrinks an 8-bit image straight into planar `[0, 1]` values in `dst`
/// (`channels` planes of `w × h`): each output pixel is the mean of the source
/// pixels `[j·sw/w, (j+1)·sw/w) × [i·sh/h, (i+1)·sh/h)`. One pass over the
/// source, no intermediate image. Returns false, writing nothing, unless the
/// image is 8-bit and strictly larger than the target on some axis and not
/// smaller on either.
fn shrink_u8(img: &DynamicImage, channels: usize, w: usize, h: usize, dst: &mut [f32]) -> bool {
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    if sw < w || sh < h || (sw == w && sh == h) || w == 0 || h == 0 {
        return false;
    }
    let (data, sc): (&[u8], usize) = match img {
        DynamicImage::ImageLuma8(b) => (b.as_raw(), 1),
        DynamicImage::ImageLumaA8(b) => (b.as_raw(), 2),
        DynamicImage::ImageRgb8(b) => (b.as_raw(), 3),
        DynamicImage::ImageRgba8(b) => (b.as_raw(), 4),
        _ => return false,
    };
    // Column sums of a cell's rows fit u32 while a cell is at most 2^24 rows
    // tall (and u16, twice as many per vector, up to 257 rows).
    if sh / h >= 1 << 24 {
        return false;
    }
    match (sc, sh / h < 257) {
        (1, true) => shrink_with::<u16, 1>(data, (sw, sh), channels, (w, h), dst),
        (2, true) => shrink_with::<u16, 2>(data, (sw, sh), channels, (w, h), dst),
        (3, true) => shrink_with::<u16, 3>(data, (sw, sh), channels, (w, h), dst),
        (_, true) => shrink_with::<u16, 4>(data, (sw, sh), channels, (w, h), dst),
        (1, false) => shrink_with::<u32, 1>(data, (sw, sh), channels, (w, h), dst),
        (2, false) => shrink_with::<u32, 2>(data, (sw, sh), channels, (w, h), dst),
        (3, false) => shrink_with::<u32, 3>(data, (sw, sh), channels, (w, h), dst),
        (_, false) => shrink_with::<u32, 4>(data, (sw, sh), channels, (w, h), dst),
    }
    true
}

/// [`shrink_u8`] with column sums in `T`, which must hold 255 × a cell's
/// rows, for a source of `SC` samples per pixel.
fn shrink_with<T: Copy + Default + From<u8> + Into<u64> + std::ops::AddAssign, const SC: usize>(
    data: &[u8],
    (sw, sh): (usize, usize),
    channels: usize,
    (w, h): (usize, usize),
    dst: &mut [f32],
) {
    let xs: Vec<usize> = (0..=w).map(|j| j * sw / w).collect();
    let plane = w * h;
    let row_len = sw * SC;
    // Per output row: exact integer sums of each source sample over the
    // cell's rows (a loop the compiler vectorises), then over each cell's columns.
    let mut cols = vec![T::default(); row_len];
    for i in 0..h {
        let (y0, y1) = (i * sh / h, (i + 1) * sh / h);
        cols.fill(T::default());
        column_sums(&mut cols, &data[y0 * row_len..y1 * row_len]);
        for j in 0..w {
            // The cell's columns, one sum per channel (SC known: unrolled).
            let mut sum = [0u64; SC];
            for px in cols[xs[j] * SC..xs[j + 1] * SC].chunks_exact(SC) {
                for k in 0..SC {
                    sum[k] += px[k].into();
                }
            }
            let n = ((xs[j + 1] - xs[j]) * (y1 - y0)) as f64 * 255.0;
            let mean = |k: usize| (sum[k] as f64 / n) as f32;
            let rgb = if SC >= 3 {
                [mean(0), mean(1), mean(2)]
            } else {
                [mean(0); 3]
            };
            if channels == 1 {
                dst[i * w + j] = LUMA[0] * rgb[0] + LUMA[1] * rgb[1] + LUMA[2] * rgb[2];
            } else {
                for k in 0..3 {
                    dst[k * plane + i * w + j] = rgb[k];
                }
            }
        }
    }
}

/// Adds each row of `rows` (rows of `cols.len()` samples) into `cols`: with
/// AVX2 where the CPU has it (twice the lanes of the SSE2 baseline; the
/// same sums).
fn column_sums<T: Copy + From<u8> + std::ops::AddAssign>(cols: &mut [T], rows: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { column_sums_avx2(cols, rows) };
        return;
    }
    column_sums_plain(cols, rows);
}

/// [`column_sums`] compiled for AVX2.
///
/// # Safety
/// The CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn column_sums_avx2<T: Copy + From<u8> + std::ops::AddAssign>(cols: &mut [T], rows: &[u8]) {
    column_sums_plain(cols, rows);
}

/// [`column_sums`] as written (the compiler vectorises it for the target).
#[inline(always)]
fn column_sums_plain<T: Copy + From<u8> + std::ops::AddAssign>(cols: &mut [T], rows: &[u8]) {
    if cols.is_empty() {
        return;
    }
    for row in rows.chunks_exact(cols.len()) {
        for (c, &p) in cols.iter_mut().zip(row) {
            *c += T::from(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::affine::Size;

    fn contract(channels: usize, w: u32, h: u32) -> Contract {
        Contract {
            input_size: Size::new(w, h),
            channels,
            mean: vec![0.5; channels],
            std: vec![0.25; channels],
            output_size: None,
            align_corners: false,
            description: None,
            family: crate::net::Family::Affine,
            parts: 1,
            padding: None,
        }
    }

    #[test]
    fn grey_is_scaled_and_normalised() {
        let img = DynamicImage::ImageLuma8(image::GrayImage::from_raw(2, 1, vec![0, 255]).unwrap());
        let mut out = Vec::new();
        push_image(&img, &contract(1, 2, 1), &mut out);
        assert_eq!(out, vec![-2.0, 2.0]);
    }

    #[test]
    fn rgb_is_planar() {
        let img = DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 255, 0]).unwrap(),
        );
        let mut out = Vec::new();
        push_image(&img, &contract(3, 2, 1), &mut out);
        assert_eq!(out, vec![2.0, -2.0, -2.0, 2.0, -2.0, -2.0]);
    }

    #[test]
    fn shrinking_averages_areas() {
        // 4×2 grey → 2×1: each output pixel is the mean of a 2×2 block.
        let img = DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(4, 2, vec![0, 255, 51, 51, 255, 0, 102, 102]).unwrap(),
        );
        let c = Contract {
            mean: vec![0.0],
            std: vec![1.0],
            ..contract(1, 2, 1)
        };
        let mut out = Vec::new();
        push_image(&img, &c, &mut out);
        assert!(
            (out[0] - 0.5).abs() < 1e-6 && (out[1] - 0.3).abs() < 1e-6,
            "{out:?}"
        );
        // RGB to grey uses Rec. 709 luma; RGB to RGB keeps the planes.
        let red =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(4, 4, image::Rgb([255, 0, 0])));
        let mut grey = Vec::new();
        push_image(&red, &c, &mut grey);
        assert!((grey[0] - 0.2126).abs() < 1e-6, "{grey:?}");
        let c3 = Contract {
            mean: vec![0.0; 3],
            std: vec![1.0; 3],
            ..contract(3, 2, 1)
        };
        let mut planes = Vec::new();
        push_image(&red, &c3, &mut planes);
        assert_eq!(planes, vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn shrinking_ignores_alpha() {
        // 6×4 → 3×2 (2×2 cells): grey+alpha as grey, RGBA as RGB, whatever
        // the alpha; the sums of each channel of each cell exact.
        let (w, h) = (6u32, 4u32);
        let v = |x: u32, y: u32, k: u32| ((x * 37 + y * 91 + k * 53) % 256) as u8;
        let la =
            image::GrayAlphaImage::from_fn(w, h, |x, y| image::LumaA([v(x, y, 0), v(x, y, 7)]));
        let l = image::GrayImage::from_fn(w, h, |x, y| image::Luma([v(x, y, 0)]));
        let rgba = image::RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([v(x, y, 0), v(x, y, 1), v(x, y, 2), v(x, y, 9)])
        });
        let rgb = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([v(x, y, 0), v(x, y, 1), v(x, y, 2)])
        });
        let c = |channels| Contract {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
            ..contract(channels, 3, 2)
        };
        for channels in [1, 3] {
            let run = |img: DynamicImage| {
                let mut out = Vec::new();
                push_image(&img, &c(channels), &mut out);
                out
            };
            assert_eq!(
                run(DynamicImage::ImageLumaA8(la.clone())),
                run(DynamicImage::ImageLuma8(l.clone()))
            );
            assert_eq!(
                run(DynamicImage::ImageRgba8(rgba.clone())),
                run(DynamicImage::ImageRgb8(rgb.clone()))
            );
        }
        // And one cell by hand: the top-left 2×2 of channel 1 (green).
        let mut out = Vec::new();
        push_image(&DynamicImage::ImageRgba8(rgba), &c(3), &mut out);
        let sum: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
            .iter()
            .map(|&(x, y)| u32::from(v(x, y, 1)))
            .sum();
        assert_eq!(out[6], (f64::from(sum) / (4.0 * 255.0)) as f32);
    }

    #[test]
    fn resizes_to_the_model_size() {
        let img = DynamicImage::new_luma8(100, 60);
        let mut out = Vec::new();
        push_image(&img, &contract(1, 42, 42), &mut out);
        assert_eq!(out.len(), 42 * 42);
    }

    #[test]
    fn tall_cells_sum_exactly() {
        // 600 rows per cell: the u32 column sums. Rows alternate 255 and 0
        // in the top cell; the bottom cell is all 51.
        let (w, h) = (3u32, 1200u32);
        let img = image::GrayImage::from_fn(w, h, |_, y| {
            image::Luma([if y >= 600 {
                51
            } else if y % 2 == 0 {
                255
            } else {
                0
            }])
        });
        let c = Contract {
            mean: vec![0.0],
            std: vec![1.0],
            ..contract(1, 1, 2)
        };
        let mut out = Vec::new();
        push_image(&DynamicImage::ImageLuma8(img), &c, &mut out);
        assert!(
            (out[0] - 0.5).abs() < 1e-6 && (out[1] - 0.2).abs() < 1e-6,
            "{out:?}"
        );
    }
}
