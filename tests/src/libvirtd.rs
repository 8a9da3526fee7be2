//! A real libvirtd inside a network namespace the test creates, with scratch
//! state (the recipe in ../shared/recipes/real-libvirt.md): a private mount
//! namespace puts scratch directories over /etc/libvirt, /run/libvirt,
//! /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt, so bridges,
//! taps, dnsmasq and qemu exist only in the namespace and the host's own
//! libvirt (if any) is untouched. Dropping the [`Libvirtd`] ends the daemon,
//! then any qemu and dnsmasq it left, by the PIDs in its scratch run
//! directory, and deletes the namespace: also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Netns;

const DIRS: &[(&str, &str)] = &[
    ("etc", "/etc/libvirt"),
    ("run", "/run/libvirt"),
    ("lib", "/var/lib/libvirt"),
    ("cache", "/var/cache/libvirt"),
    ("log", "/var/log/libvirt"),
];

/// Why a real libvirtd cannot run here, if it cannot.
#[must_use]
pub fn unavailable() -> Option<String> {
    if let Some(why) = crate::netns_unavailable() {
        return Some(why);
    }
    for (tool, pkg) in [
        ("/usr/sbin/libvirtd", "libvirt-daemon"),
        ("/usr/bin/qemu-system-x86_64", "qemu-system-x86"),
        ("/usr/sbin/dnsmasq", "dnsmasq-base"),
        ("/usr/bin/qemu-img", "qemu-utils"),
        ("/usr/bin/virsh", "libvirt-clients"),
    ] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is missing (Debian package {pkg})"));
        }
    }
    None
}

/// A libvirtd of the test's own.
#[derive(Debug)]
pub struct Libvirtd {
    netns: Option<Netns>,
    scratch: Option<tempfile::TempDir>,
    child: Option<Child>,
    /// How long the daemon took to answer.
    pub ready_after: Duration,
}

/// Where the QEMU capabilities cache is kept between daemons of one machine:
/// probing QEMU costs about 8 s on a cold start and 0.5 s warm.
fn shared_cache() -> PathBuf {
    let p = PathBuf::from("/var/tmp/labkit-libvirt-cache");
    let _ = std::fs::create_dir_all(&p);
    p
}

impl Libvirtd {
    /// Start one, and wait until it answers.
    ///
    /// # Panics
    /// When it cannot be started: the test cannot run.
    #[must_use]
    pub fn start(tag: &str) -> Self {
        if let Some(why) = unavailable() {
            panic!("a real libvirtd cannot run here: {why}");
        }
        if Command::new("id")
            .args(["-u", "libvirt-qemu"])
            .output()
            .is_ok_and(|o| !o.status.success())
        {
            // libvirtd refuses to start without it, even with user = "root".
            let _ = Command::new("useradd")
                .args(["--system", "--user-group", "libvirt-qemu"])
                .status();
        }
        let netns = Netns::new(tag).expect("a namespace");
        let _ = netns.exec(&["ip", "link", "set", "lo", "up"], None);
        let _ = netns.exec(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], None);
        let scratch = tempfile::Builder::new()
            .prefix("labkit-libvirtd-")
            .tempdir()
            .expect("scratch");
        let s = scratch.path();
        for (d, _) in DIRS {
            std::fs::create_dir_all(s.join(d)).expect("scratch dir");
        }
        std::fs::create_dir_all(s.join("images")).expect("pool dir");
        std::fs::write(
            s.join("etc/libvirtd.conf"),
            "unix_sock_group = \"root\"\nunix_sock_ro_perms = \"0700\"\nunix_sock_rw_perms = \"0700\"\nunix_sock_admin_perms = \"0700\"\nunix_sock_dir = \"/run/libvirt\"\nauth_unix_ro = \"none\"\nauth_unix_rw = \"none\"\nlog_outputs = \"3:file:/var/log/libvirt/libvirtd.log\"\n",
        )
        .expect("libvirtd.conf");
        std::fs::write(
            s.join("etc/qemu.conf"),
            "user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\nsecurity_driver = \"none\"\nstdio_handler = \"file\"\n",
        )
        .expect("qemu.conf");
        let cache = shared_cache();
        let mut script = String::from("set -e\n");
        for (d, target) in DIRS {
            let src = if *d == "cache" {
                cache.clone()
            } else {
                s.join(d)
            };
            script.push_str(&format!(
                "mkdir -p '{target}'\nmount --bind '{}' '{target}'\n",
                src.display()
            ));
        }
        script.push_str("exec /usr/sbin/libvirtd --config /etc/libvirt/libvirtd.conf --pid-file /run/libvirt/libvirtd.pid\n");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                netns.name(),
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(s.join("daemon.err")).expect("daemon.err"))
            .spawn()
            .expect("start libvirtd");
        let mut me = Self {
            netns: Some(netns),
            scratch: Some(scratch),
            child: Some(child),
            ready_after: Duration::ZERO,
        };
        let t0 = Instant::now();
        loop {
            let ok = Command::new("virsh")
                .args(["-c", &me.uri(), "version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            if let Some(c) = me.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("libvirtd exited ({status}); its log:\n{}", me.log());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "libvirtd did not answer in 60 s; its log:\n{}",
                me.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        me.ready_after = t0.elapsed();
        me
    }

    /// The URI to connect with.
    #[must_use]
    pub fn uri(&self) -> String {
        format!(
            "qemu+unix:///system?socket={}",
            self.scratch().join("run/libvirt-sock").display()
        )
    }

    /// The scratch directory (pools live under `images/`).
    #[must_use]
    pub fn scratch(&self) -> &Path {
        self.scratch
            .as_ref()
            .map(tempfile::TempDir::path)
            .expect("scratch")
    }

    /// The namespace.
    #[must_use]
    pub fn netns(&self) -> &Netns {
        self.netns.as_ref().expect("namespace")
    }

    /// The daemon's log (and what it wrote to stderr).
    #[must_use]
    pub fn log(&self) -> String {
        let err = std::fs::read_to_string(self.scratch().join("daemon.err")).unwrap_or_default();
        let log =
            std::fs::read_to_string(self.scratch().join("log/libvirtd.log")).unwrap_or_default();
        format!("{err}{log}")
    }

    /// `virsh -c URI ARGS...`, which must succeed.
    pub fn virsh(&self, args: &[&str]) -> String {
        let out = Command::new("virsh")
            .arg("-c")
            .arg(self.uri())
            .args(args)
            .output()
            .expect("virsh");
        assert!(
            out.status.success(),
            "virsh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A `[[vm]]` of the harness's guest (tests/src/guest.rs): direct kernel
    /// boot, 160 MiB, its console in the scratch directory as `NAME.log`.
    #[must_use]
    pub fn guest_vm(
        &self,
        name: &str,
        segment: &str,
        ip: Option<&str>,
        port: u16,
        cmdline: &str,
    ) -> String {
        let a = crate::guest::assets();
        let ip = ip.map(|i| format!("ip = \"{i}\"\n")).unwrap_or_default();
        format!(
            "[[vm]]\nname = \"{name}\"\nsegment = \"{segment}\"\nvcpus = 1\nmemory_mib = 160\ndisk_gib = 1\n{ip}ssh_port = {port}\nkernel = \"{}\"\ninitrd = \"{}\"\ncmdline = \"console=ttyS0 quiet panic=-1 labkit.name={name} {cmdline}\"\nconsole_log = \"{}\"\n\n",
            a.kernel.display(),
            a.initrd.display(),
            self.scratch().join(format!("{name}.log")).display()
        )
    }

    /// The reference lab's network sections, this daemon's `[host]` (with
    /// `host` fields and a `fast` pool in the scratch directory) and `vms`.
    #[must_use]
    pub fn lab(&self, host: &str, vms: &str) -> labvirt::VirtLab {
        let text = labvirt::reference::TOML;
        let net = &text[..text.find("[host]").expect("[host]")];
        let file = format!(
            "{net}[host]\nuri = \"{}\"\n{host}\n[host.pools]\nfast = \"{}\"\n\n{vms}",
            self.uri(),
            self.scratch().join("images").display()
        );
        labvirt::parse("guests.toml", &file).unwrap_or_else(|e| panic!("{e}\n{file}"))
    }

    /// The reference lab file as it is, but for `[host]`: this daemon, pools in
    /// the scratch directory, domain type qemu.
    #[must_use]
    pub fn reference_lab_text(&self) -> String {
        let text = labvirt::reference::TOML;
        let at = text.find("[host]").expect("[host]");
        let vms = text.find("[[vm]]").expect("[[vm]]");
        let images = self.scratch().join("images");
        std::fs::create_dir_all(images.join("bulk")).expect("pool dir");
        format!(
            "{}[host]\nuri = \"{}\"\ncores = 6\nthreads = 12\nmemory_gib = 32\nreserve_cores = 2\nreserve_memory_gib = 8\ncpu_overcommit = 2.0\nmemory_max_use = 0.70\nmax_vms = 8\ndomain_type = \"qemu\"\n\n[host.pools]\nfast = \"{}\"\nbulk = \"{}\"\n\n{}",
            &text[..at],
            self.uri(),
            images.display(),
            images.join("bulk").display(),
            &text[vms..]
        )
    }

    /// What guest `vm` has written to its serial console so far.
    #[must_use]
    pub fn console(&self, vm: &str) -> String {
        std::fs::read_to_string(self.scratch().join(format!("{vm}.log"))).unwrap_or_default()
    }

    /// Wait until `vm`'s console has a line for which `f` holds, and return it.
    ///
    /// # Panics
    /// After `secs` seconds, with the console.
    pub fn wait_line(&self, vm: &str, secs: u64, f: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let c = self.console(vm);
            if let Some(l) = c.lines().find(|l| f(l.trim())) {
                return l.trim().to_owned();
            }
            assert!(
                t0.elapsed().as_secs() < secs,
                "{vm}: no such line in {secs} s; console:\n{c}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn pids_in(&self, dir: &str) -> Vec<i32> {
        let Ok(rd) = std::fs::read_dir(self.scratch().join(dir)) else {
            return Vec::new();
        };
        rd.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    }
}

fn kill(pid: i32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl Drop for Libvirtd {
    fn drop(&mut self) {
        // Guests and dnsmasq first (by the PIDs libvirtd recorded), then the daemon.
        let mut others = self.pids_in("run/qemu");
        others.extend(self.pids_in("run/network"));
        if let Some(mut c) = self.child.take() {
            kill(i32::try_from(c.id()).unwrap_or(0), "-TERM");
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for pid in others {
            if alive(pid) {
                kill(pid, "-TERM");
            }
        }
        let t0 = Instant::now();
        let rest: Vec<i32> = self
            .pids_in("run/qemu")
            .into_iter()
            .chain(self.pids_in("run/network"))
            .collect();
        while rest.iter().any(|&p| alive(p)) && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        for p in rest {
            if alive(p) {
                kill(p, "-KILL");
            }
        }
        self.netns.take();
        self.scratch.take();
    }
}
