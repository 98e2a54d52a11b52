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

mod file;
mod rule;
mod set;

use serde::{Deserialize, Serialize};

pub use self::file::{RuleFile, RuleSpec};
pub use self::rule::{Hit, Rule, snake_case};
pub use self::set::{RuleSet, listing};

/// The rules heapcost ships: Envoy's filters, subsystems and allocation kinds.
pub const BUILTIN: &str = include_str!("../envoy.toml");

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
