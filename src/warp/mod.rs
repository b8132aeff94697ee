//! The warp engine: PyTorch's `affine_grid` + `grid_sample`, without the grid.
//!
//! [`warp_into`] samples a source image through a theta (see [`crate::affine`])
//! into a destination image of any size. Output rows are independent and run in
//! parallel on rayon's global pool; no H×W×2 grid is built: the sampling
//! coordinates of a row start at `(u0, v0)` and advance by a constant step per
//! column ([`grid`]). The per-pixel maths lives in [`scalar`], which is the
//! specification every faster kernel must match.

pub mod grid;
pub mod scalar;

use image::{DynamicImage, ImageBuffer, Pixel};
use rayon::prelude::*;

use crate::affine::{Affine, Size};
use crate::error::Error;

/// The interpolation kernel, as `grid_sample`'s `mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interp {
    /// Bilinear interpolation of the 2×2 neighbours.
    #[default]
    Bilinear,
    /// The nearest pixel; halfway cases round to even, as `nearbyint`.
    Nearest,
    /// Bicubic convolution of the 4×4 neighbours with A = -0.75.
    Bicubic,
}

/// What lies outside the input, as `grid_sample`'s `padding_mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Padding {
    /// Zeros (transparent black, alpha included).
    #[default]
    Zeros,
    /// The nearest edge pixel.
    Border,
    /// The image mirrored at its borders, repeatedly.
    Reflection,
}

/// How to sample: kernel, padding and the meaning of the normalised coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WarpOptions {
    /// The interpolation kernel.
    pub interp: Interp,
    /// The padding mode.
    pub padding: Padding,
    /// PyTorch's `align_corners`: whether ±1 are the centres (true) or the outer
    /// edges (false) of the corner pixels.
    pub align_corners: bool,
}

/// A sample type the warp can read and write: `u8`, `u16` or `f32`.
pub trait Sample: Copy + Default + Send + Sync + 'static {
    /// The value as `f32`, unscaled.
    fn to_f32(self) -> f32;
    /// Rounds (half to even, as `numpy.rint`) and clamps to the type's range;
    /// `f32` is kept as is.
    fn from_f32(v: f32) -> Self;
}

/// `v.round_ties_even()` for `0 ≤ v < 2²³`, without a libm call on CPUs
/// lacking SSE4.1: adding 2²³ leaves no fraction bits, so the FPU's
/// round-to-nearest-even does the rounding.
#[inline(always)]
fn round_even_nonneg(v: f32) -> f32 {
    const MAGIC: f32 = 8_388_608.0; // 2^23
    (v + MAGIC) - MAGIC
}

impl Sample for u8 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        round_even_nonneg(v.clamp(0.0, 255.0)) as u8
    }
}

impl Sample for u16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        round_even_nonneg(v.clamp(0.0, 65535.0)) as u16
    }
}

impl Sample for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
}

/// A borrowed image: `height` rows of `width` pixels of `channels` interleaved samples.
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a, T> {
    /// The samples, row-major, `width * height * channels` of them.
    pub data: &'a [T],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Samples per pixel, 1 to 4.
    pub channels: usize,
}

/// A mutably borrowed image, laid out as [`ImageRef`].
#[derive(Debug)]
pub struct ImageMut<'a, T> {
    /// The samples, row-major, `width * height * channels` of them.
    pub data: &'a mut [T],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Samples per pixel, 1 to 4; must equal the source's.
    pub channels: usize,
}

/// Below this many output pixels a warp runs on the calling thread only.
const PARALLEL_MIN_PIXELS: usize = 1 << 15;
/// Output rows per band: the unit of parallel work and of tiling.
const BAND_ROWS: usize = 16;
/// Output columns per tile. A tile of `TILE_COLS` × `BAND_ROWS` output pixels
/// reads a compact patch of the source whatever the rotation, instead of a
/// diagonal streak through hundreds of source rows (pages) per output row.
const TILE_COLS: usize = 64;

/// Warps `src` into `dst` through `theta` (output normalised → input normalised).
///
/// Every channel, alpha included, is sampled independently, as `grid_sample` does.
///
/// # Panics
/// If the two images' channel counts differ or are not 1 to 4, or a buffer's
/// length does not match its dimensions. Zero-sized images are fine.
pub fn warp_into<T: Sample>(
    src: ImageRef<'_, T>,
    dst: ImageMut<'_, T>,
    theta: &Affine,
    opts: &WarpOptions,
) {
    assert_eq!(src.channels, dst.channels, "channel counts differ");
    assert!((1..=4).contains(&src.channels), "1 to 4 channels");
    assert_eq!(src.data.len(), src.width * src.height * src.channels);
    assert_eq!(dst.data.len(), dst.width * dst.height * dst.channels);
    if dst.data.is_empty() {
        return;
    }
    if src.data.is_empty() {
        dst.data.fill(T::default());
        return;
    }
    let map = theta.sampling_map(
        Size::new(src.width as u32, src.height as u32),
        Size::new(dst.width as u32, dst.height as u32),
        opts.align_corners,
    );
    match src.channels {
        1 => dispatch::<T, 1>(src, dst, &map, opts),
        2 => dispatch::<T, 2>(src, dst, &map, opts),
        3 => dispatch::<T, 3>(src, dst, &map, opts),
        _ => dispatch::<T, 4>(src, dst, &map, opts),
    }
}

fn dispatch<T: Sample, const C: usize>(
    src: ImageRef<'_, T>,
    dst: ImageMut<'_, T>,
    map: &Affine,
    opts: &WarpOptions,
) {
    match opts.interp {
        Interp::Bilinear => rows::<T, C, scalar::Bilinear>(src, dst, map, opts),
        Interp::Nearest => rows::<T, C, scalar::Nearest>(src, dst, map, opts),
        Interp::Bicubic => rows::<T, C, scalar::Bicubic>(src, dst, map, opts),
    }
}

/// Runs every output row, in parallel when the output is large enough.
fn rows<T: Sample, const C: usize, K: scalar::Kernel>(
    src: ImageRef<'_, T>,
    dst: ImageMut<'_, T>,
    map: &Affine,
    opts: &WarpOptions,
) {
    let src = scalar::Src {
        data: src.data,
        width: src.width,
        height: src.height,
    };
    let (n, row_len) = (dst.width, dst.width * C);
    let band = |(k, rows): (usize, &mut [T])| {
        let first = k * BAND_ROWS;
        let mut plans = [None; BAND_ROWS];
        for (i, plan) in plans.iter_mut().take(rows.len() / row_len).enumerate() {
            let row = grid::Row::new(map, first + i);
            *plan = Some(scalar::RowPlan::new::<K>(
                row, n, src.width, src.height, opts,
            ));
        }
        for c0 in (0..n).step_by(TILE_COLS) {
            let cols = c0..(c0 + TILE_COLS).min(n);
            for (out, plan) in rows.chunks_mut(row_len).zip(plans.iter().flatten()) {
                scalar::warp_cols::<T, C, K>(&src, out, plan, cols.clone(), opts);
            }
        }
    };
    let chunk = row_len * BAND_ROWS;
    if dst.width * dst.height < PARALLEL_MIN_PIXELS || rayon::current_num_threads() == 1 {
        dst.data.chunks_mut(chunk).enumerate().for_each(band);
    } else {
        dst.data.par_chunks_mut(chunk).enumerate().for_each(band);
    }
}

/// Allocates a zeroed sample buffer, failing cleanly instead of aborting when too large.
fn alloc<T: Sample>(len: usize) -> Result<Vec<T>, Error> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::Usage(format!(
            "output image needs {len} samples, more memory than is available"
        ))
    })?;
    v.resize(len, T::default());
    Ok(v)
}

/// Warps one image of a concrete pixel type.
fn warp_buffer<P>(
    img: &ImageBuffer<P, Vec<P::Subpixel>>,
    theta: &Affine,
    out: Size,
    opts: &WarpOptions,
) -> Result<ImageBuffer<P, Vec<P::Subpixel>>, Error>
where
    P: Pixel,
    P::Subpixel: Sample,
{
    let channels = usize::from(P::CHANNEL_COUNT);
    let (w, h) = (out.width as usize, out.height as usize);
    let len = w
        .checked_mul(h)
        .and_then(|n| n.checked_mul(channels))
        .ok_or_else(|| Error::Usage(format!("output size {out} is too large")))?;
    let mut data = alloc::<P::Subpixel>(len)?;
    warp_into(
        ImageRef {
            data: img.as_raw(),
            width: img.width() as usize,
            height: img.height() as usize,
            channels,
        },
        ImageMut {
            data: &mut data,
            width: w,
            height: h,
            channels,
        },
        theta,
        opts,
    );
    Ok(ImageBuffer::from_raw(out.width, out.height, data).expect("buffer sized above"))
}

/// Warps a decoded image through `theta` to an image of size `out`, keeping the
/// input's bit depth and channel layout.
pub fn warp_image(
    img: &DynamicImage,
    theta: &Affine,
    out: Size,
    opts: &WarpOptions,
) -> Result<DynamicImage, Error> {
    use DynamicImage as D;
    Ok(match img {
        D::ImageLuma8(b) => D::ImageLuma8(warp_buffer(b, theta, out, opts)?),
        D::ImageLumaA8(b) => D::ImageLumaA8(warp_buffer(b, theta, out, opts)?),
        D::ImageRgb8(b) => D::ImageRgb8(warp_buffer(b, theta, out, opts)?),
        D::ImageRgba8(b) => D::ImageRgba8(warp_buffer(b, theta, out, opts)?),
        D::ImageLuma16(b) => D::ImageLuma16(warp_buffer(b, theta, out, opts)?),
        D::ImageLumaA16(b) => D::ImageLumaA16(warp_buffer(b, theta, out, opts)?),
        D::ImageRgb16(b) => D::ImageRgb16(warp_buffer(b, theta, out, opts)?),
        D::ImageRgba16(b) => D::ImageRgba16(warp_buffer(b, theta, out, opts)?),
        D::ImageRgb32F(b) => D::ImageRgb32F(warp_buffer(b, theta, out, opts)?),
        D::ImageRgba32F(b) => D::ImageRgba32F(warp_buffer(b, theta, out, opts)?),
        other => D::ImageRgba32F(warp_buffer(&other.to_rgba32f(), theta, out, opts)?),
    })
}
