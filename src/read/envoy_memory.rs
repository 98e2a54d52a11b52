//! Envoy's admin `/memory` output: what tcmalloc says about the heap.
//!
//! ```json
//! { "allocated": "6402432", "heap_size": "10485760", "pageheap_unmapped": "0",
//!   "pageheap_free": "2424832", "total_thread_cache": "3203976",
//!   "total_physical_bytes": "12914688" }
//! ```
//!
//! Numbers come as strings (protobuf JSON's 64-bit integers) or as numbers;
//! both are read. Missing fields are 0, except `allocated` and `heap_size`,
//! which are required.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The figures of `/memory`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct EnvoyMemory {
    /// Bytes the application holds (tcmalloc's `generic.current_allocated_bytes`).
    pub allocated: u64,
    /// Bytes tcmalloc has reserved from the OS (`generic.heap_size`).
    pub heap_size: u64,
    /// Bytes of the heap returned to the OS.
    pub pageheap_unmapped: u64,
    /// Free bytes in the page heap.
    pub pageheap_free: u64,
    /// Bytes in thread caches.
    pub total_thread_cache: u64,
    /// Physical bytes tcmalloc uses (0 when Envoy does not report it).
    pub total_physical_bytes: u64,
}

/// Parses the JSON `text` of `/memory`, read from `path`.
pub fn parse_memory(text: &str, path: &str) -> Result<EnvoyMemory> {
    let bad = |why: String| Error::Usage(format!("{path}: not Envoy's /memory output: {why}"));
    let v: Value = serde_json::from_str(text).map_err(|e| {
        Error::Usage(format!(
            "{path}:{}: not Envoy's /memory output: {e}",
            e.line()
        ))
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("expected a JSON object".into()))?;
    let field = |name: &str, required: bool| -> Result<u64> {
        match obj.get(name) {
            None if required => Err(bad(format!("no \"{name}\" field"))),
            None => Ok(0),
            Some(Value::String(s)) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| bad(format!("\"{name}\" is not a byte count: {s:?}"))),
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| bad(format!("\"{name}\" is not a byte count: {n}"))),
            Some(other) => Err(bad(format!("\"{name}\" is not a byte count: {other}"))),
        }
    };
    Ok(EnvoyMemory {
        allocated: field("allocated", true)?,
        heap_size: field("heap_size", true)?,
        pageheap_unmapped: field("pageheap_unmapped", false)?,
        pageheap_free: field("pageheap_free", false)?,
        total_thread_cache: field("total_thread_cache", false)?,
        total_physical_bytes: field("total_physical_bytes", false)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers() {
        let m = parse_memory(
            r#"{"allocated": "6402432", "heap_size": 10485760, "pageheap_free": "2424832"}"#,
            "m.json",
        )
        .unwrap();
        assert_eq!(m.allocated, 6402432);
        assert_eq!(m.heap_size, 10485760);
        assert_eq!(m.pageheap_free, 2424832);
        assert_eq!(m.total_thread_cache, 0);
    }

    #[test]
    fn errors_name_the_file() {
        let e = parse_memory("{\n\"allocated\": \"x\"", "m.json").unwrap_err();
        assert!(e.to_string().starts_with("m.json:2:"), "{e}");
        let e = parse_memory(r#"{"allocated": "x", "heap_size": "1"}"#, "m.json").unwrap_err();
        assert!(e.to_string().contains("\"allocated\""), "{e}");
        let e = parse_memory(r#"{"heap_size": "1"}"#, "m.json").unwrap_err();
        assert!(e.to_string().contains("no \"allocated\""), "{e}");
    }
}
