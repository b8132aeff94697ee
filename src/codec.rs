//! Image files in and out: decoding (with EXIF orientation), encoding, and
//! atomic writes. The only module that reads or writes image files.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

pub use image::codecs::png::CompressionType;
use image::codecs::png::{FilterType, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use crate::affine::Size;
use crate::error::Error;

/// Whether `path` is `-`, meaning a standard stream.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads and decodes an image from a file, or from standard input for `-`.
///
/// The format is sniffed from the content, not the name. EXIF orientation is
/// applied, so the image is upright as a viewer shows it.
pub fn read_image(path: &Path, max_pixels: u64) -> Result<DynamicImage, Error> {
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    // No encoded image is larger than its pixels at 16 bytes each plus 64 MiB
    // of metadata; this bounds what a stream (or a device such as /dev/zero)
    // can make stn read.
    let cap = max_pixels.saturating_mul(16).saturating_add(64 << 20);
    let mut bytes = Vec::new();
    if is_stdio(path) {
        io::stdin()
            .lock()
            .take(cap)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
    } else {
        let file = fs::File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(Error::Input {
                path: path.to_path_buf(),
                reason: "not a regular file".into(),
            });
        }
        file.take(cap).read_to_end(&mut bytes).map_err(read_err)?;
    }
    if bytes.len() as u64 >= cap {
        return Err(Error::Input {
            path: path.to_path_buf(),
            reason: format!("larger than {cap} bytes, more than any image within --max-pixels"),
        });
    }
    match decode(&bytes, max_pixels) {
        Ok(img) => Ok(img),
        Err(Decoded::TooLarge(w, h)) => Err(too_many_pixels(Size::new(w, h), max_pixels, path)),
        Err(Decoded::Error(source)) => Err(Error::Decode {
            path: path.to_path_buf(),
            source,
        }),
    }
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
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, Decoded> {
    let mut reader = ImageReader::new(io::Cursor::new(bytes)).with_guessed_format()?;
    if reader.format() == Some(ImageFormat::Jpeg) && jpeg_is_truncated(bytes) {
        // The JPEG decoder fills missing scan data with grey instead of failing.
        return Err(Decoded::Error(ImageError::IoError(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated JPEG: no end-of-image marker after the last scan",
        ))));
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(16).max(1 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let (w, h) = decoder.dimensions();
    if pixels(Size::new(w, h)) > max_pixels {
        return Err(Decoded::TooLarge(w, h));
    }
    let orientation = decoder.orientation()?;
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Whether a JPEG stream lacks its end-of-image marker (FF D9) after the last
/// start-of-scan (FF DA). Scan data stuffs every FF byte, so neither marker can
/// appear inside it; trailing bytes after the end marker are allowed.
fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let last_end = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    match (last_scan, last_end) {
        (Some(s), Some(e)) => e < s,
        (Some(_), None) => true,
        (None, _) => false, // no scan at all: the decoder reports it
    }
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

/// Encodes `img` in `format`. Formats that cannot hold the image's layout get
/// the closest one they can (8-bit, then without alpha); the returned note
/// says what was changed.
pub fn encode(
    img: &DynamicImage,
    format: ImageFormat,
    png: CompressionType,
    path: &Path,
) -> Result<(Vec<u8>, Option<String>), Error> {
    let first = match encode_as(img, format, png) {
        Ok(bytes) => return Ok((bytes, None)),
        Err(e) => e,
    };
    if matches!(first, ImageError::Unsupported(_)) {
        for fallback in fallbacks(img) {
            if let Ok(bytes) = encode_as(&fallback, format, png) {
                let note = format!(
                    "{} cannot hold {:?} pixels; wrote {:?}",
                    format_name(format),
                    img.color(),
                    fallback.color()
                );
                return Ok((bytes, Some(note)));
            }
        }
    }
    Err(Error::Encode {
        path: path.to_path_buf(),
        source: first,
    })
}

fn format_name(format: ImageFormat) -> &'static str {
    format
        .extensions_str()
        .first()
        .copied()
        .unwrap_or("this format")
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

fn encode_as(
    img: &DynamicImage,
    format: ImageFormat,
    png: CompressionType,
) -> Result<Vec<u8>, ImageError> {
    let mut buf = Vec::new();
    if format == ImageFormat::Png {
        let enc = PngEncoder::new_with_quality(&mut buf, png, FilterType::Adaptive);
        img.write_with_encoder(enc)?;
    } else {
        img.write_to(&mut io::Cursor::new(&mut buf), format)?;
    }
    Ok(buf)
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
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
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
    let mut tmp = builder.tempfile_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    Ok(Staged {
        tmp,
        path: path.to_path_buf(),
    })
}

impl Staged {
    /// Flushes the file to disk and renames it over the destination (the
    /// second half of [`write_output`]).
    pub fn commit(self) -> Result<(), Error> {
        let err = |source| Error::Write {
            path: self.path.clone(),
            source,
        };
        self.tmp.as_file().sync_all().map_err(err)?;
        self.tmp.persist(&self.path).map_err(|e| err(e.error))?;
        Ok(())
    }
}

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
                    let next = jobs.lock().map(|rx| rx.recv());
                    let Ok(Ok((token, staged))) = next else {
                        return;
                    };
                    if report.send((token, staged.commit())).is_err() {
                        return;
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
            ImageFormat::Jpeg,
            CompressionType::Fast,
            Path::new("x.jpg"),
        )
        .unwrap();
        let back = decode(&bytes, 1 << 20).unwrap();
        assert_eq!(back.color(), image::ColorType::Rgb8);
    }

    #[test]
    fn png_keeps_16_bit_rgba() {
        let img = DynamicImage::new_rgba16(3, 2);
        let (bytes, note) = encode(
            &img,
            ImageFormat::Png,
            CompressionType::Fast,
            Path::new("x.png"),
        )
        .unwrap();
        assert!(note.is_none());
        assert_eq!(
            decode(&bytes, 1 << 20).unwrap().color(),
            image::ColorType::Rgba16
        );
    }

    #[test]
    fn exif_orientation_is_applied() {
        // A 4×2 JPEG tagged "rotate 90° clockwise" (orientation 6) decodes as 2×4.
        let img = DynamicImage::new_rgb8(4, 2);
        let (jpg, _) = encode(
            &img,
            ImageFormat::Jpeg,
            CompressionType::Fast,
            Path::new("a.jpg"),
        )
        .unwrap();
        let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec(); // little-endian TIFF, IFD at 8, 1 entry
        tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]); // Orientation = 6
        tiff.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let len = (app1.len() + 2) as u16;
        let mut tagged = vec![0xFF, 0xD8, 0xFF, 0xE1];
        tagged.extend_from_slice(&len.to_be_bytes());
        tagged.extend_from_slice(&app1);
        tagged.extend_from_slice(&jpg[2..]);
        let back = decode(&tagged, 1 << 20).unwrap();
        assert_eq!((back.width(), back.height()), (2, 4));
    }

    #[test]
    fn truncated_jpeg_is_detected() {
        let mut img = DynamicImage::new_rgb8(16, 16);
        img.as_mut_rgb8()
            .unwrap()
            .put_pixel(3, 3, image::Rgb([200, 10, 10]));
        let (jpg, _) = encode(
            &img,
            ImageFormat::Jpeg,
            CompressionType::Fast,
            Path::new("a.jpg"),
        )
        .unwrap();
        assert!(!jpeg_is_truncated(&jpg));
        let mut trailing = jpg.clone();
        trailing.extend_from_slice(b"trailing bytes");
        assert!(!jpeg_is_truncated(&trailing));
        assert!(jpeg_is_truncated(&jpg[..jpg.len() - 10]));
        assert!(decode(&jpg[..jpg.len() - 10], 1 << 20).is_err());
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
