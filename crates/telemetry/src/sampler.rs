//! The sampler: a thread that reads every source once per period, from just before a
//! measurement until just after it, so that any window inside can be summarized.

use crate::{Channel, Probe, ProbeOptions, Quantity, Source, Unavailable};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// How telemetry runs; recorded with the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetrySettings {
    /// Time between readings.
    pub period_ms: f64,
    /// Idle power is measured for this long before the run (0: not measured).
    pub idle_s: f64,
    /// With a power sensor present, sampling lasts at least this long.
    pub min_time_s: f64,
    /// Grid carbon intensity for the CO2 estimate, in grams per kWh.
    pub grid_gco2_per_kwh: Option<f64>,
}

impl Default for TelemetrySettings {
    /// 50 ms between readings costs well under 1% of a core (see the sampler cost in every
    /// result); 2 s windows let sensors that average over a second settle.
    fn default() -> Self {
        TelemetrySettings {
            period_ms: 50.0,
            idle_s: 2.0,
            min_time_s: 2.0,
            grid_gco2_per_kwh: None,
        }
    }
}

/// The device's telemetry for a whole run: the open sources (lent to one [`Recording`] at a
/// time), the ones that are missing and why, and the settings every summary uses.
pub struct Telemetry {
    sources: Mutex<Vec<Box<dyn Source>>>,
    channels: Vec<Channel>,
    pub unavailable: Vec<Unavailable>,
    pub period: Duration,
    /// Power with nothing running, when it was measured (see [`Telemetry::measure_idle`]).
    pub idle: Option<crate::Idle>,
    /// Grid carbon intensity for the CO2 estimate, in grams per kWh.
    pub grid_gco2_per_kwh: Option<f64>,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("channels", &self.channels)
            .field("unavailable", &self.unavailable)
            .field("period", &self.period)
            .field("idle", &self.idle)
            .finish()
    }
}

impl Telemetry {
    /// Opens every source the machine offers ([`crate::probe`]) with these settings (idle
    /// power is measured separately, by [`Telemetry::measure_idle`]).
    pub fn open(settings: &TelemetrySettings, probe: &ProbeOptions) -> Telemetry {
        let mut t = Telemetry::from_probe(
            crate::probe(probe),
            Duration::from_secs_f64(settings.period_ms.max(1.0) / 1e3),
        );
        t.grid_gco2_per_kwh = settings.grid_gco2_per_kwh;
        t
    }

    /// The least sampling time a measurement needs for these sensors: `min_time_s` where
    /// there is a power sensor, else nothing.
    pub fn min_sampling_s(&self, settings: &TelemetrySettings) -> f64 {
        if self.has_power() {
            settings.min_time_s
        } else {
            0.0
        }
    }

    pub fn from_probe(probe: Probe, period: Duration) -> Telemetry {
        let channels = probe
            .sources
            .iter()
            .flat_map(|s| s.channels().iter().cloned())
            .collect();
        Telemetry {
            sources: Mutex::new(probe.sources),
            channels,
            unavailable: probe.unavailable,
            period: period.max(Duration::from_millis(1)),
            idle: None,
            grid_gco2_per_kwh: None,
        }
    }

    /// Every channel the open sources read, in sample order.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Whether any source reads power or energy.
    pub fn has_power(&self) -> bool {
        self.channels
            .iter()
            .any(|c| matches!(c.quantity, Quantity::PowerW | Quantity::EnergyJ))
    }

    /// Starts sampling on a thread of its own and returns once the first reading is taken,
    /// so that a window opened after this call has a reading before it. The sources go back
    /// when the recording stops; while one recording runs, a second one gets no sources.
    pub fn start(&self) -> Recording<'_> {
        let sources = std::mem::take(&mut *self.sources.lock().unwrap_or_else(|e| e.into_inner()));
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let period = self.period;
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let origin = Instant::now();
        let handle = thread::Builder::new()
            .name("edgebench-telemetry".into())
            .spawn(move || sample(sources, period, origin, ready_tx, stop_rx))
            .ok();
        // A source that hangs on its first reading costs at most this wait.
        let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        Recording {
            telemetry: self,
            origin,
            stop: Some(stop_tx),
            handle,
        }
    }

    /// Measures power with nothing running for `duration` and keeps it for every later
    /// summary ("idle included" and "idle subtracted" figures).
    pub fn measure_idle(&mut self, duration: Duration) {
        if !self.has_power() || duration.is_zero() {
            return;
        }
        let rec = self.start();
        let begin = Instant::now();
        thread::sleep(duration);
        let end = Instant::now();
        let trace = rec.stop();
        self.idle = crate::energy::idle(&trace, begin, end);
    }
}

/// A running sampler; [`Recording::stop`] ends it and returns what it read.
pub struct Recording<'a> {
    telemetry: &'a Telemetry,
    origin: Instant,
    stop: Option<mpsc::Sender<()>>,
    handle: Option<thread::JoinHandle<Sampled>>,
}

/// What the sampler thread hands back: its sources, readings and read times.
type Sampled = (Vec<Box<dyn Source>>, Vec<Sample>, Vec<f64>);

impl Recording<'_> {
    /// Stops the thread (after one last reading) and gives the sources back.
    pub fn stop(mut self) -> Trace {
        self.finish()
    }

    fn finish(&mut self) -> Trace {
        drop(self.stop.take());
        let (sources, samples, read_s) = match self.handle.take().map(|h| h.join()) {
            Some(Ok(parts)) => parts,
            // A source that panicked loses its trace and its sources, not the benchmark.
            _ => (vec![], vec![], vec![]),
        };
        let channels = sources
            .iter()
            .flat_map(|s| s.channels().iter().cloned())
            .collect();
        let mut slot = self
            .telemetry
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if slot.is_empty() {
            *slot = sources;
        }
        Trace {
            channels,
            origin: self.origin,
            period_s: self.telemetry.period.as_secs_f64(),
            samples,
            read_s,
        }
    }
}

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.finish();
        }
    }
}

/// One reading of every channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Seconds since the recording started.
    pub t_s: f64,
    pub values: Vec<Option<f64>>,
}

/// What a recording read.
#[derive(Debug, Clone)]
pub struct Trace {
    pub channels: Vec<Channel>,
    pub origin: Instant,
    pub period_s: f64,
    pub samples: Vec<Sample>,
    /// How long each reading took (the sampler's own cost), in seconds.
    pub read_s: Vec<f64>,
}

impl Trace {
    /// Seconds since the recording started, for a window boundary.
    pub fn at(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.origin).as_secs_f64()
            - self.origin.saturating_duration_since(t).as_secs_f64()
    }
}

/// The sampler thread: one reading right away, then one per period (on a fixed schedule, so
/// slow reads do not drift it), and a last one as soon as it is told to stop, which closes
/// the window.
fn sample(
    mut sources: Vec<Box<dyn Source>>,
    period: Duration,
    origin: Instant,
    ready: mpsc::Sender<()>,
    stop: mpsc::Receiver<()>,
) -> Sampled {
    let width: usize = sources.iter().map(|s| s.channels().len()).sum();
    let mut samples = Vec::with_capacity(1024);
    let mut read_s = Vec::with_capacity(1024);
    // Helper processes start before the schedule does.
    for s in sources.iter_mut() {
        s.start();
    }
    let mut next = Instant::now();
    let mut closing = false;
    let full_every = ((crate::FULL_READING_S / period.as_secs_f64()).round() as usize).max(1);
    loop {
        let full = samples.is_empty() || closing || samples.len() % full_every == 0;
        let t0 = Instant::now();
        let mut values = vec![None; width];
        let mut at = 0;
        for s in sources.iter_mut() {
            let n = s.channels().len();
            if full {
                s.read_full(&mut values[at..at + n]);
            } else {
                s.read(&mut values[at..at + n]);
            }
            at += n;
        }
        let t1 = Instant::now();
        // A reading is stamped with the middle of the time it took.
        samples.push(Sample {
            t_s: (t0 + (t1 - t0) / 2)
                .saturating_duration_since(origin)
                .as_secs_f64(),
            values,
        });
        read_s.push((t1 - t0).as_secs_f64());
        if samples.len() == 1 {
            let _ = ready.send(());
        }
        if closing {
            for s in sources.iter_mut() {
                s.stop();
            }
            return (sources, samples, read_s);
        }
        next += period;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        // A message or a dropped sender both mean stop.
        closing = !matches!(
            stop.recv_timeout(next - now),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads how many times it was read.
    struct Counter {
        channels: Vec<Channel>,
        reads: f64,
    }
    impl Source for Counter {
        fn name(&self) -> &str {
            "counter"
        }
        fn channels(&self) -> &[Channel] {
            &self.channels
        }
        fn read(&mut self, out: &mut [Option<f64>]) {
            self.reads += 1.0;
            out[0] = None;
        }
        fn read_full(&mut self, out: &mut [Option<f64>]) {
            self.reads += 1.0;
            out[0] = Some(self.reads);
        }
    }

    fn telemetry() -> Telemetry {
        let src = Counter {
            channels: vec![Channel {
                name: "energy".into(),
                device: "fake".into(),
                quantity: Quantity::EnergyJ,
                in_total: true,
                source: "counter".into(),
            }],
            reads: 0.0,
        };
        Telemetry::from_probe(
            Probe {
                sources: vec![Box::new(src)],
                unavailable: vec![],
            },
            Duration::from_millis(10),
        )
    }

    #[test]
    fn samples_bracket_the_recording_and_sources_come_back() {
        let t = telemetry();
        assert!(t.has_power());
        let begin = Instant::now();
        let rec = t.start();
        thread::sleep(Duration::from_millis(60));
        let end = Instant::now();
        let trace = rec.stop();
        // A reading at the start, about one per 10 ms, and one after stop.
        assert!(trace.samples.len() >= 3, "{}", trace.samples.len());
        assert!(trace.samples.first().unwrap().t_s <= trace.at(begin).max(0.0) + 0.005);
        assert!(trace.samples.last().unwrap().t_s >= trace.at(end));
        assert_eq!(trace.read_s.len(), trace.samples.len());
        // Slow channels are read at both ends and every FULL_READING_S between.
        assert!(trace.samples[0].values[0].is_some());
        assert!(trace.samples.last().unwrap().values[0].is_some());
        let full = trace
            .samples
            .iter()
            .filter(|s| s.values[0].is_some())
            .count();
        assert!(full < trace.samples.len(), "every reading was a full one");
        // Readings are in order and the schedule holds.
        assert!(trace.samples.windows(2).all(|w| w[0].t_s < w[1].t_s));
        // The sources went back: a second recording reads the same counter onwards.
        let second = t.start().stop();
        assert_eq!(second.channels.len(), 1);
        let first_value = second.samples[0].values[0].unwrap();
        assert_eq!(first_value, trace.samples.len() as f64 + 1.0);
    }

    #[test]
    fn idle_power_comes_from_a_quiet_recording() {
        let mut t = telemetry();
        t.measure_idle(Duration::from_millis(50));
        // The counter rises by one "joule" per 10 ms reading: about 100 W.
        let idle = t.idle.expect("idle measured");
        assert!(
            idle.total_w > 20.0 && idle.total_w < 400.0,
            "{}",
            idle.total_w
        );
        assert_eq!(idle.devices[0].device, "fake");
    }
}
