mod common;
mod corpus;
mod pprof_strings;
mod bad_input;
mod cli;
mod proto_fixture;
