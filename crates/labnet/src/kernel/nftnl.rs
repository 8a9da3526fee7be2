//! Sending a [`Program`] to the kernel as one nf_tables netlink batch, with
//! libnftnl (through the `nftnl` crate) building the messages.
//!
//! The `nftnl` crate covers tables, chains, rules and the batch; its sets know
//! neither intervals, concatenations nor verdict maps, so sets, set elements
//! and the expressions are built here on `nftnl-sys`. That is the only unsafe
//! code in labnet: every call passes pointers this module allocated and frees.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_void};
use std::ptr::NonNull;

use nftnl::nftnl_sys::{self as sys, libc};
use nftnl::{Batch, Chain, ChainType, Hook, MsgType, NlMsg, Policy, ProtoFamily, Rule, Table};

use super::KernelError;
use crate::proto::L4;
use crate::target::delta::Step;
use crate::target::program::{
    BaseChain, ChainDef, Expr, Header, Interval, Program, RuleDef, SetDef, Verdict, rbtree_elements,
};

/// `NFT_SET_CONCAT` (kernel 5.6): intervals of concatenated keys (pipapo).
const NFT_SET_CONCAT: u32 = 0x80;
const NFTNL_UDATA_SET_KEYBYTEORDER: u8 = 0;
/// Elements per NEWSETELEM message of a verdict map (an element carries a
/// chain name, about 100 bytes): far below netlink's 64 KiB attribute limit.
const ELEMENTS_PER_MESSAGE: usize = 256;
/// Elements per message of a set without data: a key of at most 12 bytes, or
/// a key, an end and flags, at most about 52 bytes an element with attribute
/// headers (53 KiB). Fewer messages matter because the kernel finds each
/// message's set by name, walking the table's list of sets: at 1000 segments
/// (2000 sets) going from 256 to 1024 keys a message made the load 7% faster.
const KEYS_PER_MESSAGE: usize = 1024;

fn per_message(def: &SetDef) -> usize {
    if def.verdict_map {
        ELEMENTS_PER_MESSAGE
    } else {
        KEYS_PER_MESSAGE
    }
}

/// Load `program` in one transaction: create its table (so the delete cannot
/// fail on first load), delete it, and create it again with everything in it.
/// The kernel applies all of it or none of it.
///
/// # Errors
/// The kernel's error for the first message it rejected, naming the object.
pub fn load(program: &Program) -> Result<(), KernelError> {
    let mut msgs = Messages::default();
    let table = Table::new(cstr(&program.table)?, ProtoFamily::Ipv4);
    msgs.push(&table, MsgType::Add, "create table");
    msgs.push(&table, MsgType::Del, "delete table");
    msgs.push(&table, MsgType::Add, "create table");
    let mut chains = Vec::with_capacity(program.chains.len());
    for c in &program.chains {
        chains.push(make_chain(&table, c)?);
    }
    for (c, def) in chains.iter().zip(&program.chains) {
        msgs.push(c, MsgType::Add, &format!("create chain {}", def.name));
    }
    // A chain per source: finding each rule's by scanning was quadratic.
    let by_name: std::collections::HashMap<&str, &Chain<'_>> = program
        .chains
        .iter()
        .map(|d| d.name.as_str())
        .zip(chains.iter())
        .collect();
    let mut next_id = 1u32;
    let mut ids = std::collections::HashMap::new();
    for s in &program.sets {
        let id = next_id;
        next_id += 1;
        ids.insert(s.name.as_str(), id);
        let set = RawSet::named(&program.table, s, id)?;
        msgs.push(&set, MsgType::Add, &format!("create set {}", s.name));
        for chunk in element_chunks(&program.table, s, id)? {
            msgs.push(&chunk, MsgType::Add, &format!("add elements to {}", s.name));
        }
    }
    for r in &program.rules {
        let chain = by_name
            .get(r.chain.as_str())
            .copied()
            .ok_or_else(|| KernelError::Program(format!("rule in unknown chain {}", r.chain)))?;
        let anon = match &r.anon_set {
            Some(protos) => {
                let id = next_id;
                next_id += 1;
                let set = RawSet::anonymous_l4proto(&program.table, protos, id)?;
                msgs.push(
                    &set,
                    MsgType::Add,
                    &format!("create set in chain {}", r.chain),
                );
                msgs.push(
                    &set.elements(),
                    MsgType::Add,
                    &format!("add elements to set in chain {}", r.chain),
                );
                Some(id)
            }
            None => None,
        };
        let rule = build_rule(chain, r, &ids, anon)?;
        msgs.push(
            &rule,
            MsgType::Add,
            &format!("add rule to chain {}", r.chain),
        );
    }
    msgs.send()
}

fn make_chain<'a>(table: &'a Table, c: &ChainDef) -> Result<Chain<'a>, KernelError> {
    let mut chain = Chain::new(cstr(&c.name)?, table);
    match c.base {
        Some(BaseChain::FilterForward) => {
            chain.set_hook(Hook::Forward, 0);
            chain.set_type(ChainType::Filter);
            chain.set_policy(Policy::Accept);
        }
        Some(BaseChain::NatPostrouting) => {
            chain.set_hook(Hook::PostRouting, 100);
            chain.set_type(ChainType::Nat);
            chain.set_policy(Policy::Accept);
        }
        None => {}
    }
    Ok(chain)
}

/// Send the steps of a delta from `old` to `new` as one transaction. With
/// `genid`, the kernel refuses the whole batch (`ERESTART`) if any other
/// transaction committed since that ruleset generation was read, so a delta
/// is never applied over a table that changed after it was computed.
///
/// # Errors
/// The kernel's error for the first message it rejected, naming the object.
pub fn load_delta(
    old: &Program,
    new: &Program,
    steps: &[Step<'_>],
    genid: Option<u32>,
) -> Result<(), KernelError> {
    let mut msgs = Messages {
        genid,
        ..Messages::default()
    };
    let table = Table::new(cstr(&new.table)?, ProtoFamily::Ipv4);
    // Every set gets an id; rules name their sets, and the kernel finds sets
    // created earlier in this batch by name as it finds the old ones.
    let mut ids = std::collections::HashMap::new();
    let mut next_id = 1u32;
    for s in old.sets.iter().chain(&new.sets) {
        ids.entry(s.name.as_str()).or_insert_with(|| {
            next_id += 1;
            next_id - 1
        });
    }
    let chain_def = |name: &str| {
        new.chains
            .iter()
            .chain(&old.chains)
            .find(|c| c.name == name)
            .cloned()
            .unwrap_or(ChainDef {
                name: name.to_owned(),
                base: None,
            })
    };
    let mut anon_id = 1u32 << 30;
    for step in steps {
        match step {
            Step::AddChain(c) => {
                let chain = make_chain(&table, c)?;
                msgs.push(&chain, MsgType::Add, &format!("create chain {}", c.name));
            }
            Step::FlushChain(c) => {
                let def = chain_def(c);
                let chain = make_chain(&table, &def)?;
                let rule = Rule::new(&chain);
                msgs.push(&rule, MsgType::Del, &format!("flush chain {c}"));
            }
            Step::DeleteChain(c) => {
                let def = chain_def(c);
                let chain = make_chain(&table, &def)?;
                msgs.push(&chain, MsgType::Del, &format!("delete chain {c}"));
            }
            Step::FlushSet(s) => {
                let mut set = RawSet::alloc(&new.table, &s.name, ids[s.name.as_str()])?;
                set.elems_only = true;
                set.delete = true;
                msgs.push(&set, MsgType::Del, &format!("flush set {}", s.name));
            }
            Step::DeleteSet(name) => {
                let mut set = RawSet::alloc(&new.table, name, ids[*name])?;
                set.delete = true;
                msgs.push(&set, MsgType::Del, &format!("delete set {name}"));
            }
            Step::CreateSet(s) => {
                let id = ids[s.name.as_str()];
                let set = RawSet::named(&new.table, s, id)?;
                msgs.push(&set, MsgType::Add, &format!("create set {}", s.name));
                for chunk in element_chunks(&new.table, s, id)? {
                    msgs.push(&chunk, MsgType::Add, &format!("add elements to {}", s.name));
                }
            }
            Step::DeleteElements(s, elems) => {
                for chunk in hash_chunks(&new.table, s, ids[s.name.as_str()], elems, true)? {
                    msgs.push(
                        &chunk,
                        MsgType::Del,
                        &format!("delete elements of {}", s.name),
                    );
                }
            }
            Step::AddElements(s, elems) => {
                let id = ids[s.name.as_str()];
                let chunks = if s.size.is_some() {
                    hash_chunks(&new.table, s, id, elems, false)?
                } else {
                    // A refilled interval set: all of it, as the kernel's rbtree takes it.
                    element_chunks(&new.table, s, id)?
                };
                for chunk in chunks {
                    msgs.push(&chunk, MsgType::Add, &format!("add elements to {}", s.name));
                }
            }
            Step::AddRules(c) => {
                let def = chain_def(c);
                let chain = make_chain(&table, &def)?;
                for r in new.rules.iter().filter(|r| r.chain == *c) {
                    let anon = match &r.anon_set {
                        Some(protos) => {
                            let id = anon_id;
                            anon_id += 1;
                            let set = RawSet::anonymous_l4proto(&new.table, protos, id)?;
                            msgs.push(&set, MsgType::Add, &format!("create set in chain {c}"));
                            msgs.push(
                                &set.elements(),
                                MsgType::Add,
                                &format!("add elements to set in chain {c}"),
                            );
                            Some(id)
                        }
                        None => None,
                    };
                    let rule = build_rule(&chain, r, &ids, anon)?;
                    msgs.push(&rule, MsgType::Add, &format!("add rule to chain {c}"));
                }
            }
        }
    }
    msgs.send()
}

/// Elements of a hash set (keys only), in messages of bounded size.
fn hash_chunks(
    table: &str,
    def: &SetDef,
    id: u32,
    elems: &[&Interval],
    delete: bool,
) -> Result<Vec<RawSet>, KernelError> {
    let mut out = Vec::new();
    for chunk in elems.chunks(per_message(def)) {
        let mut c = RawSet::alloc(table, &def.name, id)?;
        c.elems_only = true;
        c.delete = delete;
        for e in chunk {
            c.add_elem(&e.start, None, false, e.verdict.as_ref())?;
        }
        out.push(c);
    }
    Ok(out)
}

/// The ruleset generation the kernel is at (`NFT_MSG_GETGEN`): it moves on
/// with every committed nf_tables transaction, of any table.
///
/// # Errors
/// Netlink failed.
pub fn generation() -> Result<u32, KernelError> {
    let io = |e: std::io::Error| KernelError::Netlink {
        what: "read the nf_tables ruleset generation".into(),
        source: e,
    };
    let socket = mnl::Socket::new(mnl::Bus::Netfilter).map_err(io)?;
    // struct nlmsghdr + struct nfgenmsg, no attributes.
    let mut msg = [0u8; 20];
    msg[0..4].copy_from_slice(&20u32.to_ne_bytes());
    let ty = ((libc::NFNL_SUBSYS_NFTABLES as u16) << 8) | libc::NFT_MSG_GETGEN as u16;
    msg[4..6].copy_from_slice(&ty.to_ne_bytes());
    msg[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    msg[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0.
    socket.send(&msg[..]).map_err(io)?;
    let mut buffer = vec![0u8; 8192];
    let n = socket
        .recv(&mut buffer[..])
        .map_err(io)?
        .next()
        .ok_or_else(|| io(std::io::Error::other("no answer")))?
        .map_err(io)?
        .to_vec();
    parse_gen(&n).ok_or_else(|| io(std::io::Error::other("an answer without NFTA_GEN_ID")))
}

/// Who holds `table` (family ip), asked with two netlink GETs instead of a
/// listing: `None` when there is no such table, else whether it has
/// `chain`. nft reads its whole cache for any `list` (half a second at 600
/// segments); this takes two round trips.
///
/// # Errors
/// Netlink failed, or the kernel answered with an error other than "no such".
pub fn has_chain(table: &str, chain: &str) -> Result<Option<bool>, KernelError> {
    let io = |e: std::io::Error| KernelError::Netlink {
        what: format!("look up table ip {table}"),
        source: e,
    };
    let socket = mnl::Socket::new(mnl::Bus::Netfilter).map_err(io)?;
    let ask = |ty: u16, attrs: &[(u16, &str)]| -> Result<bool, KernelError> {
        let mut msg = vec![0u8; 20];
        for (kind, value) in attrs {
            let len = 4 + value.len() + 1;
            msg.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
            msg.extend_from_slice(&kind.to_ne_bytes());
            msg.extend_from_slice(value.as_bytes());
            msg.push(0);
            msg.resize(msg.len().next_multiple_of(4), 0);
        }
        let total = u32::try_from(msg.len()).unwrap_or(u32::MAX);
        msg[0..4].copy_from_slice(&total.to_ne_bytes());
        let ty = ((libc::NFNL_SUBSYS_NFTABLES as u16) << 8) | ty;
        msg[4..6].copy_from_slice(&ty.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
        msg[6..8].copy_from_slice(&flags.to_ne_bytes());
        msg[8..12].copy_from_slice(&1u32.to_ne_bytes());
        msg[16] = libc::NFPROTO_IPV4 as u8;
        socket.send(&msg[..]).map_err(io)?;
        let mut buffer = vec![0u8; 1 << 16];
        let mut found = false;
        loop {
            let mut done = false;
            for m in socket.recv(&mut buffer[..]).map_err(io)? {
                let m = m.map_err(io)?;
                let mtype = m.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
                if mtype == Some(libc::NLMSG_ERROR as u16) {
                    let code = m
                        .get(16..20)
                        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    if code == -libc::ENOENT {
                        return Ok(false);
                    }
                    if code != 0 {
                        return Err(io(std::io::Error::from_raw_os_error(-code)));
                    }
                    done = true;
                } else {
                    found = true;
                }
            }
            if done {
                return Ok(found);
            }
        }
    };
    if !ask(libc::NFT_MSG_GETTABLE as u16, &[(1, table)])? {
        return Ok(None);
    }
    // NFTA_CHAIN_TABLE = 1, NFTA_CHAIN_NAME = 3.
    Ok(Some(ask(
        libc::NFT_MSG_GETCHAIN as u16,
        &[(1, table), (3, chain)],
    )?))
}

/// NFTA_GEN_ID (attribute 1, big endian) of a NEWGEN message.
fn parse_gen(msg: &[u8]) -> Option<u32> {
    let mut at = 16 + 4;
    while at + 4 <= msg.len() {
        let len = u16::from_ne_bytes([msg[at], msg[at + 1]]) as usize;
        let ty = u16::from_ne_bytes([msg[at + 2], msg[at + 3]]) & 0x3fff;
        if len < 4 {
            return None;
        }
        if ty == 1 && len >= 8 {
            return Some(u32::from_be_bytes([
                msg[at + 4],
                msg[at + 5],
                msg[at + 6],
                msg[at + 7],
            ]));
        }
        at += len.next_multiple_of(4);
    }
    None
}

/// The batch under construction and what each of its messages does, so the
/// kernel's error can name the object it refused.
struct Messages {
    batch: Batch,
    what: Vec<String>,
    /// Refuse the batch unless the ruleset is still at this generation.
    genid: Option<u32>,
}

impl Default for Messages {
    fn default() -> Self {
        Self {
            batch: Batch::new(),
            what: Vec::new(),
            genid: None,
        }
    }
}

impl Messages {
    fn push(&mut self, msg: &impl NlMsg, ty: MsgType, what: &str) {
        self.batch.add(msg, ty);
        self.what.push(what.to_owned());
    }

    fn send(self) -> Result<(), KernelError> {
        let what = self.what;
        let batch = self.batch.finalize();
        let io = |e: std::io::Error| KernelError::Netlink {
            what: "talk to nf_tables over netlink".into(),
            source: e,
        };
        let socket = mnl::Socket::new(mnl::Bus::Netfilter).map_err(io)?;
        let portid = socket.portid();
        // The kernel runs a batch as one transaction only if it arrives in one
        // sendmsg; libnftnl keeps it in pages, so join them (as nft does with
        // an iovec) and size the socket buffers for it and for one ack per message.
        // Page by page: copying byte by byte through a flattening iterator
        // took tens of milliseconds for the ten-megabyte batch of a large lab.
        let size = batch.iter().map(<[u8]>::len).sum();
        let mut whole: Vec<u8> = Vec::with_capacity(size);
        for page in batch.iter() {
            whole.extend_from_slice(page);
        }
        if let Some(genid) = self.genid {
            add_batch_genid(&mut whole, genid);
        }
        let acks = what.len().saturating_add(16).saturating_mul(1024);
        size_buffers(&socket, whole.len().saturating_add(4096), acks).map_err(io)?;
        let sent = socket.send(&whole).map_err(io)?;
        if sent < whole.len() {
            return Err(io(std::io::Error::other(
                "the kernel took only part of the batch",
            )));
        }
        let mut buffer = vec![0u8; nftnl::nft_nlmsg_maxsize() as usize];
        let seqs = batch.sequence_numbers();
        // On kernels that ack the begin/end markers they take a sequence number each.
        let ours = u32::try_from(what.len()).unwrap_or(0);
        let first = seqs.start + u32::from(seqs.len() > what.len());
        debug_assert!(seqs.end >= first + ours);
        let mut expected = seqs;
        while !expected.is_empty() {
            for message in socket.recv(&mut buffer[..]).map_err(io)? {
                let message = message.map_err(io)?;
                let Some(seq) = expected.next() else {
                    break;
                };
                if let Err(e) = mnl::cb_run(message, seq, portid) {
                    // An error ack carries the sequence number of the message it refuses.
                    let failed = nlmsg_seq(message).unwrap_or(seq);
                    let idx = failed.checked_sub(first).map(|i| i as usize);
                    let what = idx
                        .and_then(|i| what.get(i))
                        .cloned()
                        .unwrap_or_else(|| "load the batch".into());
                    return Err(KernelError::Netlink { what, source: e });
                }
            }
        }
        Ok(())
    }
}

/// Put `NFNL_BATCH_GENID` into the batch-begin message (the first one), as
/// nft does: the kernel then refuses the batch if the generation moved on.
fn add_batch_genid(whole: &mut Vec<u8>, genid: u32) {
    let Some(len) = whole
        .get(0..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
    else {
        return;
    };
    let len = len as usize;
    // NFNL_BATCH_GENID = 1, a u32 in network order.
    let mut attr = Vec::with_capacity(8);
    attr.extend_from_slice(&8u16.to_ne_bytes());
    attr.extend_from_slice(&1u16.to_ne_bytes());
    attr.extend_from_slice(&genid.to_be_bytes());
    whole.splice(len..len, attr);
    let new_len = u32::try_from(len + 8).unwrap_or(u32::MAX);
    whole[0..4].copy_from_slice(&new_len.to_ne_bytes());
}

fn size_buffers(socket: &mnl::Socket, send: usize, recv: usize) -> std::io::Result<()> {
    // SAFETY: the fd belongs to `socket`, which outlives this call.
    let fd = unsafe { mnl::mnl_sys::mnl_socket_get_fd(socket.as_raw_socket()) };
    for (opt, want) in [(libc::SO_SNDBUFFORCE, send), (libc::SO_RCVBUFFORCE, recv)] {
        let v = libc::c_int::try_from(want).unwrap_or(libc::c_int::MAX);
        // SAFETY: setsockopt reads one c_int from a live local.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&raw const v).cast::<c_void>(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn nlmsg_seq(msg: &[u8]) -> Option<u32> {
    // struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid }
    msg.get(8..12)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
}

fn cstr(s: &str) -> Result<CString, KernelError> {
    CString::new(s).map_err(|_| KernelError::Program(format!("name {s:?} contains NUL")))
}

/// An owned `nftnl_set`, written as NEWSET or (for element chunks) NEWSETELEM.
struct RawSet {
    ptr: NonNull<sys::nftnl_set>,
    elems_only: bool,
    /// Written as DELSET, or DELSETELEM for element chunks (none: flush).
    delete: bool,
    _strings: Vec<CString>,
}

impl Drop for RawSet {
    fn drop(&mut self) {
        // SAFETY: allocated by nftnl_set_alloc in `alloc` and freed only here.
        unsafe { sys::nftnl_set_free(self.ptr.as_ptr()) };
    }
}

impl RawSet {
    fn alloc(table: &str, name: &str, id: u32) -> Result<Self, KernelError> {
        // SAFETY: a fresh allocation; null is checked.
        let ptr = NonNull::new(unsafe { sys::nftnl_set_alloc() })
            .ok_or_else(|| KernelError::Program("out of memory".into()))?;
        let table = cstr(table)?;
        let name = cstr(name)?;
        // SAFETY: ptr is a live set; libnftnl copies the strings.
        unsafe {
            let s = ptr.as_ptr();
            sys::nftnl_set_set_u32(s, sys::NFTNL_SET_FAMILY as u16, libc::NFPROTO_IPV4 as u32);
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_TABLE as u16, table.as_ptr());
            sys::nftnl_set_set_str(s, sys::NFTNL_SET_NAME as u16, name.as_ptr());
            sys::nftnl_set_set_u32(s, sys::NFTNL_SET_ID as u16, id);
        }
        Ok(Self {
            ptr,
            elems_only: false,
            delete: false,
            _strings: vec![table, name],
        })
    }

    fn set_u32(&self, attr: u32, v: u32) {
        // SAFETY: ptr is live; attr is a u32 attribute of nftnl_set.
        unsafe { sys::nftnl_set_set_u32(self.ptr.as_ptr(), attr as u16, v) };
    }

    fn set_data(&self, attr: u32, data: &[u8]) {
        let len = u32::try_from(data.len()).unwrap_or(0);
        // SAFETY: libnftnl copies `len` bytes from `data`.
        unsafe {
            sys::nftnl_set_set_data(
                self.ptr.as_ptr(),
                attr as u16,
                data.as_ptr().cast::<c_void>(),
                len,
            );
        }
    }

    fn named(table: &str, def: &SetDef, id: u32) -> Result<Self, KernelError> {
        let s = Self::alloc(table, &def.name, id)?;
        let hash = def.size.is_some();
        let mut flags = if hash {
            0
        } else {
            libc::NFT_SET_INTERVAL as u32
        };
        if def.verdict_map {
            flags |= libc::NFT_SET_MAP as u32;
        }
        if def.is_concat() && !hash {
            flags |= NFT_SET_CONCAT;
        }
        s.set_u32(sys::NFTNL_SET_FLAGS, flags);
        s.set_u32(sys::NFTNL_SET_KEY_TYPE, def.key_type());
        s.set_u32(sys::NFTNL_SET_KEY_LEN, def.key_len());
        if def.verdict_map {
            s.set_u32(sys::NFTNL_SET_DATA_TYPE, super::program::datatype::VERDICT);
            s.set_u32(sys::NFTNL_SET_DATA_LEN, 0);
        }
        if let Some(size) = def.size {
            // A declared size makes the kernel pick its fixed-size hash.
            s.set_u32(sys::NFTNL_SET_DESC_SIZE, size);
        } else if def.is_concat() {
            let lens: Vec<u8> = def.key.iter().map(|f| f.width() as u8).collect();
            s.set_data(sys::NFTNL_SET_DESC_CONCAT, &lens);
        }
        // The user data nft 1.0.6 stores (read off `nft --debug=mnl`), so nft
        // lists our sets exactly as its own: key byte order, and for
        // concatenations a typeof marker; maps add data byte order and interval.
        let udata: &[u8] = if def.is_concat() {
            &[0, 4, 0, 0, 0, 0, 3, 8, 0, 4, 13, 0, 0, 0, 1, 0]
        } else if def.verdict_map {
            &[0, 4, 2, 0, 0, 0, 1, 4, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0]
        } else {
            &[NFTNL_UDATA_SET_KEYBYTEORDER, 4, 2, 0, 0, 0]
        };
        s.set_data(sys::NFTNL_SET_USERDATA, udata);
        Ok(s)
    }

    /// `meta l4proto { tcp, udp }`: nft's anonymous constant set.
    fn anonymous_l4proto(table: &str, protos: &[L4], id: u32) -> Result<Self, KernelError> {
        let s = Self::alloc(table, "__set%d", id)?;
        s.set_u32(
            sys::NFTNL_SET_FLAGS,
            (libc::NFT_SET_ANONYMOUS | libc::NFT_SET_CONSTANT) as u32,
        );
        s.set_u32(
            sys::NFTNL_SET_KEY_TYPE,
            super::program::datatype::INET_PROTO,
        );
        s.set_u32(sys::NFTNL_SET_KEY_LEN, 1);
        s.set_u32(
            sys::NFTNL_SET_DESC_SIZE,
            u32::try_from(protos.len()).unwrap_or(0),
        );
        s.set_data(
            sys::NFTNL_SET_USERDATA,
            &[
                0, 4, 1, 0, 0, 0, 3, 14, 0, 4, 9, 0, 0, 0, 1, 6, 0, 4, 16, 0, 0, 0,
            ],
        );
        for p in protos {
            s.add_elem(&[p.0], None, false, None)?;
        }
        Ok(s)
    }

    fn add_elem(
        &self,
        key: &[u8],
        key_end: Option<&[u8]>,
        interval_end: bool,
        verdict: Option<&Verdict>,
    ) -> Result<(), KernelError> {
        // SAFETY: a fresh element, handed to the set (which frees it) below.
        let e = unsafe { sys::nftnl_set_elem_alloc() };
        if e.is_null() {
            return Err(KernelError::Program("out of memory".into()));
        }
        // SAFETY: e is live; libnftnl copies every buffer passed.
        unsafe {
            sys::nftnl_set_elem_set(
                e,
                sys::NFTNL_SET_ELEM_KEY as u16,
                key.as_ptr().cast::<c_void>(),
                key.len() as u32,
            );
            if let Some(end) = key_end {
                sys::nftnl_set_elem_set(
                    e,
                    sys::NFTNL_SET_ELEM_KEY_END as u16,
                    end.as_ptr().cast::<c_void>(),
                    end.len() as u32,
                );
            }
            if interval_end {
                sys::nftnl_set_elem_set_u32(
                    e,
                    sys::NFTNL_SET_ELEM_FLAGS as u16,
                    libc::NFT_SET_ELEM_INTERVAL_END as u32,
                );
            }
            match verdict {
                Some(Verdict::Jump(chain)) => {
                    let chain = cstr(chain)?;
                    sys::nftnl_set_elem_set_u32(
                        e,
                        sys::NFTNL_SET_ELEM_VERDICT as u16,
                        libc::NFT_JUMP as u32,
                    );
                    sys::nftnl_set_elem_set_str(
                        e,
                        sys::NFTNL_SET_ELEM_CHAIN as u16,
                        chain.as_ptr(),
                    );
                }
                Some(v) => {
                    sys::nftnl_set_elem_set_u32(
                        e,
                        sys::NFTNL_SET_ELEM_VERDICT as u16,
                        verdict_code(v),
                    );
                }
                None => {}
            }
            sys::nftnl_set_elem_add(self.ptr.as_ptr(), e);
        }
        Ok(())
    }

    /// A NEWSETELEM message carrying this set's elements.
    fn elements(&self) -> ElemsMsg<'_> {
        ElemsMsg(self)
    }
}

// SAFETY: writes one message of a set without elements (well below the
// maximum message size the batch reserves).
unsafe impl NlMsg for RawSet {
    unsafe fn write(&self, buf: *mut c_void, seq: u32, msg_type: MsgType) {
        if self.elems_only {
            // SAFETY: forwarded to the element writer with the caller's guarantees.
            unsafe { ElemsMsg(self).write(buf, seq, msg_type) };
            return;
        }
        let (ty, flags) = match msg_type {
            MsgType::Add => (libc::NFT_MSG_NEWSET, libc::NLM_F_CREATE | libc::NLM_F_ACK),
            MsgType::Del => (libc::NFT_MSG_DELSET, libc::NLM_F_ACK),
        };
        // SAFETY: buf has room for a maximal message (NlMsg contract).
        unsafe {
            let nlh = sys::nftnl_nlmsg_build_hdr(
                buf.cast::<c_char>(),
                ty as u16,
                libc::NFPROTO_IPV4 as u16,
                flags as u16,
                seq,
            );
            sys::nftnl_set_nlmsg_build_payload(nlh, self.ptr.as_ptr());
        }
    }
}

struct ElemsMsg<'a>(&'a RawSet);

// SAFETY: element chunks are capped at ELEMENTS_PER_MESSAGE, far below the
// maximum message size.
unsafe impl NlMsg for ElemsMsg<'_> {
    unsafe fn write(&self, buf: *mut c_void, seq: u32, _msg_type: MsgType) {
        // SAFETY: buf has room for a maximal message (NlMsg contract).
        unsafe {
            let (ty, flags) = if self.0.delete {
                (libc::NFT_MSG_DELSETELEM, libc::NLM_F_ACK)
            } else {
                (
                    libc::NFT_MSG_NEWSETELEM,
                    libc::NLM_F_CREATE | libc::NLM_F_EXCL | libc::NLM_F_ACK,
                )
            };
            let nlh = sys::nftnl_nlmsg_build_hdr(
                buf.cast::<c_char>(),
                ty as u16,
                libc::NFPROTO_IPV4 as u16,
                flags as u16,
                seq,
            );
            sys::nftnl_set_elems_nlmsg_build_payload(nlh, self.0.ptr.as_ptr());
        }
    }
}

/// The elements of a named set, split into messages of bounded size; each
/// chunk is a set object that only names the set (by name and id).
fn element_chunks(table: &str, def: &SetDef, id: u32) -> Result<Vec<RawSet>, KernelError> {
    let mut out = Vec::new();
    let mut cur: Option<RawSet> = None;
    let mut n = 0;
    let per = per_message(def);
    let mut add = |key: &[u8], end: Option<&[u8]>, flag: bool, v: Option<&Verdict>| {
        if n % per == 0 {
            if let Some(c) = cur.take() {
                out.push(c);
            }
            let mut c = RawSet::alloc(table, &def.name, id)?;
            c.elems_only = true;
            cur = Some(c);
        }
        n += 1;
        match &cur {
            Some(c) => c.add_elem(key, end, flag, v),
            None => Ok(()),
        }
    };
    if def.size.is_some() {
        for e in &def.elements {
            add(&e.start, None, false, e.verdict.as_ref())?;
        }
    } else if def.is_concat() {
        for e in &def.elements {
            add(&e.start, Some(&e.end), false, e.verdict.as_ref())?;
        }
    } else {
        for (key, flag, v) in rbtree_elements(def) {
            add(&key, None, flag, v)?;
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
    Ok(out)
}

fn verdict_code(v: &Verdict) -> u32 {
    match v {
        Verdict::Accept => libc::NF_ACCEPT as u32,
        Verdict::Drop => libc::NF_DROP as u32,
        Verdict::Jump(_) => libc::NFT_JUMP as u32,
    }
}

fn build_rule<'a>(
    chain: &'a Chain<'a>,
    def: &RuleDef,
    ids: &std::collections::HashMap<&str, u32>,
    anon: Option<u32>,
) -> Result<Rule<'a>, KernelError> {
    let mut rule = Rule::new(chain);
    for e in &def.exprs {
        let raw = RawExpr::new(e, ids, anon)?;
        rule.add_expr(&raw);
    }
    if let Some(c) = &def.comment {
        rule.set_comment(cstr(c)?)
            .map_err(|e| KernelError::Program(format!("comment {c:?}: {e}")))?;
    }
    Ok(rule)
}

/// One expression, resolved (set ids known), ready to become an `nftnl_expr`.
struct RawExpr {
    expr: Expr,
    set_id: u32,
    set_name: CString,
    chain: Option<CString>,
}

impl RawExpr {
    fn new(
        e: &Expr,
        ids: &std::collections::HashMap<&str, u32>,
        anon: Option<u32>,
    ) -> Result<Self, KernelError> {
        let (set_id, set_name) = match e {
            Expr::Lookup { set, .. } => (
                *ids.get(set.as_str())
                    .ok_or_else(|| KernelError::Program(format!("lookup of unknown set {set}")))?,
                cstr(set)?,
            ),
            Expr::LookupAnon => (
                anon.ok_or_else(|| KernelError::Program("anonymous lookup without a set".into()))?,
                cstr("__set%d")?,
            ),
            _ => (0, CString::default()),
        };
        let chain = match e {
            Expr::Verdict(Verdict::Jump(c)) => Some(cstr(c)?),
            _ => None,
        };
        Ok(Self {
            expr: e.clone(),
            set_id,
            set_name,
            chain,
        })
    }
}

impl nftnl::expr::Expression for RawExpr {
    fn to_expr(&self, _rule: &Rule<'_>) -> NonNull<sys::nftnl_expr> {
        let name: &std::ffi::CStr = match &self.expr {
            Expr::Payload { .. } => c"payload",
            Expr::Cmp { .. } => c"cmp",
            Expr::Mask(_) => c"bitwise",
            Expr::Lookup { .. } | Expr::LookupAnon => c"lookup",
            Expr::CtState => c"ct",
            Expr::MetaL4Proto(_) | Expr::MetaOifname => c"meta",
            Expr::ByteorderL4Proto(_) => c"byteorder",
            Expr::Verdict(_) => c"immediate",
            Expr::Masq => c"masq",
        };
        // SAFETY: nftnl_expr_alloc with a known expression name; the rule
        // takes ownership of the returned expression.
        let raw = unsafe { sys::nftnl_expr_alloc(name.as_ptr()) };
        let Some(ptr) = NonNull::new(raw) else {
            // Same policy as the nftnl crate: allocation failure aborts.
            std::process::abort();
        };
        let x = ptr.as_ptr();
        let u32_ = |attr: u32, v: u32| {
            // SAFETY: x is live; attr is a u32 attribute of this expression.
            unsafe { sys::nftnl_expr_set_u32(x, attr as u16, v) };
        };
        let data = |attr: u32, d: &[u8]| {
            // SAFETY: libnftnl copies the bytes.
            unsafe {
                sys::nftnl_expr_set(x, attr as u16, d.as_ptr().cast::<c_void>(), d.len() as u32);
            }
        };
        let reg1 = libc::NFT_REG_1 as u32;
        match &self.expr {
            Expr::Payload {
                header,
                offset,
                len,
                dreg,
            } => {
                let base = match header {
                    Header::Network => libc::NFT_PAYLOAD_NETWORK_HEADER,
                    Header::Transport => libc::NFT_PAYLOAD_TRANSPORT_HEADER,
                };
                u32_(sys::NFTNL_EXPR_PAYLOAD_DREG, *dreg);
                u32_(sys::NFTNL_EXPR_PAYLOAD_BASE, base as u32);
                u32_(sys::NFTNL_EXPR_PAYLOAD_OFFSET, *offset);
                u32_(sys::NFTNL_EXPR_PAYLOAD_LEN, *len);
            }
            Expr::Cmp { neq, data: d } => {
                u32_(sys::NFTNL_EXPR_CMP_SREG, reg1);
                let op = if *neq {
                    libc::NFT_CMP_NEQ
                } else {
                    libc::NFT_CMP_EQ
                };
                u32_(sys::NFTNL_EXPR_CMP_OP, op as u32);
                data(sys::NFTNL_EXPR_CMP_DATA, d);
            }
            Expr::Mask(mask) => {
                u32_(sys::NFTNL_EXPR_BITWISE_SREG, reg1);
                u32_(sys::NFTNL_EXPR_BITWISE_DREG, reg1);
                u32_(sys::NFTNL_EXPR_BITWISE_LEN, mask.len() as u32);
                data(sys::NFTNL_EXPR_BITWISE_MASK, mask);
                data(sys::NFTNL_EXPR_BITWISE_XOR, &vec![0; mask.len()]);
            }
            Expr::Lookup { .. } | Expr::LookupAnon => {
                // Name and id were resolved in RawExpr::new, for named and anonymous sets alike.
                u32_(sys::NFTNL_EXPR_LOOKUP_SREG, reg1);
                // SAFETY: libnftnl copies the string.
                unsafe {
                    sys::nftnl_expr_set_str(
                        x,
                        sys::NFTNL_EXPR_LOOKUP_SET as u16,
                        self.set_name.as_ptr(),
                    );
                }
                u32_(sys::NFTNL_EXPR_LOOKUP_SET_ID, self.set_id);
                if let Expr::Lookup { inverted, map, .. } = &self.expr {
                    if *inverted {
                        u32_(sys::NFTNL_EXPR_LOOKUP_FLAGS, libc::NFT_LOOKUP_F_INV as u32);
                    }
                    if *map {
                        u32_(sys::NFTNL_EXPR_LOOKUP_DREG, libc::NFT_REG_VERDICT as u32);
                    }
                }
            }
            Expr::CtState => {
                u32_(sys::NFTNL_EXPR_CT_KEY, libc::NFT_CT_STATE as u32);
                u32_(sys::NFTNL_EXPR_CT_DREG, reg1);
            }
            Expr::MetaL4Proto(dreg) => {
                u32_(sys::NFTNL_EXPR_META_KEY, libc::NFT_META_L4PROTO as u32);
                u32_(sys::NFTNL_EXPR_META_DREG, *dreg);
            }
            Expr::MetaOifname => {
                u32_(sys::NFTNL_EXPR_META_KEY, libc::NFT_META_OIFNAME as u32);
                u32_(sys::NFTNL_EXPR_META_DREG, reg1);
            }
            Expr::ByteorderL4Proto(reg) => {
                u32_(sys::NFTNL_EXPR_BYTEORDER_SREG, *reg);
                u32_(sys::NFTNL_EXPR_BYTEORDER_DREG, *reg);
                u32_(
                    sys::NFTNL_EXPR_BYTEORDER_OP,
                    libc::NFT_BYTEORDER_HTON as u32,
                );
                u32_(sys::NFTNL_EXPR_BYTEORDER_LEN, 1);
                u32_(sys::NFTNL_EXPR_BYTEORDER_SIZE, 2);
            }
            Expr::Verdict(v) => {
                u32_(sys::NFTNL_EXPR_IMM_DREG, libc::NFT_REG_VERDICT as u32);
                u32_(sys::NFTNL_EXPR_IMM_VERDICT, verdict_code(v));
                if let Some(c) = &self.chain {
                    // SAFETY: libnftnl copies the string.
                    unsafe {
                        sys::nftnl_expr_set_str(x, sys::NFTNL_EXPR_IMM_CHAIN as u16, c.as_ptr());
                    }
                }
            }
            Expr::Masq => {}
        }
        ptr
    }
}
