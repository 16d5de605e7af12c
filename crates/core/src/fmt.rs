//! Number and text formatting shared by every view (the report crate's tables and pages, the
//! video pipeline's tables, the binary's output): one rule for significant digits, so that
//! the same figure reads the same everywhere. Formatting only: nothing here prints.

/// Milliseconds with about three significant digits.
pub fn ms(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Any quantity with about three significant digits (the same rule as [`ms`]): 212, 45.3,
/// 8.12, 0.815; small values keep three significant digits (0.00123).
pub fn sig(x: f64) -> String {
    if x.is_finite() && x != 0.0 && x.abs() < 0.1 {
        let digits = (2 - x.abs().log10().floor() as i32).clamp(3, 12) as usize;
        format!("{x:.digits$}")
    } else {
        ms(x)
    }
}

/// A count with a metric suffix: 1.81 G, 11.7 M, 950 k.
pub fn si(x: f64) -> String {
    let (v, unit) = if x >= 1e9 {
        (x / 1e9, " G")
    } else if x >= 1e6 {
        (x / 1e6, " M")
    } else if x >= 1e3 {
        (x / 1e3, " k")
    } else {
        (x, "")
    };
    if unit.is_empty() {
        format!("{v:.0}")
    } else if v >= 100.0 {
        format!("{v:.0}{unit}")
    } else if v >= 10.0 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.2}{unit}")
    }
}

/// Escapes text for a Markdown table cell (GitHub renders inline HTML, so `<` is escaped
/// too).
pub fn markdown_cell(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Bytes in binary units.
pub fn bytes(x: u64) -> String {
    let x = x as f64;
    if x >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", x / (1024.0 * 1024.0 * 1024.0))
    } else if x >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", x / (1024.0 * 1024.0))
    } else if x >= 1024.0 {
        format!("{:.1} KiB", x / 1024.0)
    } else {
        format!("{x:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(ms(123.456), "123");
        assert_eq!(ms(12.345), "12.3");
        assert_eq!(ms(1.2345), "1.23");
        assert_eq!(ms(0.12345), "0.123");
        assert_eq!(ms(f64::NAN), "n/a");
        assert_eq!(si(1_814_000_000.0), "1.81 G");
        assert_eq!(si(11_689_512.0), "11.7 M");
        assert_eq!(si(950.0), "950");
        assert_eq!(bytes(46_000_000), "43.9 MiB");
        assert_eq!(sig(212.4), "212");
        assert_eq!(sig(0.815), "0.815");
        assert_eq!(sig(0.0123), "0.0123");
        assert_eq!(sig(0.000456), "0.000456");
        assert_eq!(sig(0.0), "0.000");
        assert_eq!(markdown_cell("a|b <c>\nd"), "a\\|b &lt;c&gt; d");
    }
}
