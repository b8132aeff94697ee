//! Measures the JPEG encoders stn could use on one image: encode time, and the
//! files for comparing size and PSNR (against OpenCV's `imwrite` at the same
//! quality, in `scripts/bench.py` or by hand).
//!
//! ```sh
//! cargo run --release --example jpeg_candidates -- IN.png OUT_DIR [QUALITY] [REPEATS]
//! ```
//!
//! Candidates: the `image` crate's own `JpegEncoder`, and `jpeg-encoder`
//! (with its AVX2 path where the CPU has it), 4:2:0 chroma, nearest and
//! averaged chroma downsampling, and stn's own encoder (`jpeg-encoder`,
//! averaged, split into restart intervals across threads). Also times
//! decoding the written file with the `image` crate (zune-jpeg). Prints one
//! JSON line per candidate: median milliseconds and bytes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat};

fn median_ms(repeats: usize, mut f: impl FnMut() -> Vec<u8>) -> (f64, Vec<u8>) {
    let mut times = Vec::new();
    let mut out = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        out = f();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: jpeg_candidates IN OUT_DIR [QUALITY] [REPEATS]");
        std::process::exit(2);
    }
    let img = image::open(&args[0]).expect("input").to_rgb8();
    let dir = PathBuf::from(&args[1]);
    std::fs::create_dir_all(&dir).expect("output directory");
    let q: u8 = args.get(2).map_or(90, |s| s.parse().expect("quality"));
    let repeats: usize = args.get(3).map_or(7, |s| s.parse().expect("repeats"));
    let (w, h) = (img.width(), img.height());
    let report = |name: &str, ms: f64, bytes: &[u8]| {
        std::fs::write(dir.join(format!("{name}.jpg")), bytes).expect("write");
        println!(
            "{{\"candidate\": \"{name}\", \"ms\": {ms:.2}, \"bytes\": {}}}",
            bytes.len()
        );
    };

    let (ms, bytes) = median_ms(repeats, || {
        let mut v = Vec::new();
        JpegEncoder::new_with_quality(&mut v, q)
            .encode_image(&img)
            .expect("image encoder");
        v
    });
    report("image", ms, &bytes);

    for (name, method) in [
        (
            "jpeg-encoder-nearest",
            jpeg_encoder::ChromaSubsamplingMethod::Nearest,
        ),
        (
            "jpeg-encoder-average",
            jpeg_encoder::ChromaSubsamplingMethod::Average,
        ),
    ] {
        let (ms, bytes) = median_ms(repeats, || {
            let mut v = Vec::new();
            let mut e = jpeg_encoder::Encoder::new(&mut v, q);
            e.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            e.set_chroma_subsampling_method(method);
            e.encode(
                img.as_raw(),
                w as u16,
                h as u16,
                jpeg_encoder::ColorType::Rgb,
            )
            .expect("jpeg-encoder");
            v
        });
        report(name, ms, &bytes);
    }

    let enc = stn::codec::Encoding {
        jpeg_quality: q,
        ..Default::default()
    };
    let dynamic = DynamicImage::ImageRgb8(img.clone());
    let (ms, bytes) = median_ms(repeats, || {
        stn::codec::encode(&dynamic, None, ImageFormat::Jpeg, enc, Path::new("x.jpg"))
            .expect("stn")
            .0
    });
    report("stn", ms, &bytes);

    let (ms, _) = median_ms(repeats, || {
        let d = stn::codec::decode(&bytes, u64::MAX).expect("decode");
        d.pixels.as_bytes()[..1].to_vec()
    });
    println!("{{\"decode\": \"image (zune-jpeg)\", \"ms\": {ms:.2}}}");
}
