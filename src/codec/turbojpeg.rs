//! libjpeg-turbo through its TurboJPEG C API, loaded at run time: JPEG
//! decoding and encoding at the speed of the library OpenCV and Pillow use
//! (and with its pixels: the same IDCT and chroma upsampling). With
//! [`super::libjpeg`] (the same library's row-by-row decoder), the only files
//! that touch libjpeg-turbo.
//!
//! The library is looked for, in order: `STN_TURBOJPEG_LIB` (a path), the
//! per-user cache `build.rs` fills (`${XDG_CACHE_HOME:-~/.cache}/stn/libjpeg-turbo/`),
//! the path `build.rs` recorded, and the system's `libturbojpeg.so.0`. Only the
//! TurboJPEG 2 functions are used, present in every libjpeg-turbo since 1.4
//! (Debian's `libturbojpeg0` is 2.1.5). `STN_JPEG=rust` turns it off: then, as
//! when no library loads, the pure-Rust codecs run (zune-jpeg through `image`,
//! `jpeg-encoder`).

use std::cell::RefCell;
use std::env;
use std::ffi::{c_char, c_int, c_uchar, c_ulong, c_void, CStr};
use std::path::PathBuf;
use std::sync::OnceLock;

type Handle = *mut c_void;

/// The TurboJPEG functions stn calls.
struct Api {
    init_compress: unsafe extern "C" fn() -> Handle,
    init_decompress: unsafe extern "C" fn() -> Handle,
    destroy: unsafe extern "C" fn(Handle) -> c_int,
    header: unsafe extern "C" fn(
        Handle,
        *const c_uchar,
        c_ulong,
        *mut c_int,
        *mut c_int,
        *mut c_int,
        *mut c_int,
    ) -> c_int,
    decompress: unsafe extern "C" fn(
        Handle,
        *const c_uchar,
        c_ulong,
        *mut c_uchar,
        c_int,
        c_int,
        c_int,
        c_int,
        c_int,
    ) -> c_int,
    compress: unsafe extern "C" fn(
        Handle,
        *const c_uchar,
        c_int,
        c_int,
        c_int,
        c_int,
        *mut *mut c_uchar,
        *mut c_ulong,
        c_int,
        c_int,
        c_int,
    ) -> c_int,
    buf_size: unsafe extern "C" fn(c_int, c_int, c_int) -> c_ulong,
    error: unsafe extern "C" fn(Handle) -> *mut c_char,
    /// Where it was loaded from (a bare file name: the loader's search).
    path: PathBuf,
    /// Keeps the functions above loaded.
    _lib: libloading::Library,
}

// TurboJPEG constants (turbojpeg.h).
const TJPF_RGB: c_int = 0;
const TJPF_RGBX: c_int = 2;
const TJPF_GRAY: c_int = 6;
const TJSAMP_420: c_int = 2;
const TJSAMP_GRAY: c_int = 3;
const TJCS_RGB: c_int = 0;
const TJCS_YCBCR: c_int = 1;
const TJCS_GRAY: c_int = 2;
const TJFLAG_NOREALLOC: c_int = 1024;
/// The islow DCT (libjpeg's default, and Pillow's and OpenCV's); TurboJPEG 2 would
/// otherwise encode with the less accurate ifast one.
const TJFLAG_ACCURATEDCT: c_int = 4096;
/// Refuse progressive files with more than 500 scans (a known way to make a
/// small file cost minutes of CPU); libjpeg-turbo 2.1 and later.
const TJFLAG_LIMITSCANS: c_int = 32768;

/// The library's file name; keep in step with `build.rs`.
pub const LIB_NAME: &str = "libturbojpeg.so.0";

fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let explicit = env::var_os("STN_TURBOJPEG_LIB").filter(|p| !p.is_empty());
    if let Some(dir) = crate::cache::dir() {
        out.push(dir.join("libjpeg-turbo").join(LIB_NAME));
    }
    if let Some(p) = option_env!("STN_TURBOJPEG_BUILD_PATH") {
        out.push(PathBuf::from(p));
    }
    out.retain(|p| p.is_file());
    // First what the user named (reported if it fails), last the dynamic
    // loader's own search (a system libjpeg-turbo).
    if let Some(p) = explicit {
        out.insert(0, PathBuf::from(p));
    }
    out.push(PathBuf::from(LIB_NAME));
    out
}

fn load(path: &PathBuf) -> Result<Api, libloading::Error> {
    // SAFETY: loading libjpeg-turbo runs no initialisers with preconditions;
    // each symbol is given the signature turbojpeg.h declares for it.
    unsafe {
        let lib = libloading::Library::new(path)?;
        Ok(Api {
            init_compress: *lib.get(b"tjInitCompress\0")?,
            init_decompress: *lib.get(b"tjInitDecompress\0")?,
            destroy: *lib.get(b"tjDestroy\0")?,
            header: *lib.get(b"tjDecompressHeader3\0")?,
            decompress: *lib.get(b"tjDecompress2\0")?,
            compress: *lib.get(b"tjCompress2\0")?,
            buf_size: *lib.get(b"tjBufSize\0")?,
            error: *lib.get(b"tjGetErrorStr2\0")?,
            path: path.clone(),
            _lib: lib,
        })
    }
}

/// The loaded library, or `None` (pure-Rust codecs) when `STN_JPEG=rust` or
/// no candidate loads. An explicit `STN_TURBOJPEG_LIB` that fails to load
/// is reported once on standard error.
fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        if env::var("STN_JPEG").is_ok_and(|v| v.eq_ignore_ascii_case("rust")) {
            return None;
        }
        let explicit = env::var_os("STN_TURBOJPEG_LIB").filter(|p| !p.is_empty());
        for path in candidates() {
            match load(&path) {
                Ok(api) => return Some(api),
                Err(e) if explicit.as_deref() == Some(path.as_os_str()) => {
                    eprintln!(
                        "stn: warning: STN_TURBOJPEG_LIB={}: {e}; not used",
                        path.display()
                    );
                }
                Err(_) => {}
            }
        }
        None
    })
    .as_ref()
}

/// Whether JPEG files go through libjpeg-turbo in this process.
pub fn available() -> bool {
    api().is_some()
}

/// The path the library was loaded from (a bare file name if the dynamic
/// loader found it), or `None` if it is not in use.
pub fn loaded_from() -> Option<&'static std::path::Path> {
    api().map(|a| a.path.as_path())
}

/// One thread's TurboJPEG handles (a handle is not to be shared between
/// threads), created on first use and destroyed with the thread.
struct Handles {
    api: &'static Api,
    compress: Handle,
    decompress: Handle,
}

impl Handles {
    fn error(&self, h: Handle) -> String {
        // SAFETY: tjGetErrorStr2 returns a NUL-terminated string owned by the
        // handle (or a static one), valid until the next call on the handle.
        let s = unsafe { (self.api.error)(h) };
        if s.is_null() {
            return "libjpeg-turbo failed".into();
        }
        // SAFETY: as above.
        unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
    }
}

impl Drop for Handles {
    fn drop(&mut self) {
        for h in [self.compress, self.decompress] {
            if !h.is_null() {
                // SAFETY: created by tjInit* and destroyed only here.
                unsafe { (self.api.destroy)(h) };
            }
        }
    }
}

thread_local! {
    static HANDLES: RefCell<Option<Handles>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's handles; `None` without the library.
fn with_handles<T>(f: impl FnOnce(&Handles) -> Option<T>) -> Option<T> {
    let api = api()?;
    HANDLES.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            // SAFETY: plain constructors; a null handle is checked before use.
            let (compress, decompress) =
                unsafe { ((api.init_compress)(), (api.init_decompress)()) };
            *slot = Some(Handles {
                api,
                compress,
                decompress,
            });
        }
        f(slot.as_ref()?)
    })
}

/// The decoded pixels: 8-bit grey or RGB, row-major, no padding.
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    /// 1 (grey) or 3 (RGB).
    pub channels: u8,
    pub pixels: Vec<u8>,
}

/// Decodes a JPEG file's pixels with libjpeg-turbo (the JFIF conversion to
/// RGB, islow IDCT and "fancy" chroma upsampling: what libjpeg's defaults,
/// Pillow and OpenCV give). `None` without the library, for colour spaces
/// other than grey, YCbCr and RGB (CMYK, YCCK), for files over
/// `max_pixels`, and for anything the library fails on or warns about (the
/// caller then runs its pure-Rust decoder, which reports errors in its words).
///
/// With `prepare` (a process warping this one image, with more than one
/// thread), a second thread meanwhile faults in the pages of the decoded
/// buffer ahead of the decoder and prepares a buffer of the same size for
/// the warp's output ([`crate::malloc::prepare_spare`]).
pub fn decode(bytes: &[u8], max_pixels: u64, prepare: bool) -> Option<Decoded> {
    with_handles(|h| {
        let d = h.decompress;
        if d.is_null() {
            return None;
        }
        let len = c_ulong::try_from(bytes.len()).ok()?;
        let (mut w, mut ht, mut subsamp, mut cs) = (0, 0, 0, 0);
        // SAFETY: the buffer is valid for `len` bytes; the outputs are locals.
        let r = unsafe {
            (h.api.header)(
                d,
                bytes.as_ptr(),
                len,
                &mut w,
                &mut ht,
                &mut subsamp,
                &mut cs,
            )
        };
        if r != 0 || w <= 0 || ht <= 0 {
            return None;
        }
        let (channels, format) = match cs {
            TJCS_GRAY => (1u8, TJPF_GRAY),
            TJCS_YCBCR | TJCS_RGB => (3, TJPF_RGB),
            _ => return None,
        };
        let (width, height) = (w as u32, ht as u32);
        if u64::from(width) * u64::from(height) > max_pixels {
            return None;
        }
        let n = width as usize * height as usize * channels as usize;
        let mut pixels: Vec<u8> = Vec::new();
        pixels.try_reserve_exact(n).ok()?;
        crate::malloc::advise_huge_pages(pixels.as_mut_ptr(), n);
        let pitch = w.checked_mul(c_int::from(channels))?;
        // SAFETY: the destination has room for `height` rows of `pitch`
        // bytes; tjDecompress2 writes all of them when it returns 0.
        let decompress = |dst: *mut u8| unsafe {
            (h.api.decompress)(
                d,
                bytes.as_ptr(),
                len,
                dst,
                w,
                pitch,
                ht,
                format,
                TJFLAG_LIMITSCANS | TJFLAG_ACCURATEDCT,
            )
        };
        let dst = pixels.as_mut_ptr();
        let r = if prepare && rayon::current_num_threads() > 1 && n >= 4 << 20 {
            let at = dst as usize;
            std::thread::scope(|s| {
                s.spawn(move || {
                    crate::malloc::populate(at as *mut u8, n);
                    crate::malloc::prepare_spare(n);
                });
                decompress(dst)
            })
        } else {
            decompress(dst)
        };
        if r != 0 {
            return None;
        }
        // SAFETY: every byte was written (above).
        unsafe { pixels.set_len(n) };
        Some(Decoded {
            width,
            height,
            channels,
            pixels,
        })
    })
}

/// Encodes 8-bit grey (1 channel), RGB (3) or RGBA (4, alpha ignored) rows of
/// `row_bytes` bytes as a
/// baseline JPEG at libjpeg's `quality` (4:2:0 chroma for colour, the
/// standard Huffman tables), into a new buffer. `None` without the library;
/// an error message if it fails.
pub fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: u8,
    row_bytes: usize,
    quality: u8,
) -> Option<Result<Vec<u8>, String>> {
    with_handles(|h| {
        let c = h.compress;
        if c.is_null() {
            return None;
        }
        let (format, subsamp) = match channels {
            1 => (TJPF_GRAY, TJSAMP_GRAY),
            3 => (TJPF_RGB, TJSAMP_420),
            4 => (TJPF_RGBX, TJSAMP_420),
            _ => return None,
        };
        let fail = |m: String| Some(Err(m));
        let (Ok(w), Ok(ht), Ok(pitch)) = (
            c_int::try_from(width),
            c_int::try_from(height),
            c_int::try_from(row_bytes),
        ) else {
            return fail(format!("{width}x{height} is too large"));
        };
        // The last row need not be padded to `row_bytes`.
        let row = width as usize * channels as usize;
        if height == 0 || pixels.len() < row_bytes * (height as usize - 1) + row || row_bytes < row
        {
            return fail("pixel buffer smaller than the image".into());
        }
        // SAFETY: a pure function of its arguments.
        let cap = unsafe { (h.api.buf_size)(w, ht, subsamp) };
        if cap == c_ulong::MAX {
            return fail(h.error(c));
        }
        let mut out: Vec<u8> = Vec::new();
        if out.try_reserve_exact(cap as usize).is_err() {
            return fail(format!("cannot allocate {cap} bytes"));
        }
        let mut ptr = out.as_mut_ptr();
        let mut size: c_ulong = cap;
        // SAFETY: the source holds `height` rows of `pitch` bytes (checked);
        // with TJFLAG_NOREALLOC the library writes at most `cap` bytes (its
        // own worst-case bound) into our buffer and never frees it.
        let r = unsafe {
            (h.api.compress)(
                c,
                pixels.as_ptr(),
                w,
                pitch,
                ht,
                format,
                &mut ptr,
                &mut size,
                subsamp,
                c_int::from(quality.clamp(1, 100)),
                TJFLAG_NOREALLOC | TJFLAG_ACCURATEDCT,
            )
        };
        if r != 0 || ptr != out.as_mut_ptr() || size > cap {
            return fail(h.error(c));
        }
        // SAFETY: the library wrote `size` bytes.
        unsafe { out.set_len(size as usize) };
        Some(Ok(out))
    })
}
