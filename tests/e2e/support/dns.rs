//! The test DNS server: dnsmasq on loopback serving the test zone of `scripts/testbed`
//! (`dns_zone`: good.test with everything right, one domain per problem).

/// The server's `IP:PORT`, or None after a loud skip (a failure under CI).
pub fn dns_server(test: &str) -> Option<String> {
    match std::env::var("DRUMBEAT_TEST_DNS") {
        Ok(addr) if !addr.is_empty() => {
            assert!(
                addr.starts_with("127.0.0.1:") || addr.starts_with("[::1]:"),
                "DRUMBEAT_TEST_DNS must be on loopback, got {addr}"
            );
            Some(addr)
        }
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "{test}: DRUMBEAT_TEST_DNS is not set under CI; scripts/testbed must start dnsmasq"
                );
            }
            eprintln!(
                "\n*** SKIPPED {test}: no DNS server (set DRUMBEAT_TEST_DNS, or run scripts/test which starts dnsmasq) ***\n"
            );
            None
        }
    }
}
