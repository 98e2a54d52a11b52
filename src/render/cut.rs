//! Text cut to fit: names and cells cut to a number of characters, and
//! pull-request comments kept under GitHub's size limit.
//!
//! Both comments heapcost writes (the report's summary and the gate's
//! verdict) use [`COMMENT_LIMIT`] and [`Comment`], and count it in bytes,
//! which is never fewer than characters, however GitHub counts them.

/// The most bytes a pull-request comment may have. GitHub refuses comments
/// over 65,536 characters; the rest is a margin.
pub const COMMENT_LIMIT: usize = 65_000;

/// `s` cut to `max` characters, ending in `mark` (`...`, `…`) when cut.
pub fn cut(s: &str, max: usize, mark: &str) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}{mark}", &s[..i]),
        None => s.to_string(),
    }
}

/// A comment being written under a limit in bytes: additions that do not fit
/// are refused, keeping a reserve for the closing notes that say what was
/// left out.
#[derive(Debug)]
pub(crate) struct Comment {
    text: String,
    limit: usize,
    reserve: usize,
}

impl Comment {
    /// An empty comment of at most `limit` bytes, `reserve` of them kept for
    /// [`Comment::note`].
    pub(crate) fn new(limit: usize, reserve: usize) -> Self {
        Comment {
            text: String::new(),
            limit,
            reserve,
        }
    }

    /// Appends `s` when it fits below the limit minus the reserve; false
    /// (and nothing appended) when not.
    pub(crate) fn push(&mut self, s: &str) -> bool {
        if self.text.len() + s.len() + self.reserve > self.limit {
            return false;
        }
        self.text.push_str(s);
        true
    }

    /// Appends a closing note, which may use the reserve; left out if even
    /// that is too little.
    pub(crate) fn note(&mut self, s: &str) {
        if self.text.len() + s.len() <= self.limit {
            self.text.push_str(s);
        }
    }

    /// The text so far.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The comment.
    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

/// `text` as is when it has at most [`COMMENT_LIMIT`] bytes; else cut at a
/// line boundary, a `<details>` left open closed, and a last line saying so.
pub fn fit_comment(text: String) -> String {
    fit_within(text, COMMENT_LIMIT)
}

fn fit_within(text: String, limit: usize) -> String {
    const NOTE: &str = "\n… (cut to fit a pull-request comment; the HTML report has everything)\n";
    const CLOSE: &str = "\n</details>\n";
    if text.len() <= limit {
        return text;
    }
    let mut out = Comment::new(limit, NOTE.len() + CLOSE.len());
    for line in text.lines() {
        if !out.push(&format!("{line}\n")) {
            break;
        }
    }
    let open = out.as_str().matches("<details>").count();
    if open > out.as_str().matches("</details>").count() {
        out.note(CLOSE);
    }
    out.note(NOTE);
    out.into_text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_counts_characters() {
        assert_eq!(cut("ééé", 2, "..."), "éé...");
        assert_eq!(cut("ééé", 3, "..."), "ééé");
        assert_eq!(cut("abcd", 2, "…"), "ab…");
        assert_eq!(cut("ab", 2, "…"), "ab");
        assert_eq!(cut("", 0, "…"), "");
    }

    #[test]
    fn a_comment_refuses_what_does_not_fit_but_keeps_its_notes() {
        let mut c = Comment::new(10, 4);
        assert!(c.push("abc"));
        assert!(c.push("def"));
        assert!(!c.push("g"));
        c.note("1234");
        c.note("5");
        assert_eq!(c.into_text(), "abcdef1234");
    }

    #[test]
    fn a_short_text_is_left_alone() {
        let text = "### heapcost report\n\né ✅\n".to_string();
        assert_eq!(fit_comment(text.clone()), text);
    }

    #[test]
    fn the_limit_is_in_bytes() {
        // 40,000 characters, 80,000 bytes: under the limit in characters,
        // over it in bytes.
        let text = "…\n".repeat(20_000);
        assert!(text.chars().count() <= COMMENT_LIMIT);
        let out = fit_comment(text);
        assert!(out.len() <= COMMENT_LIMIT, "{}", out.len());
        assert!(out.ends_with("the HTML report has everything)\n"), "{out}");
    }

    #[test]
    fn a_long_text_is_cut_at_a_line_and_closes_its_details() {
        let mut text = String::from("head\n<details><summary>x</summary>\n");
        for i in 0..100 {
            text.push_str(&format!("| row {i} | é |\n"));
        }
        text.push_str("</details>\n");
        let out = fit_within(text.clone(), 500);
        assert!(out.len() <= 500, "{}", out.len());
        assert!(out.starts_with("head\n<details>"), "{out}");
        assert!(out.ends_with("\n</details>\n\n… (cut to fit a pull-request comment; the HTML report has everything)\n"), "{out}");
        let kept = out.lines().filter(|l| l.starts_with("| row")).count();
        assert!((10..100).contains(&kept), "{kept}");
        // Every kept line is whole.
        assert!(
            out.lines()
                .all(|l| !l.starts_with("| row") || l.ends_with("| é |"))
        );
    }
}
