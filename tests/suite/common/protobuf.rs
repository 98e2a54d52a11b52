//! pprof protobufs built by hand, and gzip: the one place the tests encode
//! `profile.proto` (with prost's wire helpers, field by field, so that a
//! test can write what no well-behaved writer would).

use std::io::Write as _;

use prost::encoding::{self, WireType};

/// A sample: location ids (leaf first), values, labels as (key, str, num)
/// string indices.
pub type PbSample = (Vec<u64>, Vec<i64>, Vec<(i64, i64, i64)>);

/// A mapping: id, start, limit, file name string index.
pub type PbMapping = (u64, u64, u64, i64);

/// A location: id, mapping id, address, its lines as (function id, line
/// number), innermost first.
pub type PbLocation = (u64, u64, u64, Vec<(u64, i64)>);

/// A `profile.proto` Profile, as plain numbers, to encode with prost's wire
/// helpers. Fields are written in this order, each as written here, except
/// that a line number of 0 and a default sample type of 0 are left out (as
/// a proto3 writer leaves out a default).
#[derive(Clone)]
pub struct Pb {
    /// (type, unit) string indices.
    pub sample_types: Vec<(i64, i64)>,
    pub samples: Vec<PbSample>,
    pub mappings: Vec<PbMapping>,
    pub locations: Vec<PbLocation>,
    /// (id, name index).
    pub functions: Vec<(u64, i64)>,
    pub strings: Vec<String>,
    pub default_sample_type: i64,
    pub comments: Vec<i64>,
}

impl Pb {
    /// A valid two-sample profile: `main -> alloc`.
    pub fn valid() -> Self {
        Pb {
            sample_types: vec![(1, 2), (3, 4)],
            samples: vec![
                (vec![1, 2], vec![3, 300], vec![(5, 0, 100)]),
                (vec![2], vec![1, 50], vec![]),
            ],
            mappings: vec![(1, 0x1000, 0x2000, 6)],
            locations: vec![(1, 1, 0x1010, vec![(1, 12)]), (2, 1, 0x1020, vec![(2, 12)])],
            functions: vec![(1, 7), (2, 8)],
            strings: [
                "",
                "alloc_objects",
                "count",
                "alloc_space",
                "bytes",
                "bytes",
                "/bin/app",
                "alloc",
                "main",
            ]
            .map(String::from)
            .to_vec(),
            default_sample_type: 3,
            comments: vec![],
        }
    }

    /// The encoded Profile (not gzip'd).
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        for (t, u) in &self.sample_types {
            let mut m = Vec::new();
            encoding::int64::encode(1, t, &mut m);
            encoding::int64::encode(2, u, &mut m);
            message(1, &m, &mut buf);
        }
        for sample in &self.samples {
            message(2, &encode_sample(sample), &mut buf);
        }
        for (id, start, limit, file) in &self.mappings {
            let mut m = Vec::new();
            encoding::uint64::encode(1, id, &mut m);
            encoding::uint64::encode(2, start, &mut m);
            encoding::uint64::encode(3, limit, &mut m);
            encoding::int64::encode(5, file, &mut m);
            message(3, &m, &mut buf);
        }
        for location in &self.locations {
            message(4, &encode_location(location), &mut buf);
        }
        for (id, name) in &self.functions {
            let mut m = Vec::new();
            encoding::uint64::encode(1, id, &mut m);
            encoding::int64::encode(2, name, &mut m);
            message(5, &m, &mut buf);
        }
        for s in &self.strings {
            encoding::string::encode(6, s, &mut buf);
        }
        encoding::int64::encode_packed(13, &self.comments, &mut buf);
        if self.default_sample_type != 0 {
            encoding::int64::encode(14, &self.default_sample_type, &mut buf);
        }
        buf
    }
}

/// Appends field `tag` holding the message `body`.
fn message(tag: u32, body: &[u8], buf: &mut Vec<u8>) {
    encoding::encode_key(tag, WireType::LengthDelimited, buf);
    encoding::encode_varint(body.len() as u64, buf);
    buf.extend_from_slice(body);
}

fn encode_sample((locs, values, labels): &PbSample) -> Vec<u8> {
    let mut m = Vec::new();
    encoding::uint64::encode_packed(1, locs, &mut m);
    encoding::int64::encode_packed(2, values, &mut m);
    for (key, s, num) in labels {
        let mut l = Vec::new();
        encoding::int64::encode(1, key, &mut l);
        encoding::int64::encode(2, s, &mut l);
        encoding::int64::encode(3, num, &mut l);
        message(3, &l, &mut m);
    }
    m
}

fn encode_location((id, mapping, address, lines): &PbLocation) -> Vec<u8> {
    let mut m = Vec::new();
    encoding::uint64::encode(1, id, &mut m);
    encoding::uint64::encode(2, mapping, &mut m);
    encoding::uint64::encode(3, address, &mut m);
    for (function, line) in lines {
        let mut l = Vec::new();
        encoding::uint64::encode(1, function, &mut l);
        if *line != 0 {
            encoding::int64::encode(2, line, &mut l);
        }
        message(4, &l, &mut m);
    }
    m
}

/// `data` gzip'd (default compression).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `data` gunzipped (every member); fails the test on a corrupt stream.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(data), &mut out).unwrap();
    out
}
