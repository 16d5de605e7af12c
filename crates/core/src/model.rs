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
    }
    Ok(())
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
