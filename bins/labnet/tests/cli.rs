//! The `labnet` binary's contract: exit codes, data on stdout, diagnostics on
//! stderr, atomic output files, colour rules, stdin.

// Test helpers: a failed expectation is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn labnet(args: &[&str]) -> Output {
    labnet_in(args, None, &[])
}

fn labnet_in(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_labnet"));
    c.args(args)
        .env_remove("NO_COLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("run labnet");
    if let (Some(s), Some(mut i)) = (stdin, child.stdin.take()) {
        i.write_all(s.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const BAD: &str = "[lab]\nname = \"x\"\ndomain = \"lab.local\"\nuplink = \"eno1\"\n\n[[segment]]\nname = \"a\"\ncidr = \"10.0.0.0/33\"\nssh_ports = \"2201\"\n";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

#[test]
fn check_builtin_and_example_agree() {
    let o = labnet(&["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("valid lab \"aws-sim\""));
    assert!(
        out(&o).contains("9 of 20 segment pairs allowed"),
        "{}",
        out(&o)
    );
    let example = workspace_root().join("examples/aws-vpc.toml");
    let a = labnet(&["compile"]);
    let b = labnet(&["compile", example.to_str().unwrap()]);
    assert_eq!(b.status.code(), Some(0), "{}", err(&b));
    assert_eq!(
        out(&a),
        out(&b),
        "examples/aws-vpc.toml must be the built-in lab"
    );
}

#[test]
fn invalid_lab_exits_1_with_located_diagnostics_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.toml", BAD);
    let o = labnet(&["check", &bad]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).is_empty(), "nothing on stdout: {}", out(&o));
    let e = err(&o);
    assert!(
        e.contains(&format!("error: {bad}:8:9: segment[0].cidr:")),
        "{e}"
    );
    assert!(e.contains("= hint:"), "{e}");
    assert!(e.contains("is not a valid lab: 1 error"), "{e}");
    assert!(
        !e.contains('\x1b'),
        "no colour when stderr is not a terminal"
    );

    let o = labnet(&["check", "--format", "json", &bad]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["diagnostics"][0]["field"], "segment[0].cidr");
    assert_eq!(v["diagnostics"][0]["location"]["line"], 8);
    assert_eq!(v["diagnostics"][0]["value"], "10.0.0.0/33");
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.toml", BAD);
    let o = labnet(&["--color", "always", "check", &bad]);
    assert!(err(&o).contains("\x1b[1;31merror"), "{}", err(&o));
    let o = labnet_in(&["check", &bad], None, &[("NO_COLOR", "1")]);
    assert!(!err(&o).contains('\x1b'));
}

#[test]
fn compile_writes_atomically_and_never_on_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("rules.nft");
    let t = target.to_str().unwrap();
    let o = labnet(&["compile", "-o", t]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains("wrote"), "{}", err(&o));
    let written = std::fs::read_to_string(&target).unwrap();
    assert_eq!(written, out(&labnet(&["compile"])));
    assert_eq!(
        written,
        out(&labnet(&["compile"])),
        "output is deterministic"
    );

    // An invalid lab leaves the previous file exactly as it was.
    let bad = write(dir.path(), "bad.toml", BAD);
    let o = labnet(&["compile", &bad, "-o", t]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), written);
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 2, "no temporary files left behind");

    // A directory that does not exist is an I/O error: status 2, with the path.
    let o = labnet(&["compile", "-o", "/nonexistent-dir/x.nft"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("/nonexistent-dir"), "{}", err(&o));
}

#[test]
fn targets() {
    let o = labnet(&["compile", "--target", "nft-json"]);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert!(v["nftables"].as_array().unwrap().len() > 10);
    let o = labnet(&["compile", "-t", "iptables", "--table", "lab2"]);
    assert!(out(&o).contains(":LAB2-FORWARD - [0:0]"));
    let o = labnet(&["compile", "--table", "Bad-Name"]);
    assert_eq!(o.status.code(), Some(2));
    let o = labnet(&["compile", "--target", "pf"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("possible values"), "{}", err(&o));
}

#[test]
fn missing_file_is_an_io_error() {
    let o = labnet(&["check", "/nonexistent/lab.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("cannot read lab file /nonexistent/lab.toml"),
        "{}",
        err(&o)
    );
}

#[test]
fn stdin_lab() {
    let o = labnet_in(&["check", "-"], Some(labnet_reference().as_str()), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).starts_with("<stdin>: valid lab"));
}

fn labnet_reference() -> String {
    out(&labnet(&["reference"]))
}

#[test]
fn query_exit_codes_and_json() {
    let o = labnet(&["query", "--from", "management", "--to", "database"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        out(&o).starts_with("allowed: management -> database"),
        "{}",
        out(&o)
    );
    let o = labnet(&["query", "--from", "database", "--to", "public"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).starts_with("denied:"));
    let o = labnet(&[
        "query",
        "--from",
        "public",
        "--to",
        "203.0.113.9",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["verdict"], "allowed");
    assert_eq!(v["masquerade"], true);
    let o = labnet(&["query", "--from", "nowhere", "--to", "public"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("\"nowhere\" is neither a segment"),
        "{}",
        err(&o)
    );
    let o = labnet(&[
        "query", "--from", "public", "--to", "private", "--port", "80",
    ]);
    assert_eq!(o.status.code(), Some(2), "--port needs --proto");
}

#[test]
fn matrix_formats() {
    let md = out(&labnet(&["matrix", "--format", "markdown"]));
    assert!(md.starts_with("| from \\ to | management |"));
    let v: serde_json::Value =
        serde_json::from_str(&out(&labnet(&["matrix", "--format", "json"]))).unwrap();
    assert_eq!(v["segments"].as_array().unwrap().len(), 5);
    assert_eq!(v["cells"].as_array().unwrap().len(), 25);
}

#[test]
fn help_and_version_exit_0_usage_errors_exit_2() {
    assert_eq!(labnet(&["--help"]).status.code(), Some(0));
    assert_eq!(labnet(&["compile", "--help"]).status.code(), Some(0));
    assert_eq!(labnet(&["--version"]).status.code(), Some(0));
    assert_eq!(labnet(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(labnet(&[]).status.code(), Some(2));
}

/// A lab whose compiled output (megabytes) is far larger than a pipe's buffer.
fn big_lab(n: usize) -> String {
    let mut s = String::from("[lab]\nname = \"big\"\ndomain = \"lab.local\"\nuplink = \"eno1\"\n");
    for i in 0..n {
        s.push_str(&format!(
            "[[segment]]\nname = \"s{i}\"\ncidr = \"10.{}.{}.0/24\"\nssh_ports = \"{}\"\n",
            i / 256,
            i % 256,
            10_000 + i
        ));
    }
    s.push_str("[[policy.allow]]\nfrom = \"*\"\nto = \"*\"\n");
    s
}

#[test]
fn broken_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let lab = write(dir.path(), "big.toml", &big_lab(300));
    let mut child = Command::new(env!("CARGO_BIN_EXE_labnet"))
        .args(["compile", &lab])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, then close the pipe while labnet is still writing.
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 4096];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    drop(stdout);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).is_empty(), "{}", err(&o));
}

/// `-o` writes only regular files: devices, FIFOs and directories are refused
/// (a FIFO without blocking), a symlink is not followed, an existing file keeps
/// its mode, a new one gets the umask.
#[test]
fn compile_output_is_only_ever_a_regular_file() {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let dir = tempfile::tempdir().unwrap();
    let o = labnet(&["compile", "-o", "/dev/null"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("is a character device"), "{}", err(&o));
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device(),
        "/dev/null survives"
    );

    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let t = std::time::Instant::now();
    let o = labnet(&["compile", "-o", fifo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("named pipe"), "{}", err(&o));
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "did not block on the FIFO"
    );

    let o = labnet(&["compile", "-o", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("is a directory"), "{}", err(&o));

    let target = dir.path().join("rules.nft");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.nft");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = labnet(&["compile", "-o", link.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("symbolic link"), "{}", err(&o));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "old",
        "the link's target is untouched"
    );

    let o = labnet(&["compile", "-o", target.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o640,
        "mode kept"
    );

    let fresh = dir.path().join("fresh.nft");
    let o = Command::new("sh")
        .args([
            "-c",
            &format!(
                "umask 027; exec {} compile -o {}",
                env!("CARGO_BIN_EXE_labnet"),
                fresh.display()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o640,
        "0666 less umask 027"
    );
}

/// `--color never` also governs clap's own messages (usage errors), even where
/// the environment asks terminals to colour.
#[test]
fn color_never_reaches_clap_messages_too() {
    let force = [("CLICOLOR_FORCE", "1")];
    let o = labnet_in(
        &["--color", "never", "compile", "--target", "pf"],
        None,
        &force,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!err(&o).contains('\x1b'), "{:?}", err(&o));
    let o = labnet_in(&["--color=always", "compile", "--target", "pf"], None, &[]);
    assert!(err(&o).contains('\x1b'), "always colours: {:?}", err(&o));
    let o = labnet_in(
        &["compile", "--target", "pf"],
        None,
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
    );
    assert!(!err(&o).contains('\x1b'), "NO_COLOR: {:?}", err(&o));
}

#[test]
fn query_mistakes_get_the_flag_that_fixes_them() {
    let o = labnet(&[
        "query", "--from", "public", "--to", "private", "--port", "80",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("without a protocol") && err(&o).contains("--proto tcp"),
        "{}",
        err(&o)
    );
    let o = labnet(&[
        "query", "--from", "public", "--to", "private", "--proto", "tcp", "--port", "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("port 0"), "{}", err(&o));
    let o = labnet(&[
        "query", "--from", "public", "--to", "10.0.0.1", "--proto", "tcp", "--port", "22",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a gateway is not filtered: {}",
        out(&o)
    );
    assert!(
        out(&o).starts_with("not filtered: public -> 10.0.0.1 (management)"),
        "{}",
        out(&o)
    );
}

#[test]
fn one_segment_is_not_one_segments() {
    let dir = tempfile::tempdir().unwrap();
    let lab = write(
        dir.path(),
        "one.toml",
        "[lab]\nname = \"one\"\ndomain = \"lab.local\"\n[[segment]]\nname = \"a\"\ncidr = \"10.0.0.0/24\"\nssh_ports = 2201\ninternet = false\n",
    );
    let o = labnet(&["check", &lab]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("1 segment, 0 allow rules, 0 of 0 segment pairs allowed, internet egress from 0 segments"), "{}", out(&o));
}

#[test]
fn a_lab_that_is_not_utf8_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1.toml");
    std::fs::write(&p, b"[lab]\nname = \"caf\xe9\"\n").unwrap();
    let o = labnet(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains(":2:12: (encoding): the file is not UTF-8"),
        "{}",
        err(&o)
    );
}
