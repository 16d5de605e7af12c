//! Helpers shared by the torch crate's tests: which Python to use, fake Pythons, tract
//! reference outputs.
#![allow(dead_code)]

use edgebench_core::model::Model;
use edgebench_core::tensor::{ConcreteSpec, HostTensor, TensorData};
use std::path::{Path, PathBuf};
use tract_onnx::prelude::*;

/// The opset the export tests ask for: the newest torch 1.8 (NVIDIA's wheels for JetPack 4.6,
/// the oldest torch the worker supports) writes, so that these tests run on every supported torch.
pub const OPSET: i64 = 13;

/// A Python with torch, or None after printing why the test is skipped (a failure where
/// `EDGEBENCH_REQUIRE` lists torch).
pub fn torch_python(test: &str) -> Option<PathBuf> {
    match edgebench_torch::python::discover_with(None) {
        Ok(info) if info.hello.torch.is_some() => Some(info.path),
        Ok(info) => {
            edgebench_core::testing::skip_or_fail(
                "torch",
                format_args!(
                    "{test}: {} has no torch (apt-get install python3-torch python3-torchvision)",
                    info.path.display()
                ),
            );
            None
        }
        Err(e) => {
            edgebench_core::testing::skip_or_fail("torch", format_args!("{test}: {e}"));
            None
        }
    }
}

/// Any Python 3 (the fake-torch tests need one, with or without torch).
pub fn any_python() -> PathBuf {
    edgebench_torch::python::which("python3")
        .or_else(|| Some(PathBuf::from("/usr/bin/python3")).filter(|p| p.exists()))
        .expect("these tests need a python3 on PATH")
}

/// An executable shell script.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A wrapper around a real Python whose `import torch` finds `torch_init` instead (and whose
/// torchvision cannot be imported).
pub fn python_with_fake_torch(dir: &Path, torch_init: &str) -> PathBuf {
    let poison = dir.join("site");
    std::fs::create_dir_all(poison.join("torch")).unwrap();
    std::fs::create_dir_all(poison.join("torchvision")).unwrap();
    std::fs::write(poison.join("torch/__init__.py"), torch_init).unwrap();
    std::fs::write(
        poison.join("torchvision/__init__.py"),
        "raise ImportError('no torchvision in this test')\n",
    )
    .unwrap();
    script(
        dir,
        "python3",
        &format!(
            "PYTHONPATH='{}' exec '{}' \"$@\"",
            poison.display(),
            any_python().display()
        ),
    )
}

/// A line for a fake worker's script that writes its process id to `pidfile` (a script that
/// then `exec`s keeps that id).
pub fn write_pid(pidfile: &Path) -> String {
    format!("echo $$ > '{}'", pidfile.display())
}

/// Whether the process whose id is in `pidfile` has ended: gone, or dead and waiting for its
/// parent to collect it.
pub fn ended(pidfile: &Path) -> bool {
    let pid = std::fs::read_to_string(pidfile)
        .unwrap_or_else(|e| panic!("{}: {e}: the fake worker never ran", pidfile.display()));
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        // `pid (comm) S ...`: the state follows the command name's closing parenthesis.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// The repository's python/tests folder.
pub fn python_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/tests")
}

/// Runs `model` with tract's optimized plan on `inputs` (f32) and returns its outputs.
pub fn tract_outputs(
    model: &Model,
    specs: &[ConcreteSpec],
    inputs: &[HostTensor],
) -> Vec<HostTensor> {
    let plan = edgebench_core::tract_support::typed_model(model, specs, "tract")
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let tensors: TVec<TValue> = inputs
        .iter()
        .map(|t| match &t.data {
            TensorData::F32(v) => Tensor::from_shape::<f32>(&t.shape, v)
                .unwrap()
                .into_tvalue(),
            _ => panic!("f32 inputs only"),
        })
        .collect();
    let out = plan.run(tensors).unwrap();
    out.iter()
        .enumerate()
        .map(|(i, t)| HostTensor {
            name: format!("output_{i}"),
            shape: t.shape().to_vec(),
            data: TensorData::F32(
                t.to_plain_array_view::<f32>()
                    .unwrap()
                    .iter()
                    .copied()
                    .collect(),
            ),
        })
        .collect()
}
