//! How much does edgebench's harness add to what it measures? Compares the median latency
//! edgebench reports for `tract:optimized` with a bare loop around the same tract calls on the
//! same model and inputs, in interleaved rounds so that drift hits both alike.
//!
//! Run: `cargo bench -p edgebench-engines --bench overhead [-- MODEL ROUNDS SAMPLES]`
//! (MODEL a zoo name, default mobilenet_v2).

use edgebench_core::engine::{Engine, EngineSpec, PrepareOptions};
use edgebench_core::inputs::random_inputs;
use edgebench_core::measure::{measure, MeasureOptions};
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::stats::median;
use std::time::Instant;
use tract_onnx::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let name = args
        .first()
        .cloned()
        .unwrap_or_else(|| "mobilenet_v2".into());
    let rounds: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(7);
    let samples: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);

    let spec = edgebench_zoo::ZooSpec::parse(&name)?;
    let model = Model::from_bytes(&format!("zoo:{name}"), edgebench_zoo::build_bytes(&spec)?)?;
    let inputs = model.resolve_inputs(&ShapeRequest::default())?;
    let data = random_inputs(&inputs, 0)?;

    // edgebench's path: the engine's session and the measurement loop.
    let engine = edgebench_engines::tract::Tract;
    let opts = PrepareOptions {
        inputs: inputs.clone(),
        threads: Some(1),
    };
    let mut session = engine.prepare(&model, &EngineSpec::parse("tract:optimized")?, &opts)?;
    session.set_inputs(&data)?;
    let mopts = MeasureOptions {
        warmup_s: 0.0,
        min_warmup_runs: 3,
        min_samples: samples,
        max_samples: samples,
        max_time_s: 1e9,
        target_rel_ci: 0.0,
        min_time_s: 0.0,
    };

    // The bare loop: tract's own API, as a user's application would call it.
    let typed = edgebench_core::tract_support::typed_model(&model, &inputs, "tract")?;
    let plan = typed.into_optimized()?.into_runnable()?;
    let mut state = TypedSimpleState::new(&plan)?;
    let tensor: TValue = match &data[0].data {
        edgebench_core::tensor::TensorData::F32(v) => {
            Tensor::from_shape(&data[0].shape, v)?.into_tvalue()
        }
        _ => return Err("expected an f32 input".into()),
    };
    let bare_inputs: TVec<TValue> = tvec![tensor];
    for _ in 0..3 {
        state.run(bare_inputs.clone())?;
    }

    let (mut eb, mut bare) = (vec![], vec![]);
    for round in 0..rounds {
        let m = measure(session.as_mut(), &mopts, &mut |_| {})?;
        let e = median(&m.samples_ms);
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let t0 = Instant::now();
            let out = state.run(bare_inputs.clone())?;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
            drop(out);
        }
        let b = median(&times);
        println!(
            "round {round}: edgebench median {e:.4} ms, bare loop median {b:.4} ms, ratio {:.4}",
            e / b
        );
        eb.push(e);
        bare.push(b);
    }
    let (e, b) = (median(&eb), median(&bare));
    let ratios: Vec<f64> = eb.iter().zip(&bare).map(|(e, b)| e / b).collect();
    let r = median(&ratios);
    println!(
        "zoo:{name}, {rounds} rounds x {samples} samples: edgebench {e:.4} ms, bare loop {b:.4} ms; median of per-round ratios {r:.4} ({:+.2}%)",
        (r - 1.0) * 100.0
    );
    Ok(())
}
