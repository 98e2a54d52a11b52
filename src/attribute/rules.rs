//! Attribution rules: the TOML schema, loading, overriding and matching.
//!
//! A rule file has `[[owner]]` and `[[kind]]` tables. Each rule gives a
//! label (`name`) to the frames its patterns match:
//!
//! ```toml
//! [[owner]]
//! id = "ext_proc"                 # unique; a user rule with the same id replaces it
//! tier = "filter"                 # filter > subsystem > process
//! prefix = ["Envoy::Extensions::HttpFilters::ExternalProcessing::"]
//! examples = ["Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk"]
//! near_misses = ["Envoy::Extensions::Filters::Common::ExtAuthz::CheckRequestUtils::createHttpCheck"]
//! ```
//!
//! Patterns are matched against a frame's name as pprof shows it by default
//! (demangled, no parameters or template arguments): `prefix` (starts with),
//! `contains` (substring), `regex` (Rust `regex` syntax, unanchored unless
//! it says `^`/`$`), and `module` (prefix of the mapping's file name, for
//! frames that have no name, e.g. `liblua5.1.so`). A `name` may use `$1`,
//! `$2`... from the regex that matched; the captured text is turned into
//! snake_case (`HttpFilters::JwtAuthn` gives `jwt_authn`).
//!
//! For each frame, the first rule in order that matches decides the frame's
//! label; user rules come before the built-in ones, so they win. Every rule
//! carries `examples` (real names it must label) and `near_misses` (names it
//! must not match); both are checked when the rules are loaded, so a rule
//! file that does not do what it says is refused.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The rules heapcost ships: Envoy's filters, subsystems and allocation kinds.
pub const BUILTIN: &str = include_str!("envoy.toml");

/// The origin of the built-in rules in messages.
pub const BUILTIN_ORIGIN: &str = "<built-in envoy.toml>";

/// Owner tiers, lowest first: an owner of a higher tier anywhere on a stack
/// outranks any owner of a lower tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Allocator and profiler internals, the C and C++ runtimes, startup.
    Process,
    /// Envoy's shared machinery: gRPC, codecs, connection manager, stats...
    Subsystem,
    /// An HTTP, network or listener filter.
    Filter,
    /// Kind rules: generic containers and strings.
    Generic,
    /// Kind rules: Envoy's own types and VMs (outrank generic ones).
    Specific,
}

impl Tier {
    /// The tier's name as written in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Process => "process",
            Tier::Subsystem => "subsystem",
            Tier::Filter => "filter",
            Tier::Generic => "generic",
            Tier::Specific => "specific",
        }
    }

    fn is_owner_tier(self) -> bool {
        matches!(self, Tier::Process | Tier::Subsystem | Tier::Filter)
    }
}

/// Which column a rule labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Who caused the bytes.
    Owner,
    /// What was allocated.
    Kind,
}

impl Column {
    fn table(self) -> &'static str {
        match self {
            Column::Owner => "owner",
            Column::Kind => "kind",
        }
    }
}

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

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule as written.
    pub spec: RuleSpec,
    /// Where it came from (a path or the built-in origin).
    pub origin: Arc<str>,
    regexes: Vec<Regex>,
}

/// What one rule says about one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Index of the rule in its table.
    pub rule: usize,
    /// The label (with captures expanded).
    pub label: String,
    /// The rule's tier.
    pub tier: Tier,
}

impl Rule {
    fn compile(spec: RuleSpec, origin: &Arc<str>, column: Column) -> Result<Rule> {
        let fail = |why: String| Error::Rules {
            path: origin.to_string(),
            line: None,
            why: format!("{} rule {:?}: {why}", column.table(), spec.id),
        };
        if spec.id.trim().is_empty() {
            return Err(fail("the id is empty".into()));
        }
        if spec.tier.is_owner_tier() != (column == Column::Owner) {
            let allowed = match column {
                Column::Owner => "filter, subsystem or process",
                Column::Kind => "specific or generic",
            };
            return Err(fail(format!(
                "tier {:?} is not a {} tier ({allowed})",
                spec.tier.as_str(),
                column.table()
            )));
        }
        if spec.enabled
            && spec.prefix.is_empty()
            && spec.contains.is_empty()
            && spec.regex.is_empty()
            && spec.module.is_empty()
        {
            return Err(fail(
                "no pattern: give prefix, contains, regex or module".into(),
            ));
        }
        let mut regexes = Vec::with_capacity(spec.regex.len());
        for r in &spec.regex {
            regexes.push(Regex::new(r).map_err(|e| fail(format!("bad regex {r:?}: {e}")))?);
        }
        let name = spec.name.as_deref().unwrap_or(&spec.id);
        if name.contains('$') && regexes.is_empty() {
            return Err(fail(format!(
                "name {name:?} uses captures but the rule has no regex"
            )));
        }
        Ok(Rule {
            spec,
            origin: origin.clone(),
            regexes,
        })
    }

    /// The label this rule gives `name`, if it matches.
    pub fn matches(&self, name: &str) -> Option<Cow<'_, str>> {
        let label = self.spec.name.as_deref().unwrap_or(&self.spec.id);
        if self
            .spec
            .prefix
            .iter()
            .any(|p| name.starts_with(p.as_str()))
            || self.spec.contains.iter().any(|c| name.contains(c.as_str()))
        {
            return Some(Cow::Borrowed(label));
        }
        for re in &self.regexes {
            if let Some(caps) = re.captures(name) {
                if !label.contains('$') {
                    return Some(Cow::Borrowed(label));
                }
                let mut expanded = String::new();
                caps.expand(label, &mut expanded);
                return Some(Cow::Owned(snake_case(&expanded)));
            }
        }
        None
    }

    /// True when the rule labels frames without a name in `module`.
    pub fn matches_module(&self, module: &str) -> bool {
        self.spec
            .module
            .iter()
            .any(|m| module.starts_with(m.as_str()))
    }
}

/// `JwtAuthn` -> `jwt_authn`, `HTTP2Codec` -> `http2_codec`; other
/// characters kept, `::` and spaces become `_`.
pub fn snake_case(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let boundary = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == ':' || c == ' ' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The effective rules: owner and kind tables, compiled, in match order.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// Owner rules, first match wins per frame.
    pub owners: Vec<Rule>,
    /// Kind rules, first match wins per frame.
    pub kinds: Vec<Rule>,
}

impl RuleSet {
    /// The built-in rules alone.
    pub fn builtin() -> Result<RuleSet> {
        RuleSet::load(None)
    }

    /// The built-in rules with a user file (path and its text) put before
    /// them: a user rule with a built-in rule's id replaces it.
    pub fn load(user: Option<(&str, &str)>) -> Result<RuleSet> {
        let builtin = RuleFile::parse(BUILTIN, BUILTIN_ORIGIN)?;
        let user = match user {
            Some((origin, text)) => Some((origin, RuleFile::parse(text, origin)?)),
            None => None,
        };
        let set = RuleSet {
            owners: combine(
                builtin.owners,
                user.as_ref().map(|(o, f)| (*o, f.owners.clone())),
                Column::Owner,
            )?,
            kinds: combine(
                builtin.kinds,
                user.as_ref().map(|(o, f)| (*o, f.kinds.clone())),
                Column::Kind,
            )?,
        };
        set.check_examples()?;
        Ok(set)
    }

    /// The rules as a file again (user rules first), for `heapcost rules`.
    pub fn to_file(&self) -> RuleFile {
        RuleFile {
            owners: self.owners.iter().map(|r| r.spec.clone()).collect(),
            kinds: self.kinds.iter().map(|r| r.spec.clone()).collect(),
        }
    }

    /// The table of a column.
    pub fn table(&self, column: Column) -> &[Rule] {
        match column {
            Column::Owner => &self.owners,
            Column::Kind => &self.kinds,
        }
    }

    /// The first rule of `column` that matches the frame name `name`.
    pub fn first_match(&self, column: Column, name: &str) -> Option<Hit> {
        self.table(column).iter().enumerate().find_map(|(i, r)| {
            r.matches(name).map(|label| Hit {
                rule: i,
                label: label.into_owned(),
                tier: r.spec.tier,
            })
        })
    }

    /// The first rule of `column` that labels unnamed frames of `module`.
    pub fn first_module_match(&self, column: Column, module: &str) -> Option<Hit> {
        self.table(column).iter().enumerate().find_map(|(i, r)| {
            r.matches_module(module).then(|| Hit {
                rule: i,
                label: r.spec.name.clone().unwrap_or_else(|| r.spec.id.clone()),
                tier: r.spec.tier,
            })
        })
    }

    /// Every label a column can produce without captures, and the tier of
    /// each (for "did you mean" hints and listings).
    pub fn labels(&self, column: Column) -> Vec<(String, Tier)> {
        let mut out: Vec<(String, Tier)> = Vec::new();
        for r in self.table(column) {
            let label = r.spec.name.clone().unwrap_or_else(|| r.spec.id.clone());
            if !label.contains('$') && !out.iter().any(|(l, _)| *l == label) {
                out.push((label, r.spec.tier));
            }
        }
        out
    }

    fn check_examples(&self) -> Result<()> {
        for column in [Column::Owner, Column::Kind] {
            for rule in self.table(column) {
                let fail = |why: String| Error::Rules {
                    path: rule.origin.to_string(),
                    line: None,
                    why: format!("{} rule {:?}: {why}", column.table(), rule.spec.id),
                };
                let own = rule.spec.name.as_deref().unwrap_or(&rule.spec.id);
                for ex in &rule.spec.examples {
                    let Some(label) = rule.matches(ex) else {
                        return Err(fail(format!("its example {ex:?} is not matched")));
                    };
                    // Only rules of the same file can shadow an example: a user
                    // file may override built-in rules on purpose.
                    let first = self
                        .table(column)
                        .iter()
                        .filter(|r| Arc::ptr_eq(&r.origin, &rule.origin))
                        .find_map(|r| r.matches(ex).map(|l| (r, l.into_owned())));
                    if let Some((by, other)) = first
                        && other != label.as_ref()
                    {
                        return Err(fail(format!(
                            "its example {ex:?} gets {other:?} from rule {:?}, which comes first \
                             (this rule would give {own:?})",
                            by.spec.id
                        )));
                    }
                }
                for near in &rule.spec.near_misses {
                    if rule.matches(near).is_some() {
                        return Err(fail(format!("its near miss {near:?} is matched")));
                    }
                }
            }
        }
        Ok(())
    }
}

/// User rules first (replacing built-in rules of the same id, which are
/// then dropped from their place), then the remaining built-in rules;
/// disabled rules removed.
fn combine(
    builtin: Vec<RuleSpec>,
    user: Option<(&str, Vec<RuleSpec>)>,
    column: Column,
) -> Result<Vec<Rule>> {
    let builtin_origin: Arc<str> = Arc::from(BUILTIN_ORIGIN);
    let mut out: Vec<Rule> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    if let Some((origin, specs)) = user {
        let origin: Arc<str> = Arc::from(origin);
        for spec in specs {
            if seen.contains(&spec.id) {
                return Err(Error::Rules {
                    path: origin.to_string(),
                    line: None,
                    why: format!("{} rule {:?} is defined twice", column.table(), spec.id),
                });
            }
            seen.push(spec.id.clone());
            if spec.enabled {
                out.push(Rule::compile(spec, &origin, column)?);
            }
        }
    }
    let mut builtin_seen: Vec<&str> = Vec::new();
    for spec in &builtin {
        if builtin_seen.contains(&spec.id.as_str()) {
            return Err(Error::Rules {
                path: BUILTIN_ORIGIN.into(),
                line: None,
                why: format!("{} rule {:?} is defined twice", column.table(), spec.id),
            });
        }
        builtin_seen.push(&spec.id);
    }
    for spec in builtin {
        if seen.contains(&spec.id) || !spec.enabled {
            continue;
        }
        out.push(Rule::compile(spec, &builtin_origin, column)?);
    }
    Ok(out)
}

/// A short listing of the rules, one line each (for `heapcost rules --format text`).
pub fn listing(set: &RuleSet) -> String {
    let mut out = String::new();
    for column in [Column::Owner, Column::Kind] {
        let _ = writeln!(out, "{} rules (first match per frame):", column.table());
        for r in set.table(column) {
            let label = r.spec.name.as_deref().unwrap_or(&r.spec.id);
            let _ = writeln!(
                out,
                "  {:<24} {:<10} {:<16} {}",
                r.spec.id,
                r.spec.tier.as_str(),
                label,
                r.spec.description
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_of_envoy_namespaces() {
        assert_eq!(snake_case("JwtAuthn"), "jwt_authn");
        assert_eq!(snake_case("ExtAuthz"), "ext_authz");
        assert_eq!(snake_case("HTTP2Codec"), "http2_codec");
        assert_eq!(snake_case("Cors"), "cors");
        assert_eq!(snake_case("tcp_proxy"), "tcp_proxy");
    }

    #[test]
    fn user_rules_come_first_and_replace_by_id() {
        let user = r#"
[[owner]]
id = "router"
tier = "filter"
name = "my_router"
prefix = ["Envoy::Router::"]
examples = ["Envoy::Router::Filter::decodeHeaders"]

[[owner]]
id = "my_filter"
tier = "filter"
prefix = ["Acme::"]
examples = ["Acme::Filter::decodeData"]
near_misses = ["Acmex::Foo"]
"#;
        let set = RuleSet::load(Some(("user.toml", user))).unwrap();
        assert_eq!(set.owners[0].spec.id, "router");
        assert_eq!(set.owners[1].spec.id, "my_filter");
        assert_eq!(
            set.owners.iter().filter(|r| r.spec.id == "router").count(),
            1
        );
        let hit = set
            .first_match(Column::Owner, "Envoy::Router::Filter::decodeHeaders")
            .unwrap();
        assert_eq!(hit.label, "my_router");
    }

    #[test]
    fn a_rule_that_misses_its_example_is_refused() {
        let user = r#"
[[owner]]
id = "mine"
tier = "filter"
prefix = ["Acme::"]
examples = ["Envoy::Acme::x"]
"#;
        let err = RuleSet::load(Some(("user.toml", user))).unwrap_err();
        assert!(err.to_string().contains("user.toml"), "{err}");
        assert!(err.to_string().contains("not matched"), "{err}");
    }

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
    fn kind_tiers_and_owner_tiers_do_not_mix() {
        let user = "[[kind]]\nid = \"x\"\ntier = \"filter\"\nprefix = [\"a\"]\n";
        let msg = RuleSet::load(Some(("u.toml", user)))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("not a kind tier"), "{msg}");
    }

    #[test]
    fn a_disabled_builtin_rule_is_gone() {
        let user = "[[owner]]\nid = \"router\"\ntier = \"filter\"\nenabled = false\n";
        let set = RuleSet::load(Some(("u.toml", user))).unwrap();
        assert!(!set.owners.iter().any(|r| r.spec.id == "router"));
    }

    #[test]
    fn regex_names_expand_captures_in_snake_case() {
        let user = r#"
[[owner]]
id = "any_http_filter"
tier = "filter"
name = "$1"
regex = ['^Envoy::Extensions::HttpFilters::(\w+)::']
examples = ["Envoy::Extensions::HttpFilters::HeaderToMetadataFilter::Filter::decodeHeaders"]
"#;
        let set = RuleSet::load(Some(("u.toml", user))).unwrap();
        let hit = set
            .first_match(
                Column::Owner,
                "Envoy::Extensions::HttpFilters::HeaderToMetadataFilter::Filter::decodeHeaders",
            )
            .unwrap();
        assert_eq!(hit.label, "header_to_metadata_filter");
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
