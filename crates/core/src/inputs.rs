//! Random inputs with a fixed seed. Never zeros: some kernels skip work on zeros and would
//! run faster than on real data. The same seed and shapes give the same bytes on every engine.

use crate::error::{Error, Result};
use crate::tensor::{ConcreteSpec, DType, HostTensor, TensorData};
use rand::{Rng, SeedableRng};

/// Generates one set of inputs. Floats are uniform in [-1, 1) away from zero (|x| >= 1e-3);
/// integers are uniform in [1, 10) (safe for index-like inputs of small vocabularies);
/// booleans are fair coin flips.
pub fn random_inputs(specs: &[ConcreteSpec], seed: u64) -> Result<Vec<HostTensor>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    specs
        .iter()
        .map(|s| {
            let bytes = crate::memory::tensor_bytes(&s.name, &s.shape, s.dtype)?;
            let n = usize::try_from(bytes / s.dtype.size().max(1) as u64).map_err(|_| {
                Error::ShapeOverflow {
                    input: s.name.clone(),
                    shape: crate::tensor::shape_string(&s.shape),
                }
            })?;
            let data = match s.dtype {
                DType::F32 => TensorData::F32((0..n).map(|_| nonzero(&mut rng) as f32).collect()),
                DType::F64 => TensorData::F64((0..n).map(|_| nonzero(&mut rng)).collect()),
                DType::I64 => TensorData::I64((0..n).map(|_| rng.random_range(1..10)).collect()),
                DType::I32 => TensorData::I32((0..n).map(|_| rng.random_range(1..10)).collect()),
                DType::I8 => TensorData::I8((0..n).map(|_| rng.random_range(1..10)).collect()),
                DType::U8 => TensorData::U8((0..n).map(|_| rng.random_range(1..255)).collect()),
                DType::Bool => TensorData::Bool((0..n).map(|_| rng.random_bool(0.5)).collect()),
                other => {
                    return Err(Error::UnsupportedInputType {
                        input: s.name.clone(),
                        dtype: other.to_string(),
                    })
                }
            };
            Ok(HostTensor {
                name: s.name.clone(),
                shape: s.shape.clone(),
                data,
            })
        })
        .collect()
}

fn nonzero(rng: &mut impl Rng) -> f64 {
    let x: f64 = rng.random_range(-1.0..1.0);
    if x.abs() < 1e-3 {
        1e-3f64.copysign(x)
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Vec<ConcreteSpec> {
        vec![ConcreteSpec {
            name: "x".into(),
            dtype: DType::F32,
            shape: vec![2, 3, 4],
        }]
    }

    #[test]
    fn same_seed_same_inputs_different_seed_different_inputs() {
        let a = random_inputs(&spec(), 7).unwrap();
        let b = random_inputs(&spec(), 7).unwrap();
        let c = random_inputs(&spec(), 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn floats_are_never_zero_and_in_range() {
        let a = random_inputs(&spec(), 1).unwrap();
        let TensorData::F32(v) = &a[0].data else {
            panic!("expected f32")
        };
        assert_eq!(v.len(), 24);
        assert!(v.iter().all(|x| x.abs() >= 1e-3 && x.abs() <= 1.0));
    }

    #[test]
    fn strings_are_refused_with_the_input_name() {
        let s = vec![ConcreteSpec {
            name: "text".into(),
            dtype: DType::String,
            shape: vec![1],
        }];
        let e = random_inputs(&s, 1).unwrap_err().to_string();
        assert!(e.contains("text"), "{e}");
    }
}
