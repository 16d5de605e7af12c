//! Snapshots of what a video run writes and shows (`--export-csv`, `--predictions`, the
//! terminal summary, `report --video`'s Markdown table) for a run whose timings are fixed by
//! hand: 48 frames of a 30 fps source in 16-frame clips, one clip dropped, provenance from
//! `edgebench_core::fixtures`. Any change a user would see shows up as a diff to review
//! (`cargo insta review`), and a mismatch fails the test.

use edgebench_core::engine::SessionInfo;
use edgebench_core::fixtures;
use edgebench_core::schema::ModelInfo;
use edgebench_core::tensor::{ConcreteSpec, DType};
use edgebench_video::clip::{Layout, ModelPlan};
use edgebench_video::preprocess::{PreprocessConfig, Resize};
use edgebench_video::queue::DropPolicy;
use edgebench_video::report::{analyse, Context, VideoReport, VideoSettings};
use edgebench_video::run::{Prediction, RawRun};
use edgebench_video::source::{FpsOrigin, FrameSourceKind, SourceInfo};
use edgebench_video::{export, view};

const FPS: f64 = 30.0;
const T: u64 = 16;

/// Clip `i` of the run: predicted (class `i`, 0.9) or dropped.
fn clip(i: u64, dropped: bool) -> Prediction {
    let first = i * T;
    let end_s = (first + T) as f64 / FPS;
    Prediction {
        clip: i,
        first_frame: first,
        last_frame: first + T - 1,
        start_s: first as f64 / FPS,
        end_s,
        dropped,
        class: (!dropped).then_some(i as usize),
        label: (!dropped).then(|| format!("class {i}")),
        score: (!dropped).then_some(0.9),
        at_s: end_s + 0.1,
        latency_ms: (!dropped).then_some(100.0 + i as f64),
        queue_wait_ms: (!dropped).then_some(1.0),
        inference_ms: (!dropped).then_some(90.0 + i as f64),
        deadline_missed: (!dropped).then_some(false),
    }
}

fn report() -> VideoReport {
    let frames = 3 * T;
    let per_frame = |ms: f64| {
        (0..frames)
            .map(|i| ms + i as f64 * 0.01)
            .collect::<Vec<_>>()
    };
    let predictions = vec![clip(0, false), clip(1, true), clip(2, false)];
    let raw = RawRun {
        frames,
        decode_ms: per_frame(2.0),
        preprocess_ms: per_frame(3.0),
        assemble_ms: vec![0.5, 0.6, 0.7],
        queue_wait_ms: vec![1.0, 1.0],
        transfer_ms: vec![0.2, 0.3],
        inference_ms: vec![90.0, 92.0],
        postprocess_ms: vec![0.1, 0.1],
        end_to_end_ms: vec![100.0, 102.0],
        release_lateness_ms: per_frame(0.1),
        predictions,
        first_run_ms: 150.0,
        warmup_runs: 2,
        max_queue_len: 1,
        wall_s: frames as f64 / FPS + 0.2,
        inference_calls: 2,
        energy: None,
        error: None,
        decoder_failed: false,
        diagnostics: vec![],
    };
    let shape = vec![1, 3, T as usize, 112, 112];
    let plan = ModelPlan {
        input: "input".into(),
        shape: shape.clone(),
        layout: Layout::Ncthw,
        frames: T as usize,
        height: 112,
        width: 112,
    };
    let ctx = Context {
        tool: fixtures::tool(),
        host: fixtures::host(),
        model: ModelInfo {
            sha256: Some("0123456789abcdef".into()),
            opset: Some(17),
            load_ms: Some(1.0),
            inputs: vec![ConcreteSpec {
                name: "input".into(),
                dtype: DType::F32,
                shape,
            }],
            ..ModelInfo::unloaded("c3d_small", "zoo:c3d_small", None)
        },
        session: SessionInfo {
            engine_version: "0.23.9".into(),
            threads: Some(2),
            device: "cpu".into(),
            precision: "f32".into(),
            details: Default::default(),
        },
        source: SourceInfo {
            input: "synthetic:160x120@30".into(),
            kind: FrameSourceKind::Synthetic,
            width: 160,
            height: 120,
            fps: FPS,
            fps_origin: FpsOrigin::Spec,
            declared_frames: None,
            frame_limit: Some(frames),
            codec: None,
            decoder: "synthetic".into(),
        },
        settings: VideoSettings {
            engine: "tract:optimized".into(),
            threads: Some(2),
            paced: true,
            stride: T as usize,
            drop_policy: DropPolicy::Oldest,
            queue_depth: 1,
            deadline_ms: 1000.0 * T as f64 / FPS,
            warmup_runs: 2,
            preprocess: PreprocessConfig {
                resize: Resize::Exact {
                    height: 128,
                    width: 171,
                },
                crop_h: 112,
                crop_w: 112,
                mean: [0.43216, 0.394666, 0.37645],
                std: [0.22803, 0.22145, 0.216989],
            },
            clip: plan,
            labels: None,
            seed: 0,
        },
    };
    analyse(raw, ctx)
}

#[test]
fn stages_csv() {
    insta::assert_snapshot!("video_stages_csv", export::stages_csv(&report()).unwrap());
}

#[test]
fn predictions_jsonl() {
    let r = report();
    insta::assert_snapshot!(
        "video_predictions_jsonl",
        export::predictions_jsonl(&r.predictions).unwrap()
    );
}

#[test]
fn terminal_summary() {
    insta::assert_snapshot!("video_terminal", view::terminal(&report()));
}

#[test]
fn markdown_table() {
    insta::assert_snapshot!("video_markdown", view::markdown_table(&[report()]));
}
