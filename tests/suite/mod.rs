mod attribute;
mod bad_input;
mod cli;
mod common;
mod corpus;
mod pprof_strings;
mod proto_fixture;
mod symbolize;
