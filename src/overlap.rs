//! `stn warp` on one big JPEG with more than one thread: the warp runs
//! while libjpeg-turbo is still decoding. Decoding is serial (about 28 ms
//! for a 4K photo on the machines stn is measured on) and used to leave the
//! other cores idle; here the decoder hands rows over as it finishes them
//! ([`codec::JpegRows`]) and the other threads warp each band of output rows
//! as soon as the source rows it reads are there ([`Bands::source_rows`]),
//! so that most of the warp is done when the decoder is.
//!
//! The output is exactly [`warp::warp_image`]'s of the decoded image. A file
//! that the row decoder does not decode after all (progressive, corrupt) is
//! decoded and warped the usual way, which reports its errors.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use image::{DynamicImage, GrayImage, RgbImage};

use crate::affine::Size;
use crate::codec::{Image, JpegRows};
use crate::error::Error;
use crate::transform::Transform;
use crate::warp::{self, Bands, ImageRef, WarpOptions};

/// Output rows per unit of work: two of the warp's bands. Each unit waits
/// for the source rows it reads, then is warped by one thread.
const UNIT_ROWS: usize = 64;

/// Decodes `jpeg` and warps it through `transform` to an image of size
/// `out`, the two overlapping; returns the warped image and its profile.
pub fn warp_jpeg(
    jpeg: JpegRows,
    transform: &Transform,
    out: Size,
    opts: &WarpOptions,
) -> Result<Image, Error> {
    match overlapped(&jpeg, transform, out, opts) {
        Some(pixels) => Ok(Image {
            pixels,
            icc: jpeg.icc,
        }),
        None => {
            let img = jpeg.decode_fully()?;
            let pixels = warp::warp_image(&img.pixels, transform, out, opts)?;
            Ok(Image {
                pixels,
                icc: img.icc,
            })
        }
    }
}

/// A unit of output rows: its first row, the source rows it reads, and its
/// samples (until a thread takes them to warp).
type Unit<'a> = (usize, usize, Mutex<Option<&'a mut [MaybeUninit<u8>]>>);

/// How far the decoder is: rows complete, or that it failed.
struct Progress {
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl Progress {
    fn publish(&self, rows: usize, failed: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *s = (rows, failed);
        self.changed.notify_all();
    }

    /// Waits until at least `rows` rows are complete (`true`) or the
    /// decoder failed (`false`).
    fn wait(&self, rows: usize) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.0 < rows && !s.1 {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        !s.1
    }
}

/// The overlapped decode and warp; `None` if the decoder failed (or the
/// buffers could not be had).
fn overlapped(
    jpeg: &JpegRows,
    transform: &Transform,
    out: Size,
    opts: &WarpOptions,
) -> Option<DynamicImage> {
    let c = usize::from(jpeg.channels);
    let (w, h) = (jpeg.size.width as usize, jpeg.size.height as usize);
    let src_len = jpeg.pixel_bytes();
    let row_len = out.width as usize * c;
    let out_len = row_len * out.height as usize;
    let mut src: Vec<u8> = Vec::new();
    let mut dst: Vec<u8> = Vec::new();
    src.try_reserve_exact(src_len).ok()?;
    dst.try_reserve_exact(out_len).ok()?;
    crate::malloc::advise_huge_pages(src.as_mut_ptr(), src_len);
    crate::malloc::advise_huge_pages(dst.as_mut_ptr(), out_len);
    let base = src.as_mut_ptr();
    // SAFETY: `src` has room for `src_len` bytes. The slice covers rows the
    // decoder has not written yet and is writing, through `base`; the warp
    // reads only the rows `Bands::source_rows` names for a unit, and only
    // after the decoder has handed them over (published under the progress
    // mutex, which orders its writes before the warp's reads), so no byte is
    // read before or while it is written. (Rust's aliasing models differ on
    // a shared slice over bytes written elsewhere that it never reads:
    // Tree Borrows and LLVM's `noalias`, which constrain only the bytes
    // accessed, allow it; kernels taking raw pointers would settle it.)
    let view: &[u8] = unsafe { std::slice::from_raw_parts(base, src_len) };
    let source = ImageRef {
        data: view,
        width: w,
        height: h,
        channels: c,
    };
    let bands = Bands::new(source, transform, out, opts);
    let units: Vec<Unit<'_>> = dst.spare_capacity_mut()[..out_len]
        .chunks_mut(UNIT_ROWS * row_len)
        .enumerate()
        .map(|(k, rows)| {
            let first = k * UNIT_ROWS;
            let need = bands.source_rows(first, rows.len() / row_len);
            (first, need, Mutex::new(Some(rows)))
        })
        .collect();
    let progress = Progress {
        state: Mutex::new((0, false)),
        changed: Condvar::new(),
    };
    let next = AtomicUsize::new(0);
    // Takes units in order until none is left or the decoder failed.
    let work = || {
        while let Some((first, need, rows)) = units.get(next.fetch_add(1, Ordering::Relaxed)) {
            if !progress.wait(*need) {
                return;
            }
            let rows = rows.lock().unwrap_or_else(|e| e.into_inner()).take();
            bands.rows_into(*first, rows.expect("each unit is taken once"));
        }
    };
    let base = base as usize;
    let mut decoded = false;
    // The decoder on this thread, the warp on the pool's other threads; this
    // thread joins the warp when the image is decoded.
    rayon::scope(|s| {
        for _ in 1..rayon::current_num_threads() {
            s.spawn(|_| work());
        }
        let mut last = 0;
        let mut done = |rows: usize| {
            // Wake the warp every few rows, not on each of libjpeg's calls.
            if rows >= last + 16 || rows == h {
                last = rows;
                progress.publish(rows, false);
            }
        };
        // SAFETY: `src` has room for the image; nothing reads a row before
        // `done` hands it over (`work` waits for it).
        decoded = unsafe { jpeg.decode(base as *mut u8, &mut done) };
        progress.publish(if decoded { h } else { 0 }, !decoded);
        work();
    });
    if !decoded {
        return None;
    }
    // SAFETY: every unit was taken and warped (`work` stops early only if
    // the decoder failed), and `rows_into` writes all of a unit's samples.
    unsafe { dst.set_len(out_len) };
    let (ow, oh) = (out.width, out.height);
    Some(match c {
        1 => DynamicImage::ImageLuma8(GrayImage::from_raw(ow, oh, dst)?),
        _ => DynamicImage::ImageRgb8(RgbImage::from_raw(ow, oh, dst)?),
    })
}
