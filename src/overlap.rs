//! `stn warp` on one big image with more than one thread: the warp runs
//! while the image is still being read. Decoding a JPEG is serial (about
//! 28 ms for a 4K photo on the machines stn is measured on), and reading a
//! 25 MB PPM into fresh memory takes 5–35 ms; both used to leave the other
//! cores idle. Here the reader hands rows over as it finishes them
//! ([`crate::codec::Rows`]: libjpeg-turbo's row decoder, or slices of a raw
//! Netpbm file) and the other threads warp each band of output rows as soon
//! as the source rows it reads are there ([`Bands::source_rows`]), so that
//! most of the warp is done when the reading is; a JPEG output's strips are
//! encoded as soon as their rows are warped, and a Netpbm output's rows are
//! written to its file as soon as they are warped (no output image; the
//! disk writes start while the warp runs: a 4K PPM output, whose `fsync`
//! and write waited on a disk of ~500 MB/s after the warp, went from 61.5 to
//! 55.0 ms at 2 threads, median of 20 alternating runs on a Zen 3).
//!
//! The output is exactly [`warp::warp_image`]'s of the decoded image. A file
//! that the row reader does not read after all (a progressive or corrupt
//! JPEG, a read error) is read and warped the usual way, which reports its
//! errors.

use std::mem::MaybeUninit;
use std::sync::{Condvar, Mutex};

use image::{DynamicImage, GrayImage, RgbImage};

use crate::affine::Size;
use crate::codec::{Image, JpegStrips, NetpbmRowFile, Rows};
use crate::error::Error;
use crate::transform::Transform;
use crate::warp::{self, Bands, ImageRef, WarpOptions};

/// Output rows per unit of work: two of the warp's bands. Each unit waits
/// for the source rows it reads, then is warped by one thread.
const UNIT_ROWS: usize = 64;

/// Strips of a JPEG output encoded as soon as their rows are warped: more
/// than [`crate::codec`]'s two, so that some are encoded while the reader
/// still runs and the rest share the threads after it (stitched, the bytes
/// are one pass's whatever their number). Eight, not four: with four, the
/// last strip (~6 ms of encoding for a 4K photo) ran on one thread after
/// the other had finished; 4K JPEG → JPEG at 2 threads, alternating runs on
/// a Zen 3: 59.2 → 57.5 ms (20 pairs); twelve measured 1 % slower than eight.
const JPEG_STRIPS: u32 = 8;

/// Reads `input` and warps it through `transform` to an image of size
/// `out`, the two overlapping; returns the warped image and its profile.
/// With `jpeg_quality` (the output is a JPEG file), its strips are encoded
/// meanwhile too, returned for [`crate::codec::write_image_with`].
pub fn warp_rows(
    mut input: Rows,
    transform: &Transform,
    out: Size,
    opts: &WarpOptions,
    jpeg_quality: Option<u8>,
) -> Result<(Image, Option<JpegStrips>), Error> {
    let strips = jpeg_quality
        .and_then(|q| JpegStrips::new(out.width, out.height, input.channels(), q, JPEG_STRIPS));
    match overlapped_rows(&input, transform, out, opts, Sink::Image(strips.as_ref())) {
        Some(Warped::Image(pixels)) => Ok((
            Image {
                pixels,
                icc: input.take_icc(),
            },
            strips,
        )),
        _ => {
            let img = input.read_fully()?;
            let pixels = warp::warp_image(&img.pixels, transform, out, opts)?;
            Ok((
                Image {
                    pixels,
                    icc: img.icc,
                },
                None,
            ))
        }
    }
}

/// [`warp_rows`] for a Netpbm output that takes rows ([`NetpbmRowFile`]):
/// each unit of rows is written to `file` as soon as it is warped, so that
/// the disk writes overlap the reading and the warp, and there is no output
/// image. Finishes the file (flushed and renamed); returns its note.
pub fn warp_rows_to_file(
    mut input: Rows,
    transform: &Transform,
    out: Size,
    opts: &WarpOptions,
    file: NetpbmRowFile,
) -> Result<Option<String>, Error> {
    match overlapped_rows(&input, transform, out, opts, Sink::File(&file)) {
        Some(_) => file.finish(input.take_icc().as_deref()),
        None => {
            let img = input.read_fully()?;
            let pixels = warp::warp_image(&img.pixels, transform, out, opts)?;
            file.write_rows(0, pixels.as_bytes());
            file.finish(img.icc.as_deref())
        }
    }
}

/// Where [`overlapped`] puts the warped rows.
#[derive(Clone, Copy)]
enum Sink<'a> {
    /// Into an output image, a JPEG output's strips (if any) encoded from
    /// it as soon as their rows are warped.
    Image(Option<&'a JpegStrips>),
    /// Each unit written to the file as soon as it is warped.
    File(&'a NetpbmRowFile),
}

/// What [`overlapped`] made.
enum Warped {
    /// The output image ([`Sink::Image`]).
    Image(DynamicImage),
    /// Every row written to the file ([`Sink::File`]).
    Written,
}

/// A unit of output rows: its first row, its rows, and the source rows it
/// reads.
struct Unit {
    first: usize,
    rows: usize,
    need: usize,
}

/// What a thread can do next.
enum Job {
    Warp(usize),
    Encode(u32),
}

/// The shared state: how far the reader is, the next unit to warp, the
/// strips whose rows are all warped and not yet taken, and per strip the
/// units still to warp.
struct State {
    rows: usize,
    failed: bool,
    next: usize,
    ready: Vec<u32>,
    left: Vec<usize>,
}

/// The state and its wake-ups (new rows, a strip ready, a failure).
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, rows: usize, failed: bool) {
        let mut s = self.lock();
        (s.rows, s.failed) = (rows, failed);
        self.changed.notify_all();
    }

    /// The next job: a unit whose source rows are read, else a strip to
    /// encode, else waits for either; `None` when nothing is left to take
    /// (or the reader failed).
    fn next(&self, units: &[Unit]) -> Option<Job> {
        let mut s = self.lock();
        loop {
            if s.failed {
                return None;
            }
            if units.get(s.next).is_some_and(|u| s.rows >= u.need) {
                s.next += 1;
                return Some(Job::Warp(s.next - 1));
            }
            if let Some(k) = s.ready.pop() {
                return Some(Job::Encode(k));
            }
            if s.next >= units.len() {
                return None;
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// [`overlapped`] reading `input` ([`Rows::read`]).
fn overlapped_rows(
    input: &Rows,
    transform: &Transform,
    out: Size,
    opts: &WarpOptions,
    sink: Sink<'_>,
) -> Option<Warped> {
    // SAFETY: `overlapped` passes a buffer of `pixel_bytes` and reads no row
    // before `done` hands it over.
    let read = |dst: *mut u8, done: &mut dyn FnMut(usize)| unsafe { input.read(dst, done) };
    overlapped(
        (input.size(), input.channels()),
        read,
        transform,
        out,
        opts,
        sink,
    )
}

/// Marks the reading failed when dropped: while the reader unwinds.
struct StopOnUnwind<'a>(&'a Shared);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.publish(0, true);
    }
}

/// The overlapped decode and warp (and encode or write, as `sink` says) of
/// an image of `size` and `channels` (1 or 3) that `read` reads: given a
/// buffer of `width · height · channels` bytes, it fills it, calling
/// `done(n)` whenever the first `n` rows are complete, and says whether it
/// read them all ([`Rows::read`]'s contract). `None` if the reader failed
/// (or the buffers could not be had). A reader that panics makes the warp's
/// threads stop, and the panic goes on to the caller.
fn overlapped(
    (size, channels): (Size, u8),
    read: impl FnOnce(*mut u8, &mut dyn FnMut(usize)) -> bool + Send,
    transform: &Transform,
    out: Size,
    opts: &WarpOptions,
    sink: Sink<'_>,
) -> Option<Warped> {
    let (strips, file) = match sink {
        Sink::Image(strips) => (strips, None),
        Sink::File(file) => (None, Some(file)),
    };
    let c = usize::from(channels);
    let (w, h) = (size.width as usize, size.height as usize);
    let src_len = w * h * c;
    let row_len = out.width as usize * c;
    let out_len = row_len * out.height as usize;
    let mut src: Vec<u8> = Vec::new();
    // The output image, unless the rows go to a file.
    let mut dst: Vec<u8> = Vec::new();
    src.try_reserve_exact(src_len).ok()?;
    crate::malloc::advise_huge_pages(src.as_mut_ptr(), src_len);
    if file.is_none() {
        dst.try_reserve_exact(out_len).ok()?;
        crate::malloc::advise_huge_pages(dst.as_mut_ptr(), out_len);
    }
    let base = src.as_mut_ptr();
    // SAFETY: `src` has room for `src_len` bytes. The slice covers rows the
    // reader has not written yet and is writing, through `base`; the warp
    // reads only the rows `Bands::source_rows` names for a unit, and only
    // after the reader has handed them over (published under the state's
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
    let oh = out.height as usize;
    let units: Vec<Unit> = (0..oh)
        .step_by(UNIT_ROWS)
        .map(|first| {
            let rows = UNIT_ROWS.min(oh - first);
            let need = bands.source_rows(first, rows);
            Unit { first, rows, need }
        })
        .collect();
    // Units per strip, and the strips each unit's rows are in.
    let strip_rows = |k: u32| strips.map_or((0, 0), |s| s.rows(k));
    let in_strip = |u: &Unit, k: u32| {
        let (y0, n) = strip_rows(k);
        let (y0, y1) = (y0 as usize, (y0 + n) as usize);
        u.first < y1 && y0 < u.first + u.rows
    };
    let nstrips = strips.map_or(0, |s| s.strips());
    let left = (0..nstrips)
        .map(|k| units.iter().filter(|u| in_strip(u, k)).count())
        .collect();
    let shared = Shared {
        state: Mutex::new(State {
            rows: 0,
            failed: false,
            next: 0,
            ready: Vec::new(),
            left,
        }),
        changed: Condvar::new(),
    };
    let out_base = dst.as_mut_ptr() as usize;
    let work = || {
        // A unit's rows on their way to the file, this thread's.
        let mut scratch: Vec<MaybeUninit<u8>> = Vec::new();
        while let Some(job) = shared.next(&units) {
            match job {
                Job::Warp(k) => {
                    let u = &units[k];
                    if let Some(file) = file {
                        scratch.resize(u.rows * row_len, MaybeUninit::uninit());
                        bands.rows_into(u.first, &mut scratch);
                        // SAFETY: `rows_into` wrote every sample of its rows.
                        let rows = unsafe {
                            std::slice::from_raw_parts(scratch.as_ptr().cast::<u8>(), scratch.len())
                        };
                        file.write_rows(u.first, rows);
                        continue;
                    }
                    // SAFETY: unit `k` is taken once (`next`), and its rows
                    // are inside `dst`'s capacity and no other unit's.
                    let rows = unsafe {
                        std::slice::from_raw_parts_mut(
                            (out_base as *mut MaybeUninit<u8>).add(u.first * row_len),
                            u.rows * row_len,
                        )
                    };
                    bands.rows_into(u.first, rows);
                    let mut s = shared.lock();
                    for k in 0..nstrips {
                        if in_strip(u, k) {
                            s.left[k as usize] -= 1;
                            if s.left[k as usize] == 0 {
                                s.ready.push(k);
                                shared.changed.notify_all();
                            }
                        }
                    }
                }
                Job::Encode(k) => {
                    let (y0, n) = strip_rows(k);
                    // SAFETY: every unit with rows in strip `k` is warped
                    // (its count reached zero under the mutex, after their
                    // writes), and none writes there any more.
                    let rows = unsafe {
                        std::slice::from_raw_parts(
                            (out_base as *const u8).add(y0 as usize * row_len),
                            n as usize * row_len,
                        )
                    };
                    if let Some(s) = strips {
                        s.encode(k, rows);
                    }
                }
            }
        }
    };
    let base = base as usize;
    let mut ok = false;
    // The reader on one of the pool's threads (the scope's own), the warp
    // on the others; the reader joins the warp when the image is read.
    rayon::scope(|s| {
        for _ in 1..rayon::current_num_threads() {
            s.spawn(|_| work());
        }
        let mut last = 0;
        let mut done = |rows: usize| {
            // Wake the warp every few rows, not on each of libjpeg's calls.
            if rows >= last + 16 || rows == h {
                last = rows;
                shared.publish(rows, false);
            }
        };
        // If `read` unwinds, the other threads must not wait for its rows
        // forever (the scope waits for them before the panic goes on).
        let stop = StopOnUnwind(&shared);
        // `src` has room for the image; nothing reads a row before `done`
        // hands it over (`work` waits for it).
        ok = read(base as *mut u8, &mut done);
        std::mem::forget(stop);
        shared.publish(if ok { h } else { 0 }, !ok);
        work();
    });
    if !ok {
        return None;
    }
    if file.is_some() {
        return Some(Warped::Written);
    }
    // SAFETY: every unit was taken and warped (`work` stops early only if
    // the reader failed), and `rows_into` writes all of a unit's samples.
    unsafe { dst.set_len(out_len) };
    let (ow, oh) = (out.width, out.height);
    Some(Warped::Image(match c {
        1 => DynamicImage::ImageLuma8(GrayImage::from_raw(ow, oh, dst)?),
        _ => DynamicImage::ImageRgb8(RgbImage::from_raw(ow, oh, dst)?),
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::affine::Affine;

    /// A rotated, shrunk and shifted theta: each band of output rows reads
    /// source rows well below it, so the warp waits for the reader.
    fn theta() -> Transform {
        Affine([0.87, -0.23, 0.05, 0.23, 0.87, -0.03]).into()
    }

    /// A `w` × `h` RGB image of varied samples.
    fn image(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7 + y) as u8, (x ^ y) as u8, (y * 5 + x / 3) as u8])
        })
    }

    /// Runs `f` on a pool of two threads, in a thread of its own; `None` if
    /// it has not returned after a minute (it hangs).
    fn on_two_threads<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .expect("pool");
            let _ = tx.send(pool.install(f));
        });
        rx.recv_timeout(Duration::from_secs(60)).ok()
    }

    /// Reads `img` into the buffer 16 rows at a time (as libjpeg hands them
    /// over), then `then` decides what the reader does.
    fn reader<'a>(
        img: &'a RgbImage,
        rows: usize,
        then: impl FnOnce() -> bool + Send + 'a,
    ) -> impl FnOnce(*mut u8, &mut dyn FnMut(usize)) -> bool + Send + 'a {
        move |dst, done| {
            let pitch = img.width() as usize * 3;
            for (k, chunk) in img.as_raw()[..rows * pitch].chunks(16 * pitch).enumerate() {
                // SAFETY: `overlapped` passes room for the whole image.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        chunk.as_ptr(),
                        dst.add(k * 16 * pitch),
                        chunk.len(),
                    )
                };
                done((k * 16 + chunk.len() / pitch).min(rows));
            }
            then()
        }
    }

    #[test]
    fn overlapped_warp_equals_the_whole_image_warp() {
        let got = on_two_threads(|| {
            let img = image(301, 437);
            let size = Size::new(301, 437);
            let out = Size::new(280, 410);
            let opts = WarpOptions::default();
            let read = reader(&img, 437, || true);
            let warped = overlapped((size, 3), read, &theta(), out, &opts, Sink::Image(None));
            let Some(Warped::Image(got)) = warped else {
                panic!("the reader read everything")
            };
            let want = warp::warp_image(&DynamicImage::ImageRgb8(img), &theta(), out, &opts)
                .expect("warp");
            got == want
        });
        assert_eq!(got, Some(true));
    }

    #[test]
    fn a_failed_read_is_reported() {
        let got = on_two_threads(|| {
            let img = image(200, 300);
            let read = reader(&img, 100, || false);
            let opts = WarpOptions::default();
            let size = Size::new(200, 300);
            overlapped((size, 3), read, &theta(), size, &opts, Sink::Image(None)).is_none()
        });
        assert_eq!(got, Some(true), "None, without hanging");
    }

    #[test]
    fn a_reader_that_panics_stops_the_warp_and_the_panic_goes_on() {
        // Before the reader's unwinding was caught, the other thread waited
        // for rows forever, and so did the scope.
        let got = on_two_threads(|| {
            std::panic::catch_unwind(|| {
                let img = image(200, 300);
                let read = reader(&img, 100, || panic!("the reader failed"));
                let opts = WarpOptions::default();
                let size = Size::new(200, 300);
                overlapped((size, 3), read, &theta(), size, &opts, Sink::Image(None)).is_some()
            })
            .is_err()
        });
        assert_eq!(got, Some(true), "a panic, not a hang");
    }
}
