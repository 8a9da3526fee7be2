//! A minimal ISO 9660 image writer with Joliet names, enough for a cloud-init
//! NoCloud seed: one root directory of small files, volume label `cidata`.
//!
//! Written here rather than calling genisoimage or xorriso so that a seed is
//! built the same way on every host, byte for byte (fixed timestamps), and so
//! an unchanged seed is recognised as unchanged. Tests read images back with
//! xorriso and the kernel's own iso9660 driver.

const SECTOR: usize = 2048;

/// A fixed recording time (2026-01-01 00:00:00 UTC): the same inputs always
/// give the same image.
const DATE7: [u8; 7] = [126, 1, 1, 0, 0, 0, 0];
const DATE17: &[u8; 17] = b"2026010100000000\0";

fn both16(v: u16) -> [u8; 4] {
    let l = v.to_le_bytes();
    let b = v.to_be_bytes();
    [l[0], l[1], b[0], b[1]]
}

fn both32(v: u32) -> [u8; 8] {
    let l = v.to_le_bytes();
    let b = v.to_be_bytes();
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

fn dir_record(id: &[u8], lba: u32, len: u32, dir: bool) -> Vec<u8> {
    let n = 33 + id.len();
    let total = n + (n % 2);
    let mut r = vec![0u8; total];
    r[0] = u8::try_from(total).unwrap_or(u8::MAX);
    r[2..10].copy_from_slice(&both32(lba));
    r[10..18].copy_from_slice(&both32(len));
    r[18..25].copy_from_slice(&DATE7);
    r[25] = if dir { 2 } else { 0 };
    r[28..32].copy_from_slice(&both16(1));
    r[32] = u8::try_from(id.len()).unwrap_or(u8::MAX);
    r[33..33 + id.len()].copy_from_slice(id);
    r
}

fn padded(text: &[u8], width: usize, pad: &[u8]) -> Vec<u8> {
    let mut v = text[..text.len().min(width)].to_vec();
    while v.len() < width {
        v.extend_from_slice(pad);
    }
    v.truncate(width);
    v
}

fn ucs2(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Primary-tree name: d-characters only (`user-data` → `USER_DATA.;1`).
fn primary_name(name: &str) -> Vec<u8> {
    let mut s: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            if c.is_ascii_uppercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    s.push_str(".;1");
    s.into_bytes()
}

/// Why an image could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IsoError {
    /// The files do not fit one directory sector.
    #[error("too many files or names too long for a seed image ({0} bytes of directory)")]
    DirectoryTooLarge(usize),
    /// A file name the image cannot hold.
    #[error("file name {0:?} must be 1 to 64 ASCII characters")]
    BadName(String),
    /// The files together are larger than a seed image may be.
    #[error("{0} bytes of files are more than a seed image holds (64 MiB)")]
    TooLarge(usize),
}

/// The most a seed image holds: far above any seed, and far below where
/// sector numbers would overflow.
const MAX_BYTES: usize = 64 << 20;

/// An ISO 9660 image with volume label `label` holding `files` (name, content)
/// in its root directory.
///
/// # Errors
/// [`IsoError`] when the names do not fit.
pub fn build(label: &str, files: &[(&str, &[u8])]) -> Result<Vec<u8>, IsoError> {
    for (name, _) in files {
        if name.is_empty() || name.len() > 64 || !name.is_ascii() {
            return Err(IsoError::BadName((*name).to_owned()));
        }
    }
    let bytes: usize = files.iter().map(|(_, d)| d.len()).sum();
    if bytes > MAX_BYTES {
        return Err(IsoError::TooLarge(bytes));
    }
    // Layout: 16 system sectors, PVD, SVD (Joliet), terminator, 2 path tables
    // per tree, one root directory sector per tree, then the files.
    let (pvd, svd, term) = (16u32, 17u32, 18u32);
    let (pl, pm, jl, jm) = (19u32, 20u32, 21u32, 22u32);
    let (proot, jroot) = (23u32, 24u32);
    let mut next = 25u32;
    let mut extents = Vec::new();
    for (_, data) in files {
        extents.push(next);
        let sectors = data.len().div_ceil(SECTOR).max(1);
        next += u32::try_from(sectors).unwrap_or(u32::MAX);
    }
    let total = next;
    let mut img = vec![0u8; total as usize * SECTOR];
    let at = |lba: u32| lba as usize * SECTOR;

    // Root directories.
    for (root, joliet) in [(proot, false), (jroot, true)] {
        let mut d = Vec::new();
        d.extend(dir_record(&[0], root, SECTOR as u32, true));
        d.extend(dir_record(&[1], root, SECTOR as u32, true));
        let mut order: Vec<usize> = (0..files.len()).collect();
        // Records are sorted by their identifier.
        let id = |i: usize| {
            if joliet {
                ucs2(files[i].0)
            } else {
                primary_name(files[i].0)
            }
        };
        order.sort_by_key(|&i| id(i));
        for i in order {
            let len = u32::try_from(files[i].1.len()).unwrap_or(u32::MAX);
            d.extend(dir_record(&id(i), extents[i], len, false));
        }
        if d.len() > SECTOR {
            return Err(IsoError::DirectoryTooLarge(d.len()));
        }
        img[at(root)..at(root) + d.len()].copy_from_slice(&d);
    }
    // Path tables: the root alone.
    for (lba, root, big) in [
        (pl, proot, false),
        (pm, proot, true),
        (jl, jroot, false),
        (jm, jroot, true),
    ] {
        let mut e = vec![1u8, 0];
        e.extend(if big {
            root.to_be_bytes()
        } else {
            root.to_le_bytes()
        });
        e.extend(if big {
            1u16.to_be_bytes()
        } else {
            1u16.to_le_bytes()
        });
        e.extend([0u8, 0]);
        img[at(lba)..at(lba) + e.len()].copy_from_slice(&e);
    }
    // Volume descriptors.
    for (lba, joliet) in [(pvd, false), (svd, true)] {
        let mut v = vec![0u8; SECTOR];
        v[0] = if joliet { 2 } else { 1 };
        v[1..6].copy_from_slice(b"CD001");
        v[6] = 1;
        let (sys, vol) = if joliet {
            (
                padded(&ucs2("LINUX"), 32, &[0, b' ']),
                padded(&ucs2(label), 32, &[0, b' ']),
            )
        } else {
            (
                padded(b"LINUX", 32, b" "),
                padded(label.to_ascii_uppercase().as_bytes(), 32, b" "),
            )
        };
        v[8..40].copy_from_slice(&sys);
        v[40..72].copy_from_slice(&vol);
        v[80..88].copy_from_slice(&both32(total));
        if joliet {
            // UCS-2 level 3.
            v[88..91].copy_from_slice(b"%/E");
        }
        v[120..124].copy_from_slice(&both16(1));
        v[124..128].copy_from_slice(&both16(1));
        v[128..132].copy_from_slice(&both16(SECTOR as u16));
        v[132..140].copy_from_slice(&both32(10));
        let (l, m) = if joliet { (jl, jm) } else { (pl, pm) };
        v[140..144].copy_from_slice(&l.to_le_bytes());
        v[148..152].copy_from_slice(&m.to_be_bytes());
        let root = if joliet { jroot } else { proot };
        v[156..190].copy_from_slice(&dir_record(&[0], root, SECTOR as u32, true));
        let blank: Vec<u8> = if joliet {
            padded(&[], 128, &[0, b' '])
        } else {
            vec![b' '; 128]
        };
        for start in [190, 318, 446, 574] {
            v[start..start + 128].copy_from_slice(&blank);
        }
        for start in [702, 739, 776] {
            v[start..start + 37].copy_from_slice(&blank[..37]);
        }
        for start in [813, 830, 847, 864] {
            v[start..start + 17].copy_from_slice(DATE17);
        }
        v[881] = 1;
        img[at(lba)..at(lba) + SECTOR].copy_from_slice(&v);
    }
    let t = at(term);
    img[t] = 255;
    img[t + 1..t + 6].copy_from_slice(b"CD001");
    img[t + 6] = 1;
    for ((_, data), lba) in files.iter().zip(&extents) {
        img[at(*lba)..at(*lba) + data.len()].copy_from_slice(data);
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn layout_is_what_readers_expect() {
        let img = build(
            "cidata",
            &[("meta-data", b"a"), ("user-data", &[7u8; 3000])],
        )
        .unwrap();
        assert_eq!(img.len() % SECTOR, 0);
        assert_eq!(&img[16 * SECTOR + 1..16 * SECTOR + 6], b"CD001");
        assert_eq!(img[17 * SECTOR], 2, "a Joliet descriptor");
        assert_eq!(img[18 * SECTOR], 255, "then the terminator");
        assert_eq!(&img[16 * SECTOR + 40..16 * SECTOR + 46], b"CIDATA");
        // Files: user-data spans two sectors after meta-data's one.
        assert_eq!(img[26 * SECTOR], 7);
        assert_eq!(img.len(), 28 * SECTOR);
        assert_eq!(
            build("cidata", &[("a", b"x")]).unwrap(),
            build("cidata", &[("a", b"x")]).unwrap()
        );
    }

    #[test]
    fn bad_names_and_full_directories_are_errors() {
        assert!(build("x", &[("", b"")]).is_err());
        let names: Vec<String> = (0..40)
            .map(|i| format!("file-with-a-long-name-{i:03}"))
            .collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        assert!(matches!(
            build("x", &files),
            Err(IsoError::DirectoryTooLarge(_))
        ));
    }
}
