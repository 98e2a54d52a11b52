//! The rule file's schema: `[[owner]]` and `[[kind]]` tables of
//! [`RuleSpec`]s, read from and printed as TOML.

use serde::{Deserialize, Serialize};

use super::Tier;
use crate::error::{Error, Result};

/// One rule as written in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id within its table; user rules replace built-in rules by id.
    pub id: String,
    /// The label; defaults to the id. May use `$1`... from a regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Owner tiers: filter, subsystem, process. Kind tiers: specific, generic.
    pub tier: Tier,
    /// What the rule catches, for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Name prefixes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix: Vec<String>,
    /// Name substrings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contains: Vec<String>,
    /// Regular expressions over the name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regex: Vec<String>,
    /// Prefixes of the mapping's file name, for frames without a name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub module: Vec<String>,
    /// Real frame names the rule must label with its name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Names the rule must not match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub near_misses: Vec<String>,
    /// `false` switches a built-in rule off (give its id).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A rule file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Owner rules, in order.
    #[serde(default, rename = "owner")]
    pub owners: Vec<RuleSpec>,
    /// Kind rules, in order.
    #[serde(default, rename = "kind")]
    pub kinds: Vec<RuleSpec>,
}

impl RuleFile {
    /// Parses a rule file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<RuleFile> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| {
                memchr::memchr_iter(b'\n', &text.as_bytes()[..s.start.min(text.len())]).count() + 1
            });
            Error::Rules {
                path: origin.to_string(),
                line,
                why: e.message().to_string(),
            }
        })
    }

    /// The file as TOML (what `heapcost rules` prints).
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# heapcost attribution rules (effective): user rules first, then the built-in ones.\n\
             # For each frame the first matching rule decides; see `heapcost rules --help`.\n\n",
        );
        out.push_str(&toml::to_string_pretty(self).unwrap_or_default());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BUILTIN, RuleSet};
    use super::RuleFile;

    #[test]
    fn syntax_errors_name_the_line() {
        let user = "[[owner]]\nid = \"x\"\ntier = \"filter\"\nprefix = [\"a\"\n";
        let err = RuleSet::load(Some(("user.toml", user))).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("user.toml:"), "{msg}");
        let bad_tier = "[[owner]]\nid = \"x\"\ntier = \"filtre\"\nprefix = [\"a\"]\n";
        let msg = RuleSet::load(Some(("u.toml", bad_tier)))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("u.toml:3:"), "{msg}");
    }

    #[test]
    fn cut_or_mangled_rule_files_are_errors_not_panics() {
        let text = BUILTIN;
        let mut errors = 0;
        for cut in (0..text.len()).step_by(text.len() / 60) {
            if !text.is_char_boundary(cut) {
                continue;
            }
            let (head, tail) = text.split_at(cut);
            for variant in [
                head.to_string(),
                format!("{head}\u{0}{tail}"),
                format!("{head}]]\n{tail}"),
                format!("{head}\"{tail}"),
                format!("{head}regex = ['(']\n{tail}"),
            ] {
                if RuleSet::load(Some(("fuzz.toml", &variant))).is_err() {
                    errors += 1;
                }
            }
        }
        assert!(errors > 60, "{errors}");
    }

    #[test]
    fn printed_rules_read_back_the_same() {
        let set = RuleSet::builtin().unwrap();
        let text = set.to_file().to_toml();
        let again = RuleFile::parse(&text, "printed").unwrap();
        assert_eq!(again, set.to_file());
    }
}
