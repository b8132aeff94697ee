//! Batches: inputs → jobs → chunks of `--batch` images: decode (and turn into
//! the model's input) in parallel, one inference call per chunk on the calling
//! thread (or the thetas file's matrices), then warp, encode and stage each
//! output in parallel; a few background threads commit the staged outputs
//! (fsync + rename, [`codec::Committer`]), so the cores never wait for the
//! disk. At most one chunk of decoded images is in memory, whatever the
//! folder size.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use image::DynamicImage;
use rayon::prelude::*;

use crate::affine::{Affine, Size};
use crate::codec;
use crate::config::{ApplyTask, Existing, OutputConfig, PredictTask, RectifyTask};
use crate::error::{Error, Exit};
use crate::inputs::{self, Job};
use crate::interrupt;
use crate::net::{preprocess, LocNet, ModelSource};
use crate::overlay;
use crate::report::Report;
use crate::thetas::{self, ThetaLine};
use crate::warp;

/// Jobs with their planned outputs, after the existing-output policy.
struct Plan {
    jobs: Vec<Job>,
    outputs: Vec<PathBuf>,
    /// Whether each output already exists (and is to be skipped).
    skip: Vec<bool>,
}

/// Plans outputs under `out`, refusing clashes and, unless told otherwise,
/// existing outputs, before any work starts.
fn plan(jobs: Vec<Job>, out: &OutputConfig) -> Result<Plan, Error> {
    let ext = out.format.and_then(codec::extension);
    let outputs = inputs::plan_outputs(&jobs, &out.dir, ext)?;
    let exists: Vec<bool> = outputs
        .iter()
        .map(|p| p.symlink_metadata().is_ok())
        .collect();
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
        skip,
    })
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })
}

/// Warps `img` and stages it for `out` (see [`codec::stage_image`]), in
/// `out`'s format unless `cfg` names one, with the input's colour profile.
#[allow(clippy::too_many_arguments)]
fn warp_and_stage(
    img: &codec::Image,
    theta: &Affine,
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
        create_dir(parent)?;
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
fn for_each_batch<P: Send>(
    todo: &[usize],
    jobs: &[Job],
    batch: usize,
    max_pixels: u64,
    report: &mut Report,
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
        let take = fits.min(batch - pending.len()).min(todo.len() - next);
        let idx = &todo[next..next + take];
        for (i, img, p) in decode_chunk(idx, jobs, max_pixels, report, &prep) {
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

/// Predicts the chunk's thetas with one inference call; non-finite thetas are
/// per-image failures.
fn predict_chunk(
    net: &mut LocNet,
    images: Vec<Decoded<Vec<f32>>>,
    jobs: &[Job],
    report: &mut Report,
) -> Result<Vec<(usize, codec::Image, Affine)>, Error> {
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = Vec::with_capacity(images.iter().map(|(_, _, t)| t.len()).sum());
    for (_, _, t) in &images {
        input.extend_from_slice(t);
    }
    let thetas = net.predict(&input, images.len())?;
    let mut out = Vec::with_capacity(images.len());
    for ((i, img, _), theta) in images.into_iter().zip(thetas) {
        match theta.check_finite("the model's theta") {
            Ok(()) => out.push((i, img, theta)),
            Err(e) => report.fail(&Error::Input {
                path: jobs[i].src.clone(),
                reason: e.to_string(),
            }),
        }
    }
    Ok(out)
}

/// Writes `lines` (each ending in a newline) atomically to `path`, or to stdout for `-`.
fn write_lines(path: &Path, lines: &[String]) -> Result<(), Error> {
    codec::write_output(path, lines.concat().as_bytes())
}

fn load_net(cfg: &crate::config::NetConfig) -> Result<LocNet, Error> {
    LocNet::load(&cfg.source, cfg.ort_lib.as_deref(), &cfg.overrides)
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
pub fn rectify(task: &RectifyTask, max_pixels: u64) -> Result<Exit, Error> {
    let mut report = Report::new(0, task.quiet);
    let mut exclude = vec![task.out.dir.as_path()];
    exclude.extend(task.overlay.as_deref());
    let jobs = collect(&task.inputs, &exclude, &mut report);
    let plan = plan(jobs, &task.out)?;
    let overlays = match &task.overlay {
        Some(dir) => {
            let cfg = OutputConfig {
                dir: dir.clone(),
                format: None,
                existing: Existing::Overwrite,
                encoding: task.out.encoding,
            };
            Some((inputs::plan_outputs(&plan.jobs, dir, None)?, cfg))
        }
        None => None,
    };
    let mut net = load_net(&task.net)?;
    create_dir(&task.out.dir)?;
    let contract = net.contract().clone();
    let opts = warp::WarpOptions {
        align_corners: task.sampling.options.align_corners || contract.align_corners,
        ..task.sampling.options
    };
    let out_size = task.sampling.size.or(contract.output_size);
    let mut report = report.with_total(plan.jobs.len());
    let todo: Vec<usize> = (0..plan.jobs.len()).filter(|&i| !plan.skip[i]).collect();
    for _ in todo.len()..plan.jobs.len() {
        report.skip();
    }
    // Outputs are committed (fsync + rename) in the background; an output
    // counts as written, and gets its thetas line, once committed.
    let committer = codec::Committer::<(usize, Affine, Size)>::new(COMMIT_QUEUE);
    let mut lines = Vec::new();
    let mut committed = |outcomes: Vec<codec::Outcome<(usize, Affine, Size)>>,
                         report: &mut Report| {
        for ((i, theta, size), r) in outcomes {
            match r {
                Ok(()) => {
                    report.wrote();
                    if task.thetas.is_some() {
                        lines.push((i, line(&plan, i, &task.out.dir, &theta, size)));
                    }
                }
                Err(e) => report.fail(&e),
            }
        }
    };
    let batch = task.net.batch;
    let result = for_each_batch(
        &todo,
        &plan.jobs,
        batch,
        max_pixels,
        &mut report,
        |img| tensor(img, &contract),
        |images, report| {
            let predicted = predict_chunk(&mut net, images, &plan.jobs, report)?;
            let failures: Vec<Error> = predicted
                .par_iter()
                .filter_map(|(i, img, theta)| {
                    let input = Size::new(img.pixels.width(), img.pixels.height());
                    let size = out_size.unwrap_or(input);
                    let out = &plan.outputs[*i];
                    let staged =
                        warp_and_stage(img, theta, size, &opts, out, &task.out, max_pixels)
                            .and_then(|staged| {
                                // The overlay is written first: if it fails, the
                                // image fails as a whole and its output is dropped.
                                if let Some((paths, cfg)) = &overlays {
                                    let corners =
                                        overlay::region(theta, input, size, opts.align_corners);
                                    let drawn = overlay::draw(&img.pixels, &corners);
                                    let format = codec::output_format(&paths[*i], None)
                                        .unwrap_or(image::ImageFormat::Png);
                                    let icc = img.icc.as_deref();
                                    stage_image(&drawn, icc, format, &paths[*i], cfg)?.commit()?;
                                }
                                Ok(staged)
                            });
                    submit(&committer, (*i, *theta, size), staged)
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

fn line(plan: &Plan, i: usize, dir: &Path, theta: &Affine, size: Size) -> String {
    let rel = plan.outputs[i]
        .strip_prefix(dir)
        .unwrap_or(&plan.outputs[i]);
    let mut s = thetas::to_line(&ThetaLine {
        path: plan.jobs[i].src.clone(),
        theta: *theta,
        output: Some(rel.to_path_buf()),
        size: Some(size),
    });
    s.push('\n');
    s
}

/// `stn predict`: JSON lines on stdout, streamed chunk by chunk.
pub fn predict(task: &PredictTask, max_pixels: u64) -> Result<Exit, Error> {
    let mut report = Report::new(0, task.quiet);
    let jobs = collect(&task.inputs, &[], &mut report);
    let mut net = load_net(&task.net)?;
    let size = task.size.or(net.contract().output_size);
    let mut report = report.with_total(jobs.len());
    let all: Vec<usize> = (0..jobs.len()).collect();
    let stdout = io::stdout();
    let contract = net.contract().clone();
    for_each_batch(
        &all,
        &jobs,
        task.net.batch,
        max_pixels,
        &mut report,
        |img| tensor(img, &contract),
        |images, report| {
            let predicted = predict_chunk(&mut net, images, &jobs, report)?;
            let mut out = stdout.lock();
            for (i, img, theta) in &predicted {
                let line = thetas::to_line(&ThetaLine {
                    path: jobs[*i].src.clone(),
                    theta: *theta,
                    output: Some(jobs[*i].rel.clone()),
                    size: Some(size.unwrap_or(Size::new(img.pixels.width(), img.pixels.height()))),
                });
                writeln!(out, "{line}").map_err(|source| Error::Write {
                    path: PathBuf::from("-"),
                    source,
                })?;
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
    let mut report = Report::new(0, true);
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
    let plan = plan(jobs, &task.out)?;
    create_dir(&task.out.dir)?;
    let mut report = report.with_total(plan.jobs.len());
    let todo: Vec<usize> = (0..plan.jobs.len()).filter(|&i| !plan.skip[i]).collect();
    for _ in todo.len()..plan.jobs.len() {
        report.skip();
    }
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
                        &l.theta,
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
    let name = match &cfg.source {
        ModelSource::Embedded => cfg.source.display_path().display().to_string(),
        ModelSource::File(p) => p.display().to_string(),
    };
    out.push_str(&format!("model: {name}\n"));
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
    io::stdout()
        .write_all(out.as_bytes())
        .map_err(|source| Error::Write {
            path: PathBuf::from("-"),
            source,
        })?;
    Ok(Exit::Success)
}
