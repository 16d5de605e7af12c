//! `edgebench study`, `report` and `compare` end to end: a study killed with SIGKILL in the
//! middle and resumed loses nothing and ignores a torn last line; config errors are one line
//! naming the file, line and key, exit 2, before anything runs; a hung variant is killed at its
//! time limit and recorded; compare flags a regression with exit 1; a second process on a
//! study folder is refused with one line naming the holder and changes nothing.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("edgebench")
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn measurements(path: &Path) -> Vec<Value> {
    lines(path)
        .into_iter()
        .filter(|v| v["type"] == "measurement")
        .collect()
}

const TINY: &str = r#"
name = "tiny"
baseline = "tract:reference"
variants = ["tract:optimized"]
[measure]
warmup_s = 0.05
min_warmup_runs = 1
min_samples = 3
max_time_s = 0.2
timeout_s = 120
gate_inputs = 1
rounds = 2
[[model]]
source = "zoo:mobilenet_v3_small?classes=2"
[[model]]
source = "zoo:squeezenet1_1?classes=2"
label = "<script>alert(1)</script>"
"#;

#[test]
fn killed_study_resumes_without_losing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let results = out.join("results.jsonl");
    let mut child = std::process::Command::new(bin())
        .args(["study", "--quick", "--quiet", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a few measurements are in, in the middle of the next one.
    let start = Instant::now();
    while measurements(&results).len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the study made no progress"
        );
        if let Some(s) = child.try_wait().unwrap() {
            panic!("the study ended before it could be killed: {s}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = measurements(&results);
    assert!(before.len() >= 3);

    // A write cut short by the kill: half a line without its newline.
    let torn = serde_json::to_string(&before[0]).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&results)
        .unwrap();
    std::io::Write::write_all(&mut f, &torn.as_bytes()[..torn.len() / 2]).unwrap();
    drop(f);

    // Without --resume the folder is refused, and nothing is touched.
    let len = std::fs::metadata(&results).unwrap().len();
    let a = Command::new(bin())
        .args(["study", "--quick", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("--resume"), "{err}");
    assert_eq!(std::fs::metadata(&results).unwrap().len(), len);

    let a = Command::new(bin())
        .args(["study", "--quick", "--quiet", "--resume", "--out"])
        .arg(&out)
        .timeout(Duration::from_secs(600))
        .assert();
    let o = a.get_output();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{stderr}"
    );
    assert!(stderr.contains("torn"), "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");

    // Every line parses (the torn one is gone), nothing measured before was lost or redone,
    // and every job of the plan is there once.
    let text = std::fs::read_to_string(&results).unwrap();
    assert!(text.ends_with('\n'));
    let all: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is one JSON document"))
        .collect();
    let sessions: Vec<&Value> = all.iter().filter(|v| v["type"] == "session").collect();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[1]["resumed"], true);
    let after = measurements(&results);
    for m in &before {
        let same: Vec<&Value> = after.iter().filter(|a| a["key"] == m["key"]).collect();
        assert_eq!(same.len(), 1, "{} measured twice", m["key"]);
        assert_eq!(same[0], m, "{} changed", m["key"]);
    }
    let jobs = sessions[1]["plan"]["jobs"].as_array().unwrap();
    assert_eq!(after.len(), jobs.len());
    for j in jobs {
        assert!(
            after.iter().any(|m| m["key"] == j["key"]),
            "{} missing",
            j["key"]
        );
    }
    for f in ["summary.json", "results.csv", "report.md", "report.html"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert!(!out.join("work").exists(), "work folder left behind");

    // `report` rebuilds the same summary from results.jsonl alone.
    let before_summary = std::fs::read(out.join("summary.json")).unwrap();
    std::fs::remove_file(out.join("report.md")).unwrap();
    Command::new(bin())
        .arg("report")
        .arg(&out)
        .assert()
        .success();
    assert!(out.join("report.md").is_file());
    assert_eq!(
        std::fs::read(out.join("summary.json")).unwrap(),
        before_summary
    );
}

#[test]
fn config_errors_name_file_line_and_key_and_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[measure]\nmax_time_s = \"ten\"\n[[model]]\nsource = \"zoo:resnet18\"\n",
            ":2:",
            "max_time_s",
        ),
        (
            "variants = [\"tract:turbo\"]\n[[model]]\nsource = \"zoo:resnet18\"\n",
            ":1:",
            "variants",
        ),
        (
            "[[model]]\nsource = \"zoo:resnet19\"\n",
            ":2:",
            "model.source",
        ),
        (
            "speed = 2\n[[model]]\nsource = \"zoo:resnet18\"\n",
            ":1:",
            "speed",
        ),
    ];
    for (i, (text, line, key)) in cases.iter().enumerate() {
        let cfg = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&cfg, text).unwrap();
        let out = dir.path().join(format!("out{i}"));
        let a = Command::new(bin())
            .arg("study")
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("bad{i}.toml{line}")) && err.contains(key),
            "{err}"
        );
        assert!(!out.exists(), "something was written for a bad config");
    }
    // A config that is not there is bad input too (exit 2, not 3: nothing ran).
    let missing = dir.path().join("missing.toml");
    let out = dir.path().join("out-missing");
    let a = Command::new(bin())
        .arg("study")
        .arg("--config")
        .arg(&missing)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("missing.toml") && err.contains("--config"),
        "{err}"
    );
    assert!(!out.exists(), "something was written for a missing config");
}

#[test]
fn hung_variant_is_killed_and_recorded_and_html_escapes_names() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    // A limit no variant can meet: every child is killed and recorded as failed.
    std::fs::write(&cfg, TINY.replace("timeout_s = 120", "timeout_s = 0.05")).unwrap();
    let out = dir.path().join("s");
    let a = Command::new(bin())
        .args(["study", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .timeout(Duration::from_secs(300))
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("timed out"), "{err}");
    let ms = measurements(&out.join("results.jsonl"));
    assert_eq!(ms.len(), 4);
    for m in &ms {
        assert_eq!(m["result"]["status"], "failed");
        assert!(m["result"]["error"].as_str().unwrap().contains("timed out"));
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("<script>"));
}

#[test]
fn compare_flags_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let a_dir = dir.path().join("a");
    Command::new(bin())
        .args(["study", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&a_dir)
        .timeout(Duration::from_secs(300))
        .assert()
        .success();
    // Same study against itself: nothing regressed.
    let o = Command::new(bin())
        .arg("compare")
        .arg(&a_dir)
        .arg(&a_dir)
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&o.get_output().stdout).contains("within noise"));

    // B: every sample of one variant three times slower, in each of its rounds. The rounds'
    // own spread is whatever load the machine had (two rounds under heavy load can differ
    // several-fold, which rightly makes any interval wide): the slowed variant's rounds are
    // set to its first round's samples, 1% apart, in A' and, tripled, in B, so that the test
    // checks the rule and not the machine's load.
    let a2_dir = dir.path().join("a2");
    let b_dir = dir.path().join("b");
    std::fs::create_dir(&a2_dir).unwrap();
    std::fs::create_dir(&b_dir).unwrap();
    let text = std::fs::read_to_string(a_dir.join("results.jsonl")).unwrap();
    let (mut out_a, mut out_b) = (String::new(), String::new());
    let mut slowed: Option<Value> = None;
    let mut base: Option<Vec<f64>> = None;
    let mut round = 0.0;
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        let model = &v["model"]["label"];
        let mut v_b = v.clone();
        if v["type"] == "measurement"
            && v["spec"] == "tract:optimized"
            && slowed.as_ref().is_none_or(|m| m == model)
        {
            slowed = Some(model.clone());
            let first = base.get_or_insert_with(|| {
                v["result"]["raw_ms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            });
            let raw: Vec<f64> = first.iter().map(|x| x * (1.0 + 0.01 * round)).collect();
            round += 1.0;
            v_b["result"]["raw_ms"] =
                serde_json::json!(raw.iter().map(|x| x * 3.0).collect::<Vec<_>>());
            v["result"]["raw_ms"] = serde_json::json!(raw);
        }
        out_a.push_str(&serde_json::to_string(&v).unwrap());
        out_a.push('\n');
        out_b.push_str(&serde_json::to_string(&v_b).unwrap());
        out_b.push('\n');
    }
    std::fs::write(a2_dir.join("results.jsonl"), out_a).unwrap();
    std::fs::write(b_dir.join("results.jsonl"), out_b).unwrap();
    let o = Command::new(bin())
        .args(["compare", "--json"])
        .arg(&a2_dir)
        .arg(&b_dir)
        .assert()
        .code(1);
    let v: Value = serde_json::from_slice(&o.get_output().stdout).unwrap();
    assert_eq!(v["regressions"], 1);
    let e = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["regression"] == true)
        .unwrap();
    assert!((e["change_percent"].as_f64().unwrap() - 200.0).abs() < 1e-6);

    // Not a study: exit 2, one line.
    Command::new(bin())
        .arg("compare")
        .arg(dir.path().join("nothing"))
        .arg(&a_dir)
        .assert()
        .code(2);
}

/// Every file under `dir` with its bytes, to show that a refused process changed nothing.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
                out.push((p, vec![]));
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Sends `signal` to every process of a process group (the study and its worker).
fn signal_group(pgid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) with a process group this test created; no memory is shared.
    let r = unsafe { libc::kill(-(pgid as libc::pid_t), signal) };
    assert_eq!(
        r,
        0,
        "kill({pgid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// The process groups of `pid`'s children: the study starts each job's child in a group of
/// its own.
fn child_groups(pid: u32) -> Vec<u32> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) STATE PPID PGRP ...`
        let f: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(vec![], |(_, r)| r.split_whitespace().collect());
        if f.len() > 2 && f[1] == pid.to_string() {
            if let Ok(g) = f[2].parse() {
                out.push(g);
            }
        }
    }
    out
}

#[test]
fn a_second_process_on_a_study_folder_is_refused_and_touches_nothing() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    // Each variant samples for its whole max_time, so the study is still running when it is
    // caught below.
    std::fs::write(
        &cfg,
        TINY.replace(
            "min_samples = 3",
            "min_samples = 100000\nmax_samples = 100000",
        )
        .replace("max_time_s = 0.2", "max_time_s = 1.0"),
    )
    .unwrap();
    let out = dir.path().join("study");
    let results = out.join("results.jsonl");
    let lock = out.join("study.lock");
    // The first study, in a process group of its own so that it and its worker can be frozen
    // together: while frozen it holds the lock for as long as the checks take, whatever the
    // machine's speed.
    let mut first = std::process::Command::new(bin())
        .args(["study", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = first.id();
    // Holding the lock (its pid is in the lock file) and running (its session line is in).
    let start = Instant::now();
    let caught = || {
        std::fs::read_to_string(&lock).is_ok_and(|s| s.contains(&format!("\"pid\":{pid},")))
            && !lines(&results).is_empty()
    };
    while !caught() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the first study never took the lock"
        );
        if let Some(s) = first.try_wait().unwrap() {
            panic!("the first study ended before it could be caught: {s}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(pid, libc::SIGSTOP);
    // The job's child runs in a group of its own: freeze it too.
    let workers = child_groups(pid);
    for &g in &workers {
        signal_group(g, libc::SIGSTOP);
    }
    let frozen = snapshot(&out);

    // A second study on the folder, with and without --resume, and a report rebuild: one
    // line naming the holder, exit 2, and not a byte changed.
    for args in [
        vec![
            "study",
            "--quiet",
            "--resume",
            "--config",
            cfg.to_str().unwrap(),
        ],
        vec!["study", "--config", cfg.to_str().unwrap()],
    ] {
        let o = Command::new(bin())
            .args(&args)
            .arg("--out")
            .arg(&out)
            .timeout(Duration::from_secs(300))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("is in use by edgebench study"), "{err}");
        assert!(err.contains(&format!("pid {pid} on ")), "{err}");
        assert!(o.stdout.is_empty());
    }
    let o = Command::new(bin())
        .arg("report")
        .arg(&out)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("pid {pid} on ")), "{err}");
    assert!(
        snapshot(&out) == frozen,
        "a refused process changed the folder"
    );

    // Killed while holding the lock: the kernel releases it, and --resume finishes the study.
    signal_group(pid, libc::SIGKILL);
    // A stopped child cannot see its parent's pipe close: kill it as well (a group that is
    // already gone is no error here).
    for &g in &workers {
        edgebench_core::process::kill_group(g);
    }
    first.wait().unwrap();
    let o = Command::new(bin())
        .args(["study", "--quiet", "--resume", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{err}");
    let text = std::fs::read_to_string(&results).unwrap();
    assert!(text.ends_with('\n'));
    let all: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is one JSON document"))
        .collect();
    let sessions: Vec<&Value> = all.iter().filter(|v| v["type"] == "session").collect();
    assert_eq!(
        sessions.len(),
        2,
        "the refused processes wrote a session line"
    );
    let jobs = sessions[1]["plan"]["jobs"].as_array().unwrap();
    let ms = measurements(&results);
    assert_eq!(ms.len(), jobs.len(), "a job measured twice or missing");
    for j in jobs {
        assert_eq!(
            ms.iter().filter(|m| m["key"] == j["key"]).count(),
            1,
            "{}",
            j["key"]
        );
    }
    let o = Command::new(bin())
        .arg("report")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.join("summary.json").is_file());
}

/// One model measured in two interleaved rounds: one row per variant with its rounds and a
/// speed-up whose interval comes from the rounds. Then the gate reference's stored outputs
/// are made unreadable and the variant measured again: it is not verified, gets no speed-up,
/// and the study exits 1 (it used to count as "not verified" and exit 0).
#[test]
fn rounds_give_the_speed_up_and_an_unverifiable_variant_fails_the_study() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("one.toml");
    let one = TINY
        .split("[[model]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("[[model]]");
    std::fs::write(&cfg, one).unwrap();
    let out = dir.path().join("s");
    let study = |resume: bool| {
        let mut c = Command::new(bin());
        c.args(["study", "--quiet", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .timeout(Duration::from_secs(300));
        if resume {
            c.arg("--resume");
        }
        c.assert()
    };
    study(false).success();
    let results = out.join("results.jsonl");
    // 2 variants x 2 rounds, the second round keyed as such.
    let ms = measurements(&results);
    assert_eq!(ms.len(), 4);
    assert!(ms[2]["key"].as_str().unwrap().ends_with("|round=2"));
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let rows = summary["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let opt = rows
        .iter()
        .find(|r| r["spec"] == "tract:optimized")
        .unwrap();
    assert_eq!(opt["rounds"].as_array().unwrap().len(), 2);
    assert_eq!(opt["status"], "ok");
    assert_eq!(opt["speedup"]["round_ratios"].as_array().unwrap().len(), 2);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("(2 rounds)"), "{md}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains(",rounds,"));

    // Drop the variant's measurements, spoil the reference's outputs, and resume.
    let text = std::fs::read_to_string(&results).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            !(v["type"] == "measurement" && v["spec"] == "tract:optimized")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&results, kept).unwrap();
    for f in std::fs::read_dir(out.join("outputs")).unwrap() {
        std::fs::write(f.unwrap().path(), b"not outputs").unwrap();
    }
    let a = study(true).code(1);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("could not be verified"), "{err}");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let opt = summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["spec"] == "tract:optimized")
        .unwrap();
    assert_eq!(opt["status"], "unverified");
    assert!(opt["speedup"].is_null());
    assert!(opt["note"]
        .as_str()
        .unwrap()
        .contains("outputs of the gate reference tract:reference cannot be read"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("NOT VERIFIED"), "{md}");
}
