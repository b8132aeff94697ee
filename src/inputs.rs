//! From command-line inputs to jobs: files, directories, glob patterns and
//! path lists on standard input become a sorted, de-duplicated list of
//! [`Job`]s, each with the path its output takes under the output directory.
//!
//! This is the only module that lists directories. A bad input (missing,
//! unreadable, a symlink loop, a pattern matching nothing) is recorded in
//! [`Collected::errors`] and collection goes on with the rest. Before any work
//! starts, [`plan_outputs`] refuses two jobs that would write the same output
//! and an output that would replace one of the inputs.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead};
use std::path::{Component, Path, PathBuf};

use walkdir::WalkDir;

use crate::error::Error;

/// The extensions (lower case) of the image files a directory walk keeps.
const IMAGE_EXTENSIONS: [&str; 13] = [
    "png", "jpg", "jpeg", "bmp", "tif", "tiff", "pnm", "pbm", "pgm", "ppm", "pam", "webp", "gif",
];

/// One image to process: where it is read from, and its output path relative
/// to the output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The file to read, as found (not canonicalized).
    pub src: PathBuf,
    /// The output path relative to the output directory; never absolute and
    /// never containing `..`.
    pub rel: PathBuf,
}

/// The result of [`collect`].
#[derive(Debug, Default)]
pub struct Collected {
    /// The jobs, sorted by `rel` then `src`. A file reached more than once
    /// (compared by canonical path) appears once, as the first of its jobs in
    /// that order.
    pub jobs: Vec<Job>,
    /// Problems with single inputs; they do not stop the batch.
    pub errors: Vec<Error>,
}

/// Turns command-line inputs into jobs.
///
/// Each of `inputs` is one of:
/// - a file: `rel` is its file name; any extension is accepted;
/// - a directory: walked recursively, following symbolic links, keeping
///   files whose names [`is_image_name`] and skipping hidden entries (names
///   starting with `.`); `rel` is the path below the directory;
/// - a glob pattern (contains `*`, `?` or `[` and is not an existing path):
///   the regular files it matches, `rel` relative to the pattern's literal
///   leading directory (`scans/**/*.png` → relative to `scans`). As in a
///   shell, wildcards do not match a leading `.`;
/// - `-`: newline-separated paths read from `stdin`, each taken literally
///   (no globbing) with `rel` = [`mirror_rel`] of the listed path; a listed
///   directory is walked, its files' `rel` under the directory's `mirror_rel`.
///
/// Walks and patterns never enter the `exclude` directories (the output and
/// overlay directories, so that a second run does not read the first run's
/// outputs); they need not exist, and are still not entered if another
/// process (another shard of the same job) creates them during the walk.
pub fn collect(inputs: &[String], stdin: &mut dyn BufRead, exclude: &[&Path]) -> Collected {
    let mut collector = Collector {
        exclude: exclude.iter().filter_map(|p| future_identity(p)).collect(),
        found: Vec::new(),
        errors: Vec::new(),
    };
    for arg in inputs {
        if arg == "-" {
            collector.stdin_list(stdin);
        } else {
            collector.argument(arg);
        }
    }
    collector.finish()
}

/// The output path of each job: `out_dir/rel`, with the extension replaced by
/// `ext` when given (`Some("png")` for `--format png`).
///
/// Fails, before anything is written, when two jobs would be written to the
/// same output ([`Error::OutputClash`], paths compared exactly, so case
/// matters) or when an output would replace one of the inputs
/// ([`Error::Input`] naming that input).
pub fn plan_outputs(
    jobs: &[Job],
    out_dir: &Path,
    ext: Option<&str>,
) -> Result<Vec<PathBuf>, Error> {
    // Both the file an input resolves to and the directory entry it was named
    // through: renaming an output over either would lose the input.
    let mut canonical = Canonical::default();
    let mut inputs: HashMap<PathBuf, &Path> = HashMap::new();
    for job in jobs {
        let identities = [canonical.file(&job.src), canonical.entry(&job.src)];
        for id in identities.into_iter().flatten() {
            inputs.entry(id).or_insert(&job.src);
        }
    }
    let mut taken: HashMap<PathBuf, &Path> = HashMap::with_capacity(jobs.len());
    let mut outputs = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut out = out_dir.join(&job.rel);
        if let Some(ext) = ext {
            out.set_extension(ext);
        }
        if let Some(first) = taken.get(&out) {
            return Err(Error::OutputClash {
                output: out,
                first: first.to_path_buf(),
                second: job.src.clone(),
            });
        }
        if let Some(input) = canonical.entry(&out).and_then(|id| inputs.get(&id)) {
            return Err(Error::Input {
                path: input.to_path_buf(),
                reason: "output would overwrite this input".to_string(),
            });
        }
        taken.insert(out.clone(), &job.src);
        outputs.push(out);
    }
    Ok(outputs)
}

/// Whether a file name has an extension stn reads when walking a directory:
/// png, jpg, jpeg, bmp, tif, tiff, pnm, pbm, pgm, ppm, pam, webp or gif, in
/// any case.
pub fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|ext| IMAGE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)))
}

/// The relative output path for a listed path (a line of a `-` list or of a
/// thetas file).
///
/// A relative path without `..` mirrors itself, without a leading `./`
/// (`./a/b.png` → `a/b.png`). Anything else (absolute, or with `..`) is
/// reduced to its file name (`/data/b.png` → `b.png`), which is empty for
/// paths that have none (`/`, `..`).
pub fn mirror_rel(path: &Path) -> PathBuf {
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return path.file_name().map(PathBuf::from).unwrap_or_default();
            }
        }
    }
    rel
}

/// Gathers jobs and errors in argument order; [`Collector::finish`] sorts.
struct Collector {
    exclude: Vec<PathBuf>,
    found: Vec<Job>,
    errors: Vec<Error>,
}

impl Collector {
    fn error(&mut self, path: impl Into<PathBuf>, reason: impl Into<String>) {
        self.errors.push(Error::Input {
            path: path.into(),
            reason: reason.into(),
        });
    }

    /// One command-line argument other than `-`. An existing path is taken
    /// literally even if its name contains wildcard characters.
    fn argument(&mut self, arg: &str) {
        let path = Path::new(arg);
        if arg.contains(['*', '?', '[']) && fs::symlink_metadata(path).is_err() {
            self.glob(arg);
        } else {
            self.named(path, false);
        }
    }

    /// Reads a path list; each line is a path named literally.
    fn stdin_list(&mut self, stdin: &mut dyn BufRead) {
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(source) => {
                    self.errors.push(Error::Read {
                        path: PathBuf::from("-"),
                        source,
                    });
                    break;
                }
            }
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.named(&path_from_bytes(&line), true);
        }
    }

    /// A path named explicitly: a file becomes a job, a directory is walked.
    /// `listed` paths (from a `-` list) get [`mirror_rel`] output paths.
    fn named(&mut self, path: &Path, listed: bool) {
        match fs::metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.error(path, "no such file or directory");
            }
            Err(e) => self.error(path, e.to_string()),
            Ok(meta) if meta.is_dir() => {
                let prefix = if listed {
                    mirror_rel(path)
                } else {
                    PathBuf::new()
                };
                self.walk(path, None, true, &mut |full, below| {
                    is_image_name(full).then(|| prefix.join(below))
                });
            }
            Ok(_) => {
                let rel = if listed {
                    mirror_rel(path)
                } else {
                    path.file_name().map(PathBuf::from).unwrap_or_default()
                };
                if rel.as_os_str().is_empty() {
                    self.error(path, "has no file name to write the output under");
                } else {
                    self.found.push(Job {
                        src: path.to_path_buf(),
                        rel,
                    });
                }
            }
        }
    }

    /// A glob pattern: walks its literal leading directory (no deeper than the
    /// pattern reaches unless it contains `**`) and keeps the regular files
    /// it matches.
    fn glob(&mut self, arg: &str) {
        // Normalised (`a/./b//c` → `a/b/c`) so that it matches walked paths.
        let components: Vec<Component> = Path::new(arg).components().collect();
        let normalised: PathBuf = components.iter().collect();
        let pattern = match glob::Pattern::new(&normalised.to_string_lossy()) {
            Ok(p) => p,
            Err(e) => {
                let reason = format!("bad glob pattern: {} (at character {})", e.msg, e.pos + 1);
                return self.error(arg, reason);
            }
        };
        let is_wild = |c: &Component| c.as_os_str().to_string_lossy().contains(['*', '?', '[']);
        let literal = components.iter().take_while(|c| !is_wild(c)).count();
        let prefix: PathBuf = components[..literal].iter().collect();
        let rest = &components[literal..];
        let recursive = rest.iter().any(|c| c.as_os_str() == "**");
        let mentions_hidden = rest
            .iter()
            .any(|c| c.as_os_str().as_encoded_bytes().starts_with(b"."));
        let root = if prefix.as_os_str().is_empty() {
            Path::new(".")
        } else {
            prefix.as_path()
        };
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let before = self.found.len();
        if fs::metadata(root).is_ok_and(|m| m.is_dir()) {
            let depth = (!recursive).then_some(rest.len());
            self.walk(root, depth, !mentions_hidden, &mut |_, below| {
                let candidate = prefix.join(below);
                pattern
                    .matches_path_with(&candidate, options)
                    .then(|| below.to_path_buf())
            });
        }
        if self.found.len() == before {
            self.error(arg, "no file matches this pattern");
        }
    }

    /// Walks `root`, following symbolic links, never entering the excluded
    /// directory nor (when `skip_hidden`) hidden entries below `root`. For
    /// each regular file, `keep(path, path below root)` gives its `rel`, or
    /// `None` to leave it out.
    fn walk(
        &mut self,
        root: &Path,
        max_depth: Option<usize>,
        skip_hidden: bool,
        keep: &mut dyn FnMut(&Path, &Path) -> Option<PathBuf>,
    ) {
        let mut walker = WalkDir::new(root).follow_links(true).sort_by_file_name();
        if let Some(depth) = max_depth {
            walker = walker.max_depth(depth);
        }
        let exclude = self.exclude.clone();
        let entries = walker.into_iter().filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            if skip_hidden && e.file_name().as_encoded_bytes().starts_with(b".") {
                return false;
            }
            if exclude.is_empty() || !e.file_type().is_dir() {
                return true;
            }
            fs::canonicalize(e.path()).map_or(true, |p| !exclude.contains(&p))
        });
        for entry in entries {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    let below = e.path().strip_prefix(root).unwrap_or(e.path());
                    if let Some(rel) = keep(e.path(), below) {
                        // Below `.`, show `a.png` as the shell would, not `./a.png`.
                        let src = if root == Path::new(".") {
                            below
                        } else {
                            e.path()
                        };
                        self.found.push(Job {
                            src: src.to_path_buf(),
                            rel,
                        });
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    let path = err.path().unwrap_or(root).to_path_buf();
                    if err.loop_ancestor().is_some() {
                        self.error(path, "symlink loop");
                    } else if is_broken_link(&path) {
                        // A dangling link is only worth a word if it looks
                        // like one of the images the walk was looking for.
                        if is_image_name(&path) {
                            self.error(path, "broken symbolic link");
                        }
                    } else {
                        let reason = err
                            .io_error()
                            .map_or_else(|| err.to_string(), io::Error::to_string);
                        self.error(path, reason);
                    }
                }
            }
        }
    }

    /// Sorts by `rel` then `src` and keeps the first job of each file.
    fn finish(self) -> Collected {
        let mut canonical = Canonical::default();
        let mut keyed: Vec<(PathBuf, Job)> = self
            .found
            .into_iter()
            .map(|job| {
                let key = canonical.file(&job.src).unwrap_or_else(|| job.src.clone());
                (key, job)
            })
            .collect();
        keyed.sort_by(|(_, a), (_, b)| a.rel.cmp(&b.rel).then_with(|| a.src.cmp(&b.src)));
        let mut seen = HashSet::with_capacity(keyed.len());
        let jobs = keyed
            .into_iter()
            .filter(|(key, _)| seen.insert(key.clone()))
            .map(|(_, job)| job)
            .collect();
        Collected {
            jobs,
            errors: self.errors,
        }
    }
}

/// Canonical paths for many files, resolving each directory once.
///
/// `fs::canonicalize` resolves every component of every path it is given
/// (a `readlink` each, and `getcwd` for relative paths); a batch has many
/// files per directory, and a shard checks the whole batch, so the
/// directories' real paths are kept.
#[derive(Default)]
struct Canonical {
    dirs: HashMap<PathBuf, Option<PathBuf>>,
}

impl Canonical {
    /// The real path of directory `dir` (`""` is `.`), `None` if it does not
    /// resolve.
    fn dir(&mut self, dir: &Path) -> Option<PathBuf> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Some(known) = self.dirs.get(dir) {
            return known.clone();
        }
        let real = fs::canonicalize(dir).ok();
        self.dirs.insert(dir.to_path_buf(), real.clone());
        real
    }

    /// What `fs::canonicalize(path)` gives, or `None` where it fails: the
    /// directory's real path and the name, unless the name is itself a
    /// symbolic link (or the path ends in `/` or `/.`, which would follow one).
    fn file(&mut self, path: &Path) -> Option<PathBuf> {
        let raw = path.as_os_str().as_encoded_bytes();
        let plain_end = !(raw.ends_with(b"/") || raw.ends_with(b"/."));
        match (path.file_name(), fs::symlink_metadata(path)) {
            (Some(name), Ok(meta)) if plain_end && !meta.file_type().is_symlink() => {
                Some(self.dir(path.parent().unwrap_or(Path::new("")))?.join(name))
            }
            _ => fs::canonicalize(path).ok(),
        }
    }

    /// The directory entry `path` names, with its directory canonicalized:
    /// what a rename onto `path` would replace. `None` if the directory does
    /// not exist (then nothing there can be replaced).
    fn entry(&mut self, path: &Path) -> Option<PathBuf> {
        let name = path.file_name()?;
        Some(self.dir(path.parent().unwrap_or(Path::new("")))?.join(name))
    }
}

/// The real path `path` has, or will have once created: the real path of its
/// nearest existing ancestor joined with the rest. `None` if no ancestor
/// resolves or the rest is not plain names (`..`).
fn future_identity(path: &Path) -> Option<PathBuf> {
    let mut rest = Vec::new();
    for ancestor in path.ancestors() {
        let dir = if ancestor.as_os_str().is_empty() {
            Path::new(".")
        } else {
            ancestor
        };
        if let Ok(real) = fs::canonicalize(dir) {
            let mut out = real;
            for part in rest.iter().rev() {
                match part {
                    Component::Normal(name) => out.push(name),
                    Component::CurDir => {}
                    _ => return None,
                }
            }
            return Some(out);
        }
        rest.extend(ancestor.components().next_back());
    }
    None
}

fn is_broken_link(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && fs::metadata(path).is_err()
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::symlink;

    /// A temporary tree; `file("a/b.png")` creates the file and its parents.
    struct Tree(tempfile::TempDir);

    impl Tree {
        fn new() -> Tree {
            Tree(tempfile::tempdir().unwrap())
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.0.path().join(rel)
        }

        fn file(&self, rel: &str) -> PathBuf {
            let p = self.path(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, b"x").unwrap();
            p
        }

        fn dir(&self, rel: &str) -> PathBuf {
            let p = self.path(rel);
            fs::create_dir_all(&p).unwrap();
            p
        }

        fn arg(&self, rel: &str) -> String {
            self.path(rel).to_str().unwrap().to_string()
        }
    }

    fn run(args: &[String]) -> Collected {
        collect(args, &mut io::empty(), &[])
    }

    fn rels(c: &Collected) -> Vec<String> {
        c.jobs
            .iter()
            .map(|j| j.rel.to_str().unwrap().to_string())
            .collect()
    }

    fn reasons(c: &Collected) -> Vec<String> {
        c.errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn directory_walk_keeps_images_skips_hidden_and_sorts() {
        let t = Tree::new();
        t.file("d/b.PNG");
        t.file("d/a.jpg");
        t.file("d/sub/deep/c.webp");
        t.file("d/notes.txt");
        t.file("d/.hidden.png");
        t.file("d/.git/x.png");
        t.file("d/sub/.stn-123.tmp");
        t.dir("d/empty");
        let c = run(&[t.arg("d")]);
        assert!(c.errors.is_empty(), "{:?}", reasons(&c));
        assert_eq!(rels(&c), ["a.jpg", "b.PNG", "sub/deep/c.webp"]);
        assert_eq!(c.jobs[2].src, t.path("d/sub/deep/c.webp"));
    }

    #[test]
    fn explicit_file_accepts_any_extension_and_uses_its_name() {
        let t = Tree::new();
        t.file("a/scan.raw");
        let c = run(&[t.arg("a/scan.raw")]);
        assert_eq!(rels(&c), ["scan.raw"]);
    }

    #[test]
    fn directory_named_like_an_image_is_walked() {
        let t = Tree::new();
        t.file("x.png/inner.png");
        let c = run(&[t.arg("x.png")]);
        assert_eq!(rels(&c), ["inner.png"]);
    }

    #[test]
    fn walking_the_current_directory_does_not_skip_dot() {
        let t = Tree::new();
        t.file("d/a.png");
        // "." and ".." name the root of the walk; they are not hidden entries.
        let c = run(&[format!("{}/.", t.arg("d"))]);
        assert_eq!(rels(&c), ["a.png"]);
        let c = run(&[format!("{}/sub/..", t.arg("d"))]);
        assert_eq!(c.errors.len(), 1, "d/sub does not exist");
        t.dir("d/sub");
        let c = run(&[format!("{}/sub/..", t.arg("d"))]);
        assert_eq!(rels(&c), ["a.png"]);
    }

    #[test]
    fn missing_input_is_reported_and_others_still_collected() {
        let t = Tree::new();
        t.file("a.png");
        let c = run(&[t.arg("nope.png"), t.arg("a.png")]);
        assert_eq!(rels(&c), ["a.png"]);
        assert_eq!(
            reasons(&c),
            [format!("{}: no such file or directory", t.arg("nope.png"))]
        );
    }

    #[test]
    #[cfg(unix)]
    fn symlink_loop_is_reported_and_walk_continues() {
        let t = Tree::new();
        t.file("d/a.png");
        t.file("d/sub/b.png");
        symlink(t.path("d"), t.path("d/sub/loop")).unwrap();
        let c = run(&[t.arg("d")]);
        assert_eq!(rels(&c), ["a.png", "sub/b.png"]);
        assert_eq!(c.errors.len(), 1);
        match &c.errors[0] {
            Error::Input { path, reason } => {
                assert_eq!(path, &t.path("d/sub/loop"));
                assert_eq!(reason, "symlink loop");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    #[cfg(unix)]
    fn symlinked_files_and_directories_are_followed() {
        let t = Tree::new();
        t.file("elsewhere/e.png");
        t.file("other/o.png");
        t.dir("d");
        symlink(t.path("elsewhere"), t.path("d/linked")).unwrap();
        symlink(t.path("other/o.png"), t.path("d/o-link.png")).unwrap();
        symlink(t.path("gone.png"), t.path("d/dangling.png")).unwrap();
        symlink(t.path("gone.txt"), t.path("d/dangling.txt")).unwrap();
        let c = run(&[t.arg("d")]);
        assert_eq!(rels(&c), ["linked/e.png", "o-link.png"]);
        assert_eq!(
            reasons(&c),
            [format!("{}: broken symbolic link", t.arg("d/dangling.png"))]
        );
    }

    #[test]
    fn duplicates_are_collected_once() {
        let t = Tree::new();
        t.file("d/a.png");
        let c = run(&[
            t.arg("d/a.png"),
            t.arg("d"),
            format!("{}/./a.png", t.arg("d")),
        ]);
        assert_eq!(c.jobs.len(), 1, "{:?}", c.jobs);
        assert_eq!(rels(&c), ["a.png"]);
        assert_eq!(c.jobs[0].src, t.path("d/a.png"));
    }

    #[test]
    fn exclude_is_never_entered() {
        let t = Tree::new();
        t.file("in/a.png");
        t.file("in/out/a.png");
        t.file("in/out/deeper/b.png");
        let args = [t.arg("in"), t.arg("in/**/*.png")];
        let c = collect(&args, &mut io::empty(), &[&t.path("in/out")]);
        assert_eq!(rels(&c), ["a.png"]);
        // A missing exclude directory excludes nothing.
        let c = collect(&args[..1], &mut io::empty(), &[&t.path("in/nope")]);
        assert_eq!(rels(&c), ["a.png", "out/a.png", "out/deeper/b.png"]);
    }

    #[test]
    fn recursive_glob_is_relative_to_its_literal_directory() {
        let t = Tree::new();
        t.file("dir/top.png");
        t.file("dir/a/x.png");
        t.file("dir/a/b/y.png");
        t.file("dir/a/b/y.jpg");
        t.file("dir/.hidden/z.png");
        let c = run(&[t.arg("dir/**/*.png")]);
        assert!(c.errors.is_empty(), "{:?}", reasons(&c));
        assert_eq!(rels(&c), ["a/b/y.png", "a/x.png", "top.png"]);
        assert_eq!(c.jobs[0].src, t.path("dir/a/b/y.png"));
    }

    #[test]
    fn shallow_glob_matches_files_only_at_its_depth() {
        let t = Tree::new();
        t.file("dir/a/x.png");
        t.file("dir/b/y.png");
        t.file("dir/b/deep/z.png");
        t.dir("dir/c.png");
        t.file("dir/.h.png");
        let c = run(&[t.arg("dir/*/*.png")]);
        assert_eq!(rels(&c), ["a/x.png", "b/y.png"]);
        let c = run(&[t.arg("dir/*.png")]);
        assert_eq!(
            reasons(&c),
            [format!(
                "{}: no file matches this pattern",
                t.arg("dir/*.png")
            )]
        );
        let c = run(&[t.arg("dir/.h.p?g")]);
        assert_eq!(rels(&c), [".h.png"], "a literal leading dot matches");
    }

    #[test]
    fn glob_errors_are_reported() {
        let t = Tree::new();
        let c = run(&[t.arg("missing/*.png")]);
        assert_eq!(
            reasons(&c),
            [format!(
                "{}: no file matches this pattern",
                t.arg("missing/*.png")
            )]
        );
        let c = run(&[t.arg("a[.png")]);
        assert_eq!(c.errors.len(), 1);
        assert!(
            reasons(&c)[0].contains("bad glob pattern"),
            "{:?}",
            reasons(&c)
        );
    }

    #[test]
    fn pattern_without_a_directory_searches_the_working_directory() {
        // `cargo test` runs in the package root.
        let c = run(&["Cargo.t?ml".to_string()]);
        assert_eq!(c.jobs, [job(Path::new("Cargo.toml"), "Cargo.toml")]);
    }

    #[test]
    fn existing_name_with_wildcard_characters_is_literal() {
        let t = Tree::new();
        t.file("d/photo[1].png");
        t.file("d/photo1.png");
        let c = run(&[t.arg("d/photo[1].png")]);
        assert_eq!(rels(&c), ["photo[1].png"]);
    }

    #[test]
    #[cfg(unix)]
    fn glob_through_a_symlink_loop_reports_it() {
        let t = Tree::new();
        t.file("d/a.png");
        symlink(t.path("d"), t.path("d/loop")).unwrap();
        let c = run(&[t.arg("d/**/*.png")]);
        assert_eq!(rels(&c), ["a.png"]);
        assert_eq!(reasons(&c), [format!("{}: symlink loop", t.arg("d/loop"))]);
    }

    #[test]
    fn stdin_list_mirrors_relative_paths() {
        // Listed relative paths resolve against the working directory (the
        // package root under `cargo test`), so the tree goes there.
        let dir = tempfile::Builder::new()
            .prefix(".stn-test-")
            .tempdir_in(".")
            .unwrap();
        let name = dir
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let root = Path::new(&name);
        for f in ["a/b.png", "c.png", "d/e.png", "d/f.txt"] {
            fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            fs::write(root.join(f), b"x").unwrap();
        }
        let abs = fs::canonicalize(root.join("c.png")).unwrap();
        let list = format!(
            "./{name}/a/b.png\r\n\n  \n{}\n{name}/d\n{name}/missing.png\n{name}/../{name}/c.png",
            abs.display()
        );
        let c = collect(&["-".to_string()], &mut list.as_bytes(), &[]);
        assert_eq!(
            rels(&c),
            [
                format!("{name}/a/b.png"),
                format!("{name}/d/e.png"),
                "c.png".into()
            ]
        );
        assert_eq!(c.jobs[0].src, Path::new(&format!("./{name}/a/b.png")));
        // `c.png` was listed twice (absolute, and with `..`): one job.
        assert_eq!(
            reasons(&c),
            [format!("{name}/missing.png: no such file or directory")]
        );
    }

    #[test]
    fn listed_paths_are_not_globbed() {
        let t = Tree::new();
        t.file("a.png");
        let list = t.arg("*.png");
        let c = collect(&["-".to_string()], &mut list.as_bytes(), &[]);
        assert!(c.jobs.is_empty());
        assert_eq!(c.errors.len(), 1);
    }

    #[test]
    fn mirror_rel_cases() {
        assert_eq!(mirror_rel(Path::new("a/b.png")), Path::new("a/b.png"));
        assert_eq!(mirror_rel(Path::new("./a/./b.png")), Path::new("a/b.png"));
        assert_eq!(mirror_rel(Path::new("../x/b.png")), Path::new("b.png"));
        assert_eq!(mirror_rel(Path::new("a/../b.png")), Path::new("b.png"));
        assert_eq!(mirror_rel(Path::new("/abs/b.png")), Path::new("b.png"));
        assert_eq!(mirror_rel(Path::new(".")), Path::new(""));
        assert_eq!(mirror_rel(Path::new("/")), Path::new(""));
    }

    #[test]
    fn stdin_read_error_is_reported() {
        struct Broken;
        impl io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("pipe broke"))
            }
        }
        let mut reader = io::BufReader::new(Broken);
        let c = collect(&["-".to_string()], &mut reader, &[]);
        assert!(c.jobs.is_empty());
        assert_eq!(reasons(&c), ["cannot read standard input: pipe broke"]);
    }

    #[test]
    #[cfg(unix)]
    fn unreadable_directory_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let t = Tree::new();
        t.file("d/a.png");
        t.file("d/locked/b.png");
        let locked = t.path("d/locked");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        if fs::read_dir(&locked).is_ok() {
            // Running as root: permissions are not enforced.
            fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
            return;
        }
        let c = run(&[t.arg("d")]);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(rels(&c), ["a.png"]);
        assert_eq!(c.errors.len(), 1);
        let msg = c.errors[0].to_string();
        assert!(msg.starts_with(&t.arg("d/locked")), "{msg}");
        assert!(msg.contains("ermission denied"), "{msg}");
    }

    #[test]
    #[cfg(unix)]
    fn canonical_paths_agree_with_fs_canonicalize() {
        let t = Tree::new();
        t.file("real/a.png");
        t.file("real/sub/b.png");
        symlink(t.path("real"), t.path("linkdir")).unwrap();
        symlink(t.path("real/a.png"), t.path("real/link.png")).unwrap();
        symlink(t.path("real/sub"), t.path("real/subl")).unwrap();
        symlink(t.path("nowhere.png"), t.path("real/dangling.png")).unwrap();
        let mut c = Canonical::default();
        for rel in [
            "real/a.png",
            "linkdir/a.png",
            "linkdir/sub/b.png",
            "real/link.png",
            "linkdir/link.png",
            "real/subl/b.png",
            "real/subl",
            "real/subl/",
            "real/subl/.",
            "real/sub/../a.png",
            "linkdir/subl/../a.png",
            "real/dangling.png",
            "real/missing.png",
            "missing/a.png",
            "real",
        ] {
            let p = t.path(rel);
            assert_eq!(c.file(&p), fs::canonicalize(&p).ok(), "{rel}");
            // Twice: the second answer comes from the cache.
            assert_eq!(c.file(&p), fs::canonicalize(&p).ok(), "{rel}");
        }
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            c.entry(Path::new("x.png")),
            Some(fs::canonicalize(&cwd).unwrap().join("x.png"))
        );
        assert_eq!(c.entry(&t.path("missing/x.png")), None);
        assert_eq!(
            c.entry(&t.path("linkdir/x.png")),
            Some(fs::canonicalize(t.path("real")).unwrap().join("x.png"))
        );
    }

    #[test]
    fn an_output_directory_made_during_the_walk_is_not_entered() {
        // A concurrent shard creates the output directory inside the input
        // tree after this run resolved its exclusions.
        let t = Tree::new();
        t.file("d/a.png");
        let out = t.path("d/out/deeper");
        let mut c = Collector {
            exclude: future_identity(&out).into_iter().collect(),
            found: Vec::new(),
            errors: Vec::new(),
        };
        assert_eq!(
            c.exclude,
            [fs::canonicalize(t.path("d")).unwrap().join("out/deeper")]
        );
        t.file("d/out/deeper/a.png");
        t.file("d/out/b.png");
        c.named(&t.path("d"), false);
        let rels: Vec<&Path> = c.found.iter().map(|j| j.rel.as_path()).collect();
        assert_eq!(rels, [Path::new("a.png"), Path::new("out/b.png")]);
        assert_eq!(future_identity(Path::new("no/such/../x")), None);
        assert_eq!(
            future_identity(Path::new("new")),
            Some(fs::canonicalize(".").unwrap().join("new"))
        );
    }

    #[test]
    fn image_names() {
        for yes in [
            "a.png", "b.JPG", "c.Jpeg", "d.tif", "e.TIFF", "f.pgm", "g.webp", "h.gif",
        ] {
            assert!(is_image_name(Path::new(yes)), "{yes}");
        }
        for no in ["a.txt", "png", ".png", "a.png.bak", "a", "a.jpg/"] {
            let expected = no == "a.jpg/";
            assert_eq!(is_image_name(Path::new(no)), expected, "{no}");
        }
    }

    fn job(src: &Path, rel: &str) -> Job {
        Job {
            src: src.to_path_buf(),
            rel: PathBuf::from(rel),
        }
    }

    #[test]
    fn same_file_name_from_two_directories_clashes() {
        let t = Tree::new();
        let a = t.file("a/x.png");
        let b = t.file("b/x.png");
        let c = run(&[t.arg("a/x.png"), t.arg("b/x.png")]);
        assert_eq!(c.jobs.len(), 2);
        let err = plan_outputs(&c.jobs, &t.path("out"), None).unwrap_err();
        match err {
            Error::OutputClash {
                output,
                first,
                second,
            } => {
                assert_eq!(output, t.path("out/x.png"));
                assert_eq!((first, second), (a, b));
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn extension_replacement_can_clash() {
        let t = Tree::new();
        let a = t.file("x.png");
        let b = t.file("x.jpg");
        let jobs = [job(&a, "x.png"), job(&b, "x.jpg")];
        let out = t.path("out");
        let plan = plan_outputs(&jobs, &out, None).unwrap();
        assert_eq!(plan, [out.join("x.png"), out.join("x.jpg")]);
        let e = plan_outputs(&jobs, &out, Some("png")).unwrap_err();
        assert!(matches!(e, Error::OutputClash { .. }), "{e:?}");
        let plan = plan_outputs(
            &[job(&a, "sub/x.png"), job(&a, "noext")],
            &out,
            Some("webp"),
        );
        assert_eq!(
            plan.unwrap(),
            [out.join("sub/x.webp"), out.join("noext.webp")]
        );
    }

    #[test]
    fn clash_compares_paths_case_sensitively() {
        let t = Tree::new();
        let a = t.file("A.png");
        let b = t.file("a.png");
        let jobs = [job(&a, "A.png"), job(&b, "a.png")];
        assert_eq!(plan_outputs(&jobs, &t.path("out"), None).unwrap().len(), 2);
    }

    #[test]
    fn output_over_an_input_is_refused() {
        let t = Tree::new();
        let a = t.file("d/a.png");
        let b = t.file("d/b.png");
        // Writing into the input directory itself: a.png → d/a.png.
        let e =
            plan_outputs(&[job(&b, "x.png"), job(&a, "a.png")], &t.path("d"), None).unwrap_err();
        match e {
            Error::Input { path, reason } => {
                assert_eq!(path, a);
                assert_eq!(reason, "output would overwrite this input");
            }
            e => panic!("{e:?}"),
        }
        // Through another spelling of the directory.
        let other = t.path("d/../d");
        let e = plan_outputs(&[job(&a, "b.png"), job(&b, "c.png")], &other, None).unwrap_err();
        assert!(e.to_string().contains("overwrite this input"), "{e}");
        // An output directory that does not exist yet cannot hold inputs.
        assert!(plan_outputs(&[job(&a, "a.png")], &t.path("new/dir"), None).is_ok());
    }

    #[test]
    #[cfg(unix)]
    fn output_replacing_a_symlink_to_an_input_is_allowed() {
        // The rename replaces the link, not the file it points to.
        let t = Tree::new();
        let a = t.file("in/a.png");
        t.dir("out");
        symlink(&a, t.path("out/a.png")).unwrap();
        assert!(plan_outputs(&[job(&a, "a.png")], &t.path("out"), None).is_ok());
        // But an input named through that link is the link itself.
        let via_link = t.path("out/a.png");
        let e = plan_outputs(&[job(&via_link, "a.png")], &t.path("out"), None).unwrap_err();
        assert!(e.to_string().contains("overwrite this input"), "{e}");
    }
}
