//! How long building each zoo model in memory takes (graph plus weights), and encoding it.
//!
//! `cargo bench -p edgebench-zoo --bench build [-- NAME...]`. Plain std timing: each model is
//! built `RUNS` times after one warm-up; the table shows the median and the fastest run.

use std::time::{Duration, Instant};

use edgebench_zoo::{build, list, ZooSpec};

const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument selects models by name.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("zoo build times, default classes, batch 1, {threads} threads, {RUNS} runs");
    println!("| model | params | weights MB | build median ms | build min ms | encode median ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for entry in list() {
        if !only.is_empty() && !only.iter().any(|o| o == entry.name) {
            continue;
        }
        let spec = ZooSpec::new(entry.name);
        let mut builds = Vec::new();
        let mut encodes = Vec::new();
        let mut size = 0;
        for run in 0..=RUNS {
            let t = Instant::now();
            let model = match build(&spec) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("{}: {e}", entry.name);
                    std::process::exit(1);
                }
            };
            let built = t.elapsed();
            let t = Instant::now();
            let bytes = prost::Message::encode_to_vec(&model);
            let encoded = t.elapsed();
            size = bytes.len();
            if run > 0 {
                builds.push(built);
                encodes.push(encoded);
            }
        }
        let min = builds.iter().min().copied().unwrap_or_default();
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            entry.name,
            entry.params,
            size as f64 / 1e6,
            ms(median(builds)),
            ms(min),
            ms(median(encodes)),
        );
    }
}
