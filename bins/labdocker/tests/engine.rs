//! labdocker against a real Docker Engine of the test's own (Debian's
//! docker.io 20.10, API 1.41, in a namespace with scratch state): health
//! and its exit status, the events watch, `/system/df` in the old layout
//! against `docker system df`, prune's plan against what a prune removes,
//! the audit on real inspect data, and Swarm with the lab's pool.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use std::path::Path;

use labdocker::Engine;
use labdocker::daemon::DaemonConfig;
use labdocker::inventory::Health;
use labkit_tests::dockerd::Dockerd;

fn lab(socket: &str, prune: &str) -> String {
    format!(
        "{}\n[docker]\nsocket = \"{socket}\"\nlog = {{ driver = \"json-file\", max_size = \"10m\", max_file = 3 }}\naddress_pools = [{{ base = \"172.17.0.0/16\", size = 24 }}]\nswarm = {{ enabled = true, address_pool = \"172.30.0.0/16\", subnet_size = 24 }}\n[docker.prune]\n{prune}\n",
        labnet::reference::TOML
    )
}

fn write_lab(d: &Dockerd, prune: &str) -> std::path::PathBuf {
    let p = d.scratch().join("lab.toml");
    std::fs::write(&p, lab(&d.host(), prune)).unwrap();
    p
}

fn labdocker(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_labdocker"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn engine(d: &Dockerd) -> Engine {
    let e = Engine::connect(&d.host()).unwrap();
    assert_eq!(
        e.api_version(),
        "1.41",
        "Debian's engine negotiates down to 1.41"
    );
    e
}

fn build(e: &Engine, tag: &str, cmd: &[&str]) -> String {
    e.build_image(tag, Dockerd::busybox_context(cmd)).unwrap()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[cfg_attr(
    not(labkit_dockerd),
    ignore = "needs root, network namespaces and Docker Engine (Debian packages docker.io, busybox-static)"
)]
fn health_names_unhealthy_and_restarting_containers_and_watch_sees_the_change() {
    let d = Dockerd::start("dkh");
    let e = engine(&d);
    let id = build(&e, "lk-sleep", &["sleep", "3600"]);
    assert!(id.starts_with("sha256:"), "{id}");
    let run = |args: &[&str]| {
        let o = d.docker(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[
        "run",
        "-d",
        "--name",
        "fine",
        "--network",
        "none",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        "lk-sleep",
    ]);
    run(&[
        "run",
        "-d",
        "--name",
        "sick",
        "--network",
        "none",
        "--health-cmd",
        "false",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "lk-sleep",
    ]);
    run(&[
        "run",
        "-d",
        "--name",
        "flappy",
        "--network",
        "none",
        "--restart",
        "always",
        "lk-sleep",
        "sh",
        "-c",
        "exit 3",
    ]);
    run(&[
        "run",
        "-d",
        "--name",
        "plain",
        "--network",
        "none",
        "lk-sleep",
    ]);
    wait_for("the healthchecks", 30, || {
        let r = e.health().unwrap();
        let h = |n: &str| r.containers.iter().find(|c| c.name == n).map(|c| c.health);
        h("fine") == Some(Health::Healthy) && h("sick") == Some(Health::Unhealthy)
    });
    wait_for("a restart", 30, || {
        e.health()
            .unwrap()
            .containers
            .iter()
            .any(|c| c.name == "flappy" && c.restart_count > 0)
    });
    let r = e.health().unwrap();
    // What labdocker says agrees with docker inspect, container by container.
    for c in &r.containers {
        let o = d.docker(&["inspect", "--format", "{{.State.Status}} {{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", &c.id]);
        let cli = ok(&o);
        let mut w = cli.split_whitespace();
        let (state, restarts, health) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap());
        if c.name != "flappy" {
            // flappy moves between restarting and running on its own.
            assert_eq!(state, c.state, "{}", c.name);
        }
        assert!(
            restarts.parse::<i64>().unwrap() >= c.restart_count,
            "{}",
            c.name
        );
        assert_eq!(
            health,
            serde_json::to_value(c.health).unwrap().as_str().unwrap(),
            "{}",
            c.name
        );
    }
    assert!(r.failing.contains(&"sick".to_owned()), "{:?}", r.failing);
    assert!(!r.failing.contains(&"fine".to_owned()));
    assert!(!r.failing.contains(&"plain".to_owned()));
    let labf = write_lab(&d, "");
    let o = labdocker(&["health", labf.to_str().unwrap(), "--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "an unhealthy container fails health"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["failing"].as_array().unwrap().iter().any(|n| n == "sick"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("container sick: unhealthy"));
    // Once the failing containers are gone, health passes.
    run(&["rm", "-f", "sick", "flappy"]);
    let o = labdocker(&["health", labf.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // watch: a container whose check starts failing is reported as it happens.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 1;
    run(&[
        "run",
        "-d",
        "--name",
        "turns",
        "--network",
        "none",
        "--health-cmd",
        "test ! -e /tmp/bad",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "lk-sleep",
    ]);
    wait_for("turns to be healthy", 30, || {
        e.health()
            .unwrap()
            .containers
            .iter()
            .any(|c| c.name == "turns" && c.health == Health::Healthy)
    });
    run(&["exec", "turns", "touch", "/tmp/bad"]);
    let mut changes = Vec::new();
    e.watch(Some(since), |c| {
        let done = c.name == "turns" && c.to == Some(Health::Unhealthy);
        changes.push(c);
        if done {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .unwrap();
    let turns: Vec<_> = changes.iter().filter(|c| c.name == "turns").collect();
    assert_eq!(turns[0].action, "start", "{turns:?}");
    assert!(
        turns
            .iter()
            .any(|c| c.action == "health_status" && c.to == Some(Health::Healthy)),
        "{turns:?}"
    );
    let last = turns.last().unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(Health::Healthy), Some(Health::Unhealthy)),
        "{turns:?}"
    );
    // And the binary prints the same change as a JSON line.
    let o = labdocker(&[
        "watch",
        labf.to_str().unwrap(),
        "--since",
        "120",
        "--count",
        "1",
        "--format",
        "json",
    ]);
    let line: serde_json::Value = serde_json::from_str(ok(&o).lines().next().unwrap()).unwrap();
    assert!(
        line["action"].is_string() && line["name"].is_string(),
        "{line}"
    );
}

fn lab_file(p: &std::path::Path) -> (labdocker::Docker, labnet::LabFile) {
    let text = std::fs::read_to_string(p).unwrap();
    labdocker::from_document_with_lab(&labfile::Document::parse("lab.toml", text).unwrap()).unwrap()
}

fn bollard_client(d: &Dockerd) -> labdocker::bollard::Docker {
    labdocker::bollard::Docker::connect_with_unix(
        &d.host(),
        120,
        labdocker::bollard::API_DEFAULT_VERSION,
    )
    .unwrap()
}

fn human_to_bytes(s: &str) -> f64 {
    let s = s.split_whitespace().next().unwrap();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let mult = match unit {
        "B" | "" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other}"),
    };
    n.parse::<f64>().unwrap() * mult
}

#[test]
#[cfg_attr(
    not(labkit_dockerd),
    ignore = "needs root, network namespaces and Docker Engine (Debian packages docker.io, busybox-static)"
)]
fn df_decodes_the_old_layout_as_docker_system_df_counts_it_and_prune_removes_exactly_its_plan() {
    let d = Dockerd::start("dkp");
    let e = engine(&d);
    // bollard 0.21's own df() reads this engine's answer as nothing at all.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let theirs = rt
        .block_on(async {
            bollard_client(&d)
                .negotiate_version()
                .await?
                .df(None::<labdocker::bollard::query_parameters::DataUsageOptions>)
                .await
        })
        .unwrap();
    assert_eq!(
        theirs,
        labdocker::bollard::models::SystemDataUsageResponse::default(),
        "bollard's df() now decodes API 1.41's layout: the raw decoding may no longer be needed"
    );
    build(&e, "lk-a", &["sleep", "3600"]);
    build(&e, "lk-b", &["sh", "-c", "echo b"]);
    build(&e, "lk-c", &["sh", "-c", "echo c; sleep 1"]);
    let o = d.docker(&["tag", "lk-c", "lk-c:second"]);
    assert!(o.status.success());
    let run = |args: &[&str]| ok(&d.docker(args));
    run(&[
        "network",
        "create",
        "--driver",
        "bridge",
        "--subnet",
        "172.17.5.0/24",
        "lk-unused",
    ]);
    run(&["volume", "create", "lk-vol-unused"]);
    run(&["volume", "create", "lk-vol-used"]);
    run(&[
        "run",
        "-d",
        "--name",
        "keeper",
        "--network",
        "none",
        "-v",
        "lk-vol-used:/data",
        "lk-a",
    ]);
    run(&["run", "--name", "done1", "--network", "none", "lk-b"]);
    run(&["create", "--name", "made", "--network", "none", "lk-b"]);
    run(&[
        "run",
        "--name",
        "writer",
        "--network",
        "none",
        "lk-a",
        "sh",
        "-c",
        "head -c 300000 /dev/zero > /tmp/f",
    ]);

    let ours = e.df().unwrap();
    assert_eq!(ours.layout, "old");
    let cli = ok(&d.docker(&[
        "system",
        "df",
        "--format",
        "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    ]));
    for line in cli.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let u = match f[0] {
            "Images" => ours.images,
            "Containers" => ours.containers,
            "Local Volumes" => ours.volumes,
            "Build Cache" => ours.build_cache,
            other => panic!("{other}"),
        };
        assert_eq!(f[1].parse::<u64>().unwrap(), u.count, "{line}");
        assert_eq!(f[2].parse::<u64>().unwrap(), u.active, "{line}");
        // The CLI rounds to 4 significant digits.
        let close = |cli: f64, ours: u64| (cli - ours as f64).abs() <= cli * 0.001 + 1.0;
        assert!(close(human_to_bytes(f[3]), u.size), "{line} vs {u:?}");
        assert!(
            close(human_to_bytes(f[4]), u.reclaimable),
            "{line} vs {u:?}"
        );
    }
    assert_eq!(ours.containers.count, 4);
    assert!(ours.containers.reclaimable >= 300_000, "{ours:?}");

    // A week's limit keeps every image built a moment ago.
    let policy = labdocker::parse(
        "lab.toml",
        &lab(
            &d.host(),
            "keep_images_newer_than = \"168h\"\nkeep_volumes = true",
        ),
    )
    .unwrap()
    .prune;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let keep = e.prune_plan(&policy, now).unwrap();
    assert!(
        keep.items
            .iter()
            .all(|i| i.kind != labdocker::prune::Kind::Image),
        "{keep:?}"
    );
    assert_eq!(
        keep.kept_new_images, 2,
        "lk-b and lk-c are unused; lk-a runs"
    );
    assert_eq!(keep.kept_volumes, 1);

    // The binary's dry run is the library's plan.
    let labf = write_lab(&d, "keep_volumes = false");
    let dry: serde_json::Value = serde_json::from_str(&ok(&labdocker(&[
        "prune",
        labf.to_str().unwrap(),
        "--dry-run",
        "--format",
        "json",
    ])))
    .unwrap();
    let policy = labdocker::parse("lab.toml", &lab(&d.host(), "keep_volumes = false"))
        .unwrap()
        .prune;
    let plan = e.prune_plan(&policy, now).unwrap();
    assert_eq!(dry, serde_json::to_value(&plan).unwrap());
    let planned: BTreeSet<(String, String)> = plan
        .items
        .iter()
        .map(|i| (i.kind.to_string(), i.id.clone()))
        .collect();
    let names: BTreeSet<&str> = plan.items.iter().map(|i| i.name.as_str()).collect();
    for n in [
        "done1",
        "made",
        "writer",
        "lk-unused",
        "lk-vol-unused",
        "lk-b:latest",
    ] {
        assert!(names.contains(n), "{n} is in the plan: {names:?}");
    }
    for n in ["keeper", "lk-vol-used", "lk-a:latest", "none", "host"] {
        assert!(!names.contains(n), "{n} stays: {names:?}");
    }
    let writer = plan.items.iter().find(|i| i.name == "writer").unwrap();
    assert!(
        writer.size >= 300_000,
        "the container's writable layer: {writer:?}"
    );
    let c = plan
        .items
        .iter()
        .find(|i| i.name.starts_with("lk-c"))
        .unwrap();
    assert_eq!(c.tags.len(), 2, "an image with two tags: {c:?}");

    let before = inventory(&d);
    let o = labdocker(&["prune", labf.to_str().unwrap(), "--format", "json"]);
    let outcomes: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert!(
        outcomes
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["error"].is_null()),
        "{outcomes}"
    );
    let after = inventory(&d);
    let removed: BTreeSet<(String, String)> = before.difference(&after).cloned().collect();
    assert_eq!(removed, planned, "prune removes exactly the plan");
    assert!(after.is_subset(&before), "and creates nothing");
    // What is left is what the policy keeps, so a second plan is empty.
    assert!(e.prune_plan(&policy, now).unwrap().items.is_empty());
}

/// Every object, as (kind, id), the way the docker CLI lists them.
fn inventory(d: &Dockerd) -> BTreeSet<(String, String)> {
    let mut s = BTreeSet::new();
    for (kind, args) in [
        ("container", &["ps", "-aq", "--no-trunc"][..]),
        ("network", &["network", "ls", "-q", "--no-trunc"]),
        ("image", &["images", "-q", "--no-trunc"]),
        ("volume", &["volume", "ls", "-q"]),
    ] {
        for id in ok(&d.docker(args)).split_whitespace() {
            s.insert((kind.to_owned(), id.to_owned()));
        }
    }
    s
}

#[test]
#[cfg_attr(
    not(labkit_dockerd),
    ignore = "needs root, network namespaces and Docker Engine (Debian packages docker.io, busybox-static)"
)]
fn the_audit_finds_each_concern_on_real_containers_and_nothing_on_a_hardened_one() {
    let d = Dockerd::start("dka");
    let e = engine(&d);
    build(&e, "lk-a", &["sleep", "3600"]);
    let labels = ok(&d.docker(&[
        "image",
        "inspect",
        "lk-a",
        "--format",
        "{{json .Config.Labels}}",
    ]));
    assert!(
        labels.contains("\"org.labkit.owner\":\"labkit\""),
        "an image labdocker builds is labkit's: {labels}"
    );
    let sock = d.scratch().join("docker.sock");
    let run = |args: &[&str]| ok(&d.docker(args));
    // Created, not started: inspect data is the same, and a privileged
    // container cannot start inside the test's namespace.
    run(&[
        "create",
        "--name",
        "bad",
        "--privileged",
        "--pid",
        "host",
        "--ipc",
        "host",
        "--uts",
        "host",
        "--cap-add",
        "NET_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "-v",
        "/etc:/host-etc:ro",
        "-v",
        &format!("{}:/var/run/docker.sock:ro", sock.display()),
        "-e",
        "DB_PASSWORD=hunter2",
        "-e",
        "API_TOKEN_FILE=/run/secrets/t",
        "-p",
        "8080:80",
        "lk-a",
    ]);
    run(&["create", "--name", "hostnet", "--network", "host", "lk-a"]);
    run(&[
        "create",
        "--name",
        "good",
        "--network",
        "none",
        "--read-only",
        "--user",
        "1000:1000",
        "--cap-drop",
        "ALL",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        "--security-opt",
        "no-new-privileges",
        "--health-cmd",
        "true",
        "-p",
        "127.0.0.1:8081:80",
        "lk-a",
    ]);
    let labf = write_lab(&d, "");
    let (_, net) = lab_file(&labf);
    let r = e
        .audit(&labdocker::lab_ranges(&net), Some(&serde_json::json!({})))
        .unwrap();
    let of = |name: &str| -> BTreeSet<&str> {
        r.findings
            .iter()
            .filter(|f| f.object == format!("container {name}"))
            .map(|f| f.check)
            .collect()
    };
    let bad = of("bad");
    for id in [
        "LD-C01", "LD-C02", "LD-C04", "LD-C05", "LD-C06", "LD-C08", "LD-C09", "LD-C10", "LD-C11",
        "LD-C12", "LD-C13", "LD-C14", "LD-C15", "LD-C16", "LD-C17", "LD-C18",
    ] {
        assert!(bad.contains(id), "bad lacks {id}: {bad:?}");
    }
    assert!(
        !bad.contains("LD-C03"),
        "a privileged container's cap-drop is moot"
    );
    assert!(of("hostnet").contains("LD-C07"));
    assert!(of("good").is_empty(), "{:?}", of("good"));
    let secrets: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.check == "LD-C16")
        .map(|f| f.evidence.as_str())
        .collect();
    assert_eq!(
        secrets,
        ["environment variable DB_PASSWORD is set (value not shown)"]
    );
    let all = serde_json::to_string(&r).unwrap();
    assert!(!all.contains("hunter2"), "a secret's value never appears");
    let daemon: BTreeSet<&str> = r
        .findings
        .iter()
        .filter(|f| f.object == "daemon")
        .map(|f| f.check)
        .collect();
    assert_eq!(
        daemon,
        BTreeSet::from(["LD-D02", "LD-D03", "LD-D04", "LD-D05"]),
        "the scratch daemon.json is {{}}"
    );
    // The binary: SARIF with a rule per check, exit status by --fail-on.
    let dj = d.scratch().join("daemon.json");
    let args = [
        "audit",
        labf.to_str().unwrap(),
        "--daemon-json",
        dj.to_str().unwrap(),
    ];
    let o = labdocker(&[&args[..], &["--format", "sarif"]].concat());
    assert_eq!(
        o.status.code(),
        Some(1),
        "critical findings fail the default --fail-on high"
    );
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), labdocker::audit::CHECKS.len());
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings.len());
    for res in results {
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], res["ruleId"]);
    }
    run(&["rm", "bad", "hostnet"]);
    let o = labdocker(&[&args[..], &["--fail-on", "high"]].concat());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = labdocker(&[&args[..], &["--fail-on", "low"]].concat());
    assert_eq!(
        o.status.code(),
        Some(1),
        "the daemon's low findings fail --fail-on low"
    );
}

#[test]
#[cfg_attr(
    not(labkit_dockerd),
    ignore = "needs root, network namespaces and Docker Engine (Debian packages docker.io, busybox-static)"
)]
fn swarm_uses_the_labs_pool_deploys_owned_services_and_leaves_without_docker_gwbridge() {
    let d = Dockerd::start("dks");
    let addr = d.add_address("203.0.113.10/24");
    let e = engine(&d);
    build(&e, "lk-web", &["httpd", "-f", "-p", "8080"]);
    let labf = write_lab(&d, "");
    let lab = labf.to_str().unwrap();
    let st: serde_json::Value = serde_json::from_str(&ok(&labdocker(&[
        "swarm",
        "init",
        lab,
        "--advertise",
        &addr,
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(st["state"], "active");
    assert_eq!(
        st["default_addr_pool"],
        serde_json::json!(["172.30.0.0/16"])
    );
    let ingress: labnet::Ipv4Cidr = st["ingress"][0].as_str().unwrap().parse().unwrap();
    assert!(
        ingress.overlaps("172.30.0.0/16".parse().unwrap()) && ingress.len() == 24,
        "{ingress}"
    );
    let refused = labdocker(&[
        "swarm",
        "deploy",
        lab,
        "web",
        "--image",
        "lk-web",
        "--publish",
        "10.0.1.5:8088:8080",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("moby/moby#26696"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let o = labdocker(&[
        "swarm",
        "deploy",
        lab,
        "web",
        "--image",
        "lk-web",
        "--replicas",
        "2",
        "--publish",
        "8088:8080",
        "--network",
        "lk-overlay",
        "--label",
        "tier=web",
        "--format",
        "json",
    ]);
    let svc: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(svc["running"], 2, "{svc}");
    assert_eq!(svc["owned"], true);
    assert_eq!(svc["tasks"].as_array().unwrap().len(), 2);
    let labels = ok(&d.docker(&[
        "service",
        "inspect",
        "web",
        "--format",
        "{{json .Spec.Labels}}",
    ]));
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["org.labkit.owner"], "labkit");
    assert_eq!(labels["tier"], "web");
    let net = ok(&d.docker(&[
        "network",
        "inspect",
        "lk-overlay",
        "--format",
        "{{json .Labels}} {{.Driver}} {{(index .IPAM.Config 0).Subnet}}",
    ]));
    assert!(
        net.contains("\"org.labkit.owner\":\"labkit\"") && net.contains("overlay 172.30."),
        "{net}"
    );
    let ports = ok(&d.docker(&[
        "service",
        "inspect",
        "web",
        "--format",
        "{{json .Endpoint.Ports}}",
    ]));
    assert!(
        ports.contains("\"PublishedPort\":8088") && ports.contains("\"TargetPort\":8080"),
        "{ports}"
    );
    // A service labdocker did not create is not labdocker's to remove.
    ok(&d.docker(&[
        "service", "create", "--detach", "--name", "theirs", "lk-web",
    ]));
    let o = labdocker(&["swarm", "rm", lab, "theirs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not carry the label"));
    let status = ok(&labdocker(&["swarm", "status", lab]));
    assert!(
        status.contains("service web") && status.contains("2/2 running"),
        "{status}"
    );
    assert!(status.contains("(not labkit's)"), "{status}");
    // The lab's ingress does not overlap the lab.
    let (_, netf) = lab_file(&labf);
    let r = e.audit(&labdocker::lab_ranges(&netf), None).unwrap();
    assert!(
        r.findings.iter().all(|f| f.check != "LD-N02"),
        "{:?}",
        r.findings
    );
    ok(&labdocker(&["swarm", "rm", lab, "web"]));
    let o = labdocker(&["swarm", "leave", lab]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("removed docker_gwbridge"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let nets = ok(&d.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert!(
        !nets
            .lines()
            .any(|n| n == "docker_gwbridge" || n == "ingress"),
        "{nets}"
    );
    assert_eq!(e.swarm_status().unwrap().state, "inactive");
    // A plain `docker swarm init` puts ingress on 10.0.0.0/24, the
    // reference lab's management segment: the audit says so.
    ok(&d.docker(&["swarm", "init", "--advertise-addr", &addr]));
    let r = e.audit(&labdocker::lab_ranges(&netf), None).unwrap();
    let n02: Vec<_> = r.findings.iter().filter(|f| f.check == "LD-N02").collect();
    assert_eq!(n02.len(), 1, "{:?}", r.findings);
    assert_eq!(
        n02[0].evidence,
        "10.0.0.0/24 overlaps segment management (10.0.0.0/24)"
    );
    // daemon-config checks the networks that exist, and will not write then.
    let out = d.scratch().join("out.json");
    let o = labdocker(&["daemon-config", lab, "--write", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "existing network ingress: 10.0.0.0/24 overlaps segment management (10.0.0.0/24)"
        ),
        "{err}"
    );
    assert!(!out.exists(), "nothing was written");
    ok(&d.docker(&["swarm", "leave", "--force"]));
}

#[test]
#[cfg_attr(
    not(labkit_dockerd),
    ignore = "needs root, network namespaces and Docker Engine (Debian packages docker.io, busybox-static)"
)]
fn a_real_dockerd_runs_with_the_generated_daemon_json_and_refuses_the_unknown_key_labdocker_reports()
 {
    let docker = labdocker::parse("lab.toml", &lab("unix:///unused", "")).unwrap();
    let generated = DaemonConfig::parse(Path::new("daemon.json"), String::new())
        .unwrap()
        .merged(&docker);
    let d = Dockerd::start_with_config("dkc", &generated);
    let e = engine(&d);
    // A network without a subnet is cut from the lab's pool, at its size.
    ok(&d.docker(&["network", "create", "--driver", "bridge", "lk-pool"]));
    let subnet = ok(&d.docker(&[
        "network",
        "inspect",
        "lk-pool",
        "--format",
        "{{(index .IPAM.Config 0).Subnet}}",
    ]));
    let subnet: labnet::Ipv4Cidr = subnet.trim().parse().unwrap();
    assert!(
        subnet.overlaps("172.17.0.0/16".parse().unwrap()) && subnet.len() == 24,
        "{subnet}"
    );
    let info = ok(&d.docker(&["info", "--format", "{{.LoggingDriver}}"]));
    assert_eq!(info.trim(), "json-file");
    let file = DaemonConfig::read(&d.scratch().join("daemon.json")).unwrap();
    let r = e
        .audit(&[], Some(&serde_json::Value::Object(file.values.clone())))
        .unwrap();
    assert!(
        r.findings.iter().all(|f| f.check != "LD-D05"),
        "rotation is set: {:?}",
        r.findings
    );

    // A misspelt key: labdocker names it and its line; dockerd will not start with it.
    let mut bad = file.values;
    bad.insert("live_restore".to_owned(), serde_json::json!(true));
    for (k, p) in [
        ("data-root", "bad-data"),
        ("exec-root", "bad-exec"),
        ("pidfile", "bad.pid"),
    ] {
        bad.insert(k.to_owned(), serde_json::json!(d.scratch().join(p)));
    }
    bad.insert(
        "hosts".to_owned(),
        serde_json::json!([format!("unix://{}", d.scratch().join("bad.sock").display())]),
    );
    let bad_path = d.scratch().join("bad.json");
    std::fs::write(&bad_path, serde_json::to_string_pretty(&bad).unwrap()).unwrap();
    let problems = DaemonConfig::read(&bad_path).unwrap().validate(&[]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "live_restore");
    assert!(problems[0].line.is_some());
    let o = Command::new("timeout")
        .args([
            "20",
            "nsenter",
            &format!("--net=/run/netns/{}", d.netns_name()),
            "dockerd",
            "--config-file",
        ])
        .arg(&bad_path)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("live_restore"),
        "dockerd names the key too: {err}"
    );
    // The binary writes the file, and a second run changes nothing.
    let lab_file = write_lab(&d, "");
    let out = d.scratch().join("etc-docker").join("daemon.json");
    let o = labdocker(&[
        "daemon-config",
        lab_file.to_str().unwrap(),
        "--write",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        written,
        DaemonConfig::parse(&out, String::new()).unwrap().merged(
            &labdocker::parse("lab.toml", &std::fs::read_to_string(&lab_file).unwrap()).unwrap()
        )
    );
    let o = labdocker(&[
        "daemon-config",
        lab_file.to_str().unwrap(),
        "--write",
        out.to_str().unwrap(),
        "--diff",
    ]);
    assert!(
        o.status.success() && o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("already as the lab asks"));
    // And the binary says what dockerd said, with the key dockerd wanted.
    let lab_file = write_lab(&d, "");
    let o = labdocker(&[
        "daemon-config",
        lab_file.to_str().unwrap(),
        "--current",
        bad_path.to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("did you mean \"live-restore\"?"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
