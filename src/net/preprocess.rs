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
    if sh / h < 257 {
        shrink_with::<u16>(data, sc, (sw, sh), channels, (w, h), dst);
    } else {
        shrink_with::<u32>(data, sc, (sw, sh), channels, (w, h), dst);
    }
    true
}

/// [`shrink_u8`] with column sums in `T`, which must hold 255 × a cell's rows.
fn shrink_with<T: Copy + Default + From<u8> + Into<u64> + std::ops::AddAssign>(
    data: &[u8],
    sc: usize,
    (sw, sh): (usize, usize),
    channels: usize,
    (w, h): (usize, usize),
    dst: &mut [f32],
) {
    let xs: Vec<usize> = (0..=w).map(|j| j * sw / w).collect();
    let plane = w * h;
    let row_len = sw * sc;
    // Per output row: exact integer sums of each source sample over the
    // cell's rows (a loop the compiler vectorises), then over each cell's columns.
    let mut cols = vec![T::default(); row_len];
    for i in 0..h {
        let (y0, y1) = (i * sh / h, (i + 1) * sh / h);
        cols.fill(T::default());
        for row in data[y0 * row_len..y1 * row_len].chunks_exact(row_len) {
            for (c, &p) in cols.iter_mut().zip(row) {
                *c += T::from(p);
            }
        }
        for j in 0..w {
            let mut sum = [0u64; 4];
            for px in cols[xs[j] * sc..xs[j + 1] * sc].chunks_exact(sc) {
                for (s, &v) in sum.iter_mut().zip(px) {
                    *s += v.into();
                }
            }
            let n = ((xs[j + 1] - xs[j]) * (y1 - y0)) as f64 * 255.0;
            let mean = |k: usize| (sum[k] as f64 / n) as f32;
            let rgb = if sc >= 3 {
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
