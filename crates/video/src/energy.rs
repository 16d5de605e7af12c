//! Energy of a pipeline run: the device's telemetry summarized over the run's measured span
//! (the same span the throughput figures divide by), so that joules per clip, watts and
//! frames per second per watt describe the same seconds.

use edgebench_core::telemetry::energy::{summarize, Window, WindowKind};
use edgebench_core::telemetry::{Energy, Telemetry, Trace};
use std::time::Instant;

/// What a video user does about a window too short for the sensors: the source sets a
/// pipeline run's length, so `--energy-min-time` (which lengthens `bench` sampling) does not
/// apply here.
const LONGER_RUN: &str = "use a longer input (--duration, --max-frames); --energy-min-time does not apply to video, whose length the source sets";

/// Summarizes `trace` over the run `[begin, end]`: `inferences` engine calls made in it and
/// `labelled_fps` frames covered by predicted clips per second (for FPS per watt).
pub fn pipeline_energy(
    telemetry: &Telemetry,
    trace: &Trace,
    begin: Instant,
    end: Instant,
    inferences: usize,
    labelled_fps: f64,
) -> Energy {
    let mut e = summarize(
        trace,
        &Window {
            kind: WindowKind::Pipeline,
            begin,
            end,
            inferences,
            throughput_per_s: (labelled_fps > 0.0).then_some(labelled_fps),
        },
        telemetry.idle.as_ref(),
        telemetry.grid_gco2_per_kwh,
        &telemetry.unavailable,
    );
    // The summary notes a short window where a power sensor exists; clocks and throttle
    // reasons come from the same few readings, so say it wherever any sensor exists.
    let short = e.window.duration_s < 2.0 * trace.period_s;
    if short
        && !trace.channels.is_empty()
        && !e.notes.iter().any(|n| n.contains("two sampling periods"))
    {
        e.notes.push(format!(
            "the run ({:.0} ms) is shorter than two sampling periods ({:.0} ms): its telemetry rests on {} reading{}; {LONGER_RUN}",
            e.window.duration_s * 1e3,
            trace.period_s * 1e3,
            e.window.samples,
            if e.window.samples == 1 { "" } else { "s" }
        ));
    }
    e
}

/// Joules per frame covered by a predicted clip (`predicted x stride` frames, as in
/// `Throughput::labelled_fps`): average power / labelled fps. `None` where the run has no
/// energy total or labelled no frame.
pub fn energy_per_frame_j(energy: &Energy, labelled_frames: usize) -> Option<f64> {
    let total = energy.total.as_ref()?;
    (labelled_frames > 0).then(|| total.energy_j / labelled_frames as f64)
}

/// Whether the throttle verdict says the numbers were taken on a slowed-down device.
pub fn throttled(energy: &Energy) -> bool {
    energy.throttle.verdict.slowed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::telemetry::sampler::Sample;
    use edgebench_core::telemetry::{Channel, Probe, Quantity};
    use std::time::Duration;

    fn channel(name: &str, q: Quantity) -> Channel {
        Channel {
            name: name.into(),
            device: "dev".into(),
            quantity: q,
            in_total: true,
            source: "fake".into(),
        }
    }

    /// Readings at 0 and 1 s of a 1 s sampling period, one value each.
    fn trace(channels: Vec<Channel>, value: f64) -> Trace {
        let samples = [0.0, 1.0]
            .iter()
            .map(|&t| Sample {
                t_s: t,
                values: vec![Some(value); channels.len()],
            })
            .collect();
        Trace {
            channels,
            origin: Instant::now(),
            period_s: 1.0,
            samples,
            read_s: vec![1e-5; 2],
        }
    }

    fn telemetry() -> Telemetry {
        Telemetry::from_probe(Probe::default(), Duration::from_secs(1))
    }

    #[test]
    fn a_short_run_is_noted_with_the_fix_that_applies_to_video() {
        let t = telemetry();
        let tr = trace(vec![channel("power", Quantity::PowerW)], 20.0);
        let (a, b) = (
            tr.origin + Duration::from_millis(100),
            tr.origin + Duration::from_millis(300),
        );
        let e = pipeline_energy(&t, &tr, a, b, 4, 40.0);
        assert_eq!(e.window.kind, WindowKind::Pipeline);
        let total = e.total.as_ref().expect("a power sensor gives a total");
        // 20 W over 0.2 s, 4 clips; 40 labelled frames per second at 20 W.
        assert!((total.energy_j - 4.0).abs() < 1e-9);
        assert!((total.energy_per_inference_j - 1.0).abs() < 1e-9);
        assert!((total.fps_per_w.unwrap() - 2.0).abs() < 1e-9);
        assert!((energy_per_frame_j(&e, 16).unwrap() - 0.25).abs() < 1e-9);
        assert_eq!(e.notes.len(), 1, "{:?}", e.notes);
        assert!(e.notes[0].contains("shorter than two sampling periods"));
        assert!(e.notes[0].contains("--duration"), "{}", e.notes[0]);
        assert!(!e.notes[0].contains("raise --energy-min-time"));

        // A clock but no power sensor: no total, and the short run is still said.
        let tr = trace(vec![channel("cpu clock", Quantity::ClockMhz)], 2000.0);
        let e = pipeline_energy(&t, &tr, a, b, 4, 40.0);
        assert!(e.total.is_none() && e.total_na.is_some());
        assert_eq!(energy_per_frame_j(&e, 16), None);
        assert_eq!(e.notes.len(), 1, "{:?}", e.notes);
        assert!(e.notes[0].contains("(200 ms) is shorter than two sampling periods (1000 ms)"));

        // Nothing to read at all: nothing to note.
        let e = pipeline_energy(&t, &trace(vec![], 0.0), a, b, 4, 40.0);
        assert!(e.notes.is_empty(), "{:?}", e.notes);
    }
}
