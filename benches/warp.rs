//! Criterion benchmarks of the warp engine.
//!
//! `warp_4k`: the issue-2 workload, 3840×2160 RGB u8, rotation 15°, scale 0.9,
//! translation (0.05, −0.03) in normalised coordinates, bilinear, zero padding,
//! at 1 and 2 threads. Compare with `scripts/bench_opencv.py` run in the same sitting.
//! These use the detected kernels (`Isa::detect`, so `STN_KERNEL=scalar` runs
//! them on the spec); `warp_kernels` compares every supported kernel family
//! (`Isa`) in one run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stn::warp::Isa;
use stn::{Affine, ImageMut, ImageRef, Interp, WarpOptions};

/// The benchmark theta: output → input of a rotation by `deg` with scale `s`
/// and translation `(tx, ty)`, all in normalised coordinates.
pub fn rts(deg: f64, s: f64, tx: f64, ty: f64) -> Affine {
    let (sin, cos) = deg.to_radians().sin_cos();
    Affine([s * cos, -s * sin, tx, s * sin, s * cos, ty])
}

fn noise_image(w: usize, h: usize, c: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..w * h * c)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // smooth gradient plus noise, photo-like enough for a sampler
            (((i % (w * c)) / c * 255 / w) as u64 / 2 + (x >> 58)) as u8
        })
        .collect()
}

/// Warps the `w`×`h` image `src` of `c` channels into the same-size `dst`
/// with `isa`'s kernels.
fn warp(
    src: &[u8],
    dst: &mut [u8],
    dims: (usize, usize, usize),
    theta: &Affine,
    opts: &WarpOptions,
    isa: Isa,
) {
    warp_t(src, dst, dims, &stn::Transform::from(*theta), opts, isa)
}

/// [`warp`] through any transform.
fn warp_t(
    src: &[u8],
    dst: &mut [u8],
    (w, h, c): (usize, usize, usize),
    t: &stn::Transform,
    opts: &WarpOptions,
    isa: Isa,
) {
    stn::warp::warp_into_with(
        ImageRef {
            data: src,
            width: w,
            height: h,
            channels: c,
        },
        ImageMut {
            data: dst,
            width: w,
            height: h,
            channels: c,
        },
        t,
        opts,
        isa,
    );
}

/// A rayon pool of `threads` threads.
fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// The 28×28 batch: `n` gray images stacked in one buffer, each with its own theta.
fn mnist_batch(n: usize) -> (Vec<u8>, Vec<Affine>) {
    let thetas = (0..n)
        .map(|i| {
            rts(
                (i % 90) as f64 - 45.0,
                0.8 + (i % 5) as f64 * 0.1,
                0.01,
                -0.02,
            )
        })
        .collect();
    (noise_image(28, 28 * n, 1), thetas)
}

fn bench_4k(c: &mut Criterion) {
    let (w, h) = (3840, 2160);
    let src = noise_image(w, h, 3);
    let mut dst = vec![0u8; w * h * 3];
    let theta = rts(15.0, 0.9, 0.05, -0.03);
    let mut group = c.benchmark_group("warp_4k_rgb8");
    group.throughput(Throughput::Elements((w * h) as u64));
    group.sample_size(20);
    for interp in [Interp::Bilinear, Interp::Nearest, Interp::Bicubic] {
        for threads in [1usize, 2] {
            let pool = pool(threads);
            let opts = WarpOptions {
                interp,
                ..Default::default()
            };
            let id = BenchmarkId::new(format!("{interp:?}").to_lowercase(), threads);
            group.bench_function(id, |b| {
                b.iter(|| {
                    pool.install(|| warp(&src, &mut dst, (w, h, 3), &theta, &opts, Isa::detect()))
                })
            });
        }
    }
    group.finish();
}

fn bench_1080p(c: &mut Criterion) {
    let (w, h) = (1920, 1080);
    let src = noise_image(w, h, 3);
    let mut dst = vec![0u8; w * h * 3];
    let theta = rts(15.0, 0.9, 0.05, -0.03);
    let mut group = c.benchmark_group("warp_1080p_rgb8");
    group.throughput(Throughput::Elements((w * h) as u64));
    for threads in [1usize, 2] {
        let pool = pool(threads);
        group.bench_function(BenchmarkId::new("bilinear", threads), |b| {
            b.iter(|| {
                pool.install(|| {
                    let opts = WarpOptions::default();
                    warp(&src, &mut dst, (w, h, 3), &theta, &opts, Isa::detect())
                })
            })
        });
    }
    group.finish();
}

fn bench_mnist_batch(c: &mut Criterion) {
    // 4096 gray 28×28 images, each with its own theta, one thread.
    let n = 4096;
    let (src, thetas) = mnist_batch(n);
    let mut dst = vec![0u8; 28 * 28 * n];
    let mut group = c.benchmark_group("warp_28x28_gray8_batch");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("bilinear/1", |b| {
        b.iter(|| {
            for ((s, d), t) in src.chunks(784).zip(dst.chunks_mut(784)).zip(&thetas) {
                warp(s, d, (28, 28, 1), t, &WarpOptions::default(), Isa::detect());
            }
        })
    });
    // The same through `warp_batch`, which spreads the images over the pool.
    let transforms: Vec<stn::Transform> = thetas.iter().map(|&t| t.into()).collect();
    for threads in [1usize, 2] {
        let pool = pool(threads);
        group.bench_function(BenchmarkId::new("warp_batch", threads), |b| {
            b.iter(|| {
                pool.install(|| {
                    stn::warp_batch(
                        ImageRef {
                            data: &src,
                            width: 28,
                            height: 28,
                            channels: 1,
                        },
                        ImageMut {
                            data: &mut dst,
                            width: 28,
                            height: 28,
                            channels: 1,
                        },
                        &transforms,
                        &WarpOptions::default(),
                    )
                })
            })
        });
    }
    group.finish();
}

/// Every supported kernel family on the 1080p RGB case and the 28×28 gray
/// batch, one thread: the ratios between kernels in one sitting.
fn bench_kernels(c: &mut Criterion) {
    let (w, h) = (1920, 1080);
    let src = noise_image(w, h, 3);
    let mut dst = vec![0u8; w * h * 3];
    let theta = rts(15.0, 0.9, 0.05, -0.03);
    let one = pool(1);
    let mut group = c.benchmark_group("warp_kernels_1080p_rgb8");
    group.throughput(Throughput::Elements((w * h) as u64));
    for isa in Isa::supported() {
        group.bench_function(BenchmarkId::new(isa.name(), 1), |b| {
            b.iter(|| {
                one.install(|| {
                    let opts = WarpOptions::default();
                    warp(&src, &mut dst, (w, h, 3), &theta, &opts, isa)
                })
            })
        });
    }
    group.finish();

    let n = 4096;
    let (src, thetas) = mnist_batch(n);
    let mut dst = vec![0u8; 28 * 28 * n];
    let mut group = c.benchmark_group("warp_kernels_28x28_gray8_batch");
    group.throughput(Throughput::Elements(n as u64));
    for isa in Isa::supported() {
        group.bench_function(BenchmarkId::new(isa.name(), 1), |b| {
            b.iter(|| {
                for ((s, d), t) in src.chunks(784).zip(dst.chunks_mut(784)).zip(&thetas) {
                    warp(s, d, (28, 28, 1), t, &WarpOptions::default(), isa);
                }
            })
        });
    }
    group.finish();
}

/// The benchmark transforms of each family on the 4K workload: the rts theta;
/// the same with perspective (h31 = 0.12, h32 = −0.08); a thin-plate spline
/// with K = 20 (RARE layout) through the rts map plus a smooth bend.
pub fn families() -> Vec<(&'static str, stn::Transform)> {
    let theta = rts(15.0, 0.9, 0.05, -0.03);
    let [a, b, c, d, e, f] = theta.0;
    let h = stn::Homography([a, b, c, d, e, f, 0.12, -0.08, 1.0]);
    let target = stn::transform::named_layout("rare:20").unwrap();
    let source = target
        .iter()
        .map(|p| {
            let (x, y) = theta.apply(p[0], p[1]);
            [x, y + 0.1 * (std::f64::consts::PI * p[0]).sin()]
        })
        .collect();
    let tps = stn::Tps::new(target, source, 0.0, None, "bench").unwrap();
    vec![
        ("affine", theta.into()),
        ("projective", h.into()),
        ("tps20", tps.into()),
    ]
}

fn bench_families(c: &mut Criterion) {
    let (w, h) = (3840, 2160);
    let src = noise_image(w, h, 3);
    let mut dst = vec![0u8; w * h * 3];
    let mut group = c.benchmark_group("families_4k_rgb8");
    group.throughput(Throughput::Elements((w * h) as u64));
    group.sample_size(15);
    for (name, t) in families() {
        for threads in [1usize, 2] {
            let pool = pool(threads);
            group.bench_function(BenchmarkId::new(name, threads), |b| {
                b.iter(|| {
                    pool.install(|| {
                        let opts = WarpOptions::default();
                        warp_t(&src, &mut dst, (w, h, 3), &t, &opts, Isa::detect())
                    })
                })
            });
        }
    }
    group.finish();
}

/// 64 text crops, 200×64 RGB → 100×32, each through its own thin-plate
/// spline (K = 20, RARE layout, as clovaai: grid on pixel centres, eps 1e-6,
/// border padding, align_corners): the TPS solve, the grid and the sampling
/// per crop, in memory (the in-memory counterpart of bench_families.py's
/// PyTorch GridGenerator + grid_sample rows).
fn bench_crops(c: &mut Criterion) {
    let (w, h, ow, oh) = (200, 64, 100, 32);
    let n = 64;
    let src = noise_image(w, h * n, 3);
    let mut dst = vec![0u8; ow * oh * 3 * n];
    let target = stn::transform::named_layout("rare:20").unwrap();
    let sources: Vec<Vec<[f64; 2]>> = (0..n)
        .map(|i| {
            target
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let s = ((i * 31 + k * 7) as f64).sin();
                    [0.9 * p[0] + 0.05 * s, 0.8 * p[1] - 0.04 * s]
                })
                .collect()
        })
        .collect();
    let opts = WarpOptions {
        padding: stn::Padding::Border,
        align_corners: true,
        ..Default::default()
    };
    let one = pool(1);
    let mut group = c.benchmark_group("families_crops_200x64_tps20");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("bilinear/1", |b| {
        b.iter(|| {
            one.install(|| {
                for ((s, d), source) in src
                    .chunks(w * h * 3)
                    .zip(dst.chunks_mut(ow * oh * 3))
                    .zip(&sources)
                {
                    let tps =
                        stn::Tps::new(target.clone(), source.clone(), 1e-6, Some(false), "bench")
                            .unwrap();
                    stn::warp::warp_into_with(
                        ImageRef {
                            data: s,
                            width: w,
                            height: h,
                            channels: 3,
                        },
                        ImageMut {
                            data: d,
                            width: ow,
                            height: oh,
                            channels: 3,
                        },
                        &tps.into(),
                        &opts,
                        Isa::detect(),
                    );
                }
            })
        })
    });
    group.finish();
}

/// Issue 11 item 5: every kernel and layout against OpenCV's sampler
/// (`scripts/bench_opencv.py --layouts` times the same workloads): the rts
/// theta of `warp_4k`, zero padding, 3840×2160 and 1920×1080, 1 and 2
/// threads, for RGB nearest, RGB bicubic, 16-bit RGB bilinear, grey+alpha
/// bilinear and RGBA bilinear. `STN_LAYOUTS=nearest,rgba` (names as in the
/// benchmark ids) runs a subset.
fn bench_layouts(c: &mut Criterion) {
    let theta = rts(15.0, 0.9, 0.05, -0.03);
    let wanted = std::env::var("STN_LAYOUTS").ok();
    let rows: [(&str, Interp, usize, bool); 5] = [
        ("rgb8_nearest", Interp::Nearest, 3, false),
        ("rgb8_bicubic", Interp::Bicubic, 3, false),
        ("rgb16_bilinear", Interp::Bilinear, 3, true),
        ("ga8_bilinear", Interp::Bilinear, 2, false),
        ("rgba8_bilinear", Interp::Bilinear, 4, false),
    ];
    for (w, h, size) in [(3840, 2160, "4k"), (1920, 1080, "1080p")] {
        let mut group = c.benchmark_group(format!("layouts_{size}"));
        group.throughput(Throughput::Elements((w * h) as u64));
        group.sample_size(10);
        group.warm_up_time(std::time::Duration::from_millis(500));
        group.measurement_time(std::time::Duration::from_secs(2));
        for (name, interp, ch, wide) in rows {
            if let Some(list) = &wanted {
                if !list.split(',').any(|k| name.contains(k.trim())) {
                    continue;
                }
            }
            let opts = WarpOptions {
                interp,
                ..Default::default()
            };
            let src8 = noise_image(w, h, ch);
            let src16: Vec<u16> = src8.iter().map(|&b| u16::from(b) * 257 + 3).collect();
            let (mut dst8, mut dst16) = (vec![0u8; w * h * ch], vec![0u16; w * h * ch]);
            for threads in [1usize, 2] {
                let pool = pool(threads);
                group.bench_function(BenchmarkId::new(name, threads), |b| {
                    b.iter(|| {
                        pool.install(|| {
                            if wide {
                                warp_any(&src16, &mut dst16, (w, h, ch), &theta, &opts)
                            } else {
                                warp_any(&src8, &mut dst8, (w, h, ch), &theta, &opts)
                            }
                        })
                    })
                });
            }
        }
        group.finish();
    }
}

/// [`warp`] for any sample type, detected kernels.
fn warp_any<T: stn::warp::Sample>(
    src: &[T],
    dst: &mut [T],
    (w, h, c): (usize, usize, usize),
    theta: &Affine,
    opts: &WarpOptions,
) {
    stn::warp::warp_into_with(
        ImageRef {
            data: src,
            width: w,
            height: h,
            channels: c,
        },
        ImageMut {
            data: dst,
            width: w,
            height: h,
            channels: c,
        },
        &stn::Transform::from(*theta),
        opts,
        Isa::detect(),
    );
}

criterion_group!(
    benches,
    bench_layouts,
    bench_crops,
    bench_families,
    bench_4k,
    bench_1080p,
    bench_mnist_batch,
    bench_kernels
);
criterion_main!(benches);
