//! Racing on confidence intervals (successive halving): which of many candidates has the
//! lowest cost (milliseconds per item, millijoules per item: lower is better), spending a time
//! budget on the contenders rather than on every candidate alike.
//!
//! Rung 0 screens every candidate for [`RaceSettings::screen_s`] seconds. At the end of each
//! rung every candidate still racing gets the 95% interval of its median cost (a bootstrap
//! over all its samples so far, [`crate::stats::bootstrap_median_ci`]); the leader is the one
//! with the lowest median, and a candidate whose interval's lower bound lies above the
//! leader's upper bound (times `1 + margin`) is clearly worse and leaves the race. The
//! survivors get twice the time in the next rung. The race stops when one candidate is left
//! (separated), when the survivors are all within `tie_rel` of the leader with intervals that
//! narrow (a tie: more time would not tell them apart), when the budget is spent, or after
//! `max_rungs` rungs.
//!
//! The logic is pure: [`Race::next_request`] says which candidate to measure and for how long,
//! [`Race::record`] takes what came back ([`Trial`]), and the caller does the measuring
//! ([`Trials`], or its own loop). The same trials in the same order give the same race, so a
//! search log of trials replays an interrupted race exactly (`--resume`): nothing here reads
//! a clock, and the budget is the sum of the time each trial says it spent.

use crate::stats::{bootstrap_median_ci, median};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How a race spends its budget and decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaceSettings {
    /// The whole budget in seconds, every trial's `spent_s` counted (preparing included).
    pub budget_s: f64,
    /// Measurement time of each candidate in rung 0; rung `r` gives `screen_s * 2^r`.
    pub screen_s: f64,
    /// A candidate leaves when its lower bound exceeds the leader's upper bound times
    /// `1 + margin`: a guard against drift between trials measured at different times.
    pub margin: f64,
    /// Survivors whose medians are all within this share of the leader's, and whose intervals
    /// are all narrower than it (relative half-width), are tied: the race stops.
    pub tie_rel: f64,
    /// Fewer samples than this give no interval: such a candidate is judged by its fastest
    /// sample alone (it leaves only when even that is clearly worse) and cannot lead.
    pub min_samples: usize,
    pub max_rungs: usize,
    /// Seed of the bootstrap resampling (each candidate and rung derive their own).
    pub seed: u64,
}

impl Default for RaceSettings {
    fn default() -> Self {
        RaceSettings {
            budget_s: 300.0,
            screen_s: 1.0,
            margin: 0.02,
            tie_rel: 0.01,
            min_samples: 5,
            max_rungs: 12,
            seed: 0,
        }
    }
}

/// Measure `candidate` for `seconds`: the request of one trial.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub candidate: usize,
    pub rung: usize,
    pub seconds: f64,
}

/// What one trial gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trial {
    /// Cost samples (lower is better), and the wall time the trial took.
    Measured { samples: Vec<f64>, spent_s: f64 },
    /// The candidate cannot stay in the race (it failed to prepare or run, or failed the
    /// accuracy gate); the reason is kept.
    Out { reason: String, spent_s: f64 },
}

impl Trial {
    pub fn spent_s(&self) -> f64 {
        match self {
            Trial::Measured { spent_s, .. } | Trial::Out { spent_s, .. } => *spent_s,
        }
    }
}

/// Runs trials: "measure candidate i for d seconds -> samples". The real one prepares and
/// measures engine sessions; tests script the samples and the time.
pub trait Trials {
    fn trial(&mut self, request: &Request) -> Trial;
}

/// A candidate's fate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    /// Still in the race (or, once it stopped, among the survivors).
    Racing,
    /// Clearly slower than `leader` at the end of `rung`: its lower bound `low` above the
    /// leader's upper bound `leader_high`.
    Beaten {
        rung: usize,
        leader: usize,
        low: f64,
        leader_high: f64,
    },
    /// Left the race in `rung` for `reason` (failed to run, failed the gate).
    Out { rung: usize, reason: String },
    /// Never measured: the budget ran out first.
    NotMeasured,
}

/// Why a race stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// One candidate is left: the winner is separated from all others.
    Separated,
    /// The survivors are within `tie_rel` of each other with narrow intervals.
    Tie,
    /// The budget is spent; the winner is the survivor with the lowest median.
    BudgetSpent,
    /// `max_rungs` rungs ran.
    RungLimit,
    /// Every candidate left the race.
    NoneLeft,
}

/// A candidate's cost so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    pub samples: usize,
    pub median: Option<f64>,
    /// 95% interval of the median; `None` below `min_samples` samples.
    pub ci95: Option<(f64, f64)>,
    pub spent_s: f64,
}

/// The race once it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaceOutcome {
    /// The survivor with the lowest median; `None` when none is left.
    pub winner: Option<usize>,
    pub stop: Stop,
    pub fates: Vec<Fate>,
    pub standings: Vec<Standing>,
    /// Candidates that left the race (beaten or out), in the order they left.
    pub left: Vec<usize>,
    pub rungs: usize,
    pub spent_s: f64,
}

/// A race in progress.
#[derive(Debug, Clone)]
pub struct Race {
    settings: RaceSettings,
    samples: Vec<Vec<f64>>,
    spent: Vec<f64>,
    fates: Vec<Fate>,
    left: Vec<usize>,
    spent_s: f64,
    rung: usize,
    queue: VecDeque<Request>,
    stop: Option<Stop>,
    started: bool,
    rungs: usize,
}

impl Race {
    pub fn new(candidates: usize, settings: RaceSettings) -> Race {
        Race {
            samples: vec![vec![]; candidates],
            spent: vec![0.0; candidates],
            fates: vec![Fate::Racing; candidates],
            left: vec![],
            spent_s: 0.0,
            rung: 0,
            queue: VecDeque::new(),
            stop: if candidates == 0 {
                Some(Stop::NoneLeft)
            } else {
                None
            },
            started: false,
            rungs: 0,
            settings,
        }
    }

    pub fn settings(&self) -> &RaceSettings {
        &self.settings
    }

    /// The next trial to run; `None` once the race has stopped.
    pub fn next_request(&mut self) -> Option<Request> {
        if self.stop.is_some() {
            return None;
        }
        if self.queue.is_empty() {
            if self.started {
                self.end_rung();
                if self.stop.is_some() {
                    return None;
                }
                self.rung += 1;
            }
            self.started = true;
            self.plan_rung();
            if self.stop.is_some() {
                return None;
            }
        }
        let r = self.queue.front().copied();
        if r.is_none() {
            self.stop = Some(Stop::NoneLeft);
        }
        r
    }

    /// Takes the result of the trial [`Race::next_request`] asked for.
    pub fn record(&mut self, request: &Request, trial: Trial) {
        if self.queue.front() == Some(request) {
            self.queue.pop_front();
        } else {
            self.queue.retain(|q| q != request);
        }
        let c = request.candidate;
        self.spent_s += trial.spent_s();
        self.spent[c] += trial.spent_s();
        match trial {
            Trial::Measured { samples, .. } => {
                self.samples[c].extend(samples.into_iter().filter(|s| s.is_finite()))
            }
            Trial::Out { reason, .. } => {
                if self.fates[c] == Fate::Racing {
                    self.fates[c] = Fate::Out {
                        rung: request.rung,
                        reason,
                    };
                    self.left.push(c);
                }
            }
        }
        if self.spent_s >= self.settings.budget_s {
            self.queue.clear();
            self.finish_by_budget();
        }
    }

    /// Whether the race has stopped.
    pub fn stopped(&self) -> Option<Stop> {
        self.stop
    }

    /// The race as it stands (final once [`Race::next_request`] returned `None`).
    pub fn outcome(&self) -> RaceOutcome {
        let standings: Vec<Standing> = (0..self.samples.len()).map(|c| self.standing(c)).collect();
        let winner = self
            .racing()
            .filter(|&c| standings[c].median.is_some())
            .min_by(|&a, &b| {
                let key = |c: usize| (standings[c].ci95.is_none(), standings[c].median);
                let (ka, kb) = (key(a), key(b));
                ka.0.cmp(&kb.0).then(
                    ka.1.unwrap_or(f64::INFINITY)
                        .total_cmp(&kb.1.unwrap_or(f64::INFINITY)),
                )
            });
        RaceOutcome {
            winner,
            stop: self.stop.unwrap_or(Stop::BudgetSpent),
            fates: self.fates.clone(),
            standings,
            left: self.left.clone(),
            rungs: self.rungs,
            spent_s: self.spent_s,
        }
    }

    fn racing(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.fates.len()).filter(|&c| self.fates[c] == Fate::Racing)
    }

    fn standing(&self, c: usize) -> Standing {
        let s = &self.samples[c];
        let ci95 = (s.len() >= self.settings.min_samples.max(2)).then(|| {
            let seed = self
                .settings
                .seed
                .wrapping_add((c as u64) << 32)
                .wrapping_add(s.len() as u64);
            bootstrap_median_ci(s, 1000, 0.95, seed)
        });
        Standing {
            samples: s.len(),
            median: (!s.is_empty()).then(|| median(s)),
            ci95,
            spent_s: self.spent[c],
        }
    }

    fn plan_rung(&mut self) {
        let alive: Vec<usize> = self.racing().collect();
        if alive.is_empty() {
            self.stop = Some(Stop::NoneLeft);
            return;
        }
        if self.rung >= self.settings.max_rungs {
            self.stop = Some(Stop::RungLimit);
            return;
        }
        let full = self.settings.screen_s * 2f64.powi(self.rung as i32);
        let left = (self.settings.budget_s - self.spent_s).max(0.0);
        let share = left / alive.len() as f64;
        // Rung 0 screens everyone with what there is; a later rung that cannot give each
        // survivor half its time would not tell them apart better than the last one did.
        let seconds = if self.rung == 0 || share >= full / 2.0 {
            full.min(share)
        } else {
            self.stop = Some(Stop::BudgetSpent);
            return;
        };
        let rung = self.rung;
        self.rungs += 1;
        self.queue = alive
            .into_iter()
            .map(|candidate| Request {
                candidate,
                rung,
                seconds,
            })
            .collect();
    }

    /// End of a rung: the clearly worse leave, then the stopping rules.
    fn end_rung(&mut self) {
        let standings: Vec<(usize, Standing)> =
            self.racing().map(|c| (c, self.standing(c))).collect();
        let leader = standings
            .iter()
            .filter(|(_, s)| s.ci95.is_some())
            .min_by(|a, b| {
                a.1.median
                    .unwrap_or(0.0)
                    .total_cmp(&b.1.median.unwrap_or(0.0))
            });
        if let Some(&(leader, ref ls)) = leader {
            let leader_high = ls.ci95.map(|c| c.1).unwrap_or(f64::INFINITY);
            let bar = leader_high * (1.0 + self.settings.margin);
            for (c, s) in &standings {
                if *c == leader {
                    continue;
                }
                let low = match s.ci95 {
                    Some((lo, _)) => lo,
                    // Too few samples for an interval: only its fastest sample counts.
                    None => self.samples[*c]
                        .iter()
                        .copied()
                        .fold(f64::INFINITY, f64::min),
                };
                if low.is_finite() && low > bar {
                    self.fates[*c] = Fate::Beaten {
                        rung: self.rung,
                        leader,
                        low,
                        leader_high,
                    };
                    self.left.push(*c);
                }
            }
        }
        let alive: Vec<usize> = self.racing().collect();
        match alive.len() {
            0 => self.stop = Some(Stop::NoneLeft),
            1 => self.stop = Some(Stop::Separated),
            _ => {
                if self.tied(&alive) {
                    self.stop = Some(Stop::Tie);
                } else if self.spent_s >= self.settings.budget_s {
                    self.stop = Some(Stop::BudgetSpent);
                }
            }
        }
    }

    fn tied(&self, alive: &[usize]) -> bool {
        let st: Vec<Standing> = alive.iter().map(|&c| self.standing(c)).collect();
        let Some(best) = st
            .iter()
            .filter_map(|s| s.median)
            .min_by(|a, b| a.total_cmp(b))
        else {
            return false;
        };
        let tol = self.settings.tie_rel;
        st.iter().all(|s| match (s.median, s.ci95) {
            (Some(m), Some((lo, hi))) => {
                m <= best * (1.0 + tol) && (hi - lo) / 2.0 <= tol * m && m > 0.0
            }
            _ => false,
        })
    }

    fn finish_by_budget(&mut self) {
        // Candidates the budget left unscreened cannot win on no data.
        for c in 0..self.fates.len() {
            if self.fates[c] == Fate::Racing && self.samples[c].is_empty() {
                self.fates[c] = Fate::NotMeasured;
            }
        }
        self.stop = Some(if self.racing().next().is_none() {
            Stop::NoneLeft
        } else {
            Stop::BudgetSpent
        });
    }
}

/// Runs a race to its end with `trials`.
pub fn run(race: &mut Race, trials: &mut dyn Trials) -> RaceOutcome {
    while let Some(request) = race.next_request() {
        let trial = trials.trial(&request);
        race.record(&request, trial);
    }
    race.outcome()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scripted candidates: each has a true cost and a spread; a trial of `seconds` gives
    /// `seconds * 1000 / cost` samples (at least one) and spends exactly `seconds` plus a
    /// fixed preparation on first use. No clock: the time is what the script says.
    struct Script {
        cost: Vec<f64>,
        spread: f64,
        prepare_s: f64,
        out: Vec<Option<String>>,
        asked: Vec<Request>,
    }

    impl Script {
        fn new(cost: &[f64]) -> Script {
            Script {
                cost: cost.to_vec(),
                spread: 0.01,
                prepare_s: 0.0,
                out: vec![None; cost.len()],
                asked: vec![],
            }
        }
    }

    impl Trials for Script {
        fn trial(&mut self, r: &Request) -> Trial {
            let first = !self.asked.iter().any(|a| a.candidate == r.candidate);
            self.asked.push(*r);
            let extra = if first { self.prepare_s } else { 0.0 };
            if let Some(reason) = &self.out[r.candidate] {
                return Trial::Out {
                    reason: reason.clone(),
                    spent_s: extra,
                };
            }
            let c = self.cost[r.candidate];
            let n = ((r.seconds * 1000.0 / c) as usize).max(1);
            let samples = (0..n)
                .map(|i| c * (1.0 + self.spread * (((i * 7 + r.rung) % 11) as f64 / 5.0 - 1.0)))
                .collect();
            Trial::Measured {
                samples,
                spent_s: r.seconds + extra,
            }
        }
    }

    fn settings(budget_s: f64) -> RaceSettings {
        RaceSettings {
            budget_s,
            screen_s: 0.5,
            ..RaceSettings::default()
        }
    }

    #[test]
    fn clearly_slower_candidates_leave_at_screening_and_the_fastest_wins_separated() {
        // 10 ms, 5 ms, 20 ms, 5.5 ms: 10 and 20 are far above 5; 5.5 is 10% above and needs
        // no more than the spread of 1% to separate.
        let mut script = Script::new(&[10.0, 5.0, 20.0, 5.5]);
        let mut race = Race::new(4, settings(100.0));
        let out = run(&mut race, &mut script);
        assert_eq!(out.winner, Some(1));
        assert_eq!(out.stop, Stop::Separated);
        assert_eq!(out.left, vec![0, 2, 3]);
        for c in [0, 2, 3] {
            assert!(
                matches!(
                    out.fates[c],
                    Fate::Beaten {
                        rung: 0,
                        leader: 1,
                        ..
                    }
                ),
                "{c}: {:?}",
                out.fates[c]
            );
        }
        assert_eq!(out.fates[1], Fate::Racing);
        assert_eq!(script.asked.len(), 4);
    }

    #[test]
    fn close_candidates_leave_in_later_rungs_with_doubled_time() {
        // Spread 8%: 5.0 against 5.15 overlaps at screening and separates as samples grow.
        let mut script = Script::new(&[5.15, 5.0, 9.0]);
        script.spread = 0.08;
        let mut race = Race::new(3, settings(1000.0));
        let out = run(&mut race, &mut script);
        assert_eq!(out.winner, Some(1));
        assert_eq!(out.left, vec![2, 0]);
        assert!(matches!(out.fates[2], Fate::Beaten { rung: 0, .. }));
        let Fate::Beaten { rung, .. } = out.fates[0] else {
            panic!("{:?}", out.fates[0])
        };
        assert!(rung >= 1, "{rung}");
        // Each rung doubles the time of the survivors.
        let times: Vec<f64> = script
            .asked
            .iter()
            .filter(|r| r.candidate == 1)
            .map(|r| r.seconds)
            .collect();
        for w in times.windows(2) {
            assert_eq!(w[1], 2.0 * w[0]);
        }
        assert_eq!(out.stop, Stop::Separated);
    }

    #[test]
    fn the_budget_counts_every_trial_and_stops_the_race() {
        // Two equal candidates with a wide spread never separate: the budget ends it.
        let mut script = Script::new(&[5.0, 5.05]);
        script.spread = 0.2;
        script.prepare_s = 0.25;
        let mut race = Race::new(
            2,
            RaceSettings {
                tie_rel: 0.0,
                ..settings(10.0)
            },
        );
        let out = run(&mut race, &mut script);
        assert_eq!(out.stop, Stop::BudgetSpent);
        let asked: f64 = script.asked.iter().map(|r| r.seconds).sum::<f64>() + 2.0 * 0.25;
        assert!(
            (out.spent_s - asked).abs() < 1e-9,
            "{} {asked}",
            out.spent_s
        );
        let per: f64 = out.standings.iter().map(|s| s.spent_s).sum();
        assert!((per - out.spent_s).abs() < 1e-9);
        // No rung starts that cannot give each survivor half its time.
        assert!(out.spent_s <= 10.0 + 1e-9, "{}", out.spent_s);
        assert!(out.winner.is_some());
        assert_eq!(out.fates, vec![Fate::Racing, Fate::Racing]);
    }

    #[test]
    fn a_budget_spent_during_screening_leaves_the_rest_unmeasured() {
        let mut script = Script::new(&[5.0, 6.0, 7.0]);
        script.prepare_s = 2.0;
        let mut race = Race::new(3, settings(4.5));
        let out = run(&mut race, &mut script);
        assert_eq!(out.stop, Stop::BudgetSpent);
        assert_eq!(script.asked.len(), 2);
        assert_eq!(out.fates[2], Fate::NotMeasured);
        assert_eq!(out.winner, Some(0));
    }

    #[test]
    fn equal_candidates_with_narrow_intervals_stop_as_a_tie() {
        let mut script = Script::new(&[5.0, 5.0, 5.01, 30.0]);
        script.spread = 0.001;
        let mut race = Race::new(4, settings(1000.0));
        let out = run(&mut race, &mut script);
        assert_eq!(out.stop, Stop::Tie);
        assert_eq!(out.left, vec![3]);
        assert!(out.spent_s < 100.0, "a tie must not spend the whole budget");
        // The winner is the lowest median among the tied.
        let w = out.winner.unwrap();
        assert!(w == 0 || w == 1, "{w}");
    }

    #[test]
    fn candidates_that_fail_leave_with_their_reason_and_cannot_win() {
        let mut script = Script::new(&[3.0, 5.0, 9.0]);
        script.out[0] = Some("the accuracy gate failed: cosine 0.9".into());
        let mut race = Race::new(3, settings(100.0));
        let out = run(&mut race, &mut script);
        assert_eq!(out.winner, Some(1));
        assert_eq!(
            out.fates[0],
            Fate::Out {
                rung: 0,
                reason: "the accuracy gate failed: cosine 0.9".into()
            }
        );
        assert_eq!(out.left, vec![0, 2]);

        let mut all_out = Script::new(&[1.0]);
        all_out.out[0] = Some("no".into());
        let out = run(&mut Race::new(1, settings(10.0)), &mut all_out);
        assert_eq!((out.winner, out.stop), (None, Stop::NoneLeft));
        assert_eq!(
            run(&mut Race::new(0, settings(10.0)), &mut all_out).stop,
            Stop::NoneLeft
        );
    }

    #[test]
    fn a_slow_candidate_with_one_sample_leaves_when_its_fastest_run_is_clearly_worse() {
        // 400 ms per run: one sample in a 0.5 s screening, no interval, still clearly out.
        let mut script = Script::new(&[5.0, 400.0]);
        let out = run(&mut Race::new(2, settings(100.0)), &mut script);
        assert_eq!(out.standings[1].samples, 1);
        assert_eq!(out.standings[1].ci95, None);
        assert!(matches!(out.fates[1], Fate::Beaten { rung: 0, .. }));
        assert_eq!(out.winner, Some(0));
    }

    #[test]
    fn a_race_replayed_from_its_log_continues_to_the_same_end() {
        let costs = [5.3, 5.0, 9.0, 5.1];
        let mut full_script = Script::new(&costs);
        full_script.spread = 0.08;
        let s = settings(200.0);
        let full = run(&mut Race::new(4, s.clone()), &mut full_script);

        // Interrupted after 5 trials: the log holds them.
        let mut script = Script::new(&costs);
        script.spread = 0.08;
        let mut first = Race::new(4, s.clone());
        let mut log: Vec<(Request, Trial)> = vec![];
        for _ in 0..5 {
            let r = first.next_request().unwrap();
            let t = script.trial(&r);
            log.push((r, t.clone()));
            first.record(&r, t);
        }
        // Resumed: the logged trials are replayed (not measured), the rest measured.
        let mut resumed = Race::new(4, s);
        let mut measured = 0;
        let mut fresh = Script::new(&costs);
        fresh.spread = 0.08;
        while let Some(r) = resumed.next_request() {
            let t = match log.iter().find(|(lr, _)| *lr == r) {
                Some((_, t)) => t.clone(),
                None => {
                    measured += 1;
                    fresh.trial(&r)
                }
            };
            resumed.record(&r, t);
        }
        let out = resumed.outcome();
        assert_eq!(out, full);
        assert_eq!(measured, full_script.asked.len() - 5);
    }
}
