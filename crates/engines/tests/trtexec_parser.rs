//! trtexec's output, as its documentation shows it (`=== Performance summary ===`, the
//! `--exportTimes` and `--exportOutput` files), parsed into edgebench's terms. No TensorRT is
//! needed: the fixtures hold the documented format.

use edgebench_core::tensor::TensorData;
use edgebench_engines::tensorrt::{parse_outputs, parse_summary, parse_times};

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn performance_summary() {
    let s = parse_summary(&fixture("trtexec-resnet18-fp16.log")).unwrap();
    assert_eq!(s.tensorrt_version.as_deref(), Some("10.3.0"));
    assert!(s.passed);
    assert_eq!(s.throughput_qps, Some(843.05));
    let l = s.latency_ms.unwrap();
    assert_eq!(
        (l.min, l.max, l.mean, l.median),
        (1.18204, 2.40137, 1.22893, 1.21777)
    );
    assert_eq!(
        l.percentiles,
        vec![(90.0, 1.25), (95.0, 1.27539), (99.0, 1.50317)]
    );
    assert_eq!(s.gpu_compute_ms.unwrap().median, 1.16016);
    assert_eq!(s.enqueue_ms.unwrap().mean, 0.40125);
    assert_eq!(s.h2d_ms.unwrap().max, 0.09595);
    assert_eq!(s.d2h_ms.unwrap().min, 0.00391);
    assert_eq!(s.total_host_walltime_s, Some(3.00214));
    assert_eq!(s.total_gpu_compute_s, Some(2.96427));
}

#[test]
fn summary_without_timestamps_and_a_failed_run() {
    // Older trtexec prints `[I]` without the date; a failed run has no summary.
    let log = fixture("trtexec-resnet18-fp16.log");
    let bare: String = log
        .lines()
        .map(|l| {
            l.split_once("] [I]")
                .map(|(_, r)| format!("[I]{r}"))
                .unwrap_or(l.to_string())
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        parse_summary(&bare).unwrap().latency_ms.unwrap().median,
        1.21777
    );
    let failed = "&&&& RUNNING TensorRT.trtexec [TensorRT v8601] # trtexec --onnx=x.onnx\n[11/26/2025-10:00:00] [E] Error[4]: [network.cpp::validate::2789] Error Code 4: Internal Error\n&&&& FAILED TensorRT.trtexec [TensorRT v8601] # trtexec --onnx=x.onnx\n";
    let e = parse_summary(failed).unwrap_err();
    assert!(e.contains("no performance summary"), "{e}");
}

#[test]
fn exported_times_are_the_raw_samples() {
    let t = parse_times(&fixture("trtexec-times.json")).unwrap();
    assert_eq!(t, vec![1.223, 1.218, 1.236]);
    assert!(parse_times("{}").is_err());
    assert!(parse_times("[{\"startEnqMs\": 1}]").is_err());
}

#[test]
fn exported_outputs_feed_the_gate() {
    let o = parse_outputs(&fixture("trtexec-outputs.json")).unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].name, "logits");
    assert_eq!(o[0].shape, vec![1, 4]);
    assert_eq!(o[0].data, TensorData::F32(vec![0.125, -1.5, 3.25, 0.0]));
    assert!(parse_outputs("[{\"name\":\"x\",\"dimensions\":\"1xq\",\"values\":[]}]").is_err());
}
