//! The audit's logic over recorded inspect data: three containers created on
//! Debian 12's docker.io 20.10.24 (API 1.41) by `fixtures/record.sh`, read
//! through bollard's types as the Engine's answer is, each report held in an
//! insta snapshot; plus the daemon and network checks over made-up facts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use bollard::models::ContainerInspectResponse;
use labdocker::audit::{self, DaemonFacts, NetworkFacts, Report, Severity};

fn fixture(name: &str) -> ContainerInspectResponse {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/inspect/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn report(name: &str) -> serde_json::Value {
    let findings = audit::container(&fixture(name));
    let r = Report::new(1, findings);
    serde_json::to_value(&r.findings).unwrap()
}

#[test]
fn a_container_with_every_problem() {
    let r = report("bad");
    insta::assert_snapshot!(serde_json::to_string_pretty(&r).unwrap());
    assert!(
        !r.to_string().contains("not-a-real-secret"),
        "values never appear"
    );
}

#[test]
fn a_container_on_the_host_network() {
    insta::assert_snapshot!(serde_json::to_string_pretty(&report("hostnet")).unwrap());
}

#[test]
fn a_hardened_container_has_no_findings() {
    assert_eq!(report("good"), serde_json::json!([]));
}

#[test]
fn inventory_reads_the_recorded_answers() {
    let c = labdocker::inventory::from_inspect(&fixture("good"));
    assert_eq!(c.name, "good");
    assert_eq!(c.state, "created");
    assert_eq!(c.image, "lk-a");
    assert!(c.problem().is_none());
}

fn info(live_restore: bool, driver: &str) -> bollard::models::SystemInfo {
    bollard::models::SystemInfo {
        live_restore_enabled: Some(live_restore),
        logging_driver: Some(driver.to_owned()),
        ..Default::default()
    }
}

#[test]
fn daemon_checks_read_the_effective_settings() {
    let bridge = HashMap::from([(
        "com.docker.network.bridge.enable_icc".to_owned(),
        "true".to_owned(),
    )]);
    let f = DaemonFacts::new(
        &info(false, "json-file"),
        Some(&bridge),
        Some(&serde_json::json!({})),
    );
    let ids: Vec<&str> = audit::daemon(&f).iter().map(|f| f.check).collect();
    assert_eq!(ids, ["LD-D01", "LD-D02", "LD-D03", "LD-D04", "LD-D05"]);
    let hardened = serde_json::json!({
        "icc": false, "userland-proxy": false, "no-new-privileges": true,
        "log-opts": { "max-size": "10m", "max-file": "3" }
    });
    let bridge = HashMap::from([(
        "com.docker.network.bridge.enable_icc".to_owned(),
        "false".to_owned(),
    )]);
    let f = DaemonFacts::new(&info(true, "json-file"), Some(&bridge), Some(&hardened));
    assert!(audit::daemon(&f).is_empty(), "{:?}", audit::daemon(&f));
    // No default bridge: icc does not apply; a Swarm excuses live restore.
    let mut i = info(false, "local");
    i.swarm = Some(bollard::models::SwarmInfo {
        local_node_state: Some(bollard::models::LocalNodeState::ACTIVE),
        ..Default::default()
    });
    let f = DaemonFacts::new(&i, None, Some(&hardened));
    assert!(audit::daemon(&f).is_empty(), "{:?}", audit::daemon(&f));
    let f = DaemonFacts::new(&info(true, "none"), None, Some(&hardened));
    assert_eq!(audit::daemon(&f)[0].evidence, "LoggingDriver is none");
}

fn net(name: &str, ingress: bool, subnet: &str) -> NetworkFacts {
    NetworkFacts::new(&bollard::models::Network {
        name: Some(name.to_owned()),
        ingress: Some(ingress),
        ipam: Some(bollard::models::Ipam {
            config: Some(vec![bollard::models::IpamConfig {
                subnet: Some(subnet.to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[test]
fn network_checks_name_the_segment_and_the_other_network() {
    let lab = vec![
        (
            "segment management".to_owned(),
            "10.0.0.0/24".parse().unwrap(),
        ),
        (
            "libvirt's default network".to_owned(),
            "192.168.122.0/24".parse().unwrap(),
        ),
    ];
    let nets = [
        net("ingress", true, "10.0.0.0/24"),
        net("app", false, "192.168.0.0/16"),
        net("other", false, "192.168.5.0/24"),
        net("fine", false, "172.18.0.0/16"),
    ];
    let got: Vec<(String, &str, String)> = audit::networks(&nets, &lab)
        .into_iter()
        .map(|f| (f.object, f.check, f.evidence))
        .collect();
    assert_eq!(
        got,
        [
            (
                "network ingress".to_owned(),
                "LD-N02",
                "10.0.0.0/24 overlaps segment management (10.0.0.0/24)".to_owned()
            ),
            (
                "network app".to_owned(),
                "LD-N01",
                "192.168.0.0/16 overlaps libvirt's default network (192.168.122.0/24)".to_owned()
            ),
            (
                "network other".to_owned(),
                "LD-N01",
                "192.168.5.0/24 overlaps network app (192.168.0.0/16)".to_owned()
            ),
        ]
    );
}

#[test]
fn fail_on_and_sarif() {
    let r = Report::new(1, audit::container(&fixture("hostnet")));
    assert!(r.fails(Severity::High));
    assert!(!r.fails(Severity::Critical));
    let s = r.to_sarif("0.1.0");
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings.len());
    assert_eq!(results[0]["ruleId"], "LD-C07");
    assert_eq!(results[0]["level"], "error");
    let rules = s["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    let c07 = rules.iter().find(|r| r["id"] == "LD-C07").unwrap();
    assert_eq!(
        c07["properties"]["tags"],
        serde_json::json!(["CIS-Docker-1.6.0-5.10"])
    );
}
