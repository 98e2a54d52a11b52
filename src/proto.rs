//! The prost types of `proto/profile.proto`, generated at build time.
//!
//! Used only by the protobuf reader (`read::pprof`) and writer
//! (`render::pprof`); no other module sees them.

#![allow(missing_docs, unreachable_pub, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/perftools.profiles.rs"));
