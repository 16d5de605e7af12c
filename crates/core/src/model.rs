//! Model intake: read an ONNX file (or bytes built in memory), check it is a well-formed,
//! safe model, and describe its inputs and outputs. Nothing here runs the model.

use crate::error::{Error, Result};
use crate::tensor::{shape_string, ConcreteSpec, DType, Dim, TensorSpec};
use prost::Message;
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tract_onnx::pb;

/// A loaded, validated ONNX model.
#[derive(Debug, Clone)]
pub struct Model {
    /// What the user called it: the path as given, or `zoo:NAME`.
    pub name: String,
    /// The file it came from; `None` for models built in memory.
    pub path: Option<PathBuf>,
    /// The raw ONNX bytes (engines that take a buffer get exactly these).
    pub bytes: Arc<Vec<u8>>,
    pub sha256: String,
    pub proto: Arc<pb::ModelProto>,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    /// Wall time to read and decode the file, in milliseconds.
    pub load_ms: f64,
}

impl Model {
    /// Reads and validates an ONNX file.
    pub fn from_path(path: &Path) -> Result<Model> {
        let start = Instant::now();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                path: path.to_owned(),
            },
            _ => Error::Unreadable {
                path: path.to_owned(),
                reason: e.to_string(),
            },
        })?;
        if meta.is_dir() {
            return Err(Error::IsDirectory {
                path: path.to_owned(),
            });
        }
        if meta.len() == 0 {
            return Err(Error::EmptyFile {
                path: path.to_owned(),
            });
        }
        let bytes = std::fs::read(path).map_err(|e| Error::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mut model = Self::decode(path.display().to_string(), Some(path.to_owned()), bytes)?;
        model.load_ms = start.elapsed().as_secs_f64() * 1e3;
        Ok(model)
    }

    /// Validates ONNX bytes built in memory (the zoo) or received from elsewhere.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Model> {
        let start = Instant::now();
        if bytes.is_empty() {
            return Err(Error::EmptyFile { path: name.into() });
        }
        let mut model = Self::decode(name.to_owned(), None, bytes)?;
        model.load_ms = start.elapsed().as_secs_f64() * 1e3;
        Ok(model)
    }

    fn decode(name: String, path: Option<PathBuf>, bytes: Vec<u8>) -> Result<Model> {
        let shown: PathBuf = path.clone().unwrap_or_else(|| name.clone().into());
        let proto = pb::ModelProto::decode(&bytes[..])
            .map_err(|e| classify_decode_error(&shown, &bytes, &e))?;
        let graph = proto.graph.as_ref().ok_or_else(|| Error::NotOnnx {
            path: shown.clone(),
            reason: "no graph in the protobuf".into(),
        })?;
        if graph.node.is_empty() || graph.output.is_empty() {
            return Err(Error::NotOnnx {
                path: shown.clone(),
                reason: "the graph has no nodes or no outputs".into(),
            });
        }
        if proto.ir_version <= 0 && proto.opset_import.is_empty() {
            return Err(Error::NotOnnx {
                path: shown.clone(),
                reason: "no ir_version and no opset_import".into(),
            });
        }
        check_external_data(&name, path.as_deref(), graph)?;
        check_stored_data(&name, graph)?;
        check_acyclic(&name, graph)?;
        let initializers: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name.as_str()))
            .map(value_info_spec)
            .collect();
        let outputs = graph.output.iter().map(value_info_spec).collect();
        let sha256 = hex(&Sha256::digest(&bytes));
        Ok(Model {
            name,
            path,
            bytes: Arc::new(bytes),
            sha256,
            proto: Arc::new(proto),
            inputs,
            outputs,
            load_ms: 0.0,
        })
    }

    /// The folder external data is resolved against, as a string for tract.
    pub fn model_dir(&self) -> Option<String> {
        let dir = self.path.as_ref()?.parent()?;
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        Some(dir.to_string_lossy().into_owned())
    }

    /// The ONNX opset of the default domain (0 when the model does not say).
    pub fn opset(&self) -> i64 {
        self.proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .unwrap_or(0)
    }

    /// Resolves every input to a concrete shape from the model's own declaration, the
    /// user's `--shape` overrides and `--batch`.
    pub fn resolve_inputs(&self, req: &ShapeRequest) -> Result<Vec<ConcreteSpec>> {
        let valid = || {
            self.inputs
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (name, _) in &req.shapes {
            if !self.inputs.iter().any(|i| &i.name == name) {
                return Err(Error::UnknownInput {
                    input: name.clone(),
                    valid: valid(),
                });
            }
        }
        let mut out = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            let declared = shape_string(&input.shape);
            let shape = if let Some((_, given)) = req.shapes.iter().find(|(n, _)| n == &input.name)
            {
                if given.len() != input.shape.len() {
                    return Err(Error::ShapeMismatch {
                        input: input.name.clone(),
                        expected: declared,
                        got: shape_string(given),
                        hint: format!("give {} dimensions", input.shape.len()),
                    });
                }
                for (d, g) in input.shape.iter().zip(given) {
                    if let Dim::Fixed(n) = d {
                        if n != g {
                            return Err(Error::ShapeMismatch {
                                input: input.name.clone(),
                                expected: declared,
                                got: shape_string(given),
                                hint: "only dynamic dimensions can be set with --shape".into(),
                            });
                        }
                    }
                }
                given.clone()
            } else {
                let mut shape = Vec::with_capacity(input.shape.len());
                for (axis, d) in input.shape.iter().enumerate() {
                    match (d, axis, req.batch) {
                        (Dim::Fixed(n), 0, Some(b)) if *n != b => {
                            return Err(Error::ShapeMismatch {
                                input: input.name.clone(),
                                expected: declared,
                                got: format!("batch {b}"),
                                hint: "this model has a fixed batch size; export it with a dynamic batch dimension (or use zoo:NAME?batch=N)".into(),
                            })
                        }
                        (Dim::Fixed(n), _, _) => shape.push(*n),
                        (Dim::Symbolic(_), 0, Some(b)) => shape.push(b),
                        (Dim::Symbolic(s), axis, _) => {
                            let example = input
                                .shape
                                .iter()
                                .enumerate()
                                .map(|(i, d)| match d {
                                    Dim::Fixed(n) => n.to_string(),
                                    Dim::Symbolic(_) if i == 0 => req.batch.unwrap_or(1).to_string(),
                                    Dim::Symbolic(_) => "N".into(),
                                })
                                .collect::<Vec<_>>()
                                .join("x");
                            return Err(Error::DynamicDim {
                                input: input.name.clone(),
                                dim: s.clone(),
                                axis,
                                example,
                            });
                        }
                    }
                }
                shape
            };
            if shape.contains(&0) {
                return Err(Error::ShapeMismatch {
                    input: input.name.clone(),
                    expected: declared,
                    got: shape_string(&shape),
                    hint: "every dimension must be at least 1".into(),
                });
            }
            // Sizes that overflow are refused here, where shapes become concrete, so that no
            // later product of these dimensions can wrap.
            crate::memory::tensor_bytes(&input.name, &shape, input.dtype)?;
            out.push(ConcreteSpec {
                name: input.name.clone(),
                dtype: input.dtype,
                shape,
            });
        }
        Ok(out)
    }
}

/// What the user asked for about input shapes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShapeRequest {
    /// `--shape name:1x3x224x224`, in the order given.
    pub shapes: Vec<(String, Vec<usize>)>,
    /// `--batch N`: the size of a dynamic first dimension.
    pub batch: Option<usize>,
}

impl ShapeRequest {
    /// Parses one trtexec-style `name:1x3x224x224` argument.
    pub fn parse_shape(arg: &str) -> Result<(String, Vec<usize>)> {
        let bad = |why: &str| {
            Error::InvalidArgument(format!(
                "--shape {arg}: {why}; write it as NAME:DIMS, e.g. --shape input:1x3x224x224"
            ))
        };
        let (name, dims) = arg
            .rsplit_once(':')
            .ok_or_else(|| bad("no `:` between name and dimensions"))?;
        if name.is_empty() {
            return Err(bad("the input name is empty"));
        }
        let dims = dims
            .split(['x', 'X', ','])
            .map(|d| d.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("dimensions must be positive integers"))?;
        Ok((name.to_owned(), dims))
    }
}

fn value_info_spec(v: &pb::ValueInfoProto) -> TensorSpec {
    let mut dtype = DType::Other;
    let mut shape = vec![];
    if let Some(pb::type_proto::Value::TensorType(t)) =
        v.r#type.as_ref().and_then(|t| t.value.as_ref())
    {
        dtype = DType::from_onnx(t.elem_type);
        if let Some(s) = &t.shape {
            for (axis, d) in s.dim.iter().enumerate() {
                shape.push(match &d.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(n)) if *n > 0 => {
                        Dim::Fixed(*n as usize)
                    }
                    // Zero or negative: not a size to run at; shown as declared, so that the
                    // error asks for a size with --shape.
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(n)) => {
                        Dim::Symbolic(n.to_string())
                    }
                    Some(pb::tensor_shape_proto::dimension::Value::DimParam(p))
                        if !p.is_empty() =>
                    {
                        Dim::Symbolic(p.clone())
                    }
                    _ => Dim::Symbolic(format!("dim{axis}")),
                });
            }
        }
    }
    TensorSpec {
        name: v.name.clone(),
        dtype,
        shape,
    }
}

/// Tells a truncated ONNX file from something that is not ONNX at all. A real ONNX file
/// starts with field 1 (`ir_version`, a varint: byte 0x08); a cut-off one fails to decode
/// with an end-of-buffer error.
fn classify_decode_error(path: &Path, bytes: &[u8], e: &prost::DecodeError) -> Error {
    let reason = e.to_string();
    let looks_onnx = bytes.first() == Some(&0x08) && bytes.len() > 16;
    let eof = reason.contains("buffer underflow")
        || reason.contains("unexpected end")
        || reason.contains("EOF");
    if looks_onnx && eof {
        Error::Truncated {
            path: path.to_owned(),
            reason: "protobuf ends in the middle of a field".into(),
        }
    } else if looks_onnx {
        Error::Truncated {
            path: path.to_owned(),
            reason: format!("protobuf decode failed: {reason}"),
        }
    } else {
        Error::NotOnnx {
            path: path.to_owned(),
            reason: format!("not a protobuf ModelProto: {reason}"),
        }
    }
}

/// Every tensor stored in external data must live inside the model's folder. Paths that
/// climb out (`..`), absolute paths, and symlinks that resolve outside are rejected before
/// any loader opens them.
fn check_external_data(model: &str, path: Option<&Path>, graph: &pb::GraphProto) -> Result<()> {
    let external = graph
        .initializer
        .iter()
        .filter(|t| t.data_location == Some(pb::tensor_proto::DataLocation::External as i32));
    for t in external {
        let location = t
            .external_data
            .iter()
            .find(|kv| kv.key == "location")
            .map(|kv| kv.value.clone())
            .unwrap_or_default();
        let escape = || Error::ExternalDataEscape {
            model: model.into(),
            tensor: t.name.clone(),
            location: location.clone(),
        };
        let loc = Path::new(&location);
        if location.is_empty()
            || loc
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(escape());
        }
        let Some(dir) = path.and_then(Path::parent) else {
            return Err(Error::ExternalDataMissing {
                model: model.into(),
                tensor: t.name.clone(),
                location,
            });
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let file = dir.join(loc);
        if !file.exists() {
            return Err(Error::ExternalDataMissing {
                model: model.into(),
                tensor: t.name.clone(),
                location,
            });
        }
        let (Ok(dir), Ok(file)) = (dir.canonicalize(), file.canonicalize()) else {
            return Err(escape());
        };
        if !file.starts_with(&dir) {
            return Err(escape());
        }
        // The file must hold what the dims claim, from the offset on.
        let claimed = t
            .dims
            .iter()
            .try_fold(onnx_elem_size(t.data_type).unwrap_or(1), |acc, &d| {
                u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
            });
        let offset = t
            .external_data
            .iter()
            .find(|kv| kv.key == "offset")
            .and_then(|kv| kv.value.parse::<u64>().ok())
            .unwrap_or(0);
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if claimed.is_none_or(|c| offset.saturating_add(c) > size) {
            return Err(Error::StoredData {
                model: model.into(),
                what: format!("initializer `{}`", t.name),
                dims: shape_string(&t.dims),
                reason: format!("external data file `{location}` holds only {size} bytes of them"),
            });
        }
    }
    Ok(())
}

/// Every tensor stored inline (initializers and Constant nodes) must hold as many values as
/// its dims claim: a crafted file can claim dims of terabytes with a few bytes of data, and
/// loaders size their buffers from the dims. External data is checked against its file.
fn check_stored_data(model: &str, graph: &pb::GraphProto) -> Result<()> {
    let constants = graph
        .node
        .iter()
        .filter(|n| n.op_type == "Constant")
        .flat_map(|n| {
            n.attribute
                .iter()
                .filter_map(move |a| a.t.as_ref().map(|t| (n, t)))
        });
    let named = graph
        .initializer
        .iter()
        .map(|t| (format!("initializer `{}`", t.name), t))
        .chain(constants.map(|(n, t)| (format!("constant node `{}`", n.name), t)));
    for (what, t) in named {
        if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
            continue;
        }
        let dims = shape_string(&t.dims);
        let claimed = t
            .dims
            .iter()
            .try_fold(1u64, |acc, &d| {
                u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
            })
            .ok_or_else(|| Error::StoredData {
                model: model.to_owned(),
                what: what.clone(),
                dims: dims.clone(),
                reason: "one is negative or their product overflows 64 bits".into(),
            })?;
        // Complex, 4-bit and unknown types pack values in ways not worth modelling here.
        let Some(elem) = onnx_elem_size(t.data_type) else {
            continue;
        };
        let held = (t.float_data.len()
            + t.int32_data.len()
            + t.int64_data.len()
            + t.double_data.len()
            + t.uint64_data.len()
            + t.string_data.len()) as u64
            + t.raw_data.len() as u64 / elem;
        if held != claimed {
            return Err(Error::StoredData {
                model: model.to_owned(),
                what,
                dims,
                reason: format!("the file holds {held} of its {claimed} values"),
            });
        }
    }
    Ok(())
}

/// The nodes of an ONNX graph must be orderable (ONNX requires them sorted): a node that
/// reads, directly or not, its own output can never run, and some loaders loop on it.
fn check_acyclic(model: &str, graph: &pb::GraphProto) -> Result<()> {
    use std::collections::HashMap;
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .filter(|(o, _)| !o.is_empty())
        .collect();
    let mut waiting: Vec<usize> = vec![0; graph.node.len()];
    let mut readers: Vec<Vec<usize>> = vec![vec![]; graph.node.len()];
    for (i, n) in graph.node.iter().enumerate() {
        for input in n.input.iter().filter(|s| !s.is_empty()) {
            if let Some(&p) = producer.get(input.as_str()) {
                waiting[i] += 1;
                readers[p].push(i);
            }
        }
    }
    let mut ready: Vec<usize> = (0..graph.node.len()).filter(|&i| waiting[i] == 0).collect();
    let mut done = 0;
    while let Some(i) = ready.pop() {
        done += 1;
        for &r in &readers[i] {
            waiting[r] -= 1;
            if waiting[r] == 0 {
                ready.push(r);
            }
        }
    }
    if done == graph.node.len() {
        return Ok(());
    }
    let stuck: Vec<String> = (0..graph.node.len())
        .filter(|&i| waiting[i] > 0)
        .take(4)
        .map(|i| {
            let n = &graph.node[i];
            if n.name.is_empty() {
                format!("#{i} ({})", n.op_type)
            } else {
                format!("`{}` ({})", n.name, n.op_type)
            }
        })
        .collect();
    Err(Error::CyclicGraph {
        model: model.to_owned(),
        nodes: stuck.join(", "),
    })
}

/// Bytes of one element of an ONNX `TensorProto.data_type` stored one value per element
/// (strings count one); `None` for complex, packed 4-bit and unknown types.
fn onnx_elem_size(code: i32) -> Option<u64> {
    Some(match code {
        2 | 3 | 8 | 9 | 17..=20 => 1,
        4 | 5 | 10 | 16 => 2,
        1 | 6 | 12 => 4,
        7 | 11 | 13 => 8,
        _ => return None,
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trtexec_shapes() {
        assert_eq!(
            ShapeRequest::parse_shape("input:1x3x224x224").unwrap(),
            ("input".to_string(), vec![1, 3, 224, 224])
        );
        assert_eq!(
            ShapeRequest::parse_shape("a:b:2x3").unwrap(),
            ("a:b".to_string(), vec![2, 3])
        );
        assert!(ShapeRequest::parse_shape("input").is_err());
        assert!(ShapeRequest::parse_shape("input:1x0").is_err());
        assert!(ShapeRequest::parse_shape(":1x2").is_err());
        assert!(ShapeRequest::parse_shape("x:1xq").is_err());
    }
}
