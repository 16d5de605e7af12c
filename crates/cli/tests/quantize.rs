//! `edgebench quantize` end to end: a zoo model quantized with synthetic calibration and with a
//! folder of PNGs the test writes, the output run on ONNX Runtime through `bench`, the cache,
//! and every bad input refused with one line, exit 2 and no output file.
//!
//! The quantizer is ONNX Runtime's Python tool, in the `python3` on PATH; where it cannot be
//! imported the tests that need it skip, or fail where `EDGEBENCH_REQUIRE` lists `ort`.

mod common;

use common::{edgebench, refused_with, write_model, FAST};
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The model every quantizing test uses: small, and with Conv, Concat and MaxPool.
const MODEL: &str = "zoo:squeezenet1_1";

/// Whether ONNX Runtime's quantizer can be imported by the python3 on PATH; when not, the test
/// skips (or fails under EDGEBENCH_REQUIRE=ort).
fn quantizer_here() -> bool {
    let o = std::process::Command::new("python3")
        .args(["-c", "import onnxruntime.quantization"])
        .output();
    let why = match o {
        Ok(o) if o.status.success() => return true,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().last().unwrap_or("").to_owned();
            format!("python3 cannot import onnxruntime.quantization ({last})")
        }
        Err(e) => format!("python3 cannot be started ({e})"),
    };
    edgebench_core::testing::skip_or_fail("ort", why);
    false
}

/// `edgebench quantize ARGS --json` with its own cache folder; the report and stderr.
fn quantize(cache: &Path, args: &[&str]) -> (Value, String) {
    let o = edgebench()
        .arg("quantize")
        .args(args)
        .arg("--json")
        .env("EDGEBENCH_CACHE_DIR", cache)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "{args:?}: exit {:?}: {err}",
        o.status.code()
    );
    (serde_json::from_slice(&o.stdout).unwrap(), err)
}

/// Q/DQ nodes and Conv among the quantized operators, read by edgebench from the file.
fn assert_quantized(r: &Value) {
    let c = &r["counts"];
    assert!(c["quantize_linear"].as_u64().unwrap() > 0, "{r}");
    assert!(c["dequantize_linear"].as_u64().unwrap() > 0, "{r}");
    assert!(c["quantized_ops"]["Conv"].as_u64().unwrap() > 0, "{r}");
    assert!(
        r["bytes_after"].as_u64().unwrap() < r["bytes_before"].as_u64().unwrap() / 2,
        "int8 weights take a quarter of the float32 ones: {r}"
    );
}

/// Counts nodes of `op` in an ONNX file, apart from edgebench's own count.
fn count_ops(path: &Path, op: &str) -> usize {
    let m = edgebench_core::model::Model::from_path(path).unwrap();
    let g = m.proto.graph.as_ref().unwrap();
    g.node.iter().filter(|n| n.op_type == op).count()
}

/// `n` PNG images of `w` x `h` in `dir`, each a different pattern.
fn write_pngs(dir: &Path, n: usize, w: u32, h: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let v = (x * 3 + y * 5 + i as u32 * 40) % 256;
            image::Rgb([v as u8, (255 - v) as u8, ((x ^ y) % 256) as u8])
        });
        img.save(dir.join(format!("img_{i:03}.png"))).unwrap();
    }
}

#[test]
fn a_zoo_model_quantized_with_synthetic_calibration_and_the_second_call_is_cached() {
    if !quantizer_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("sq.int8.onnx");
    let o = out.to_str().unwrap();
    let (r, err) = quantize(&cache, &[MODEL, "-o", o, "--samples", "4"]);
    assert_quantized(&r);
    assert_eq!(r["cached"], false, "{r}");
    assert_eq!(r["calibration"]["kind"], "synthetic", "{r}");
    assert_eq!(r["samples"], 4, "{r}");
    assert_eq!(r["activations"], "u8", "{r}");
    assert!(
        err.contains("synthetic calibration") && err.contains("accuracy"),
        "{err}"
    );
    // What edgebench reports is what the file holds.
    assert_eq!(
        r["counts"]["quantize_linear"].as_u64().unwrap() as usize,
        count_ops(&out, "QuantizeLinear")
    );
    assert_eq!(
        r["counts"]["dequantize_linear"].as_u64().unwrap() as usize,
        count_ops(&out, "DequantizeLinear")
    );
    let first = std::fs::read(&out).unwrap();

    // The same call again: from the cache, the same bytes, written to another path too.
    let out2 = dir.path().join("again.onnx");
    let (r2, _) = quantize(
        &cache,
        &[MODEL, "-o", out2.to_str().unwrap(), "--samples", "4"],
    );
    assert_eq!(r2["cached"], true, "{r2}");
    assert_eq!(r2["output_sha256"], r["output_sha256"]);
    assert_eq!(std::fs::read(&out2).unwrap(), first);
    // Other settings are another model.
    let (r3, _) = quantize(
        &cache,
        &[MODEL, "-o", o, "--samples", "4", "--activations", "s8"],
    );
    assert_eq!(r3["cached"], false, "{r3}");
    assert_ne!(r3["output_sha256"], r["output_sha256"]);
    assert_quantized(&r3);
}

#[test]
fn an_image_folder_calibrates_and_the_output_runs_on_onnx_runtime() {
    if !quantizer_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    write_pngs(&images, 4, 300, 240);
    let out = dir.path().join("sq.int8.onnx");
    let (r, err) = quantize(
        &dir.path().join("cache"),
        &[
            MODEL,
            "-o",
            out.to_str().unwrap(),
            "--calibration",
            images.to_str().unwrap(),
            "--samples",
            "3",
            "--per-channel",
            "--method",
            "percentile",
        ],
    );
    assert_quantized(&r);
    assert_eq!(r["calibration"]["kind"], "folder", "{r}");
    assert_eq!(r["samples"], 3, "--samples caps the images: {r}");
    assert_eq!(r["method"], "percentile");
    assert_eq!(r["per_channel"], true);
    assert!(!err.contains("synthetic"), "{err}");

    // The quantized file loads and runs on ONNX Runtime through bench.
    let o = edgebench()
        .arg("bench")
        .arg(&out)
        .args(["-e", "ort:all", "--no-gate", "--json"])
        .args(FAST)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "bench of the quantized model: {text}");
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let v = &doc["results"][0];
    assert_eq!(v["status"], "ok", "{v}");
}

#[test]
fn a_clip_model_calibrates_on_clips_of_consecutive_images() {
    if !quantizer_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = write_model(
        dir.path(),
        "clip.onnx",
        &edgebench_video::testclip::tiny_clip_model(2, 16, 16, 3),
    );
    let images = dir.path().join("frames");
    write_pngs(&images, 5, 24, 20);
    let out = dir.path().join("clip.int8.onnx");
    let (r, _) = quantize(
        &dir.path().join("cache"),
        &[
            model.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--calibration",
            images.to_str().unwrap(),
        ],
    );
    // 5 images make 2 clips of 2 frames; the fifth is left over.
    assert_eq!(r["samples"], 2, "{r}");
    assert!(
        r["counts"]["quantized_ops"]["Gemm"].as_u64().unwrap() >= 1,
        "{r}"
    );
}

/// Exit 2, exactly one stderr line holding every needle, and no output file.
fn refused(args: &[&str], out: &Path, env: &[(&str, &str)], needles: &[&str]) {
    let mut cmd = edgebench();
    cmd.arg("quantize").args(args).arg("-o").arg(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    refused_with(&mut cmd, needles);
    assert!(!out.exists(), "{args:?} left {}", out.display());
}

#[test]
fn bad_input_gets_one_line_exit_2_and_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out.onnx");
    let cache = d.join("cache");
    let cache_env = [("EDGEBENCH_CACHE_DIR", cache.to_str().unwrap())];
    let env: &[(&str, &str)] = &cache_env;
    refused(&["no/such/model.onnx"], &out, env, &["no/such/model.onnx"]);
    refused(&[MODEL, "--samples", "0"], &out, env, &["--samples 0"]);
    refused(
        &[MODEL, "--method", "kl"],
        &out,
        env,
        &["--method kl", "minmax"],
    );
    refused(
        &[MODEL, "--activations", "u4"],
        &out,
        env,
        &["--activations u4"],
    );
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "not an image").unwrap();
    let e = empty.to_str().unwrap();
    refused(
        &[MODEL, "--calibration", e],
        &out,
        env,
        &["--calibration", "no PNG or JPEG images", "synthetic"],
    );
    let missing = d.join("no-such-folder");
    refused(
        &[MODEL, "--calibration", missing.to_str().unwrap()],
        &out,
        env,
        &["no-such-folder", "no such folder"],
    );
    let file = d.join("file.png");
    std::fs::write(&file, b"x").unwrap();
    refused(
        &[MODEL, "--calibration", file.to_str().unwrap()],
        &out,
        env,
        &["file.png", "not a folder"],
    );
    // An image that does not decode, after good ones.
    let broken = d.join("broken");
    write_pngs(&broken, 2, 256, 256);
    std::fs::write(broken.join("img_009.png"), b"\x89PNG garbage").unwrap();
    refused(
        &[MODEL, "--calibration", broken.to_str().unwrap()],
        &out,
        env,
        &["img_009.png", "cannot be decoded", "replace or remove it"],
    );
    // Images smaller than the model's input.
    let small = d.join("small");
    write_pngs(&small, 1, 32, 32);
    refused(
        &[MODEL, "--calibration", small.to_str().unwrap()],
        &out,
        env,
        &["32x32", "smaller than the model's 224x224"],
    );
    // Image calibration for a model that takes no image.
    let vector = write_model(
        d,
        "vector.onnx",
        &edgebench_video::testclip::tiny_vector_model(8, 2),
    );
    refused(
        &[
            vector.to_str().unwrap(),
            "--calibration",
            broken.to_str().unwrap(),
        ],
        &out,
        env,
        &["image calibration needs", "--calibration synthetic"],
    );
    // No python3 at all, then one without onnxruntime (site-packages switched off).
    let bare = d.join("bare-path");
    std::fs::create_dir(&bare).unwrap();
    let path_env = [
        ("PATH", bare.to_str().unwrap()),
        ("EDGEBENCH_CACHE_DIR", cache.to_str().unwrap()),
    ];
    refused(
        &[MODEL],
        &out,
        &path_env,
        &["no python3 on PATH", "pip install onnxruntime==1.24.4"],
    );
    if let Some(real) = real_python() {
        let wrapped = d.join("wrapped-path");
        std::fs::create_dir(&wrapped).unwrap();
        let py = wrapped.join("python3");
        std::fs::write(
            &py,
            format!("#!/bin/sh\nexec {} -S \"$@\"\n", real.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path_env = [
            ("PATH", wrapped.to_str().unwrap()),
            ("EDGEBENCH_CACHE_DIR", cache.to_str().unwrap()),
        ];
        refused(
            &[MODEL],
            &out,
            &path_env,
            &["no usable onnxruntime", "pip install onnxruntime==1.24.4"],
        );
    } else {
        edgebench_core::testing::skip_or_fail(
            "python3",
            "no python3 on PATH to hide onnxruntime from",
        );
    }
}

#[test]
fn a_model_the_quantizer_refuses_gets_its_last_line() {
    if !quantizer_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = write_model(
        dir.path(),
        "unknown.onnx",
        &tiny_cnn_bytes(&TinyCnn {
            unknown_op: true,
            ..Default::default()
        }),
    );
    let out = dir.path().join("out.onnx");
    let cache = dir.path().join("cache");
    refused(
        &[model.to_str().unwrap()],
        &out,
        &[("EDGEBENCH_CACHE_DIR", cache.to_str().unwrap())],
        &["quantizer refused", "unknown.onnx", "NoSuchOp"],
    );
}

/// The python3 on PATH itself (not a pyenv shim), for a wrapper that hides its packages.
fn real_python() -> Option<PathBuf> {
    let o = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
    p.is_file().then_some(p)
}

#[test]
fn a_pytorch_source_is_exported_then_quantized() {
    if !quantizer_here() {
        return;
    }
    match edgebench_torch::python::discover_with(None) {
        Ok(info) if info.hello.torchvision.is_some() => {}
        Ok(info) => {
            return edgebench_core::testing::skip_or_fail(
                "torch",
                format_args!("{} has no torch and torchvision", info.path.display()),
            )
        }
        Err(e) => return edgebench_core::testing::skip_or_fail("torch", e),
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sq.int8.onnx");
    let (r, _) = quantize(
        &dir.path().join("cache"),
        &[
            "tv:squeezenet1_1",
            "-o",
            out.to_str().unwrap(),
            "--samples",
            "2",
        ],
    );
    assert_eq!(r["model"], "tv:squeezenet1_1", "named by its source: {r}");
    assert_quantized(&r);
}

// --- quantization-aware training (--qat) -------------------------------------------------

/// `python/tests/tiny_model.py:make`: Conv(3->8), BatchNorm, ReLU, pool, Linear(8->5).
fn tiny_factory() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/tests/tiny_model.py");
    format!("{}:make", p.display())
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

/// Whether edgebench finds a Python with torch and torchvision; else skip (or fail under
/// EDGEBENCH_REQUIRE=torch).
fn torch_here() -> bool {
    match edgebench_torch::python::discover_with(None) {
        Ok(info) if info.hello.torchvision.is_some() => true,
        Ok(info) => {
            edgebench_core::testing::skip_or_fail(
                "torch",
                format_args!("{} has no torch and torchvision", info.path.display()),
            );
            false
        }
        Err(e) => {
            edgebench_core::testing::skip_or_fail("torch", e);
            false
        }
    }
}

#[test]
fn qat_trains_a_tiny_cnn_and_its_qdq_model_runs_on_onnx_runtime() {
    if !torch_here() || !quantizer_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let imgs = dir.path().join("train");
    write_labelled(&imgs, 3);
    let out = dir.path().join("tiny.qat.onnx");
    let (r, err) = quantize(
        &dir.path().join("cache"),
        &[
            &tiny_factory(),
            "--qat",
            "--train",
            imgs.to_str().unwrap(),
            "--epochs",
            "2",
            "--batch",
            "2",
            "--shape",
            "1x3x32x32",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r["mode"], "fx", "{r}");
    assert_eq!(r["classes"], serde_json::json!(["blue", "red"]), "{r}");
    assert_eq!(r["images"], 6);
    let epochs = r["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 2, "{r}");
    for (i, e) in epochs.iter().enumerate() {
        assert_eq!(e["epoch"], i + 1);
        assert_eq!(e["images"], 6);
        assert!(e["loss"].as_f64().unwrap().is_finite(), "{e}");
        let acc = e["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{e}");
    }
    // --json keeps the epochs off stdout; nothing but the report there.
    assert!(!err.contains("qat epoch"), "{err}");
    // The counts are read from the file, and the file has them.
    let c = &r["counts"];
    assert_eq!(
        c["quantize_linear"].as_u64().unwrap() as usize,
        count_ops(&out, "QuantizeLinear")
    );
    assert!(count_ops(&out, "QuantizeLinear") > 0 && count_ops(&out, "DequantizeLinear") > 0);
    assert!(c["quantized_ops"]["Conv"].as_u64().unwrap() > 0, "{r}");
    assert!(r["per_channel_quantizers"].as_u64().unwrap() > 0, "{r}");
    // Full-range activations: no Clip(0, 127) between Q and DQ.
    assert_eq!(count_ops(&out, "Clip"), 0);

    // The QDQ file runs on ONNX Runtime through bench.
    let o = edgebench()
        .arg("bench")
        .arg(&out)
        .args(["-e", "ort:all", "--no-gate", "--json"])
        .args(FAST)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "bench of the QAT model: {text}");
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["results"][0]["status"], "ok", "{doc}");
}

#[test]
fn qat_bad_input_gets_one_line_exit_2_and_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.onnx");
    let imgs = dir.path().join("train");
    write_labelled(&imgs, 1);
    let train = imgs.to_str().unwrap();
    let qat = |args: &[&str], needles: &[&str]| {
        let mut cmd = edgebench();
        cmd.arg("quantize")
            .args(args)
            .args(["--qat", "-o"])
            .arg(&out)
            .env("EDGEBENCH_CACHE_DIR", dir.path().join("cache"));
        refused_with(&mut cmd, needles);
        assert!(!out.exists(), "{args:?} left {}", out.display());
    };
    // Not a PyTorch source.
    qat(
        &["zoo:squeezenet1_1", "--train", train],
        &["zoo:squeezenet1_1", "--qat needs a PyTorch source"],
    );
    let onnx = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    qat(
        &[onnx.to_str().unwrap(), "--train", train],
        &["--qat needs a PyTorch source"],
    );
    let src = tiny_factory();
    // An empty folder, a folder of images without class subfolders, one class only.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let flat = dir.path().join("flat");
    write_pngs(&flat, 2, 40, 40);
    let one = dir.path().join("one");
    write_pngs(&one.join("only"), 2, 40, 40);
    for (folder, needle) in [
        (&empty, "empty (no class subfolders)"),
        (&flat, "2 images but no class subfolders"),
        (&one, "only 1 class subfolder"),
    ] {
        qat(
            &[
                &src,
                "--shape",
                "1x3x32x32",
                "--train",
                folder.to_str().unwrap(),
            ],
            &["--train", needle],
        );
    }
    qat(
        &[
            &src,
            "--shape",
            "1x3x32x32",
            "--train",
            train,
            "--epochs",
            "0",
        ],
        &["--epochs 0"],
    );
    // A model whose input is not an image batch.
    qat(&[&src, "--shape", "1x8", "--train", train], &["Nx3xHxW"]);
}
