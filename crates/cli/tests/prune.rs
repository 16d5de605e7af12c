//! `edgebench prune` end to end: a tiny PyTorch CNN pruned at 0.5 (fine-tuned a step on a
//! labelled PNG folder the test writes) has fewer MACs, loads, and is measured against the
//! unpruned model with tract (`--bench`) and by `bench`; every bad input is refused with one
//! line, exit 2 and no output. The Python with torch, torchvision and torch-pruning is needed;
//! where there is none the tests skip (or fail under `EDGEBENCH_REQUIRE=torch`).

mod common;

use common::{edgebench, refused_with, FAST};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `python/tests/tiny_model.py:make`: Conv(3->8), BatchNorm, ReLU, pool, Linear(8->5).
fn tiny() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/tests/tiny_model.py");
    format!("{}:make", p.display())
}

/// The Python edgebench would use, when it has torch, torchvision and torch_pruning; else the
/// test skips (or fails under EDGEBENCH_REQUIRE=torch).
fn pruning_python() -> Option<PathBuf> {
    let info = match edgebench_torch::python::discover_with(None) {
        Ok(info) if info.hello.torchvision.is_some() => info,
        Ok(info) => {
            edgebench_core::testing::skip_or_fail(
                "torch",
                format_args!("{} has no torch and torchvision", info.path.display()),
            );
            return None;
        }
        Err(e) => {
            edgebench_core::testing::skip_or_fail("torch", e);
            return None;
        }
    };
    let ok = std::process::Command::new(&info.path)
        .args(["-c", "import torch_pruning"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        edgebench_core::testing::skip_or_fail(
            "torch",
            format_args!(
                "{} has no torch_pruning (pip install --no-deps torch-pruning==1.6.1)",
                info.path.display()
            ),
        );
        return None;
    }
    Some(info.path)
}

/// A labelled folder: two classes (`red`, `blue`) of `n` PNGs each, 40x48, noisy.
fn write_labelled(dir: &Path, n: usize) {
    for (c, (r, b)) in [("red", (200u32, 20u32)), ("blue", (20, 200))] {
        let d = dir.join(c);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..n {
            let img = image::RgbImage::from_fn(48, 40, |x, y| {
                let noise = (x * 7 + y * 13 + i as u32 * 31) % 40;
                image::Rgb([(r + noise) as u8, 30, (b + noise) as u8])
            });
            img.save(d.join(format!("{i}.png"))).unwrap();
        }
    }
}

#[test]
fn a_tiny_cnn_pruned_at_half_has_fewer_macs_and_benches_with_tract() {
    if pruning_python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let imgs = dir.path().join("imgs");
    write_labelled(&imgs, 3);
    let out = dir.path().join("pruned");
    // Relative paths, from the folder the command runs in (the script runs elsewhere).
    let o = edgebench()
        .current_dir(dir.path())
        .args(["prune", &tiny(), "--ratio", "0.5", "--shape", "1x3x32x32"])
        .args(["-o", "pruned", "--finetune", "imgs"])
        .args(["--epochs", "1", "--train-batch", "2"])
        .args(["--bench", "tract:optimized", "--rounds", "2", "--json"])
        .args(&FAST[..FAST.len() - 1])
        .env("EDGEBENCH_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "exit {:?}: {err}", o.status.code());
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let pruned = &r["pruned"][0];
    let file = out.join("tiny_model_make-prune0.5.onnx");
    assert_eq!(
        pruned["path"], "pruned/tiny_model_make-prune0.5.onnx",
        "{r}"
    );
    assert!(file.is_file() && out.join("tiny_model_make.onnx").is_file());
    let before = r["original"]["macs"].as_u64().unwrap();
    let after = pruned["macs"].as_u64().unwrap();
    assert!(after > 0 && after < before, "MACs {before} -> {after}");
    assert!(pruned["params"].as_u64() < r["original"]["params"].as_u64());
    // The counts are core::inspect's, of the files written.
    let m = edgebench_core::model::Model::from_path(&file).unwrap();
    let inputs = m.resolve_inputs(&Default::default()).unwrap();
    assert_eq!(
        edgebench_core::inspect::inspect(&m, &inputs).unwrap().macs,
        after
    );
    let mac_ratio = pruned["mac_ratio"].as_f64().unwrap();
    assert!((mac_ratio - before as f64 / after as f64).abs() < 1e-9);
    assert_eq!(pruned["epochs"][0]["phase"], "finetune", "{r}");
    // Measured against the unpruned model through tract, in two rounds.
    let row = &r["bench"]["rows"][0];
    assert_eq!(r["bench"]["spec"], "tract:optimized");
    let speedup = row["speedup"]["ratio"].as_f64().unwrap();
    let eff = row["efficiency"].as_f64().unwrap();
    assert!((eff - speedup / mac_ratio).abs() < 1e-9, "{row}");
    assert_eq!(r["bench"]["variants"].as_array().unwrap().len(), 2);
    // The summary in the folder is the report.
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("prune.json")).unwrap()).unwrap();
    assert_eq!(summary["pruned"], r["pruned"]);
    // And the pruned file benches as any model.
    edgebench()
        .arg("bench")
        .arg(&file)
        .args(["-e", "tract:optimized"])
        .args(FAST)
        .assert()
        .success();
}

#[test]
fn bad_input_gets_one_line_exit_2_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = |args: &[&str], needles: &[&str]| {
        let mut cmd = edgebench();
        cmd.arg("prune").args(args).arg("-o").arg(&out);
        refused_with(&mut cmd, needles);
        assert!(!out.exists(), "{args:?} left {}", out.display());
    };
    let src = tiny();
    for ratio in ["0", "1", "1.2", "-0.1", "a"] {
        run(&[&src, &format!("--ratio={ratio}")], &["--ratio", ratio]);
    }
    run(
        &["zoo:resnet18", "--ratio", "0.5"],
        &["zoo:resnet18", "needs a PyTorch source"],
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let flat = dir.path().join("flat");
    std::fs::create_dir(&flat).unwrap();
    std::fs::write(flat.join("a.png"), b"not read").unwrap();
    for (folder, needle) in [(&empty, "empty"), (&flat, "no class subfolders")] {
        run(
            &[
                &src,
                "--ratio",
                "0.5",
                "--shape",
                "1x3x32x32",
                "--finetune",
                folder.to_str().unwrap(),
            ],
            &["--finetune", needle],
        );
    }
}

#[test]
fn without_torch_pruning_the_error_names_the_install_command() {
    if pruning_python().is_none() {
        return;
    }
    // A package that shadows the installed one and fails to import, as a missing one does.
    let dir = tempfile::tempdir().unwrap();
    let shadow = dir.path().join("shadow/torch_pruning");
    std::fs::create_dir_all(&shadow).unwrap();
    std::fs::write(
        shadow.join("__init__.py"),
        "raise ImportError(\"No module named 'torch_pruning'\")\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut cmd = edgebench();
    cmd.args(["prune", &tiny(), "--ratio", "0.5", "--shape", "1x3x32x32"])
        .arg("-o")
        .arg(&out)
        .env("PYTHONPATH", dir.path().join("shadow"))
        .env("EDGEBENCH_CACHE_DIR", dir.path().join("cache"));
    refused_with(
        &mut cmd,
        &[
            "no usable torch-pruning",
            "pip install --no-deps torch-pruning==1.6.1",
        ],
    );
    assert!(
        std::fs::read_dir(&out).map_or(true, |d| d.count() == 0),
        "nothing written"
    );
}
