//! Stage 5, **render**: views to bytes for the terminal and for machines.
//!
//! One function per output. Numbers are formatted here (never in callers),
//! with pprof's units and percentages so that pprof users read them at once.

pub mod ci;
pub mod cut;
pub mod escape;
pub mod flamegraph;
pub mod folded;
pub mod gate;
pub mod html;
pub mod json;
pub mod markdown;
pub mod pprof;
pub mod text;
