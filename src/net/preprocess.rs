//! Turns decoded images into the model's input tensor: resize to the model's
//! input size (bilinear, the whole frame, so normalised coordinates are
//! unchanged), grey or RGB, pixels scaled to [0, 1], then `(x − mean) / std`,
//! packed NCHW. Pure and independent of ONNX Runtime.

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
    if c.channels == 1 {
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
    fn resizes_to_the_model_size() {
        let img = DynamicImage::new_luma8(100, 60);
        let mut out = Vec::new();
        push_image(&img, &contract(1, 42, 42), &mut out);
        assert_eq!(out.len(), 42 * 42);
    }
}
