//! Issue 11: what stn writes, read back by decoders that are not the ones stn
//! uses (`zune-ppm` for Netpbm, `jpeg-decoder` for JPEG), and compared with
//! files written by OpenCV and Pillow (`tests/fixtures/codec/make.py`).

use std::path::{Path, PathBuf};

use image::{DynamicImage, GenericImageView};

use crate::util::{self, Env};

const IDENTITY: &str = "--theta=1,0,0,0,1,0";

fn fixture(name: &str) -> PathBuf {
    util::repo().join("tests/fixtures/codec").join(name)
}

fn photo() -> DynamicImage {
    util::load(&fixture("photo.png"))
}

/// Decodes a Netpbm file with `zune-ppm`: (magic, width, height, channels, samples as u16).
fn zune_ppm(path: &Path) -> (String, usize, usize, usize, Vec<u16>) {
    let bytes = std::fs::read(path).unwrap();
    let magic = String::from_utf8_lossy(&bytes[..2]).into_owned();
    let mut d = zune_ppm::PPMDecoder::new(zune_core::bytestream::ZCursor::new(&bytes[..]));
    d.decode_headers().expect("zune-ppm reads the header");
    let (w, h) = d.dimensions().unwrap();
    let channels = d.colorspace().unwrap().num_components();
    let samples = match d.decode().expect("zune-ppm decodes") {
        zune_core::result::DecodingResult::U8(v) => v.into_iter().map(u16::from).collect(),
        zune_core::result::DecodingResult::U16(v) => v,
        _ => panic!("float PPM"),
    };
    (magic, w, h, channels, samples)
}

fn samples_u16(img: &DynamicImage) -> Vec<u16> {
    match img {
        DynamicImage::ImageRgb16(b) => b.as_raw().clone(),
        DynamicImage::ImageRgba16(b) => b.as_raw().clone(),
        DynamicImage::ImageLuma16(b) => b.as_raw().clone(),
        other => other.as_bytes().iter().map(|&v| u16::from(v)).collect(),
    }
}

#[test]
fn issue_11_netpbm_outputs_are_p5_p6_p7_read_back_by_another_decoder() {
    let env = Env::new();
    let rgb = photo();
    let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(48, 40, |x, y| {
        let p = rgb.get_pixel(x, y);
        image::Rgba([p[0], p[1], p[2], (x * 5 + y) as u8])
    }));
    // 16-bit, with low bytes that differ from the high ones (endianness shows).
    let rgb16 = DynamicImage::ImageRgb16(image::ImageBuffer::from_fn(48, 40, |x, y| {
        let p = rgb.get_pixel(x, y);
        image::Rgb([0, 1, 2].map(|c| u16::from(p[c]) * 257 + 3 + x as u16))
    }));
    util::save_png(&rgba, &env.path("rgba.png"));
    util::save_png(&rgb16, &env.path("rgb16.png"));
    let grey = DynamicImage::ImageLuma8(rgb.to_luma8());
    let cases: [(&Path, &str, &str, &DynamicImage, bool); 8] = [
        (&fixture("photo.png"), "a.ppm", "P6", &rgb, false),
        (&fixture("photo.png"), "a.pnm", "P6", &rgb, false),
        (&fixture("photo.png"), "a.pam", "P7", &rgb, false),
        (&fixture("photo.png"), "a.pgm", "P5", &grey, true),
        (&env.path("rgb16.png"), "b.ppm", "P6", &rgb16, false),
        (&env.path("rgba.png"), "c.pam", "P7", &rgba, false),
        (&env.path("rgba.png"), "c.ppm", "P6", &rgb, true),
        (&env.path("rgba.png"), "c.pnm", "P6", &rgb, true),
    ];
    for (input, name, magic, want, noted) in cases {
        let out = env.assert_ok_or_note(&["warp", IDENTITY, input.to_str().unwrap(), "-o", name]);
        assert_eq!(
            out, noted,
            "{name}: a note exactly when something is dropped"
        );
        let (m, w, h, c, samples) = zune_ppm(&env.path(name));
        assert_eq!(m, magic, "{name}");
        assert_eq!((w, h), (48, 40), "{name}");
        assert_eq!(c, usize::from(want.color().channel_count()), "{name}");
        assert!(
            samples == samples_u16(want),
            "{name}: pixels and channel order"
        );
    }
    // 16 bits: maxval 65535 in the header, as Netpbm specifies.
    let head = std::fs::read(env.path("b.ppm")).unwrap();
    assert!(head.starts_with(b"P6\n48 40\n65535\n"));
}

#[test]
fn issue_11_opencv_ppm_is_read_in_rgb_order() {
    let env = Env::new();
    let ppm = fixture("opencv.ppm");
    env.assert_ok(&["warp", IDENTITY, ppm.to_str().unwrap(), "-o", "out.png"]);
    assert_eq!(util::load(&env.path("out.png")), photo());
}

/// The quantisation tables (DQT segments' payloads) of a JPEG file, in order.
fn dqt(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut tables = Vec::new();
    let mut i = 2;
    while i + 4 <= bytes.len() && bytes[i] == 0xFF && bytes[i + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if bytes[i + 1] == 0xDB {
            // One segment may hold several tables of 65 bytes each.
            tables.extend(bytes[i + 4..i + 2 + len].chunks(65).map(<[u8]>::to_vec));
        }
        i += 2 + len;
    }
    tables
}

/// Sampling factors of each component in the SOF0 segment.
fn sampling(bytes: &[u8]) -> Vec<u8> {
    let i = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let n = usize::from(bytes[i + 9]);
    (0..n).map(|k| bytes[i + 11 + 3 * k]).collect()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

#[test]
fn issue_11_jpeg_quality_means_what_it_means_in_libjpeg() {
    let env = Env::new();
    let photo_path = fixture("photo.png");
    let input = photo_path.to_str().unwrap();
    env.assert_ok(&["warp", IDENTITY, input, "-o", "q90.jpg"]);
    env.assert_ok(&["warp", IDENTITY, input, "-o", "q50.jpg", "--quality", "50"]);
    let stn90 = std::fs::read(env.path("q90.jpg")).unwrap();
    let stn50 = std::fs::read(env.path("q50.jpg")).unwrap();
    for other in ["opencv_q90.jpg", "pillow_q90.jpg"] {
        let theirs = std::fs::read(fixture(other)).unwrap();
        assert_eq!(dqt(&stn90), dqt(&theirs), "default = {other}'s quality 90");
        assert_ne!(dqt(&stn50), dqt(&theirs));
        assert_eq!(sampling(&stn90), sampling(&theirs), "4:2:0 like {other}");
    }
    assert_eq!(sampling(&stn90), [0x22, 0x11, 0x11]);
    // An independent decoder reads it, close to the original.
    let mut d = jpeg_decoder::Decoder::new(&stn90[..]);
    let pixels = d.decode().expect("jpeg-decoder reads stn's JPEG");
    assert_eq!(
        d.info().unwrap().pixel_format,
        jpeg_decoder::PixelFormat::RGB24
    );
    let p = psnr(&pixels, photo().as_bytes());
    assert!(p > 33.0, "PSNR {p}");
    assert!(stn50.len() < stn90.len());
    // Quality is checked at the edge: 1..=100.
    for bad in ["0", "101", "x"] {
        let out = env.run(&["warp", IDENTITY, input, "-o", "bad.jpg", "--quality", bad]);
        assert_eq!(out.status.code(), Some(2), "--quality {bad}");
    }
    assert!(!env.path("bad.jpg").exists());
}

/// Whether this test run uses the pure-Rust JPEG codecs (`STN_JPEG=rust`, as
/// one CI pass does); otherwise libjpeg-turbo must have been provisioned and
/// loaded, and the checks below are exact.
fn rust_jpeg() -> bool {
    std::env::var("STN_JPEG").is_ok_and(|v| v.eq_ignore_ascii_case("rust"))
}

/// The entropy-coded data of a baseline JPEG: from the end of its SOS
/// segment to the end of the file.
fn scan_data(bytes: &[u8]) -> &[u8] {
    let sos = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("an SOS marker");
    let len = usize::from(u16::from_be_bytes([bytes[sos + 2], bytes[sos + 3]]));
    &bytes[sos + 2 + len..]
}

#[test]
fn issue_11_jpeg_pixels_and_bytes_are_libjpegs() {
    let env = Env::new();
    // Decoding: Pillow's pixels (libjpeg-turbo's islow IDCT and fancy
    // upsampling), exactly; the pure-Rust decoder comes close.
    let jpg = fixture("pillow_q90.jpg");
    env.assert_ok(&["warp", IDENTITY, jpg.to_str().unwrap(), "-o", "d.png"]);
    let got = util::load(&env.path("d.png")).to_rgb8();
    let want = util::load(&fixture("pillow_q90_decoded.png")).to_rgb8();
    assert_eq!(got.dimensions(), want.dimensions());
    if rust_jpeg() {
        let p = psnr(got.as_raw(), want.as_raw());
        assert!(p > 40.0, "zune-jpeg vs Pillow: PSNR {p}");
    } else {
        assert!(got == want, "libjpeg-turbo decodes as Pillow does");
    }
    // Encoding: the same pixels at quality 90 give Pillow's (and OpenCV's)
    // tables and, through libjpeg-turbo, the same entropy-coded bytes.
    let photo_path = fixture("photo.png");
    env.assert_ok(&[
        "warp",
        IDENTITY,
        photo_path.to_str().unwrap(),
        "-o",
        "e.jpg",
    ]);
    let ours = std::fs::read(env.path("e.jpg")).unwrap();
    let theirs = std::fs::read(fixture("pillow_q90.jpg")).unwrap();
    assert_eq!(dqt(&ours), dqt(&theirs));
    if !rust_jpeg() {
        assert!(
            scan_data(&ours) == scan_data(&theirs),
            "libjpeg-turbo at quality 90 writes Pillow's scan bytes"
        );
    }
}

#[test]
fn jpeg_exif_orientation_is_applied_on_decoding() {
    let env = Env::new();
    let jpg = fixture("exif6.jpg");
    env.assert_ok(&["warp", IDENTITY, jpg.to_str().unwrap(), "-o", "up.png"]);
    let got = util::load(&env.path("up.png")).to_rgb8();
    let want = util::load(&fixture("exif6_upright.png")).to_rgb8();
    assert_eq!(got.dimensions(), (40, 48), "rotated upright");
    if rust_jpeg() {
        let p = psnr(got.as_raw(), want.as_raw());
        assert!(p > 40.0, "PSNR {p}");
    } else {
        assert!(
            got == want,
            "Pillow's pixels, turned as a viewer turns them"
        );
    }
}

#[test]
fn issue_11_large_jpeg_in_restart_strips_reads_back_with_another_decoder() {
    let env = Env::new();
    let big = DynamicImage::ImageRgb8(image::RgbImage::from_fn(333, 517, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + 2 * y) % 256) as u8])
    }));
    util::save_png(&big, &env.path("big.png"));
    env.assert_ok(&[
        "warp",
        IDENTITY,
        "big.png",
        "-o",
        "big.jpg",
        "--quality",
        "95",
    ]);
    let bytes = std::fs::read(env.path("big.jpg")).unwrap();
    let mut d = jpeg_decoder::Decoder::new(&bytes[..]);
    let pixels = d.decode().expect("jpeg-decoder reads restart intervals");
    let info = d.info().unwrap();
    assert_eq!((info.width, info.height), (333, 517));
    let p = psnr(&pixels, big.as_bytes());
    assert!(p > 30.0, "PSNR {p}");
    // The same bytes whatever the thread count.
    env.assert_ok(&[
        "-j",
        "1",
        "warp",
        IDENTITY,
        "big.png",
        "-o",
        "one.jpg",
        "--quality",
        "95",
    ]);
    assert_eq!(std::fs::read(env.path("one.jpg")).unwrap(), bytes);
}

#[test]
fn issue_11_icc_profile_is_kept_where_the_format_holds_one() {
    let env = Env::new();
    let profile = std::fs::read(fixture("srgb.icc")).unwrap();
    for input in ["srgb.png", "srgb.jpg"] {
        let src = fixture(input);
        for out in ["o.jpg", "o.png", "o.webp", "o.tiff"] {
            env.assert_ok(&["warp", IDENTITY, src.to_str().unwrap(), "-o", out]);
            let bytes = std::fs::read(env.path(out)).unwrap();
            if out.ends_with(".tiff") {
                // `image` does not read a TIFF's profile back (Pillow does,
                // see make.py): the bytes must be in the file.
                assert!(bytes.windows(profile.len()).any(|w| w == profile));
                continue;
            }
            let icc = if out.ends_with(".jpg") {
                let mut d = jpeg_decoder::Decoder::new(&bytes[..]);
                d.read_info().unwrap();
                d.icc_profile()
            } else {
                stn::codec::decode(&bytes, 1 << 20).unwrap().icc
            };
            assert_eq!(icc.as_deref(), Some(&profile[..]), "{input} -> {out}");
        }
        // Netpbm holds none: said so.
        let out = env.run(&["warp", IDENTITY, src.to_str().unwrap(), "-o", "o.ppm"]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("ICC"));
    }
    // The batch path keeps it too.
    std::fs::write(
        env.path("t.jsonl"),
        format!(
            "{{\"path\": {:?}, \"theta\": [1,0,0,0,1,0], \"output\": \"a.jpg\"}}\n",
            fixture("srgb.jpg").to_str().unwrap()
        ),
    )
    .unwrap();
    env.assert_ok(&["warp", "--thetas", "t.jsonl", "-o", "batch"]);
    let bytes = std::fs::read(env.path("batch/a.jpg")).unwrap();
    let back = stn::codec::decode(&bytes, 1 << 20).unwrap();
    assert_eq!(back.icc.as_deref(), Some(&profile[..]));
}

#[test]
fn issue_11_format_pnm_in_a_batch_writes_pnm_files() {
    let env = Env::new();
    std::fs::write(
        env.path("t.jsonl"),
        format!(
            "{{\"path\": {:?}, \"theta\": [1,0,0,0,1,0]}}\n",
            fixture("photo.png").to_str().unwrap()
        ),
    )
    .unwrap();
    env.assert_ok(&[
        "warp", "--thetas", "t.jsonl", "-o", "out", "--format", "pnm",
    ]);
    let names: Vec<String> = std::fs::read_dir(env.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with(".pnm"), "{names:?}");
    let (magic, ..) = zune_ppm(&env.path("out").join(&names[0]));
    assert_eq!(magic, "P6");
}

/// A JPEG or raw PGM/PPM big enough (≥ 4 MiB of pixels) that a two-thread
/// `stn warp` warps it while reading it row by row (and encodes a JPEG
/// output in stitched strips as their rows are warped): the same bytes as on
/// one thread, which reads it whole first. Every interpolation and padding,
/// a homography (whose bands wait for the whole image), grey and colour,
/// JPEG and Netpbm outputs.
#[test]
fn big_jpeg_warps_the_same_on_one_and_two_threads() {
    let env = Env::new();
    let rgb = DynamicImage::ImageRgb8(image::RgbImage::from_fn(1600, 1200, |x, y| {
        image::Rgb([(x / 7) as u8, (y / 5) as u8, ((x * y) % 251) as u8])
    }));
    let grey = DynamicImage::ImageLuma8(image::GrayImage::from_fn(2400, 1800, |x, y| {
        image::Luma([((x * 3 + y * 5) % 256) as u8 ^ ((x * y) % 7) as u8])
    }));
    let theta = "--theta=0.87,-0.23,0.05,0.23,0.87,-0.03";
    let runs: [&[&str]; 6] = [
        &[theta],
        &[theta, "--interp", "bicubic"],
        &[theta, "--interp", "nearest", "--padding", "border"],
        &[theta, "--padding", "reflection", "--align-corners"],
        &["--theta=-0.9,0.3,0.1,0.2,1.1,0.2", "--size", "1000x1500"],
        &[
            "--corners=10,20,1500,5,1590,1190,30,1100",
            "--size",
            "1200x900",
        ],
    ];
    for (name, img, pnm) in [("rgb", &rgb, "ppm"), ("grey", &grey, "pgm")] {
        let png = env.path(&format!("{name}.png"));
        util::save_png(img, &png);
        // A JPEG (decoded row by row) and a raw Netpbm file (read in slices).
        for input in [format!("{name}.jpg"), format!("{name}.{pnm}")] {
            env.assert_ok(&["warp", IDENTITY, png.to_str().unwrap(), "-o", &input]);
            for (k, opts) in runs.iter().enumerate() {
                for ext in ["jpg", pnm] {
                    let outs = ["1", "2"].map(|threads| {
                        let out = format!("{input}_{k}_{threads}.{ext}");
                        let mut args = vec!["-j", threads, "warp"];
                        args.extend_from_slice(opts);
                        args.extend_from_slice(&[&input, "-o", &out]);
                        env.assert_ok(&args);
                        std::fs::read(env.path(&out)).unwrap()
                    });
                    assert!(outs[0] == outs[1], "{input} -> {ext} {opts:?}");
                }
            }
        }
    }
}

/// Big JPEG files that the row-by-row decoder does not decode (progressive;
/// corrupt data, which it only notices midway) give on two threads what
/// they give on one: the same image, or the same error.
#[test]
fn big_jpeg_the_row_decoder_declines_behaves_as_on_one_thread() {
    let env = Env::new();
    let (w, h) = (1600u16, 1200u16);
    let px: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|i| ((i * 31) % 253) as u8)
        .collect();
    let mut progressive = Vec::new();
    let mut e = jpeg_encoder::Encoder::new(&mut progressive, 90);
    e.set_progressive(true);
    e.encode(&px, w, h, jpeg_encoder::ColorType::Rgb).unwrap();
    std::fs::write(env.path("progressive.jpg"), &progressive).unwrap();
    let mut plain = Vec::new();
    jpeg_encoder::Encoder::new(&mut plain, 90)
        .encode(&px, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    // The scan cut at two thirds, then the end-of-image marker.
    let cut = [&plain[..plain.len() * 2 / 3], &[0xFF, 0xD9][..]].concat();
    std::fs::write(env.path("cut.jpg"), &cut).unwrap();
    for input in ["progressive.jpg", "cut.jpg"] {
        let runs = ["1", "2"].map(|threads| {
            let out = format!("{input}_{threads}.ppm");
            let o = env.run(&[
                "-j",
                threads,
                "warp",
                "--theta=0.9,-0.2,0,0.2,0.9,0",
                input,
                "-o",
                &out,
            ]);
            let written = std::fs::read(env.path(&out)).ok();
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stderr).replace(&out, "OUT"),
                written,
            )
        });
        assert!(
            runs[0] == runs[1],
            "{input}: {:?} vs {:?}",
            (&runs[0].0, &runs[0].1),
            (&runs[1].0, &runs[1].1)
        );
    }
}

/// `stn warp` to a Netpbm file of the input's 8-bit layout writes the warp
/// band by band into the file (no output image): the same pixels as the
/// whole-image path (a PNG output), on one and two threads, for every
/// interpolation and padding, grey, colour and grey+alpha (`.pam`), sizes
/// that are not whole bands; and the same note for a dropped ICC profile.
#[test]
fn netpbm_written_band_by_band_equals_the_whole_warp() {
    let env = Env::new();
    let rgb = DynamicImage::ImageRgb8(image::RgbImage::from_fn(333, 257, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 5) as u8, ((x * y) % 251) as u8])
    }));
    let grey = DynamicImage::ImageLuma8(image::GrayImage::from_fn(301, 199, |x, y| {
        image::Luma([((x * 7 + y * 3) % 256) as u8])
    }));
    let ga = DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_fn(150, 140, |x, y| {
        image::LumaA([(x + y) as u8, (x * 2) as u8])
    }));
    let runs: [&[&str]; 4] = [
        &["--theta=0.87,-0.23,0.05,0.23,0.87,-0.03"],
        &[
            "--theta=0.9,0.2,0.1,-0.3,1.1,0",
            "--interp",
            "bicubic",
            "--padding",
            "border",
        ],
        &[
            "--theta=-1,0.1,0,0.2,1.2,0.1",
            "--interp",
            "nearest",
            "--padding",
            "reflection",
        ],
        &[
            "--theta=0.7,0,0,0,0.8,0",
            "--size",
            "200x131",
            "--align-corners",
        ],
    ];
    for (name, img, ext) in [
        ("rgb", &rgb, "ppm"),
        ("grey", &grey, "pgm"),
        ("ga", &ga, "pam"),
    ] {
        let png = env.path(&format!("{name}.png"));
        util::save_png(img, &png);
        for (k, opts) in runs.iter().enumerate() {
            for threads in ["1", "2"] {
                let outs = [ext, "png"].map(|e| {
                    let out = format!("{name}_{k}_{threads}.{e}");
                    let mut args = vec!["-j", threads, "warp"];
                    args.extend_from_slice(opts);
                    args.extend_from_slice(&[png.to_str().unwrap(), "-o", &out]);
                    env.assert_ok(&args);
                    util::load(&env.path(&out))
                });
                assert_eq!(outs[0].color(), img.color(), "{name} {opts:?}");
                assert!(
                    outs[0].as_bytes() == outs[1].as_bytes(),
                    "{name} {opts:?} {threads}"
                );
            }
        }
    }
}
