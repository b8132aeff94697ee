//! The warp engine: PyTorch's `affine_grid` + `grid_sample`, and their
//! projective and thin-plate-spline counterparts, without the grid.
//!
//! [`warp_into`] samples a source image through a [`Transform`] (see
//! [`crate::transform`]) into a destination image of any size. Where to
//! sample and how to interpolate are separate: a grid generator per family
//! ([`grid`]) gives the sampling points of each row tile, and the samplers
//! take points. Output rows are independent and run in parallel on rayon's
//! global pool; no H×W×2 grid is built. The per-pixel maths lives in
//! [`scalar`], which is the specification every faster kernel must match.
//!
//! Sampling of `u8` images with 1 to 4 channels (the hot cases) can also run
//! on SIMD kernels ([`Isa`], `avx2.rs` and `avx512.rs`, x86-64 only):
//! bilinear with the fixed-point scheme of `fixed.rs`, within one grey level
//! of the spec; nearest exactly as the spec; bicubic exactly as the spec on
//! AVX-512 and with the fixed-point model `fixed::cubic_sum` (within one
//! grey level of the spec) on AVX2. They take a buffer
//! of points, or make the points of an affine or projective row in registers
//! with the grid generator's own operations. Bilinear sampling of `u16`
//! images, 1 to 4 channels, has SIMD kernels too, exactly the spec (its
//! `f32` operations in the same order, its rounding), for the points whose
//! taps are all inside the image; the spec's slow path does the rest.
//! [`warp_into`] uses
//! [`Isa::detect`]; [`warp_into_with`] takes the ISA explicitly, e.g. to test
//! every kernel.

#[cfg(target_arch = "x86_64")]
mod avx2;
// AVX-512 intrinsics are stable since Rust 1.89 (see avx512.rs).
#[cfg(target_arch = "x86_64")]
#[clippy::msrv = "1.89"]
mod avx512;
mod fixed;
pub mod grid;
mod isa;
pub mod scalar;

pub use isa::Isa;

use std::mem::MaybeUninit;

use image::{DynamicImage, ImageBuffer, Pixel};
use rayon::prelude::*;

use crate::affine::{Affine, Size};
use crate::error::Error;
use crate::transform::Transform;

use grid::{Bounds, Grid};

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
    /// The samples as bytes if `Self` is `u8` (which has SIMD kernels).
    #[doc(hidden)]
    fn as_u8(_data: &[Self]) -> Option<&[u8]> {
        None
    }
    /// The samples as bytes if `Self` is `u8`.
    #[doc(hidden)]
    fn as_u8_uninit(_data: &mut [MaybeUninit<Self>]) -> Option<&mut [MaybeUninit<u8>]> {
        None
    }
    /// The samples as `u16`s if `Self` is `u16` (which has SIMD bilinear kernels).
    #[doc(hidden)]
    fn as_u16(_data: &[Self]) -> Option<&[u16]> {
        None
    }
    /// The samples as `u16`s if `Self` is `u16`.
    #[doc(hidden)]
    fn as_u16_uninit(_data: &mut [MaybeUninit<Self>]) -> Option<&mut [MaybeUninit<u16>]> {
        None
    }
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
    #[inline(always)]
    fn as_u8(data: &[u8]) -> Option<&[u8]> {
        Some(data)
    }
    #[inline(always)]
    fn as_u8_uninit(data: &mut [MaybeUninit<u8>]) -> Option<&mut [MaybeUninit<u8>]> {
        Some(data)
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
    #[inline(always)]
    fn as_u16(data: &[u16]) -> Option<&[u16]> {
        Some(data)
    }
    #[inline(always)]
    fn as_u16_uninit(data: &mut [MaybeUninit<u16>]) -> Option<&mut [MaybeUninit<u16>]> {
        Some(data)
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
/// Output rows per band: the unit of parallel work and of tiling. 32 rather
/// than 16 measured ~10 % faster on the 4K RGB SIMD warp (the source lines a
/// tile's rows share stay in cache); the scalar warp is indifferent.
const BAND_ROWS: usize = 32;
/// Output columns per tile. A tile of `TILE_COLS` × `BAND_ROWS` output pixels
/// reads a compact patch of the source whatever the rotation, instead of a
/// diagonal streak through hundreds of source rows (pages) per output row.
const TILE_COLS: usize = 64;
/// Output columns per tile for the SIMD nearest kernel: it does so little
/// per pixel that the output's write pattern dominates, and longer runs per
/// output row are faster (4K RGB, rotation 15°, Zen 5: 12.0 ms at 64
/// columns, 8.0 at 128, 7.7 at 256, 9.0 at 1024; bilinear is slower at 256).
const NEAREST_TILE_COLS: usize = 256;
/// The widest tile any kernel asks for (the point buffers' length).
const MAX_TILE_COLS: usize = 256;

/// Warps `src` into `dst` through `transform` (output normalised → input
/// normalised): an affine theta, a homography or a thin-plate spline.
///
/// Every channel, alpha included, is sampled independently, as `grid_sample` does.
/// Uses the kernels of [`Isa::detect`]; see [`warp_into_with`].
///
/// # Panics
/// If the two images' channel counts differ or are not 1 to 4, or a buffer's
/// length does not match its dimensions. Zero-sized images are fine.
pub fn warp_into<T: Sample>(
    src: ImageRef<'_, T>,
    dst: ImageMut<'_, T>,
    transform: &Transform,
    opts: &WarpOptions,
) {
    warp_into_with(src, dst, transform, opts, Isa::detect());
}

/// [`warp_into`] with the kernels of `isa`: `u8` warps and `u16` bilinear
/// warps run on that ISA's SIMD kernels (`u8` bilinear, and AVX2 `u8`
/// bicubic, within one grey level of the scalar spec; `u8` nearest, AVX-512
/// `u8` bicubic and `u16` bilinear exactly it), everything else on the
/// scalar spec. [`Isa::Scalar`] forces the spec.
///
/// # Panics
/// As [`warp_into`], and if `isa` is not supported by this CPU
/// ([`Isa::is_supported`]).
pub fn warp_into_with<T: Sample>(
    src: ImageRef<'_, T>,
    dst: ImageMut<'_, T>,
    transform: &Transform,
    opts: &WarpOptions,
    isa: Isa,
) {
    assert_eq!(src.channels, dst.channels, "channel counts differ");
    let out = Out {
        data: uninit_view(dst.data),
        width: dst.width,
        height: dst.height,
        first_row: None,
    };
    warp_out(src, out, transform, opts, isa);
}

/// Warps a batch of images of one size into outputs of one size, image `k`
/// through `transforms[k]`, as [`warp_into`] would one by one, the images
/// spread over the thread pool (as PyTorch's `grid_sample` does an
/// `N × C × H × W` batch). `src` and `dst` describe one image each; their
/// `data` hold `transforms.len()` images back to back.
///
/// # Panics
/// As [`warp_into`], and if a buffer does not hold `transforms.len()`
/// images of its size.
pub fn warp_batch<T: Sample>(
    src: ImageRef<'_, T>,
    dst: ImageMut<'_, T>,
    transforms: &[Transform],
    opts: &WarpOptions,
) {
    assert_eq!(src.channels, dst.channels, "channel counts differ");
    let n = transforms.len();
    let (src_len, dst_len) = (
        src.width * src.height * src.channels,
        dst.width * dst.height * dst.channels,
    );
    assert_eq!(src.data.len(), n * src_len, "source batch size");
    assert_eq!(dst.data.len(), n * dst_len, "destination batch size");
    if n == 0 || dst_len == 0 {
        return;
    }
    let isa = Isa::detect();
    // Enough images per task that a task is worth sending to another
    // thread (≥ 2^15 output pixels, as for one image's bands).
    let per_task = (PARALLEL_MIN_PIXELS / (dst.width * dst.height).max(1)).clamp(1, n);
    let one = |((s, d), t): ((&[T], &mut [T]), &Transform)| {
        let s = ImageRef { data: s, ..src };
        let d = ImageMut {
            data: d,
            width: dst.width,
            height: dst.height,
            channels: dst.channels,
        };
        warp_into_with(s, d, t, opts, isa);
    };
    if src_len == 0 {
        // Empty sources: the outputs are all padding; one image at a time.
        for (d, t) in dst.data.chunks_mut(dst_len).zip(transforms) {
            one(((src.data, d), t));
        }
        return;
    }
    // Images in order, each warped while the next one's source is fetched
    // into the cache (small ones: a 28×28 digit is 13 lines, whose misses
    // were ~10 % of its warp).
    let run = |s: &[T], d: &mut [T], t: &[Transform]| {
        let mut next = s.chunks(src_len).skip(1);
        for ((s, d), t) in s.chunks(src_len).zip(d.chunks_mut(dst_len)).zip(t) {
            if let Some(n) = next.next() {
                prefetch_small(n);
            }
            one(((s, d), t));
        }
    };
    if rayon::current_num_threads() == 1 {
        run(src.data, dst.data, transforms);
        return;
    }
    src.data
        .par_chunks(src_len * per_task)
        .zip(dst.data.par_chunks_mut(dst_len * per_task))
        .zip(transforms.par_chunks(per_task))
        .for_each(|((s, d), t)| run(s, d, t));
}

/// Asks the CPU to bring `data` into the cache, if it is small (at most
/// 16 KiB: a larger image's rows are prefetched by the kernels as they go).
fn prefetch_small<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(data);
        if bytes > 16 << 10 {
            return;
        }
        let p = data.as_ptr().cast::<i8>();
        for at in (0..bytes).step_by(64) {
            // SAFETY: SSE is part of x86-64; a prefetch is a hint without
            // memory effects (any address will do; this one is in `data`).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(at)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// The destination of the row engine: `width × height` pixels of the
/// source's channel count, either initialised (a caller's `&mut [T]`, seen
/// through [`uninit_view`]) or a fresh, uninitialised buffer
/// ([`warp_buffer`]). The engine writes every sample exactly once, by the
/// kernels or with padding zeros, and never reads one, so a fresh buffer is
/// not zeroed first (that cost a write of the whole output: ~1 % of `stn
/// rectify` on 640×480 JPEG photos, ~2.5 % on 12-MP ones).
struct Out<'a, T> {
    data: &'a mut [MaybeUninit<T>],
    width: usize,
    /// Rows in `data`.
    height: usize,
    /// `None` for a whole output image; for a band of a larger output
    /// ([`Bands`]), the output row that `data`'s first row is.
    first_row: Option<usize>,
}

/// `data` as possibly uninitialised samples.
fn uninit_view<T>(data: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout. The engine only writes
    // initialised values through the view (the kernels and padding zeros),
    // so `data` stays initialised when the borrow ends.
    unsafe { &mut *(data as *mut [T] as *mut [MaybeUninit<T>]) }
}

/// In builds with debug assertions (the tests), fills `data` with a byte
/// pattern no warp produces everywhere (0xA5), so that a sample the engine
/// failed to write shows as a wrong value rather than a lucky zero from a
/// fresh page. Nothing in release builds.
#[inline]
fn poison<T>(data: &mut [MaybeUninit<T>]) {
    #[cfg(debug_assertions)]
    // SAFETY: `data` is valid for writes of its whole length in bytes; any
    // bytes are a valid `MaybeUninit<T>`.
    unsafe {
        std::ptr::write_bytes(data.as_mut_ptr(), 0xA5, data.len())
    };
    #[cfg(not(debug_assertions))]
    let _ = data;
}

/// Writes `src` into the start of `dst`, initialising those samples.
///
/// # Panics
/// If `dst` is shorter than `src`.
#[inline]
fn write_slice<T: Copy>(dst: &mut [MaybeUninit<T>], src: &[T]) {
    let dst = &mut dst[..src.len()];
    for (d, s) in dst.iter_mut().zip(src) {
        d.write(*s);
    }
}

/// Writes the `C` samples of one pixel, made by `f` (a scalar-spec kernel,
/// which writes an initialised `&mut [T]`), into `px`.
#[inline(always)]
fn pixel<T: Sample, const C: usize>(px: &mut [MaybeUninit<T>], f: impl FnOnce(&mut [T])) {
    let mut p = [T::default(); 4];
    f(&mut p[..C]);
    write_slice(px, &p[..C]);
}

/// [`warp_into_with`] into an [`Out`], which it initialises completely
/// (every sample written, by the kernels or with zeros), whatever the
/// transform, options and sizes.
fn warp_out<T: Sample>(
    src: ImageRef<'_, T>,
    dst: Out<'_, T>,
    transform: &Transform,
    opts: &WarpOptions,
    isa: Isa,
) {
    assert!(isa.is_supported(), "kernel {isa} is not supported here");
    assert!((1..=4).contains(&src.channels), "1 to 4 channels");
    assert_eq!(src.data.len(), src.width * src.height * src.channels);
    assert_eq!(dst.data.len(), dst.width * dst.height * src.channels);
    if dst.data.is_empty() {
        return;
    }
    poison(dst.data);
    if src.data.is_empty() {
        dst.data.fill(MaybeUninit::new(T::default()));
        return;
    }
    let grid = grid::build(
        transform,
        Size::new(src.width as u32, src.height as u32),
        Size::new(dst.width as u32, dst.height as u32),
        opts.align_corners,
    );
    warp_grid(src, dst, &*grid, opts, isa);
}

/// [`warp_out`] through a grid built for the whole output (of which `dst`
/// may be a band, see [`Out::first_row`]); `src` and `dst` are checked.
fn warp_grid<T: Sample>(
    src: ImageRef<'_, T>,
    dst: Out<'_, T>,
    grid: &dyn Grid,
    opts: &WarpOptions,
    isa: Isa,
) {
    match src.channels {
        1 => dispatch::<T, 1>(src, dst, grid, opts, isa),
        2 => dispatch::<T, 2>(src, dst, grid, opts, isa),
        3 => dispatch::<T, 3>(src, dst, grid, opts, isa),
        _ => dispatch::<T, 4>(src, dst, grid, opts, isa),
    }
}

fn dispatch<T: Sample, const C: usize>(
    src: ImageRef<'_, T>,
    dst: Out<'_, T>,
    grid: &dyn Grid,
    opts: &WarpOptions,
    isa: Isa,
) {
    match opts.interp {
        Interp::Bilinear => simd_or_spec::<T, C, scalar::Bilinear>(src, dst, grid, opts, isa),
        Interp::Nearest => simd_or_spec::<T, C, scalar::Nearest>(src, dst, grid, opts, isa),
        Interp::Bicubic => simd_or_spec::<T, C, scalar::Bicubic>(src, dst, grid, opts, isa),
    }
}

/// Runs `u8` images on `isa`'s SIMD kernel for `opts.interp` (whose scalar
/// counterpart, for the slow path, is `K`) if there is one, else the spec.
fn simd_or_spec<T: Sample, const C: usize, K: scalar::Kernel>(
    src: ImageRef<'_, T>,
    dst: Out<'_, T>,
    grid: &dyn Grid,
    opts: &WarpOptions,
    isa: Isa,
) {
    let wide = T::as_u16(src.data)
        .and_then(|data| fixed::Plane16::new(data, src.width, src.height, C))
        .and_then(|p| Simd16::new(opts.interp, isa, &p).map(|k| (p, k)));
    if let Some((plane, simd)) = wide {
        let out = T::as_u16_uninit(&mut *dst.data).expect("T is u16");
        let dst = Out {
            data: out,
            width: dst.width,
            height: dst.height,
            first_row: dst.first_row,
        };
        let src = ImageRef {
            data: plane.data(),
            width: src.width,
            height: src.height,
            channels: C,
        };
        return simd_rows16::<C, K>(src, dst, grid, opts, &plane, simd);
    }
    let plane =
        T::as_u8(src.data).and_then(|data| fixed::Plane::new(data, src.width, src.height, C));
    if let Some((plane, simd)) = plane.and_then(|p| Simd::new(opts.interp, isa, &p).map(|k| (p, k)))
    {
        let out = T::as_u8_uninit(&mut *dst.data).expect("T is u8");
        let dst = Out {
            data: out,
            width: dst.width,
            height: dst.height,
            first_row: dst.first_row,
        };
        let src = ImageRef {
            data: plane.data(),
            width: src.width,
            height: src.height,
            channels: C,
        };
        return simd_rows::<C, K>(src, dst, grid, opts, &plane, simd);
    }
    rows::<T, C, K>(src, dst, grid, opts)
}

/// A SIMD kernel: samples the points `(u[k], v[k])` into the pixels of `out`.
type PointsFn = unsafe fn(&fixed::Plane<'_>, &[f64], &[f64], &mut [MaybeUninit<u8>]);
/// A SIMD kernel: samples output columns `j0 .. j0 + out.len() / C` of an
/// affine row, its points made in registers.
type RowFn = unsafe fn(&fixed::Plane<'_>, &grid::Row, usize, &mut [MaybeUninit<u8>]);
/// A SIMD kernel: the same for a projective row, zero padding.
type ProjFn = unsafe fn(&fixed::Plane<'_>, &grid::ProjRow, usize, &mut [MaybeUninit<u8>]);
/// A SIMD image kernel: samples a whole output image of the given width
/// through a sampling map, zero padding.
type ImageFn = unsafe fn(&fixed::Plane<'_>, &[f64; 6], usize, &mut [MaybeUninit<u8>]);

/// A SIMD `u8` kernel the CPU supports, for one interpolation and channel
/// count: fixed-point bilinear (within one level of the spec), nearest
/// (exactly the spec) or bicubic (AVX-512: exactly the spec; AVX2: the
/// fixed-point model, within one level). Each applies zero padding itself; with border or
/// reflection padding it only gets points whose taps are all inside.
#[derive(Clone, Copy)]
struct Simd {
    run: PointsFn,
    row: RowFn,
    /// `row` for columns whose taps are all inside, if the kernel has a
    /// shorter step for them (AVX2 bilinear).
    inner: Option<RowFn>,
    proj: ProjFn,
    image: ImageFn,
    channels: usize,
}

impl Simd {
    /// The kernel of `isa` for `interp` and `plane`'s channel count, if there
    /// is one and the CPU supports it.
    #[allow(unused_variables)] // on targets without SIMD kernels
    fn new(interp: Interp, isa: Isa, plane: &fixed::Plane<'_>) -> Option<Self> {
        if !isa.is_supported() {
            return None;
        }
        let channels = plane.channels();
        #[cfg(target_arch = "x86_64")]
        {
            // The four entry points of one kernel (see avx2.rs, avx512.rs).
            macro_rules! set {
                ($m:ident::{$run:ident, $row:ident, $proj:ident, $image:ident}[$($p:tt)*]) => {
                    (
                        $m::$run::<$($p)*> as PointsFn,
                        $m::$row::<$($p)*> as RowFn,
                        $m::$proj::<$($p)*> as ProjFn,
                        $m::$image::<$($p)*> as ImageFn,
                    )
                };
            }
            macro_rules! bilinear {
                ($m:ident, $($p:tt)*) => {
                    set!($m::{bilinear, bilinear_row, bilinear_proj, bilinear_image}[$($p)*])
                };
            }
            macro_rules! bicubic {
                ($m:ident, $($p:tt)*) => {
                    set!($m::{bicubic, bicubic_row, bicubic_proj, bicubic_image}[$($p)*])
                };
            }
            macro_rules! nearest {
                ($m:ident, $($p:tt)*) => {
                    set!($m::{nearest, nearest_row, nearest_proj, nearest_image}[$($p)*])
                };
            }
            use Interp::{Bicubic, Bilinear, Nearest};
            // Gathers or loads, as `fast_gathers` says.
            let gather = isa::fast_gathers();
            let (run, row, proj, image) = match (interp, isa, channels) {
                (Bilinear, Isa::Avx2, 1) => bilinear!(avx2, 1),
                (Bilinear, Isa::Avx2, 2) => bilinear!(avx2, 2),
                (Bilinear, Isa::Avx2, 3) => bilinear!(avx2, 3),
                (Bilinear, Isa::Avx2, 4) => bilinear!(avx2, 4),
                (Bilinear, Isa::Avx512, 1) if gather => bilinear!(avx512, 1, true),
                (Bilinear, Isa::Avx512, 1) => bilinear!(avx512, 1, false),
                (Bilinear, Isa::Avx512, 2) if gather => bilinear!(avx512, 2, true),
                (Bilinear, Isa::Avx512, 2) => bilinear!(avx512, 2, false),
                (Bilinear, Isa::Avx512, 3) if gather => bilinear!(avx512, 3, true),
                (Bilinear, Isa::Avx512, 3) => bilinear!(avx512, 3, false),
                (Bilinear, Isa::Avx512, 4) if gather => bilinear!(avx512, 4, true),
                (Bilinear, Isa::Avx512, 4) => bilinear!(avx512, 4, false),
                (Nearest, Isa::Avx2, 1) => nearest!(avx2, 1),
                (Nearest, Isa::Avx2, 2) => nearest!(avx2, 2),
                (Nearest, Isa::Avx2, 3) => nearest!(avx2, 3),
                (Nearest, Isa::Avx2, 4) => nearest!(avx2, 4),
                (Nearest, Isa::Avx512, 1) if gather => nearest!(avx512, 1, true),
                (Nearest, Isa::Avx512, 1) => nearest!(avx512, 1, false),
                (Nearest, Isa::Avx512, 2) if gather => nearest!(avx512, 2, true),
                (Nearest, Isa::Avx512, 2) => nearest!(avx512, 2, false),
                (Nearest, Isa::Avx512, 3) if gather => nearest!(avx512, 3, true),
                (Nearest, Isa::Avx512, 3) => nearest!(avx512, 3, false),
                (Nearest, Isa::Avx512, 4) if gather => nearest!(avx512, 4, true),
                (Nearest, Isa::Avx512, 4) => nearest!(avx512, 4, false),
                (Bicubic, Isa::Avx2, 1) => bicubic!(avx2, 1),
                (Bicubic, Isa::Avx2, 2) => bicubic!(avx2, 2),
                (Bicubic, Isa::Avx2, 3) => bicubic!(avx2, 3),
                (Bicubic, Isa::Avx2, 4) => bicubic!(avx2, 4),
                (Bicubic, Isa::Avx512, 1) => bicubic!(avx512, 1),
                (Bicubic, Isa::Avx512, 2) => bicubic!(avx512, 2),
                (Bicubic, Isa::Avx512, 3) => bicubic!(avx512, 3),
                (Bicubic, Isa::Avx512, 4) => bicubic!(avx512, 4),
                _ => return None,
            };
            let inner = match (interp, isa, channels) {
                (Bilinear, Isa::Avx2, 1) => Some(avx2::bilinear_row_inner::<1> as RowFn),
                (Bilinear, Isa::Avx2, 2) => Some(avx2::bilinear_row_inner::<2> as RowFn),
                (Bilinear, Isa::Avx2, 3) => Some(avx2::bilinear_row_inner::<3> as RowFn),
                (Bilinear, Isa::Avx2, 4) => Some(avx2::bilinear_row_inner::<4> as RowFn),
                _ => None,
            };
            Some(Simd {
                run,
                row,
                inner,
                proj,
                image,
                channels,
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        None
    }

    /// Samples the points `(u[k], v[k])` into the pixels of `out`.
    #[inline]
    fn run(&self, plane: &fixed::Plane<'_>, u: &[f64], v: &[f64], out: &mut [MaybeUninit<u8>]) {
        assert_eq!(plane.channels(), self.channels);
        // SAFETY: `new` checked that the CPU supports the kernel's ISA, and
        // picked the kernel instantiated for `self.channels`, which is the
        // plane's channel count (asserted above).
        unsafe { (self.run)(plane, u, v, out) }
    }

    /// Samples output columns `j0 .. j0 + out.len() / C` of the affine `row`;
    /// `inner`: their taps are all inside the image (`Bilinear::interior`
    /// for bilinear), where the kernel's interior step, if it has one, gives
    /// the same bytes, perhaps faster.
    #[inline]
    fn row(
        &self,
        plane: &fixed::Plane<'_>,
        row: &grid::Row,
        j0: usize,
        out: &mut [MaybeUninit<u8>],
        inner: bool,
    ) {
        assert_eq!(plane.channels(), self.channels);
        let kernel = match self.inner {
            Some(k) if inner => k,
            _ => self.row,
        };
        // SAFETY: as in `run`.
        unsafe { kernel(plane, row, j0, out) }
    }

    /// Samples output columns `j0 .. j0 + out.len() / C` of the projective
    /// `row`, zero padding.
    #[inline]
    fn proj(
        &self,
        plane: &fixed::Plane<'_>,
        row: &grid::ProjRow,
        j0: usize,
        out: &mut [MaybeUninit<u8>],
    ) {
        assert_eq!(plane.channels(), self.channels);
        // SAFETY: as in `run`.
        unsafe { (self.proj)(plane, row, j0, out) }
    }

    /// Samples all of `out`, an image `width` pixels wide, through `map`
    /// with zero padding.
    #[inline]
    fn image(
        &self,
        plane: &fixed::Plane<'_>,
        map: &Affine,
        width: usize,
        out: &mut [MaybeUninit<u8>],
    ) {
        assert_eq!(plane.channels(), self.channels);
        // SAFETY: as in `run`.
        unsafe { (self.image)(plane, &map.0, width, out) }
    }
}

/// A SIMD `u16` kernel: samples the points `(u[k], v[k])` into the pixels of `out`.
type Points16Fn = unsafe fn(&fixed::Plane16<'_>, &[f64], &[f64], &mut [MaybeUninit<u16>]);
/// A SIMD `u16` kernel: samples output columns `j0 .. j0 + out.len() / C` of
/// an affine row, its points made in registers.
type Row16Fn = unsafe fn(&fixed::Plane16<'_>, &grid::Row, usize, &mut [MaybeUninit<u16>]);

/// A SIMD `u16` bilinear kernel the CPU supports, for one channel count:
/// exactly the scalar spec's `Bilinear::fast` (same `f32` operations, same
/// rounding), for points whose taps are all inside; the spec's slow path
/// does the rest.
#[derive(Clone, Copy)]
struct Simd16 {
    run: Points16Fn,
    row: Row16Fn,
    channels: usize,
}

impl Simd16 {
    /// The kernel of `isa` for `interp` and `plane`'s channel count, if there
    /// is one and the CPU supports it.
    #[allow(unused_variables)] // on targets without SIMD kernels
    fn new(interp: Interp, isa: Isa, plane: &fixed::Plane16<'_>) -> Option<Self> {
        if interp != Interp::Bilinear || !isa.is_supported() {
            return None;
        }
        let channels = plane.channels();
        #[cfg(target_arch = "x86_64")]
        {
            macro_rules! set {
                ($m:ident, $c:literal) => {
                    (
                        $m::bilinear16::<$c> as Points16Fn,
                        $m::bilinear16_row::<$c> as Row16Fn,
                    )
                };
            }
            let (run, row) = match (isa, channels) {
                (Isa::Avx2, 1) => set!(avx2, 1),
                (Isa::Avx2, 2) => set!(avx2, 2),
                (Isa::Avx2, 3) => set!(avx2, 3),
                (Isa::Avx2, 4) => set!(avx2, 4),
                (Isa::Avx512, 1) => set!(avx512, 1),
                (Isa::Avx512, 2) => set!(avx512, 2),
                (Isa::Avx512, 3) => set!(avx512, 3),
                (Isa::Avx512, 4) => set!(avx512, 4),
                _ => return None,
            };
            Some(Simd16 { run, row, channels })
        }
        #[cfg(not(target_arch = "x86_64"))]
        None
    }

    /// Samples the points `(u[k], v[k])` into the pixels of `out`.
    #[inline]
    fn run(&self, plane: &fixed::Plane16<'_>, u: &[f64], v: &[f64], out: &mut [MaybeUninit<u16>]) {
        assert_eq!(plane.channels(), self.channels);
        // SAFETY: `new` checked that the CPU supports the kernel's ISA, and
        // picked the kernel instantiated for `self.channels`, which is the
        // plane's channel count (asserted above).
        unsafe { (self.run)(plane, u, v, out) }
    }

    /// Samples output columns `j0 .. j0 + out.len() / C` of the affine `row`.
    #[inline]
    fn row(
        &self,
        plane: &fixed::Plane16<'_>,
        row: &grid::Row,
        j0: usize,
        out: &mut [MaybeUninit<u16>],
    ) {
        assert_eq!(plane.channels(), self.channels);
        // SAFETY: as in `run`.
        unsafe { (self.row)(plane, row, j0, out) }
    }
}

/// [`rows`] for `u16` bilinear with a SIMD kernel ([`Simd16`]) for the
/// points whose taps are all inside; the spec's slow path and zeros for the
/// rest, planned exactly as [`rows`] plans them. The output is the spec's.
fn simd_rows16<const C: usize, K: scalar::Kernel>(
    src: ImageRef<'_, u16>,
    dst: Out<'_, u16>,
    grid: &dyn Grid,
    opts: &WarpOptions,
    plane: &fixed::Plane16<'_>,
    simd: Simd16,
) {
    let fast = Fast {
        points: |u: &[f64], v: &[f64], out: &mut [MaybeUninit<u16>]| simd.run(plane, u, v, out),
        row: |row: &grid::Row, j0: usize, out: &mut [MaybeUninit<u16>], _inner: bool| {
            simd.row(plane, row, j0, out)
        },
        has_inner: false,
        proj: None::<fn(&grid::ProjRow, usize, &mut [MaybeUninit<u16>])>,
    };
    rows_with::<u16, C, K>(src, dst, grid, opts, false, TILE_COLS, fast);
}

/// Outputs of at most this many pixels, with rows narrower than
/// [`SIMD_SPAN_MIN`], run as one flat SIMD pass with zero padding (no rows,
/// bands or tiles) when the grid is affine: the per-call cost of e.g. a 28×28
/// image is then a few hundred cycles.
const SIMD_IMAGE_MAX: usize = 1 << 14;

/// Rows narrower than this skip the zero-padding span search: the SIMD kernel
/// runs over the whole row (it produces the padding zeros itself).
const SIMD_SPAN_MIN: usize = 128;

/// [`rows`] for `u8` with a SIMD kernel whose scalar counterpart is `K`.
/// With zero padding the kernel takes every point of the reach (it applies
/// the padding itself); with border or reflection padding only the interior,
/// the rest being the spec's slow path.
fn simd_rows<const C: usize, K: scalar::Kernel>(
    src: ImageRef<'_, u8>,
    dst: Out<'_, u8>,
    grid: &dyn Grid,
    opts: &WarpOptions,
    plane: &fixed::Plane<'_>,
    simd: Simd,
) {
    let fast = Fast {
        points: |u: &[f64], v: &[f64], out: &mut [MaybeUninit<u8>]| simd.run(plane, u, v, out),
        row: |row: &grid::Row, j0: usize, out: &mut [MaybeUninit<u8>], inner: bool| {
            simd.row(plane, row, j0, out, inner)
        },
        has_inner: simd.inner.is_some(),
        proj: Some(
            |row: &grid::ProjRow, j0: usize, out: &mut [MaybeUninit<u8>]| {
                simd.proj(plane, row, j0, out)
            },
        ),
    };
    let zeros = opts.padding == Padding::Zeros;
    match grid.as_affine() {
        Some(map)
            if zeros
                && dst.first_row.is_none()
                && dst.width < SIMD_SPAN_MIN
                && dst.width * dst.height <= SIMD_IMAGE_MAX =>
        {
            simd.image(plane, map, dst.width, dst.data)
        }
        _ => {
            let tile_cols = match opts.interp {
                Interp::Nearest => NEAREST_TILE_COLS,
                _ => TILE_COLS,
            };
            rows_with::<u8, C, K>(src, dst, grid, opts, zeros, tile_cols, fast)
        }
    }
}

/// Runs every output row, in parallel when the output is large enough.
fn rows<T: Sample, const C: usize, K: scalar::Kernel>(
    src: ImageRef<'_, T>,
    dst: Out<'_, T>,
    grid: &dyn Grid,
    opts: &WarpOptions,
) {
    let sampler = scalar::Src {
        data: src.data,
        width: src.width,
        height: src.height,
    };
    let fast = Fast {
        points: |u: &[f64], v: &[f64], out: &mut [MaybeUninit<T>]| {
            for ((u, v), px) in u.iter().zip(v).zip(out.chunks_exact_mut(C)) {
                pixel::<T, C>(px, |p| K::fast::<T, C>(&sampler, *u, *v, p));
            }
        },
        row: |row: &grid::Row, j0: usize, out: &mut [MaybeUninit<T>], _inner: bool| {
            for (k, px) in out.chunks_exact_mut(C).enumerate() {
                let (u, v) = row.at(j0 + k);
                pixel::<T, C>(px, |p| K::fast::<T, C>(&sampler, u, v, p));
            }
        },
        has_inner: false,
        proj: None::<fn(&grid::ProjRow, usize, &mut [MaybeUninit<T>])>,
    };
    rows_with::<T, C, K>(src, dst, grid, opts, false, TILE_COLS, fast);
}

/// A fast sampler for the points whose taps are all inside (or, for kernels
/// that apply zero padding themselves, any points): from a buffer of points,
/// or from an affine row (points made on the fly, no buffer).
struct Fast<P, R, Q> {
    /// Samples the points `(u[k], v[k])` into the pixels of `out`.
    points: P,
    /// Samples output columns `j0 .. j0 + out.len() / C` of an affine row;
    /// the flag says that their taps are all inside the image.
    row: R,
    /// Whether `row` is faster when told that the taps are all inside: then
    /// zero-padded rows are split at the interior's span to tell it.
    has_inner: bool,
    /// Samples output columns `j0 .. j0 + out.len() / C` of a projective
    /// row with zero padding, if the kernel can (the SIMD ones).
    proj: Option<Q>,
}

/// How the columns of one output row split, when the grid can tell
/// ([`Grid::span`]): `[0, ra)` zeros, `[ra, a)` slow, `[a, b)` fast,
/// `[b, rb)` slow, `[rb, n)` zeros; `[ia, ib)`, inside `[a, b)`, the fast
/// columns whose taps are all inside (told to the kernels that have a
/// shorter step for them, [`Fast::has_inner`]; else empty).
#[derive(Clone, Copy, Debug)]
struct Plan {
    ra: usize,
    a: usize,
    b: usize,
    rb: usize,
    ia: usize,
    ib: usize,
}

/// Interior runs shorter than this are not split off for the kernels'
/// shorter step ([`Plan`]): a call costs more than it saves.
const INNER_MIN: usize = 32;

/// The row loop: bands of [`BAND_ROWS`] rows (in parallel when the output is
/// large enough), tiles of `tile_cols` (≤ [`MAX_TILE_COLS`]) columns. For each row of a tile the
/// grid fills the sampling points; `fast` samples the points whose taps are
/// all inside the image (or, if `fast_pads_zeros`, every point of the zero
/// padding's reach), the spec's slow path the rest.
fn rows_with<T: Sample, const C: usize, K: scalar::Kernel>(
    src: ImageRef<'_, T>,
    dst: Out<'_, T>,
    grid: &dyn Grid,
    opts: &WarpOptions,
    fast_pads_zeros: bool,
    tile_cols: usize,
    fast: Fast<
        impl Fn(&[f64], &[f64], &mut [MaybeUninit<T>]) + Sync,
        impl Fn(&grid::Row, usize, &mut [MaybeUninit<T>], bool) + Sync,
        impl Fn(&grid::ProjRow, usize, &mut [MaybeUninit<T>]) + Sync,
    >,
) {
    let (w, h) = (src.width, src.height);
    let src = scalar::Src {
        data: src.data,
        width: w,
        height: h,
    };
    let interior = K::interior(w, h);
    let reach = K::reach(w, h);
    let zeros = opts.padding == Padding::Zeros;
    let (n, row_len) = (dst.width, dst.width * C);
    // The plan of a row, for grids that know their spans.
    let plan = |i: usize| -> Option<Plan> {
        let (ra, rb) = if zeros {
            if n < SIMD_SPAN_MIN && fast_pads_zeros {
                (0, n)
            } else {
                grid.span(i, n, &reach)?
            }
        } else {
            (0, n)
        };
        if fast_pads_zeros {
            // The kernel takes the whole reach; its interior part, if it
            // has a shorter step for that.
            let (ia, ib) = match fast.has_inner {
                true => grid.span(i, n, &interior).unwrap_or((ra, ra)),
                false => (ra, ra),
            };
            let ia = ia.clamp(ra, rb);
            return Some(Plan {
                ra,
                a: ra,
                b: rb,
                rb,
                ia,
                ib: ib.clamp(ia, rb),
            });
        }
        let (mut a, mut b) = grid.span(i, n, &interior)?;
        if a == b {
            (a, b) = (ra, ra);
        }
        Some(Plan {
            ra,
            a,
            b,
            rb,
            ia: a,
            ib: b,
        })
    };
    let first_row = dst.first_row.unwrap_or(0);
    let band = |(k, rows): (usize, &mut [MaybeUninit<T>])| {
        let first = first_row + k * BAND_ROWS;
        let mut plans = [None; BAND_ROWS];
        for (r, p) in plans.iter_mut().take(rows.len() / row_len).enumerate() {
            *p = plan(first + r);
        }
        // Buffers for the points of rows that are filled in (affine rows
        // make theirs in registers): zeroed on first use, not per band.
        let mut points: Option<([f64; MAX_TILE_COLS], [f64; MAX_TILE_COLS])> = None;
        for c0 in (0..n).step_by(tile_cols) {
            let m = tile_cols.min(n - c0);
            for (r, out) in rows.chunks_mut(row_len).enumerate() {
                let out = &mut out[c0 * C..(c0 + m) * C];
                let run = Run {
                    src: &src,
                    opts,
                    interior: &interior,
                    reach: &reach,
                    fast_pads_zeros,
                    fast: &fast,
                };
                match (plans[r], grid.as_affine(), grid.as_projective(), &fast.proj) {
                    // Affine rows: spans known, points made where needed.
                    (Some(p), Some(map), _, _) => {
                        run.planned::<C, K>(p, &grid::Row::new(map, first + r), c0, out)
                    }
                    // Projective rows, zero padding, SIMD: points in registers.
                    (_, _, Some(h), Some(proj)) if fast_pads_zeros => {
                        proj(&grid::ProjRow::new(h, first + r), c0, out)
                    }
                    _ => {
                        let (us, vs) = match &mut points {
                            Some(p) => p,
                            none => none.insert(([0.0f64; MAX_TILE_COLS], [0.0f64; MAX_TILE_COLS])),
                        };
                        let (u, v) = (&mut us[..m], &mut vs[..m]);
                        grid.fill(first + r, c0, u, v);
                        match plans[r] {
                            Some(p) => run.planned_points::<C, K>(p, c0, u, v, out),
                            None => run.classified::<C, K>(u, v, out),
                        }
                    }
                }
            }
        }
    };
    let chunk = row_len * BAND_ROWS;
    // A band of a larger output ([`Bands`]) runs on the caller's thread.
    if dst.width * dst.height < PARALLEL_MIN_PIXELS
        || rayon::current_num_threads() == 1
        || dst.first_row.is_some()
    {
        dst.data.chunks_mut(chunk).enumerate().for_each(band);
    } else {
        dst.data.par_chunks_mut(chunk).enumerate().for_each(band);
    }
}

/// What sampling one run of points needs.
struct Run<'a, T, P, R, Q> {
    src: &'a scalar::Src<'a, T>,
    opts: &'a WarpOptions,
    interior: &'a Bounds,
    reach: &'a Bounds,
    fast_pads_zeros: bool,
    fast: &'a Fast<P, R, Q>,
}

impl<
        T: Sample,
        P: Fn(&[f64], &[f64], &mut [MaybeUninit<T>]),
        R: Fn(&grid::Row, usize, &mut [MaybeUninit<T>], bool),
        Q,
    > Run<'_, T, P, R, Q>
{
    /// Samples columns `c0 .. c0 + out.len() / C` of the affine `row`,
    /// planned by its spans, without a point buffer.
    fn planned<const C: usize, K: scalar::Kernel>(
        &self,
        p: Plan,
        row: &grid::Row,
        c0: usize,
        out: &mut [MaybeUninit<T>],
    ) {
        self.planned_with::<C, K>(
            p,
            c0,
            out,
            |k| row.at(c0 + k),
            |r, out, inner| (self.fast.row)(row, c0 + r.start, out, inner),
        );
    }

    /// Samples the points `(u, v)` of columns `c0 .. c0 + u.len()` of a row
    /// planned by its spans.
    fn planned_points<const C: usize, K: scalar::Kernel>(
        &self,
        p: Plan,
        c0: usize,
        u: &[f64],
        v: &[f64],
        out: &mut [MaybeUninit<T>],
    ) {
        self.planned_with::<C, K>(
            p,
            c0,
            out,
            |k| (u[k], v[k]),
            |r, out, _| (self.fast.points)(&u[r.clone()], &v[r], out),
        );
    }

    /// Samples columns `c0 .. c0 + out.len() / C` of a row planned by its
    /// spans: zeros, the spec's slow path at `point(k)` (tile-relative `k`),
    /// and `fast(range, pixels, inner)` for the fast span, split where its
    /// interior part is long enough (`inner`: the range's taps are all inside).
    fn planned_with<const C: usize, K: scalar::Kernel>(
        &self,
        p: Plan,
        c0: usize,
        out: &mut [MaybeUninit<T>],
        point: impl Fn(usize) -> (f64, f64),
        fast: impl Fn(std::ops::Range<usize>, &mut [MaybeUninit<T>], bool),
    ) {
        let m = out.len() / C;
        // Column range [lo, hi) of the row, relative to the tile.
        let rel = |lo: usize, hi: usize| {
            let lo = lo.clamp(c0, c0 + m) - c0;
            lo..(hi.clamp(c0, c0 + m) - c0).max(lo)
        };
        for r in [rel(0, p.ra), rel(p.rb, usize::MAX)] {
            out[r.start * C..r.end * C].fill(MaybeUninit::new(T::default()));
        }
        for k in rel(p.ra, p.a).chain(rel(p.b, p.rb)) {
            let (u, v) = point(k);
            pixel::<T, C>(&mut out[k * C..k * C + C], |p| {
                K::slow::<T, C>(self.src, u, v, self.opts, p)
            });
        }
        let r = rel(p.a, p.b);
        let inner = rel(p.ia, p.ib);
        let parts = if inner.len() >= INNER_MIN {
            [
                (r.start..inner.start, false),
                (inner.clone(), true),
                (inner.end..r.end, false),
            ]
        } else {
            [(r, false), (0..0, false), (0..0, false)]
        };
        for (r, inner) in parts {
            if !r.is_empty() {
                fast(r.clone(), &mut out[r.start * C..r.end * C], inner);
            }
        }
    }

    /// Samples the points `(u, v)`, classifying each: fast inside the
    /// interior (in runs), zero outside the zero padding's reach, else slow.
    fn classified<const C: usize, K: scalar::Kernel>(
        &self,
        u: &[f64],
        v: &[f64],
        out: &mut [MaybeUninit<T>],
    ) {
        if self.fast_pads_zeros {
            (self.fast.points)(u, v, out);
            return;
        }
        let zeros = self.opts.padding == Padding::Zeros;
        let m = u.len();
        let mut k = 0;
        while k < m {
            if self.interior.contains(u[k], v[k]) {
                let start = k;
                while k < m && self.interior.contains(u[k], v[k]) {
                    k += 1;
                }
                (self.fast.points)(&u[start..k], &v[start..k], &mut out[start * C..k * C]);
            } else {
                let px = &mut out[k * C..k * C + C];
                if zeros && !self.reach.contains(u[k], v[k]) {
                    px.fill(MaybeUninit::new(T::default()));
                } else {
                    pixel::<T, C>(px, |p| K::slow::<T, C>(self.src, u[k], v[k], self.opts, p));
                }
                k += 1;
            }
        }
    }
}

/// An empty buffer with room for `len` samples, failing cleanly instead of
/// aborting when too large. It is not zeroed: [`warp_out`] writes every
/// sample (see [`Out`]), so a zero-fill here would be a wasted pass over the
/// image.
fn alloc<T: Sample>(len: usize) -> Result<Vec<T>, Error> {
    if let Some(v) = crate::malloc::take_spare::<T>(len) {
        return Ok(v);
    }
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::Usage(format!(
            "output image needs {len} samples, more memory than is available"
        ))
    })?;
    crate::malloc::advise_huge_pages(v.as_mut_ptr().cast(), len * std::mem::size_of::<T>());
    Ok(v)
}

/// Warps one image of a concrete pixel type.
fn warp_buffer<P>(
    img: &ImageBuffer<P, Vec<P::Subpixel>>,
    transform: &Transform,
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
    warp_out(
        ImageRef {
            data: img.as_raw(),
            width: img.width() as usize,
            height: img.height() as usize,
            channels,
        },
        Out {
            data: &mut data.spare_capacity_mut()[..len],
            width: w,
            height: h,
            first_row: None,
        },
        transform,
        opts,
        Isa::detect(),
    );
    // SAFETY: `alloc` reserved room for `len` samples, and `warp_out`
    // initialised all `len` of them (its contract: every sample is written,
    // by a kernel or with zeros, including for empty inputs).
    unsafe { data.set_len(len) };
    Ok(ImageBuffer::from_raw(out.width, out.height, data).expect("buffer sized above"))
}

/// A warp run band by band: the grid is built once, and each call to
/// [`Bands::rows_into`] samples a range of output rows, on the calling thread.
/// A caller can then warp rows as soon as the source rows they read exist
/// (`stn warp` warps a JPEG while it is still being decoded) and spread the
/// bands over threads itself. The samples are exactly [`warp_into`]'s.
pub struct Bands<'a, T> {
    src: ImageRef<'a, T>,
    grid: Box<dyn Grid + 'a>,
    out: Size,
    opts: WarpOptions,
    isa: Isa,
}

impl<'a, T: Sample> Bands<'a, T> {
    /// Prepares the warp of `src` through `transform` to an output of size `out`.
    ///
    /// # Panics
    /// As [`warp_into`], for `src`.
    pub fn new(
        src: ImageRef<'a, T>,
        transform: &'a Transform,
        out: Size,
        opts: &WarpOptions,
    ) -> Self {
        assert!((1..=4).contains(&src.channels), "1 to 4 channels");
        assert_eq!(src.data.len(), src.width * src.height * src.channels);
        let grid = grid::build(
            transform,
            Size::new(src.width as u32, src.height as u32),
            out,
            opts.align_corners,
        );
        Bands {
            src,
            grid,
            out,
            opts: *opts,
            isa: Isa::detect(),
        }
    }

    /// How many of the source's first rows output rows `first .. first + n`
    /// can read (taps, and a row of margin for the SIMD kernels' wide
    /// loads), at most the source's height: for an affine grid with zero or
    /// border padding, from the rows' four corners; the whole source
    /// otherwise.
    pub fn source_rows(&self, first: usize, n: usize) -> usize {
        let h = self.src.height;
        let (w, last) = (self.out.width as usize, (first + n).saturating_sub(1));
        let (Some(map), Padding::Zeros | Padding::Border) =
            (self.grid.as_affine(), self.opts.padding)
        else {
            return h;
        };
        let [_, _, _, d, e, f] = map.0;
        let v = |j: usize, i: usize| d * j as f64 + e * i as f64 + f;
        let right = w.saturating_sub(1);
        let top = [v(0, first), v(right, first), v(0, last), v(right, last)]
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max);
        // Bicubic reads rows floor(v) - 1 ..= floor(v) + 2; one more row of
        // margin; border padding reads row 0 even when every point is above.
        let rows = (top.floor() + 4.0).max(4.0);
        if rows.is_finite() && rows < h as f64 {
            rows as usize
        } else {
            h
        }
    }

    /// Writes output rows `first ..` into `rows`, whole rows of the output
    /// (`width · channels` samples each), on this thread.
    ///
    /// # Panics
    /// If `rows` is not whole rows, or they are not inside the output.
    pub fn rows_into(&self, first: usize, rows: &mut [MaybeUninit<T>]) {
        let (w, h) = (self.out.width as usize, self.out.height as usize);
        let row_len = w * self.src.channels;
        if row_len == 0 {
            return;
        }
        assert_eq!(rows.len() % row_len, 0, "whole rows");
        let n = rows.len() / row_len;
        assert!(first <= h && n <= h - first, "rows outside the output");
        poison(rows);
        if self.src.data.is_empty() {
            // All padding: zeros.
            rows.fill(MaybeUninit::new(T::default()));
            return;
        }
        let dst = Out {
            data: rows,
            width: w,
            height: n,
            first_row: Some(first),
        };
        warp_grid(self.src, dst, &*self.grid, &self.opts, self.isa);
    }
}

/// Warps a decoded image through `transform` to an image of size `out`,
/// keeping the input's bit depth and channel layout.
pub fn warp_image(
    img: &DynamicImage,
    transform: &Transform,
    out: Size,
    opts: &WarpOptions,
) -> Result<DynamicImage, Error> {
    use DynamicImage as D;
    Ok(match img {
        D::ImageLuma8(b) => D::ImageLuma8(warp_buffer(b, transform, out, opts)?),
        D::ImageLumaA8(b) => D::ImageLumaA8(warp_buffer(b, transform, out, opts)?),
        D::ImageRgb8(b) => D::ImageRgb8(warp_buffer(b, transform, out, opts)?),
        D::ImageRgba8(b) => D::ImageRgba8(warp_buffer(b, transform, out, opts)?),
        D::ImageLuma16(b) => D::ImageLuma16(warp_buffer(b, transform, out, opts)?),
        D::ImageLumaA16(b) => D::ImageLumaA16(warp_buffer(b, transform, out, opts)?),
        D::ImageRgb16(b) => D::ImageRgb16(warp_buffer(b, transform, out, opts)?),
        D::ImageRgba16(b) => D::ImageRgba16(warp_buffer(b, transform, out, opts)?),
        D::ImageRgb32F(b) => D::ImageRgb32F(warp_buffer(b, transform, out, opts)?),
        D::ImageRgba32F(b) => D::ImageRgba32F(warp_buffer(b, transform, out, opts)?),
        other => D::ImageRgba32F(warp_buffer(&other.to_rgba32f(), transform, out, opts)?),
    })
}

#[cfg(test)]
mod tests;
