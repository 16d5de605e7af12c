//! `edgebench merge`: the folders of a study's shards (`study --shard I/N`, on one device or
//! many) joined into one study folder, checked first and nothing dropped silently.
//!
//! Checks: every folder is a study folder (not itself a merge); all are of one study (the same
//! config hash); the shards of one device have the same plan (plan hash) and the same number
//! of shards, each shard once, none missing (unless `allow_missing`); no job is measured twice
//! on one device (the error names both folders). The same job measured on two devices is two
//! rows, one per device.
//!
//! The merged folder holds `results.jsonl` (every shard's session lines, then every
//! measurement with its `device` filled in from its shard's session), [`MERGE_FILE`] (this
//! [`MergeReport`]: which folders, which devices, which cells are missing) and the reports,
//! made from that `results.jsonl` as `edgebench report` makes them. It is a study folder for
//! `edgebench report`; `study --resume` refuses it ([`is_merged`]).

use crate::lock::StudyLock;
use crate::{results, Error, Result};
use edgebench_core::schema::study::{Loaded, Plan, Shard, StudyMeasurement};
use edgebench_core::schema::Status;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The record of a merge, inside the merged folder.
pub const MERGE_FILE: &str = "merge.json";

/// How to merge.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Merge even when shards of a device are missing (their cells are listed as missing).
    pub allow_missing: bool,
}

/// What a merge joined, per device; also written to the merged folder as [`MERGE_FILE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeReport {
    /// The study's name (its config's `name`).
    pub study: String,
    /// [`edgebench_core::schema::study::StudyConfig::hash`], the same for every shard.
    pub config_hash: String,
    /// By device name.
    pub devices: Vec<DeviceMerge>,
    /// The report files written into the merged folder, in the config's order.
    pub written: Vec<PathBuf>,
}

/// One device of a merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceMerge {
    pub device: String,
    /// [`Plan::hash`] of the device's shards.
    pub plan_hash: String,
    /// N of `--shard I/N` (1: an unsharded study).
    pub shard_count: usize,
    /// The folders merged, by shard index.
    pub shards: Vec<MergedShard>,
    /// Shard indexes not given (only with `allow_missing`).
    pub missing_shards: Vec<usize>,
    /// Jobs of the device's plan.
    pub planned_jobs: usize,
    /// Jobs of the plan measured on this device.
    pub measured_jobs: usize,
    /// Keys of the plan's jobs with no measurement on this device, in plan order (a round
    /// after a round that did not pass is never run, so it is not missing).
    pub missing: Vec<String>,
}

/// One shard folder of a merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedShard {
    /// I of `--shard I/N` (1 for an unsharded study).
    pub index: usize,
    pub dir: PathBuf,
    /// Measurement lines taken from it.
    pub measurements: usize,
    /// Its `results.jsonl` ended in a torn line (an interrupted write), which was left out.
    pub torn_line_ignored: bool,
}

impl MergeReport {
    /// Per device: the shards merged, the jobs measured, the cells missing.
    pub fn text(&self) -> String {
        let r = self;
        let mut out = format!(
            "merged study `{}` (config {}): {} device(s)\n",
            r.study,
            r.config_hash,
            r.devices.len()
        );
        for d in &r.devices {
            let shards: Vec<String> = d.shards.iter().map(|s| s.index.to_string()).collect();
            out.push_str(&format!(
                "{}: shard(s) {} of {}, {} of {} jobs measured",
                d.device,
                shards.join(", "),
                d.shard_count,
                d.measured_jobs,
                d.planned_jobs
            ));
            if !d.missing_shards.is_empty() {
                let missing: Vec<String> = d.missing_shards.iter().map(|i| i.to_string()).collect();
                out.push_str(&format!("; shard(s) {} missing", missing.join(", ")));
            }
            out.push('\n');
            for s in d.shards.iter().filter(|s| s.torn_line_ignored) {
                out.push_str(&format!(
                    "  note: the last line of {}/results.jsonl was torn (an interrupted write) and was left out\n",
                    s.dir.display()
                ));
            }
            if !d.missing.is_empty() {
                out.push_str(&format!("  missing ({}):\n", d.missing.len()));
                for k in &d.missing {
                    out.push_str(&format!("    {k}\n"));
                }
            }
        }
        out
    }
}

/// Whether study folder `dir` (its `results.jsonl` as `loaded`) was written by a merge: it
/// holds [`MERGE_FILE`], or its sessions name more than one shard (which one study run
/// never writes: `--resume` keeps the shard).
pub fn is_merged(dir: &Path, loaded: &Loaded) -> bool {
    if dir.join(MERGE_FILE).is_file() {
        return true;
    }
    let shards: HashSet<Option<Shard>> = loaded.sessions.iter().map(|s| s.shard).collect();
    shards.len() > 1
}

/// One folder given to the merge, read and checked.
struct Part {
    dir: PathBuf,
    loaded: Loaded,
    device: String,
    shard: Shard,
    plan_hash: String,
    config_hash: String,
    _lock: Option<StudyLock>,
}

impl Part {
    fn name(&self) -> String {
        self.dir.display().to_string()
    }

    fn plan(&self) -> &Plan {
        // `read` refuses a folder without a session line.
        &self.loaded.sessions[self.loaded.sessions.len() - 1].plan
    }

    /// The device a measurement of this folder was taken on: its own, else the folder's.
    fn device_of<'a>(&'a self, m: &'a StudyMeasurement) -> &'a str {
        m.device.as_deref().unwrap_or(&self.device)
    }
}

/// Reads study folder `dir` for a merge, holding its lock (so that a shard still being
/// measured is refused) where the folder can be locked at all.
fn read(dir: &Path) -> Result<Part> {
    let not_a_study = |reason: &str| Error::NotAStudy {
        dir: dir.display().to_string(),
        reason: reason.to_owned(),
    };
    if !dir.is_dir() {
        return Err(not_a_study(if dir.exists() {
            "it is a file"
        } else {
            "it does not exist"
        }));
    }
    let path = dir.join(results::RESULTS_FILE);
    if !path.is_file() {
        return Err(not_a_study("no results.jsonl"));
    }
    // A shard that is still running is refused by its lock; a folder that cannot be locked
    // at all (read-only copies of results) is merged as it is.
    let lock = match StudyLock::acquire(dir, "edgebench merge") {
        Ok(l) => Some(l),
        Err(e @ Error::Locked { .. }) => return Err(e),
        Err(_) => None,
    };
    let loaded = results::load(&path)?;
    if is_merged(dir, &loaded) {
        return Err(Error::MergeOfMerge {
            dir: dir.display().to_string(),
        });
    }
    let Some(last) = loaded.sessions.last() else {
        return Err(not_a_study("results.jsonl holds no session line"));
    };
    let device = last
        .device
        .clone()
        .or_else(|| last.host.hostname.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    Ok(Part {
        dir: dir.to_owned(),
        device,
        shard: last.shard.unwrap_or(Shard { index: 1, count: 1 }),
        plan_hash: last.plan.hash(),
        config_hash: last.config.hash(),
        loaded,
        _lock: lock,
    })
}

/// Merges the study folders `dirs` into `out` (see the module's documentation).
pub fn merge(dirs: &[PathBuf], out: &Path, options: &MergeOptions) -> Result<MergeReport> {
    if dirs.is_empty() {
        return Err(Error::Invalid(
            "merge needs at least one study folder: give the shard folders".to_owned(),
        ));
    }
    let mut seen = HashSet::new();
    for d in dirs {
        if !seen.insert(d.canonicalize().unwrap_or_else(|_| d.clone())) {
            return Err(Error::Invalid(format!(
                "{} is given twice: give each shard folder once",
                d.display()
            )));
        }
    }
    let mut parts = dirs.iter().map(|d| read(d)).collect::<Result<Vec<_>>>()?;
    check_out(out, &parts)?;
    // One study: the first folder's config is the study's.
    let first = &parts[0];
    if let Some(other) = parts.iter().find(|p| p.config_hash != first.config_hash) {
        let study = |p: &Part| {
            let name = &p.loaded.sessions[p.loaded.sessions.len() - 1].config.name;
            format!("`{name}` config {}", p.config_hash)
        };
        return Err(Error::TwoStudies {
            first: first.name(),
            first_study: study(first),
            second: other.name(),
            second_study: study(other),
        });
    }
    // Devices in name order, each device's shards by index (folders in the order given
    // where two have one index, which `check_device` refuses).
    parts.sort_by(|a, b| (&a.device, a.shard.index).cmp(&(&b.device, b.shard.index)));
    let mut by_device: BTreeMap<&str, Vec<&Part>> = BTreeMap::new();
    for p in &parts {
        by_device.entry(p.device.as_str()).or_default().push(p);
    }
    for (device, shards) in &by_device {
        check_split(device, shards)?;
    }
    check_duplicates(&parts)?;
    let mut devices = vec![];
    for (device, shards) in &by_device {
        devices.push(check_device(device, shards, options)?);
    }

    // results.jsonl: every session line, then every measurement with its device.
    let results_path = out.join(results::RESULTS_FILE);
    let mut bytes = vec![];
    let mut line = |l: &edgebench_core::schema::study::Line| -> Result<()> {
        bytes.extend(results::encode(l, &results_path)?);
        Ok(())
    };
    use edgebench_core::schema::study::Line;
    for p in &parts {
        for s in &p.loaded.sessions {
            line(&Line::Session(Box::new(s.clone())))?;
        }
    }
    for p in &parts {
        for m in &p.loaded.measurements {
            let mut m = m.clone();
            m.device = Some(p.device_of(&m).to_owned());
            line(&Line::Measurement(Box::new(m)))?;
        }
    }
    // The reports come from the file's bytes as `edgebench report` reads them.
    let merged = results::parse(&bytes, &results_path)?;
    let summary = crate::summary::analyse(&merged, &results_path)?;
    let mut report = MergeReport {
        study: summary.name.clone(),
        config_hash: parts[0].config_hash.clone(),
        devices,
        written: vec![],
    };

    let lock = StudyLock::acquire(out, "edgebench merge")?;
    // The record first: from then on the folder reads as a merge, never as a study that
    // `study --resume` could add to.
    let record =
        serde_json::to_vec_pretty(&report).map_err(|e| crate::io_err(&out.join(MERGE_FILE), e))?;
    edgebench_core::write::write_atomic(&out.join(MERGE_FILE), &record)?;
    edgebench_core::write::write_atomic(&results_path, &bytes)?;
    report.written = edgebench_report::write_study(out, &summary)?;
    let record =
        serde_json::to_vec_pretty(&report).map_err(|e| crate::io_err(&out.join(MERGE_FILE), e))?;
    edgebench_core::write::write_atomic(&out.join(MERGE_FILE), &record)?;
    drop(lock);
    Ok(report)
}

/// Refuses an `out` that is one of the folders merged, or that holds a study other than an
/// earlier merge of the same study.
fn check_out(out: &Path, parts: &[Part]) -> Result<()> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let holds = |what: String| Error::OutHoldsStudy {
        out: out.display().to_string(),
        what,
    };
    if let Some(p) = parts.iter().find(|p| same(&p.dir, out)) {
        return Err(holds(format!("the shard {} being merged", p.name())));
    }
    if out.exists() && !out.is_dir() {
        return Err(holds("a file, not a folder".to_owned()));
    }
    let results_path = out.join(results::RESULTS_FILE);
    if !results_path.exists() {
        return Ok(());
    }
    let earlier: Option<MergeReport> = std::fs::read(out.join(MERGE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match earlier {
        Some(e) if e.config_hash == parts[0].config_hash => Ok(()),
        Some(e) => Err(holds(format!(
            "the merge of another study (`{}`, config {})",
            e.study, e.config_hash
        ))),
        None => Err(holds("a study that is not a merge".to_owned())),
    }
}

/// Refuses a job measured in two folders of one device, naming both.
fn check_duplicates(parts: &[Part]) -> Result<()> {
    let mut seen: HashMap<(&str, &str), &Part> = HashMap::new();
    for p in parts {
        let mut mine = HashSet::new();
        for m in &p.loaded.measurements {
            let cell = (p.device_of(m), m.key.as_str());
            // A folder may hold a key twice (the later line counts): not a duplicate.
            if !mine.insert(cell) {
                continue;
            }
            if let Some(first) = seen.insert(cell, p) {
                return Err(Error::DuplicateJob {
                    device: cell.0.to_owned(),
                    key: m.key.clone(),
                    first: first.name(),
                    second: p.name(),
                });
            }
        }
    }
    Ok(())
}

/// Refuses shards of one device planned differently or cut into another number of shards.
fn check_split(device: &str, shards: &[&Part]) -> Result<()> {
    let first = shards[0];
    for p in &shards[1..] {
        let mismatch = |first_value: String, second_value: String| {
            Box::new(crate::Mismatch {
                device: device.to_owned(),
                first: first.name(),
                first_value,
                second: p.name(),
                second_value,
            })
        };
        if p.plan_hash != first.plan_hash {
            return Err(Error::PlanMismatch(mismatch(
                first.plan_hash.clone(),
                p.plan_hash.clone(),
            )));
        }
        if p.shard.count != first.shard.count {
            return Err(Error::ShardCountMismatch(mismatch(
                first.shard.to_string(),
                p.shard.to_string(),
            )));
        }
    }
    Ok(())
}

/// Checks that the shards of one device (sorted by index) are each there once, and lists
/// what it merges and misses.
fn check_device(device: &str, shards: &[&Part], options: &MergeOptions) -> Result<DeviceMerge> {
    let first = shards[0];
    for pair in shards.windows(2) {
        if pair[0].shard.index == pair[1].shard.index {
            return Err(Error::DuplicateShard {
                device: device.to_owned(),
                shard: pair[0].shard.to_string(),
                first: pair[0].name(),
                second: pair[1].name(),
            });
        }
    }
    let count = first.shard.count;
    let given: HashSet<usize> = shards.iter().map(|p| p.shard.index).collect();
    let missing_shards: Vec<usize> = (1..=count).filter(|i| !given.contains(i)).collect();
    if !missing_shards.is_empty() && !options.allow_missing {
        return Err(Error::MissingShards {
            device: device.to_owned(),
            missing: missing_shards,
            count,
        });
    }
    let plan = first.plan();
    let measured: HashMap<&str, &StudyMeasurement> = shards
        .iter()
        .flat_map(|p| {
            p.loaded
                .measurements
                .iter()
                .filter(|m| p.device_of(m) == device)
        })
        .map(|m| (m.key.as_str(), m))
        .collect();
    let mut missing = vec![];
    let mut measured_jobs = 0;
    for job in &plan.jobs {
        if measured.contains_key(job.key.as_str()) {
            measured_jobs += 1;
            continue;
        }
        // A later round of a variant whose earlier round did not pass is never run.
        let skipped = (1..job.round).any(|r| {
            measured
                .get(job.key_of_round(plan, r).as_str())
                .is_some_and(|m| m.result.status != Status::Ok)
        });
        if !skipped {
            missing.push(job.key.clone());
        }
    }
    Ok(DeviceMerge {
        device: device.to_owned(),
        plan_hash: first.plan_hash.clone(),
        shard_count: count,
        shards: shards
            .iter()
            .map(|p| MergedShard {
                index: p.shard.index,
                dir: p.dir.clone(),
                measurements: p.loaded.measurements.len(),
                torn_line_ignored: p.loaded.torn,
            })
            .collect(),
        missing_shards,
        planned_jobs: plan.jobs.len(),
        measured_jobs,
        missing,
    })
}
