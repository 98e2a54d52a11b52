//! heapcost turns the heap profiles of an instrumented Envoy proxy into an
//! answer: which filter owns the memory, what grew, and whether a change may
//! merge.
//!
//! # Pipeline
//!
//! ```text
//! bytes ──read──▶ Profile ──symbolize──▶ Profile(+frames) ──attribute──▶ Attributed ──analyze──▶ views ──render──▶ text/json/...
//! ```
//!
//! - [`read`] sniffs the format from the content (gperftools and Go legacy
//!   heap text, jemalloc `heap_v2`, pprof protobuf, gzip or not) and builds
//!   the one [`profile::Profile`] model, unsampled exactly as pprof does.
//! - [`profile`] is the model, close to `profile.proto`, with merging, the
//!   choice of a sample type and the table of frame names.
//! - [`symbolize`] names the frames from ELF/DWARF files.
//! - [`attribute`] charges every sample to an owner and a kind
//!   ([`attribute::Attributed`], computed once per profile).
//! - [`analysis`] computes the views (top, owners, diff, series, flame,
//!   gate, report) and the run's warnings.
//! - [`render`] writes them as text, JSON, Markdown, SVG, HTML, protobuf.
//! - [`app`] is the commands: one load path, each view computed once;
//!   [`run`] is the only place that chains the stages together.
//!
//! Which module may import which is written in `docs/architecture.md` and
//! checked by a test.
//!
//! # Command line
//!
//! ```text
//! heapcost info envoy.prof.0001.heap
//! heapcost top --sample-type inuse_space -n 20 envoy.prof.*.heap
//! heapcost top --format json - < envoy.prof.0013.heap
//! heapcost gate --base base.heap new.heap -b envoy-static --budgets budgets.toml  # exit 1: regression
//! ```

pub mod analysis;
pub mod app;
pub mod attribute;
pub mod error;
pub mod profile;
mod progress;
mod proto;
pub mod read;
pub mod render;
pub mod symbolize;
pub mod units;

pub use app::{
    AttributeOptions, Command, Config, ConvertOptions, ConvertTo, DiffOptions, FlamegraphOptions,
    GateOptions, OutputFormat, ReportOptions, RulesOptions, SeriesOptions, Summary, TopOptions,
    run,
};
pub use error::{Error, Result};
