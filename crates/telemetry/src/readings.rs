//! One reading of every sensor readable here, why each missing source is missing, and a
//! Jetson's board state: what `edgebench sensors` shows.

use crate::tegra_board::{BoardOptions, BoardState};
use crate::{probe, Channel, ProbeOptions, Unavailable};
use serde::Serialize;

/// One channel and its value now.
#[derive(Debug, Serialize)]
pub struct Reading {
    #[serde(flatten)]
    pub channel: Channel,
    /// One full reading now; energy counters read 0 (joules since the source opened).
    pub value: Option<f64>,
}

/// Every readable channel, every unavailable source with its reason, and the board.
#[derive(Debug, Serialize)]
pub struct Readings {
    pub channels: Vec<Reading>,
    pub unavailable: Vec<Unavailable>,
    /// A Jetson's power mode, jetson_clocks and clocks, as every result records them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub board: Option<BoardState>,
}

/// Opens every source `opts` allows and reads each channel once.
pub fn read_all(opts: &ProbeOptions, board: &BoardOptions) -> Readings {
    let mut probe = probe(opts);
    let mut channels = vec![];
    for s in probe.sources.iter_mut() {
        let mut values = vec![None; s.channels().len()];
        s.read_full(&mut values);
        channels.extend(
            s.channels()
                .iter()
                .cloned()
                .zip(values)
                .map(|(channel, value)| Reading { channel, value }),
        );
    }
    Readings {
        channels,
        unavailable: probe.unavailable,
        board: BoardState::read(board),
    }
}
