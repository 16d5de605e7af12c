//! trtexec's real output, parsed into edgebench's terms. The fixtures are copies of files
//! that real trtexec runs wrote, from public sources (see tests/fixtures/README.md):
//! - `trtexec-8.2.5-mobilenetv2-*.log`: trtexec 8.2.5 logs printed in NVIDIA/TensorRT's
//!   quickstart/quantization_tutorial/qat-ptq-workflow.ipynb (release/8.6);
//! - `trex-resnet-a100-*.timing.json` / `*.graph.json`: `--exportTimes` and
//!   `--exportLayerInfo` files of ResNet on an A100 in NVIDIA/TensorRT's
//!   tools/experimental/trt-engine-explorer/examples (release/10.16).

use edgebench_core::tensor::TensorData;
use edgebench_engines::tensorrt::{
    failure_reason, parse_layer_info, parse_outputs, parse_summary, parse_times, parse_version,
    selected_device, TrtVersion,
};

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn a_real_8_2_log() {
    let log = fixture("trtexec-8.2.5-mobilenetv2-fp32.log");
    assert_eq!(parse_version(&log), Some(TrtVersion::new(8, 2, 5)));
    // The log's own "TensorRT version: 8.2.5" line agrees with the decoding of v8205.
    assert!(log.contains("TensorRT version: 8.2.5"));
    assert_eq!(
        selected_device(&log).as_deref(),
        Some("NVIDIA Graphics Device")
    );
    let s = parse_summary(&log).unwrap();
    assert!(s.passed);
    assert_eq!(s.throughput_qps, Some(166.041));
    let l = s.latency_ms.unwrap();
    assert_eq!(
        (l.min, l.max, l.mean, l.median),
        (8.90146, 9.52582, 9.04623, 8.99896)
    );
    assert_eq!(l.percentiles, vec![(99.0, 9.50714)]);
    assert_eq!(s.enqueue_ms.unwrap().median, 2.05432);
    assert_eq!(s.h2d_ms.unwrap().mean, 3.03002);
    assert_eq!(s.gpu_compute_ms.unwrap().median, 5.94946);
    assert_eq!(s.d2h_ms.unwrap().max, 0.0134277);
    assert_eq!(s.total_host_walltime_s, Some(3.01732));
    assert_eq!(s.total_gpu_compute_s, Some(3.00965));
}

#[test]
fn a_real_int8_log_and_a_failed_run() {
    let s = parse_summary(&fixture("trtexec-8.2.5-mobilenetv2-int8.log")).unwrap();
    assert_eq!(s.gpu_compute_ms.unwrap().median, 1.59741);
    // A run that failed has no summary, and its errors say why.
    let log = fixture("trtexec-8.2.5-mobilenetv2-fp32.log");
    let head: String = log.lines().take(40).collect::<Vec<_>>().join("\n");
    let failed = format!(
        "{head}\n[07/25/2022-16:42:23] [E] Unknown option: --onnx \n[07/25/2022-16:42:23] [E] Unknown option: models/m.onnx \n&&&& FAILED TensorRT.trtexec [TensorRT v8205] # trtexec --onnx models/m.onnx\n"
    );
    assert!(parse_summary(&failed)
        .unwrap_err()
        .to_string()
        .contains("no performance summary"));
    let why = failure_reason(&failed);
    assert!(why.starts_with("Unknown option: --onnx"), "{why}");
}

#[test]
fn version_headers_of_10_x_and_11_x() {
    // The 10.x header (logging.h of 10.16: `[TensorRT v" << NV_TENSORRT_VERSION << "] [b"`),
    // as in the log of NVIDIA/TensorRT issue #4036 (TensorRT 10.2.0.19).
    let h = "&&&& RUNNING TensorRT.trtexec [TensorRT v100200] # D:\\TensorRT-10.2.0.19\\bin\\trtexec.exe --loadEngine=FM_P_D_fp16.engine";
    assert_eq!(parse_version(h), Some(TrtVersion::new(10, 2, 0)));
    let h = "&&&& RUNNING TensorRT.trtexec [TensorRT v110100] [b106] # trtexec --onnx=m.onnx";
    assert_eq!(parse_version(h), Some(TrtVersion::new(11, 1, 0)));
}

#[test]
fn real_export_times() {
    let t = parse_times(&fixture("trex-resnet-a100-fp16.timing.json")).unwrap();
    assert_eq!(t.len(), 40);
    let q = t[0];
    // { "startEnqMs" : 2.67333, "endEnqMs" : 2.70722, ... "computeMs" : 0.873472, ... }
    assert_eq!(q.latency, 0.873472);
    assert_eq!(q.compute, 0.873472);
    assert_eq!((q.h2d, q.d2h), (0.0, 0.0));
    assert!((q.enqueue() - (2.70722 - 2.67333)).abs() < 1e-12);
    assert_eq!(t[1].latency, 0.8448);
    assert!(parse_times("{}").is_err());
    assert!(parse_times("[{\"startEnqMs\": 1}]").is_err());
}

#[test]
fn real_layer_information() {
    let fp32 = parse_layer_info(&fixture("trex-resnet-a100-fp32.graph.json"))
        .unwrap()
        .unwrap();
    assert_eq!(fp32.lowest(), Some("f32"));
    assert_eq!(fp32.counts.keys().collect::<Vec<_>>(), vec!["f32"]);
    let fp16 = parse_layer_info(&fixture("trex-resnet-a100-fp16.graph.json"))
        .unwrap()
        .unwrap();
    assert_eq!(fp16.lowest(), Some("f16"));
    let qat = parse_layer_info(&fixture("trex-resnet-a100-qat.graph.json"))
        .unwrap()
        .unwrap();
    assert_eq!(qat.lowest(), Some("int8"));
    // 23 compute layers (12 Reformat and 2 NoOp layers of the 37 only move data).
    assert_eq!(qat.counts.values().sum::<usize>(), 23);
    assert!(qat.describe().starts_with("int8 "), "{}", qat.describe());
    // Without detailed verbosity the inspector lists names only.
    assert_eq!(
        parse_layer_info(r#"{"Layers": ["conv1", "relu1"], "Bindings": ["x", "y"]}"#).unwrap(),
        None
    );
}

#[test]
fn exported_outputs_feed_the_gate() {
    // Exactly as exportJSONOutput (sampleReporting.cpp) writes it.
    let j = "[\n  { \"name\" : \"logits\"\n  , \"dimensions\" : \"1x4\"\n  , \"values\" : [ 0.125, -1.5, 3.25, 0 ]\n  }\n, { \"name\" : \"aux\"\n  , \"dimensions\" : \"2\"\n  , \"values\" : [ 1, 2 ]\n  }\n]\n";
    let o = parse_outputs(j).unwrap();
    assert_eq!(o.len(), 2);
    assert_eq!(o[0].name, "logits");
    assert_eq!(o[0].shape, vec![1, 4]);
    assert_eq!(o[0].data, TensorData::F32(vec![0.125, -1.5, 3.25, 0.0]));
    assert_eq!(o[1].shape, vec![2]);
    assert!(parse_outputs("[{\"name\":\"x\",\"dimensions\":\"1xq\",\"values\":[]}]").is_err());
}
