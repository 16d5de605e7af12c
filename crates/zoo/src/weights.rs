//! Deterministic random weights.
//!
//! Each tensor is cut into chunks of `CHUNK` elements and every chunk draws from its own ChaCha8
//! stream, keyed by the seed, the tensor's name and the chunk's index. Values therefore depend on
//! neither the order in which tensors are built nor the number of threads that fill them, and a
//! layer keeps its weights when an unrelated option (the number of classes) changes.

use std::sync::Mutex;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tract_onnx::pb::{tensor_proto::DataType, TensorProto};

const CHUNK: usize = 1 << 18;

/// How to fill a tensor: uniform in `[lo, hi)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fill {
    lo: f32,
    hi: f32,
}

impl Fill {
    pub fn uniform(bound: f64) -> Fill {
        Fill::range(-bound, bound)
    }
    pub fn range(lo: f64, hi: f64) -> Fill {
        Fill {
            lo: lo as f32,
            hi: hi as f32,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct WeightJob {
    pub name: String,
    pub dims: Vec<usize>,
    pub fill: Fill,
}

/// FNV-1a, then a splitmix64 finalizer over the seed: a stable 64-bit key per (seed, name).
fn key(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fill_chunk(buf: &mut [u8], key: u64, chunk: usize, fill: Fill) {
    let mut rng = ChaCha8Rng::seed_from_u64(key);
    rng.set_stream(chunk as u64);
    let scale = (fill.hi - fill.lo) / (1u32 << 24) as f32;
    // One pass over the destination: random bytes go to a small buffer that stays in cache.
    let mut random = [0u8; 1024];
    for out in buf.chunks_mut(random.len()) {
        let random = &mut random[..out.len()];
        rng.fill_bytes(random);
        for (o, r) in out.chunks_exact_mut(4).zip(random.chunks_exact(4)) {
            let bits = u32::from_le_bytes([r[0], r[1], r[2], r[3]]) >> 8;
            let v = fill.lo + bits as f32 * scale;
            o.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Generates every tensor (as little-endian `raw_data`), in parallel over the available cores.
pub(crate) fn generate(jobs: Vec<WeightJob>, seed: u64) -> Vec<TensorProto> {
    let mut tensors: Vec<TensorProto> = jobs
        .iter()
        .map(|j| TensorProto {
            dims: j.dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            name: j.name.clone(),
            raw_data: vec![0u8; j.dims.iter().product::<usize>() * 4],
            ..Default::default()
        })
        .collect();
    let mut work: Vec<(&mut [u8], u64, usize, Fill)> = Vec::new();
    for (t, j) in tensors.iter_mut().zip(&jobs) {
        let k = key(seed, &j.name);
        for (i, c) in t.raw_data.chunks_mut(CHUNK * 4).enumerate() {
            work.push((c, k, i, j.fill));
        }
    }
    let total: usize = work.iter().map(|w| w.0.len()).sum();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(work.len());
    if threads <= 1 || total < (1 << 22) {
        for (buf, k, i, f) in work {
            fill_chunk(buf, k, i, f);
        }
    } else {
        let queue = Mutex::new(work);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    match job {
                        Some((buf, k, i, f)) => fill_chunk(buf, k, i, f),
                        None => break,
                    }
                });
            }
        });
    }
    tensors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(t: &TensorProto) -> Vec<f32> {
        t.raw_data
            .chunks_exact(4)
            .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect()
    }

    #[test]
    fn values_are_in_range_deterministic_and_seed_dependent() {
        let job = |name: &str, n: usize| WeightJob {
            name: name.into(),
            dims: vec![n],
            fill: Fill::uniform(0.5),
        };
        let a = generate(vec![job("w", 3 * CHUNK + 5), job("v", 7)], 1);
        let b = generate(vec![job("v", 7), job("w", 3 * CHUNK + 5)], 1);
        let c = generate(vec![job("w", 3 * CHUNK + 5)], 2);
        let wa = floats(&a[0]);
        assert_eq!(wa, floats(&b[1]), "order must not matter");
        assert_ne!(wa, floats(&c[0]), "the seed must matter");
        assert_ne!(floats(&a[1]), wa[..7].to_vec(), "the name must matter");
        assert!(wa.iter().all(|v| (-0.5..0.5).contains(v)));
        let mean = wa.iter().map(|&v| f64::from(v)).sum::<f64>() / wa.len() as f64;
        let var = wa.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / wa.len() as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 0.25 / 3.0).abs() < 0.002, "var {var}");
        // chunks draw from different streams
        assert_ne!(wa[..16], wa[CHUNK..CHUNK + 16]);
    }
}
