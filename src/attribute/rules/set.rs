//! The effective [`RuleSet`]: the user's rules before the built-in ones,
//! combined by id, compiled, and checked against their examples.

use std::fmt::Write as _;
use std::sync::Arc;

use super::{BUILTIN, BUILTIN_ORIGIN, Column, Hit, Rule, RuleFile, RuleSpec, Tier};
use crate::error::{Error, Result};

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
}
