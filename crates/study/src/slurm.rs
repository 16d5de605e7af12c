//! A sharded study as Slurm job arrays: one `sbatch` array script per device kind, each task
//! running one shard (`edgebench study --shard ${SLURM_ARRAY_TASK_ID}/N --device NAME
//! --resume`), and a merge script that joins the shards once every task has succeeded
//! (`sbatch --dependency=afterok:ARRAY...`). [`scripts`] is a pure function of a [`Request`];
//! [`write`] puts the scripts in a folder, [`submit`] hands them to `sbatch`.
//!
//! What the scripts rely on, from Slurm's own code (22.05, `src/sbatch/opt.c` and
//! `src/sbatch/sbatch.c`): `#SBATCH` lines are read until the first command, each argument
//! split at white space unless quoted (`"` or `'`), a backslash escaping the next character and
//! an unquoted `#` starting a comment; `sbatch --parsable` prints `JOBID` or `JOBID;CLUSTER`.
//! Paths in the scripts are absolute, shell-quoted in commands and quoted in `#SBATCH` lines,
//! so the scripts run the same from any working directory.

use edgebench_core::process::{self, Limits};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The folder under `--out` that holds the scripts and, in `logs/`, the tasks' output.
pub const SCRIPTS_DIR: &str = "slurm";
/// The merged study's folder under `--out`.
pub const MERGED_DIR: &str = "merged";
/// The merge job's script in [`SCRIPTS_DIR`].
pub const MERGE_SCRIPT: &str = "merge.sbatch";

/// How long one `sbatch` call may take: it only talks to the controller.
const SBATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Errors of the Slurm scripts and their submission. Every message is one lowercase line
/// naming the flag or the command, and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// A flag's value that cannot go into a script.
    #[error("{flag}: {message}")]
    Invalid { flag: String, message: String },
    /// A file named on the command line that is not there (`what`: the flag and the path).
    #[error("{what}: no such file: {fix}")]
    NoSuchFile { what: String, fix: &'static str },
    /// A path that cannot be made absolute, or this binary that cannot be found: an I/O
    /// failure (its source is the `std::io::Error`).
    #[error("{what}")]
    Path {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("sbatch not found ({reason}): run this on a Slurm login node, or leave out --submit and submit {dir}/*.sbatch later")]
    SbatchMissing { reason: String, dir: String },
    /// `sbatch` refused a script or failed; the arrays already submitted were cancelled.
    #[error("sbatch {script} failed ({output}){cancelled}: fix what sbatch names (partition, gres, constraint, limits) and run again")]
    SbatchFailed {
        script: String,
        output: String,
        /// `; cancelled ...` when earlier arrays of the same submission were cancelled.
        cancelled: String,
    },
}

/// Where one device kind's tasks run: a partition, node features, generic resources. Unset
/// fields fall back to the request's own `--partition` and `--gres`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceKind {
    /// The device label: recorded with every measurement (`study --device`), the shard folders'
    /// parent (`OUT/NAME/shard-I`) and the job's name (`edgebench-NAME`).
    pub name: String,
    pub partition: Option<String>,
    /// `sbatch --constraint`: node features, e.g. `orin` or `a100|h100`.
    pub constraint: Option<String>,
    pub gres: Option<String>,
    /// The edgebench binary this kind's nodes run (an aarch64 build for Jetson boards beside
    /// x86_64 servers); default: the request's own.
    pub edgebench: Option<PathBuf>,
}

impl std::str::FromStr for DeviceKind {
    type Err = SlurmError;

    /// `NAME`, or `NAME=KEY:VALUE[,KEY:VALUE...]` with keys `partition`, `constraint`, `gres`,
    /// `edgebench` (the binary's path): `orin=partition:jetson,edgebench:/shared/aarch64/edgebench`,
    /// `h100=constraint:h100,gres:gpu:1`.
    fn from_str(s: &str) -> Result<DeviceKind, SlurmError> {
        let bad = |why: &str| {
            SlurmError::Invalid {
            flag: format!("--device {s}"),
            message: format!("{why}; write NAME, NAME=partition:P or NAME=constraint:C (several joined by commas, also gres:G and edgebench:PATH), e.g. --device orin=partition:jetson"),
        }
        };
        let (name, placement) = match s.split_once('=') {
            Some((n, p)) => (n.trim(), Some(p)),
            None => (s.trim(), None),
        };
        check_device_name(name).map_err(|why| bad(&why.to_string()))?;
        let mut kind = DeviceKind {
            name: name.to_owned(),
            ..DeviceKind::default()
        };
        if let Some(p) = placement {
            if p.trim().is_empty() {
                return Err(bad("nothing after `=`"));
            }
            // Split at commas that start a new key, so that a constraint such as `a|b` or a
            // gres such as `gpu:a100:2` keeps its own punctuation.
            for item in split_items(p) {
                let (key, value) = item
                    .split_once(':')
                    .ok_or_else(|| bad(&format!("`{item}` has no KEY:VALUE")))?;
                let value = value.trim();
                if value.is_empty() {
                    return Err(bad(&format!("`{key}` has no value")));
                }
                let twice = || bad(&format!("`{}` is given twice", key.trim()));
                if key.trim() == "edgebench" {
                    if kind.edgebench.is_some() {
                        return Err(twice());
                    }
                    kind.edgebench = Some(PathBuf::from(value));
                    continue;
                }
                let slot = match key.trim() {
                    "partition" => &mut kind.partition,
                    "constraint" => &mut kind.constraint,
                    "gres" => &mut kind.gres,
                    other => return Err(bad(&format!("unknown key `{other}`"))),
                };
                if slot.is_some() {
                    return Err(twice());
                }
                *slot = Some(value.to_owned());
            }
        }
        Ok(kind)
    }
}

/// `partition:a,constraint:x,y` -> [`partition:a`, `constraint:x,y`]: a comma starts a new
/// item only when a known key follows it.
fn split_items(p: &str) -> Vec<&str> {
    let mut items = vec![];
    let mut start = 0;
    for (i, _) in p.match_indices(',') {
        let rest = &p[i + 1..];
        if ["partition:", "constraint:", "gres:", "edgebench:"]
            .iter()
            .any(|k| rest.trim_start().starts_with(k))
        {
            items.push(p[start..i].trim());
            start = i + 1;
        }
    }
    items.push(p[start..].trim());
    items
}

/// Why a device name cannot be a folder name and part of a job name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadDeviceName {
    #[error("the device name is empty")]
    Empty,
    #[error("the device name is longer than 64 characters")]
    TooLong,
    #[error("the device name `{0}` starts with `.` or `-`")]
    Leading(String),
    #[error("the device name `{name}` has `{c}`: use letters, digits, `.`, `_` and `-`")]
    Character { name: String, c: char },
}

/// A device name is a folder name and part of a job name: letters, digits, `.`, `_`, `-`.
pub fn check_device_name(name: &str) -> Result<(), BadDeviceName> {
    if name.is_empty() {
        return Err(BadDeviceName::Empty);
    }
    if name.len() > 64 {
        return Err(BadDeviceName::TooLong);
    }
    if name.starts_with(['.', '-']) {
        return Err(BadDeviceName::Leading(name.to_owned()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(BadDeviceName::Character {
            name: name.to_owned(),
            c,
        });
    }
    Ok(())
}

/// Everything the scripts say. Paths must be absolute (the CLI makes them so).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The study's config file.
    pub config: PathBuf,
    /// The study's name, for the scripts' comments.
    pub study_name: String,
    /// Models x batch sizes in the study: the unit a shard runs, so the most shards that each
    /// get work.
    pub units: usize,
    pub shards: usize,
    /// At most this many tasks of one array run at once (`--array=1-N%K`).
    pub max_parallel: Option<usize>,
    /// The partition of every device kind that names none (and of the merge job).
    pub partition: Option<String>,
    /// The generic resources of every device kind that names none (not of the merge job).
    pub gres: Option<String>,
    /// The device kinds; empty: one, named after the partition (else `slurm`).
    pub devices: Vec<DeviceKind>,
    /// The study's output folder: `OUT/NAME/shard-I`, `OUT/merged`, `OUT/slurm`.
    pub out: PathBuf,
    /// The edgebench binary the tasks run (on a file system the nodes share).
    pub edgebench: PathBuf,
    /// Ask for whole nodes (`--exclusive`), so that no other job runs beside a measurement.
    pub exclusive: bool,
    /// `edgebench VERSION (COMMIT)`, for the scripts' first comment.
    pub tool: String,
}

/// One script and where it goes, relative to [`Request::out`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub path: PathBuf,
    pub text: String,
}

/// One device kind's job array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayScript {
    pub device: String,
    pub script: Script,
    /// The shard folders its tasks write, `OUT/DEVICE/shard-1` ... `shard-N`.
    pub shard_dirs: Vec<PathBuf>,
}

/// The scripts of a request: one array per device kind, then the merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripts {
    pub arrays: Vec<ArrayScript>,
    pub merge: Script,
    /// Where the tasks' and the merge's output goes (`OUT/slurm/logs`): it must exist before
    /// a job starts, Slurm does not create it.
    pub logs: PathBuf,
    pub merged: PathBuf,
}

/// The scripts of `req`, checked. Pure: nothing is read or written.
pub fn scripts(req: &Request) -> Result<Scripts, SlurmError> {
    check(req)?;
    let devices = match req.devices.is_empty() {
        true => vec![DeviceKind {
            name: req.partition.clone().unwrap_or_else(|| "slurm".into()),
            ..DeviceKind::default()
        }],
        false => req.devices.clone(),
    };
    let dir = req.out.join(SCRIPTS_DIR);
    let logs = dir.join("logs");
    let merged = req.out.join(MERGED_DIR);
    let arrays: Vec<ArrayScript> = devices
        .iter()
        .map(|d| ArrayScript {
            device: d.name.clone(),
            script: Script {
                path: dir.join(format!("{}.sbatch", d.name)),
                text: array_script(req, d, &logs),
            },
            shard_dirs: (1..=req.shards)
                .map(|i| req.out.join(&d.name).join(format!("shard-{i}")))
                .collect(),
        })
        .collect();
    let merge = Script {
        path: dir.join(MERGE_SCRIPT),
        text: merge_script(req, &arrays, &logs, &merged),
    };
    Ok(Scripts {
        arrays,
        merge,
        logs,
        merged,
    })
}

fn check(req: &Request) -> Result<(), SlurmError> {
    let invalid = |flag: &str, message: String| SlurmError::Invalid {
        flag: flag.into(),
        message,
    };
    if req.shards == 0 {
        return Err(invalid(
            "--shards 0",
            "a study needs at least one shard; use --shards 1 or more".into(),
        ));
    }
    if req.shards > req.units {
        return Err(invalid(
            &format!("--shards {}", req.shards),
            format!(
                "the study has {} model(s) x batch size(s), the smallest part a shard runs, so {} shard(s) would have nothing to do; use --shards {} or fewer",
                req.units,
                req.shards - req.units,
                req.units
            ),
        ));
    }
    if req.max_parallel == Some(0) {
        return Err(invalid(
            "--max-parallel 0",
            "no task could ever run; use --max-parallel 1 or more, or leave it out".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for d in &req.devices {
        check_device_name(&d.name).map_err(|m| invalid("--device", m.to_string()))?;
        if !seen.insert(d.name.as_str()) {
            return Err(invalid(
                &format!("--device {}", d.name),
                "the device is named twice; give each device kind its own name".into(),
            ));
        }
        for (key, v) in [
            ("partition", &d.partition),
            ("constraint", &d.constraint),
            ("gres", &d.gres),
        ] {
            if let Some(v) = v {
                one_line(&format!("--device {}", d.name), key, v)?;
            }
        }
        if let Some(p) = &d.edgebench {
            let flag = format!("--device {}", d.name);
            if !p.is_absolute() {
                return Err(invalid(
                    &flag,
                    format!(
                        "edgebench:{} is not an absolute path; the scripts run from any folder",
                        p.display()
                    ),
                ));
            }
            one_line(&flag, "path", &p.to_string_lossy())?;
        }
    }
    if req.devices.is_empty() {
        if let Some(p) = &req.partition {
            check_device_name(p).map_err(|m| {
                invalid(
                    "--partition",
                    format!("{m}; it names the device when no --device is given, so also give --device NAME"),
                )
            })?;
        }
    }
    for (flag, v) in [("--partition", &req.partition), ("--gres", &req.gres)] {
        if let Some(v) = v {
            one_line(flag, "value", v)?;
        }
    }
    for (flag, p) in [
        ("--config", &req.config),
        ("--out", &req.out),
        ("--edgebench", &req.edgebench),
    ] {
        let text = p.to_string_lossy();
        if !p.is_absolute() {
            return Err(invalid(
                flag,
                format!("`{text}` is not an absolute path; the scripts run from any folder"),
            ));
        }
        one_line(flag, "path", &text)?;
    }
    Ok(())
}

/// A value that goes into a script line: no line breaks or other control characters.
fn one_line(flag: &str, what: &str, v: &str) -> Result<(), SlurmError> {
    if v.trim().is_empty() || v.chars().any(char::is_control) {
        return Err(SlurmError::Invalid {
            flag: flag.into(),
            message: format!(
                "the {what} {v:?} is empty or has a line break or control character; a script line cannot hold it"
            ),
        });
    }
    Ok(())
}

fn array_script(req: &Request, d: &DeviceKind, logs: &Path) -> String {
    let n = req.shards;
    let partition = d.partition.as_ref().or(req.partition.as_ref());
    let gres = d.gres.as_ref().or(req.gres.as_ref());
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "# edgebench study `{}` on device `{}`: one array task per shard, {n} shard(s).\n",
        comment(&req.study_name),
        d.name
    ));
    s.push_str(&format!(
        "# Written by {} (edgebench slurm). Submit: sbatch --parsable {}\n",
        comment(&req.tool),
        comment(
            &req.out
                .join(SCRIPTS_DIR)
                .join(format!("{}.sbatch", d.name))
                .to_string_lossy()
        )
    ));
    s.push_str(
        "# A requeued task (preemption, node failure, scontrol requeue) carries on where it\n",
    );
    s.push_str("# stopped: --resume skips what its shard's results.jsonl already holds.\n");
    s.push_str(&format!(
        "#SBATCH --job-name={}\n",
        sbatch_quote(&format!("edgebench-{}", d.name))
    ));
    s.push_str(&match req.max_parallel {
        Some(k) => format!("#SBATCH --array=1-{n}%{k}\n"),
        None => format!("#SBATCH --array=1-{n}\n"),
    });
    s.push_str("#SBATCH --requeue\n");
    s.push_str("#SBATCH --open-mode=append\n");
    if req.exclusive {
        s.push_str("#SBATCH --exclusive\n");
    }
    s.push_str(&format!(
        "#SBATCH --output={}\n",
        sbatch_quote(&format!(
            "{}/{}-%A_%a.out",
            pattern_escape(&logs.to_string_lossy()),
            d.name
        ))
    ));
    if let Some(p) = partition {
        s.push_str(&format!("#SBATCH --partition={}\n", sbatch_quote(p)));
    }
    if let Some(c) = &d.constraint {
        s.push_str(&format!("#SBATCH --constraint={}\n", sbatch_quote(c)));
    }
    if let Some(g) = gres {
        s.push_str(&format!("#SBATCH --gres={}\n", sbatch_quote(g)));
    }
    s.push('\n');
    s.push_str("shard=\"${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it reads SLURM_ARRAY_TASK_ID}\"\n");
    let edgebench = d.edgebench.as_ref().unwrap_or(&req.edgebench);
    s.push_str(&format!(
        "{} study \\\n",
        shell_quote(&edgebench.to_string_lossy())
    ));
    s.push_str(&format!(
        "    --config {} \\\n",
        shell_quote(&req.config.to_string_lossy())
    ));
    s.push_str(&format!(
        "    --shard \"$shard/{n}\" --device {} \\\n",
        shell_quote(&d.name)
    ));
    s.push_str(&format!(
        "    --out {}\"$shard\" --resume --quiet\n",
        shell_quote(&format!(
            "{}/shard-",
            req.out.join(&d.name).to_string_lossy()
        ))
    ));
    s.push_str("status=$?\n");
    s.push_str("# 1: the shard ran to the end and a variant failed, or failed the accuracy gate. That is a\n");
    s.push_str("# result (the report shows it), so the task succeeds and the merge still runs.\n");
    s.push_str("if [ \"$status\" -eq 1 ]; then exit 0; fi\n");
    s.push_str("exit \"$status\"\n");
    s
}

fn merge_script(req: &Request, arrays: &[ArrayScript], logs: &Path, merged: &Path) -> String {
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "# edgebench study `{}`: merge the shards of {} into one study folder with its reports.\n",
        comment(&req.study_name),
        arrays
            .iter()
            .map(|a| a.device.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push_str(&format!(
        "# Written by {} (edgebench slurm). Submitted after the arrays with\n",
        comment(&req.tool)
    ));
    s.push_str("# sbatch --dependency=afterok:ARRAY_ID[:ARRAY_ID...], so it runs once every task has succeeded.\n");
    s.push_str("#SBATCH --job-name=edgebench-merge\n");
    s.push_str("#SBATCH --open-mode=append\n");
    s.push_str(&format!(
        "#SBATCH --output={}\n",
        sbatch_quote(&format!(
            "{}/merge-%j.out",
            pattern_escape(&logs.to_string_lossy())
        ))
    ));
    if let Some(p) = &req.partition {
        s.push_str(&format!("#SBATCH --partition={}\n", sbatch_quote(p)));
    }
    s.push('\n');
    s.push_str(&format!(
        "exec {} merge \\\n",
        shell_quote(&req.edgebench.to_string_lossy())
    ));
    for a in arrays {
        for dir in &a.shard_dirs {
            s.push_str(&format!("    {} \\\n", shell_quote(&dir.to_string_lossy())));
        }
    }
    s.push_str(&format!(
        "    --out {}\n",
        shell_quote(&merged.to_string_lossy())
    ));
    s
}

/// Text for a comment line: control characters (a line break would end the comment) as spaces.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `s` as one shell word: single quotes, each `'` written `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `s` as one `#SBATCH` argument value: in double quotes, `\` and `"` escaped with a backslash
/// (sbatch's own reading of the line: `get_argument` in `src/sbatch/opt.c`).
pub fn sbatch_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if matches!(c, '\\' | '"') {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// A literal `%` in an output path is `%%` (Slurm's file name patterns: `%A`, `%a`, `%j`).
fn pattern_escape(s: &str) -> String {
    s.replace('%', "%%")
}

/// Writes the scripts into `OUT/slurm/` (each atomically, executable) and makes
/// `OUT/slurm/logs/`, which Slurm needs before a job starts.
pub fn write(scripts: &Scripts) -> edgebench_core::error::Result<()> {
    let mkdir = |p: &Path| {
        std::fs::create_dir_all(p).map_err(|e| edgebench_core::Error::Write {
            path: p.to_owned(),
            reason: e.to_string(),
        })
    };
    mkdir(&scripts.logs)?;
    for s in scripts
        .arrays
        .iter()
        .map(|a| &a.script)
        .chain(std::iter::once(&scripts.merge))
    {
        if let Some(dir) = s.path.parent() {
            mkdir(dir)?;
        }
        edgebench_core::write::write_atomic(&s.path, s.text.as_bytes())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&s.path, std::fs::Permissions::from_mode(0o755)).map_err(
                |e| edgebench_core::Error::Write {
                    path: s.path.clone(),
                    reason: e.to_string(),
                },
            )?;
        }
    }
    Ok(())
}

/// The job ids of a submission.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Submitted {
    /// One array per device kind, in the order of [`Scripts::arrays`].
    pub arrays: Vec<SubmittedArray>,
    pub merge: String,
    /// The cluster `sbatch --parsable` named, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubmittedArray {
    pub device: String,
    pub job_id: String,
}

/// `sbatch --parsable`'s answer, `JOBID` or `JOBID;CLUSTER`, as (job id, cluster). `None`
/// when it is not that (a site's wrapper printing something else).
pub fn parse_parsable(stdout: &str) -> Option<(String, Option<String>)> {
    let line = stdout.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    let (id, cluster) = match line.split_once(';') {
        Some((id, c)) => (
            id.trim(),
            Some(c.trim().to_owned()).filter(|c| !c.is_empty()),
        ),
        None => (line, None),
    };
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| (id.to_owned(), cluster))
}

/// Submits the arrays, then the merge with `--dependency=afterok:` on all of them, through
/// `sbatch` (a program name looked up on PATH, or a path). When a call fails, the arrays
/// already submitted are cancelled (`scancel` beside `sbatch`), so nothing runs without its
/// merge.
pub fn submit(scripts: &Scripts, sbatch: &Path) -> Result<Submitted, SlurmError> {
    let dir = scripts_dir(scripts);
    let mut arrays: Vec<SubmittedArray> = vec![];
    let mut cluster = None;
    let cancel_all = |arrays: &[SubmittedArray]| -> String {
        if arrays.is_empty() {
            return String::new();
        }
        let ids: Vec<&str> = arrays.iter().map(|a| a.job_id.as_str()).collect();
        let scancel = sbatch.with_file_name("scancel");
        let scancel = if sbatch.components().count() > 1 {
            scancel
        } else {
            PathBuf::from("scancel")
        };
        let ok = process::run(
            Command::new(&scancel).args(&ids),
            Limits::with_timeout(SBATCH_TIMEOUT),
        )
        .is_ok_and(|o| o.success());
        match ok {
            true => format!("; cancelled the job arrays already submitted: {}", ids.join(" ")),
            false => format!(
                "; could not cancel the job arrays already submitted, cancel them yourself: scancel {}",
                ids.join(" ")
            ),
        }
    };
    for a in &scripts.arrays {
        match sbatch_call(sbatch, &[], &a.script.path, &dir) {
            Ok((id, c)) => {
                cluster = cluster.or(c);
                arrays.push(SubmittedArray {
                    device: a.device.clone(),
                    job_id: id,
                });
            }
            Err(e) => return Err(with_cancelled(e, cancel_all(&arrays))),
        }
    }
    let dependency = format!(
        "--dependency=afterok:{}",
        arrays
            .iter()
            .map(|a| a.job_id.as_str())
            .collect::<Vec<_>>()
            .join(":")
    );
    let merge = match sbatch_call(sbatch, &[&dependency], &scripts.merge.path, &dir) {
        Ok((id, c)) => {
            cluster = cluster.or(c);
            id
        }
        Err(e) => return Err(with_cancelled(e, cancel_all(&arrays))),
    };
    Ok(Submitted {
        arrays,
        merge,
        cluster,
    })
}

fn with_cancelled(e: SlurmError, note: String) -> SlurmError {
    match e {
        SlurmError::SbatchFailed { script, output, .. } => SlurmError::SbatchFailed {
            script,
            output,
            cancelled: note,
        },
        other => other,
    }
}

fn sbatch_call(
    sbatch: &Path,
    args: &[&str],
    script: &Path,
    dir: &str,
) -> Result<(String, Option<String>), SlurmError> {
    let mut cmd = Command::new(sbatch);
    cmd.arg("--parsable").args(args).arg(script);
    let failed = |output: String| SlurmError::SbatchFailed {
        script: script.display().to_string(),
        output,
        cancelled: String::new(),
    };
    let out = process::run(&mut cmd, Limits::with_timeout(SBATCH_TIMEOUT)).map_err(|e| match e
        .kind()
    {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
            SlurmError::SbatchMissing {
                reason: format!("{}: {e}", sbatch.display()),
                dir: dir.to_owned(),
            }
        }
        _ => failed(format!("cannot start {}: {e}", sbatch.display())),
    })?;
    if out.timed_out() {
        return Err(failed(format!(
            "no answer in {} s",
            SBATCH_TIMEOUT.as_secs()
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.success() {
        let text = edgebench_core::error::one_line(&out.text().trim());
        let status = out
            .status
            .and_then(|s| s.code())
            .map_or("killed".to_owned(), |c| format!("exit {c}"));
        return Err(failed(if text.is_empty() {
            status
        } else {
            format!("{status}: {text}")
        }));
    }
    parse_parsable(&stdout).ok_or_else(|| {
        failed(format!(
            "its output `{}` is not `JOBID[;CLUSTER]`, what sbatch --parsable prints",
            edgebench_core::error::one_line(&stdout.trim())
        ))
    })
}

/// What `edgebench slurm` is given, its paths as typed; [`request`] checks them.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub config: PathBuf,
    pub shards: usize,
    pub max_parallel: Option<usize>,
    pub partition: Option<String>,
    pub gres: Option<String>,
    /// `--device` values, parsed as [`DeviceKind`]s.
    pub devices: Vec<String>,
    pub out: PathBuf,
    /// The binary the nodes run; `None`: this one.
    pub edgebench: Option<PathBuf>,
    pub exclusive: bool,
    /// `edgebench VERSION (COMMIT)`.
    pub tool: String,
}

/// The study config `given` names, checked as a file first (a missing one is bad input).
pub fn load_config(given: &Given) -> crate::Result<edgebench_core::schema::study::StudyConfig> {
    if !given.config.is_file() {
        return Err(crate::Error::Invalid(format!(
            "--config {}: no such file: give the study's TOML config (see examples/study.toml)",
            given.config.display()
        )));
    }
    crate::config::load(&given.config)
}

/// The [`Request`] of `given` for the study `cfg`: every path checked and made absolute (the
/// scripts run from any folder), every `--device` parsed. The request itself is checked by
/// [`scripts`].
pub fn request(
    given: Given,
    cfg: &edgebench_core::schema::study::StudyConfig,
) -> Result<Request, SlurmError> {
    let io = |what: String| move |source| SlurmError::Path { what, source };
    let config = given
        .config
        .canonicalize()
        .map_err(io(format!("--config {}", given.config.display())))?;
    let out =
        std::path::absolute(&given.out).map_err(io(format!("--out {}", given.out.display())))?;
    let edgebench = match &given.edgebench {
        Some(p) => {
            if !p.is_file() {
                return Err(SlurmError::NoSuchFile {
                    what: format!("--edgebench {}", p.display()),
                    fix: "give the path of the edgebench binary the nodes run",
                });
            }
            std::path::absolute(p).map_err(io(format!("--edgebench {}", p.display())))?
        }
        None => std::env::current_exe().map_err(io(
            "cannot find this edgebench binary: give the one the nodes run with --edgebench PATH"
                .into(),
        ))?,
    };
    let mut devices = given
        .devices
        .iter()
        .map(|d| d.parse::<DeviceKind>())
        .collect::<Result<Vec<_>, SlurmError>>()?;
    for d in &mut devices {
        if let Some(p) = &d.edgebench {
            if !p.is_file() {
                return Err(SlurmError::NoSuchFile {
                    what: format!("--device {}: edgebench:{}", d.name, p.display()),
                    fix: "give the path of the edgebench binary this device's nodes run",
                });
            }
            d.edgebench = Some(std::path::absolute(p).map_err(io(format!("--device {}", d.name)))?);
        }
    }
    Ok(Request {
        config,
        study_name: cfg.name.clone(),
        units: cfg.models.len() * cfg.batch.len().max(1),
        shards: given.shards,
        max_parallel: given.max_parallel,
        partition: given.partition,
        gres: given.gres,
        devices,
        out,
        edgebench,
        exclusive: given.exclusive,
        tool: given.tool,
    })
}

/// `sbatch` on PATH, as a path.
pub fn find_sbatch(scripts: &Scripts) -> Result<PathBuf, SlurmError> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("sbatch"))
        .find(|p| p.is_file())
        .ok_or(SlurmError::SbatchMissing {
            reason: "not on PATH".into(),
            dir: scripts_dir(scripts),
        })
}

/// The folder of the scripts, as error messages name it.
fn scripts_dir(scripts: &Scripts) -> String {
    scripts
        .merge
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .display()
        .to_string()
}

/// What `edgebench slurm` prints: the scripts written, then how to submit them or what was
/// submitted.
pub fn summary_text(req: &Request, s: &Scripts, submitted: Option<&Submitted>) -> String {
    let mut out = String::new();
    let n = req.shards;
    let at_once = req
        .max_parallel
        .map(|k| format!(", at most {k} at a time"))
        .unwrap_or_default();
    for a in &s.arrays {
        out.push_str(&format!(
            "wrote {}: device {}, shards 1-{n} of the study `{}`{at_once}\n",
            a.script.path.display(),
            a.device,
            req.study_name
        ));
    }
    out.push_str(&format!(
        "wrote {}: merges the shards into {}\n",
        s.merge.path.display(),
        s.merged.display()
    ));
    match submitted {
        None => {
            out.push_str("submit them (or run this again with --submit):\n");
            let mut ids = vec![];
            for (i, a) in s.arrays.iter().enumerate() {
                out.push_str(&format!(
                    "  a{}=$(sbatch --parsable {})\n",
                    i + 1,
                    shell_quote(&a.script.path.to_string_lossy())
                ));
                ids.push(format!("${{a{}%%;*}}", i + 1));
            }
            out.push_str(&format!(
                "  sbatch --dependency=afterok:{} {}\n",
                ids.join(":"),
                shell_quote(&s.merge.path.to_string_lossy())
            ));
        }
        Some(sub) => {
            for a in &sub.arrays {
                out.push_str(&format!(
                    "submitted device {}: job array {} (tasks 1-{n})\n",
                    a.device, a.job_id
                ));
            }
            let ids: Vec<&str> = sub.arrays.iter().map(|a| a.job_id.as_str()).collect();
            out.push_str(&format!(
                "submitted the merge: job {}, once every task of {} has succeeded\n",
                sub.merge,
                ids.join(", ")
            ));
            out.push_str(&format!(
                "logs in {}; the merged study will be in {}\n",
                s.logs.display(),
                s.merged.display()
            ));
        }
    }
    out
}

/// What `edgebench slurm --json` prints.
pub fn summary_json(
    req: &Request,
    s: &Scripts,
    submitted: Option<&Submitted>,
) -> serde_json::Value {
    serde_json::json!({
        "shards": req.shards,
        "arrays": s.arrays.iter().map(|a| serde_json::json!({
            "device": a.device,
            "script": a.script.path,
            "shard_dirs": a.shard_dirs,
        })).collect::<Vec<_>>(),
        "merge_script": s.merge.path,
        "merged": s.merged,
        "logs": s.logs,
        "submitted": submitted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            config: "/lab/study.toml".into(),
            study_name: "fleet".into(),
            units: 6,
            shards: 3,
            max_parallel: Some(2),
            partition: None,
            gres: None,
            devices: vec![],
            out: "/lab/out".into(),
            edgebench: "/opt/edgebench/bin/edgebench".into(),
            exclusive: true,
            tool: "edgebench 0.1.0 (abc1234)".into(),
        }
    }

    fn device(s: &str) -> DeviceKind {
        s.parse().unwrap()
    }

    fn invalid(r: Result<Scripts, SlurmError>) -> String {
        match r {
            Err(SlurmError::Invalid { flag, message }) => format!("{flag}: {message}"),
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }

    #[test]
    fn the_array_script_of_one_device_in_full() {
        let mut req = request();
        req.devices = vec![device(
            "orin=partition:jetson,constraint:orin&nx,gres:gpu:1",
        )];
        let s = scripts(&req).unwrap();
        assert_eq!(s.arrays.len(), 1);
        assert_eq!(
            s.arrays[0].script.path,
            Path::new("/lab/out/slurm/orin.sbatch")
        );
        let expected = r#"#!/bin/bash
# edgebench study `fleet` on device `orin`: one array task per shard, 3 shard(s).
# Written by edgebench 0.1.0 (abc1234) (edgebench slurm). Submit: sbatch --parsable /lab/out/slurm/orin.sbatch
# A requeued task (preemption, node failure, scontrol requeue) carries on where it
# stopped: --resume skips what its shard's results.jsonl already holds.
#SBATCH --job-name="edgebench-orin"
#SBATCH --array=1-3%2
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --exclusive
#SBATCH --output="/lab/out/slurm/logs/orin-%A_%a.out"
#SBATCH --partition="jetson"
#SBATCH --constraint="orin&nx"
#SBATCH --gres="gpu:1"

shard="${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it reads SLURM_ARRAY_TASK_ID}"
'/opt/edgebench/bin/edgebench' study \
    --config '/lab/study.toml' \
    --shard "$shard/3" --device 'orin' \
    --out '/lab/out/orin/shard-'"$shard" --resume --quiet
status=$?
# 1: the shard ran to the end and a variant failed, or failed the accuracy gate. That is a
# result (the report shows it), so the task succeeds and the merge still runs.
if [ "$status" -eq 1 ]; then exit 0; fi
exit "$status"
"#;
        assert_eq!(s.arrays[0].script.text, expected);
    }

    #[test]
    fn the_merge_script_names_every_shard_of_every_device() {
        let mut req = request();
        req.partition = Some("cpu".into());
        req.devices = vec![
            device("orin=partition:jetson"),
            device("h100=constraint:h100"),
        ];
        let s = scripts(&req).unwrap();
        let expected = r#"#!/bin/bash
# edgebench study `fleet`: merge the shards of orin, h100 into one study folder with its reports.
# Written by edgebench 0.1.0 (abc1234) (edgebench slurm). Submitted after the arrays with
# sbatch --dependency=afterok:ARRAY_ID[:ARRAY_ID...], so it runs once every task has succeeded.
#SBATCH --job-name=edgebench-merge
#SBATCH --open-mode=append
#SBATCH --output="/lab/out/slurm/logs/merge-%j.out"
#SBATCH --partition="cpu"

exec '/opt/edgebench/bin/edgebench' merge \
    '/lab/out/orin/shard-1' \
    '/lab/out/orin/shard-2' \
    '/lab/out/orin/shard-3' \
    '/lab/out/h100/shard-1' \
    '/lab/out/h100/shard-2' \
    '/lab/out/h100/shard-3' \
    --out '/lab/out/merged'
"#;
        assert_eq!(s.merge.text, expected);
        assert_eq!(s.merge.path, Path::new("/lab/out/slurm/merge.sbatch"));
        assert_eq!(s.logs, Path::new("/lab/out/slurm/logs"));
        assert_eq!(s.merged, Path::new("/lab/out/merged"));
        // The device's own partition wins; a device without one gets --partition.
        assert!(s.arrays[0]
            .script
            .text
            .contains("#SBATCH --partition=\"jetson\"\n"));
        assert!(s.arrays[1]
            .script
            .text
            .contains("#SBATCH --partition=\"cpu\"\n"));
        assert!(s.arrays[1]
            .script
            .text
            .contains("#SBATCH --constraint=\"h100\"\n"));
        assert_eq!(
            s.arrays[1].shard_dirs,
            vec![
                PathBuf::from("/lab/out/h100/shard-1"),
                PathBuf::from("/lab/out/h100/shard-2"),
                PathBuf::from("/lab/out/h100/shard-3")
            ]
        );
    }

    #[test]
    fn a_device_may_run_its_own_binary_and_the_merge_runs_the_requests() {
        let mut req = request();
        req.devices = vec![
            device("orin=partition:jetson,edgebench:/shared/aarch64/edgebench"),
            device("h100=partition:gpu"),
        ];
        let s = scripts(&req).unwrap();
        assert!(s.arrays[0]
            .script
            .text
            .contains("\n'/shared/aarch64/edgebench' study \\\n"));
        assert!(s.arrays[1]
            .script
            .text
            .contains("\n'/opt/edgebench/bin/edgebench' study \\\n"));
        assert!(s
            .merge
            .text
            .contains("exec '/opt/edgebench/bin/edgebench' merge"));
    }

    #[test]
    fn without_devices_one_named_after_the_partition_or_slurm() {
        let mut req = request();
        let s = scripts(&req).unwrap();
        assert_eq!(s.arrays.len(), 1);
        assert_eq!(s.arrays[0].device, "slurm");
        assert!(s.arrays[0].script.text.contains("--device 'slurm'"));
        assert!(!s.arrays[0].script.text.contains("--partition"));
        req.partition = Some("gpu".into());
        req.gres = Some("gpu:1".into());
        req.max_parallel = None;
        req.exclusive = false;
        let s = scripts(&req).unwrap();
        let text = &s.arrays[0].script.text;
        assert_eq!(s.arrays[0].device, "gpu");
        assert!(text.contains("#SBATCH --array=1-3\n"), "{text}");
        assert!(text.contains("#SBATCH --partition=\"gpu\"\n#SBATCH --gres=\"gpu:1\"\n"));
        assert!(!text.contains("--exclusive"));
        assert!(text.contains("--out '/lab/out/gpu/shard-'\"$shard\""));
        // The merge needs no GPU.
        assert!(!s.merge.text.contains("gres"));
    }

    #[test]
    fn paths_are_quoted_for_the_shell_and_for_sbatch() {
        let mut req = request();
        req.out = "/lab/it's 100% \"mine\"\\x".into();
        req.config = "/lab/a b/$(rm -rf ~).toml".into();
        let s = scripts(&req).unwrap();
        let text = &s.arrays[0].script.text;
        assert!(
            text.contains(
                r#"#SBATCH --output="/lab/it's 100%% \"mine\"\\x/slurm/logs/slurm-%A_%a.out""#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"--config '/lab/a b/$(rm -rf ~).toml'"#),
            "{text}"
        );
        assert!(
            text.contains(r#"--out '/lab/it'\''s 100% "mine"\x/slurm/shard-'"$shard""#),
            "{text}"
        );
        assert!(s
            .merge
            .text
            .contains(r#"--out '/lab/it'\''s 100% "mine"\x/merged'"#));
    }

    #[test]
    fn the_quoted_script_runs_in_bash_as_written() {
        // The shell line of a script with hostile paths, run by bash with `edgebench` replaced
        // by printf: every argument arrives as one word, nothing is expanded.
        let mut req = request();
        req.out = "/lab/it's $HOME `id` 100%".into();
        req.config = "/lab/a b/$(echo no).toml".into();
        req.edgebench = "/usr/bin/printf".into();
        let s = scripts(&req).unwrap();
        let script = s.arrays[0]
            .script
            .text
            .replace("/usr/bin/printf' study", "/usr/bin/printf' '%s\\n' study");
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("SLURM_ARRAY_TASK_ID", "2")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let args: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        assert_eq!(
            args,
            [
                "study",
                "--config",
                "/lab/a b/$(echo no).toml",
                "--shard",
                "2/3",
                "--device",
                "slurm",
                "--out",
                "/lab/it's $HOME `id` 100%/slurm/shard-2",
                "--resume",
                "--quiet"
            ]
        );
    }

    #[test]
    fn device_syntax() {
        assert_eq!(
            device("orin"),
            DeviceKind {
                name: "orin".into(),
                ..DeviceKind::default()
            }
        );
        assert_eq!(
            device("a100=constraint:a100|h100,gres:gpu:a100:2,partition:gpu"),
            DeviceKind {
                name: "a100".into(),
                partition: Some("gpu".into()),
                constraint: Some("a100|h100".into()),
                gres: Some("gpu:a100:2".into()),
                edgebench: None,
            }
        );
        assert_eq!(
            device("orin=partition:jetson,edgebench:/shared/aarch64/edgebench").edgebench,
            Some(PathBuf::from("/shared/aarch64/edgebench"))
        );
        // A comma inside a value stays in it when no key follows.
        assert_eq!(
            device("x=constraint:a,b").constraint.as_deref(),
            Some("a,b")
        );
        for (bad, why) in [
            ("", "the device name is empty"),
            ("=partition:p", "the device name is empty"),
            ("orin=", "nothing after `=`"),
            ("orin=jetson", "`jetson` has no KEY:VALUE"),
            ("orin=queue:jetson", "unknown key `queue`"),
            ("orin=partition:", "`partition` has no value"),
            ("orin=partition:a,partition:b", "`partition` is given twice"),
            (
                "orin=edgebench:/a,edgebench:/b",
                "`edgebench` is given twice",
            ),
            ("or in=partition:a", "has ` `"),
            ("../x=partition:a", "starts with `.` or `-`"),
            ("a/b", "has `/`"),
        ] {
            let e = bad.parse::<DeviceKind>().unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.contains("NAME=partition:P"), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn bad_requests_name_the_flag_and_the_fix() {
        let mut r = request();
        r.shards = 0;
        assert!(invalid(scripts(&r)).starts_with("--shards 0: "));
        let mut r = request();
        r.shards = 8;
        let e = invalid(scripts(&r));
        assert!(
            e.contains("6 model(s) x batch size(s)") && e.contains("--shards 6 or fewer"),
            "{e}"
        );
        let mut r = request();
        r.max_parallel = Some(0);
        assert!(invalid(scripts(&r)).starts_with("--max-parallel 0: "));
        let mut r = request();
        r.devices = vec![device("a"), device("a=partition:p")];
        assert!(invalid(scripts(&r)).contains("named twice"));
        let mut r = request();
        r.devices = vec![device("a=partition:p")];
        r.devices[0].partition = Some("p\nq".into());
        assert!(invalid(scripts(&r)).contains("line break"));
        let mut r = request();
        r.gres = Some(" ".into());
        assert!(invalid(scripts(&r)).starts_with("--gres: "));
        let mut r = request();
        r.out = "out".into();
        assert!(invalid(scripts(&r)).contains("not an absolute path"));
        let mut r = request();
        r.edgebench = "/bin/edge\nbench".into();
        assert!(invalid(scripts(&r)).starts_with("--edgebench: "));
        let mut r = request();
        r.devices = vec![device("orin=edgebench:bin/edgebench")];
        assert!(invalid(scripts(&r)).contains("edgebench:bin/edgebench is not an absolute path"));
        let mut r = request();
        r.partition = Some("gpu a".into());
        assert!(invalid(scripts(&r)).contains("also give --device NAME"));
    }

    #[test]
    fn parsable_output() {
        assert_eq!(parse_parsable("42\n"), Some(("42".into(), None)));
        assert_eq!(
            parse_parsable("42;cluster\n"),
            Some(("42".into(), Some("cluster".into())))
        );
        // A site's submit filter may print a note first; the id is the last line.
        assert_eq!(
            parse_parsable("note: defaulting to partition x\n7\n"),
            Some(("7".into(), None))
        );
        assert_eq!(parse_parsable("Submitted batch job 42\n"), None);
        assert_eq!(parse_parsable(""), None);
        assert_eq!(parse_parsable(";c"), None);
    }

    #[test]
    fn write_makes_the_logs_folder_and_executable_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let mut req = request();
        req.out = dir.path().join("out");
        let s = scripts(&req).unwrap();
        write(&s).unwrap();
        assert!(s.logs.is_dir());
        for p in [&s.arrays[0].script.path, &s.merge.path] {
            assert_eq!(
                std::fs::read_to_string(p).unwrap().lines().next(),
                Some("#!/bin/bash")
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(p).unwrap().permissions().mode();
                assert_eq!(mode & 0o755, 0o755, "{}", p.display());
            }
        }
        // Written twice: replaced, no leftovers.
        write(&s).unwrap();
        let names: Vec<String> = std::fs::read_dir(req.out.join(SCRIPTS_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
