//! Image files in and out: decoding (with EXIF orientation and the ICC
//! profile), encoding (stn's own Netpbm writer and strip-parallel JPEG
//! encoder, the `image` crate's PNG, WebP, TIFF, BMP and GIF), and atomic
//! writes straight into a temporary file. The only module that reads or
//! writes image files.

use std::fs;
use std::io::{self, Read, Seek, Write};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use image::codecs::png::CompressionType;
use image::codecs::png::{FilterType, PngEncoder};
use image::codecs::tiff::TiffEncoder;
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{
    ColorType, DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader,
};

use crate::affine::Size;
use crate::error::Error;

mod libjpeg;
mod stitch;
mod turbojpeg;

/// Whether `path` is `-`, meaning a standard stream.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// A decoded image and the colour profile it came with.
#[derive(Clone, Debug)]
pub struct Image {
    /// The pixels, upright (EXIF orientation applied).
    pub pixels: DynamicImage,
    /// The embedded ICC profile, written into outputs that can hold one.
    pub icc: Option<Vec<u8>>,
}

/// Reads and decodes an image from a file, or from standard input for `-`.
///
/// The format is sniffed from the content, not the name. EXIF orientation is
/// applied, so the image is upright as a viewer shows it.
pub fn read_image(path: &Path, max_pixels: u64) -> Result<Image, Error> {
    read_image_with(path, max_pixels, false)
}

/// [`read_image`] for a process that warps this one image ([`decode_with`]).
pub fn read_one_image(path: &Path, max_pixels: u64) -> Result<Image, Error> {
    read_image_with(path, max_pixels, true)
}

/// An image file read for `stn warp`: decoded, or a JPEG left to decode row
/// by row while its rows are warped ([`JpegRows`]).
pub enum OneImage {
    /// Decoded, upright, with its profile.
    Decoded(Image),
    /// An image to read row by row.
    Rows(Rows),
}

/// [`read_one_image`], except that, while more than one thread is
/// available, an image that can be read row by row comes back unread as
/// [`OneImage::Rows`]: a JPEG that libjpeg-turbo decodes row by row
/// (baseline, grey or colour, upright) or a raw 8-bit PGM/PPM file, of at
/// least [`ROWS_MIN_BYTES`] of pixels.
pub fn read_one_image_or_rows(path: &Path, max_pixels: u64) -> Result<OneImage, Error> {
    let threads = rayon::current_num_threads() > 1;
    if threads && !is_stdio(path) {
        if let Some(rows) = NetpbmRows::open(path, max_pixels) {
            return Ok(OneImage::Rows(Rows::Netpbm(rows)));
        }
    }
    let bytes = match read_file(path, max_pixels)? {
        FileContent::Image(img) => return Ok(OneImage::Decoded(img)),
        FileContent::Bytes(bytes) => bytes,
    };
    if threads {
        if let Some(rows) = JpegRows::new(path, &bytes, max_pixels) {
            return Ok(OneImage::Rows(Rows::Jpeg(rows.with_bytes(bytes))));
        }
    }
    decode_file(path, &bytes, max_pixels, true).map(OneImage::Decoded)
}

/// An image file read row by row, its rows handed over as they arrive: a
/// JPEG as libjpeg-turbo decodes it, or a raw Netpbm file as it is read.
pub enum Rows {
    /// A baseline JPEG.
    Jpeg(JpegRows),
    /// A binary 8-bit PGM or PPM file.
    Netpbm(NetpbmRows),
}

impl Rows {
    /// Its size in pixels.
    pub fn size(&self) -> Size {
        match self {
            Rows::Jpeg(j) => j.size,
            Rows::Netpbm(n) => n.size,
        }
    }

    /// 1 (grey) or 3 (RGB).
    pub fn channels(&self) -> u8 {
        match self {
            Rows::Jpeg(j) => j.channels,
            Rows::Netpbm(n) => n.channels,
        }
    }

    /// Its layout: 8-bit grey or RGB.
    pub fn color(&self) -> ColorType {
        match self.channels() {
            1 => ColorType::L8,
            _ => ColorType::Rgb8,
        }
    }

    /// Bytes of pixels: `width · height · channels`.
    pub fn pixel_bytes(&self) -> usize {
        pixels(self.size()) as usize * usize::from(self.channels())
    }

    /// Its ICC profile, taken out.
    pub fn take_icc(&mut self) -> Option<Vec<u8>> {
        match self {
            Rows::Jpeg(j) => j.icc.take(),
            Rows::Netpbm(_) => None,
        }
    }

    /// Reads the pixels into `dst` ([`Rows::pixel_bytes`] bytes), calling
    /// `done(n)` whenever the first `n` rows are complete. `false` if they
    /// could not be read so after all (for a JPEG: a progressive file, an
    /// error, a warning about corrupt data; for Netpbm, a read error): the
    /// rows handed over may then be wrong, and [`Rows::read_fully`] says
    /// what the file holds.
    ///
    /// # Safety
    /// `dst` must be valid for writes of [`Rows::pixel_bytes`] bytes, and
    /// nothing may access a row of it before `done` has handed it over.
    pub unsafe fn read(&self, dst: *mut u8, done: &mut dyn FnMut(usize)) -> bool {
        // SAFETY: the caller's promise.
        unsafe {
            match self {
                Rows::Jpeg(j) => j.decode(dst, done),
                Rows::Netpbm(n) => n.read(dst, done),
            }
        }
    }

    /// Reads the file as [`read_one_image`] does (after [`Rows::read`]
    /// failed: the general decoders then decode it or say why not).
    pub fn read_fully(self) -> Result<Image, Error> {
        match self {
            Rows::Jpeg(j) => j.decode_fully(),
            Rows::Netpbm(n) => read_one_image(&n.path, n.max_pixels),
        }
    }
}

/// A binary 8-bit PGM or PPM file whose samples are exactly the rest of the
/// file (those [`read_one_image`] reads straight into the image), read in
/// slices of rows.
pub struct NetpbmRows {
    path: std::path::PathBuf,
    file: fs::File,
    /// Where the samples start.
    start: u64,
    max_pixels: u64,
    size: Size,
    channels: u8,
}

impl NetpbmRows {
    /// The file at `path` if it is such a file, of at least
    /// [`ROWS_MIN_BYTES`] samples; `None` for anything else (including
    /// errors, which the general reader then reports).
    fn open(path: &Path, max_pixels: u64) -> Option<NetpbmRows> {
        let mut file = fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() < ROWS_MIN_BYTES as u64 {
            return None;
        }
        let mut head = [0u8; 512];
        let mut filled = 0;
        while filled < head.len() {
            match file.read(&mut head[filled..]).ok()? {
                0 => break,
                n => filled += n,
            }
        }
        let (_, w, h, channels, start) = parse_netpbm_header(&head[..filled])?;
        let size = Size::new(w, h);
        let samples = u64::from(w) * u64::from(h) * channels;
        let fits = pixels(size) <= max_pixels
            && meta.len().checked_sub(start as u64) == Some(samples)
            && samples >= ROWS_MIN_BYTES as u64;
        fits.then(|| NetpbmRows {
            path: path.to_path_buf(),
            file,
            start: start as u64,
            max_pixels,
            size,
            channels: channels as u8,
        })
    }

    /// Reads the samples into `dst`, [`NETPBM_READ_ROWS`] rows at a time.
    ///
    /// # Safety
    /// As [`Rows::read`].
    unsafe fn read(&self, dst: *mut u8, done: &mut dyn FnMut(usize)) -> bool {
        use std::os::unix::fs::FileExt;
        let row = self.size.width as usize * usize::from(self.channels);
        let h = self.size.height as usize;
        let mut y = 0;
        while y < h {
            let n = NETPBM_READ_ROWS.min(h - y);
            // SAFETY: rows y .. y + n of `dst` (the caller's promise: valid,
            // and not accessed until handed over); `read_exact_at` only
            // writes them, so their being uninitialised does not matter.
            let rows = unsafe { std::slice::from_raw_parts_mut(dst.add(y * row), n * row) };
            let at = self.start + (y * row) as u64;
            if self.file.read_exact_at(rows, at).is_err() {
                return false;
            }
            y += n;
            done(y);
        }
        true
    }
}

/// Rows per read of [`NetpbmRows`] (about 0.7 MB of a 4K RGB image).
const NETPBM_READ_ROWS: usize = 64;

/// Bytes of pixels below which [`read_one_image_or_rows`] reads an image
/// whole, as usual: on small images there is little to overlap.
pub const ROWS_MIN_BYTES: usize = 4 << 20;

/// What a JPEG's header says ([`jpeg_header`]).
struct JpegHeader {
    size: Size,
    /// The layout `image`'s decoder gives it: grey, grey+alpha or RGBA as
    /// the file says, RGB for every other colour space.
    color: ColorType,
    /// Its EXIF orientation (none without EXIF data).
    orientation: Orientation,
    /// Its ICC profile, if any and not empty.
    icc: Option<Vec<u8>>,
}

/// The header of the JPEG `bytes`, read once and in place by the decoder
/// `image` uses for JPEG (zune-jpeg, with `image`'s options), or `None` if it
/// does not read. `image`'s own JPEG decoder copies the whole file before it
/// reads the header, and reads the header again for the profile and again for
/// the orientation: for a 4K photo of 1.7 MB that was 1.1 ms of the 3.2 ms
/// `stn warp` spent before its decoding started (Zen 3).
fn jpeg_header(bytes: &[u8]) -> Option<JpegHeader> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().ok()?;
    let (w, h) = decoder.dimensions()?;
    let color = match decoder.input_colorspace()? {
        ColorSpace::Luma => ColorType::L8,
        ColorSpace::LumaA => ColorType::La8,
        ColorSpace::RGBA => ColorType::Rgba8,
        _ => ColorType::Rgb8,
    };
    let orientation = decoder
        .exif()
        .and_then(|exif| Orientation::from_exif_chunk(exif))
        .unwrap_or(Orientation::NoTransforms);
    Some(JpegHeader {
        size: Size::new(u32::try_from(w).ok()?, u32::try_from(h).ok()?),
        color,
        orientation,
        icc: decoder.icc_profile().filter(|p| !p.is_empty()),
    })
}

/// A JPEG file that libjpeg-turbo decodes row by row ([`JpegRows::decode`]),
/// with what its header says.
pub struct JpegRows {
    path: std::path::PathBuf,
    bytes: Vec<u8>,
    max_pixels: u64,
    /// Its size in pixels.
    pub size: Size,
    /// 1 (grey) or 3 (RGB).
    pub channels: u8,
    /// Its ICC profile.
    pub icc: Option<Vec<u8>>,
}

impl JpegRows {
    /// The header of `bytes` if they are a JPEG fit for row-by-row decoding
    /// (the decoder itself refuses progressive files when it starts).
    fn new(path: &Path, bytes: &[u8], max_pixels: u64) -> Option<JpegRows> {
        if image::guess_format(bytes).ok() != Some(ImageFormat::Jpeg) || jpeg_is_truncated(bytes) {
            return None;
        }
        let JpegHeader {
            size,
            color,
            orientation,
            icc,
        } = jpeg_header(bytes)?;
        let channels = match color {
            ColorType::L8 => 1u8,
            ColorType::Rgb8 => 3,
            _ => return None,
        };
        let upright = orientation == Orientation::NoTransforms;
        if !upright
            || pixels(size) > max_pixels
            || (pixels(size) as usize).saturating_mul(usize::from(channels)) < ROWS_MIN_BYTES
            // The library is loaded only for images that would use it.
            || !libjpeg::available()
        {
            return None;
        }
        Some(JpegRows {
            path: path.to_path_buf(),
            bytes: Vec::new(),
            max_pixels,
            size,
            channels,
            icc,
        })
    }

    fn with_bytes(self, bytes: Vec<u8>) -> JpegRows {
        JpegRows { bytes, ..self }
    }

    /// Bytes of pixels: `width · height · channels`.
    pub fn pixel_bytes(&self) -> usize {
        pixels(self.size) as usize * usize::from(self.channels)
    }

    /// Decodes the pixels into `dst` ([`JpegRows::pixel_bytes`] bytes), calling
    /// `done(n)` whenever the first `n` rows are complete. `false` if
    /// libjpeg-turbo did not decode it after all (a progressive file, an
    /// error, a warning about corrupt data): the rows handed over may then
    /// be wrong, and [`JpegRows::decode_fully`] says what the file holds.
    ///
    /// # Safety
    /// `dst` must be valid for writes of [`JpegRows::pixel_bytes`] bytes, and
    /// nothing may access a row of it before `done` has handed it over.
    pub unsafe fn decode(&self, dst: *mut u8, done: &mut dyn FnMut(usize)) -> bool {
        let shape = (self.size.width, self.size.height, self.channels);
        // SAFETY: the caller's promise.
        unsafe { libjpeg::decode_rows(&self.bytes, shape, dst, done) }.is_ok()
    }

    /// Decodes the file as [`read_one_image`] does (after [`JpegRows::decode`]
    /// failed: the general decoders then decode it or say why not).
    pub fn decode_fully(self) -> Result<Image, Error> {
        decode_file(&self.path, &self.bytes, self.max_pixels, true)
    }
}

/// A file's content: decoded already (the raw Netpbm path), or its bytes.
enum FileContent {
    Image(Image),
    Bytes(Vec<u8>),
}

fn read_image_with(path: &Path, max_pixels: u64, alone: bool) -> Result<Image, Error> {
    match read_file(path, max_pixels)? {
        FileContent::Image(img) => Ok(img),
        FileContent::Bytes(bytes) => decode_file(path, &bytes, max_pixels, alone),
    }
}

/// Reads a file, or standard input for `-`, within the size any image of
/// `max_pixels` can have; a raw 8-bit Netpbm file straight into its image.
fn read_file(path: &Path, max_pixels: u64) -> Result<FileContent, Error> {
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    // No encoded image is larger than its pixels at 16 bytes each plus 64 MiB
    // of metadata; this bounds what a stream (or a device such as /dev/zero)
    // can make stn read.
    let cap = max_pixels.saturating_mul(16).saturating_add(64 << 20);
    let too_big = || Error::Input {
        path: path.to_path_buf(),
        reason: format!("larger than {cap} bytes, more than any image within --max-pixels"),
    };
    let mut bytes = Vec::new();
    if is_stdio(path) {
        io::stdin()
            .lock()
            .take(cap)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
    } else {
        let mut file = fs::File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(Error::Input {
                path: path.to_path_buf(),
                reason: "not a regular file".into(),
            });
        }
        if meta.len() >= cap {
            return Err(too_big());
        }
        if let Some(img) = read_raw_netpbm(&mut file, meta.len(), max_pixels).map_err(read_err)? {
            return Ok(FileContent::Image(img));
        }
        // The size is known: one allocation of exactly that, read in place
        // (`File::read_to_end` sizes its buffer from the metadata).
        bytes
            .try_reserve_exact(meta.len() as usize + 1)
            .map_err(|_| too_big())?;
        file.read_to_end(&mut bytes).map_err(read_err)?;
    }
    if bytes.len() as u64 >= cap {
        return Err(too_big());
    }
    Ok(FileContent::Bytes(bytes))
}

/// Decodes a file's `bytes` ([`decode_with`]), errors naming `path`.
fn decode_file(path: &Path, bytes: &[u8], max_pixels: u64, alone: bool) -> Result<Image, Error> {
    match decode_with(bytes, max_pixels, alone) {
        Ok(img) => Ok(img),
        Err(Decoded::TooLarge(w, h)) => Err(too_many_pixels(Size::new(w, h), max_pixels, path)),
        Err(Decoded::Error(source)) => Err(Error::Decode {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The fast path for binary 8-bit PGM and PPM files (`P5`, `P6`, maxval
/// 255, exactly the pixels after the header): the samples are read from the
/// file straight into the image's buffer, with no copy of the file in memory.
/// `None` (the file rewound) for anything else, which the general decoder
/// then reads or refuses, as well as images over `max_pixels`.
fn read_raw_netpbm(file: &mut fs::File, len: u64, max_pixels: u64) -> io::Result<Option<Image>> {
    let mut head = [0u8; 512];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    let parsed = parse_netpbm_header(&head[..filled]);
    let fits = |&(_, w, h, channels, start): &(u8, u32, u32, u64, usize)| {
        let samples = u64::from(w) * u64::from(h) * channels;
        pixels(Size::new(w, h)) <= max_pixels && len.checked_sub(start as u64) == Some(samples)
    };
    let Some((magic, w, h, _, start)) = parsed.filter(fits) else {
        file.seek(io::SeekFrom::Start(0))?;
        return Ok(None);
    };
    let samples = (len - start as u64) as usize;
    let mut buf = Vec::new();
    buf.try_reserve_exact(samples)
        .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, e))?;
    crate::malloc::advise_huge_pages(buf.as_mut_ptr(), samples);
    let already = &head[start.min(filled)..filled];
    buf.extend_from_slice(&already[..already.len().min(samples)]);
    file.take((samples - buf.len()) as u64)
        .read_to_end(&mut buf)?;
    if buf.len() != samples {
        // The file shrank while being read: let the decoder report it.
        file.seek(io::SeekFrom::Start(0))?;
        return Ok(None);
    }
    let pixels = match magic {
        b'5' => image::GrayImage::from_raw(w, h, buf).map(DynamicImage::ImageLuma8),
        _ => image::RgbImage::from_raw(w, h, buf).map(DynamicImage::ImageRgb8),
    };
    Ok(pixels.map(|pixels| Image { pixels, icc: None }))
}

/// Parses a binary PGM/PPM header with maxval 255: (magic digit, width,
/// height, channels, offset of the first sample). Comments (`#` to the end
/// of the line) may stand between the fields, as Netpbm allows; exactly one
/// whitespace byte follows the maxval.
fn parse_netpbm_header(head: &[u8]) -> Option<(u8, u32, u32, u64, usize)> {
    let (magic, channels) = match head.get(..2)? {
        b"P5" => (b'5', 1),
        b"P6" => (b'6', 3),
        _ => return None,
    };
    let mut i = 2;
    let mut field = || -> Option<u32> {
        loop {
            match *head.get(i)? {
                b'#' => {
                    while *head.get(i)? != b'\n' {
                        i += 1;
                    }
                }
                c if c.is_ascii_whitespace() => i += 1,
                _ => break,
            }
        }
        let digits = head[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let value = std::str::from_utf8(&head[i..i + digits])
            .ok()?
            .parse()
            .ok()?;
        i += digits;
        Some(value)
    };
    let (w, h, maxval) = (field()?, field()?, field()?);
    if w == 0 || h == 0 || maxval != 255 || !head.get(i)?.is_ascii_whitespace() {
        return None;
    }
    Some((magic, w, h, channels, i + 1))
}

/// Refuses an image (decoded or to be produced at `path`) of more than
/// `max_pixels` pixels.
pub fn check_pixels(size: Size, max_pixels: u64, path: &Path) -> Result<(), Error> {
    if pixels(size) > max_pixels {
        return Err(too_many_pixels(size, max_pixels, path));
    }
    Ok(())
}

fn too_many_pixels(size: Size, limit: u64, path: &Path) -> Error {
    Error::TooManyPixels {
        path: path.to_path_buf(),
        width: size.width,
        height: size.height,
        limit,
    }
}

fn pixels(size: Size) -> u64 {
    u64::from(size.width) * u64::from(size.height)
}

/// Why [`decode`] failed.
#[derive(Debug)]
pub enum Decoded {
    /// The header declares more pixels than allowed (width, height).
    TooLarge(u32, u32),
    /// The decoder failed.
    Error(ImageError),
}

impl From<io::Error> for Decoded {
    fn from(e: io::Error) -> Self {
        Decoded::Error(ImageError::IoError(e))
    }
}

impl From<ImageError> for Decoded {
    fn from(e: ImageError) -> Self {
        Decoded::Error(e)
    }
}

/// Decodes an in-memory image, applying its EXIF orientation.
///
/// The header's dimensions are checked against `max_pixels` before any pixel
/// memory is allocated, so a small file claiming a huge image (a
/// decompression bomb) is refused cheaply. The decoder's own allocations are
/// capped in proportion (16 bytes per allowed pixel).
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Image, Decoded> {
    decode_with(bytes, max_pixels, false)
}

/// [`decode`]; `alone` for a process that decodes and warps this one image:
/// while libjpeg-turbo decodes a big JPEG, a second thread faults in the
/// decoded buffer's pages ahead of it and prepares the warp's output buffer
/// ([`crate::malloc::prepare_spare`]).
pub fn decode_with(bytes: &[u8], max_pixels: u64, alone: bool) -> Result<Image, Decoded> {
    let mut reader = ImageReader::new(io::Cursor::new(bytes)).with_guessed_format()?;
    let is_jpeg = reader.format() == Some(ImageFormat::Jpeg);
    if is_jpeg && jpeg_is_truncated(bytes) {
        // The JPEG decoder fills missing scan data with grey instead of failing.
        return Err(Decoded::Error(ImageError::IoError(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated JPEG: no end-of-image marker after the last scan",
        ))));
    }
    // A grey or colour JPEG: libjpeg-turbo, with the header read in place.
    if let Some(header) = is_jpeg.then(|| jpeg_header(bytes)).flatten() {
        let Size { width, height } = header.size;
        if pixels(header.size) > max_pixels {
            return Err(Decoded::TooLarge(width, height));
        }
        let fast = match header.color {
            ColorType::L8 | ColorType::Rgb8 => turbojpeg::decode(bytes, max_pixels, alone)
                .filter(|d| (d.width, d.height) == (width, height))
                .and_then(|d| match d.channels {
                    1 => image::GrayImage::from_raw(width, height, d.pixels)
                        .map(DynamicImage::ImageLuma8),
                    _ => image::RgbImage::from_raw(width, height, d.pixels)
                        .map(DynamicImage::ImageRgb8),
                }),
            _ => None,
        };
        if let Some(mut pixels) = fast {
            pixels.apply_orientation(header.orientation);
            return Ok(Image {
                pixels,
                icc: header.icc,
            });
        }
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(16).max(1 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let (w, h) = decoder.dimensions();
    if pixels(Size::new(w, h)) > max_pixels {
        return Err(Decoded::TooLarge(w, h));
    }
    // A malformed profile is dropped, not fatal: the pixels are still good.
    let icc = decoder
        .icc_profile()
        .ok()
        .flatten()
        .filter(|p| !p.is_empty());
    let orientation = decoder.orientation()?;
    let mut pixels = DynamicImage::from_decoder(decoder)?;
    pixels.apply_orientation(orientation);
    Ok(Image { pixels, icc })
}

/// Whether a JPEG stream lacks its end-of-image marker (FF D9) after the last
/// start-of-scan (FF DA). Scan data stuffs every FF byte, so neither marker can
/// appear inside it; trailing bytes after the end marker are allowed.
fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    use memchr::memmem;
    // Equivalently: a start-of-scan after the last end-of-image (or after the
    // start, if there is none). The last end marker is normally the file's
    // last two bytes, so this reads only the file's end, where searching the
    // whole file backwards for the last scan cost ~0.7 ms on a 4K photo.
    let after_end = match memmem::rfind(bytes, &[0xFF, 0xD9]) {
        Some(e) => &bytes[e + 2..],
        None => bytes,
    };
    memmem::find(after_end, &[0xFF, 0xDA]).is_some()
}

/// The format to write `path` in: `explicit` if given, PNG for standard output,
/// else from the extension.
pub fn output_format(path: &Path, explicit: Option<ImageFormat>) -> Result<ImageFormat, Error> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    if is_stdio(path) {
        return Ok(ImageFormat::Png);
    }
    ImageFormat::from_path(path)
        .ok()
        .filter(|f| f.writing_enabled())
        .ok_or_else(|| Error::UnknownFormat {
            path: path.to_path_buf(),
        })
}

/// The file extension for outputs written in `format` by `--format`
/// (`pnm` for Netpbm: the layout picks PGM or PPM).
pub fn extension(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Pnm => Some("pnm"),
        f => f.extensions_str().first().copied(),
    }
}

/// The JPEG quality written when none is asked for, as OpenCV's `imwrite`
/// and libjpeg's `cjpeg` (Pillow's default is 75).
pub const DEFAULT_JPEG_QUALITY: u8 = 90;

/// Encoder settings, the same for every output of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// PNG compression effort.
    pub png: CompressionType,
    /// JPEG quality, 1–100, on libjpeg's scale (its standard quantisation
    /// tables scaled by `5000 / q` below 50 and `200 - 2q` from 50 up).
    pub jpeg_quality: u8,
}

impl Default for Encoding {
    fn default() -> Self {
        Encoding {
            png: CompressionType::Fast,
            jpeg_quality: DEFAULT_JPEG_QUALITY,
        }
    }
}

/// Which Netpbm file an output is, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Netpbm {
    /// `.pgm`: binary greymap, `P5`.
    Grey,
    /// `.ppm`: binary pixmap, `P6`.
    Rgb,
    /// `.pam`: `P7`, any layout, alpha included.
    Pam,
    /// `.pnm` (or standard output, or `.pbm`): `P5` for grey, `P6` for colour.
    ByLayout,
}

impl Netpbm {
    fn of(path: &Path) -> Netpbm {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("pgm") => Netpbm::Grey,
            Some("ppm") => Netpbm::Rgb,
            Some("pam") => Netpbm::Pam,
            _ => Netpbm::ByLayout,
        }
    }
}

/// Encodes `img` in `format` into memory (see [`encode_to`]).
pub fn encode(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: ImageFormat,
    enc: Encoding,
    path: &Path,
) -> Result<(Vec<u8>, Option<String>), Error> {
    let mut out = io::Cursor::new(Vec::new());
    let note = encode_to(img, icc, format, enc, path, &mut out)?;
    Ok((out.into_inner(), note))
}

/// Encodes `img` in `format` straight into `out`, with the ICC profile `icc`
/// where the format can hold one (PNG, JPEG, WebP, TIFF). `path` is the
/// output's name, for messages and for the Netpbm variant (`.pgm` `P5`,
/// `.ppm` `P6`, `.pam` `P7`, `.pnm` by layout).
///
/// Formats that cannot hold the image's layout get the closest one they can
/// (8-bit, then without alpha); the returned note says what was changed, or
/// that a profile had to be left out.
pub fn encode_to<W: Write + Seek>(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: ImageFormat,
    enc: Encoding,
    path: &Path,
    out: &mut W,
) -> Result<Option<String>, Error> {
    encode_with(img, icc, format, enc, path, out, None)
}

/// [`encode_to`], with a JPEG's strips perhaps encoded already.
fn encode_with<W: Write + Seek>(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: ImageFormat,
    enc: Encoding,
    path: &Path,
    out: &mut W,
    pre: Option<&JpegStrips>,
) -> Result<Option<String>, Error> {
    let encode_err = |source| encode_error(path, source);
    let (written, icc_kept) = match format {
        ImageFormat::Jpeg => {
            let written = jpeg(img, icc, enc.jpeg_quality, out, pre).map_err(encode_err)?;
            (written, true)
        }
        ImageFormat::Png => {
            let written = png(img, icc, enc.png, out).map_err(encode_err)?;
            (written, true)
        }
        ImageFormat::Pnm => {
            let written = netpbm(img, Netpbm::of(path), out).map_err(encode_err)?;
            (written, false)
        }
        _ => {
            let (bytes, written, icc_kept) = other(img, icc, format, path)?;
            out.write_all(&bytes)
                .map_err(|e| encode_err(ImageError::IoError(e)))?;
            (written, icc_kept)
        }
    };
    let mut notes = Vec::new();
    if written != img.color() {
        notes.push(format!(
            "{} cannot hold {:?} pixels; wrote {:?}",
            format_name(format),
            img.color(),
            written
        ));
    }
    if icc.is_some() && !icc_kept {
        notes.push(format!(
            "{} cannot hold the input's ICC colour profile; left out",
            format_name(format)
        ));
    }
    Ok((!notes.is_empty()).then(|| notes.join("; ")))
}

/// An encoder's failure: writing errors are the output's, the rest the format's.
fn encode_error(path: &Path, source: ImageError) -> Error {
    match source {
        ImageError::IoError(source) => Error::Write {
            path: path.to_path_buf(),
            source,
        },
        source => Error::Encode {
            path: path.to_path_buf(),
            source,
        },
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    extension(format).unwrap_or("this format")
}

/// JPEG at libjpeg's quality scaling, 4:2:0 chroma averaged as libjpeg
/// does, baseline with the standard Huffman tables, through libjpeg-turbo
/// when it loads and `jpeg-encoder` (AVX2 where the CPU has it) otherwise.
/// Images of at least 2 × [`JPEG_MIN_STRIP_ROWS`] rows are cut into up to
/// [`JPEG_STRIPS`] strips encoded in parallel, then stitched into exactly
/// the bytes of libjpeg-turbo's one-pass encode ([`stitch`]), or, with
/// `jpeg-encoder` or if stitching fails, joined with restart markers
/// ([`join_strips`]). Returns the layout written.
fn jpeg<W: Write>(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    quality: u8,
    out: &mut W,
    pre: Option<&JpegStrips>,
) -> Result<ColorType, ImageError> {
    use jpeg_encoder::ColorType as J;
    let converted;
    // (pixels, their layout, bytes per pixel, the layout written)
    let (bytes, layout, bpp, written) = match img {
        DynamicImage::ImageLuma8(b) => (b.as_raw().as_slice(), J::Luma, 1, ColorType::L8),
        DynamicImage::ImageRgb8(b) => (b.as_raw().as_slice(), J::Rgb, 3, ColorType::Rgb8),
        // Both encoders read RGBA and skip the alpha: no copy.
        DynamicImage::ImageRgba8(b) => (b.as_raw().as_slice(), J::Rgba, 4, ColorType::Rgb8),
        other if other.color().channel_count() <= 2 => {
            converted = DynamicImage::ImageLuma8(other.to_luma8());
            (converted.as_bytes(), J::Luma, 1, ColorType::L8)
        }
        other => {
            converted = DynamicImage::ImageRgb8(other.to_rgb8());
            (converted.as_bytes(), J::Rgb, 3, ColorType::Rgb8)
        }
    };
    let (w, h) = (img.width(), img.height());
    if w > 65535 || h > 65535 {
        return Err(jpeg_error(format!(
            "{w}x{h} is larger than JPEG's 65535x65535"
        )));
    }
    let pixels = Pixels {
        bytes,
        layout,
        bpp,
        row_bytes: w as usize * bpp,
        width: w as u16,
        turbo: turbojpeg::available(),
    };
    let grey = layout == J::Luma;
    // Strips encoded ahead of time (`JpegStrips`), if they are this image's.
    let pre = pre.filter(|p| {
        (p.plan.width, p.plan.height, p.bpp, p.quality, p.plan.turbo)
            == (w, h, bpp, quality, pixels.turbo)
    });
    let plan = match pre {
        Some(p) => p.plan,
        None => StripPlan::new(w, h, grey, pixels.turbo, rayon::current_num_threads() == 1),
    };
    let mut ready = pre
        .map(|p| std::mem::take(&mut *p.parts.lock().unwrap_or_else(|e| e.into_inner())))
        .unwrap_or_default();
    ready.resize_with(plan.strips as usize, || None);
    let parts = {
        use rayon::prelude::*;
        ready
            .into_par_iter()
            .enumerate()
            .map(|(k, part)| match part {
                Some(part) => Ok(part),
                None => plan.encode(&pixels, k as u32, icc, quality),
            })
            .collect::<Result<Vec<_>, ImageError>>()?
    };
    let StripPlan {
        strip_rows,
        stitched,
        mcus_per_row,
        mcu,
        ..
    } = plan;
    let icc = if pixels.turbo { icc } else { None };
    if stitched {
        let tails: Option<Vec<&[u8]>> = parts.iter().map(|p| p.2.as_deref()).collect();
        let strips: Vec<&[u8]> = parts.iter().map(|p| p.0.as_slice()).collect();
        if let Some(plan) = tails.and_then(|t| stitch::Stitch::new(&strips, &t)) {
            out.write_all(&whole_header(&parts[0].0, &parts[0].1, h, icc, None))?;
            plan.write(&strips, out)?;
            out.write_all(&[0xFF, 0xD9])?; // EOI
            return Ok(written);
        }
    }
    let parts: Vec<_> = parts.into_iter().map(|(v, l, _)| (v, l)).collect();
    let interval = (mcus_per_row * (strip_rows / mcu)) as u16;
    join_strips(&parts, h, interval, icc, out)?;
    Ok(written)
}

/// One strip as encoded: the JPEG of its rows, where things are in it, and
/// (to stitch it) the JPEG of its last two MCUs.
type Part = (Vec<u8>, JpegLayout, Option<Vec<u8>>);

/// How a JPEG is cut into strips ([`jpeg`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StripPlan {
    width: u32,
    height: u32,
    /// Pixels per MCU side: 8 for grey, 16 for 4:2:0 colour.
    mcu: u32,
    mcus_per_row: u32,
    strip_rows: u32,
    strips: u32,
    /// Whether the strips are stitched into one pass's bytes (else joined
    /// with restart markers).
    stitched: bool,
    turbo: bool,
}

impl StripPlan {
    fn new(w: u32, h: u32, grey: bool, turbo: bool, one_thread: bool) -> StripPlan {
        Self::with_strips(
            w,
            h,
            grey,
            turbo,
            if turbo && one_thread { 1 } else { JPEG_STRIPS },
        )
    }

    /// Up to `most` strips of at least [`JPEG_MIN_STRIP_ROWS`] rows, whole
    /// MCU rows each; the restart interval (MCUs per strip) must fit in 16
    /// bits. Stitched strips are one pass's bytes whatever their number, so
    /// on one thread there is no need for them; joined with restart markers
    /// they are not, and their number must not depend on the thread count.
    fn with_strips(w: u32, h: u32, grey: bool, turbo: bool, most: u32) -> StripPlan {
        let mcu = if grey { 8 } else { 16 };
        let mcus_per_row = w.div_ceil(mcu);
        let wanted = (h / JPEG_MIN_STRIP_ROWS).clamp(1, most);
        let strip_rows = h
            .div_ceil(wanted)
            .next_multiple_of(mcu)
            .min(65535 / mcus_per_row.max(1) * mcu)
            .max(mcu);
        let strips = h.div_ceil(strip_rows);
        StripPlan {
            width: w,
            height: h,
            mcu,
            mcus_per_row,
            strip_rows,
            strips,
            // Strips through libjpeg-turbo are stitched into one pass's bytes
            // (see `stitch`), from the JPEG of each strip's last two MCUs.
            stitched: turbo && strips > 1 && mcus_per_row >= 2,
            turbo,
        }
    }

    /// The rows of strip `k`: the first, and how many.
    fn rows(&self, k: u32) -> (u32, u32) {
        let y0 = k * self.strip_rows;
        (y0, self.strip_rows.min(self.height - y0))
    }

    /// Encodes strip `k` of `pixels` (the whole image, or from the strip's
    /// first row on).
    fn encode(
        &self,
        pixels: &Pixels<'_>,
        k: u32,
        icc: Option<&[u8]>,
        quality: u8,
    ) -> Result<Part, ImageError> {
        let (y0, rows) = self.rows(k);
        let mcu = self.mcu;
        // jpeg-encoder writes the profile itself, into the first strip.
        let icc = if k == 0 && !pixels.turbo { icc } else { None };
        let v = pixels.encode(y0, rows, icc, quality)?;
        let layout = JpegLayout::of(&v)
            .ok_or_else(|| jpeg_error("unexpected JPEG structure from the encoder"))?;
        let tail = if self.stitched {
            let last = y0 + (rows - 1) / mcu * mcu;
            let x0 = (self.mcus_per_row - 2) * mcu;
            pixels.encode_region(x0, last, y0 + rows - last, quality)
        } else {
            None
        };
        Ok((v, layout, tail))
    }
}

/// A JPEG's strips encoded while the rest of the image is still being made
/// (`stn warp` on one big JPEG: each strip as soon as its rows are warped),
/// for [`write_image_with`] to stitch. Only through libjpeg-turbo.
pub struct JpegStrips {
    plan: StripPlan,
    quality: u8,
    bpp: usize,
    parts: Mutex<Vec<Option<Part>>>,
}

impl JpegStrips {
    /// The strips of a `width` × `height` JPEG of 8-bit grey (1) or RGB (3)
    /// pixels at `quality`, `most` of them: `None` without libjpeg-turbo or
    /// if its strips would not be stitched.
    pub fn new(
        width: u32,
        height: u32,
        channels: u8,
        quality: u8,
        most: u32,
    ) -> Option<JpegStrips> {
        let plan =
            StripPlan::with_strips(width, height, channels == 1, turbojpeg::available(), most);
        (plan.stitched && matches!(channels, 1 | 3) && width <= 65535 && height <= 65535).then(
            || JpegStrips {
                plan,
                quality,
                bpp: usize::from(channels),
                parts: Mutex::new((0..plan.strips).map(|_| None).collect()),
            },
        )
    }

    /// How many strips.
    pub fn strips(&self) -> u32 {
        self.plan.strips
    }

    /// The rows of strip `k`: the first, and how many.
    pub fn rows(&self, k: u32) -> (u32, u32) {
        self.plan.rows(k)
    }

    /// Encodes strip `k` from its rows' samples (`rows · width · channels`
    /// bytes); a strip that fails is left to be encoded (and its error
    /// reported) when the image is written.
    pub fn encode(&self, k: u32, rows: &[u8]) {
        let (y0, n) = self.plan.rows(k);
        let row_bytes = self.plan.width as usize * self.bpp;
        assert_eq!(rows.len(), n as usize * row_bytes, "strip size");
        let pixels = Pixels {
            bytes: rows,
            layout: if self.bpp == 1 {
                jpeg_encoder::ColorType::Luma
            } else {
                jpeg_encoder::ColorType::Rgb
            },
            bpp: self.bpp,
            row_bytes,
            width: self.plan.width as u16,
            turbo: true,
        };
        // `pixels` starts at row y0: encode as strip 0 of a plan shifted up.
        let shifted = StripPlan {
            height: self.plan.height - y0,
            ..self.plan
        };
        if let Ok(part) = shifted.encode(&pixels, 0, None, self.quality) {
            self.parts.lock().unwrap_or_else(|e| e.into_inner())[k as usize] = Some(part);
        }
    }
}

/// Strips per JPEG at most: the unit of parallel encoding. Joined with
/// restart markers, a function of the image alone, so the bytes do not
/// depend on the thread count (stitched, the bytes are one pass's anyway,
/// and one thread encodes in one pass). Two:
/// they already halve the encode's wall time on the 2-core machines stn is
/// measured on. Stitched, strips cost nothing in size; joined with restart
/// markers (the fallback), each boundary makes the file 30–90 bytes larger
/// than a one-pass encode (measured with libjpeg-turbo on a 4K q90 photo of
/// 1.23 MB, cuts at rows 512–1088), mostly because the byte-stuffing after
/// it changes with its new bit alignment.
const JPEG_STRIPS: u32 = 2;
/// Rows per strip at least: smaller images are not split (a folder's images
/// are encoded in parallel with each other anyway).
const JPEG_MIN_STRIP_ROWS: u32 = 256;

/// 8-bit pixels as the encoders read them.
struct Pixels<'a> {
    bytes: &'a [u8],
    layout: jpeg_encoder::ColorType,
    bpp: usize,
    row_bytes: usize,
    width: u16,
    /// Through libjpeg-turbo (else jpeg-encoder).
    turbo: bool,
}

impl Pixels<'_> {
    /// Columns `x0..` of rows `y0..y0 + rows` through libjpeg-turbo: `None`
    /// if it is not loaded, else the file or its error message.
    fn turbo_encode(
        &self,
        x0: u32,
        y0: u32,
        rows: u32,
        quality: u8,
    ) -> Option<Result<Vec<u8>, String>> {
        let start = y0 as usize * self.row_bytes + x0 as usize * self.bpp;
        let data = self.bytes.get(start..)?;
        let width = u32::from(self.width) - x0;
        turbojpeg::encode(data, width, rows, self.bpp as u8, self.row_bytes, quality)
    }

    /// Encodes columns `x0..` of rows `y0..y0 + rows` through libjpeg-turbo
    /// (`None` if it is not loaded or fails).
    fn encode_region(&self, x0: u32, y0: u32, rows: u32, quality: u8) -> Option<Vec<u8>> {
        self.turbo_encode(x0, y0, rows, quality)?.ok()
    }

    /// Encodes rows `y0..y0 + rows` as a complete JPEG file (with `icc`
    /// only through jpeg-encoder).
    fn encode(
        &self,
        y0: u32,
        rows: u32,
        icc: Option<&[u8]>,
        quality: u8,
    ) -> Result<Vec<u8>, ImageError> {
        if self.turbo {
            if let Some(r) = self.turbo_encode(0, y0, rows, quality) {
                return r.map_err(jpeg_error);
            }
        }
        let data = &self.bytes[y0 as usize * self.row_bytes..(y0 + rows) as usize * self.row_bytes];
        let mut out = Vec::with_capacity(rows as usize * self.row_bytes / 8);
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
        if self.layout != jpeg_encoder::ColorType::Luma {
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        }
        encoder.set_chroma_subsampling_method(jpeg_encoder::ChromaSubsamplingMethod::Average);
        let err = |e: jpeg_encoder::EncodingError| match e {
            jpeg_encoder::EncodingError::IoError(e) => ImageError::IoError(e),
            e => jpeg_error(e),
        };
        if let Some(icc) = icc {
            encoder.add_icc_profile(icc).map_err(err)?;
        }
        encoder
            .encode(data, self.width, rows as u16, self.layout)
            .map_err(err)?;
        Ok(out)
    }
}

fn jpeg_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ImageError {
    ImageError::Encoding(image::error::EncodingError::new(
        ImageFormat::Jpeg.into(),
        e,
    ))
}

/// Joins strips, each encoded as a JPEG of its own with the same tables,
/// into one baseline JPEG with a restart interval of one strip (`interval`
/// MCUs): the first strip's headers (height set to the whole image's, the
/// ICC profile `icc` after its APP0 segment if given, a DRI segment added),
/// then each strip's entropy-coded data followed by a restart marker. A
/// strip encoded alone starts with zero DC predictions and ends padded to a
/// byte with 1 bits, exactly what a decoder expects after a restart marker,
/// so the file decodes to the same pixels as a single-pass encode. A single
/// strip is written as it is (with the profile).
fn join_strips<W: Write>(
    parts: &[(Vec<u8>, JpegLayout)],
    height: u32,
    interval: u16,
    icc: Option<&[u8]>,
    out: &mut W,
) -> Result<(), ImageError> {
    let (first, at) = &parts[0];
    if parts.len() == 1 {
        out.write_all(&whole_header(first, at, height, icc, None))?;
        out.write_all(&first[at.scan..])?;
        return Ok(());
    }
    out.write_all(&whole_header(first, at, height, icc, Some(interval)))?;
    for (k, (bytes, at)) in parts.iter().enumerate() {
        out.write_all(&bytes[at.scan..bytes.len() - 2])?;
        if k + 1 < parts.len() {
            out.write_all(&[0xFF, 0xD0 + (k % 8) as u8])?; // RSTn
        }
    }
    out.write_all(&[0xFF, 0xD9])?; // EOI
    Ok(())
}

/// The headers of the first strip `first` (laid out as `at`) for the whole
/// image: through the SOS segment, the height set to `height`, the ICC
/// profile `icc` after the APP0 segment if given, and a DRI segment if the
/// strips are joined with restart markers every `restart` MCUs.
fn whole_header(
    first: &[u8],
    at: &JpegLayout,
    height: u32,
    icc: Option<&[u8]>,
    restart: Option<u16>,
) -> Vec<u8> {
    let mut header = first[..at.after_app0].to_vec();
    if let Some(icc) = icc {
        icc_segments(icc, &mut header);
    }
    let sof_height = at.sof_height - at.after_app0 + header.len();
    header.extend_from_slice(&first[at.after_app0..at.sos]);
    header[sof_height..sof_height + 2].copy_from_slice(&(height as u16).to_be_bytes());
    if let Some(interval) = restart {
        header.extend_from_slice(&[0xFF, 0xDD, 0, 4]); // DRI, length 4
        header.extend_from_slice(&interval.to_be_bytes());
    }
    header.extend_from_slice(&first[at.sos..at.scan]);
    header
}

/// The ICC profile as APP2 `ICC_PROFILE` segments (ICC.1 Annex B.4): chunks
/// of at most 65,519 bytes, numbered from 1, each with the chunk count.
fn icc_segments(icc: &[u8], out: &mut Vec<u8>) {
    const TAG: &[u8] = b"ICC_PROFILE\0";
    const MAX: usize = 65535 - 2 - TAG.len() - 2;
    let count = icc.len().div_ceil(MAX);
    if icc.is_empty() || count > 255 {
        return;
    }
    for (i, chunk) in icc.chunks(MAX).enumerate() {
        let len = (2 + TAG.len() + 2 + chunk.len()) as u16;
        out.extend_from_slice(&[0xFF, 0xE2]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(TAG);
        out.extend_from_slice(&[i as u8 + 1, count as u8]);
        out.extend_from_slice(chunk);
    }
}

/// Where things are in a JPEG file as the encoders write it.
#[derive(Debug)]
struct JpegLayout {
    /// Just after SOI and any APP0 (JFIF) segments: where an ICC profile goes.
    after_app0: usize,
    /// The SOF segment's height field.
    sof_height: usize,
    /// The SOS marker.
    sos: usize,
    /// The first byte of entropy-coded data, after the SOS segment.
    scan: usize,
}

impl JpegLayout {
    /// Walks the marker segments from SOI to the first SOS; the file must end
    /// with EOI right after the scan.
    fn of(bytes: &[u8]) -> Option<JpegLayout> {
        if !bytes.ends_with(&[0xFF, 0xD9]) {
            return None;
        }
        let mut sof_height = None;
        let mut after_app0 = None;
        for s in jpeg_segments(bytes) {
            if s.marker != 0xE0 && after_app0.is_none() {
                after_app0 = Some(s.at);
            }
            match s.marker {
                0xC0 => sof_height = Some(s.at + 5),
                0xDA => {
                    let scan = s.end();
                    return (scan <= bytes.len() - 2).then_some(JpegLayout {
                        after_app0: after_app0?,
                        sof_height: sof_height?,
                        sos: s.at,
                        scan,
                    });
                }
                _ => {}
            }
        }
        None
    }
}

/// A marker segment of a JPEG file.
struct JpegSegment<'a> {
    marker: u8,
    /// Where it starts (its 0xFF).
    at: usize,
    /// What follows its length field.
    body: &'a [u8],
}

impl JpegSegment<'_> {
    /// Where the next segment (or, after SOS, the scan's data) starts.
    fn end(&self) -> usize {
        self.at + 4 + self.body.len()
    }
}

/// The marker segments of a JPEG file from SOI up to and including the
/// first SOS; none if it does not start with SOI, and no more after one
/// that is not a whole segment.
fn jpeg_segments(bytes: &[u8]) -> impl Iterator<Item = JpegSegment<'_>> {
    let mut next = bytes.starts_with(&[0xFF, 0xD8]).then_some(2);
    std::iter::from_fn(move || {
        let at = next.take()?;
        let (&[0xFF, marker], Some(len)) = (
            bytes.get(at..at + 2)?.first_chunk::<2>()?,
            bytes.get(at + 2..at + 4),
        ) else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let body = bytes.get(at + 4..at + 2 + len)?;
        let s = JpegSegment { marker, at, body };
        if marker != 0xDA {
            next = Some(s.end());
        }
        Some(s)
    })
}

/// PNG: every 8- and 16-bit layout as is; float images as 16-bit.
fn png<W: Write>(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    compression: CompressionType,
    out: &mut W,
) -> Result<ColorType, ImageError> {
    use ColorType::*;
    let converted;
    let img = match img.color() {
        L8 | La8 | Rgb8 | Rgba8 | L16 | La16 | Rgb16 | Rgba16 => img,
        c if c.has_alpha() => {
            converted = DynamicImage::ImageRgba16(img.to_rgba16());
            &converted
        }
        _ => {
            converted = DynamicImage::ImageRgb16(img.to_rgb16());
            &converted
        }
    };
    let mut encoder = PngEncoder::new_with_quality(out, compression, FilterType::Adaptive);
    if let Some(icc) = icc {
        encoder
            .set_icc_profile(icc.to_vec())
            .map_err(ImageError::Unsupported)?;
    }
    img.write_with_encoder(encoder)?;
    Ok(img.color())
}

/// Netpbm, binary: `P5` and `P6` as Netpbm specifies them (maxval 255, or
/// 65535 with big-endian samples), `P7` (PAM) with its tuple type. Returns
/// the layout written.
fn netpbm<W: Write>(
    img: &DynamicImage,
    kind: Netpbm,
    out: &mut W,
) -> Result<ColorType, ImageError> {
    let color = img.color();
    let wide = !matches!(
        color,
        ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8
    );
    let target = netpbm_target(kind, color);
    use ColorType::*;
    let converted;
    let img = if target == color {
        img
    } else {
        converted = match target {
            L8 => DynamicImage::ImageLuma8(img.to_luma8()),
            L16 => DynamicImage::ImageLuma16(img.to_luma16()),
            La8 => DynamicImage::ImageLumaA8(img.to_luma_alpha8()),
            La16 => DynamicImage::ImageLumaA16(img.to_luma_alpha16()),
            Rgb8 => DynamicImage::ImageRgb8(img.to_rgb8()),
            Rgb16 => DynamicImage::ImageRgb16(img.to_rgb16()),
            Rgba8 => DynamicImage::ImageRgba8(img.to_rgba8()),
            _ => DynamicImage::ImageRgba16(img.to_rgba16()),
        };
        &converted
    };
    out.write_all(netpbm_header(kind, target, img.width(), img.height()).as_bytes())?;
    let samples = img.as_bytes();
    if !wide {
        out.write_all(samples)?;
    } else {
        // Native-endian u16 samples to big-endian, a slice at a time.
        let mut be = vec![0u8; samples.len().min(1 << 16)];
        for chunk in samples.chunks(be.len()) {
            for (dst, src) in be.chunks_exact_mut(2).zip(chunk.chunks_exact(2)) {
                let v = u16::from_ne_bytes([src[0], src[1]]);
                dst.copy_from_slice(&v.to_be_bytes());
            }
            out.write_all(&be[..chunk.len()])?;
        }
    }
    Ok(target)
}

/// The layout a Netpbm file of `kind` stores pixels of `color` in.
fn netpbm_target(kind: Netpbm, color: ColorType) -> ColorType {
    use ColorType::*;
    let wide = !matches!(color, L8 | La8 | Rgb8 | Rgba8);
    let grey = color.channel_count() <= 2;
    let alpha = color.has_alpha();
    match (kind, grey, alpha, wide) {
        (Netpbm::Grey, _, _, false) => L8,
        (Netpbm::Grey, _, _, true) => L16,
        (Netpbm::Rgb, _, _, false) => Rgb8,
        (Netpbm::Rgb, _, _, true) => Rgb16,
        (Netpbm::ByLayout, true, _, false) => L8,
        (Netpbm::ByLayout, true, _, true) => L16,
        (Netpbm::ByLayout, false, _, false) => Rgb8,
        (Netpbm::ByLayout, false, _, true) => Rgb16,
        (Netpbm::Pam, true, false, false) => L8,
        (Netpbm::Pam, true, false, true) => L16,
        (Netpbm::Pam, true, true, false) => La8,
        (Netpbm::Pam, true, true, true) => La16,
        (Netpbm::Pam, false, false, false) => Rgb8,
        (Netpbm::Pam, false, false, true) => Rgb16,
        (Netpbm::Pam, false, true, false) => Rgba8,
        (Netpbm::Pam, false, true, true) => Rgba16,
    }
}

/// The header of a `w` × `h` Netpbm file of `kind` holding `target` pixels.
fn netpbm_header(kind: Netpbm, target: ColorType, w: u32, h: u32) -> String {
    let wide = target.bytes_per_pixel() > target.channel_count();
    let maxval = if wide { 65535 } else { 255 };
    match (kind, target.channel_count()) {
        (Netpbm::Pam, n) => {
            let tuple = ["GRAYSCALE", "GRAYSCALE_ALPHA", "RGB", "RGB_ALPHA"][usize::from(n) - 1];
            format!(
                "P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH {n}\nMAXVAL {maxval}\nTUPLTYPE {tuple}\nENDHDR\n"
            )
        }
        (_, 1) => format!("P5\n{w} {h}\n{maxval}\n"),
        _ => format!("P6\n{w} {h}\n{maxval}\n"),
    }
}

/// [`write_image`] for a JPEG output made band by band: `fill(y0, rows)`
/// writes output rows `y0 ..` into `rows` (whole rows), and each band goes
/// straight into libjpeg-turbo's encoder, in one pass: the bytes
/// [`write_image`] writes (libjpeg-turbo's one-pass encode at the same
/// settings), with no image-sized output buffer, whose fresh pages cost a
/// one-shot process about a tenth of its run. On the calling thread (for
/// `stn warp` on one thread). `None`, having done nothing, for layouts other
/// than 8-bit grey and RGB, or without libjpeg-turbo's libjpeg API.
pub fn write_jpeg_rows(
    size: Size,
    color: ColorType,
    quality: u8,
    icc: Option<&[u8]>,
    path: &Path,
    fill: &dyn Fn(u32, &mut [std::mem::MaybeUninit<u8>]),
) -> Option<Result<Option<String>, Error>> {
    use std::mem::MaybeUninit;
    let mut writer = JpegRowsWriter::new(size, color, quality)?;
    let row = size.width as usize * usize::from(color.bytes_per_pixel());
    let mut buf = vec![MaybeUninit::new(0u8); JPEG_BAND_ROWS as usize * row];
    let run = || {
        for y0 in (0..size.height).step_by(JPEG_BAND_ROWS as usize) {
            let n = JPEG_BAND_ROWS.min(size.height - y0) as usize;
            let rows = &mut buf[..n * row];
            fill(y0, rows);
            // SAFETY: `fill` writes every sample of its rows.
            let rows: &[u8] = unsafe { &*(rows as *const [MaybeUninit<u8>] as *const [u8]) };
            writer.write(rows, path)?;
        }
        writer.finish(icc, path).map(|()| None)
    };
    Some(run())
}

/// Output rows per band of [`write_jpeg_rows`].
const JPEG_BAND_ROWS: u32 = 64;

/// A JPEG file encoded from its rows as they are made ([`write_jpeg_rows`]).
struct JpegRowsWriter {
    encoder: libjpeg::Compressor,
    size: Size,
}

impl JpegRowsWriter {
    /// An encoder for `size` pixels of 8-bit grey or RGB at `quality`;
    /// `None` for other layouts, or without libjpeg-turbo's libjpeg API (or
    /// with `STN_JPEG=rust`).
    fn new(size: Size, color: ColorType, quality: u8) -> Option<JpegRowsWriter> {
        let channels = match color {
            ColorType::L8 => 1,
            ColorType::Rgb8 => 3,
            _ => return None,
        };
        if !turbojpeg::available() || size.width > 65535 || size.height > 65535 {
            return None;
        }
        let encoder = libjpeg::Compressor::new(size.width, size.height, channels, quality)?;
        Some(JpegRowsWriter { encoder, size })
    }

    /// Encodes the next rows (whole rows, top to bottom).
    fn write(&mut self, rows: &[u8], path: &Path) -> Result<(), Error> {
        self.encoder
            .write(rows)
            .map_err(|e| encode_error(path, jpeg_error(e)))
    }

    /// Finishes the file and writes it, with `icc`, atomically to `path`
    /// (a file, not standard output).
    fn finish(self, icc: Option<&[u8]>, path: &Path) -> Result<(), Error> {
        let encode_err = |e| encode_error(path, e);
        let bytes = self
            .encoder
            .finish()
            .map_err(|e| encode_err(jpeg_error(e)))?;
        let layout = JpegLayout::of(&bytes)
            .ok_or_else(|| encode_err(jpeg_error("unexpected JPEG structure from the encoder")))?;
        let (staged, ()) = stage_buffered(path, |out| {
            join_strips(&[(bytes, layout)], self.size.height, 0, icc, out).map_err(encode_err)
        })?;
        staged.commit_unless_interrupted()
    }
}

/// Whether [`write_netpbm_rows`] writes `color` pixels to `path` as
/// `format`: a Netpbm file (not standard output) that stores 8-bit `color`
/// as it is, with no conversion.
pub fn netpbm_takes_rows(path: &Path, format: ImageFormat, color: ColorType) -> bool {
    format == ImageFormat::Pnm
        && !is_stdio(path)
        && matches!(
            color,
            ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8
        )
        && netpbm_target(Netpbm::of(path), color) == color
}

/// Output rows per band of [`write_netpbm_rows`]: the unit its threads
/// share out.
const NETPBM_BAND_ROWS: u32 = 64;

/// [`write_image`] for a Netpbm output made band by band: `fill(y0, rows)`
/// writes output rows `y0 ..` into `rows` (whole rows). The bands are made
/// in parallel into two small buffers that take turns, one written to the
/// staged file while the other is filled: no image-sized output buffer,
/// whose fresh pages cost a one-shot process about as much as the warp
/// (a 4K RGB PPM: 25 MB). The file is [`write_image`]'s, byte for byte.
/// Only where [`netpbm_takes_rows`] says so.
pub fn write_netpbm_rows(
    size: Size,
    color: ColorType,
    icc: Option<&[u8]>,
    path: &Path,
    fill: &(dyn Fn(u32, &mut [std::mem::MaybeUninit<u8>]) + Sync),
) -> Result<Option<String>, Error> {
    use rayon::prelude::*;
    use std::mem::MaybeUninit;
    assert!(
        netpbm_takes_rows(path, ImageFormat::Pnm, color),
        "write_netpbm_rows: {color:?}"
    );
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let (w, h) = (size.width, size.height);
    let row_len = w as usize * usize::from(color.bytes_per_pixel());
    let band = NETPBM_BAND_ROWS as usize * row_len;
    let window_rows = NETPBM_BAND_ROWS * rayon::current_num_threads() as u32;
    let (staged, ()) = stage_with(path, |file| {
        let kind = Netpbm::of(path);
        file.write_all(netpbm_header(kind, color, w, h).as_bytes())
            .map_err(write_err)?;
        let cap = window_rows as usize * row_len;
        let (mut filling, mut full): (Vec<MaybeUninit<u8>>, Vec<MaybeUninit<u8>>) =
            (Vec::with_capacity(cap), Vec::with_capacity(cap));
        // SAFETY: `MaybeUninit` needs no initialisation.
        unsafe {
            filling.set_len(cap);
            full.set_len(cap);
        }
        // Bytes of `full` to write: the window filled last time round.
        let mut pending = 0;
        let mut y0 = 0;
        while y0 < h || pending > 0 {
            let rows = window_rows.min(h - y0);
            let len = rows as usize * row_len;
            let make = |buf: &mut [MaybeUninit<u8>]| {
                buf[..len]
                    .par_chunks_mut(band)
                    .enumerate()
                    .for_each(|(k, part)| fill(y0 + k as u32 * NETPBM_BAND_ROWS, part));
            };
            let written = &full[..pending];
            // SAFETY: the first `pending` bytes of `full` were filled (by
            // `fill`, which writes every sample of its rows) last time round.
            let written: &[u8] = unsafe { &*(written as *const [MaybeUninit<u8>] as *const [u8]) };
            let (done, ()) = rayon::join(|| file.write_all(written), || make(&mut filling));
            done.map_err(write_err)?;
            std::mem::swap(&mut filling, &mut full);
            pending = len;
            y0 += rows;
        }
        file.flush().map_err(write_err)
    })?;
    staged.commit_unless_interrupted()?;
    Ok(netpbm_icc_note(icc))
}

/// The note `encode_to` gives for a profile a Netpbm file cannot hold (the
/// layout is written as it is).
fn netpbm_icc_note(icc: Option<&[u8]>) -> Option<String> {
    icc.is_some().then(|| {
        format!(
            "{} cannot hold the input's ICC colour profile; left out",
            format_name(ImageFormat::Pnm)
        )
    })
}

/// A Netpbm output of an 8-bit layout ([`netpbm_takes_rows`]) written as
/// its rows are made, by any thread and in any order: each run of rows goes
/// straight to its place in the staged temporary file (`pwrite`) and on to
/// the disk (`sync_file_range`, not waited for), so that the disk writes
/// overlap the warp and no output image is needed. [`Self::finish`]
/// flushes and renames it; the bytes are [`write_image`]'s.
pub struct NetpbmRowFile {
    staged: Staged,
    /// Bytes of the header, where row 0 starts.
    header: u64,
    row_len: usize,
    /// The first write error, reported by [`Self::finish`].
    failed: Mutex<Option<io::Error>>,
}

impl NetpbmRowFile {
    /// Stages the file for an image of `size` in the 8-bit layout `color`
    /// and writes its header.
    ///
    /// # Panics
    /// Where [`netpbm_takes_rows`] says no.
    pub fn create(path: &Path, size: Size, color: ColorType) -> Result<Self, Error> {
        assert!(
            netpbm_takes_rows(path, ImageFormat::Pnm, color),
            "NetpbmRowFile: {color:?}"
        );
        let header = netpbm_header(Netpbm::of(path), color, size.width, size.height);
        let (staged, ()) = stage_with(path, |file| {
            file.write_all(header.as_bytes())
                .map_err(|source| Error::Write {
                    path: path.to_path_buf(),
                    source,
                })
        })?;
        Ok(NetpbmRowFile {
            staged,
            header: header.len() as u64,
            row_len: size.width as usize * usize::from(color.bytes_per_pixel()),
            failed: Mutex::new(None),
        })
    }

    /// Writes whole rows `y0 ..` (`rows`) at their place; a failure is kept
    /// for [`Self::finish`].
    pub fn write_rows(&self, y0: usize, rows: &[u8]) {
        debug_assert_eq!(rows.len() % self.row_len.max(1), 0);
        let at = self.header + (y0 * self.row_len) as u64;
        let file = self.staged.tmp.as_file();
        match write_all_at(file, rows, at) {
            Ok(()) => start_writeback(file, at, rows.len() as u64),
            Err(e) => {
                let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
                failed.get_or_insert(e);
            }
        }
    }

    /// Reports the first write error, else flushes the file to disk and
    /// renames it over the destination (unless interrupted); returns the
    /// note for a profile left out.
    pub fn finish(self, icc: Option<&[u8]>) -> Result<Option<String>, Error> {
        let failed = self.failed.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(source) = failed {
            return Err(Error::Write {
                path: self.staged.path.clone(),
                source,
            });
        }
        self.staged.commit_unless_interrupted()?;
        Ok(netpbm_icc_note(icc))
    }
}

/// Writes all of `bytes` at offset `at` of `file`, from any thread.
fn write_all_at(file: &fs::File, bytes: &[u8], at: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(bytes, at)
    }
    #[cfg(not(unix))]
    {
        // One writer at a time: a seek and a write are two calls.
        static ONE: Mutex<()> = Mutex::new(());
        let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let mut file = file;
        file.seek(io::SeekFrom::Start(at))?;
        file.write_all(bytes)
    }
}

/// Starts the disk writes of `len` bytes of `file` at `at` without waiting
/// for them (Linux `sync_file_range` with `SYNC_FILE_RANGE_WRITE`; nothing
/// elsewhere). A hint: failures are ignored (the `fsync` before the rename
/// still makes the data durable).
#[allow(unused_variables)] // off Linux
fn start_writeback(file: &fs::File, at: u64, len: u64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid descriptor and range; the call only schedules
        // writeback.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                at as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
}

/// Formats off the hot path (BMP, TIFF, WebP, GIF, …) through the `image`
/// crate, into memory: the image's own layout if the encoder takes it, else
/// the closest it does. Returns the bytes, the layout written and whether the
/// ICC profile went in.
fn other(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: ImageFormat,
    path: &Path,
) -> Result<(Vec<u8>, ColorType, bool), Error> {
    let first = match other_as(img, icc, format) {
        Ok((bytes, kept)) => return Ok((bytes, img.color(), kept)),
        Err(e) => e,
    };
    if matches!(first, ImageError::Unsupported(_)) {
        for fallback in fallbacks(img) {
            if let Ok((bytes, kept)) = other_as(&fallback, icc, format) {
                return Ok((bytes, fallback.color(), kept));
            }
        }
    }
    Err(encode_error(path, first))
}

/// Layouts to try, closest first, when a format refuses the image's own.
fn fallbacks(img: &DynamicImage) -> Vec<DynamicImage> {
    let c = img.color();
    let mut out = Vec::new();
    match (c.channel_count(), c.has_alpha()) {
        (1, _) => out.push(DynamicImage::ImageLuma8(img.to_luma8())),
        (2, _) => {
            out.push(DynamicImage::ImageLumaA8(img.to_luma_alpha8()));
            out.push(DynamicImage::ImageLuma8(img.to_luma8()));
        }
        (_, true) => {
            out.push(DynamicImage::ImageRgba8(img.to_rgba8()));
            out.push(DynamicImage::ImageRgb8(img.to_rgb8()));
        }
        _ => {}
    }
    out.push(DynamicImage::ImageRgb8(img.to_rgb8()));
    out.push(DynamicImage::ImageRgba8(img.to_rgba8()));
    out
}

fn other_as(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: ImageFormat,
) -> Result<(Vec<u8>, bool), ImageError> {
    let mut buf = io::Cursor::new(Vec::new());
    let kept = match format {
        ImageFormat::WebP => {
            let mut enc = WebPEncoder::new_lossless(&mut buf);
            let kept = icc.is_some_and(|p| enc.set_icc_profile(p.to_vec()).is_ok());
            img.write_with_encoder(enc)?;
            kept
        }
        ImageFormat::Tiff => {
            let mut enc = TiffEncoder::new(&mut buf);
            let kept = icc.is_some_and(|p| enc.set_icc_profile(p.to_vec()).is_ok());
            img.write_with_encoder(enc)?;
            kept
        }
        _ => {
            img.write_to(&mut buf, format)?;
            false
        }
    };
    Ok((buf.into_inner(), kept))
}

/// Encodes `img` (see [`encode_to`]) to standard output for `-`, else
/// atomically to `path` (see [`stage_image`]). Returns the encoder's note.
pub fn write_image(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: ImageFormat,
    enc: Encoding,
    path: &Path,
) -> Result<Option<String>, Error> {
    write_image_with(img, icc, format, enc, path, None)
}

/// [`write_image`], with the strips of a JPEG output perhaps encoded
/// already ([`JpegStrips`]; used if they are this image's, else ignored).
pub fn write_image_with(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: ImageFormat,
    enc: Encoding,
    path: &Path,
    pre: Option<&JpegStrips>,
) -> Result<Option<String>, Error> {
    if is_stdio(path) {
        let (bytes, note) = encode(img, icc, format, enc, path)?;
        write_output(path, &bytes)?;
        return Ok(note);
    }
    let (staged, note) = stage_image_with(img, icc, format, enc, path, pre)?;
    staged.commit_unless_interrupted()?;
    Ok(note)
}

/// Encodes `img` straight into a new temporary file beside `path` (through a
/// buffer, no in-memory copy of the whole file): the first half of an atomic
/// write, see [`Staged`]. `path` must not be `-`.
pub fn stage_image(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: ImageFormat,
    enc: Encoding,
    path: &Path,
) -> Result<(Staged, Option<String>), Error> {
    stage_image_with(img, icc, format, enc, path, None)
}

fn stage_image_with(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: ImageFormat,
    enc: Encoding,
    path: &Path,
    pre: Option<&JpegStrips>,
) -> Result<(Staged, Option<String>), Error> {
    stage_buffered(path, |out| {
        encode_with(img, icc, format, enc, path, out, pre)
    })
}

/// The first half of an atomic write to `path` (not `-`): `write` writes a
/// new temporary file beside it through [`Writeback`] (and flushes what it
/// buffers itself); returns the [`Staged`] file and what `write` returned.
fn stage_with<T>(
    path: &Path,
    write: impl FnOnce(&mut Writeback<'_>) -> Result<T, Error>,
) -> Result<(Staged, T), Error> {
    let mut tmp = temporary(path)?;
    let value = write(&mut Writeback::new(tmp.as_file_mut()))?;
    let staged = Staged {
        tmp,
        path: path.to_path_buf(),
    };
    Ok((staged, value))
}

/// [`stage_with`] through a [`STAGE_BUFFER`]-byte buffer, flushed after
/// `write`.
fn stage_buffered<T>(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<&mut Writeback<'_>>) -> Result<T, Error>,
) -> Result<(Staged, T), Error> {
    stage_with(path, |file| {
        let mut out = io::BufWriter::with_capacity(STAGE_BUFFER, file);
        let value = write(&mut out)?;
        out.flush().map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(value)
    })
}

/// The write buffer between an encoder and its temporary file.
const STAGE_BUFFER: usize = 256 << 10;

/// A file writer that starts the disk writes of every [`WRITEBACK_CHUNK`]
/// bytes as soon as they are written (Linux `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`, which does not wait), so that the `fsync` before
/// the rename waits for the last chunk only instead of the whole file: a 4K
/// PPM output (25 MB) spent 10–17 ms in `fsync` after a plain write. A hint:
/// failures are ignored (the `fsync` still makes the data durable).
struct Writeback<'a> {
    file: &'a mut fs::File,
    /// Bytes written so far, and where the range not yet handed to the disk starts.
    written: u64,
    kicked: u64,
}

/// See [`Writeback`].
const WRITEBACK_CHUNK: u64 = 4 << 20;

impl<'a> Writeback<'a> {
    fn new(file: &'a mut fs::File) -> Self {
        Writeback {
            file,
            written: 0,
            kicked: 0,
        }
    }
}

impl Write for Writeback<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Large writes in chunks, so each chunk's writeback starts early.
        let n = buf.len().min(WRITEBACK_CHUNK as usize);
        let n = self.file.write(&buf[..n])?;
        self.written += n as u64;
        if self.written - self.kicked >= WRITEBACK_CHUNK {
            start_writeback(self.file, self.kicked, self.written - self.kicked);
            self.kicked = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Writeback<'_> {
    /// (For encoders that go back to fill in a header: writing resumes
    /// from the new position, and so does the writeback bookkeeping.)
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let at = self.file.seek(pos)?;
        (self.written, self.kicked) = (at, at);
        Ok(at)
    }
}

/// Writes `bytes` to standard output for `-`, else atomically to `path`: into a
/// temporary file in the same directory, flushed to disk, then renamed over
/// the target. A failure leaves no partial file under the target's name.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if is_stdio(path) {
        let mut out = io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|_| out.flush())
            .map_err(|source| Error::Write {
                path: path.to_path_buf(),
                source,
            });
    }
    stage(path, bytes)?.commit()
}

/// An output written to a hidden temporary file beside its destination:
/// neither durable nor visible yet. Dropping it deletes the temporary file.
#[derive(Debug)]
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    path: std::path::PathBuf,
}

/// Writes `bytes` to a new temporary file in `path`'s directory (the first
/// half of [`write_output`]; `path` must not be `-`).
pub fn stage(path: &Path, bytes: &[u8]) -> Result<Staged, Error> {
    let mut tmp = temporary(path)?;
    tmp.write_all(bytes).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Staged {
        tmp,
        path: path.to_path_buf(),
    })
}

/// A new hidden temporary file in `path`'s directory.
fn temporary(path: &Path) -> Result<tempfile::NamedTempFile, Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".stn-").suffix(".tmp");
    // A temporary file is private (0600) by default; the output should get the
    // permissions any new file gets (0666 less the umask), like `fs::write`.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

impl Staged {
    /// [`Staged::commit`], unless an interruption (Ctrl-C) was asked for:
    /// then the temporary file is deleted and nothing replaces the
    /// destination.
    fn commit_unless_interrupted(self) -> Result<(), Error> {
        if crate::interrupt::requested() {
            return Err(Error::Interrupted);
        }
        self.commit()
    }

    /// Flushes the file to disk and renames it over the destination (the
    /// second half of [`write_output`]).
    pub fn commit(self) -> Result<(), Error> {
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|source| Error::Write {
                path: self.path.clone(),
                source,
            })?;
        self.rename()
    }

    /// Renames the (already flushed) file over the destination.
    fn rename(self) -> Result<(), Error> {
        let path = self.path;
        self.tmp.persist(&path).map_err(|e| Error::Write {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// Commits a group of staged outputs: with one `syncfs` per file system on
/// Linux (one journal commit instead of one `fsync` per file, which is what
/// a folder of small outputs waits on), then the renames; each output is
/// still on disk before its name appears. If the group flush fails, or
/// elsewhere, each file is flushed and renamed on its own, so a failure is
/// reported for the file it belongs to.
fn commit_group<T>(group: Vec<(T, Staged)>) -> Vec<Outcome<T>> {
    #[cfg(target_os = "linux")]
    if group.len() > 1 && syncfs_all(&group) {
        return group.into_iter().map(|(t, s)| (t, s.rename())).collect();
    }
    group.into_iter().map(|(t, s)| (t, s.commit())).collect()
}

/// `syncfs` on each distinct file system the group's files are on; whether
/// every call succeeded.
#[cfg(target_os = "linux")]
fn syncfs_all<T>(group: &[(T, Staged)]) -> bool {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::io::AsRawFd;
    let mut devices = Vec::new();
    for (_, s) in group {
        let file = s.tmp.as_file();
        let Ok(meta) = file.metadata() else {
            return false;
        };
        if devices.contains(&meta.dev()) {
            continue;
        }
        devices.push(meta.dev());
        // SAFETY: `syncfs` takes any open file descriptor and only reads it.
        if unsafe { libc::syncfs(file.as_raw_fd()) } != 0 {
            return false;
        }
    }
    true
}

/// Most outputs one commit thread flushes with one `syncfs`.
const COMMIT_GROUP: usize = 64;

/// How long a commit thread gathers outputs after the first before it
/// flushes them: one `syncfs` costs about what one `fsync` does (a journal
/// commit, 0.3–0.4 ms here), so small outputs made faster than that are
/// flushed in groups instead of one by one. Taking only what was queued
/// already, the four threads emptied the queue as it filled: 10,000 text
/// crops made 7,946 `fsync` and 970 `syncfs` calls, and the journal
/// commits, not the CPU, set the pace. The wait delays an output's commit,
/// not the work: the threads that make outputs never wait for it, and a
/// closed queue (the end of a run) ends it at once.
const COMMIT_WAIT: Duration = Duration::from_millis(5);

/// The outcome of one commit, with the token it was submitted with.
pub type Outcome<T> = (T, Result<(), Error>);

/// Commits [`Staged`] outputs on a few background threads, so that the
/// threads that decode, warp and encode never wait for the disk (an `fsync`
/// takes milliseconds of waiting and no CPU). Each commit's outcome comes
/// back with the caller's token.
pub struct Committer<T> {
    queue: Option<mpsc::SyncSender<(T, Staged)>>,
    done: Mutex<mpsc::Receiver<Outcome<T>>>,
    /// Outcomes of commits made by `submit` itself (only if the threads died).
    inline: Mutex<Vec<Outcome<T>>>,
    threads: Vec<thread::JoinHandle<()>>,
}

/// Commit threads: `fsync`s wait on the device, not the CPU, so a few run
/// at once whatever the core count.
const COMMIT_THREADS: usize = 4;

impl<T: Send + 'static> Committer<T> {
    /// Starts the commit threads. At most `capacity` staged outputs wait in
    /// the queue; [`Committer::submit`] blocks beyond that.
    pub fn new(capacity: usize) -> Self {
        let (queue, jobs) = mpsc::sync_channel::<(T, Staged)>(capacity);
        let (report, done) = mpsc::channel();
        let jobs = Arc::new(Mutex::new(jobs));
        let threads = (0..COMMIT_THREADS)
            .map(|_| {
                let (jobs, report) = (jobs.clone(), report.clone());
                thread::spawn(move || loop {
                    // The next output, and whatever else arrives within
                    // COMMIT_WAIT of it (at once when the queue is closed).
                    let group = {
                        let Ok(rx) = jobs.lock() else {
                            return;
                        };
                        let Ok(first) = rx.recv() else {
                            return;
                        };
                        let mut group = vec![first];
                        let until = Instant::now() + COMMIT_WAIT;
                        while group.len() < COMMIT_GROUP {
                            let left = until.saturating_duration_since(Instant::now());
                            match rx.recv_timeout(left) {
                                Ok(next) => group.push(next),
                                Err(_) => break,
                            }
                        }
                        group
                    };
                    for outcome in commit_group(group) {
                        if report.send(outcome).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Committer {
            queue: Some(queue),
            done: Mutex::new(done),
            inline: Mutex::new(Vec::new()),
            threads,
        }
    }

    /// Queues `staged` for committing.
    pub fn submit(&self, token: T, staged: Staged) {
        let queue = self.queue.as_ref().expect("queue open until finish");
        if let Err(mpsc::SendError((token, staged))) = queue.send((token, staged)) {
            // Every commit thread is gone (only a panic there could do that):
            // commit on this thread.
            let outcome = (token, staged.commit());
            self.inline
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(outcome);
        }
    }

    /// The outcomes of the commits finished since the last call.
    pub fn completed(&self) -> Vec<Outcome<T>> {
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = done.try_iter().collect();
        out.append(&mut self.inline.lock().unwrap_or_else(|e| e.into_inner()));
        out
    }

    /// Waits for every queued commit and returns the outcomes not yet taken.
    pub fn finish(mut self) -> Vec<Outcome<T>> {
        self.drain();
        self.completed()
    }
}

impl<T> Committer<T> {
    /// Closes the queue and waits for the threads to commit what it holds.
    fn drain(&mut self) {
        drop(self.queue.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl<T> Drop for Committer<T> {
    /// Commits what is queued before going (an early return must not leave
    /// temporary files behind); the outcomes are lost.
    fn drop(&mut self) {
        self.drain();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG of `w` × `h` noisy, smooth-ish pixels through `jpeg-encoder`.
    fn jpeg_of(
        w: u16,
        h: u16,
        grey: bool,
        set: impl FnOnce(&mut jpeg_encoder::Encoder<&mut Vec<u8>>),
    ) -> Vec<u8> {
        let c = if grey { 1 } else { 3 };
        let px: Vec<u8> = (0..usize::from(w) * usize::from(h) * c)
            .map(|i| ((i * 7 + (i / 97) * 13) % 256) as u8 ^ ((i % 5) as u8 * 40))
            .collect();
        let mut out = Vec::new();
        let mut e = jpeg_encoder::Encoder::new(&mut out, 85);
        set(&mut e);
        let layout = if grey {
            jpeg_encoder::ColorType::Luma
        } else {
            jpeg_encoder::ColorType::Rgb
        };
        e.encode(&px, w, h, layout).unwrap();
        out
    }

    /// Decodes through the row decoder, checking the rows are handed over
    /// in order and all of them.
    fn rows(bytes: &[u8], w: u32, h: u32, c: u8) -> Result<Vec<u8>, libjpeg::Failed> {
        let mut px = vec![0u8; (w * h) as usize * usize::from(c)];
        let mut seen = vec![0usize];
        // SAFETY: `px` is ours and of the image's size.
        let r = unsafe {
            libjpeg::decode_rows(bytes, (w, h, c), px.as_mut_ptr(), &mut |n| seen.push(n))
        };
        r.map(|()| {
            assert!(seen.windows(2).all(|p| p[0] < p[1]), "{seen:?}");
            assert_eq!(*seen.last().unwrap(), h as usize);
            px
        })
    }

    /// The row decoder, wherever libjpeg-turbo is in use, gives exactly the
    /// TurboJPEG decoder's pixels (the ones held to Pillow's in the
    /// integration tests): every chroma subsampling, grey, sizes that are
    /// not whole blocks, restart markers.
    #[test]
    fn row_decoder_gives_turbojpeg_pixels() {
        if !turbojpeg::available() {
            return; // STN_JPEG=rust, or no library: nothing uses it.
        }
        assert!(libjpeg::available(), "libjpeg.so.62 beside libturbojpeg");
        use jpeg_encoder::SamplingFactor as F;
        let cases: Vec<(u16, u16, bool, Option<F>, u16)> = vec![
            (37, 29, false, Some(F::F_2_2), 0),
            (301, 203, false, Some(F::F_2_2), 0),
            (301, 203, false, Some(F::F_1_1), 0),
            (301, 203, false, Some(F::F_2_1), 0),
            (300, 200, false, Some(F::F_4_1), 0),
            (123, 77, false, Some(F::F_1_2), 0),
            (301, 203, true, None, 0),
            (301, 203, false, Some(F::F_2_2), 5),
        ];
        for (w, h, grey, sampling, restart) in cases {
            let jpg = jpeg_of(w, h, grey, |e| {
                if let Some(f) = sampling {
                    e.set_sampling_factor(f);
                }
                if restart > 0 {
                    e.set_restart_interval(restart);
                }
            });
            let want = turbojpeg::decode(&jpg, 1 << 30, false).expect("TurboJPEG decodes it");
            let c = want.channels;
            let got = rows(&jpg, w.into(), h.into(), c).expect("the row decoder decodes it");
            assert!(
                got == want.pixels,
                "{w}x{h} grey {grey} {sampling:?} restart {restart}"
            );
        }
    }

    /// The row encoder, fed rows in pieces of any size, writes exactly
    /// TurboJPEG's bytes (the ones held to Pillow's in the integration
    /// tests): grey and colour, sizes that are not whole MCUs, qualities
    /// from 1 to 100; and refuses to finish before the last row.
    #[test]
    fn row_encoder_gives_turbojpeg_bytes() {
        if !turbojpeg::available() {
            return;
        }
        for (w, h, c, q) in [
            (37u32, 29u32, 3u8, 90u8),
            (301, 203, 3, 75),
            (64, 48, 3, 100),
            (300, 200, 3, 1),
            (301, 203, 1, 90),
            (17, 150, 1, 50),
        ] {
            let px: Vec<u8> = (0..(w * h) as usize * usize::from(c))
                .map(|i| ((i * 7 + (i / 97) * 13) % 256) as u8 ^ ((i % 5) as u8 * 40))
                .collect();
            let row = w as usize * usize::from(c);
            let want = turbojpeg::encode(&px, w, h, c, row, q).unwrap().unwrap();
            let mut enc = libjpeg::Compressor::new(w, h, c, q).expect("libjpeg.so.62 loads");
            let mut y = 0;
            for (k, n) in [1usize, 7, 16, 40, 3].iter().cycle().enumerate() {
                let n = (*n + k % 2).min(h as usize - y);
                enc.write(&px[y * row..(y + n) * row]).unwrap();
                y += n;
                if y == h as usize {
                    break;
                }
            }
            let got = enc.finish().unwrap();
            assert!(got == want, "{w}x{h}x{c} q{q}");
        }
        let mut enc = libjpeg::Compressor::new(16, 16, 3, 90).unwrap();
        enc.write(&[0u8; 16 * 3 * 8]).unwrap();
        assert!(enc.finish().is_err());
    }

    /// What the row decoder refuses before any row (a progressive file, a
    /// size or layout other than the header's, no image at all) and what
    /// makes it fail while decoding (corrupt data): errors, never a crash or
    /// a message on standard error.
    #[test]
    fn row_decoder_refuses_and_fails_cleanly() {
        if !turbojpeg::available() {
            return;
        }
        use libjpeg::Failed;
        let jpg = jpeg_of(64, 48, false, |_| {});
        assert!(rows(&jpg, 64, 48, 3).is_ok());
        assert_eq!(rows(&jpg, 64, 47, 3), Err(Failed::Unsuitable));
        assert_eq!(rows(&jpg, 64, 48, 1), Err(Failed::Unsuitable));
        let progressive = jpeg_of(64, 48, false, |e| e.set_progressive(true));
        assert_eq!(rows(&progressive, 64, 48, 3), Err(Failed::Unsuitable));
        // SOI then EOI: libjpeg's error_exit ("no image"), caught.
        assert_eq!(
            rows(&[0xFF, 0xD8, 0xFF, 0xD9], 64, 48, 3),
            Err(Failed::Unsuitable)
        );
        // The scan cut short (then EOI): a warning, so a failure.
        let cut = [&jpg[..jpg.len() * 2 / 3], &[0xFF, 0xD9][..]].concat();
        assert!(matches!(rows(&cut, 64, 48, 3), Err(Failed::Decoding(_))));
    }

    #[test]
    fn format_from_extension() {
        assert_eq!(
            output_format(Path::new("a.JPG"), None).unwrap(),
            ImageFormat::Jpeg
        );
        assert_eq!(
            output_format(Path::new("a.pgm"), None).unwrap(),
            ImageFormat::Pnm
        );
        assert_eq!(
            output_format(Path::new("-"), None).unwrap(),
            ImageFormat::Png
        );
        assert!(output_format(Path::new("a.txt"), None).is_err());
        assert!(output_format(Path::new("noext"), None).is_err());
    }

    #[test]
    fn jpeg_of_rgba16_falls_back_to_rgb8() {
        let img = DynamicImage::new_rgba16(3, 2);
        let (bytes, _note) = encode(
            &img,
            None,
            ImageFormat::Jpeg,
            Encoding::default(),
            Path::new("x.jpg"),
        )
        .unwrap();
        let back = decode(&bytes, 1 << 20).unwrap().pixels;
        assert_eq!(back.color(), image::ColorType::Rgb8);
    }

    #[test]
    fn png_keeps_16_bit_rgba() {
        let img = DynamicImage::new_rgba16(3, 2);
        let (bytes, note) = encode(
            &img,
            None,
            ImageFormat::Png,
            Encoding::default(),
            Path::new("x.png"),
        )
        .unwrap();
        assert!(note.is_none());
        assert_eq!(
            decode(&bytes, 1 << 20).unwrap().pixels.color(),
            image::ColorType::Rgba16
        );
    }

    /// `jpg` with an EXIF segment whose Orientation tag is `orientation`.
    fn with_orientation(jpg: &[u8], orientation: u8) -> Vec<u8> {
        let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec(); // little-endian TIFF, IFD at 8, 1 entry
        tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0]);
        tiff.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut tagged = vec![0xFF, 0xD8, 0xFF, 0xE1];
        tagged.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        tagged.extend_from_slice(&app1);
        tagged.extend_from_slice(&jpg[2..]);
        tagged
    }

    #[test]
    fn exif_orientation_is_applied() {
        // A 4×2 JPEG tagged "rotate 90° clockwise" (orientation 6) decodes as 2×4.
        let img = DynamicImage::new_rgb8(4, 2);
        let (jpg, _) = encode(
            &img,
            None,
            ImageFormat::Jpeg,
            Encoding::default(),
            Path::new("a.jpg"),
        )
        .unwrap();
        let back = decode(&with_orientation(&jpg, 6), 1 << 20).unwrap().pixels;
        assert_eq!((back.width(), back.height()), (2, 4));
    }

    #[test]
    fn jpeg_header_reads_what_images_decoder_reads() {
        // Grey and colour, with an ICC profile and EXIF orientation 6: the
        // header read in place says what `image`'s JPEG decoder says.
        let profile: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        for img in [DynamicImage::new_luma8(5, 3), DynamicImage::new_rgb8(4, 2)] {
            let (jpg, _) = encode(
                &img,
                Some(&profile),
                ImageFormat::Jpeg,
                Encoding::default(),
                Path::new("a.jpg"),
            )
            .unwrap();
            let tagged = with_orientation(&jpg, 6);
            let mut reference = ImageReader::new(io::Cursor::new(&tagged))
                .with_guessed_format()
                .unwrap()
                .into_decoder()
                .unwrap();
            let header = jpeg_header(&tagged).expect("a JPEG header");
            let (w, h) = reference.dimensions();
            assert_eq!(header.size, Size::new(w, h));
            assert_eq!(header.color, reference.color_type());
            assert_eq!(header.orientation, reference.orientation().unwrap());
            assert_eq!(header.orientation, Orientation::Rotate90);
            assert_eq!(header.icc, reference.icc_profile().unwrap());
            assert_eq!(header.icc.as_deref(), Some(&profile[..]));
        }
        assert!(jpeg_header(b"\xFF\xD8\xFF\xDB").is_none());
    }

    #[test]
    fn truncated_jpeg_is_detected() {
        let mut img = DynamicImage::new_rgb8(16, 16);
        img.as_mut_rgb8()
            .unwrap()
            .put_pixel(3, 3, image::Rgb([200, 10, 10]));
        let (jpg, _) = encode(
            &img,
            None,
            ImageFormat::Jpeg,
            Encoding::default(),
            Path::new("a.jpg"),
        )
        .unwrap();
        assert!(!jpeg_is_truncated(&jpg));
        let mut trailing = jpg.clone();
        trailing.extend_from_slice(b"trailing bytes");
        assert!(!jpeg_is_truncated(&trailing));
        assert!(jpeg_is_truncated(&jpg[..jpg.len() - 10]));
        assert!(decode(&jpg[..jpg.len() - 10], 1 << 20).is_err());
        // An end marker before the scan (an EXIF thumbnail's) does not count.
        let thumb = [0xFF, 0xD8, 0xFF, 0xE1, 0, 6, 0xFF, 0xD8, 0xFF, 0xD9];
        let whole = [&thumb[..], &[0xFF, 0xDA, 0, 2, 7, 0xFF, 0xD9]].concat();
        assert!(!jpeg_is_truncated(&whole));
        assert!(jpeg_is_truncated(&whole[..whole.len() - 2]));
        assert!(!jpeg_is_truncated(&thumb)); // no scan: the decoder says so
    }

    /// A photo-like RGB image: gradients, a hard edge, texture.
    fn photo(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            let t = ((x * 7 + y * 13) % 23) as u8;
            let edge = if x > w / 3 && y > h / 2 { 60 } else { 0 };
            image::Rgb([
                (x * 200 / w) as u8 + t,
                (y * 150 / h) as u8 + edge,
                120u8.wrapping_add((x ^ y) as u8 / 8),
            ])
        }))
    }

    fn jpeg_bytes(img: &DynamicImage, quality: u8) -> Vec<u8> {
        let enc = Encoding {
            jpeg_quality: quality,
            ..Encoding::default()
        };
        encode(img, None, ImageFormat::Jpeg, enc, Path::new("a.jpg"))
            .unwrap()
            .0
    }

    /// `img` encoded in one pass by the encoder this process uses
    /// (libjpeg-turbo if it loads).
    fn one_pass(img: &DynamicImage, quality: u8) -> Vec<u8> {
        let (layout, bpp) = match img.color() {
            ColorType::L8 => (jpeg_encoder::ColorType::Luma, 1),
            ColorType::Rgba8 => (jpeg_encoder::ColorType::Rgba, 4),
            _ => (jpeg_encoder::ColorType::Rgb, 3),
        };
        let pixels = Pixels {
            bytes: img.as_bytes(),
            layout,
            bpp,
            row_bytes: img.width() as usize * bpp,
            width: img.width() as u16,
            turbo: turbojpeg::available(),
        };
        pixels.encode(0, img.height(), None, quality).unwrap()
    }

    #[test]
    fn jpeg_in_strips_is_the_one_pass_encode() {
        for img in [
            photo(300, 700),
            DynamicImage::ImageLuma8(photo(300, 700).to_luma8()),
        ] {
            let split = jpeg_bytes(&img, 90);
            let whole = one_pass(&img, 90);
            if turbojpeg::available() {
                // Stitched: libjpeg-turbo's own one-pass bytes.
                assert!(split == whole, "{:?}: not the one-pass bytes", img.color());
                continue;
            }
            // jpeg-encoder: joined with a restart marker, same pixels.
            assert!(split.windows(2).any(|w| w == [0xFF, 0xDD]), "a DRI segment");
            // 700 rows: 2 strips of 352 and 348 rows, joined by RST0.
            assert!(split.windows(2).any(|w| w == [0xFF, 0xD0]), "RST0");
            assert!(!split.windows(2).any(|w| w == [0xFF, 0xD1]), "no RST1");
            let a = decode(&split, 1 << 24).unwrap().pixels;
            let b = decode(&whole, 1 << 24).unwrap().pixels;
            assert_eq!((a.width(), a.height(), a.color()), (300, 700, img.color()));
            assert!(a.as_bytes() == b.as_bytes(), "same pixels as one pass");
        }
    }

    /// Stitching strips at every bit alignment, for noise (many 0xFF bytes
    /// to stuff), flat areas (DC-only blocks), widths that are not whole
    /// MCUs, grey, RGB and RGBA, several qualities: always libjpeg-turbo's
    /// one-pass bytes.
    #[test]
    fn stitched_strips_are_byte_for_byte_one_pass() {
        if !turbojpeg::available() {
            eprintln!("libjpeg-turbo not loaded: stitching is not used");
            return;
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut noise = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut images = vec![];
        for (w, h) in [(33, 530), (300, 700), (1001, 777), (3840, 600)] {
            images.push(DynamicImage::ImageRgb8(image::RgbImage::from_fn(
                w,
                h,
                |x, y| {
                    let n = noise();
                    let flat = y % 200 < 90; // bands of one colour
                    if flat {
                        image::Rgb([40, 90, 200])
                    } else {
                        image::Rgb([n as u8, (x + y) as u8 ^ (n >> 8) as u8 & 7, (y * 3) as u8])
                    }
                },
            )));
        }
        images.push(DynamicImage::ImageLuma8(photo(517, 1100).to_luma8()));
        images.push(DynamicImage::ImageRgba8(photo(640, 1024).to_rgba8()));
        images.push(DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            64,
            512,
            image::Rgb([255, 255, 255]),
        )));
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        for img in &images {
            for quality in [50, 90, 100] {
                let whole = one_pass(img, quality);
                assert!(one_thread.install(|| jpeg_bytes(img, quality)) == whole);
                let split = jpeg_bytes(img, quality);
                assert!(
                    split == whole,
                    "{}x{} {:?} q{quality}: {} bytes stitched, {} in one pass",
                    img.width(),
                    img.height(),
                    img.color(),
                    split.len(),
                    whole.len()
                );
            }
        }
    }

    #[test]
    fn jpeg_quality_changes_size_and_keeps_the_image() {
        let img = photo(64, 48);
        let (q50, q90) = (jpeg_bytes(&img, 50), jpeg_bytes(&img, 90));
        assert!(q50.len() < q90.len());
        let back = decode(&q90, 1 << 20).unwrap().pixels.to_rgb8();
        let err: f64 = back
            .as_raw()
            .iter()
            .zip(img.as_bytes())
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
            / back.as_raw().len() as f64;
        let psnr = 10.0 * (255.0f64 * 255.0 / err).log10();
        assert!(psnr > 30.0, "PSNR {psnr}");
    }

    #[test]
    fn jpeg_drops_alpha_with_a_note() {
        let img = DynamicImage::ImageRgba8(photo(20, 10).to_rgba8());
        let (bytes, note) = encode(
            &img,
            None,
            ImageFormat::Jpeg,
            Encoding::default(),
            Path::new("a.jpg"),
        )
        .unwrap();
        assert!(note.unwrap().contains("Rgba8"));
        assert_eq!(
            decode(&bytes, 1 << 20).unwrap().pixels.color(),
            ColorType::Rgb8
        );
    }

    fn netpbm_bytes(img: &DynamicImage, name: &str) -> (Vec<u8>, Option<String>) {
        encode(
            img,
            None,
            ImageFormat::Pnm,
            Encoding::default(),
            Path::new(name),
        )
        .unwrap()
    }

    #[test]
    fn netpbm_flavour_follows_the_extension() {
        let rgb = photo(5, 3);
        let grey = DynamicImage::ImageLuma8(rgb.to_luma8());
        let rgba = DynamicImage::ImageRgba8(rgb.to_rgba8());
        let header = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(11)]).into_owned();
        let (ppm, note) = netpbm_bytes(&rgb, "a.ppm");
        assert!(note.is_none());
        assert_eq!(&ppm[..11], b"P6\n5 3\n255\n");
        assert_eq!(&ppm[11..], rgb.as_bytes());
        let (pgm, note) = netpbm_bytes(&rgb, "a.PGM");
        assert!(pgm.starts_with(b"P5\n5 3\n255\n"), "{}", header(&pgm));
        assert!(note.unwrap().contains("L8"));
        assert_eq!(&pgm[11..], rgb.to_luma8().as_raw().as_slice());
        assert!(netpbm_bytes(&grey, "a.pnm").0.starts_with(b"P5\n"));
        assert!(netpbm_bytes(&grey, "-").0.starts_with(b"P5\n"));
        let (pnm, note) = netpbm_bytes(&rgba, "a.pnm");
        assert!(pnm.starts_with(b"P6\n"));
        assert!(
            note.unwrap().contains("wrote Rgb8"),
            "alpha dropped, said so"
        );
        let (pam, note) = netpbm_bytes(&rgba, "a.pam");
        assert!(note.is_none());
        let head = b"P7\nWIDTH 5\nHEIGHT 3\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n";
        assert_eq!(&pam[..head.len()], head);
        assert_eq!(&pam[head.len()..], rgba.as_bytes());
        // Each reads back as what was written.
        for (bytes, want) in [(&ppm, &rgb), (&pam, &rgba)] {
            assert_eq!(decode(bytes, 1 << 20).unwrap().pixels, *want);
        }
    }

    #[test]
    fn netpbm_16_bit_is_big_endian_with_maxval_65535() {
        let img = DynamicImage::ImageRgb16(image::ImageBuffer::from_fn(2, 1, |x, _| {
            image::Rgb([0x0102 + x as u16, 0x0304, 0xA0B0])
        }));
        let (ppm, note) = netpbm_bytes(&img, "a.ppm");
        assert!(note.is_none());
        let head = b"P6\n2 1\n65535\n";
        assert_eq!(&ppm[..head.len()], head);
        assert_eq!(
            &ppm[head.len()..],
            &[1, 2, 3, 4, 0xA0, 0xB0, 1, 3, 3, 4, 0xA0, 0xB0]
        );
        assert_eq!(decode(&ppm, 1 << 20).unwrap().pixels, img);
        let grey16 = DynamicImage::ImageLuma16(img.to_luma16());
        let (pgm, _) = netpbm_bytes(&grey16, "a.pgm");
        assert!(pgm.starts_with(b"P5\n2 1\n65535\n"));
        assert_eq!(decode(&pgm, 1 << 20).unwrap().pixels, grey16);
    }

    #[test]
    fn icc_profile_goes_into_every_format_that_holds_one() {
        let profile = include_bytes!("../tests/fixtures/codec/srgb.icc").to_vec();
        let img = photo(20, 300); // JPEG in restart strips: the profile is in the header
        for (format, name) in [
            (ImageFormat::Png, "a.png"),
            (ImageFormat::Jpeg, "a.jpg"),
            (ImageFormat::WebP, "a.webp"),
            (ImageFormat::Tiff, "a.tiff"),
        ] {
            let (bytes, note) = encode(
                &img,
                Some(&profile),
                format,
                Encoding::default(),
                Path::new(name),
            )
            .unwrap();
            assert!(note.is_none(), "{name}: {note:?}");
            if format == ImageFormat::Tiff {
                // The `image` crate's TIFF decoder does not return this
                // profile (it writes it; Pillow reads it back, see
                // tests/fixtures/codec/make.py): look for the bytes.
                assert!(bytes.windows(profile.len()).any(|w| w == profile));
                continue;
            }
            let back = decode(&bytes, 1 << 20).unwrap();
            assert_eq!(back.icc.as_deref(), Some(&profile[..]), "{name}");
        }
        let (_, note) = encode(
            &img,
            Some(&profile),
            ImageFormat::Bmp,
            Encoding::default(),
            Path::new("a.bmp"),
        )
        .unwrap();
        assert!(note.unwrap().contains("ICC"));
    }

    #[test]
    fn batch_extension_for_netpbm_is_pnm() {
        assert_eq!(extension(ImageFormat::Pnm), Some("pnm"));
        assert_eq!(extension(ImageFormat::Jpeg), Some("jpg"));
    }

    #[test]
    fn raw_netpbm_is_read_straight_into_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let rgb = photo(7, 5);
        let grey = DynamicImage::ImageLuma8(rgb.to_luma8());
        let read = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            fs::write(&path, bytes).unwrap();
            read_image(&path, 1 << 20)
        };
        for (img, name) in [(&rgb, "a.ppm"), (&grey, "a.pgm")] {
            let (bytes, _) = netpbm_bytes(img, name);
            assert_eq!(read(name, &bytes).unwrap().pixels, *img, "{name}");
        }
        // Comments and other whitespace between the fields, as Netpbm allows.
        let mut commented = b"P6 # made by hand\n7\t5 # size\n255\n".to_vec();
        commented.extend_from_slice(rgb.as_bytes());
        assert_eq!(read("c.ppm", &commented).unwrap().pixels, rgb);
        assert_eq!(
            parse_netpbm_header(b"P6\n#c\n7 5\n255\nxyz"),
            Some((b'6', 7, 5, 3, 14))
        );
        assert_eq!(parse_netpbm_header(b"P6\n7 5\n65535\n"), None);
        assert_eq!(parse_netpbm_header(b"P3\n7 5\n255\n"), None);
        // Truncated or too large: the general decoder's errors, as before.
        let (bytes, _) = netpbm_bytes(&rgb, "t.ppm");
        let e = read("t.ppm", &bytes[..bytes.len() - 4]).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e}");
        let path = dir.path().join("t.ppm");
        let e = read_image(&path, 10).unwrap_err();
        assert!(matches!(e, Error::TooManyPixels { .. }), "{e}");
        // A larger than 512-byte image takes the same path.
        let big = photo(300, 200);
        let (bytes, _) = netpbm_bytes(&big, "b.ppm");
        assert_eq!(read("b.ppm", &bytes).unwrap().pixels, big);
    }

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        write_output(&target, b"hello").unwrap();
        write_output(&target, b"again").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"again");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // Same permissions as any newly created file (not tempfile's private 0600).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let plain = dir.path().join("plain.bin");
            fs::write(&plain, b"x").unwrap();
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&target), mode(&plain));
        }
    }

    #[test]
    fn committer_commits_everything_and_reports_failures_by_token() {
        let dir = tempfile::tempdir().unwrap();
        let committer = Committer::new(2);
        for k in 0..20 {
            let path = dir.path().join(format!("{k}.bin"));
            committer.submit(k, stage(&path, &[k as u8; 3]).unwrap());
        }
        // A destination that became a directory after staging cannot be renamed over.
        let blocked = dir.path().join("blocked.bin");
        let staged = stage(&blocked, b"x").unwrap();
        fs::create_dir(&blocked).unwrap();
        committer.submit(99, staged);
        let mut outcomes = committer.finish();
        outcomes.sort_by_key(|(k, _)| *k);
        assert_eq!(outcomes.len(), 21);
        for (k, r) in &outcomes[..20] {
            assert!(r.is_ok(), "{k}: {r:?}");
            let bytes = fs::read(dir.path().join(format!("{k}.bin"))).unwrap();
            assert_eq!(bytes, vec![*k as u8; 3]);
        }
        let (k, r) = &outcomes[20];
        assert_eq!(*k, 99);
        let msg = r.as_ref().unwrap_err().to_string();
        assert!(msg.contains("blocked.bin"), "{msg}");
        // Nothing but the outputs and the directory remains: no temporary files.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 21);
    }

    #[test]
    fn dropping_a_committer_still_commits_its_queue() {
        let dir = tempfile::tempdir().unwrap();
        {
            let committer = Committer::new(8);
            for k in 0..8 {
                let path = dir.path().join(format!("{k}.bin"));
                committer.submit(k, stage(&path, b"data").unwrap());
            }
        }
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 8);
        for k in 0..8 {
            assert_eq!(
                fs::read(dir.path().join(format!("{k}.bin"))).unwrap(),
                b"data"
            );
        }
    }
}
