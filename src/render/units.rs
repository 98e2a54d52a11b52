//! Human-readable values, formatted as pprof formats them.

/// A value in `unit`, scaled for reading: bytes become `B`/`kB`/`MB`/`GB`/`TB`/`PB`
/// in powers of 1024 with two decimals (trailing `.00` removed), as pprof
/// prints them; other units print the plain number.
pub fn scaled(value: i64, unit: &str) -> String {
    if unit != "bytes" {
        return value.to_string();
    }
    const UNITS: [(&str, f64); 6] = [
        ("B", 1.0),
        ("kB", 1024.0),
        ("MB", 1048576.0),
        ("GB", 1073741824.0),
        ("TB", 1099511627776.0),
        ("PB", 1125899906842624.0),
    ];
    let v = value as f64;
    let (name, factor) = UNITS
        .iter()
        .rev()
        .find(|(_, f)| v.abs() >= *f)
        .copied()
        .unwrap_or(UNITS[0]);
    let text = format!("{:.2}", v / factor);
    let text = text.strip_suffix(".00").unwrap_or(&text);
    if text == "0" || text == "-0" {
        return "0".into();
    }
    format!("{text}{name}")
}

/// What a value of `unit` counts, for a flamegraph's tooltips: `bytes`, or
/// `objects` for counts.
pub fn count_name(unit: &str) -> &str {
    match unit {
        "bytes" => "bytes",
        "count" | "" => "objects",
        other => other,
    }
}

/// `value` as a share of `total`, pprof style: `  100%`, `97.84%`, ` 0.05%`.
pub fn percentage(value: i64, total: i64) -> String {
    let ratio = if total == 0 {
        0.0
    } else {
        (value as f64 / total as f64).abs() * 100.0
    };
    if (99.95..=100.05).contains(&ratio) {
        "  100%".into()
    } else if ratio >= 1.0 {
        format!("{ratio:5.2}%")
    } else {
        format!("{:>5}%", format_g2(ratio))
    }
}

/// Go's `%.2g`: two significant digits, no exponent for ordinary shares.
fn format_g2(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..2).contains(&exp) {
        return format!("{v:.1e}");
    }
    let decimals = (1 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_like_pprof() {
        assert_eq!(scaled(104943209, "bytes"), "100.08MB");
        assert_eq!(scaled(2673727829, "bytes"), "2.49GB");
        assert_eq!(scaled(1048576, "bytes"), "1MB");
        assert_eq!(scaled(0, "bytes"), "0");
        assert_eq!(scaled(512, "bytes"), "512B");
        assert_eq!(scaled(-2048, "bytes"), "-2kB");
        assert_eq!(scaled(3535, "count"), "3535");
    }

    #[test]
    fn percentages_like_pprof() {
        assert_eq!(percentage(1, 1), "  100%");
        assert_eq!(percentage(9784, 10000), "97.84%");
        assert_eq!(percentage(5, 10000), " 0.05%");
        assert_eq!(percentage(55, 10000), " 0.55%");
        assert_eq!(percentage(0, 0), "    0%");
    }
}
