//! The 200-rule spec of the benches and of `examples/scale.rs`: calls,
//! files, exec and network, with a count and an order rule.

/// A spec of 200 rules: calls, files, exec and network.
pub fn big_spec() -> String {
    let mut s = String::from("spec \"big\" {\n  let payees = [\"A1\", \"A2\", \"A3\"]\n");
    for i in 0..120 {
        s.push_str(&format!(
            "  allow call tool{i} when recipient in payees and amount <= {}\n",
            100 + i
        ));
    }
    for i in 0..30 {
        s.push_str(&format!(
            "  deny call tool{i} when recipient == \"EVIL{i}\"\n"
        ));
    }
    for i in 0..20 {
        s.push_str(&format!(
            "  allow read under \"/srv/data{i}/\" when not path endswith \".key\"\n"
        ));
        s.push_str(&format!("  allow write under \"/tmp/job{i}/\"\n"));
    }
    for i in 0..5 {
        s.push_str(&format!("  deny connect ip in 10.{i}.0.0/16\n"));
    }
    s.push_str("  allow connect host in [\"api.example.com\"] and port == 443\n");
    s.push_str("  allow exec \"/usr/bin/git\" when argv[0] in [\"status\", \"diff\"]\n");
    s.push_str("  at most 50 call tool1\n  never call tool2 after call tool3\n");
    s.push_str("  approve call review\n  deny call drop_database\n");
    s.push('}');
    s
}
