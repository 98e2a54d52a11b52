//! The rules TOML parser and loader (the user's `--rules` file, checked
//! against the built-in rules), then matching names with the result.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match heapcost::attribute::RuleSet::load(Some(("fuzz.toml", text))) {
        Ok(rules) => {
            for name in [
                "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk",
                "Envoy::Buffer::Slice::newStorage",
                "",
                "a",
                text.lines().next().unwrap_or_default(),
            ] {
                for rule in rules.owners.iter().chain(&rules.kinds) {
                    let _ = rule.matches(name);
                    let _ = rule.matches_module(name);
                }
            }
            let printed = rules.to_file().to_toml();
            heapcost::attribute::rules::RuleFile::parse(&printed, "printed")
                .expect("the printed rules parse again");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with("fuzz.toml") || msg.starts_with("<built-in"),
                "{msg:?}"
            );
            assert!(!msg.contains('\n'), "{msg:?}");
        }
    }
});
