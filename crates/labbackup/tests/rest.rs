//! A REST repository (restic's REST protocol) served by Debian's
//! `rclone serve restic` on loopback: init, backup, the drill, and restic
//! reading what labbackup wrote there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `rclone serve restic` on a free loopback port; stopped (by its pid) when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(root: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("rclone")
            .args(["serve", "restic", "--addr", &format!("127.0.0.1:{port}")])
            .arg(root)
            .env("RCLONE_CONFIG", root.join("rclone.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "rclone did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("rest:http://127.0.0.1:{port}/labkit"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[cfg_attr(
    not(feature = "rest"),
    ignore = "labbackup's `rest` feature is not enabled in this build"
)]
#[cfg_attr(not(labkit_rclone), ignore = "needs rclone (Debian package rclone)")]
#[cfg_attr(not(labkit_restic), ignore = "needs restic (Debian package restic)")]
fn the_drill_runs_against_a_rest_repository() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let served = d.join("served");
    std::fs::create_dir_all(&served).unwrap();
    let server = Server::start(&served);
    std::fs::create_dir_all(d.join("src/sub")).unwrap();
    for i in 0..30 {
        std::fs::write(
            d.join(format!("src/sub/f{i}")),
            format!("{i}\n").repeat(500),
        )
        .unwrap();
    }
    std::fs::write(d.join("pass"), "rest-pass\n").unwrap();
    let b = labbackup::parse(
        "lab.toml",
        &format!(
            "[backup]\nrepository = \"{}\"\npassword_file = \"{}\"\nstate_dir = \"{}\"\nrto_minutes = 5\nrpo_hours = 1\ncheck_read_data_percent = 100\n\
             [[backup.set]]\nname = \"configs\"\npaths = [\"{}\"]\n",
            server.url,
            d.join("pass").display(),
            d.join("state").display(),
            d.join("src").display()
        ),
    )
    .unwrap();
    let r = labbackup::repo::Repo::new(&b).unwrap();
    r.init().unwrap();
    let run = r.run_set(&b.sets[0], Some("h"));
    assert!(run.is_ok(), "{run:?}");
    // The data is really on the server.
    assert!(served.join("labkit/config").exists());
    let report = r.drill(&[], None).unwrap();
    assert!(report.passed, "{}", report.to_markdown());
    assert_eq!(report.backend, "rest");
    assert_eq!(report.sets[0].files, 30);
    // restic reads the same repository through the same server.
    let o = Command::new("restic")
        .args(["-r", &server.url, "--password-file"])
        .arg(d.join("pass"))
        .args(["--no-cache", "check", "--read-data"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
#[cfg(not(feature = "rest"))]
fn without_the_feature_a_rest_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pass"), "p\n").unwrap();
    let b = labbackup::parse(
        "lab.toml",
        &format!(
            "[backup]\nrepository = \"rest:http://127.0.0.1:1/x\"\npassword_file = \"{}\"\n[[backup.set]]\nname = \"c\"\npaths = [\"/etc\"]\n",
            dir.path().join("pass").display()
        ),
    )
    .unwrap();
    let e = labbackup::repo::Repo::new(&b).unwrap().init().unwrap_err();
    assert_eq!(
        e.to_string(),
        "the REST backend is not enabled in this build (cargo feature rest of labbackup)"
    );
}
