//! Flamegraph SVGs with inferno: frames coloured by owner, a legend under
//! the title, differential graphs (growth red, shrink blue) and icicles.
//!
//! Colours: a frame takes the colour of the owner its own name is charged to
//! by the rules (`Filter::decodeData` is ext_proc's colour, `Slice::newStorage`
//! buffer's); frames no owner rule matches are grey. Each owner has one
//! colour in every graph: the common ones a fixed colour, the others a hue
//! derived from their name. inferno never leaves this module.

use std::collections::HashMap;
use std::io::Write;

use inferno::flamegraph::color::{BackgroundColor, Color, PaletteMap};
use inferno::flamegraph::{self, Direction, Options};

use super::escape::xml_escape;
use super::folded::Folded;

/// Colours of the owners seen most often, fixed so that graphs of different
/// profiles read the same.
const FIXED: &[(&str, (u8, u8, u8))] = &[
    ("ext_proc", (228, 87, 46)),
    ("wasm", (111, 66, 193)),
    ("lua", (0, 105, 180)),
    ("router", (46, 160, 67)),
    ("buffer", (219, 171, 9)),
    ("codec", (23, 162, 184)),
    ("grpc", (232, 62, 140)),
    ("conn_manager", (102, 187, 106)),
    ("upstream", (141, 110, 99)),
    ("stats", (255, 152, 0)),
    ("tls", (121, 85, 72)),
    ("network", (63, 81, 181)),
    ("config", (0, 150, 136)),
    ("http_async_client", (186, 104, 200)),
    ("startup", (158, 158, 158)),
    ("allocator", (120, 144, 156)),
];

/// Grey, for frames no owner rule matches.
pub const UNOWNED: (u8, u8, u8) = (200, 200, 200);

/// The colour of an owner: fixed for the common ones, else a hue from its name.
pub fn owner_color(owner: &str) -> (u8, u8, u8) {
    if let Some((_, c)) = FIXED.iter().find(|(o, _)| *o == owner) {
        return *c;
    }
    // FNV-1a over the name, spread over the hue circle.
    let mut h: u32 = 0x811c_9dc5;
    for b in owner.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    hsl(f64::from(h % 360), 0.55, 0.55)
}

fn hsl(h: f64, s: f64, l: f64) -> (u8, u8, u8) {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let m = l - c / 2.0;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    (byte(r), byte(g), byte(b))
}

/// `#rrggbb`.
pub fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Frames narrower than this many pixels (of 1200) are left out by default.
pub const DEFAULT_MIN_WIDTH: f64 = 0.1;

/// How to draw a graph.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SvgOptions {
    /// Title at the top.
    pub title: String,
    /// What the values count (`bytes`, `objects`).
    pub count_name: String,
    /// Draw root at the top (icicle). Default: root at the bottom.
    pub icicle: bool,
    /// Frames narrower than this many pixels (of 1200) are left out.
    /// Default: [`DEFAULT_MIN_WIDTH`].
    pub min_width: f64,
    /// Legend entries (owner, value) in the order to show; empty: no legend.
    pub legend: Vec<(String, String)>,
    /// No JavaScript (for byte-stable test output). Default: false.
    pub no_javascript: bool,
    /// Fixed width in pixels; `None` fills the window (inferno's fluid mode).
    pub image_width: Option<usize>,
}

impl Default for SvgOptions {
    fn default() -> Self {
        SvgOptions {
            title: "heapcost".into(),
            count_name: "bytes".into(),
            icicle: false,
            min_width: DEFAULT_MIN_WIDTH,
            legend: Vec::new(),
            no_javascript: false,
            image_width: None,
        }
    }
}

fn options<'a>(opts: &SvgOptions, palette: Option<&'a mut PaletteMap>) -> Options<'a> {
    let mut o = Options::default();
    o.title = opts.title.clone();
    o.count_name = opts.count_name.clone();
    o.direction = if opts.icicle {
        Direction::Inverted
    } else {
        Direction::Straight
    };
    o.min_width = opts.min_width;
    o.deterministic = true;
    o.no_javascript = opts.no_javascript;
    o.image_width = opts.image_width;
    o.bgcolors = Some(BackgroundColor::Flat(Color {
        r: 250,
        g: 250,
        b: 250,
    }));
    if !opts.legend.is_empty() {
        // A line under the title, where the legend is drawn.
        o.subtitle = Some(" ".into());
    }
    o.palette_map = palette;
    o
}

/// Draws `folded` with every frame coloured by `owners` (cleaned frame name
/// → owner); frames without an owner are grey. Non-positive stacks are
/// left out (a flamegraph has no negative widths).
pub fn write_svg(
    out: &mut dyn Write,
    folded: &Folded,
    owners: &HashMap<String, String>,
    opts: &SvgOptions,
) -> std::io::Result<()> {
    let mut palette = PaletteMap::default();
    palette.insert("all", color(UNOWNED));
    for stack in folded.keys() {
        for frame in stack.split(';') {
            if palette.get(frame).is_none() {
                let c = owners
                    .get(frame)
                    .map_or(UNOWNED, |o| owner_color(o.as_str()));
                palette.insert(frame, color(c));
            }
        }
    }
    let lines: Vec<String> = folded
        .iter()
        .filter(|&(_, &v)| v > 0)
        .map(|(s, v)| format!("{s} {v}"))
        .collect();
    let mut o = options(opts, Some(&mut palette));
    render(&mut o, &lines, out, opts)
}

/// Draws the differential graph from `base` to `new`: widths are the new
/// values, colours the change (red grew, blue shrank, white same), as in
/// Brendan Gregg's differential flame graphs. Stacks only the base has do
/// not show (they have no width in the new profile).
pub fn write_diff_svg(
    out: &mut dyn Write,
    base: &Folded,
    new: &Folded,
    opts: &SvgOptions,
) -> std::io::Result<()> {
    let mut stacks: Vec<&String> = base.keys().chain(new.keys()).collect();
    stacks.sort_unstable();
    stacks.dedup();
    let lines: Vec<String> = stacks
        .into_iter()
        .map(|s| {
            let b = base.get(s).copied().unwrap_or(0).max(0);
            let n = new.get(s).copied().unwrap_or(0).max(0);
            format!("{s} {b} {n}")
        })
        .collect();
    let mut o = options(opts, None);
    render(&mut o, &lines, out, opts)
}

fn color((r, g, b): (u8, u8, u8)) -> Color {
    Color { r, g, b }
}

fn render(
    o: &mut Options<'_>,
    lines: &[String],
    out: &mut dyn Write,
    opts: &SvgOptions,
) -> std::io::Result<()> {
    let mut svg = Vec::new();
    if lines.is_empty() {
        // inferno refuses empty input; draw the frame of an empty graph.
        let empty = ["(no samples) 0".to_string()];
        flamegraph::from_lines(o, empty.iter().map(String::as_str), &mut svg)
            .map_err(std::io::Error::other)?;
    } else {
        flamegraph::from_lines(o, lines.iter().map(String::as_str), &mut svg)
            .map_err(std::io::Error::other)?;
    }
    let svg = String::from_utf8(svg).map_err(std::io::Error::other)?;
    let svg = with_legend(&svg, &opts.legend, o.font_size);
    out.write_all(svg.as_bytes())
}

/// Inserts the legend (a coloured square and a name per owner) on the
/// subtitle line, after inferno's subtitle element.
fn with_legend(svg: &str, legend: &[(String, String)], font_size: usize) -> String {
    if legend.is_empty() {
        return svg.to_string();
    }
    let Some(at) = svg
        .find("id=\"subtitle\"")
        .and_then(|i| svg[i..].find("</text>").map(|j| i + j + "</text>".len()))
    else {
        return svg.to_string();
    };
    let y = font_size * 4;
    let mut g = String::from("<g id=\"legend\">");
    let mut x = 10.0f64;
    let char_width = font_size as f64 * 0.6;
    for (i, (owner, value)) in legend.iter().enumerate() {
        let width = 14.0 + owner.chars().count() as f64 * char_width + 12.0;
        if x + width > 1150.0 {
            let rest: Vec<String> = legend[i..]
                .iter()
                .map(|(o, v)| format!("{o} {v}"))
                .collect();
            g.push_str(&format!(
                "<text x=\"{x:.0}\" y=\"{y}\">+{n} more<title>{t}</title></text>",
                n = rest.len(),
                t = xml_escape(&rest.join(", ")),
            ));
            break;
        }
        let c = hex(owner_color(owner));
        let tip = xml_escape(&format!("{owner}: {value}"));
        g.push_str(&format!(
            "<rect x=\"{x:.0}\" y=\"{top}\" width=\"10\" height=\"10\" fill=\"{c}\"><title>{o}</title></rect><text x=\"{tx:.0}\" y=\"{y}\">{o}<title>{tip}</title></text>",
            top = y - 9,
            o = xml_escape(owner),
            tx = x + 14.0,
        ));
        x += width;
    }
    g.push_str("</g>");
    let mut s = String::with_capacity(svg.len() + g.len());
    s.push_str(&svg[..at]);
    s.push_str(&g);
    s.push_str(&svg[at..]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_colours_are_stable_and_distinct_for_fixed_owners() {
        assert_eq!(owner_color("ext_proc"), (228, 87, 46));
        assert_eq!(owner_color("my_filter"), owner_color("my_filter"));
        let mut seen: Vec<_> = FIXED.iter().map(|(_, c)| *c).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), FIXED.len());
        assert!(!FIXED.iter().any(|(_, c)| *c == UNOWNED));
    }
}
