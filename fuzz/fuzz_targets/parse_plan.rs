//! Any bytes: the plan parser and loader never panic, and whatever parses
//! survives the canonical printer: parse(fmt(plan)) == plan.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = planlang::load_plan_str(text, "fuzz.plan");
    if let Ok(plan) = planlang::parse_plan(text, "fuzz.plan") {
        let printed = planlang::fmt_plan(&plan);
        let again = planlang::parse_plan(&printed, "fuzz.plan")
            .unwrap_or_else(|e| panic!("the printed plan does not parse: {e}\n{printed}"));
        assert_eq!(again, plan, "{printed}");
        let kept = planlang::fmt_plan_source(text, "fuzz.plan").expect("it parsed once");
        assert_eq!(
            planlang::parse_plan(&kept, "fuzz.plan").ok(),
            Some(plan),
            "{kept}"
        );
    }
});
