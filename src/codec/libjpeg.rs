//! libjpeg-turbo's row-by-row decoder, through the libjpeg 6.2 C API of
//! `libjpeg.so.62`, loaded at run time from beside the TurboJPEG library
//! ([`super::turbojpeg`]): Debian's `libjpeg62-turbo`, built from the same
//! source as `libturbojpeg0`. TurboJPEG decodes a whole image in one call;
//! `jpeg_read_scanlines` hands rows over as they are decoded, so `stn warp`
//! can warp the top of a photo while the bottom is still being decoded. The
//! pixels are TurboJPEG's: the same library, with the settings TurboJPEG uses
//! (islow IDCT, "fancy" upsampling, JFIF conversion to RGB).
//!
//! The libjpeg API is used through its frozen 6.2 ABI (64-bit Linux): the
//! few fields stn reads and writes are at the offsets below, and the
//! decompressor's size is checked by the library itself
//! (`jpeg_CreateDecompress` fails on a mismatch), as is the image size read
//! back against the file's header. Errors reach stn as a Rust unwind out of
//! libjpeg's `error_exit` (the library is built with unwind tables), caught
//! here; warnings (corrupt data) make the decode count as failed.

use std::ffi::{c_char, c_int, c_long, c_uchar, c_uint, c_ulong, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The library's file name (the libjpeg 6.2 ABI of libjpeg-turbo).
pub const LIB_NAME: &str = "libjpeg.so.62";

/// `JPEG_LIB_VERSION` of the 6.2 ABI.
const LIB_VERSION: c_int = 62;
/// `sizeof(struct jpeg_decompress_struct)` in that ABI on LP64.
const DECOMPRESS_SIZE: usize = 632;
/// `sizeof(struct jpeg_error_mgr)`.
const ERROR_MGR_SIZE: usize = 168;

// Field offsets in `struct jpeg_decompress_struct` (jpeglib.h, 6.2 ABI, LP64).
const D_ERR: usize = 0;
const D_IMAGE_WIDTH: usize = 48;
const D_IMAGE_HEIGHT: usize = 52;
const D_NUM_COMPONENTS: usize = 56;
const D_JPEG_COLOR_SPACE: usize = 60;
const D_OUT_COLOR_SPACE: usize = 64;
const D_DCT_METHOD: usize = 96;
const D_DO_FANCY_UPSAMPLING: usize = 100;
const D_OUTPUT_WIDTH: usize = 136;
const D_OUTPUT_HEIGHT: usize = 140;
const D_OUTPUT_COMPONENTS: usize = 148;
const D_OUTPUT_SCANLINE: usize = 168;
const D_PROGRESSIVE_MODE: usize = 312;
// ... and in `struct jpeg_error_mgr`.
const E_ERROR_EXIT: usize = 0;
const E_OUTPUT_MESSAGE: usize = 16;
const E_FORMAT_MESSAGE: usize = 24;
const E_NUM_WARNINGS: usize = 128;
/// `JMSG_LENGTH_MAX`.
const MSG_LEN: usize = 200;

// J_COLOR_SPACE and J_DCT_METHOD values.
const JCS_GRAYSCALE: c_int = 1;
const JCS_RGB: c_int = 2;
const JCS_YCBCR: c_int = 3;
const JDCT_ISLOW: c_int = 0;

type Cinfo = *mut c_void;

/// The libjpeg functions stn calls. Each may call `error_exit`, which
/// unwinds: hence `C-unwind`.
struct Api {
    std_error: unsafe extern "C-unwind" fn(*mut c_void) -> *mut c_void,
    create: unsafe extern "C-unwind" fn(Cinfo, c_int, usize),
    destroy: unsafe extern "C-unwind" fn(Cinfo),
    mem_src: unsafe extern "C-unwind" fn(Cinfo, *const c_uchar, c_ulong),
    read_header: unsafe extern "C-unwind" fn(Cinfo, c_int) -> c_int,
    start: unsafe extern "C-unwind" fn(Cinfo) -> c_int,
    read_scanlines: unsafe extern "C-unwind" fn(Cinfo, *mut *mut c_uchar, c_uint) -> c_uint,
    finish: unsafe extern "C-unwind" fn(Cinfo) -> c_int,
    /// Keeps the functions above loaded.
    _lib: libloading::Library,
}

fn load(path: &Path) -> Result<Api, libloading::Error> {
    // SAFETY: loading libjpeg runs no initialisers with preconditions; each
    // symbol is given the signature jpeglib.h (6.2) declares for it.
    unsafe {
        let lib = libloading::Library::new(path)?;
        Ok(Api {
            std_error: *lib.get(b"jpeg_std_error\0")?,
            create: *lib.get(b"jpeg_CreateDecompress\0")?,
            destroy: *lib.get(b"jpeg_destroy_decompress\0")?,
            mem_src: *lib.get(b"jpeg_mem_src\0")?,
            read_header: *lib.get(b"jpeg_read_header\0")?,
            start: *lib.get(b"jpeg_start_decompress\0")?,
            read_scanlines: *lib.get(b"jpeg_read_scanlines\0")?,
            finish: *lib.get(b"jpeg_finish_decompress\0")?,
            _lib: lib,
        })
    }
}

/// The library beside the loaded TurboJPEG one (or, if that came from the
/// loader's search, the loader's `libjpeg.so.62`), or `None`.
fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        let tj = super::turbojpeg::loaded_from()?;
        let path = match tj.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => dir.join(LIB_NAME),
            None => PathBuf::from(LIB_NAME),
        };
        load(&path).ok()
    })
    .as_ref()
}

/// Whether the row-by-row decoder is available in this process.
pub fn available() -> bool {
    api().is_some()
}

/// Why [`decode_rows`] did not decode.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    /// Before any row: no library, not a baseline (sequential) grey, YCbCr
    /// or RGB JPEG of the expected size, or a header the library rejects.
    Unsuitable,
    /// While decoding (an error, or a warning about corrupt data): the rows
    /// handed over so far are not to be trusted.
    Decoding(String),
}

/// The error `error_exit` unwinds with: the library's message.
struct LibjpegError(String);

/// A libjpeg decompressor and its error manager, destroyed on drop.
struct Decompressor {
    api: &'static Api,
    /// `struct jpeg_decompress_struct`, as 8-byte words (its alignment).
    cinfo: Box<[u64; DECOMPRESS_SIZE / 8]>,
    /// `struct jpeg_error_mgr`.
    err: Box<[u64; ERROR_MGR_SIZE / 8]>,
    created: bool,
}

impl Decompressor {
    fn ptr(&mut self) -> Cinfo {
        self.cinfo.as_mut_ptr().cast()
    }

    /// The `T` at byte `offset` of the decompressor.
    fn get<T: Copy>(&mut self, offset: usize) -> T {
        debug_assert!(offset + size_of::<T>() <= DECOMPRESS_SIZE);
        // SAFETY: inside the struct (above), read unaligned.
        unsafe {
            self.ptr()
                .cast::<u8>()
                .add(offset)
                .cast::<T>()
                .read_unaligned()
        }
    }

    fn set<T: Copy>(&mut self, offset: usize, value: T) {
        debug_assert!(offset + size_of::<T>() <= DECOMPRESS_SIZE);
        // SAFETY: as in `get`.
        unsafe {
            self.ptr()
                .cast::<u8>()
                .add(offset)
                .cast::<T>()
                .write_unaligned(value)
        }
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        if self.created {
            let destroy = self.api.destroy;
            let cinfo = self.ptr();
            // SAFETY: created by jpeg_CreateDecompress, destroyed once; the
            // destroy path frees memory and does not call error_exit.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| unsafe { destroy(cinfo) }));
        }
    }
}

/// libjpeg's `error_exit`: formats the message and unwinds to the
/// `catch_unwind` in [`decode_rows`] (with `resume_unwind`, which runs no
/// panic hook: nothing is printed).
extern "C-unwind" fn error_exit(cinfo: Cinfo) {
    let mut buf = [0 as c_char; MSG_LEN];
    // SAFETY: `cinfo` is a live decompressor whose `err` is our error
    // manager, whose `format_message` (set by jpeg_std_error) writes at most
    // JMSG_LENGTH_MAX bytes, NUL included.
    let msg = unsafe {
        let err = *cinfo.cast::<u8>().add(D_ERR).cast::<*mut u8>();
        let format: unsafe extern "C-unwind" fn(Cinfo, *mut c_char) =
            *err.add(E_FORMAT_MESSAGE).cast();
        format(cinfo, buf.as_mut_ptr());
        std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_string_lossy()
            .into_owned()
    };
    panic::resume_unwind(Box::new(LibjpegError(msg)));
}

/// libjpeg's `output_message`: silent (warnings are counted and make the
/// decode fail; stn reports errors in its own words).
extern "C-unwind" fn output_message(_cinfo: Cinfo) {}

/// Decodes the baseline JPEG `bytes`, of `width` × `height` pixels with
/// `channels` (1: grey; 3: RGB, from YCbCr or RGB) as its header says, into
/// `dst`, row by row, calling `done(n)` each time the first `n` rows are
/// complete (the last call has `n = height`).
///
/// # Safety
/// `dst` must be valid for writes of `width · height · channels` bytes, and
/// nothing else may access the rows not yet handed over through `done`.
pub unsafe fn decode_rows(
    bytes: &[u8],
    (width, height, channels): (u32, u32, u8),
    dst: *mut u8,
    done: &mut dyn FnMut(usize),
) -> Result<(), Failed> {
    let api = api().ok_or(Failed::Unsuitable)?;
    let len = c_ulong::try_from(bytes.len()).map_err(|_| Failed::Unsuitable)?;
    let mut d = Decompressor {
        api,
        cinfo: Box::new([0; DECOMPRESS_SIZE / 8]),
        err: Box::new([0; ERROR_MGR_SIZE / 8]),
        created: false,
    };
    let started = &mut false;
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let err = d.err.as_mut_ptr().cast::<u8>();
        // SAFETY: the library's 6.2 ABI, with the structs sized and laid out
        // as above: jpeg_std_error fills the error manager, whose two
        // handlers are then replaced; jpeg_CreateDecompress keeps `err` and
        // checks the struct's size; the source is `bytes`, alive throughout.
        unsafe {
            (api.std_error)(err.cast());
            err.add(E_ERROR_EXIT)
                .cast::<extern "C-unwind" fn(Cinfo)>()
                .write(error_exit);
            err.add(E_OUTPUT_MESSAGE)
                .cast::<extern "C-unwind" fn(Cinfo)>()
                .write(output_message);
            d.set(D_ERR, err);
            (api.create)(d.ptr(), LIB_VERSION, DECOMPRESS_SIZE);
            d.created = true;
            (api.mem_src)(d.ptr(), bytes.as_ptr(), len);
            (api.read_header)(d.ptr(), 1);
        }
        let color = d.get::<c_int>(D_JPEG_COLOR_SPACE);
        let out_space = match (d.get::<c_int>(D_NUM_COMPONENTS), color, channels) {
            (1, JCS_GRAYSCALE, 1) => JCS_GRAYSCALE,
            (3, JCS_YCBCR | JCS_RGB, 3) => JCS_RGB,
            _ => return Err(Failed::Unsuitable),
        };
        if d.get::<c_uint>(D_IMAGE_WIDTH) != width
            || d.get::<c_uint>(D_IMAGE_HEIGHT) != height
            || d.get::<c_int>(D_PROGRESSIVE_MODE) != 0
        {
            return Err(Failed::Unsuitable);
        }
        d.set(D_OUT_COLOR_SPACE, out_space);
        d.set(D_DCT_METHOD, JDCT_ISLOW);
        d.set::<c_int>(D_DO_FANCY_UPSAMPLING, 1);
        *started = true;
        // SAFETY: as above.
        unsafe { (api.start)(d.ptr()) };
        if d.get::<c_uint>(D_OUTPUT_WIDTH) != width
            || d.get::<c_uint>(D_OUTPUT_HEIGHT) != height
            || d.get::<c_int>(D_OUTPUT_COMPONENTS) != c_int::from(channels)
        {
            return Err(Failed::Decoding("unexpected output layout".into()));
        }
        let pitch = width as usize * usize::from(channels);
        let h = height as usize;
        let mut rows = [std::ptr::null_mut::<c_uchar>(); 16];
        loop {
            let y = d.get::<c_uint>(D_OUTPUT_SCANLINE) as usize;
            if y >= h {
                break;
            }
            let n = rows.len().min(h - y);
            for (k, r) in rows[..n].iter_mut().enumerate() {
                // SAFETY: rows y .. y + n < height of `dst` (the caller's
                // promise); the library writes `width · channels` bytes each.
                *r = unsafe { dst.add((y + k) * pitch) };
            }
            // SAFETY: `n` valid row pointers.
            let got = unsafe { (api.read_scanlines)(d.ptr(), rows.as_mut_ptr(), n as c_uint) };
            if got == 0 {
                return Err(Failed::Decoding("no rows decoded".into()));
            }
            done(y + got as usize);
        }
        // SAFETY: as above; reads to the end of the image.
        unsafe { (api.finish)(d.ptr()) };
        // SAFETY: the error manager's warning count, a C `long`.
        let warnings = unsafe { err.add(E_NUM_WARNINGS).cast::<c_long>().read() };
        if warnings != 0 {
            return Err(Failed::Decoding("corrupt JPEG data".into()));
        }
        Ok(())
    }));
    match result {
        Ok(r) => r,
        Err(payload) => match payload.downcast::<LibjpegError>() {
            Ok(e) if *started => Err(Failed::Decoding(e.0)),
            Ok(_) => Err(Failed::Unsuitable),
            Err(other) => panic::resume_unwind(other),
        },
    }
}
