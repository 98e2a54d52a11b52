//! Escaping for XML: the one escape of the flamegraph legend, the report's
//! inline SVG chart and the JUnit report.

/// Escapes text for XML content or attribute values (quoted with `"` or
/// `'`); characters XML 1.0 forbids (most control characters, U+FFFE,
/// U+FFFF) become U+FFFD, so the document stays well-formed whatever the
/// names in the profile or the rules.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            xml_escape("<a & 'b'>\"\n\u{1}"),
            "&lt;a &amp; &apos;b&apos;&gt;&quot;&#10;\u{FFFD}"
        );
        assert_eq!(xml_escape("ext_proc: 1.50MB"), "ext_proc: 1.50MB");
        assert_eq!(xml_escape("\r\t\u{FFFE}é"), "&#13;&#9;\u{FFFD}é");
    }

    #[test]
    fn the_result_parses_as_xml() {
        let name = "it's <1> & \"2\"\u{0}\u{7}\u{FFFF}\n";
        let doc = format!("<t a=\"{0}\" b='{0}'>{0}</t>", xml_escape(name));
        let parsed = roxmltree::Document::parse(&doc).unwrap();
        let root = parsed.root_element();
        let clean = "it's <1> & \"2\"\u{FFFD}\u{FFFD}\u{FFFD}\n";
        assert_eq!(root.attribute("a"), Some(clean));
        assert_eq!(root.attribute("b"), Some(clean));
        assert_eq!(root.text(), Some(clean));
    }
}
