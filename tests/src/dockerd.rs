//! A real Docker Engine (Debian's docker.io, 20.10) of the test's own: dockerd
//! in a network namespace the test creates, with its configuration, data
//! root, exec root, pid file and socket in a scratch directory, no bridge and
//! no iptables rules, so the host's own Docker (if any) and its network are
//! untouched. It is entered with `nsenter --net` rather than `ip netns exec`,
//! which would mount a fresh /sys without the cgroup hierarchy dockerd needs.
//! Dropping the [`Dockerd`] removes its containers, ends the daemon (and the
//! containerd it started) by PID, unmounts what is left and deletes the
//! namespace: also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::Netns;

/// Debian's client, which speaks the daemon's API (1.41) without negotiating.
pub const DOCKER: &str = "/usr/bin/docker";

/// Why a Docker Engine cannot run here, if it cannot.
#[must_use]
pub fn unavailable() -> Option<String> {
    if let Some(why) = crate::netns_unavailable() {
        return Some(why);
    }
    for (tool, pkg) in [
        ("/usr/sbin/dockerd", "docker.io"),
        ("/usr/bin/containerd", "containerd"),
        ("/usr/sbin/runc", "runc"),
        (DOCKER, "docker.io"),
        ("/bin/busybox", "busybox-static"),
        ("/usr/bin/nsenter", "util-linux"),
    ] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is missing (Debian package {pkg})"));
        }
    }
    None
}

/// A dockerd of the test's own.
#[derive(Debug)]
pub struct Dockerd {
    netns: Option<Netns>,
    scratch: Option<tempfile::TempDir>,
    child: Option<Child>,
    /// How long the daemon took to answer.
    pub ready_after: Duration,
}

fn pid_in(file: &Path) -> Option<i32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn signal(pid: i32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

impl Dockerd {
    /// Start one and wait until it answers.
    ///
    /// # Panics
    /// When it cannot be started: the test cannot run.
    #[must_use]
    pub fn start(tag: &str) -> Self {
        Self::start_with_config(tag, "{}")
    }

    /// Start one whose daemon.json is `config` (a JSON object) with the
    /// scratch paths, socket, and no bridge or iptables added to it, and wait
    /// until it answers. Everything is in the file, so a key of `config` never
    /// conflicts with a flag.
    ///
    /// # Panics
    /// When it cannot be started: the test cannot run.
    #[must_use]
    pub fn start_with_config(tag: &str, config: &str) -> Self {
        if let Some(why) = unavailable() {
            panic!("a Docker Engine cannot run here: {why}");
        }
        let netns = Netns::new(tag).expect("a namespace");
        let _ = netns.exec(&["ip", "link", "set", "lo", "up"], None);
        let scratch = tempfile::Builder::new()
            .prefix("labkit-dockerd-")
            .tempdir()
            .expect("scratch");
        let s = scratch.path();
        let mut cfg: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(config).expect("a JSON object");
        let path = |p: &str| serde_json::Value::String(s.join(p).display().to_string());
        for (k, v) in [
            ("data-root", path("data")),
            ("exec-root", path("exec")),
            ("pidfile", path("docker.pid")),
            (
                "hosts",
                serde_json::json!([format!("unix://{}", s.join("docker.sock").display())]),
            ),
            ("bridge", serde_json::json!("none")),
            ("iptables", serde_json::json!(false)),
            ("ip6tables", serde_json::json!(false)),
        ] {
            cfg.insert(k.to_owned(), v);
        }
        std::fs::write(
            s.join("daemon.json"),
            serde_json::to_string_pretty(&cfg).expect("json"),
        )
        .expect("daemon.json");
        let log = std::fs::File::create(s.join("dockerd.log")).expect("log");
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", netns.name()))
            .arg("dockerd")
            .arg("--config-file")
            .arg(s.join("daemon.json"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dockerd");
        let mut d = Self {
            netns: Some(netns),
            scratch: Some(scratch),
            child: Some(child),
            ready_after: Duration::ZERO,
        };
        let start = Instant::now();
        loop {
            if d.docker(&["version", "--format", "{{.Server.APIVersion}}"])
                .status
                .success()
            {
                break;
            }
            if let Some(c) = d.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("dockerd exited ({status}):\n{}", d.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "dockerd did not answer in 60 s:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        d.ready_after = start.elapsed();
        d
    }

    /// The scratch directory (for volumes and files the test shares with containers).
    #[must_use]
    pub fn scratch(&self) -> &Path {
        self.scratch.as_ref().expect("scratch").path()
    }

    /// The name of the daemon's network namespace.
    #[must_use]
    pub fn netns_name(&self) -> &str {
        self.netns.as_ref().expect("namespace").name()
    }

    /// The daemon's socket, as `unix:///...`.
    #[must_use]
    pub fn host(&self) -> String {
        format!("unix://{}", self.scratch().join("docker.sock").display())
    }

    /// The argv prefix of a `docker` command against this daemon.
    #[must_use]
    pub fn docker_argv(&self) -> Vec<String> {
        vec![DOCKER.to_owned(), "-H".to_owned(), self.host()]
    }

    /// Run `docker ARGS` against this daemon.
    #[must_use]
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .args(["-H", &self.host()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker")
    }

    /// The daemon's log.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.scratch().join("dockerd.log")).unwrap_or_default()
    }

    /// Build `labkit-busybox`: `FROM scratch` with busybox-static and its
    /// applets (there is no registry to pull from), `cmd` as its command.
    ///
    /// # Panics
    /// When the build fails.
    pub fn build_busybox(&self, tag: &str, cmd: &[&str]) {
        let ctx = self.scratch().join(format!("build-{tag}"));
        std::fs::create_dir_all(&ctx).expect("context");
        std::fs::copy("/bin/busybox", ctx.join("busybox")).expect("busybox");
        let cmd_json: Vec<String> = cmd.iter().map(|c| format!("{c:?}")).collect();
        std::fs::write(
            ctx.join("Dockerfile"),
            format!(
                "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [{}]\n",
                cmd_json.join(", ")
            ),
        )
        .expect("Dockerfile");
        let o = self.docker(&["build", "-q", "-t", tag, ctx.to_str().expect("utf-8")]);
        assert!(
            o.status.success(),
            "docker build: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Give the daemon's namespace an address besides loopback (a veth pair
    /// inside it, since this kernel has no dummy links), for Swarm, which
    /// will not advertise 127.0.0.1. Returns the address without prefix.
    ///
    /// # Panics
    /// When the link cannot be made.
    pub fn add_address(&self, cidr: &str) -> String {
        let ns = self.netns.as_ref().expect("namespace");
        for args in [
            &[
                "ip", "link", "add", "lk0", "type", "veth", "peer", "name", "lk1",
            ][..],
            &["ip", "addr", "add", cidr, "dev", "lk0"],
            &["ip", "link", "set", "lk0", "up"],
            &["ip", "link", "set", "lk1", "up"],
        ] {
            let o = ns.exec(args, None);
            assert!(
                o.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        cidr.split('/').next().unwrap_or(cidr).to_owned()
    }

    /// A build context (tar) for `FROM scratch` with busybox-static and its
    /// applets, a `/tmp` (scratch has none), and `cmd` as its command.
    ///
    /// # Panics
    /// When /bin/busybox cannot be read.
    #[must_use]
    pub fn busybox_context(cmd: &[&str]) -> Vec<u8> {
        let cmd_json: Vec<String> = cmd.iter().map(|c| format!("{c:?}")).collect();
        let dockerfile = format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nRUN [\"/bin/busybox\", \"mkdir\", \"-m\", \"1777\", \"/tmp\"]\nCMD [{}]\n",
            cmd_json.join(", ")
        );
        let busybox = std::fs::read("/bin/busybox").expect("busybox");
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mode) in [
            ("Dockerfile", dockerfile.as_bytes(), 0o644),
            ("busybox", &busybox[..], 0o755),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_cksum();
            b.append_data(&mut h, name, data).expect("tar");
        }
        b.into_inner().expect("tar")
    }

    fn scratch_path(&self, p: &str) -> PathBuf {
        self.scratch().join(p)
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Containers first: a shell as PID 1 ignores SIGTERM, and dockerd
        // would wait 10 s for each on shutdown.
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        let containerd = pid_in(&self.scratch_path("exec/containerd/containerd.pid"));
        if let Some(mut child) = self.child.take() {
            let pid = i32::try_from(child.id()).unwrap_or(0);
            signal(pid, "TERM");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(pid) = containerd.filter(|&p| alive(p)) {
            signal(pid, "KILL");
        }
        // Anything still mounted under the scratch directory (overlays, the
        // container namespaces' nsfs) goes before the directory is removed.
        if let Some(s) = &self.scratch {
            let _ = Command::new("umount")
                .args(["-R", "-l"])
                .arg(s.path().join("data"))
                .stderr(Stdio::null())
                .status();
            let _ = Command::new("umount")
                .args(["-R", "-l"])
                .arg(s.path().join("exec"))
                .stderr(Stdio::null())
                .status();
        }
        self.scratch.take();
        self.netns.take();
    }
}
