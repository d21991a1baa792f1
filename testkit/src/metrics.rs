//! Reading a Prometheus scrape in tests, through an independent parser of
//! the exposition format (`prometheus-parse`).

/// The one value of the sample `name` (with `label` = value when given) in
/// the exposition `text`; panics, showing the text, when there is none or
/// more than one.
pub fn sample(text: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not the exposition format ({e}):\n{text}"));
    let found: Vec<f64> = parsed
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .filter_map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {label:?} in:\n{text}");
    found[0]
}
