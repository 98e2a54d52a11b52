//! The gate's verdict for CI systems: GitHub Actions workflow commands
//! (annotations) and JUnit XML.

use std::fmt::Write as _;
use std::io::Write;

use super::escape::xml_escape;
use super::gate::{explain, headline};
use crate::analysis::gate::{Gate, Status, Verdict};
use crate::units::{scaled, signed, signed_share};

/// Escapes the message of a workflow command, as GitHub's toolkit does
/// (`%` -> `%25`, CR -> `%0D`, LF -> `%0A`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command (`title=...`): as
/// [`escape_data`], plus `:` -> `%3A` and `,` -> `%2C`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions annotations: one `::error` per broken limit (placed on
/// the budgets file's line when the limit came from one), one `::warning`
/// per warning of the run, and a `::notice` with the verdict when it passes.
pub fn write_github(out: &mut dyn Write, g: &Gate, warnings: &[String]) -> std::io::Result<()> {
    for c in g.failures() {
        let mut props = String::new();
        if let Some(line) = c.origin.line {
            let _ = write!(
                props,
                "file={},line={line},",
                escape_property(&c.origin.path)
            );
        }
        writeln!(
            out,
            "::error {props}title={}::{}",
            escape_property(&format!("heapcost gate: {}", c.label())),
            escape_data(&explain(g, c))
        )?;
    }
    for w in warnings {
        writeln!(out, "::warning title=heapcost::{}", escape_data(w))?;
    }
    if g.verdict == Verdict::Pass {
        let t = &g.diff.total;
        writeln!(
            out,
            "::notice title=heapcost gate::{}",
            escape_data(&format!(
                "{}: {} {} -> {} ({})",
                headline(g),
                g.sample_type,
                scaled(t.base, &g.unit),
                scaled(t.new, &g.unit),
                signed(t.delta, &g.unit)
            ))
        )?;
    }
    Ok(())
}

/// JUnit XML: one test suite, one test case per limit (class
/// `heapcost.gate.total|owner|kind`, named as the table names the limit),
/// a `<failure>` for each broken limit, the inputs as properties and the
/// warnings in `<system-err>`. No timestamps, so the output is stable.
pub fn write_junit(out: &mut dyn Write, g: &Gate, warnings: &[String]) -> std::io::Result<()> {
    let n = g.checks.len();
    let failures = g.failures().count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="heapcost gate" tests="{n}" failures="{failures}" errors="0">"#
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}" tests="{n}" failures="{failures}" errors="0" skipped="0">"#,
        xml_escape(&format!("heapcost gate ({})", g.sample_type))
    )?;
    writeln!(out, "    <properties>")?;
    let mut props: Vec<(&str, String)> = vec![
        ("sample_type", g.sample_type.clone()),
        ("combine", g.combine.to_string()),
        ("noise_floor", g.noise_floor.to_string()),
    ];
    props.extend(g.base_runs.iter().map(|r| ("base", r.path.clone())));
    props.extend(g.new_runs.iter().map(|r| ("new", r.path.clone())));
    for (name, value) in props {
        writeln!(
            out,
            r#"      <property name="{name}" value="{}"/>"#,
            xml_escape(&value)
        )?;
    }
    writeln!(out, "    </properties>")?;
    for c in &g.checks {
        let numbers = format!(
            "base {}, new {}, delta {} ({})",
            scaled(c.base, &g.unit),
            scaled(c.new, &g.unit),
            signed(c.delta, &g.unit),
            signed_share(c.delta_share, c.new)
        );
        let origin = match c.origin.line {
            Some(line) => format!("{}:{line}", c.origin.path),
            None => c.origin.path.clone(),
        };
        write!(
            out,
            r#"    <testcase classname="heapcost.gate.{}" name="{}""#,
            c.scope.as_str(),
            xml_escape(&c.label())
        )?;
        match c.status {
            Status::Fail => {
                writeln!(out, ">")?;
                writeln!(
                    out,
                    r#"      <failure type="limit" message="{}">{}</failure>"#,
                    xml_escape(&explain(g, c)),
                    xml_escape(&format!("{numbers}\nlimit from {origin}"))
                )?;
                writeln!(out, "    </testcase>")?;
            }
            Status::Pass | Status::Noise | Status::Unclear => {
                writeln!(out, ">")?;
                writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    xml_escape(&explain(g, c))
                )?;
                writeln!(out, "    </testcase>")?;
            }
        }
    }
    if !warnings.is_empty() {
        writeln!(
            out,
            "    <system-err>{}</system-err>",
            xml_escape(&warnings.join("\n"))
        )?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_escapes() {
        assert_eq!(escape_data("10%\r\nx"), "10%25%0D%0Ax");
        assert_eq!(escape_property("a: b, c%"), "a%3A b%2C c%25");
    }
}
