//! A fleet: one study measured on several devices (shards merged by `edgebench merge`, each
//! measurement naming its device). Each device is analysed on its own sessions and
//! measurements, exactly as a study run on that device alone ([`super::analyse_device`]):
//! speed-ups, averages, the FLOPs trend, real time, energy, failures and its missing cells.
//! Nothing is averaged across devices; the devices meet only in the cross-device view, which
//! sets each model's baseline and best variant on every device side by side.
//!
//! The top level of a fleet's summary: every device's rows and failures, each tagged with its
//! device (so the exit code and any reader of `rows` see them all), no averages and no trends,
//! and as pending every device's missing cells of the whole plan (`DEVICE: KEY`).

use super::{analyse_device, hosts_of, Pending};
use crate::schema::study::{
    CrossDevice, DeviceCell, DeviceSummary, Loaded, Row, Shard, StudySession, StudySummary, Task,
};

/// The label of measurements that name no device, in a study whose other measurements do.
pub const UNNAMED: &str = "unnamed device";

/// The device a measurement or session names, with [`UNNAMED`] for none.
fn label(device: &Option<String>) -> &str {
    device.as_deref().unwrap_or(UNNAMED)
}

/// The devices of a study, sorted by label: those its measurements name, and those of its
/// shard sessions (a device whose shards measured nothing yet is still a device of the fleet).
/// Plain sessions do not count: a study resumed on another machine is still one device. When
/// some devices are named and some measurements name none, those are [`UNNAMED`].
pub fn devices(loaded: &Loaded) -> Vec<String> {
    let mut out: Vec<String> = loaded
        .measurements
        .iter()
        .filter_map(|m| m.device.clone())
        .chain(
            loaded
                .sessions
                .iter()
                .filter(|s| s.shard.is_some())
                .filter_map(|s| s.device.clone()),
        )
        .collect();
    if !out.is_empty() && loaded.measurements.iter().any(|m| m.device.is_none()) {
        out.push(UNNAMED.to_owned());
    }
    out.sort();
    out.dedup();
    out
}

/// The part of `loaded` measured on `device`: its measurements, and its sessions (all of them
/// when none names it, so that its plan and config are still known).
pub fn of_device(loaded: &Loaded, device: &str) -> Loaded {
    let mut sessions: Vec<StudySession> = loaded
        .sessions
        .iter()
        .filter(|s| label(&s.device) == device)
        .cloned()
        .collect();
    if sessions.is_empty() {
        sessions = loaded.sessions.clone();
    }
    Loaded {
        sessions,
        measurements: loaded
            .measurements
            .iter()
            .filter(|m| label(&m.device) == device)
            .cloned()
            .collect(),
        torn: loaded.torn,
        valid_len: loaded.valid_len,
    }
}

/// The findings of a fleet: each device's own, the cross-device view, and the top level
/// described in the module's documentation.
pub fn analyse(loaded: &Loaded) -> Option<StudySummary> {
    let session = loaded.sessions.last()?;
    let mut devices = vec![];
    for device in self::devices(loaded) {
        let part = of_device(loaded, &device);
        let mut s = analyse_device(&part, Pending::WholePlan)?;
        for r in &mut s.rows {
            r.device = Some(device.clone());
        }
        for f in &mut s.failures {
            f.device = Some(device.clone());
        }
        let mut shards: Vec<Shard> = part.sessions.iter().filter_map(|s| s.shard).collect();
        shards.sort_by_key(|s| (s.count, s.index));
        shards.dedup();
        devices.push(DeviceSummary {
            device,
            hosts: s.hosts,
            sessions: part.sessions.len(),
            shards,
            baseline: s.baseline,
            baseline_note: s.baseline_note,
            reference: s.reference,
            variants: s.variants,
            notes: s.notes,
            engines: s.engines,
            rows: s.rows,
            averages: s.averages,
            trends: s.trends,
            failures: s.failures,
            pending: s.pending,
        });
    }
    let plan = &session.plan;
    Some(StudySummary {
        schema_version: crate::SCHEMA_VERSION,
        name: session.config.name.clone(),
        tool: session.tool.clone(),
        hosts: hosts_of(&loaded.sessions),
        sessions: loaded.sessions.len(),
        started_unix: loaded
            .sessions
            .iter()
            .map(|s| s.started_unix)
            .fold(f64::INFINITY, f64::min),
        baseline: plan.baseline.clone(),
        baseline_note: plan.baseline_note.clone(),
        reference: plan.reference.clone(),
        variants: plan.variants.clone(),
        notes: plan.notes.clone(),
        engines: plan.engines.clone(),
        config: session.config.clone(),
        rows: devices.iter().flat_map(|d| d.rows.clone()).collect(),
        averages: vec![],
        trends: vec![],
        failures: devices.iter().flat_map(|d| d.failures.clone()).collect(),
        pending: devices
            .iter()
            .flat_map(|d| d.pending.iter().map(move |k| format!("{}: {k}", d.device)))
            .collect(),
        cross_device: cross_device(&devices),
        devices,
    })
}

/// Joules per inference of a row, when measured and attributable to its own work.
fn energy_j(r: &Row) -> Option<f64> {
    r.energy
        .as_ref()
        .filter(|e| e.work_unmeasured.is_none())
        .and_then(|e| e.energy_per_inference_j)
}

/// Each model at each batch size (in the order the devices list them) on every device.
pub fn cross_device(devices: &[DeviceSummary]) -> Vec<CrossDevice> {
    let mut models: Vec<(&str, usize, Task)> = vec![];
    for r in devices.iter().flat_map(|d| &d.rows) {
        if !models.iter().any(|m| m.0 == r.model && m.1 == r.batch) {
            models.push((&r.model, r.batch, r.task));
        }
    }
    models
        .into_iter()
        .map(|(model, batch, task)| CrossDevice {
            model: model.to_owned(),
            task,
            batch,
            devices: devices
                .iter()
                .map(|d| {
                    let of_model = || {
                        d.rows
                            .iter()
                            .filter(|r| r.model == model && r.batch == batch)
                    };
                    let baseline = of_model().find(|r| r.is_baseline);
                    let best = of_model()
                        .filter(|r| !r.is_baseline && r.counted && r.median_ms.is_some())
                        .min_by(|a, b| {
                            let (a, b) = (a.median_ms.unwrap_or(0.0), b.median_ms.unwrap_or(0.0));
                            a.total_cmp(&b)
                        });
                    DeviceCell {
                        device: d.device.clone(),
                        baseline: baseline.map(|b| b.spec.clone()),
                        baseline_ms: baseline.and_then(|b| b.median_ms),
                        baseline_energy_j: baseline.and_then(energy_j),
                        best: best.map(|b| b.spec.clone()),
                        best_ms: best.and_then(|b| b.median_ms),
                        best_speedup: best.and_then(|b| b.speedup.as_ref().map(|s| s.ratio)),
                        best_energy_j: best.and_then(energy_j),
                    }
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, FLEET_DEVICES};
    use crate::schema::study::{Average, Failure};

    fn fleet() -> StudySummary {
        super::super::analyse(&fixtures::fleet()).unwrap()
    }

    /// The part of the fleet measured on `device`, as a plain study run on that device alone
    /// would have recorded it: no shard, no device named.
    fn alone(device: &str) -> Loaded {
        let mut part = of_device(&fixtures::fleet(), device);
        for s in &mut part.sessions {
            s.shard = None;
            s.device = None;
        }
        for m in &mut part.measurements {
            m.device = None;
        }
        part
    }

    fn average<'a>(avgs: &'a [Average], variant: &str) -> &'a Average {
        avgs.iter()
            .find(|a| a.variant == variant && a.task == Some(Task::Classification))
            .unwrap()
    }

    #[test]
    fn each_device_is_analysed_exactly_as_if_it_had_run_the_study_alone() {
        let s = fleet();
        assert!(s.is_fleet());
        let names: Vec<&str> = s.devices.iter().map(|d| d.device.as_str()).collect();
        assert_eq!(names, FLEET_DEVICES);
        for d in &s.devices {
            let one = super::super::analyse(&alone(&d.device)).unwrap();
            assert!(!one.is_fleet());
            assert_eq!(d.averages, one.averages, "{}", d.device);
            assert_eq!(d.trends, one.trends, "{}", d.device);
            let untagged: Vec<Row> = d
                .rows
                .iter()
                .map(|r| Row {
                    device: None,
                    ..r.clone()
                })
                .collect();
            assert_eq!(untagged, one.rows, "{}", d.device);
            let untagged: Vec<Failure> = d
                .failures
                .iter()
                .map(|f| Failure {
                    device: None,
                    ..f.clone()
                })
                .collect();
            assert_eq!(untagged, one.failures, "{}", d.device);
            assert_eq!(d.pending, one.pending, "{}", d.device);
            assert_eq!(
                d.shards,
                [Shard { index: 1, count: 2 }, Shard { index: 2, count: 2 }]
            );
            assert_eq!(d.hosts.len(), 1);
            assert_eq!(d.hosts[0].hostname.as_deref(), Some(d.device.as_str()));
        }
    }

    #[test]
    fn no_row_of_one_device_counts_in_another_devices_averages() {
        let s = fleet();
        let (orin, h100) = (&s.devices[0], &s.devices[1]);
        // orin-nano: 4x, 2x, 1x; rack-h100: 1x, 2x, 8x. Over all six rows it would be 2.52x
        // with n = 6.
        let a = average(&orin.averages, "tract:optimized");
        assert_eq!(a.n, 3);
        assert!((a.geomean_ratio.unwrap() - 2.0).abs() < 1e-9);
        assert!((a.mean_percent.unwrap() - 400.0 / 3.0).abs() < 1e-9);
        let b = average(&h100.averages, "tract:optimized");
        assert_eq!(b.n, 3);
        assert!((b.geomean_ratio.unwrap() - 16f64.cbrt()).abs() < 1e-9);
        assert!((b.mean_percent.unwrap() - 800.0 / 3.0).abs() < 1e-9);
        // onnxruntime:all on rack-h100: resnet18 failed the gate, vgg11 not measured.
        let c = average(&h100.averages, "onnxruntime:all");
        assert_eq!(c.models, ["mobilenet_v3_small"]);
        assert!((c.geomean_ratio.unwrap() - 1.6).abs() < 1e-9);
        // Energy: orin-nano measured 0.8 J -> 0.4 J everywhere; rack-h100 has no sensor.
        assert_eq!(a.energy_n, 3);
        assert!((a.energy_geomean_ratio.unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(b.energy_n, 0);
        for d in &s.devices {
            assert!(d
                .rows
                .iter()
                .all(|r| r.device.as_deref() == Some(&d.device)));
        }
        assert!(s.averages.is_empty() && s.trends.is_empty());
        assert_eq!(s.rows.len(), orin.rows.len() + h100.rows.len());
        assert_eq!(
            s.failures
                .iter()
                .map(|f| f.device.as_deref())
                .collect::<Vec<_>>(),
            [Some("rack-h100")]
        );
        assert_eq!(s.failure_counts().gate_failed, 1);
    }

    #[test]
    fn a_fleets_pending_is_each_devices_missing_cells_of_the_whole_plan() {
        let s = fleet();
        assert!(s.devices[0].pending.is_empty());
        let missing: Vec<&str> = s.devices[1].pending.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            missing,
            [
                "vgg11|zoo:vgg11?classes=2|batch=1|onnxruntime:all",
                "vgg11|zoo:vgg11?classes=2|batch=1|onnxruntime:all|round=2",
                "vgg11|zoo:vgg11?classes=2|batch=1|onnxruntime:all|round=3",
            ]
        );
        assert_eq!(s.pending.len(), 3);
        assert!(s.pending[0].starts_with("rack-h100: vgg11|"));
        // A device whose shards have measured nothing yet is still a device, all missing.
        let mut loaded = fixtures::fleet();
        let mut idle = loaded.sessions[0].clone();
        idle.device = Some("jetson-nano".into());
        loaded.sessions.push(idle);
        let s = super::super::analyse(&loaded).unwrap();
        let nano = s
            .devices
            .iter()
            .find(|d| d.device == "jetson-nano")
            .unwrap();
        assert!(nano.rows.is_empty());
        assert_eq!(nano.pending.len(), loaded.sessions[0].plan.jobs.len());
    }

    #[test]
    fn a_shards_folder_is_pending_only_its_own_jobs() {
        let fleet = fixtures::fleet();
        let session = fleet.sessions[0].clone();
        let shard = session.shard.unwrap();
        let plan = session.plan.clone();
        let mine: Vec<String> = shard.jobs(&plan).iter().map(|j| j.key.clone()).collect();
        assert!(mine.len() < plan.jobs.len());
        let mut measurements: Vec<_> = fleet
            .measurements
            .iter()
            .filter(|m| m.device.as_deref() == Some(FLEET_DEVICES[0]) && mine.contains(&m.key))
            .cloned()
            .collect();
        let left_out = measurements.pop().unwrap();
        let folder = Loaded {
            sessions: vec![session.clone()],
            measurements,
            ..Loaded::default()
        };
        let s = super::super::analyse(&folder).unwrap();
        assert!(!s.is_fleet(), "one device is not a fleet");
        assert!(s.rows.iter().all(|r| r.device.is_none()));
        assert_eq!(s.pending, [left_out.key]);
        // Nothing measured yet: the shard's jobs, not the plan's.
        let empty = Loaded {
            sessions: vec![session],
            ..Loaded::default()
        };
        let mut pending = super::super::analyse(&empty).unwrap().pending;
        pending.sort();
        let mut mine = mine;
        mine.sort();
        assert_eq!(pending, mine);
    }

    #[test]
    fn a_study_resumed_on_another_host_is_one_device() {
        let mut loaded = fixtures::known_answers();
        let mut moved = loaded.sessions[0].clone();
        loaded.sessions[0].device = Some("host-a".into());
        moved.device = Some("host-b".into());
        moved.resumed = true;
        loaded.sessions.push(moved);
        assert!(devices(&loaded).is_empty());
        assert!(!super::super::analyse(&loaded).unwrap().is_fleet());
    }

    #[test]
    fn the_cross_device_view_sets_each_model_side_by_side() {
        let s = fleet();
        let models: Vec<&str> = s.cross_device.iter().map(|c| c.model.as_str()).collect();
        assert_eq!(models, ["mobilenet_v3_small", "resnet18", "vgg11"]);
        let mobilenet = &s.cross_device[0].devices;
        assert_eq!(mobilenet[0].device, "orin-nano");
        assert_eq!(mobilenet[0].baseline.as_deref(), Some("tract:reference"));
        assert_eq!(mobilenet[0].baseline_ms, Some(40.0));
        assert_eq!(mobilenet[0].best.as_deref(), Some("tract:optimized"));
        assert_eq!(mobilenet[0].best_ms, Some(10.0));
        assert!((mobilenet[0].best_speedup.unwrap() - 4.0).abs() < 1e-9);
        assert_eq!(mobilenet[0].baseline_energy_j, Some(0.8));
        assert_eq!(mobilenet[0].best_energy_j, Some(0.4));
        assert_eq!(mobilenet[1].device, "rack-h100");
        assert_eq!(mobilenet[1].best.as_deref(), Some("onnxruntime:all"));
        assert_eq!(mobilenet[1].baseline_energy_j, None);
        // resnet18 on rack-h100: onnxruntime:all failed the gate, so the best is tract's.
        let resnet = &s.cross_device[1].devices[1];
        assert_eq!(resnet.best.as_deref(), Some("tract:optimized"));
        assert_eq!(resnet.best_ms, Some(2.0));
    }

    #[test]
    fn one_device_writes_the_summary_it_always_wrote() {
        let s = super::super::analyse(&fixtures::known_answers()).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("\"devices\""));
        assert!(!json.contains("\"cross_device\""));
        assert!(!json.contains("\"device\""));
        // Read back and written again, the same document (serde_json's float parsing may
        // differ in the last bit, its printing not).
        let back: StudySummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back.devices, s.devices);
        assert_eq!(back.rows.len(), s.rows.len());
        let fleet = fleet();
        let json = serde_json::to_string(&fleet).unwrap();
        let back: StudySummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back.devices.len(), 2);
        assert_eq!(back.cross_device, fleet.cross_device);
        assert_eq!(back.rows[0].device.as_deref(), Some("orin-nano"));
    }
}
