//! Every sample value of pprof's legacy test profiles equals pprof's own parse
//! of them (the `*.string` files beside them in `../shared/corpus/pprof-testdata/`).

use std::collections::HashMap;

use heapcost::profile::{LabelValue, Profile};

use super::common::{corpus, read};

/// One sample as a comparable line: values, lookup addresses, labels.
type Key = (Vec<i64>, Vec<u64>, Vec<String>);

/// Parses the Samples and Locations sections of pprof's `Profile.String()`.
fn parse_string_dump(text: &str) -> (Vec<String>, Vec<Key>) {
    let mut lines = text.lines().peekable();
    let mut types = Vec::new();
    let mut raw: Vec<(Vec<i64>, Vec<u64>, Vec<String>)> = Vec::new();
    while let Some(l) = lines.next() {
        if l == "Samples:" {
            types = lines
                .next()
                .unwrap()
                .split_whitespace()
                .map(|t| t.split('/').next().unwrap().to_string())
                .collect();
            continue;
        }
        if l == "Locations" {
            break;
        }
        if types.is_empty() {
            continue;
        }
        let t = l.trim();
        if let Some((values, ids)) = t
            .split_once(':')
            .filter(|(v, _)| !v.contains('[') && !v.chars().any(char::is_alphabetic))
        {
            raw.push((
                values
                    .split_whitespace()
                    .map(|v| v.parse().unwrap())
                    .collect(),
                ids.split_whitespace().map(|v| v.parse().unwrap()).collect(),
                vec![],
            ));
        } else if let Some(last) = raw.last_mut() {
            last.2.push(t.to_string());
        }
    }
    let mut addrs: HashMap<u64, u64> = HashMap::new();
    for l in lines.by_ref() {
        if l == "Mappings" {
            break;
        }
        let mut it = l.split_whitespace();
        let id = it.next().unwrap().trim_end_matches(':').parse().unwrap();
        let a = u64::from_str_radix(it.next().unwrap().trim_start_matches("0x"), 16).unwrap();
        addrs.insert(id, a);
    }
    let samples = raw
        .into_iter()
        .map(|(v, ids, mut labels)| {
            labels.sort();
            (v, ids.iter().map(|i| addrs[i]).collect(), labels)
        })
        .collect();
    (types, samples)
}

fn ours(p: &Profile) -> Vec<Key> {
    p.samples
        .iter()
        .map(|s| {
            let mut labels: Vec<String> = s
                .labels
                .iter()
                .map(|l| match &l.value {
                    LabelValue::Str(v) => format!("{}:[{v}]", l.key),
                    LabelValue::Num { value, .. } => format!("{}:[{value}]", l.key),
                })
                .collect();
            labels.sort();
            (
                s.values.clone(),
                s.locations
                    .iter()
                    .map(|l| p.locations[l.0 as usize].lookup_address().0)
                    .collect(),
                labels,
            )
        })
        .collect()
}

/// Compares our parse of `name` with pprof's; `extra_last` lets the last
/// stack of the file carry that many samples pprof's parse lacks.
fn check_with(name: &str, extra_last: usize) {
    let path = corpus(&format!("pprof-testdata/{name}"));
    let p = heapcost::read::parse(&read(&path), name).unwrap();
    let text = String::from_utf8(read(&path.with_file_name(format!("{name}.string")))).unwrap();
    let (types, mut expected) = parse_string_dump(&text);
    let names: Vec<&str> = p.sample_types.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(names, types, "{name}: sample types");
    let mut got = ours(&p);
    if extra_last > 0 {
        // The samples of the file's last stack come last; drop the ones pprof lacks.
        let last_stack = got.last().unwrap().1.clone();
        let mut removed = 0;
        while removed < extra_last {
            let i = got
                .iter()
                .rposition(|g| g.1 == last_stack && !expected.contains(g))
                .expect("the extra sample is on the last stack");
            got.remove(i);
            removed += 1;
        }
    }
    // heapcost leaves stacks without frames out of the samples, as pprof's
    // own pipeline does (`pprof -raw gobench.heap` lists 14 samples, its
    // parser's `.string` 15); the reader counts them instead.
    let frameless: usize = p.sources.iter().map(|s| s.frameless.count).sum();
    let before = expected.len();
    expected.retain(|e| !e.1.is_empty());
    assert_eq!(
        before - expected.len(),
        frameless,
        "{name}: frameless stacks counted"
    );
    // heapcost keeps one sample per distinct stack and labels, adding up
    // the values of a stack listed again (as pprof's `Profile.Compact`
    // does); growth dumps list one stack per growth event. pprof's parser
    // keeps them apart: they are added up here before comparing.
    let mut expected = compacted(expected);
    got.sort();
    expected.sort();
    if got.len() != expected.len() {
        let extra: Vec<_> = got
            .iter()
            .filter(|g| !expected.contains(g))
            .take(3)
            .collect();
        let missing: Vec<_> = expected
            .iter()
            .filter(|e| !got.contains(e))
            .take(3)
            .collect();
        panic!(
            "{name}: {} samples, pprof has {}; ours only: {extra:?}; pprof's only: {missing:?}",
            got.len(),
            expected.len()
        );
    }
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e, "{name}: first differing sample");
    }
}

/// Samples with the same stack and labels added up into the first.
fn compacted(samples: Vec<Key>) -> Vec<Key> {
    let mut out: Vec<Key> = Vec::new();
    let mut seen: HashMap<(Vec<u64>, Vec<String>), usize> = HashMap::new();
    for (values, stack, labels) in samples {
        match seen.get(&(stack.clone(), labels.clone())) {
            Some(&i) => {
                for (sum, v) in out[i].0.iter_mut().zip(&values) {
                    *sum += v;
                }
            }
            None => {
                seen.insert((stack.clone(), labels.clone()), out.len());
                out.push((values, stack, labels));
            }
        }
    }
    out
}

fn check(name: &str) {
    check_with(name, 0)
}

#[test]
fn cppbench_heap_matches_pprof() {
    check("cppbench.heap");
}

#[test]
fn cppbench_growth_matches_pprof() {
    check("cppbench.growth");
}

#[test]
fn gobench_heap_matches_pprof() {
    check("gobench.heap");
}

/// The `.string` comes from the jemalloc parser proposed in google/pprof#690,
/// which loses the last per-thread line of the file's last stack (`t15: 1: 64`
/// on line 7669, just before the blank line and `MAPPED_LIBRARIES:`): every
/// other sample must match it exactly, and that one must be ours alone.
#[test]
fn jemalloc_heap_matches_pprof_pr690() {
    check_with("jemalloc.heap", 1);
}
