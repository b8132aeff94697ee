//! Batches: inputs → jobs → chunks of `--batch` images: decode (and turn into
//! the model's input) in parallel, one inference call per chunk on the calling
//! thread (or the thetas file's matrices), then warp, encode and stage each
//! output in parallel; a few background threads commit the staged outputs
//! (fsync + rename, [`codec::Committer`]), so the cores never wait for the
//! disk. At most one chunk of decoded images is in memory, whatever the
//! folder size.
//!
//! With `--shard`, every job is planned (so the collision checks see the
//! whole input set) and only the shard's own are done and counted.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use image::DynamicImage;
use rayon::prelude::*;

use crate::affine::Size;
use crate::codec;
use crate::config::{ApplyTask, Existing, OutputConfig, PredictTask, RectifyTask};
use crate::error::{Error, Exit};
use crate::inputs::{self, Job};
use crate::interrupt;
use crate::net::{preprocess, LocNet};
use crate::overlay;
use crate::report::Report;
use crate::shard::Shard;
use crate::thetas::{self, ThetaLine};
use crate::transform::Transform;
use crate::warp;

/// Jobs with their planned outputs, after the existing-output policy.
struct Plan {
    /// Every job of the batch, whatever the shard.
    jobs: Vec<Job>,
    outputs: Vec<PathBuf>,
    /// The jobs this run does (its shard's, or all), in order.
    own: Vec<usize>,
    /// Whether each job's output already exists and is to be skipped (only
    /// ever true for the run's own jobs).
    skip: Vec<bool>,
}

/// Plans outputs under `out`, refusing clashes and, unless told otherwise,
/// existing outputs, before any work starts.
///
/// With a shard, the clash checks still see every job (a shard refuses what
/// the whole run would refuse), but only the shard's own outputs are looked
/// for: the other shards' may be there already, written by their own runs.
fn plan(jobs: Vec<Job>, out: &OutputConfig, shard: Option<Shard>) -> Result<Plan, Error> {
    let own = own_jobs(&jobs, shard);
    plan_owning(jobs, out, own)
}

/// [`plan`] with the run's own jobs given (a multi-part rectify owns all the
/// parts of the inputs its shard owns).
fn plan_owning(jobs: Vec<Job>, out: &OutputConfig, own: Vec<usize>) -> Result<Plan, Error> {
    let ext = out.format.and_then(codec::extension);
    let outputs = inputs::plan_outputs(&jobs, &out.dir, ext)?;
    let mut exists = vec![false; jobs.len()];
    for &i in &own {
        exists[i] = outputs[i].symlink_metadata().is_ok();
    }
    let skip = match out.existing {
        Existing::Overwrite => vec![false; jobs.len()],
        Existing::Skip => exists,
        Existing::Refuse => {
            if let Some(i) = exists.iter().position(|&e| e) {
                return Err(Error::OutputExists {
                    path: outputs[i].clone(),
                    count: exists.iter().filter(|&&e| e).count(),
                });
            }
            vec![false; jobs.len()]
        }
    };
    Ok(Plan {
        jobs,
        outputs,
        own,
        skip,
    })
}

/// The indices of the jobs `shard` owns, by their output path relative to
/// the output directory (all of them without a shard).
fn own_jobs(jobs: &[Job], shard: Option<Shard>) -> Vec<usize> {
    match shard {
        None => (0..jobs.len()).collect(),
        Some(s) => (0..jobs.len()).filter(|&i| s.owns(&jobs[i].rel)).collect(),
    }
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })
}

thread_local! {
    /// The output directory this thread made (or found) last.
    static LAST_DIR: std::cell::RefCell<Option<std::path::PathBuf>> =
        const { std::cell::RefCell::new(None) };
}

/// [`create_dir`] for an output's directory, skipped when this thread just
/// did it for the same one: a folder's outputs mostly share a directory,
/// and the `mkdir` + `stat` of `create_dir_all` per image was ~1 % of a
/// folder of small photos. (If the directory is removed mid-run, creating
/// the temporary file fails with an error naming the output.)
fn create_output_dir(dir: &Path) -> Result<(), Error> {
    if LAST_DIR.with(|d| d.borrow().as_deref() == Some(dir)) {
        return Ok(());
    }
    create_dir(dir)?;
    LAST_DIR.with(|d| *d.borrow_mut() = Some(dir.to_path_buf()));
    Ok(())
}

/// Warps `img` and stages it for `out` (see [`codec::stage_image`]), in
/// `out`'s format unless `cfg` names one, with the input's colour profile.
#[allow(clippy::too_many_arguments)]
fn warp_and_stage(
    img: &codec::Image,
    theta: &Transform,
    size: Size,
    opts: &warp::WarpOptions,
    out: &Path,
    cfg: &OutputConfig,
    max_pixels: u64,
) -> Result<codec::Staged, Error> {
    codec::check_pixels(size, max_pixels, out)?;
    let format = codec::output_format(out, cfg.format)?;
    let warped = warp::warp_image(&img.pixels, theta, size, opts)?;
    stage_image(&warped, img.icc.as_deref(), format, out, cfg)
}

/// Encodes `img` straight into a temporary file for `out`, creating `out`'s
/// directory.
fn stage_image(
    img: &DynamicImage,
    icc: Option<&[u8]>,
    format: image::ImageFormat,
    out: &Path,
    cfg: &OutputConfig,
) -> Result<codec::Staged, Error> {
    if let Some(parent) = out.parent() {
        create_output_dir(parent)?;
    }
    let (staged, _note) = codec::stage_image(img, icc, format, cfg.encoding, out)?;
    if interrupt::requested() {
        return Err(Error::Interrupted);
    }
    Ok(staged)
}

/// Staged outputs waiting for their commit; the queue's bound keeps the
/// number of open temporary files small.
const COMMIT_QUEUE: usize = 32;

/// Queues a staged output for its commit, or gives back why it could not be
/// staged (nothing for an image stopped by SIGINT).
fn submit<T: Send + 'static>(
    committer: &codec::Committer<T>,
    token: T,
    staged: Result<codec::Staged, Error>,
) -> Option<Error> {
    match staged {
        Ok(staged) => {
            committer.submit(token, staged);
            None
        }
        Err(Error::Interrupted) => None,
        Err(e) => Some(e),
    }
}

/// A decoded image of job `.0`, with what `prep` made of it.
type Decoded<P> = (usize, codec::Image, P);

/// Decodes the chunk's images in parallel and runs `prep` on each while it is
/// in cache; failures are reported and dropped.
fn decode_chunk<P: Send>(
    idx: &[usize],
    jobs: &[Job],
    max_pixels: u64,
    report: &mut Report,
    prep: &(impl Fn(&DynamicImage) -> P + Sync),
) -> Vec<Decoded<P>> {
    type Attempt<P> = (usize, Result<(codec::Image, P), Error>);
    let decoded: Vec<Attempt<P>> = idx
        .par_iter()
        .map(|&i| {
            let img = codec::read_image(&jobs[i].src, max_pixels).map(|img| {
                let p = prep(&img.pixels);
                (img, p)
            });
            (i, img)
        })
        .collect();
    let mut ok = Vec::with_capacity(decoded.len());
    for (i, r) in decoded {
        match r {
            Ok((img, p)) => ok.push((i, img, p)),
            Err(e) => report.fail(&e),
        }
    }
    ok
}

/// Runs `prep` on images decoded ahead, in parallel; failures are reported
/// and dropped, as in [`decode_chunk`].
fn prep_decoded<P: Send>(
    done: Vec<(usize, Result<codec::Image, Error>)>,
    report: &mut Report,
    prep: &(impl Fn(&DynamicImage) -> P + Sync),
) -> Vec<Decoded<P>> {
    let mut ok = Vec::with_capacity(done.len());
    for (i, r) in done {
        match r {
            Ok(img) => ok.push((i, img)),
            Err(e) => report.fail(&e),
        }
    }
    ok.into_par_iter()
        .map(|(i, img)| {
            let p = prep(&img.pixels);
            (i, img, p)
        })
        .collect()
}

/// Decoded pixel bytes one batch may hold: a batch closes at `--batch` images
/// or at this many bytes, whichever comes first, so memory stays bounded for
/// large images too.
const BATCH_BYTES: usize = 128 << 20;

/// Decodes the jobs `todo` in parallel groups and hands them to `f` in order,
/// in batches of at most `batch` images and about [`BATCH_BYTES`] of pixels.
/// The first group is two images per thread; later ones are as large as the
/// largest image so far allows within the byte budget, so a batch of small
/// images decodes as one parallel loop (no waiting for the slowest image of
/// every small group). Stops early on SIGINT.
#[allow(clippy::too_many_arguments)]
fn for_each_batch<P: Send>(
    todo: &[usize],
    jobs: &[Job],
    batch: usize,
    max_pixels: u64,
    report: &mut Report,
    mut ready: Vec<(usize, Result<codec::Image, Error>)>,
    prep: impl Fn(&DynamicImage) -> P + Sync,
    mut f: impl FnMut(Vec<Decoded<P>>, &mut Report) -> Result<(), Error>,
) -> Result<(), Error> {
    let group = (2 * rayon::current_num_threads()).max(1);
    let mut pending: Vec<Decoded<P>> = Vec::new();
    let mut bytes = 0;
    let mut largest = 0;
    let mut next = 0;
    while next < todo.len() && !interrupt::requested() {
        let fits = match largest {
            0 => group,
            l => (BATCH_BYTES.saturating_sub(bytes) / l).max(group),
        };
        let mut take = fits.min(batch - pending.len()).min(todo.len() - next);
        // Images decoded ahead (see `rectify`), if they are the next to do.
        let early = ready
            .iter()
            .zip(&todo[next..next + take])
            .take_while(|((i, _), &j)| *i == j)
            .count();
        let chunk = if early > 0 {
            take = early;
            let done: Vec<_> = ready.drain(..early).collect();
            prep_decoded(done, report, &prep)
        } else {
            ready.clear();
            decode_chunk(&todo[next..next + take], jobs, max_pixels, report, &prep)
        };
        for (i, img, p) in chunk {
            let n = img.pixels.as_bytes().len();
            bytes += n;
            largest = largest.max(n);
            pending.push((i, img, p));
        }
        next += take;
        if pending.len() >= batch || bytes >= BATCH_BYTES || next == todo.len() {
            if !pending.is_empty() {
                f(std::mem::take(&mut pending), report)?;
            }
            bytes = 0;
        }
    }
    Ok(())
}

/// The model's input tensor of one image.
fn tensor(img: &DynamicImage, contract: &crate::net::Contract) -> Vec<f32> {
    let mut v = Vec::new();
    preprocess::push_image(img, contract, &mut v);
    v
}

/// Predicts the chunk's transforms (one per part) with one inference call;
/// unusable ones (non-finite, singular, behind the camera) are per-image
/// failures.
fn predict_chunk(
    net: &mut LocNet,
    images: Vec<Decoded<Vec<f32>>>,
    jobs: &[Job],
    report: &mut Report,
) -> Result<Vec<(usize, codec::Image, Vec<Transform>)>, Error> {
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = Vec::with_capacity(images.iter().map(|(_, _, t)| t.len()).sum());
    for (_, _, t) in &images {
        input.extend_from_slice(t);
    }
    let n = images.len();
    let raw = net.predict(&input, n)?;
    let transforms = net.contract().transforms(&raw, n);
    let mut out = Vec::with_capacity(n);
    for ((i, img, _), t) in images.into_iter().zip(transforms) {
        match t {
            Ok(t) => out.push((i, img, t)),
            Err(e) => report.fail(&Error::Input {
                path: jobs[i].src.clone(),
                reason: e.to_string(),
            }),
        }
    }
    Ok(out)
}

/// The jobs of a multi-part model: each input's output `name.ext` becomes
/// `name.0.ext` … `name.{M-1}.ext` (job `i·M + k`); one part keeps the jobs.
fn part_jobs(jobs: Vec<Job>, parts: usize) -> Vec<Job> {
    if parts <= 1 {
        return jobs;
    }
    jobs.into_iter()
        .flat_map(|j| {
            (0..parts).map(move |k| {
                let stem = j.rel.file_stem().unwrap_or_default().to_string_lossy();
                let name = match j.rel.extension() {
                    Some(ext) => format!("{stem}.{k}.{}", ext.to_string_lossy()),
                    None => format!("{stem}.{k}"),
                };
                Job {
                    src: j.src.clone(),
                    rel: j.rel.with_file_name(name),
                }
            })
        })
        .collect()
}

/// Writes `lines` (each ending in a newline) atomically to `path`, or to stdout for `-`.
fn write_lines(path: &Path, lines: &[String]) -> Result<(), Error> {
    codec::write_output(path, lines.concat().as_bytes())
}

fn load_net(cfg: &crate::config::NetConfig) -> Result<LocNet, Error> {
    LocNet::load(&cfg.source, cfg.ort_lib.as_deref(), &cfg.overrides)
}

/// Decoded images by job, as [`for_each_batch`] takes them ahead.
type Ready = Vec<(usize, Result<codec::Image, Error>)>;

/// Loads the model ([`load_net`]) and meanwhile decodes the jobs `first` (in
/// that order, the ones the run will do first) on the thread pool, in
/// groups, until the model is loaded, they are all decoded or a batch's pixel
/// budget is spent. Loading ONNX Runtime and a model takes ~30–45 ms of one
/// core, most of it the runtime's own start (a second model loads in 2–3
/// ms); a run's first images need not wait for it.
///
/// The model loads on the calling (main) thread and the decoding is the
/// spawned side: loaded on a spawned thread, as `rectify` did before, one
/// image took 46.6 ms end to end against 39.6 ms now (`stn rectify` on one
/// 640×480 JPEG, 30 alternating runs on a Zen 3, 1.18×; `stn predict`, which
/// loaded first and decoded after, 43.7 → 40.7 ms). The runtime's start
/// makes many small allocations; on a spawned thread they come from a fresh
/// glibc arena, whose heap grows by one `mprotect` per extension: 2,005
/// `mprotect` calls per run then, 41 now (`perf stat`).
fn load_net_decoding(
    cfg: &crate::config::NetConfig,
    jobs: &[Job],
    first: &[usize],
    max_pixels: u64,
) -> (Result<LocNet, Error>, Ready) {
    if first.is_empty() {
        return (load_net(cfg), Vec::new());
    }
    let loaded = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let decoding = s.spawn(|| {
            let group = (2 * rayon::current_num_threads()).max(1);
            let mut ready: Ready = Vec::new();
            let mut bytes = 0;
            while ready.len() < first.len()
                && bytes < BATCH_BYTES
                && !loaded.load(std::sync::atomic::Ordering::Relaxed)
            {
                let start = ready.len();
                let chunk: Ready = first[start..(start + group).min(first.len())]
                    .par_iter()
                    .map(|&i| (i, codec::read_image(&jobs[i].src, max_pixels)))
                    .collect();
                bytes += chunk
                    .iter()
                    .map(|(_, r)| r.as_ref().map_or(0, |img| img.pixels.as_bytes().len()))
                    .sum::<usize>();
                ready.extend(chunk);
            }
            ready
        });
        let net = load_net(cfg);
        loaded.store(true, std::sync::atomic::Ordering::Relaxed);
        let ready = decoding
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (net, ready)
    })
}

fn collect(args: &[String], exclude: &[&Path], report: &mut Report) -> Vec<Job> {
    let stdin = io::stdin();
    let collected = inputs::collect(args, &mut stdin.lock(), exclude);
    for e in &collected.errors {
        report.fail_input(e);
    }
    collected.jobs
}

/// `stn rectify`.
///
/// With a multi-part model (`stn.parts = M`) each input has M outputs
/// (`name.0.png` …), planned as jobs `i·M + k` of the same input.
pub fn rectify(task: &RectifyTask, max_pixels: u64) -> Result<Exit, Error> {
    let mut report = Report::new(0, task.quiet).for_shard(task.shard);
    let mut exclude = vec![task.out.dir.as_path()];
    exclude.extend(task.overlay.as_deref());
    let jobs = collect(&task.inputs, &exclude, &mut report);
    // The first inputs are surely the first to do (and worth decoding while
    // the model loads) unless existing outputs are skipped or a shard owns
    // only some of them.
    let early = if task.out.existing == Existing::Skip || task.shard.is_some() {
        0
    } else {
        task.net.batch.min(jobs.len())
    };
    let (net, mut ready) = load_net_decoding(
        &task.net,
        &jobs,
        &(0..early).collect::<Vec<_>>(),
        max_pixels,
    );
    let mut net = net?;
    let contract = net.contract().clone();
    let parts = contract.parts;
    let overlays = match &task.overlay {
        Some(dir) => {
            let cfg = OutputConfig {
                dir: dir.clone(),
                format: None,
                existing: Existing::Overwrite,
                encoding: task.out.encoding,
            };
            Some((inputs::plan_outputs(&jobs, dir, None)?, cfg))
        }
        None => None,
    };
    let images = jobs.len();
    // A shard owns inputs (by their mirrored path), with all their parts.
    let own = own_jobs(&jobs, task.shard)
        .into_iter()
        .flat_map(|i| i * parts..(i + 1) * parts)
        .collect();
    let plan = plan_owning(part_jobs(jobs, parts), &task.out, own)?;
    create_dir(&task.out.dir)?;
    let opts = warp::WarpOptions {
        align_corners: task.sampling.options.align_corners || contract.align_corners,
        padding: match (task.sampling.padding_set, contract.padding) {
            (false, Some(p)) => p,
            _ => task.sampling.options.padding,
        },
        ..task.sampling.options
    };
    let out_size = task.sampling.size.or(contract.output_size);
    // Outputs to write (in order); the inputs with at least one of them.
    let (mut report, outputs) = start(report, &plan);
    let mut todo: Vec<usize> = outputs.into_iter().map(|o| o / parts).collect();
    todo.dedup();
    // The decoder reads input i through job i·M.
    let first: Vec<Job> = (0..images).map(|i| plan.jobs[i * parts].clone()).collect();
    // Outputs are committed (fsync + rename) in the background; an output
    // counts as written, and gets its thetas line, once committed.
    let committer = codec::Committer::<(usize, Transform, Size)>::new(COMMIT_QUEUE);
    let mut lines = Vec::new();
    let mut committed = |outcomes: Vec<codec::Outcome<(usize, Transform, Size)>>,
                         report: &mut Report| {
        for ((o, transform, size), r) in outcomes {
            match r {
                Ok(()) => {
                    report.wrote();
                    if task.thetas.is_some() {
                        lines.push((o, line(&plan, o, &task.out.dir, &transform, size)));
                    }
                }
                Err(e) => report.fail(&e),
            }
        }
    };
    let batch = task.net.batch;
    let result = for_each_batch(
        &todo,
        &first,
        batch,
        max_pixels,
        &mut report,
        std::mem::take(&mut ready),
        |img| tensor(img, &contract),
        |images, report| {
            let predicted = predict_chunk(&mut net, images, &first, report)?;
            let failures: Vec<Error> = predicted
                .par_iter()
                .flat_map_iter(|(i, img, transforms)| {
                    let input = Size::new(img.pixels.width(), img.pixels.height());
                    let size = out_size.unwrap_or(input);
                    // The overlay is written first: if it fails, the image
                    // fails as a whole and its outputs are dropped.
                    let drawn = match &overlays {
                        Some((paths, cfg)) => {
                            let lines: Vec<_> = transforms
                                .iter()
                                .map(|t| overlay::outline(t, input, size, opts.align_corners))
                                .collect();
                            let drawn = overlay::draw_outlines(&img.pixels, &lines);
                            let format = codec::output_format(&paths[*i], None)
                                .unwrap_or(image::ImageFormat::Png);
                            let icc = img.icc.as_deref();
                            stage_image(&drawn, icc, format, &paths[*i], cfg)
                                .and_then(|s| s.commit())
                        }
                        None => Ok(()),
                    };
                    let mut failures = Vec::new();
                    if let Err(e) = drawn {
                        failures.push(e);
                        return failures.into_iter();
                    }
                    for (k, transform) in transforms.iter().enumerate() {
                        let o = i * parts + k;
                        if plan.skip[o] {
                            continue;
                        }
                        let staged = warp_and_stage(
                            img,
                            transform,
                            size,
                            &opts,
                            &plan.outputs[o],
                            &task.out,
                            max_pixels,
                        );
                        failures.extend(submit(&committer, (o, transform.clone(), size), staged));
                    }
                    failures.into_iter()
                })
                .collect();
            for e in &failures {
                report.fail(e);
            }
            committed(committer.completed(), report);
            Ok(())
        },
    );
    committed(committer.finish(), &mut report);
    result?;
    if let Some(path) = &task.thetas {
        lines.sort_by_key(|(i, _)| *i);
        let lines: Vec<String> = lines.into_iter().map(|(_, l)| l).collect();
        write_lines(path, &lines)?;
    }
    Ok(report.finish("written"))
}

/// Sizes the report to the run's own jobs, counts those skipped, and returns
/// the jobs to do.
fn start(report: Report, plan: &Plan) -> (Report, Vec<usize>) {
    let mut report = report.with_total(plan.own.len());
    let todo: Vec<usize> = plan
        .own
        .iter()
        .copied()
        .filter(|&i| !plan.skip[i])
        .collect();
    for _ in todo.len()..plan.own.len() {
        report.skip();
    }
    (report, todo)
}

fn line(plan: &Plan, i: usize, dir: &Path, transform: &Transform, size: Size) -> String {
    let rel = plan.outputs[i]
        .strip_prefix(dir)
        .unwrap_or(&plan.outputs[i]);
    let mut s = thetas::to_line(&ThetaLine {
        path: plan.jobs[i].src.clone(),
        transform: transform.clone(),
        output: Some(rel.to_path_buf()),
        size: Some(size),
    });
    s.push('\n');
    s
}

/// `stn predict`: JSON lines on stdout, streamed chunk by chunk.
pub fn predict(task: &PredictTask, max_pixels: u64) -> Result<Exit, Error> {
    let mut report = Report::new(0, task.quiet).for_shard(task.shard);
    let jobs = collect(&task.inputs, &[], &mut report);
    let own = own_jobs(&jobs, task.shard);
    let first = &own[..task.net.batch.min(own.len())];
    let (net, ready) = load_net_decoding(&task.net, &jobs, first, max_pixels);
    let mut net = net?;
    let size = task.size.or(net.contract().output_size);
    let mut report = report.with_total(own.len());
    let stdout = io::stdout();
    let contract = net.contract().clone();
    for_each_batch(
        &own,
        &jobs,
        task.net.batch,
        max_pixels,
        &mut report,
        ready,
        |img| tensor(img, &contract),
        |images, report| {
            let predicted = predict_chunk(&mut net, images, &jobs, report)?;
            let mut out = stdout.lock();
            for (i, img, transforms) in predicted {
                let rels = part_jobs(vec![jobs[i].clone()], transforms.len());
                for (transform, job) in transforms.into_iter().zip(rels) {
                    let line = thetas::to_line(&ThetaLine {
                        path: jobs[i].src.clone(),
                        transform,
                        output: Some(job.rel),
                        size: Some(
                            size.unwrap_or(Size::new(img.pixels.width(), img.pixels.height())),
                        ),
                    });
                    writeln!(out, "{line}").map_err(|source| Error::Write {
                        path: PathBuf::from("-"),
                        source,
                    })?;
                }
                report.wrote();
            }
            Ok(())
        },
    )?;
    Ok(report.finish("predicted"))
}

/// `stn warp --thetas FILE -o DIR`.
pub fn apply(task: &ApplyTask, max_pixels: u64) -> Result<Exit, Error> {
    let read_err = |source| Error::Read {
        path: task.thetas.clone(),
        source,
    };
    let text = if codec::is_stdio(&task.thetas) {
        io::read_to_string(io::stdin()).map_err(read_err)?
    } else {
        fs::read_to_string(&task.thetas).map_err(read_err)?
    };
    let mut report = Report::new(0, true).for_shard(task.shard);
    let mut parsed = Vec::new();
    for r in thetas::parse(&text, &task.thetas) {
        match r {
            Ok(l) => parsed.push(l),
            Err(e) => report.fail_input(&e),
        }
    }
    let jobs: Vec<Job> = parsed
        .iter()
        .map(|l| Job {
            src: l.path.clone(),
            rel: l
                .output
                .clone()
                .unwrap_or_else(|| inputs::mirror_rel(&l.path)),
        })
        .collect();
    let plan = plan(jobs, &task.out, task.shard)?;
    create_dir(&task.out.dir)?;
    let (mut report, todo) = start(report, &plan);
    let committer = codec::Committer::<usize>::new(COMMIT_QUEUE);
    let committed = |outcomes: Vec<codec::Outcome<usize>>, report: &mut Report| {
        for (_, r) in outcomes {
            match r {
                Ok(()) => report.wrote(),
                Err(e) => report.fail(&e),
            }
        }
    };
    for chunk in todo.chunks(64) {
        if interrupt::requested() {
            break;
        }
        let failures: Vec<Error> = chunk
            .par_iter()
            .filter_map(|&i| {
                let staged = codec::read_image(&plan.jobs[i].src, max_pixels).and_then(|img| {
                    let l = &parsed[i];
                    let size = task
                        .sampling
                        .size
                        .or(l.size)
                        .unwrap_or(Size::new(img.pixels.width(), img.pixels.height()));
                    warp_and_stage(
                        &img,
                        &l.transform,
                        size,
                        &task.sampling.options,
                        &plan.outputs[i],
                        &task.out,
                        max_pixels,
                    )
                });
                submit(&committer, i, staged)
            })
            .collect();
        for e in &failures {
            report.fail(e);
        }
        committed(committer.completed(), &mut report);
    }
    committed(committer.finish(), &mut report);
    Ok(report.finish("written"))
}

/// `stn model info`.
pub fn model_info(cfg: &crate::config::NetConfig) -> Result<Exit, Error> {
    let net = load_net(cfg)?;
    let d = net.declared();
    let c = net.contract();
    let mut out = String::new();
    out.push_str(&format!("model: {}\n", cfg.source.display_path().display()));
    for (kind, list) in [("input", &d.inputs), ("output", &d.outputs)] {
        for (n, ty, shape) in list {
            let dims: Vec<String> = shape
                .iter()
                .map(|&v| {
                    if v < 0 {
                        "?".to_string()
                    } else {
                        v.to_string()
                    }
                })
                .collect();
            out.push_str(&format!("{kind}: {n} {ty} [{}]\n", dims.join(",")));
        }
    }
    for (k, v) in &d.metadata {
        out.push_str(&format!("metadata: {k} = {v}\n"));
    }
    out.push_str(&format!(
        "contract: input {} x{} channel(s), mean {:?}, std {:?}, output size {}, align_corners {}\n",
        c.input_size,
        c.channels,
        c.mean,
        c.std,
        c.output_size.map_or("each image's own".to_string(), |s| s.to_string()),
        c.align_corners
    ));
    let family = match &c.family {
        crate::net::Family::Tps {
            target,
            unit_range,
            eps,
            grid,
        } => format!(
            "family tps, K = {} target points {:?}, points in {}, eps {eps:e}, grid {}",
            target.len(),
            target,
            if *unit_range { "[0, 1]" } else { "[-1, 1]" },
            match grid {
                Some(true) => "corners",
                Some(false) => "centres",
                None => "as align_corners",
            }
        ),
        f => format!("family {}, {} values", f.name(), f.values()),
    };
    out.push_str(&format!(
        "transform: {family}; {} part{} per image; padding {}\n",
        c.parts,
        if c.parts == 1 { "" } else { "s" },
        match c.padding {
            Some(crate::warp::Padding::Border) => "border",
            Some(crate::warp::Padding::Reflection) => "reflection",
            _ => "zeros",
        }
    ));
    io::stdout()
        .write_all(out.as_bytes())
        .map_err(|source| Error::Write {
            path: PathBuf::from("-"),
            source,
        })?;
    Ok(Exit::Success)
}
