//! `job::run`, the whole video run in one call, on a fake engine: the report it returns, the
//! order of its events, and errors that name the step that failed.

use edgebench_core::engine::{
    Availability, Engine, EngineSpec, PrepareOptions, Session, SessionInfo, VariantInfo,
};
use edgebench_core::memory::Limit;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::schema::{ModelInfo, ToolInfo};
use edgebench_core::tensor::{HostTensor, TensorData};
use edgebench_video::job::{run, VideoEvent, VideoJob};
use edgebench_video::queue::DropPolicy;
use edgebench_video::source::{OpenOptions, SourceSpec};
use edgebench_video::testclip::tiny_clip_model;
use edgebench_video::VideoError;

/// Two class scores from the clip's mean; `refuse` makes `prepare` fail.
struct FakeEngine {
    refuse: bool,
}

struct FakeSession(f32);

impl Session for FakeSession {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> edgebench_core::error::Result<()> {
        if let TensorData::F32(v) = &inputs[0].data {
            self.0 = v.iter().sum::<f32>() / v.len() as f32;
        }
        Ok(())
    }
    fn run(&mut self) -> edgebench_core::error::Result<()> {
        Ok(())
    }
    fn outputs(&mut self) -> edgebench_core::error::Result<Vec<HostTensor>> {
        Ok(vec![HostTensor {
            name: "logits".into(),
            shape: vec![1, 2],
            data: TensorData::F32(vec![self.0, -self.0]),
        }])
    }
    fn info(&self) -> SessionInfo {
        SessionInfo::default()
    }
}

impl Engine for FakeEngine {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn availability(&self) -> Availability {
        Availability::Available {
            version: "1".into(),
            devices: vec![],
        }
    }
    fn variants(&self) -> Vec<VariantInfo> {
        vec![]
    }
    fn validate(&self, _spec: &EngineSpec) -> edgebench_core::error::Result<()> {
        Ok(())
    }
    fn prepare(
        &self,
        _model: &Model,
        spec: &EngineSpec,
        _opts: &PrepareOptions,
    ) -> edgebench_core::error::Result<Box<dyn Session>> {
        if self.refuse {
            return Err(edgebench_core::Error::Engine {
                engine: spec.to_string(),
                reason: "no device".into(),
            });
        }
        Ok(Box::new(FakeSession(0.0)))
    }
}

fn job<'a>(engine: &'a FakeEngine, spec: &'a EngineSpec, model: &'a Model) -> VideoJob<'a> {
    let inputs = model
        .resolve_inputs(&ShapeRequest {
            shapes: vec![],
            batch: Some(1),
        })
        .unwrap();
    VideoJob {
        engine,
        spec,
        model,
        model_info: ModelInfo::new(model, inputs.clone()),
        inputs,
        input: "synthetic:64x48@30",
        source: SourceSpec::parse("synthetic:64x48@30").unwrap(),
        open: OpenOptions {
            fps: None,
            max_frames: Some(16),
            duration_s: None,
        },
        paced: false,
        stride: None,
        drop: DropPolicy::Oldest,
        queue_depth: 1,
        deadline_ms: None,
        warmup_runs: 1,
        threads: 1,
        resize: None,
        mean: None,
        std: None,
        labels: Some((vec!["a".into(), "b".into()], "labels.txt".into())),
        seed: 3,
        memory: Limit::new(None),
        tool: ToolInfo {
            name: "edgebench".into(),
            version: "0".into(),
            git_commit: "x".into(),
        },
    }
}

#[test]
fn a_run_reports_every_clip_with_its_settings_and_events_in_order() {
    let model = Model::from_bytes("clip", tiny_clip_model(4, 32, 32, 2)).unwrap();
    let spec = EngineSpec::parse("fake").unwrap();
    let engine = FakeEngine { refuse: false };
    let mut telemetry_opened = 0;
    let mut events = vec![];
    let report = run(
        job(&engine, &spec, &model),
        &mut || {
            telemetry_opened += 1;
            None
        },
        &mut |e| {
            events.push(match e {
                VideoEvent::Preparing => "preparing".to_string(),
                VideoEvent::WarmingUp => "warming up".into(),
                VideoEvent::Streaming { paced } => format!("streaming {paced}"),
                VideoEvent::Clip(p) => format!("clip {}", p.clip),
            })
        },
    )
    .unwrap();
    assert_eq!(telemetry_opened, 1);
    assert_eq!(&events[..3], ["preparing", "warming up", "streaming false"]);
    // 16 frames in clips of 4 that do not overlap (stride defaults to the clip length).
    assert_eq!(report.settings.stride, 4);
    assert_eq!(report.clips, 4);
    assert_eq!(events.len(), 3 + report.clips);
    assert_eq!(report.frames, 16);
    assert_eq!(report.settings.labels.as_deref(), Some("labels.txt"));
    assert_eq!(
        (report.settings.threads, report.settings.seed),
        (Some(1), 3)
    );
    assert_eq!(report.model.path, "clip");
    assert!(report.complete && report.error.is_none());
    assert!(report
        .predictions
        .iter()
        .all(|p| matches!(p.label.as_deref(), Some("a" | "b"))));
}

#[test]
fn an_engine_that_cannot_prepare_names_the_model_and_spec_with_its_reason() {
    let model = Model::from_bytes("clip", tiny_clip_model(4, 32, 32, 2)).unwrap();
    let spec = EngineSpec::parse("fake").unwrap();
    let engine = FakeEngine { refuse: true };
    let e = run(job(&engine, &spec, &model), &mut || None, &mut |_| {}).unwrap_err();
    assert_eq!(e.to_string(), "preparing clip on fake");
    match e {
        VideoError::Prepare(p) => {
            assert_eq!(p.source.to_string(), "engine fake failed: no device");
            // The engine's error is the next in the chain, so exit codes follow it.
            let e = VideoError::Prepare(p);
            let next = std::error::Error::source(&e).unwrap();
            assert!(next.downcast_ref::<edgebench_core::Error>().is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn frames_smaller_than_the_crop_are_refused_before_telemetry_or_the_engine() {
    let model = Model::from_bytes("clip", tiny_clip_model(4, 112, 112, 2)).unwrap();
    let spec = EngineSpec::parse("fake").unwrap();
    let engine = FakeEngine { refuse: false };
    let (mut telemetry, mut events) = (false, 0);
    let e = run(
        job(&engine, &spec, &model),
        &mut || {
            telemetry = true;
            None
        },
        &mut |_| events += 1,
    )
    .unwrap_err();
    assert!(matches!(e, VideoError::FrameTooSmall { .. }), "{e}");
    assert!(!telemetry);
    assert_eq!(events, 0);
}
