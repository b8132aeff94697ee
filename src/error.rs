//! The one error type of stn, and the process exit codes.
//!
//! Every variant carries what a user needs to act on it: the path involved, the
//! offending text, the underlying cause. `Display` writes one line; `main` prints
//! it once, prefixed with `stn: error:`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in stn.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A command-line value that parsed but makes no sense (e.g. an output size of 0).
    Usage(String),
    /// A matrix or theta given as text could not be read.
    MatrixText {
        /// Which flag or file line the text came from (e.g. `--theta`).
        origin: String,
        /// The text as given.
        text: String,
        /// Why it was refused.
        reason: String,
    },
    /// A matrix that cannot be used: singular or with non-finite entries.
    BadMatrix {
        /// Where the matrix came from (e.g. `--matrix`).
        origin: String,
        /// Why it was refused.
        reason: String,
    },
    /// An input file could not be read.
    Read {
        /// The file (`-` is standard input).
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// An input file was read but is not a decodable image.
    Decode {
        /// The file (`-` is standard input).
        path: PathBuf,
        /// The cause.
        source: image::ImageError,
    },
    /// The output could not be encoded in the requested format.
    Encode {
        /// The output (`-` is standard output).
        path: PathBuf,
        /// The cause.
        source: image::ImageError,
    },
    /// The output could not be written.
    Write {
        /// The output (`-` is standard output).
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The output's format could not be told from its extension.
    UnknownFormat {
        /// The output path.
        path: PathBuf,
    },
    /// The output would replace the input.
    WouldOverwriteInput {
        /// The input (and output) path.
        path: PathBuf,
    },
    /// An input argument or listed path that cannot be used (missing, not a
    /// file, a symlink loop, an unreadable directory, a bad glob).
    Input {
        /// The input as given, or the entry found under it.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// Two inputs would be written to the same output.
    OutputClash {
        /// The shared output path.
        output: PathBuf,
        /// The first input.
        first: PathBuf,
        /// The second input.
        second: PathBuf,
    },
    /// An image (input or requested output) has more pixels than `--max-pixels`.
    TooManyPixels {
        /// The image.
        path: PathBuf,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The limit in pixels.
        limit: u64,
    },
    /// An output exists and neither --overwrite nor --skip-existing was given.
    OutputExists {
        /// The first existing output.
        path: PathBuf,
        /// How many planned outputs exist in all.
        count: usize,
    },
    /// A line of a JSON-lines thetas file is malformed.
    ThetasLine {
        /// The thetas file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// ONNX Runtime could not be loaded.
    Runtime {
        /// What went wrong and how to fix it.
        reason: String,
    },
    /// A model could not be loaded or does not fit stn's contract.
    Model {
        /// The model file (`<built-in NAME (FILE)>` for a built-in model).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The user interrupted the run (SIGINT) before this output was written.
    Interrupted,
    /// Inference failed on a batch.
    Inference {
        /// What went wrong.
        reason: String,
    },
}

/// Shows `-` as a readable name for the standard streams.
fn show(path: &Path, stream: &str) -> String {
    if path.as_os_str() == "-" {
        stream.to_string()
    } else {
        path.display().to_string()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::MatrixText {
                origin,
                text,
                reason,
            } => write!(f, "{origin} {text:?}: {reason}"),
            Error::BadMatrix { origin, reason } => write!(f, "{origin}: {reason}"),
            Error::Read { path, source } => {
                write!(f, "cannot read {}: {source}", show(path, "standard input"))
            }
            Error::Decode { path, source } => write!(
                f,
                "{}: not a readable image: {source}",
                show(path, "standard input")
            ),
            Error::Encode { path, source } => {
                write!(f, "cannot encode {}: {source}", show(path, "standard output"))
            }
            Error::Write { path, source } => {
                write!(f, "cannot write {}: {source}", show(path, "standard output"))
            }
            Error::UnknownFormat { path } => write!(
                f,
                "{}: unknown image format for this extension \
                 (use .png, .jpg, .bmp, .tif, .pnm/.pgm/.ppm/.pam, .webp or .gif)",
                path.display()
            ),
            Error::Input { path, reason } => write!(f, "{}: {reason}", show(path, "standard input")),
            Error::OutputClash {
                output,
                first,
                second,
            } => write!(
                f,
                "{} and {} would both be written to {}; nothing was written",
                first.display(),
                second.display(),
                output.display()
            ),
            Error::TooManyPixels {
                path,
                width,
                height,
                limit,
            } => write!(
                f,
                "{}: {width}x{height} is {} pixels, over the limit of {limit} \
                 (a decompression bomb?); raise it with --max-pixels",
                show(path, "standard input"),
                u64::from(*width) * u64::from(*height)
            ),
            Error::OutputExists { path, count } => {
                let others = match count {
                    0 | 1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                };
                write!(
                    f,
                    "{}: output exists{others}; pass --overwrite to replace or --skip-existing to keep",
                    path.display()
                )
            }
            Error::ThetasLine { path, line, reason } => {
                write!(f, "{}:{line}: {reason}", show(path, "standard input"))
            }
            Error::Runtime { reason } => write!(f, "ONNX Runtime: {reason}"),
            Error::Model { path, reason } => write!(f, "model {}: {reason}", path.display()),
            Error::Interrupted => write!(f, "interrupted"),
            Error::Inference { reason } => write!(f, "inference failed: {reason}"),
            Error::WouldOverwriteInput { path } => write!(
                f,
                "{}: output is the input file; refusing to overwrite it (pass --overwrite to allow)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } | Error::Write { source, .. } => Some(source),
            Error::Decode { source, .. } | Error::Encode { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything succeeded.
    Success,
    /// Some files of a batch failed; the others were written.
    SomeFailed,
    /// A usage, input, model or runtime error stopped the command.
    Fatal,
    /// Interrupted (SIGINT); finished outputs are complete, the rest were not started.
    Interrupted,
}

impl Exit {
    /// The numeric exit code: 0, 1 or 2.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::SomeFailed => 1,
            Exit::Fatal => 2,
            Exit::Interrupted => 130,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_documented_values() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::SomeFailed.code(), 1);
        assert_eq!(Exit::Fatal.code(), 2);
    }

    #[test]
    fn stdin_is_named_in_messages() {
        let e = Error::Read {
            path: PathBuf::from("-"),
            source: io::Error::new(io::ErrorKind::UnexpectedEof, "eof"),
        };
        assert_eq!(e.to_string(), "cannot read standard input: eof");
    }
}
