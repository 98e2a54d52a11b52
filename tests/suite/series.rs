//! `heapcost series` end to end on the corpus: snapshots in numeric order,
//! each total and growth equal to `top`'s, and the text and Markdown forms.

use serde_json::Value;
use tempfile::TempDir;

use super::common::corpus;
use super::common::run::ok;

#[test]
fn series_orders_snapshots_numerically_and_matches_top() {
    let dir = TempDir::new().unwrap();
    // Names whose shell order is not their numeric order.
    let mut names = Vec::new();
    for n in [1, 2, 9, 10] {
        let src = corpus(&format!(
            "envoy-1.34-ext-proc-full-duplex/envoy.prof.{n:04}.heap"
        ));
        let dst = dir.path().join(format!("envoy.prof.{n}.heap"));
        std::fs::copy(&src, &dst).unwrap();
        names.push(dst.to_string_lossy().into_owned());
    }
    let shuffled = [&names[3], &names[0], &names[2], &names[1]];
    let mut args = vec!["series", "--format", "json"];
    args.extend(shuffled.iter().map(|s| s.as_str()));
    let v: Value = serde_json::from_str(&ok(&args).0).unwrap();
    let snaps = v["snapshots"].as_array().unwrap();
    let paths: Vec<&str> = snaps.iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert_eq!(paths, names.iter().map(String::as_str).collect::<Vec<_>>());
    let mut previous = None;
    let mut peak = (0, 0);
    for (i, (snap, name)) in snaps.iter().zip(&names).enumerate() {
        let (top, _) = ok(&["top", name, "--format", "json"]);
        let top: Value = serde_json::from_str(&top).unwrap();
        let total = top["total"].as_i64().unwrap();
        assert_eq!(snap["total"].as_i64().unwrap(), total, "{name}");
        assert_eq!(
            snap["growth"].as_i64().unwrap(),
            previous.map_or(0, |p| total - p)
        );
        previous = Some(total);
        if total > peak.1 {
            peak = (i, total);
        }
    }
    assert_eq!(v["peak"].as_u64().unwrap() as usize, peak.0);
    // Unsymbolized: one owner, equal to each total.
    let owner = &v["owners"][0];
    assert_eq!(owner["name"], "unsymbolized");
    let values: Vec<i64> = owner["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    let totals: Vec<i64> = snaps.iter().map(|s| s["total"].as_i64().unwrap()).collect();
    assert_eq!(values, totals);
    let (text, _) = ok(&["series", &names[0], &names[1]]);
    assert!(text.contains("2 snapshots"), "{text}");
    let (md, _) = ok(&["series", &names[0], &names[1], "--format", "markdown"]);
    assert!(md.starts_with("### heapcost: 2 snapshots"), "{md}");
}
