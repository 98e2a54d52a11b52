//! Stage 4, **analyze**: views computed from a profile, ready to render.
//!
//! Each view is a plain data structure (`Serialize` where it has a JSON
//! form) built by one function from a [`Profile`](crate::profile::Profile).

pub mod attribution;
pub mod budgets;
pub mod diff;
pub mod flame;
pub mod folded;
pub mod gate;
pub mod info;
pub mod report;
pub mod residency;
pub mod sampling;
pub mod series;
pub mod top;
pub mod warnings;
