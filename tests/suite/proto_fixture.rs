//! pprof protobufs written by `pprof -proto` from corpus dumps read back to
//! pprof's totals (`fixtures/pprof-proto/expected-totals.tsv`), and to the same
//! samples as the text dumps they came from.

use heapcost::profile::Profile;

use super::common::{corpus, fixture, parse, read};

#[test]
fn totals_equal_pprof_raw() {
    let tsv = String::from_utf8(read(&fixture("pprof-proto/expected-totals.tsv"))).unwrap();
    let mut checked = 0;
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let p = parse(&fixture(&format!("pprof-proto/{}", f[0])));
        let index = p
            .select(&heapcost::profile::SampleTypeChoice::from(f[1]))
            .unwrap();
        assert_eq!(p.sample_types[index].kind, f[1]);
        assert_eq!(p.total(index), f[2].parse::<i64>().unwrap(), "{line}");
        assert_eq!(p.samples.len(), f[3].parse::<usize>().unwrap(), "{line}");
        checked += 1;
    }
    assert_eq!(checked, 6);
}

/// Sorted (values, lookup addresses) of every sample.
fn samples(p: &Profile) -> Vec<(Vec<i64>, Vec<u64>)> {
    let mut v: Vec<_> = p
        .samples
        .iter()
        .map(|s| {
            let addrs = s
                .locations
                .iter()
                .map(|l| p.location(*l).unwrap().lookup_address().0)
                .collect();
            (s.values.clone(), addrs)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn proto_and_text_dump_hold_the_same_samples() {
    for (pb, text) in [
        (
            "envoy.prof.0001.pb.gz",
            "envoy-1.34-ext-proc-full-duplex/envoy.prof.0001.heap",
        ),
        ("cppbench.heap.pb.gz", "pprof-testdata/cppbench.heap"),
    ] {
        let from_pb = parse(&fixture(&format!("pprof-proto/{pb}")));
        let from_text = parse(&corpus(text));
        assert_eq!(from_pb.sample_types, from_text.sample_types, "{pb}");
        assert_eq!(samples(&from_pb), samples(&from_text), "{pb}");
        // Names differ by one byte: pprof stored the call site, the text the return address.
        let main = &from_pb.mappings[0];
        assert_eq!(main.base_name(), from_text.mappings[0].base_name());
    }
}
