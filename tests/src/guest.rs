//! A tiny bootable guest built from Debian packages, for real-libvirtd tests:
//! Debian's kernel (decompressed to the `vmlinux` QEMU boots directly, which
//! under TCG saves about 6 s per boot) and an initramfs of busybox-static, the
//! virtio-net modules and an `/init` that leases an address, serves HTTP,
//! probes other guests and resolves names, printing what it saw on the serial
//! console. Nothing is installed system-wide: the packages are downloaded
//! with `apt-get download` and unpacked with `dpkg-deb -x`.
//!
//! The kernel command line tells a guest what to do:
//! `labkit.name=NAME labkit.probe=HOST:PORT,... labkit.resolve=NAME,...
//! labkit.seed=1`. Console lines: `LEASE ip`, `NOLEASE`, `SEEDFILES names`,
//! `SEED file: line` (the CD-ROM's cloud-init files, mounted by the guest's
//! own iso9660 driver), `READY`, `PROBE target OK body` / `PROBE target
//! FAIL`, `RESOLVE name ip` / `RESOLVE name FAIL`, `ROUND n`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The files a guest boots from.
#[derive(Debug, Clone)]
pub struct Assets {
    /// Uncompressed kernel (ELF `vmlinux`).
    pub kernel: PathBuf,
    /// initramfs (uncompressed newc cpio).
    pub initrd: PathBuf,
}

/// The virtio-net modules in load order (each after what its `depends=` names).
const MODULES: &[&str] = &[
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "net/core/failover.ko",
    "drivers/net/net_failover.ko",
    "drivers/net/virtio_net.ko",
    // The SATA CD-ROM and ISO 9660, to read the cloud-init seed labvirt attaches.
    "drivers/scsi/scsi_common.ko",
    "drivers/scsi/scsi_mod.ko",
    "drivers/cdrom/cdrom.ko",
    "drivers/scsi/sr_mod.ko",
    "drivers/ata/libata.ko",
    "drivers/ata/libahci.ko",
    "drivers/ata/ahci.ko",
    "fs/isofs/isofs.ko",
];

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /lib/$m; done
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^labkit\.$1=//p"; }
NAME=$(arg name)
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
ip link set lo up
ip link set eth0 up
mkdir -p /www /etc
echo "hello from $NAME" > /www/index.html
lease() {
  if udhcpc -i eth0 -s /udhcpc.sh -t 8 -T 1 -n -q >/dev/null 2>&1; then
    echo "LEASE $(cat /tmp/ip)"
  else
    echo NOLEASE
  fi
}
lease
if [ "$(arg seed)" = 1 ]; then
  i=0; while [ ! -e /dev/sr0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  mkdir -p /seed
  if mount -t iso9660 -o ro /dev/sr0 /seed 2>/dev/null; then
    echo "SEEDFILES $(ls /seed | tr '\n' ' ')"
    for f in meta-data user-data network-config; do
      sed "s/^/SEED $f: /" "/seed/$f"
    done
  else
    echo "SEEDFILES none"
  fi
fi
httpd -p 80 -h /www
echo "RESOLVCONF $(tr '\n' ' ' < /etc/resolv.conf)"
echo READY
PROBES=$(arg probe | tr ',' ' ')
NAMES=$(arg resolve | tr ',' ' ')
round=0
while true; do
  round=$((round+1))
  # Re-lease when the gateway stops answering: the NIC may have moved to another network.
  if [ -s /tmp/router ] && ! ping -c 1 -W 1 $(cat /tmp/router) >/dev/null 2>&1; then
    lease
  elif [ ! -s /tmp/router ]; then
    lease
  fi
  for p in $PROBES; do
    host=${p%:*}; port=${p#*:}
    # busybox-static's wget crashes in glibc's static NSS; a raw request over nc does not.
    body=$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 "$host" "$port" 2>/dev/null | grep '^hello from')
    if [ -n "$body" ]; then echo "PROBE $p OK $body"; else echo "PROBE $p FAIL"; fi
  done
  for n in $NAMES; do
    raw=$(nslookup "$n" 2>&1)
    a=$(echo "$raw" | sed -n '/^Name:/,$ s/^Address[^:]*: *//p' | head -n 1)
    if [ -n "$a" ]; then echo "RESOLVE $n $a"; else echo "RESOLVE $n FAIL $(echo "$raw" | tr '\n' ' ')"; fi
  done
  echo "ROUND $round"
  sleep 1
done
"#;

const UDHCPC: &str = r#"#!/bin/sh
case "$1" in
  bound|renew)
    # Routes first: flushing them after the address would drop its connected route too.
    ip route flush dev "$interface" 2>/dev/null
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; echo "$r" > /tmp/router; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
    echo "$ip" > /tmp/ip
    ;;
  deconfig)
    ip addr flush dev "$interface"
    : > /tmp/router
    ;;
esac
exit 0
"#;

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One entry of a newc cpio archive.
fn cpio_entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, data: &[u8]) {
    let header = format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        0,
        0,
        1,
        0,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Build (once per machine, cached under `/var/tmp/labkit-guest`) and return the assets.
///
/// # Panics
/// When a package cannot be downloaded or unpacked: the test cannot run.
pub fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(build)
}

fn kernel_package() -> String {
    let out = Command::new("apt-cache")
        .args(["depends", "linux-image-amd64"])
        .output()
        .expect("apt-cache");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Depends: ")
                .filter(|p| p.starts_with("linux-image-"))
                .map(str::to_owned)
        })
        .expect("apt-cache depends linux-image-amd64 names a kernel package")
}

fn build() -> Assets {
    let pkg = kernel_package();
    let dir = PathBuf::from("/var/tmp/labkit-guest").join(&pkg);
    let kernel = dir.join("vmlinux");
    let initrd = dir.join("initrd.cpio");
    if kernel.exists() && initrd.exists() {
        return Assets { kernel, initrd };
    }
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("cache directory");
    run(Command::new("apt-get")
        .args(["download", "-q", &pkg, "busybox-static"])
        .current_dir(&tmp));
    let x = tmp.join("x");
    for deb in std::fs::read_dir(&tmp)
        .expect("downloads")
        .filter_map(Result::ok)
        .map(|e| e.path())
    {
        if deb.extension().is_some_and(|e| e == "deb") {
            run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x));
        }
    }
    let version = pkg.trim_start_matches("linux-image-");
    let bz = std::fs::read(x.join(format!("boot/vmlinuz-{version}"))).expect("the kernel image");
    std::fs::write(tmp.join("vmlinux"), decompress_kernel(&bz)).expect("write vmlinux");

    let mut cpio = Vec::new();
    let mut ino = 1;
    let mut add = |name: &str, mode: u32, data: &[u8]| {
        cpio_entry(&mut cpio, ino, name, mode, data);
        ino += 1;
    };
    for d in ["bin", "dev", "proc", "sys", "tmp", "etc", "lib", "www"] {
        add(d, 0o040_755, b"");
    }
    add(
        "bin/busybox",
        0o100_755,
        &std::fs::read(x.join("bin/busybox")).expect("busybox-static"),
    );
    add("init", 0o100_755, INIT.as_bytes());
    add("udhcpc.sh", 0o100_755, UDHCPC.as_bytes());
    let mut order = String::new();
    for m in MODULES {
        let file = Path::new(m)
            .file_name()
            .and_then(|f| f.to_str())
            .expect("module name");
        let data = std::fs::read(x.join(format!("lib/modules/{version}/kernel/{m}")))
            .unwrap_or_else(|e| panic!("module {m}: {e}"));
        add(&format!("lib/{file}"), 0o100_644, &data);
        order.push_str(file);
        order.push('\n');
    }
    add("modules.order", 0o100_644, order.as_bytes());
    add("TRAILER!!!", 0, b"");
    std::fs::write(tmp.join("initrd.cpio"), cpio).expect("write initrd");
    let _ = std::fs::remove_dir_all(&x);
    for e in std::fs::read_dir(&tmp).expect("tmp").filter_map(Result::ok) {
        if e.path().extension().is_some_and(|x| x == "deb") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).expect("publish the cache");
    Assets { kernel, initrd }
}

/// Debian's bzImage carries an XZ stream (with the x86 BCJ filter): find its
/// magic and decompress it with xz-utils, ignoring the image's tail after it.
fn decompress_kernel(bz: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    const MAGIC: &[u8] = &[0xFD, b'7', b'z', b'X', b'Z', 0x00];
    let at = bz
        .windows(MAGIC.len())
        .position(|w| w == MAGIC)
        .expect("an XZ stream in the kernel image");
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream", "-q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("xz (xz-utils)");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = bz[at..].to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("xz");
    let _ = writer.join();
    assert!(
        out.stdout.starts_with(b"\x7fELF"),
        "the decompressed kernel is an ELF image ({} bytes)",
        out.stdout.len()
    );
    out.stdout
}
