//! libjpeg-turbo's row-by-row decoder and encoder, through the libjpeg 6.2 C
//! API of `libjpeg.so.62`, loaded at run time from beside the TurboJPEG
//! library ([`super::turbojpeg`]): Debian's `libjpeg62-turbo`, built from the
//! same source as `libturbojpeg0`. TurboJPEG decodes or encodes a whole image
//! in one call; `jpeg_read_scanlines` hands rows over as they are decoded, so
//! `stn warp` can warp the top of a photo while the bottom is still being
//! decoded, and `jpeg_write_scanlines` takes rows as they are warped, so no
//! whole output image is needed. The pixels and bytes are TurboJPEG's: the
//! same library, with the settings TurboJPEG uses (islow DCT, "fancy"
//! upsampling, JFIF conversion to and from RGB, 4:2:0, libjpeg's quality
//! scaling, the standard Huffman tables).
//!
//! The libjpeg API is used through its frozen 6.2 ABI (64-bit Linux): the
//! few fields stn reads and writes are at the offsets below, and each
//! struct's size is checked by the library itself
//! (`jpeg_CreateDecompress`/`jpeg_CreateCompress` fail on a mismatch), as is
//! the image size read back against the file's header. Errors reach stn as a Rust unwind out of
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

/// `sizeof(struct jpeg_compress_struct)` in that ABI on LP64.
const COMPRESS_SIZE: usize = 520;
// Field offsets in `struct jpeg_compress_struct`.
const C_IMAGE_WIDTH: usize = 48;
const C_IMAGE_HEIGHT: usize = 52;
const C_INPUT_COMPONENTS: usize = 56;
const C_IN_COLOR_SPACE: usize = 60;
const C_COMP_INFO: usize = 88;
const C_DCT_METHOD: usize = 276;
const C_NEXT_SCANLINE: usize = 304;
// ... and in `jpeg_component_info` (96 bytes each).
const COMP_INFO_SIZE: usize = 96;
const CI_H_SAMP: usize = 8;
const CI_V_SAMP: usize = 12;

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
    create_compress: unsafe extern "C-unwind" fn(Cinfo, c_int, usize),
    destroy_compress: unsafe extern "C-unwind" fn(Cinfo),
    set_defaults: unsafe extern "C-unwind" fn(Cinfo),
    set_colorspace: unsafe extern "C-unwind" fn(Cinfo, c_int),
    set_quality: unsafe extern "C-unwind" fn(Cinfo, c_int, c_int),
    mem_dest: unsafe extern "C-unwind" fn(Cinfo, *mut *mut c_uchar, *mut c_ulong),
    start_compress: unsafe extern "C-unwind" fn(Cinfo, c_int),
    write_scanlines: unsafe extern "C-unwind" fn(Cinfo, *mut *mut c_uchar, c_uint) -> c_uint,
    finish_compress: unsafe extern "C-unwind" fn(Cinfo),
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
            create_compress: *lib.get(b"jpeg_CreateCompress\0")?,
            destroy_compress: *lib.get(b"jpeg_destroy_compress\0")?,
            set_defaults: *lib.get(b"jpeg_set_defaults\0")?,
            set_colorspace: *lib.get(b"jpeg_set_colorspace\0")?,
            set_quality: *lib.get(b"jpeg_set_quality\0")?,
            mem_dest: *lib.get(b"jpeg_mem_dest\0")?,
            start_compress: *lib.get(b"jpeg_start_compress\0")?,
            write_scanlines: *lib.get(b"jpeg_write_scanlines\0")?,
            finish_compress: *lib.get(b"jpeg_finish_compress\0")?,
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

/// A libjpeg struct (a decompressor or a compressor) of `N` 8-byte words,
/// its fields read and written by offset, with its error manager.
struct Raw<const N: usize> {
    cinfo: Box<[u64; N]>,
    /// `struct jpeg_error_mgr`.
    err: Box<[u64; ERROR_MGR_SIZE / 8]>,
}

impl<const N: usize> Raw<N> {
    /// Zeroed, its `err` libjpeg's standard error manager with stn's
    /// `error_exit` (which unwinds) and `output_message` (silent).
    fn new(api: &Api) -> Self {
        let mut raw = Raw {
            cinfo: Box::new([0; N]),
            err: Box::new([0; ERROR_MGR_SIZE / 8]),
        };
        let err = raw.err.as_mut_ptr().cast::<u8>();
        // SAFETY: jpeg_std_error fills the error manager (sized as the 6.2
        // ABI's) and calls nothing; the two handlers are then replaced at
        // their offsets, and `err` (at offset 0 of both structs) points to it.
        unsafe {
            (api.std_error)(err.cast());
            err.add(E_ERROR_EXIT)
                .cast::<extern "C-unwind" fn(Cinfo)>()
                .write(error_exit);
            err.add(E_OUTPUT_MESSAGE)
                .cast::<extern "C-unwind" fn(Cinfo)>()
                .write(output_message);
        }
        raw.set(D_ERR, err);
        raw
    }

    fn ptr(&mut self) -> Cinfo {
        self.cinfo.as_mut_ptr().cast()
    }

    /// Where the `T` at byte `offset` of the struct is.
    fn field<T: Copy>(&mut self, offset: usize) -> *mut T {
        assert!(offset + size_of::<T>() <= N * 8);
        // SAFETY: inside the struct (above).
        unsafe { self.ptr().cast::<u8>().add(offset).cast() }
    }

    /// The `T` at byte `offset` of the struct.
    fn get<T: Copy>(&mut self, offset: usize) -> T {
        // SAFETY: a field of the struct (`field`), read unaligned.
        unsafe { self.field::<T>(offset).read_unaligned() }
    }

    fn set<T: Copy>(&mut self, offset: usize, value: T) {
        // SAFETY: as in `get`.
        unsafe { self.field::<T>(offset).write_unaligned(value) }
    }

    /// Warnings the library has counted (corrupt data).
    fn warnings(&self) -> c_long {
        // SAFETY: the error manager's `num_warnings`, a C `long`.
        unsafe {
            self.err
                .as_ptr()
                .cast::<u8>()
                .add(E_NUM_WARNINGS)
                .cast::<c_long>()
                .read_unaligned()
        }
    }
}

/// A libjpeg decompressor, destroyed on drop.
struct Decompressor {
    api: &'static Api,
    raw: Raw<{ DECOMPRESS_SIZE / 8 }>,
    created: bool,
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        if self.created {
            let destroy = self.api.destroy;
            let cinfo = self.raw.ptr();
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
        raw: Raw::new(api),
        created: false,
    };
    let started = &mut false;
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the library's 6.2 ABI, with the struct sized and laid out
        // as above: jpeg_CreateDecompress keeps `err` and checks the
        // struct's size; the source is `bytes`, alive throughout.
        unsafe {
            (api.create)(d.raw.ptr(), LIB_VERSION, DECOMPRESS_SIZE);
            d.created = true;
            (api.mem_src)(d.raw.ptr(), bytes.as_ptr(), len);
            (api.read_header)(d.raw.ptr(), 1);
        }
        let color = d.raw.get::<c_int>(D_JPEG_COLOR_SPACE);
        let out_space = match (d.raw.get::<c_int>(D_NUM_COMPONENTS), color, channels) {
            (1, JCS_GRAYSCALE, 1) => JCS_GRAYSCALE,
            (3, JCS_YCBCR | JCS_RGB, 3) => JCS_RGB,
            _ => return Err(Failed::Unsuitable),
        };
        if d.raw.get::<c_uint>(D_IMAGE_WIDTH) != width
            || d.raw.get::<c_uint>(D_IMAGE_HEIGHT) != height
            || d.raw.get::<c_int>(D_PROGRESSIVE_MODE) != 0
        {
            return Err(Failed::Unsuitable);
        }
        d.raw.set(D_OUT_COLOR_SPACE, out_space);
        d.raw.set(D_DCT_METHOD, JDCT_ISLOW);
        d.raw.set::<c_int>(D_DO_FANCY_UPSAMPLING, 1);
        *started = true;
        // SAFETY: as above.
        unsafe { (api.start)(d.raw.ptr()) };
        if d.raw.get::<c_uint>(D_OUTPUT_WIDTH) != width
            || d.raw.get::<c_uint>(D_OUTPUT_HEIGHT) != height
            || d.raw.get::<c_int>(D_OUTPUT_COMPONENTS) != c_int::from(channels)
        {
            return Err(Failed::Decoding("unexpected output layout".into()));
        }
        let pitch = width as usize * usize::from(channels);
        let h = height as usize;
        let mut rows = [std::ptr::null_mut::<c_uchar>(); 16];
        loop {
            let y = d.raw.get::<c_uint>(D_OUTPUT_SCANLINE) as usize;
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
            let got = unsafe { (api.read_scanlines)(d.raw.ptr(), rows.as_mut_ptr(), n as c_uint) };
            if got == 0 {
                return Err(Failed::Decoding("no rows decoded".into()));
            }
            done(y + got as usize);
        }
        // SAFETY: as above; reads to the end of the image.
        unsafe { (api.finish)(d.raw.ptr()) };
        if d.raw.warnings() != 0 {
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

extern "C" {
    /// The C library's `free`, for the buffer `jpeg_mem_dest` allocates
    /// with its `malloc`.
    fn free(ptr: *mut c_void);
}

/// libjpeg-turbo's encoder fed rows as they are made: exactly the bytes of
/// TurboJPEG's `tjCompress2` at the settings [`super::turbojpeg::encode`]
/// uses (baseline, libjpeg's quality scaling, 4:2:0 for colour, islow DCT,
/// the standard Huffman tables), without the whole image in memory.
pub struct Compressor {
    api: &'static Api,
    raw: Raw<{ COMPRESS_SIZE / 8 }>,
    /// Where `jpeg_mem_dest` keeps its buffer and the bytes written.
    out: Box<(*mut c_uchar, c_ulong)>,
    row_bytes: usize,
    height: usize,
    created: bool,
}

// SAFETY: the compressor and its buffers belong to this value alone; libjpeg
// keeps no thread-local state.
unsafe impl Send for Compressor {}

impl Compressor {
    /// Runs `f`, turning libjpeg's errors (unwound out of `error_exit`) into
    /// `Err`.
    fn guard<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Result<T, String> {
        match panic::catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(v) => Ok(v),
            Err(payload) => match payload.downcast::<LibjpegError>() {
                Ok(e) => Err(e.0),
                Err(other) => panic::resume_unwind(other),
            },
        }
    }

    /// A compressor for a `width` × `height` image of 8-bit grey (1) or RGB
    /// (3) pixels at `quality`, started; `None` without the library or if
    /// it refuses.
    pub fn new(width: u32, height: u32, channels: u8, quality: u8) -> Option<Compressor> {
        let api = api()?;
        let mut c = Compressor {
            api,
            raw: Raw::new(api),
            out: Box::new((std::ptr::null_mut(), 0)),
            row_bytes: width as usize * usize::from(channels),
            height: height as usize,
            created: false,
        };
        let (in_space, space) = match channels {
            1 => (JCS_GRAYSCALE, JCS_GRAYSCALE),
            3 => (JCS_RGB, JCS_YCBCR),
            _ => return None,
        };
        c.guard(|c| {
            // SAFETY: as in `decode_rows`, for the compressor (the struct's
            // size checked by the library), then TurboJPEG's settings in its
            // order (tjCompress2: defaults, colour space, quality, islow,
            // sampling factors).
            unsafe {
                (api.create_compress)(c.raw.ptr(), LIB_VERSION, COMPRESS_SIZE);
                c.created = true;
                let (buf, len) = (&mut c.out.0 as *mut _, &mut c.out.1 as *mut _);
                (api.mem_dest)(c.raw.ptr(), buf, len);
                c.raw.set::<c_uint>(C_IMAGE_WIDTH, width);
                c.raw.set::<c_uint>(C_IMAGE_HEIGHT, height);
                c.raw
                    .set::<c_int>(C_INPUT_COMPONENTS, c_int::from(channels));
                c.raw.set::<c_int>(C_IN_COLOR_SPACE, in_space);
                (api.set_defaults)(c.raw.ptr());
                (api.set_colorspace)(c.raw.ptr(), space);
                (api.set_quality)(c.raw.ptr(), c_int::from(quality.clamp(1, 100)), 1);
                c.raw.set::<c_int>(C_DCT_METHOD, JDCT_ISLOW);
                let comps = c.raw.get::<*mut u8>(C_COMP_INFO);
                let factors: &[(c_int, c_int)] = if channels == 1 {
                    &[(1, 1)]
                } else {
                    &[(2, 2), (1, 1), (1, 1)]
                };
                for (k, (h, v)) in factors.iter().enumerate() {
                    let info = comps.add(k * COMP_INFO_SIZE);
                    info.add(CI_H_SAMP).cast::<c_int>().write_unaligned(*h);
                    info.add(CI_V_SAMP).cast::<c_int>().write_unaligned(*v);
                }
                (api.start_compress)(c.raw.ptr(), 1);
            }
        })
        .ok()?;
        Some(c)
    }

    /// Encodes the next rows (whole rows, in order).
    pub fn write(&mut self, rows: &[u8]) -> Result<(), String> {
        assert_eq!(rows.len() % self.row_bytes, 0, "whole rows");
        let api = self.api;
        let row_bytes = self.row_bytes;
        for chunk in rows.chunks(16 * row_bytes) {
            let mut ptrs = [std::ptr::null_mut::<c_uchar>(); 16];
            let n = chunk.len() / row_bytes;
            for (k, p) in ptrs[..n].iter_mut().enumerate() {
                // libjpeg takes `JSAMPROW` (mutable) but only reads the rows.
                *p = chunk[k * row_bytes..].as_ptr().cast_mut();
            }
            let mut done = 0;
            while done < n {
                let got = self.guard(|c| {
                    // SAFETY: `n - done` valid rows of `row_bytes` bytes each.
                    unsafe {
                        (api.write_scanlines)(
                            c.raw.ptr(),
                            ptrs[done..].as_mut_ptr(),
                            (n - done) as c_uint,
                        )
                    }
                })?;
                if got == 0 {
                    return Err("libjpeg took no rows".into());
                }
                done += got as usize;
            }
        }
        Ok(())
    }

    /// Finishes the file and returns it.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        if self.raw.get::<c_uint>(C_NEXT_SCANLINE) as usize != self.height {
            return Err("not every row was written".into());
        }
        let api = self.api;
        // SAFETY: every row was written; finishing flushes into the buffer.
        self.guard(|c| unsafe { (api.finish_compress)(c.raw.ptr()) })?;
        let (buf, len) = *self.out;
        if buf.is_null() {
            return Err("no output".into());
        }
        // SAFETY: `jpeg_mem_dest` left `len` bytes at `buf`.
        Ok(unsafe { std::slice::from_raw_parts(buf, len as usize) }.to_vec())
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        let api = self.api;
        if self.created {
            // SAFETY: created once, destroyed once; destroying frees the
            // library's memory and does not call error_exit.
            let _ = self.guard(|c| unsafe { (api.destroy_compress)(c.raw.ptr()) });
        }
        if !self.out.0.is_null() {
            // SAFETY: allocated by the library's `malloc` (jpeg_mem_dest),
            // and no longer used by it (destroyed above).
            unsafe { free(self.out.0.cast()) };
        }
    }
}
