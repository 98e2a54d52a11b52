//! The self-contained HTML report: `templates/report.html` (embedded at
//! compile time) filled by minijinja from a page view computed here: every
//! number is formatted, every bar width and chart point computed in Rust.
//!
//! Self-contained: styles inline, no script of its own, no URL in any
//! `src` or `href` (links are `#fragments`); the flamegraphs are inferno's
//! SVGs in `<iframe srcdoc>`, so their own JavaScript (zoom, search) runs
//! from `file://` with no network.

use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::escape::xml_escape;
use super::flamegraph::{hex, owner_color};
use super::text::files_label;
use crate::analysis::diff::DiffRow;
use crate::analysis::report::Report;
use crate::analysis::series::Series;
use crate::units::{percentage, scaled, scaled_bytes, scaled_pm, share_text, signed, signed_share};

const TEMPLATE: &str = include_str!("../../templates/report.html");

/// A flamegraph to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedSvg {
    /// The SVG document.
    pub svg: String,
    /// What it shows and what was left out, in words.
    pub note: String,
}

#[derive(Serialize)]
struct Card {
    label: String,
    value: String,
    note: String,
    class: &'static str,
}

#[derive(Serialize)]
struct Row {
    name: String,
    tier: String,
    value: String,
    share: String,
    bar: String,
    color: String,
    paths: Vec<String>,
}

#[derive(Serialize)]
struct DeltaRow {
    name: String,
    base: String,
    new: String,
    delta: String,
    share: String,
    class: &'static str,
}

#[derive(Serialize)]
struct DeltaTable {
    title: &'static str,
    column: &'static str,
    rows: Vec<DeltaRow>,
}

fn class(delta: i64) -> &'static str {
    match delta.signum() {
        1 => "up",
        -1 => "down",
        _ => "",
    }
}

fn delta_rows(rows: &[DiffRow], unit: &str, n: usize) -> Vec<DeltaRow> {
    rows.iter()
        .filter(|r| r.delta != 0)
        .take(n)
        .map(|r| DeltaRow {
            name: r.name.clone(),
            base: scaled(r.base, unit),
            new: scaled(r.new, unit),
            delta: signed(r.delta, unit),
            share: signed_share(r.delta_share, r.new),
            class: class(r.delta),
        })
        .collect()
}

/// The height an embedded SVG needs (its root `height` attribute).
fn svg_height(svg: &str) -> usize {
    svg.find("<svg")
        .and_then(|i| {
            let rest = &svg[i..];
            let h = rest.find(" height=\"")? + " height=\"".len();
            let end = rest[h..].find('"')?;
            rest[h..h + end].trim_end_matches("px").parse::<f64>().ok()
        })
        .map_or(600, |h| h.ceil() as usize + 24)
}

/// inferno's script keeps the zoom in the page URL with
/// `history.replaceState`, which a `srcdoc` frame of a `file://` page may
/// not do (its origin is opaque): the call throws on every click. This
/// guard, put before inferno's script, lets the call fail quietly; zoom and
/// search work as in a standalone SVG.
const HISTORY_GUARD: &str = "<script type=\"text/ecmascript\"><![CDATA[(function () { var replace = history.replaceState; history.replaceState = function () { try { return replace.apply(history, arguments); } catch (e) { return undefined; } }; })();]]></script>";

/// The SVG as a `srcdoc` document: the XML prolog and DOCTYPE dropped (the
/// frame parses it as HTML), the history guard added after the root tag.
fn for_srcdoc(svg: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    let body = &svg[start..];
    match body.find('>') {
        Some(end) => format!("{}{HISTORY_GUARD}{}", &body[..=end], &body[end + 1..]),
        None => body.to_string(),
    }
}

/// The series chart: the total and the five owners with the largest peak,
/// one polyline each, as an inline SVG.
fn series_chart(s: &Series) -> String {
    let (w, h, left, bottom, top) = (900.0f64, 260.0f64, 70.0f64, 30.0f64, 14.0f64);
    let n = s.snapshots.len().max(2) as f64;
    let max = s
        .snapshots
        .iter()
        .map(|x| x.total)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x = |i: usize| left + (w - left - 170.0) * i as f64 / (n - 1.0);
    let y = |v: i64| top + (h - top - bottom) * (1.0 - v.max(0) as f64 / max);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"snapshots\" style=\"font: 11px sans-serif\">"
    );
    for k in 0..=4 {
        let v = (max * f64::from(k) / 4.0) as i64;
        out.push_str(&format!(
            "<line x1=\"{left}\" x2=\"{x2}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#d0d7de\"/><text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>",
            x2 = w - 170.0,
            yy = y(v),
            tx = left - 6.0,
            ty = y(v) + 4.0,
            label = xml_escape(&scaled(v, &s.unit)),
        ));
    }
    for (i, _) in s.snapshots.iter().enumerate() {
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x(i),
            h - 10.0,
            i + 1
        ));
    }
    let mut owners: Vec<_> = s.owners.iter().collect();
    owners.sort_by(|a, b| b.peak.cmp(&a.peak).then_with(|| a.name.cmp(&b.name)));
    let mut lines: Vec<(String, String, Vec<i64>)> = vec![(
        "total".into(),
        "#1f2328".into(),
        s.snapshots.iter().map(|x| x.total).collect(),
    )];
    lines.extend(
        owners
            .iter()
            .take(5)
            .map(|o| (o.name.clone(), hex(owner_color(&o.name)), o.values.clone())),
    );
    for (j, (name, color, values)) in lines.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{sw}\" points=\"{p}\"><title>{t}</title></polyline>",
            sw = if j == 0 { 2.5 } else { 1.8 },
            p = points.join(" "),
            t = xml_escape(name),
        ));
        let ly = top + 16.0 * j as f64;
        out.push_str(&format!(
            "<rect x=\"{lx}\" y=\"{ry:.1}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{tx}\" y=\"{ty:.1}\">{t}</text>",
            lx = w - 160.0,
            ry = ly,
            tx = w - 145.0,
            ty = ly + 9.0,
            t = xml_escape(name),
        ));
    }
    out.push_str("</svg>");
    out
}

/// Renders the report page.
pub fn render_html(
    r: &Report,
    flame: &EmbeddedSvg,
    diff_flame: Option<&EmbeddedSvg>,
) -> Result<String, minijinja::Error> {
    let unit = r.unit.as_str();
    let embed = |e: &EmbeddedSvg| {
        context! { svg => for_srcdoc(&e.svg), note => e.note.clone(), height => svg_height(&e.svg) }
    };
    let mut env = Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let tmpl = env.get_template("report.html")?;
    tmpl.render(context! {
        title => page_title(r),
        subtitle => format!("{} ({}), {}", r.sample_type, unit, match &r.series {
            Some(s) => format!("{} snapshots", s.snapshots.len()),
            None => format!("{} input(s)", r.provenance.inputs.len()),
        }),
        version => r.provenance.version.clone(),
        cards => Value::from(minijinja::value::Serde(&cards(r))),
        warnings => r.warnings.clone(),
        memory => r.memory.as_ref().map(|m| m.sentences.clone()),
        sample_type => r.sample_type.clone(),
        total => scaled_pm(r.total, r.attribution.total_margin, unit),
        owners => Value::from(minijinja::value::Serde(&owner_rows(r))),
        kinds => Value::from(minijinja::value::Serde(&kind_rows(r))),
        matrix => matrix(r),
        functions => function_rows(r),
        diff => diff_view(r),
        series => series_view(r),
        flame => embed(flame),
        diff_flame => diff_flame.map(embed),
        provenance => provenance(r),
    })
}

/// The owners' rows, with bars relative to the largest.
fn owner_rows(r: &Report) -> Vec<Row> {
    let unit = r.unit.as_str();
    let a = &r.attribution;
    let max_owner = a.owners.iter().map(|o| o.value).max().unwrap_or(1).max(1) as f64;
    a.owners
        .iter()
        .map(|o| Row {
            name: o.name.clone(),
            tier: o.tier.map(|t| t.as_str().to_string()).unwrap_or_default(),
            value: scaled_pm(o.value, o.margin, unit),
            share: share_text(o.share),
            bar: format!("{:.1}", 100.0 * o.value.max(0) as f64 / max_owner),
            color: hex(owner_color(&o.name)),
            paths: o
                .top_stacks
                .iter()
                .map(|p| format!("{}  ({})", p.path.join(" > "), scaled(p.value, unit)))
                .collect(),
        })
        .collect()
}

/// The kinds' rows, with bars relative to the largest.
fn kind_rows(r: &Report) -> Vec<Row> {
    let unit = r.unit.as_str();
    let a = &r.attribution;
    let max_kind = a.kinds.iter().map(|o| o.value).max().unwrap_or(1).max(1) as f64;
    a.kinds
        .iter()
        .map(|o| Row {
            name: o.name.clone(),
            tier: String::new(),
            value: scaled_pm(o.value, o.margin, unit),
            share: share_text(o.share),
            bar: format!("{:.1}", 100.0 * o.value.max(0) as f64 / max_kind),
            color: String::new(),
            paths: Vec::new(),
        })
        .collect()
}

/// The owner x kind matrix: the kinds, and one row of cells per owner.
fn matrix(r: &Report) -> Value {
    let unit = r.unit.as_str();
    let a = &r.attribution;
    let kind_names: Vec<String> = a.kinds.iter().map(|k| k.name.clone()).collect();
    let matrix_rows: Vec<Value> = a
        .owners
        .iter()
        .map(|o| {
            let cells: Vec<Value> = kind_names
                .iter()
                .map(|k| {
                    let v = a.cell(&o.name, k);
                    let alpha = if a.total == 0 {
                        0.0
                    } else {
                        (v.max(0) as f64 / a.total as f64).sqrt() * 0.6
                    };
                    context! {
                        text => if v == 0 { String::new() } else { scaled(v, unit) },
                        alpha => format!("{alpha:.3}"),
                    }
                })
                .collect();
            context! { owner => o.name.clone(), cells => cells }
        })
        .collect();
    context! { kinds => kind_names, rows => matrix_rows }
}

/// The top functions.
fn function_rows(r: &Report) -> Vec<Value> {
    let unit = r.unit.as_str();
    r.top_functions
        .iter()
        .map(|f| {
            context! {
                name => f.name.clone(),
                flat => scaled(f.flat, unit),
                flat_share => percentage(f.flat, r.total),
                cum => scaled(f.cum, unit),
                cum_share => percentage(f.cum, r.total),
            }
        })
        .collect()
}

/// The cards at the top: total, peak, growth, largest owner, named share.
fn cards(r: &Report) -> Vec<Card> {
    let unit = r.unit.as_str();
    let a = &r.attribution;
    let mut cards = vec![Card {
        label: format!("total {}", r.sample_type),
        value: scaled_pm(r.total, a.total_margin, unit),
        note: match &r.series {
            Some(s) => format!("last of {} snapshots", s.snapshots.len()),
            None => "all inputs".into(),
        },
        class: "",
    }];
    if let Some(s) = &r.series {
        cards.push(Card {
            label: "peak".into(),
            value: scaled(r.peak, unit),
            note: format!("snapshot {} of {}", r.peak_index + 1, s.snapshots.len()),
            class: "",
        });
    }
    if let (Some(g), Some(from)) = (r.growth, &r.growth_from) {
        cards.push(Card {
            label: format!("growth from {from}"),
            value: signed(g, unit),
            note: match &r.diff {
                Some(d) => signed_share(d.total.delta_share, d.total.new),
                None => String::new(),
            },
            class: class(g),
        });
    }
    if let Some(top) = a.owners.first() {
        cards.push(Card {
            label: "largest owner".into(),
            value: top.name.clone(),
            note: format!("{} ({})", scaled(top.value, unit), share_text(top.share)),
            class: "",
        });
    }
    cards.push(Card {
        label: "named".into(),
        value: share_text(a.named_share),
        note: "of the bytes have named frames".into(),
        class: "",
    });
    cards
}

/// The diff tables, when there is a base.
fn diff_view(r: &Report) -> Option<Value> {
    let unit = r.unit.as_str();
    r.diff.as_ref().map(|d| {
        let tables = vec![
            DeltaTable {
                title: "Owners",
                column: "owner",
                rows: delta_rows(&d.owners, unit, 50),
            },
            DeltaTable {
                title: "Kinds",
                column: "kind",
                rows: delta_rows(&d.kinds, unit, 50),
            },
            DeltaTable {
                title: "Functions (flat)",
                column: "function",
                rows: delta_rows(
                    &d.functions
                        .iter()
                        .take(30)
                        .map(|f| f.flat.clone())
                        .collect::<Vec<_>>(),
                    unit,
                    30,
                ),
            },
        ];
        let labels = |files: &[crate::analysis::report::InputFile]| {
            files_label(&files.iter().map(|f| f.path.clone()).collect::<Vec<_>>())
        };
        let new_label = r
            .provenance
            .inputs
            .last()
            .map(|f| f.path.clone())
            .unwrap_or_default();
        context! {
            tables => Value::from(minijinja::value::Serde(&tables)),
            base_label => labels(&r.provenance.base),
            new_label => new_label,
        }
    })
}

/// The series: chart, snapshots and leak suspects, when there are snapshots.
fn series_view(r: &Report) -> Option<Value> {
    let unit = r.unit.as_str();
    r.series.as_ref().map(|s| {
        let snapshots: Vec<Value> = s
            .snapshots
            .iter()
            .enumerate()
            .map(|(i, x)| {
                context! {
                    path => x.path.clone(),
                    total => scaled(x.total, unit),
                    growth => if i == 0 { String::new() } else { signed(x.growth, unit) },
                    class => class(x.growth),
                    peak => i == s.peak,
                }
            })
            .collect();
        let suspects: Vec<String> = s
            .owners
            .iter()
            .filter(|o| o.only_grows)
            .map(|o| format!("{} ({})", o.name, signed(o.growth, unit)))
            .collect();
        context! {
            chart => Value::from_safe_string(series_chart(s)),
            snapshots => snapshots,
            suspects => suspects.join(", "),
        }
    })
}

/// Where the numbers come from: inputs, base, binaries, command line.
fn provenance(r: &Report) -> Value {
    let binaries: Vec<Value> = r
        .provenance
        .binaries
        .iter()
        .map(|b| {
            context! {
                recorded => b.recorded.clone(),
                file => b.file.clone().unwrap_or_default(),
                build_id => b.build_id.clone().unwrap_or_default(),
                how => b.how.clone(),
                named => format!("{} of {}", b.named_frames, b.frames),
            }
        })
        .collect();
    let inputs = |files: &[crate::analysis::report::InputFile]| -> Vec<Value> {
        files
            .iter()
            .map(|f| {
                context! {
                    path => f.path.clone(),
                    format => f.format.clone(),
                    size => scaled_bytes(f.size),
                    stacks => f.stacks,
                    truncated => f.truncated,
                }
            })
            .collect()
    };
    context! {
        inputs => inputs(&r.provenance.inputs),
        base => inputs(&r.provenance.base),
        binaries => binaries,
        command_line => r.provenance.command_line.clone(),
    }
}

/// The page title: the last snapshot, or the inputs.
fn page_title(r: &Report) -> String {
    let paths: Vec<String> = r.provenance.inputs.iter().map(|f| f.path.clone()).collect();
    match (&r.series, paths.last()) {
        (Some(s), Some(last)) => format!(
            "heapcost report: {last} (last of {} snapshots)",
            s.snapshots.len()
        ),
        _ => format!("heapcost report: {}", files_label(&paths)),
    }
}
