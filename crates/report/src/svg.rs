//! A few SVG primitives and axes, written by hand so that the charts need no fonts, no
//! scripts and no network, and every piece of text goes through one escaping function.

use crate::html::esc;
use std::fmt::Write;

/// Colours of the baseline and of the variants, in order.
pub const BASELINE_COLOUR: &str = "#8c8c8c";
pub const PALETTE: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];

/// How a line is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Stroke<'a> {
    pub colour: &'a str,
    pub width: f64,
    pub dashed: bool,
}

impl<'a> Stroke<'a> {
    pub fn solid(colour: &'a str, width: f64) -> Stroke<'a> {
        Stroke {
            colour,
            width,
            dashed: false,
        }
    }
    pub fn dashed(colour: &'a str, width: f64) -> Stroke<'a> {
        Stroke {
            colour,
            width,
            dashed: true,
        }
    }
}

/// An SVG document being written.
pub struct Svg {
    w: f64,
    h: f64,
    body: String,
    label: String,
}

fn n(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "0".into()
    }
}

impl Svg {
    /// `label` becomes the chart's accessible name.
    pub fn new(w: f64, h: f64, label: &str) -> Svg {
        Svg {
            w,
            h,
            body: String::new(),
            label: label.into(),
        }
    }

    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), stroke: Stroke) {
        let _ = write!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="{}"{}/>"#,
            n(from.0),
            n(from.1),
            n(to.0),
            n(to.1),
            esc(stroke.colour),
            n(stroke.width),
            if stroke.dashed {
                r#" stroke-dasharray="5 4""#
            } else {
                ""
            }
        );
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, title: &str) {
        let _ = write!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>"#,
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0)),
            esc(fill),
            esc(title)
        );
    }

    pub fn hollow_rect(&mut self, x: f64, y: f64, w: f64, h: f64, stroke: &str, title: &str) {
        let _ = write!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="0.25" stroke="{}"><title>{}</title></rect>"#,
            n(x),
            n(y),
            n(w.max(0.5)),
            n(h.max(0.0)),
            esc(stroke),
            esc(stroke),
            esc(title)
        );
    }

    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, fill: &str, title: &str) {
        let _ = write!(
            self.body,
            r#"<circle cx="{}" cy="{}" r="{}" fill="{}" stroke="white" stroke-width="0.8"><title>{}</title></circle>"#,
            n(cx),
            n(cy),
            n(r),
            esc(fill),
            esc(title)
        );
    }

    /// Text; `anchor` is start, middle or end.
    pub fn text(&mut self, x: f64, y: f64, s: &str, anchor: &str, size: f64, fill: &str) {
        let _ = write!(
            self.body,
            r#"<text x="{}" y="{}" text-anchor="{}" font-size="{}" fill="{}">{}</text>"#,
            n(x),
            n(y),
            esc(anchor),
            n(size),
            esc(fill),
            esc(s)
        );
    }

    /// Text turned 90 degrees (a vertical axis title).
    pub fn vtext(&mut self, x: f64, y: f64, s: &str, size: f64) {
        let _ = write!(
            self.body,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="{}" transform="rotate(-90 {} {})">{}</text>"#,
            n(x),
            n(y),
            n(size),
            n(x),
            n(y),
            esc(s)
        );
    }

    pub fn finish(self) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" font-family="sans-serif">{}</svg>"#,
            n(self.w),
            n(self.h),
            n(self.w),
            n(self.h),
            esc(&self.label),
            self.body
        )
    }
}

/// A logarithmic axis from `lo` to `hi` (positive), mapped onto pixels `p0..p1`.
#[derive(Debug, Clone, Copy)]
pub struct LogAxis {
    pub lo: f64,
    pub hi: f64,
    pub p0: f64,
    pub p1: f64,
}

impl LogAxis {
    /// An axis covering every positive finite value given, widened to whole decades.
    pub fn covering(values: impl IntoIterator<Item = f64>, p0: f64, p1: f64) -> LogAxis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite() && *v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = (1.0, 10.0);
        }
        let lo = 10f64.powf(lo.log10().floor());
        let mut hi = 10f64.powf(hi.log10().ceil());
        if hi <= lo {
            hi = lo * 10.0;
        }
        LogAxis { lo, hi, p0, p1 }
    }

    pub fn map(&self, v: f64) -> f64 {
        let v = v.clamp(self.lo, self.hi);
        self.p0
            + (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
                * (self.p1 - self.p0)
    }

    /// Ticks at 1, 2 and 5 times each power of ten (only powers of ten when the axis spans
    /// many decades).
    pub fn ticks(&self) -> Vec<f64> {
        let decades = (self.hi / self.lo).log10().round() as i32;
        let steps: &[f64] = if decades > 4 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        let mut out = vec![];
        let mut p = self.lo;
        while p <= self.hi * 1.0001 {
            for s in steps {
                let t = p * s;
                if t <= self.hi * 1.0001 {
                    out.push(t);
                }
            }
            p *= 10.0;
        }
        out
    }
}

/// A linear axis.
#[derive(Debug, Clone, Copy)]
pub struct LinAxis {
    pub lo: f64,
    pub hi: f64,
    pub p0: f64,
    pub p1: f64,
}

impl LinAxis {
    /// An axis covering the values and `include`, with a little room.
    pub fn covering(
        values: impl IntoIterator<Item = f64>,
        include: f64,
        p0: f64,
        p1: f64,
    ) -> LinAxis {
        let (mut lo, mut hi) = (include, include);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi - lo < 1e-9 {
            hi = lo + 1.0;
        }
        let step = nice_step((hi - lo) / 5.0);
        LinAxis {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            p0,
            p1,
        }
    }

    pub fn map(&self, v: f64) -> f64 {
        self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)
    }

    pub fn ticks(&self) -> Vec<f64> {
        let step = nice_step((self.hi - self.lo) / 5.0);
        let mut out = vec![];
        let mut t = self.lo;
        while t <= self.hi + step * 1e-6 {
            out.push(t);
            t += step;
        }
        out
    }
}

fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    p * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// A short number for a tick label: 0.05, 2, 300, 10k.
pub fn tick_label(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1.0 {
        let s = format!("{v:.1}");
        s.trim_end_matches(".0").to_owned()
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_covers_whole_decades() {
        let a = LogAxis::covering([0.3, 45.0], 0.0, 300.0);
        assert_eq!((a.lo, a.hi), (0.1, 100.0));
        assert!((a.map(1.0) - 100.0).abs() < 1e-9);
        assert_eq!(a.ticks()[..3], [0.1, 0.2, 0.5]);
        assert_eq!(tick_label(0.5), "0.5");
        assert_eq!(tick_label(20.0), "20");
        assert_eq!(tick_label(20_000.0), "20k");
    }

    #[test]
    fn text_is_escaped() {
        let mut s = Svg::new(10.0, 10.0, "<a>");
        s.text(
            0.0,
            0.0,
            "<script>alert(1)</script>",
            "start",
            10.0,
            "black",
        );
        let out = s.finish();
        assert!(!out.contains("<script>"));
        assert!(out.contains("&lt;script&gt;"));
    }
}
