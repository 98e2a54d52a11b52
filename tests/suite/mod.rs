mod common;
mod pprof_strings;
