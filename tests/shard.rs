//! Issue 13: `--shard I/N` splits a batch into N independent runs that
//! together do exactly what one run does. Shards run here as concurrent
//! processes of the real binary, as a scheduler would start them; the
//! examples/ recipes are checked to parse.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use image::{DynamicImage, ImageBuffer, Luma};

use crate::util::{self, Env};

/// A 28×28 grey image different for each `n`.
fn pattern(n: u32) -> DynamicImage {
    DynamicImage::ImageLuma8(ImageBuffer::from_fn(28, 28, |x, y| {
        let d = (x as i32 - 14 + (n % 7) as i32).pow(2) + (y as i32 - 14).pow(2);
        Luma([if d < 40 + (n % 50) as i32 {
            255
        } else {
            ((x * 3 + y * 5 + n * 11) % 40) as u8
        }])
    }))
}

/// Writes images `from..to` into `env/dir`, spread over a few nested folders
/// with names as scanners and cameras make them.
fn images(env: &Env, dir: &str, from: u32, to: u32) -> Vec<String> {
    let mut rels = Vec::new();
    for n in from..to {
        let rel = match n % 4 {
            0 => format!("img_{n:05}.png"),
            1 => format!("2024/scan-{n}.png"),
            2 => format!("2024/batch {}/p{n:03}.png", n % 3),
            _ => format!("deep/a/b/IMG{n}.PNG"),
        };
        let path = env.path(dir).join(&rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        util::save_png(&pattern(n), &path);
        rels.push(rel);
    }
    rels
}

/// Every file under `dir` with its bytes, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Starts one `stn` per argument list at once, in `env`'s directory, and
/// waits for all of them: the shards of a job running side by side.
fn run_concurrently(env: &Env, runs: &[Vec<String>]) -> Vec<Output> {
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            Command::new(env!("CARGO_BIN_EXE_stn"))
                .args(args)
                .current_dir(env.dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn stn")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (args, out) in runs.iter().zip(&outputs) {
        assert!(out.status.success(), "stn {args:?}: {}", stderr(out));
    }
    outputs
}

/// The argument lists of shards 0/n … (n-1)/n of `args`; `{i}` in an
/// argument becomes the shard's index.
fn shard_runs(args: &[&str], n: u64) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| {
            let mut v: Vec<String> = args
                .iter()
                .map(|a| a.replace("{i}", &i.to_string()))
                .collect();
            v.push(format!("--shard={i}/{n}"));
            v
        })
        .collect()
}

#[cfg(feature = "onnx")]
fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// The `"output"` of each theta line.
#[cfg(feature = "onnx")]
fn outputs_of(text: &str) -> BTreeSet<String> {
    util::json_lines::<serde_json::Value>(text)
        .iter()
        .map(|v| v["output"].as_str().unwrap().to_string())
        .collect()
}

#[cfg(feature = "onnx")]
#[test]
fn issue13_rectify_predict_and_apply_shards_together_equal_one_run() {
    let env = Env::new();
    let rels = images(&env, "in", 0, 48);

    // rectify: one run, then three shards at once into one directory.
    env.assert_ok(&[
        "rectify",
        "in",
        "-o",
        "full",
        "--thetas",
        "full.jsonl",
        "-q",
    ]);
    let outs = run_concurrently(
        &env,
        &shard_runs(
            &[
                "-j",
                "1",
                "rectify",
                "in",
                "-o",
                "sharded",
                "--thetas",
                "t{i}.jsonl",
            ],
            3,
        ),
    );
    let full = tree(&env.path("full"));
    assert_eq!(full.len(), rels.len());
    assert_eq!(tree(&env.path("sharded")), full, "same files, same bytes");
    let full_lines = fs::read_to_string(env.path("full.jsonl")).unwrap();
    let mut merged = String::new();
    let mut seen = BTreeSet::new();
    for (i, out) in outs.iter().enumerate() {
        let text = fs::read_to_string(env.path(&format!("t{i}.jsonl"))).unwrap();
        let mine = outputs_of(&text);
        assert!(seen.is_disjoint(&mine), "shard {i} repeats another's files");
        seen.extend(mine.iter().cloned());
        // Each output is where the documented hash of its relative path puts it.
        for rel in &mine {
            assert_eq!(stn::shard::shard_of(Path::new(rel), 3), i as u64, "{rel}");
        }
        let err = stderr(out);
        let summary = format!(
            "stn: shard {i}/3: {} written, 0 skipped, 0 failed",
            mine.len()
        );
        assert!(err.contains(&summary), "{err:?} lacks {summary:?}");
        merged.push_str(&text);
    }
    assert_eq!(sorted_lines(&merged), sorted_lines(&full_lines));

    // predict: the shards' lines are the one run's lines.
    let one = env.assert_ok(&["predict", "in", "-q"]);
    let outs = run_concurrently(&env, &shard_runs(&["-j", "1", "predict", "in", "-q"], 3));
    let parts: String = outs
        .iter()
        .map(|o| String::from_utf8(o.stdout.clone()).unwrap())
        .collect();
    assert_eq!(
        sorted_lines(&parts),
        sorted_lines(&String::from_utf8(one.stdout).unwrap())
    );

    // warp --thetas: the merged file applied by shards, each reading all of it.
    fs::write(env.path("merged.jsonl"), &merged).unwrap();
    env.assert_ok(&["warp", "--thetas", "merged.jsonl", "-o", "applied_full"]);
    run_concurrently(
        &env,
        &shard_runs(&["warp", "--thetas", "merged.jsonl", "-o", "applied"], 3),
    );
    assert_eq!(tree(&env.path("applied")), tree(&env.path("applied_full")));
    assert_eq!(tree(&env.path("applied")), full);
}

#[cfg(feature = "onnx")]
#[test]
fn issue13_skip_existing_resumes_one_shard_and_others_are_not_refused() {
    let env = Env::new();
    images(&env, "in", 0, 30);
    env.assert_ok(&["rectify", "in", "-o", "full", "-q"]);
    env.assert_ok(&["rectify", "in", "-o", "out", "--shard", "0/2", "-q"]);
    // Shard 1 starts while shard 0's outputs are there: they are not its own,
    // so the default policy (refuse existing outputs) does not stop it.
    env.assert_ok(&["rectify", "in", "-o", "out", "--shard", "1/2", "-q"]);
    let done = tree(&env.path("out"));
    assert_eq!(done, tree(&env.path("full")));
    // Shard 0 "crashed" after some of its outputs: resume it.
    let mine: Vec<&String> = done
        .keys()
        .filter(|rel| stn::shard::shard_of(Path::new(rel), 2) == 0)
        .collect();
    assert!(mine.len() >= 5, "{mine:?}");
    for rel in &mine[..3] {
        fs::remove_file(env.path("out").join(rel)).unwrap();
    }
    // Without --skip-existing its own remaining outputs are refused.
    let out = env.run(&["rectify", "in", "-o", "out", "--shard", "0/2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("and {} more", mine.len() - 4)),
        "{}",
        stderr(&out)
    );
    let out = env.run(&[
        "rectify",
        "in",
        "-o",
        "out",
        "--shard",
        "0/2",
        "--skip-existing",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = format!(
        "stn: shard 0/2: 3 written, {} skipped, 0 failed",
        mine.len() - 3
    );
    assert!(stderr(&out).contains(&summary), "{}", stderr(&out));
    assert_eq!(tree(&env.path("out")), tree(&env.path("full")));
}

#[cfg(feature = "onnx")]
#[test]
fn issue13_assignment_is_stable_when_files_are_added_or_the_root_moves() {
    let env = Env::new();
    images(&env, "in", 0, 60);
    let shard_lines = |args: &[&str]| -> BTreeMap<String, u64> {
        let mut map = BTreeMap::new();
        let outs = run_concurrently(&env, &shard_runs(args, 3));
        for (i, o) in outs.iter().enumerate() {
            for rel in outputs_of(&String::from_utf8(o.stdout.clone()).unwrap()) {
                assert!(map.insert(rel, i as u64).is_none());
            }
        }
        map
    };
    let before = shard_lines(&["predict", "in", "-q"]);
    assert_eq!(before.len(), 60);
    images(&env, "in", 60, 100);
    fs::remove_file(env.path("in/img_00000.png")).unwrap();
    // The same tree reached through an absolute path and -j 2.
    let abs = env.path("in").to_string_lossy().into_owned();
    let after = shard_lines(&["-j", "2", "predict", &abs, "-q"]);
    assert_eq!(after.len(), 99);
    for (rel, shard) in &before {
        if rel != "img_00000.png" {
            assert_eq!(after.get(rel), Some(shard), "{rel} moved");
        }
    }
}

#[cfg(feature = "onnx")]
#[test]
fn issue13_shards_writing_inside_their_input_tree_do_not_read_each_others_outputs() {
    // `rectify in -o in/out`: the output directory is excluded from the walk
    // even when another shard creates it while this one is listing.
    let env = Env::new();
    images(&env, "in", 0, 40);
    images(&env, "ref", 0, 40);
    env.assert_ok(&["rectify", "ref", "-o", "ref/out", "-q"]);
    run_concurrently(
        &env,
        &shard_runs(&["rectify", "in", "-o", "in/out", "-q"], 4),
    );
    assert_eq!(tree(&env.path("in/out")), tree(&env.path("ref/out")));
}

/// Writes `n` tiny images under `env/src` and a thetas file listing them
/// with the identity theta; returns the file's name.
fn identity_thetas(env: &Env, n: u32) -> &'static str {
    let rels = images(env, "src", 0, n);
    let text: String = rels
        .iter()
        .map(|rel| {
            let path = format!("src/{rel}");
            format!("{{\"path\":{path:?},\"theta\":[1,0,0,0,1,0],\"output\":{rel:?}}}\n")
        })
        .collect();
    fs::write(env.path("id.jsonl"), text).unwrap();
    "id.jsonl"
}

#[test]
fn issue13_shards_are_disjoint_complete_and_balanced() {
    let env = Env::new();
    let thetas = identity_thetas(&env, 300);
    for n in [2u64, 3, 5] {
        let dir = format!("out{n}_{{i}}");
        run_concurrently(
            &env,
            &shard_runs(&["warp", "--thetas", thetas, "-o", &dir], n),
        );
        let mut all = BTreeSet::new();
        let mut sizes = Vec::new();
        for i in 0..n {
            let files = tree(&env.path(&format!("out{n}_{i}")));
            sizes.push(files.len());
            for rel in files.into_keys() {
                assert!(all.insert(rel), "in two shards of {n}");
            }
        }
        assert_eq!(all.len(), 300, "every line in one shard of {n}");
        let fair = 300.0 / n as f64;
        for &s in &sizes {
            let share = s as f64 / fair;
            assert!((0.6..=1.4).contains(&share), "{n} shards: {sizes:?}");
        }
    }
}

#[test]
fn issue13_collision_checks_see_the_whole_input_set() {
    let env = Env::new();
    images(&env, "src", 0, 12);
    // Two lines writing one output: every shard refuses, including the ones
    // that own neither line.
    let clash = "{\"path\":\"src/img_00000.png\",\"theta\":[1,0,0,0,1,0],\"output\":\"x.png\"}\n\
                 {\"path\":\"src/img_00004.png\",\"theta\":[1,0,0,0,1,0],\"output\":\"x.png\"}\n";
    fs::write(env.path("clash.jsonl"), clash).unwrap();
    // An output that is another line's input: refused by every shard,
    // whichever owns the line.
    let over = "{\"path\":\"src/img_00000.png\",\"theta\":[1,0,0,0,1,0],\"output\":\"img_00004.png\"}\n\
                {\"path\":\"src/img_00004.png\",\"theta\":[1,0,0,0,1,0],\"output\":\"other.png\"}\n";
    fs::write(env.path("over.jsonl"), over).unwrap();
    for i in 0..4 {
        let shard = format!("{i}/4");
        env.assert_fails_with(
            &[
                "warp",
                "--thetas",
                "clash.jsonl",
                "-o",
                "out",
                "--shard",
                &shard,
            ],
            2,
            "both be written",
        );
        env.assert_fails_with(
            &[
                "warp",
                "--thetas",
                "over.jsonl",
                "-o",
                "src",
                "--shard",
                &shard,
            ],
            2,
            "overwrite this input",
        );
    }
    assert!(!env.path("out").exists());
}

#[test]
fn issue13_bad_shard_values_exit_2_with_a_clear_message() {
    let env = Env::new();
    let thetas = identity_thetas(&env, 3);
    let commands: [&[&str]; 3] = [
        &["rectify", "src", "-o", "out"],
        &["predict", "src"],
        &["warp", "--thetas", thetas, "-o", "out"],
    ];
    for args in commands {
        for (value, needle) in [
            ("3/3", "--shard 3/3: I must be below N"),
            ("0/0", "--shard 0/0: N must be at least 1"),
            ("a/b", "expected I/N"),
            ("-1/2", "\"-1\" is not a whole number"),
            ("/4", "unset variable"),
            ("2", "expected I/N"),
        ] {
            let mut v = args.to_vec();
            v.extend(["--shard", value]);
            let out = env.run(&v);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{v:?}: {err}");
            assert!(err.contains(needle), "{v:?}: {err:?} lacks {needle:?}");
            assert!(out.stdout.is_empty());
        }
    }
    // Only a batch is sharded.
    util::save_png(&pattern(0), &env.path("a.png"));
    env.assert_fails_with(
        &[
            "warp",
            "--theta=1,0,0,0,1,0",
            "--shard",
            "0/2",
            "a.png",
            "-o",
            "b.png",
        ],
        2,
        "--shard applies to a batch",
    );
    assert!(!env.path("b.png").exists());
    assert!(!env.path("out").exists());
}

fn example(name: &str) -> PathBuf {
    util::repo().join("examples").join(name)
}

#[test]
fn issue13_slurm_script_is_valid_bash_with_matching_shard_count() {
    let script = example("slurm-array.sh");
    let status = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .expect("bash");
    assert!(status.success(), "bash -n {}", script.display());
    let text = fs::read_to_string(&script).unwrap();
    let number_after = |prefix: &str| -> u64 {
        let at = text.find(prefix).unwrap_or_else(|| panic!("no {prefix:?}")) + prefix.len();
        let digits: String = text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap()
    };
    // --array=0-(N-1) and the script's N agree.
    assert_eq!(
        number_after("#SBATCH --array=0-") + 1,
        number_after("SHARDS=${SHARDS:-")
    );
    assert!(text.contains("--shard \"$I/$N\""), "{text}");
    assert!(text.contains("I=$SLURM_ARRAY_TASK_ID\n"), "{text}");
}

#[cfg(feature = "onnx")]
#[test]
fn issue13_slurm_script_runs_as_three_array_tasks() {
    // The script as Slurm would run it: one process per array task, each
    // with its SLURM_ARRAY_* variables; stn, the input, the output and N
    // come from the environment.
    let env = Env::new();
    images(&env, "in", 0, 24);
    env.assert_ok(&[
        "rectify",
        "in",
        "-o",
        "full",
        "--thetas",
        "full.jsonl",
        "-q",
    ]);
    let bin = Path::new(env!("CARGO_BIN_EXE_stn"));
    let children: Vec<_> = (0..3)
        .map(|i| {
            Command::new("bash")
                .arg(example("slurm-array.sh"))
                .current_dir(env.dir.path())
                .env("STN", bin)
                .env("INPUT", "in")
                .env("OUTPUT", "out")
                .env("SHARDS", "3")
                .env("SLURM_ARRAY_TASK_ID", i.to_string())
                // As Slurm sets them when each task is resubmitted alone.
                .env("SLURM_ARRAY_TASK_MIN", i.to_string())
                .env("SLURM_ARRAY_TASK_COUNT", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(tree(&env.path("out")), tree(&env.path("full")));
    let mut merged = String::new();
    for i in 0..3 {
        merged.push_str(&fs::read_to_string(env.path(&format!("thetas.{i}.jsonl"))).unwrap());
    }
    let full = fs::read_to_string(env.path("full.jsonl")).unwrap();
    assert_eq!(sorted_lines(&merged), sorted_lines(&full));
}

#[test]
fn issue13_kubernetes_manifest_is_an_indexed_job_that_shards_by_its_index() {
    use yaml_rust2::{Yaml, YamlLoader};
    let text = fs::read_to_string(example("k8s-indexed-job.yaml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("valid YAML");
    let job = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("Job"))
        .expect("a Job document");
    assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_i64().expect("completions: N");
    let parallelism = spec["parallelism"].as_i64().expect("parallelism");
    assert!(parallelism >= 1 && parallelism <= completions);
    let containers = spec["template"]["spec"]["containers"]
        .as_vec()
        .expect("containers");
    let c = &containers[0];
    assert!(c["image"].as_str().is_some_and(|s| !s.is_empty()));
    let command: Vec<&str> = c["command"]
        .as_vec()
        .expect("command")
        .iter()
        .map(|y| y.as_str().expect("strings"))
        .collect();
    let joined = command.join(" ");
    let shard = format!("--shard \"$JOB_COMPLETION_INDEX/{completions}\"");
    assert!(joined.contains(&shard), "{joined:?} lacks {shard:?}");
    assert!(
        joined.starts_with("sh -c stn ") && joined.contains(" rectify "),
        "{joined}"
    );
    assert_eq!(
        spec["template"]["spec"]["restartPolicy"],
        Yaml::String("Never".into())
    );
}

#[test]
fn issue13_readme_shows_the_example_files_as_they_are() {
    let readme = fs::read_to_string(util::repo().join("README.md")).unwrap();
    for (name, fence) in [
        ("slurm-array.sh", "```bash\n"),
        ("k8s-indexed-job.yaml", "```yaml\n"),
    ] {
        let text = fs::read_to_string(example(name)).unwrap();
        let shown = format!("{fence}{text}```\n");
        assert!(
            readme.contains(&shown),
            "README.md does not show examples/{name} as it is"
        );
    }
}
