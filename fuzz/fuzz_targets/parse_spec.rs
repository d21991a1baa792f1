//! Any bytes: the spec parser and loader never panic, and whatever parses
//! survives the canonical printer: parse(fmt(spec)) == spec. `include`s are
//! resolved against a directory that does not exist, so loading never
//! reads files the fuzzer did not write.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = planlang::load_spec_str(text, "/nonexistent-warden-fuzz/fuzz.spec");
    if let Ok(spec) = planlang::parse_spec(text, "fuzz.spec") {
        let printed = planlang::fmt_spec(&spec);
        let again = planlang::parse_spec(&printed, "fuzz.spec")
            .unwrap_or_else(|e| panic!("the printed spec does not parse: {e}\n{printed}"));
        assert_eq!(again, spec, "{printed}");
        let kept = planlang::fmt_spec_source(text, "fuzz.spec").expect("it parsed once");
        assert_eq!(
            planlang::parse_spec(&kept, "fuzz.spec").ok(),
            Some(spec),
            "{kept}"
        );
    }
});
