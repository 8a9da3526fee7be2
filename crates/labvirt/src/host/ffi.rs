//! The one place labvirt calls libvirt's C API itself: `virNetworkGetDHCPLeases`,
//! which the `virt` crate (0.4) does not wrap.
#![allow(unsafe_code)]

use std::ffi::CStr;

use virt::network::Network;
use virt::sys;

/// One DHCP lease as libvirt reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Lease {
    /// The client's MAC.
    pub mac: String,
    /// Leased address.
    pub ip: String,
    /// Prefix length.
    pub prefix: u32,
    /// Host name the client sent, if any.
    pub hostname: Option<String>,
    /// When it expires (seconds since the epoch).
    pub expiry: i64,
}

fn text(p: *const libc::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: libvirt gives NUL-terminated strings that live until the lease is freed.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The network's current leases.
///
/// # Errors
/// libvirt's error.
pub(crate) fn leases(net: &Network) -> Result<Vec<Lease>, virt::error::Error> {
    let mut arr: *mut sys::virNetworkDHCPLeasePtr = std::ptr::null_mut();
    // SAFETY: a valid network pointer, a null MAC filter (all leases), an out-pointer.
    let n =
        unsafe { sys::virNetworkGetDHCPLeases(net.as_ptr(), std::ptr::null(), &raw mut arr, 0) };
    if n < 0 {
        return Err(virt::error::Error::last_error());
    }
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n as usize {
        // SAFETY: libvirt returned `n` valid lease pointers in `arr`.
        let l = unsafe { *arr.add(i) };
        if l.is_null() {
            continue;
        }
        // SAFETY: `l` is a valid lease until freed below.
        let r = unsafe { &*l };
        out.push(Lease {
            mac: text(r.mac).unwrap_or_default(),
            ip: text(r.ipaddr).unwrap_or_default(),
            prefix: r.prefix,
            hostname: text(r.hostname),
            expiry: r.expirytime,
        });
        // SAFETY: each lease is freed once, with libvirt's own function.
        unsafe { sys::virNetworkDHCPLeaseFree(l) };
    }
    if !arr.is_null() {
        // SAFETY: the array was allocated by libvirt with malloc and is ours to free.
        unsafe { libc::free(arr.cast()) };
    }
    Ok(out)
}
