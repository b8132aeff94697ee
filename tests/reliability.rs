//! Issue 6: bad inputs, interruptions and hostile files never lose data or
//! crash stn. The corpus is `tests/fixtures/bad/` (written by its `make.py`);
//! symlink loops, directories named like images and unwritable places are
//! made at run time.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{self, Env};

fn bad(name: &str) -> String {
    util::repo()
        .join("tests/fixtures/bad")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Copies `n` sample digits into `env/dir/`.
fn samples_into(env: &Env, dir: &str, n: usize) {
    fs::create_dir_all(env.path(dir)).unwrap();
    let src = util::repo().join("models/samples/mnist");
    let mut names: Vec<_> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for i in 0..n {
        let name = &names[i % names.len()];
        let dst = if i < names.len() {
            env.path(dir).join(name)
        } else {
            env.path(dir)
                .join(format!("copy{i:04}_{}", name.to_string_lossy()))
        };
        fs::copy(src.join(name), dst).unwrap();
    }
}

/// Every file under `dir`, relative, sorted (hidden ones included).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn issue6_corpus_fails_file_by_file() {
    let env = Env::new();
    samples_into(&env, "in", 20);
    for name in [
        "empty.png",
        "text.png",
        "truncated.png",
        "truncated.jpg",
        "bomb.png",
    ] {
        fs::copy(bad(name), env.path("in").join(name)).unwrap();
    }
    fs::create_dir_all(env.path("in/x.png")).unwrap(); // a directory named like an image
    fs::copy(
        util::repo().join("models/samples/mnist/d1_195.png"),
        env.path("in/x.png/inner.png"),
    )
    .unwrap();
    std::os::unix::fs::symlink("..", env.path("in/x.png/loop")).unwrap(); // a symlink loop
    let out = env.run(&["rectify", "in", "-o", "out", "-q"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for (name, cause) in [
        ("empty.png", "not a readable image"),
        ("text.png", "not a readable image"),
        ("truncated.png", "not a readable image"),
        ("truncated.jpg", "not a readable image"),
        ("bomb.png", "over the limit"),
        ("loop", "loop"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name}: {err}"));
        assert!(line.contains(cause), "{name}: {line}");
    }
    assert!(!err.contains("panicked"), "{err}");
    let mut want: Vec<String> = fs::read_dir(util::repo().join("models/samples/mnist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    want.push("x.png/inner.png".into());
    want.sort();
    assert_eq!(
        tree(&env.path("out")),
        want,
        "the good files, nothing partial, no temporaries"
    );
}

#[test]
fn issue6_max_pixels_is_a_limit_the_user_can_move() {
    let env = Env::new();
    samples_into(&env, "in", 1);
    let one = "in/d0_058.png";
    env.assert_fails_with(
        &[
            "warp",
            "--theta=1,0,0,0,1,0",
            "--max-pixels",
            "1000",
            one,
            "-o",
            "a.png",
        ],
        2,
        "over the limit of 1000",
    );
    env.assert_ok(&[
        "warp",
        "--theta=1,0,0,0,1,0",
        "--max-pixels",
        "1764",
        one,
        "-o",
        "a.png",
    ]);
    // The requested output size counts too.
    env.assert_fails_with(
        &[
            "warp",
            "--theta=1,0,0,0,1,0",
            "--size",
            "100000x100000",
            one,
            "-o",
            "b.png",
        ],
        2,
        "over the limit",
    );
    assert!(!env.path("b.png").exists());
}

#[test]
fn issue6_unreadable_and_missing_paths() {
    let env = Env::new();
    samples_into(&env, "in", 3);
    fs::write(env.path("plain"), b"x").unwrap();
    // A path through a regular file cannot be read (ENOTDIR), even as root.
    let out = env.run(&[
        "rectify",
        "in",
        "plain/x.png",
        "missing.png",
        "-o",
        "out",
        "-q",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("plain/x.png") && err.contains("missing.png"),
        "{err}"
    );
    assert_eq!(tree(&env.path("out")).len(), 3);
}

#[test]
fn issue6_devices_and_fifos_are_not_read_forever() {
    let env = Env::new();
    for dev in ["/dev/zero", "/dev/null"] {
        env.assert_fails_with(&["warp", "--theta=1,0,0,0,1,0", dev, "-o", "a.png"], 2, dev);
    }
    assert!(!env.path("a.png").exists());
}

#[test]
fn issue6_unwritable_and_missing_output_directories() {
    let env = Env::new();
    samples_into(&env, "in", 2);
    // /proc refuses new directories, even to root: a stand-in for a read-only place.
    env.assert_fails_with(
        &["rectify", "in", "-o", "/proc/stn-test-out", "-q"],
        2,
        "/proc/stn-test-out",
    );
    env.assert_fails_with(
        &[
            "warp",
            "--theta=1,0,0,0,1,0",
            "in/d0_058.png",
            "-o",
            "/proc/x.png",
        ],
        2,
        "/proc/x.png",
    );
    // A missing output directory is created, nested.
    env.assert_ok(&["rectify", "in", "-o", "new/deeper/out", "-q"]);
    assert_eq!(tree(&env.path("new/deeper/out")).len(), 2);
}

#[test]
fn issue6_bad_models_exit_2_and_write_nothing() {
    let env = Env::new();
    samples_into(&env, "in", 2);
    fs::write(env.path("notonnx.onnx"), b"\x08\x07garbage").unwrap();
    for (model, needle) in [
        ("notonnx.onnx".to_string(), "notonnx.onnx"),
        (bad("wrong_shape.onnx"), "[N,2,3]/[N,6] affine"),
        (bad("two_outputs.onnx"), "exactly one output"),
        ("nonexistent.onnx".to_string(), "cannot read"),
    ] {
        env.assert_fails_with(
            &["rectify", "in", "-o", "out", "--model", &model],
            2,
            needle,
        );
        assert!(!env.path("out").exists(), "{model}");
    }
}

#[test]
fn issue6_malformed_theta_lines_are_skipped_with_their_line_number() {
    let env = Env::new();
    samples_into(&env, "in", 3);
    let text = concat!(
        "{\"path\": \"in/d0_058.png\", \"theta\": [1,0,0,0,1,0]}\n",
        "{\"path\": \"in/d0_128.png\", \"theta\": [1,0,0,0,1]}\n",
        "not json at all\n",
        "{\"path\": \"in/d1_195.png\", \"theta\": [1,0,0,0,1,0], \"size\": [0, 5]}\n",
        "{\"theta\": [1,0,0,0,1,0]}\n",
        "{\"path\": \"in/d1_195.png\", \"theta\": [0.5,0,0,0,0.5,0], \"output\": \"../escape.png\"}\n",
        "{\"path\": \"in/d1_195.png\", \"theta\": [0.5,0,0,0,0.5,0]}\n",
    );
    fs::write(env.path("t.jsonl"), text).unwrap();
    let out = env.run(&["warp", "--thetas", "t.jsonl", "-o", "out"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for line in 2..=6 {
        assert!(
            err.contains(&format!("t.jsonl:{line}:")),
            "line {line}: {err}"
        );
    }
    assert_eq!(tree(&env.path("out")), ["in/d0_058.png", "in/d1_195.png"]);
    assert!(!env.path("escape.png").exists());
}

/// Starts `stn rectify` on a large batch and returns the child.
fn start_big_batch(env: &Env, out: &str, extra: &[&str]) -> std::process::Child {
    let mut args = vec![
        "rectify", "in", "-o", out, "--size", "640x640", "--batch", "8", "-q",
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_stn"))
        .args(&args)
        .current_dir(env.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `dir` holds at least `n` files (or the timeout passes).
fn wait_for_outputs(dir: &Path, n: usize) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if dir.is_dir() && fs::read_dir(dir).unwrap().count() >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no outputs appeared in {}", dir.display());
}

fn kill(child: &std::process::Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn issue6_interrupted_runs_leave_only_whole_files_and_resume_identically() {
    let env = Env::new();
    samples_into(&env, "in", 240);
    env.assert_ok(&[
        "rectify",
        "in",
        "-o",
        "reference",
        "--size",
        "640x640",
        "-q",
    ]);
    let reference = tree(&env.path("reference"));
    assert_eq!(reference.len(), 240);

    for (signal, out) in [("-INT", "after_int"), ("-KILL", "after_kill")] {
        let child = start_big_batch(&env, out, &[]);
        wait_for_outputs(&env.path(out), 3);
        kill(&child, signal);
        let status = child.wait_with_output().unwrap();
        let files = tree(&env.path(out));
        let visible: Vec<&String> = files.iter().filter(|f| !f.starts_with('.')).collect();
        if signal == "-INT" {
            assert_eq!(status.status.code(), Some(130), "{}", stderr(&status));
            assert_eq!(
                visible.len(),
                files.len(),
                "no temporary file after SIGINT: {files:?}"
            );
        }
        assert!(visible.len() < 240, "{signal}: the run was not interrupted");
        for f in &visible {
            let got = fs::read(env.path(out).join(f)).unwrap();
            let want = fs::read(env.path("reference").join(f)).unwrap();
            assert!(
                got == want,
                "{signal}: {f} differs from the uninterrupted run"
            );
        }
        env.assert_ok(&[
            "rectify",
            "in",
            "-o",
            out,
            "--size",
            "640x640",
            "--skip-existing",
            "-q",
        ]);
        let after: Vec<String> = tree(&env.path(out))
            .into_iter()
            .filter(|f| !f.starts_with('.'))
            .collect();
        assert_eq!(after, reference, "{signal}: resumed run is complete");
        for f in &after {
            assert!(
                fs::read(env.path(out).join(f)).unwrap()
                    == fs::read(env.path("reference").join(f)).unwrap(),
                "{signal}: {f}"
            );
        }
    }
}

#[test]
fn issue6_outputs_do_not_depend_on_threads_or_runs() {
    let env = Env::new();
    samples_into(&env, "in", 20);
    env.assert_ok(&[
        "-j",
        "1",
        "rectify",
        "in",
        "-o",
        "one",
        "--thetas",
        "one.jsonl",
        "-q",
    ]);
    env.assert_ok(&[
        "-j",
        "2",
        "rectify",
        "in",
        "-o",
        "two",
        "--thetas",
        "two.jsonl",
        "--batch",
        "3",
        "-q",
    ]);
    env.assert_ok(&["-j", "2", "rectify", "in", "-o", "again", "-q"]);
    assert_eq!(
        fs::read(env.path("one.jsonl")).unwrap(),
        fs::read(env.path("two.jsonl")).unwrap()
    );
    for f in tree(&env.path("one")) {
        let a = fs::read(env.path("one").join(&f)).unwrap();
        assert!(
            a == fs::read(env.path("two").join(&f)).unwrap(),
            "{f} -j1 vs -j2"
        );
        assert!(
            a == fs::read(env.path("again").join(&f)).unwrap(),
            "{f} run to run"
        );
    }
}
