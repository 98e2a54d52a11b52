//! `heapcost info` end to end: one JSON object per input, always in an
//! array, and one text block per input, in order.

use serde_json::Value;

use super::common::run::ok;
use super::common::{cppbench, envoy1, json, s};

#[test]
fn info_json_on_two_files_is_an_array_of_two() {
    let (a, b) = (envoy1(), cppbench());
    let (stdout, _) = ok(&["info", "--format", "json", s(&a), s(&b)]);
    let v = json(&stdout);
    let items = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(Value::is_object));
    assert_eq!(items[0]["path"], s(&a));
    assert_eq!(items[1]["path"], s(&b));
    assert_eq!(items[0]["format"], "gperftools_heap");
    assert_eq!(items[0]["sample_types"].as_array().unwrap().len(), 4);
    assert_eq!(items[1]["sample_types"].as_array().unwrap().len(), 2);
    // One file: still an array.
    let (stdout, _) = ok(&["info", "--format", "json", s(&a)]);
    assert_eq!(json(&stdout).as_array().unwrap().len(), 1);
    // Text: one block per file, in order.
    let (text, _) = ok(&["info", s(&a), s(&b)]);
    let (first, second) = text.split_once("\n\n").unwrap();
    assert!(first.starts_with(s(&a)), "{first}");
    assert!(second.starts_with(s(&b)), "{second}");
}
