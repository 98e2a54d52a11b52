//! Memory-map trailers: the text after the first NUL byte (or all of it) is
//! a trailer; the bytes before it, 8 at a time, are stack addresses. Every
//! location given a mapping must lie inside it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (head, trailer) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let mut addresses: Vec<u64> = head
        .chunks(8)
        .map(|c| {
            let mut word = [0u8; 8];
            word[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(word)
        })
        .collect();
    // Addresses near the mappings' own numbers are more interesting than
    // random words: every hex number of the trailer, and its neighbours.
    for token in trailer.split(|b| !b.is_ascii_hexdigit()) {
        if let Ok(t) = std::str::from_utf8(token)
            && let Ok(v) = u64::from_str_radix(t, 16)
        {
            addresses.extend([v.wrapping_sub(1), v, v.wrapping_add(1)]);
        }
    }
    match heapcost::read::fuzzing::maps(trailer, &addresses) {
        Ok(p) => {
            for loc in &p.locations {
                if let Some(m) = loc.mapping {
                    let m = p.mapping(m).expect("a location's mapping exists");
                    assert!(
                        m.contains(loc.address),
                        "location {:#x} given mapping {:#x}-{:#x}",
                        loc.address.0,
                        m.start.0,
                        m.limit.0
                    );
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz:"), "{msg:?}");
            assert!(!msg.contains('\n'), "{msg:?}");
        }
    }
});
