//! The study's views with energy: report.md, results.csv, the terminal table and report.html
//! of a made-up study whose telemetry is built by hand; the n/a path shows the reason and
//! never a zero; a throttled variant is marked with its detail; user text stays escaped.

use edgebench_core::engine::EngineSpec;
use edgebench_core::gate::{Agreement, Tolerance};
use edgebench_core::host::HostInfo;
use edgebench_core::schema::{Status, ToolInfo, VariantResult};
use edgebench_core::telemetry::energy::{
    DevicePower, Energy, EnergyMethod, SamplerCost, Throttle, ThrottleVerdict, Totals, WindowInfo,
    WindowKind,
};
use edgebench_core::tensor::{ConcreteSpec, DType};
use edgebench_report::{html, study_csv, study_md};
use edgebench_study::analysis::{analyse, Summary};
use edgebench_study::config;
use edgebench_study::plan;
use edgebench_study::results::{Loaded, Measurement, ModelFacts, Session};
use std::path::Path;

const HOSTILE: &str = "<script>alert(1)</script>";

const CONFIG: &str = r#"
name = "energy views"
baseline = "tract:reference"
variants = ["tract:optimized"]
[[model]]
source = "zoo:mobilenet_v3_small?classes=2"
label = "<script>alert(1)</script>"
[[model]]
source = "zoo:resnet18?classes=2"
[[model]]
source = "zoo:c3d_small?classes=4"
"#;

const NO_SENSOR: &str = "no power sensor: rapl: no /sys/class/powercap";

/// One GPU's telemetry: `j` joules per inference over 100 inferences in 2 s (counter), its
/// sampled power 5% higher; `None`: no power sensor.
fn energy(j: Option<f64>, throttled: bool) -> Energy {
    let total = j.map(|j| Totals {
        devices: vec!["gpu0".into()],
        avg_power_w: j * 50.0,
        peak_power_w: Some(j * 60.0),
        energy_j: j * 100.0,
        energy_per_inference_j: j,
        inferences_per_j: 1.0 / j,
        fps_per_w: Some(1.0 / j),
        idle_power_w: Some(10.0),
        energy_per_inference_above_idle_j: Some(j - 0.2),
        grid_gco2_per_kwh: Some(400.0),
        co2_g_per_1000_inferences: Some(j * 1000.0 / 3.6e6 * 400.0),
    });
    Energy {
        window: WindowInfo {
            kind: WindowKind::Sampling,
            duration_s: 2.0,
            inferences: 100,
            samples: 40,
        },
        devices: total
            .iter()
            .map(|t| DevicePower {
                device: "gpu0".into(),
                source: "nvml".into(),
                in_total: true,
                avg_power_w: Some(t.avg_power_w * 1.05),
                peak_power_w: t.peak_power_w,
                energy_j: Some(t.energy_j),
                method: Some(EnergyMethod::Counter),
                power_x_time_j: Some(t.energy_j * 1.05),
                idle_power_w: Some(10.0),
                temperature_max_c: None,
                utilization_mean_pct: None,
                memory_used_max_mib: None,
            })
            .collect(),
        total_na: total.is_none().then(|| NO_SENSOR.to_owned()),
        total,
        clocks: vec![],
        throttle: if throttled {
            Throttle {
                verdict: ThrottleVerdict::Throttled,
                reasons: vec!["gpu0: sw_power_cap".into()],
                detail: format!("throttle reasons fired: gpu0: sw_power_cap {HOSTILE}"),
            }
        } else {
            Throttle {
                verdict: ThrottleVerdict::Ok,
                reasons: vec![],
                detail: "no throttle reason fired".into(),
            }
        },
        unavailable: vec![],
        sampler: SamplerCost {
            period_ms: 50.0,
            readings: 50,
            mean_read_ms: 0.1,
            max_read_ms: 0.2,
            busy_pct: 0.2,
        },
        notes: vec![],
        work_unmeasured: None,
    }
}

/// Baselines at 10 ms and 4 J per inference (c3d_small 500 ms per clip); the optimized
/// variant twice as fast; its energy per inference from `optimized_j`. `baseline_j` None:
/// no sensor anywhere.
fn study(baseline_j: Option<f64>, optimized_j: impl Fn(&str) -> Option<f64>) -> Summary {
    let cfg = config::parse(CONFIG, "energy.toml", Path::new(".")).unwrap();
    let plan = plan::resolve(&cfg).unwrap();
    let session = Session {
        schema_version: 1,
        started_unix: 0.0,
        resumed: false,
        tool: ToolInfo {
            name: "edgebench".into(),
            version: "0".into(),
            git_commit: "test".into(),
        },
        host: HostInfo {
            cpu: "test cpu".into(),
            physical_cores: Some(2),
            logical_cpus: 2,
            memory_bytes: 1 << 30,
            os: "test".into(),
            kernel: "0".into(),
            arch: "x86_64".into(),
        },
        config: cfg.clone(),
        plan: plan.clone(),
    };
    let mut measurements = vec![];
    for job in &plan.jobs {
        let m = &plan.models[job.model];
        let video = m.label == "c3d_small";
        let base_ms = if video { 500.0 } else { 10.0 };
        let ms = if job.is_baseline {
            base_ms
        } else {
            base_ms / 2.0
        };
        let raw: Vec<f64> = (0..21).map(|i| ms * (1.0 + i as f64 * 1e-3)).collect();
        let mut r = VariantResult::failed(&EngineSpec::parse(&job.spec).unwrap(), String::new());
        r.status = Status::Ok;
        r.error = None;
        r.latency_ms = edgebench_core::stats::summarize(&raw, 0);
        r.throughput_per_s = r.latency_ms.as_ref().map(|s| 1e3 / s.median);
        r.samples = raw.len();
        r.raw_ms = raw;
        let (j, throttled) = if job.is_baseline {
            (baseline_j, false)
        } else {
            (optimized_j(&m.label), m.label == "resnet18")
        };
        r.energy = Some(energy(j, throttled));
        if !job.is_reference {
            r.accuracy = Some(Agreement {
                max_abs_err: 0.0,
                max_rel_err: 0.0,
                min_cosine: 1.0,
                top1: None,
                top5: None,
                input_sets: 1,
                tolerance: Tolerance::for_precision("f32"),
                passed: true,
                reason: None,
                decided_by: None,
                top1_rows: None,
                outputs: vec![],
            });
        }
        measurements.push(Measurement {
            schema_version: 1,
            key: job.key.clone(),
            model: ModelFacts {
                label: m.label.clone(),
                source: m.source.clone(),
                task: m.task,
                sha256: None,
                inputs: vec![ConcreteSpec {
                    name: "input".into(),
                    dtype: DType::F32,
                    shape: if video {
                        vec![1, 3, 16, 112, 112]
                    } else {
                        vec![1, 3, 224, 224]
                    },
                }],
                params: Some(1000),
                macs: Some(1_000_000),
                flops: Some(2_000_000),
            },
            batch: 1,
            spec: job.spec.clone(),
            is_baseline: job.is_baseline,
            is_reference: job.is_reference,
            result: r,
            wall_s: 1.0,
            finished_unix: 0.0,
        });
    }
    analyse(&Loaded {
        sessions: vec![session],
        measurements,
        torn: false,
        valid_len: 0,
    })
    .unwrap()
}

/// mobilenet 4 J -> 1 J, resnet18 4 J -> 2 J (throttled), c3d_small: no sensor on the variant.
fn measured() -> Summary {
    study(Some(4.0), |m| match m {
        "resnet18" => Some(2.0),
        "c3d_small" => None,
        _ => Some(1.0),
    })
}

fn none_measured() -> Summary {
    study(None, |_| None)
}

/// The cells of the Markdown table row that starts with `model` and names `spec`.
fn md_row(md: &str, model: &str, spec: &str, after: &str) -> Vec<String> {
    let part = &md[md.find(after).unwrap()..];
    let line = part
        .lines()
        .find(|l| l.starts_with(&format!("| {model} |")) && l.contains(&format!("`{spec}`")))
        .unwrap();
    line.trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_owned())
        .collect()
}

#[test]
fn report_md_has_energy_per_inference_ratio_and_throttle() {
    let md = study_md::render(&measured());
    let r = md_row(
        &md,
        "resnet18",
        "tract:optimized",
        "## Energy per inference",
    );
    // Power W, Peak W, Idle W, mJ/inference, Above idle mJ, Energy ratio, Inferences/J,
    // FPS/W, CO2 g/1000, check, throttle.
    assert_eq!(
        r[2..],
        [
            "100",
            "120",
            "10.0",
            "2000",
            "1800",
            "2.00x",
            "0.500",
            "0.500",
            "0.222",
            "2100 (+5.0%)",
            "⚠ throttled"
        ]
    );
    let b = md_row(
        &md,
        "resnet18",
        "tract:reference",
        "## Energy per inference",
    );
    assert_eq!(b[7], "baseline");
    let c = md_row(
        &md,
        "c3d_small",
        "tract:optimized",
        "## Energy per inference",
    );
    assert_eq!(c[2..9], ["n/a", "n/a", "n/a", "n/a", "n/a", "-", "n/a"]);
    assert!(md.contains(&format!(
        "- Energy n/a for c3d_small `tract:optimized`: {NO_SENSOR}"
    )));
    // The throttled variant is listed with its detail, escaped.
    assert!(md.contains(
        "- ⚠ resnet18 `tract:optimized`: throttle reasons fired: gpu0: sw_power_cap &lt;script&gt;"
    ));
    assert!(!md.contains("<script>"));
    // Classification: energy ratios 4 and 2, geometric mean 2.83 over 2 models.
    assert!(md.contains("| 2.83x (n=2) |"), "{md}");
}

#[test]
fn report_md_without_any_sensor_says_why_once_and_shows_no_zero() {
    let md = study_md::render(&none_measured());
    assert!(md.contains(&format!("Energy is n/a: {NO_SENSOR}.")));
    assert_eq!(md.matches(NO_SENSOR).count(), 1, "{md}");
    let r = md_row(
        &md,
        "resnet18",
        "tract:reference",
        "## Energy per inference",
    );
    assert_eq!(
        r[2..11],
        ["n/a", "n/a", "n/a", "n/a", "n/a", "baseline", "n/a", "n/a", "-"]
    );
    let section =
        &md[md.find("## Energy per inference").unwrap()..md.find("## Do smaller").unwrap()];
    assert!(!section.contains("| 0 "), "{section}");
}

#[test]
fn results_csv_energy_columns() {
    let text = study_csv::render(&measured()).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let head = rd.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    let get = |model: &str, spec: &str, col: &str| {
        let i = head.iter().position(|h| h == col).unwrap();
        let r = rows
            .iter()
            .find(|r| &r[0] == model && &r[6] == spec)
            .unwrap();
        r[i].to_owned()
    };
    assert_eq!(
        get("resnet18", "tract:optimized", "energy_per_inference_j"),
        "2"
    );
    assert_eq!(get("resnet18", "tract:optimized", "energy_ratio"), "2");
    assert_eq!(get("resnet18", "tract:optimized", "avg_power_w"), "100");
    assert_eq!(get("resnet18", "tract:optimized", "throttle"), "throttled");
    assert_eq!(get("resnet18", "tract:optimized", "counter_j"), "2");
    assert_eq!(get("resnet18", "tract:optimized", "power_x_time_j"), "2.1");
    assert_eq!(
        get("resnet18", "tract:optimized", "energy_window"),
        "sampling"
    );
    assert_eq!(get("resnet18", "tract:reference", "energy_ratio"), "");
    assert_eq!(
        get("c3d_small", "tract:optimized", "energy_per_inference_j"),
        ""
    );
    assert_eq!(get("c3d_small", "tract:optimized", "avg_power_w"), "");
    assert_eq!(
        get("c3d_small", "tract:optimized", "energy_na_reason"),
        NO_SENSOR
    );
    assert_eq!(get("c3d_small", "tract:optimized", "throttle"), "ok");
}

#[test]
fn terminal_table_has_energy_columns() {
    let t = study_md::terminal_table(&measured());
    assert!(
        t.contains("mJ/inference") && t.contains("energy ratio"),
        "{t}"
    );
    assert!(t.contains("⚠ throttled"), "{t}");
    assert!(t.contains(&format!(
        "energy: n/a for c3d_small tract:optimized: {NO_SENSOR}"
    )));
    assert!(
        t.contains("energy ratio of tract:optimized on classification: 2.83x (n=2)"),
        "{t}"
    );
    let t = study_md::terminal_table(&none_measured());
    assert!(t.contains(&format!("energy: n/a: {NO_SENSOR}\n")), "{t}");
}

#[test]
fn html_has_the_energy_charts_and_marks_throttling() {
    let page = html::render(&measured());
    assert!(page.contains("aria-label=\"energy per inference, classification\""));
    assert!(page.contains("aria-label=\"energy ratio against speed-up\""));
    // The throttled bar and point are marked; the detail is listed, escaped.
    assert!(page.contains(">⚠ throttled</text>"));
    assert!(page.contains(
        "<li class=\"throttled\">&#9888; resnet18 <code>tract:optimized</code>: throttle reasons fired: gpu0: sw_power_cap &lt;script&gt;alert(1)&lt;/script&gt;</li>"
    ));
    assert!(!page.contains("<script"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains(&format!(
        "<li>Energy n/a for c3d_small <code>tract:optimized</code>: {}</li>",
        html::esc(NO_SENSOR)
    )));
    assert!(!page.contains("Energy is n/a"));
}

#[test]
fn html_without_any_sensor_replaces_the_charts_with_the_reason() {
    let page = html::render(&none_measured());
    assert!(page.contains(&format!(
        "<p class=\"warn\">Energy is n/a: {}</p>",
        html::esc(NO_SENSOR)
    )));
    assert!(!page.contains("aria-label=\"energy per inference"));
    assert!(!page.contains("aria-label=\"energy ratio against speed-up\""));
    let section = &page[page.find("id=\"energy\"").unwrap()..page.find("id=\"trend\"").unwrap()];
    assert!(
        !section.contains(">0<") && !section.contains(">0.0<"),
        "{section}"
    );
}

#[test]
fn html_draws_no_energy_bar_for_work_no_sensor_measured() {
    let mut s = measured();
    let row = s
        .rows
        .iter_mut()
        .find(|r| {
            r.energy
                .as_ref()
                .is_some_and(|e| e.energy_per_inference_j.is_some())
        })
        .unwrap();
    let spec = row.spec.clone();
    row.energy.as_mut().unwrap().work_unmeasured =
        Some("the work ran on cpu, which no sensor here measures".into());
    let page = html::render(&s);
    assert!(
        page.contains(&format!(
            "{}: its device has no power sensor here",
            html::esc(&spec)
        )),
        "no label for the unmeasured bar"
    );
}
