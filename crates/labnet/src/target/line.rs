//! Lines of set elements, written as bytes into a reused buffer.
//!
//! A large ruleset is mostly element lines (`10.0.3.0 . tcp . 5432,`, 300 000
//! of them at 1000 segments). Appending each piece to the output string cost
//! a capacity check and a `memcpy` call per piece, about 240 instructions an
//! element. Here each line gets a zeroed 64-byte window that fixed-size
//! copies fill, the window is cut to what was written, and a whole set's
//! bytes are checked as text once (checking each line cost more than
//! building it).

use std::net::Ipv4Addr;

use crate::cidr::Ipv4Cidr;
use crate::port::PortRange;
use crate::proto::L4;

/// Longer than the longest line the renderers build (three tabs,
/// `255.255.255.255/32`, ` . 255`, ` . 65535-65535`, `,\n` is 43 bytes), so
/// every piece fits; [`Line::put`] drops what would not, and a test holds the
/// longest line whole.
const CAP: usize = 64;

/// The decimal digits of 0 to 255, padded to four bytes so that one fixed-size
/// copy writes any of them, and how many of the four count.
static DIGITS: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        // In range by construction: i < 256.
        #[allow(clippy::cast_possible_truncation)]
        let v = i as u8;
        t[i] = if v >= 100 {
            ([b'0' + v / 100, b'0' + v / 10 % 10, b'0' + v % 10, 0], 3)
        } else if v >= 10 {
            ([b'0' + v / 10, b'0' + v % 10, 0, 0], 2)
        } else {
            ([b'0' + v, 0, 0, 0], 1)
        };
        i += 1;
    }
    t
};

/// Lines written one after another.
#[derive(Default)]
pub(super) struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    /// Room for about `n` lines of `per` bytes.
    pub(super) fn reserve(&mut self, n: usize, per: usize) {
        self.buf.reserve(n * per);
    }

    /// Append one line that `f` writes.
    #[inline]
    pub(super) fn line(&mut self, f: impl FnOnce(&mut Line<'_>)) {
        let start = self.buf.len();
        self.buf.resize(start + CAP, 0);
        let mut l = Line {
            buf: &mut self.buf[start..],
            n: 0,
        };
        f(&mut l);
        let n = l.n;
        self.buf.truncate(start + n);
    }

    /// Everything written, as text; emptied for reuse.
    pub(super) fn drain_into(&mut self, o: &mut String) {
        // Only ASCII is ever put, so this cannot fail.
        o.push_str(std::str::from_utf8(&self.buf).unwrap_or_default());
        self.buf.clear();
    }
}

/// A line being written into its window.
pub(super) struct Line<'a> {
    buf: &'a mut [u8],
    n: usize,
}

impl Line<'_> {
    /// Append bytes (constant pieces: the copy has a known length once inlined).
    #[inline]
    pub(super) fn put(&mut self, s: &[u8]) {
        let end = self.n + s.len();
        if let Some(d) = self.buf.get_mut(self.n..end) {
            d.copy_from_slice(s);
            self.n = end;
        }
    }

    /// Append 0 to 255 in decimal.
    #[inline]
    pub(super) fn byte(&mut self, v: u8) {
        let (d, len) = DIGITS[usize::from(v)];
        if let Some(dst) = self.buf.get_mut(self.n..self.n + 4) {
            dst.copy_from_slice(&d);
            self.n += usize::from(len);
        }
    }

    /// Append a port number in decimal.
    #[inline]
    pub(super) fn u16(&mut self, v: u16) {
        if let Ok(b) = u8::try_from(v) {
            return self.byte(b);
        }
        let digits = if v >= 10_000 {
            5
        } else if v >= 1000 {
            4
        } else {
            3
        };
        if let Some(dst) = self.buf.get_mut(self.n..self.n + digits) {
            let mut v = v;
            for d in dst.iter_mut().rev() {
                // A decimal digit: v % 10 < 10.
                #[allow(clippy::cast_possible_truncation)]
                let digit = (v % 10) as u8;
                *d = b'0' + digit;
                v /= 10;
            }
            self.n += digits;
        }
    }

    /// A dotted quad.
    #[inline]
    pub(super) fn addr(&mut self, a: Ipv4Addr) {
        let [w, x, y, z] = a.octets();
        self.byte(w);
        self.put(b".");
        self.byte(x);
        self.put(b".");
        self.byte(y);
        self.put(b".");
        self.byte(z);
    }

    /// `ADDRESS/LENGTH`.
    #[inline]
    pub(super) fn cidr(&mut self, c: Ipv4Cidr) {
        self.addr(c.addr());
        self.put(b"/");
        self.byte(c.len());
    }

    /// A protocol as nft names it (`tcp`), or its number.
    #[inline]
    pub(super) fn l4(&mut self, l4: L4) {
        match l4.name() {
            Some(n) => self.put(n.as_bytes()),
            None => self.byte(l4.0),
        }
    }

    /// `START` or `START-END`.
    #[inline]
    pub(super) fn ports(&mut self, r: PortRange) {
        self.u16(r.start());
        if r.end() != r.start() {
            self.put(b"-");
            self.u16(r.end());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(f: impl FnOnce(&mut Line<'_>)) -> String {
        let mut ls = Lines::default();
        ls.line(f);
        let mut o = String::new();
        ls.drain_into(&mut o);
        o
    }

    #[test]
    fn pieces_read_as_display_writes_them() {
        for v in [
            0u16, 7, 9, 10, 99, 100, 199, 255, 256, 999, 1000, 5432, 9999, 10_000, 65_535,
        ] {
            assert_eq!(one(|l| l.u16(v)), v.to_string());
        }
        for v in 0..=255u8 {
            assert_eq!(one(|l| l.byte(v)), v.to_string());
        }
        let c: Ipv4Cidr = "10.20.3.0/24".parse().unwrap();
        let text = one(|l| {
            l.cidr(c);
            l.put(b" . ");
            l.l4(L4::TCP);
            l.put(b" . ");
            l.l4(L4(47));
        });
        assert_eq!(text, "10.20.3.0/24 . tcp . 47");
    }

    #[test]
    fn the_longest_line_fits_and_lines_follow_each_other() {
        let mut ls = Lines::default();
        for _ in 0..2 {
            ls.line(|l| {
                l.put(b"\t\t\t");
                l.cidr("255.255.255.255/32".parse().unwrap());
                l.put(b" . ");
                l.l4(L4(255));
                l.put(b" . ");
                l.ports(PortRange::new(65_534, 65_535).unwrap());
                l.put(b",\n");
            });
        }
        let mut o = String::from("x");
        ls.drain_into(&mut o);
        let line = "\t\t\t255.255.255.255/32 . 255 . 65534-65535,\n";
        assert_eq!(o, format!("x{line}{line}"));
        o.clear();
        ls.drain_into(&mut o);
        assert_eq!(o, "");
    }
}
