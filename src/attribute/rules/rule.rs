//! A compiled [`Rule`] and how it matches a frame's name.

use std::borrow::Cow;
use std::sync::Arc;

use regex::Regex;

use super::{Column, RuleSpec, Tier};
use crate::error::{Error, Result};

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
    pub(super) fn compile(spec: RuleSpec, origin: &Arc<str>, column: Column) -> Result<Rule> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::rules::RuleSet;

    #[test]
    fn snake_case_of_envoy_namespaces() {
        assert_eq!(snake_case("JwtAuthn"), "jwt_authn");
        assert_eq!(snake_case("ExtAuthz"), "ext_authz");
        assert_eq!(snake_case("HTTP2Codec"), "http2_codec");
        assert_eq!(snake_case("Cors"), "cors");
        assert_eq!(snake_case("tcp_proxy"), "tcp_proxy");
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
}
