mod common;
mod corpus;
mod pprof_strings;
