//! Harness of the `probe_packet` fuzz target, shared with the corpus
//! regression test `crates/discovery/tests/fuzz_corpus.rs` (docs/fuzzing.md).
//!
//! Input layout: `selector: u8 | source | the rest: the mDNS packet`. The
//! selector picks the source address the packet came from: `% 4 == 0` an
//! IPv4 address from the next 4 bytes, `% 4 == 1` an IPv6 address from the
//! next 16 bytes (zero-padded when the input runs out), otherwise the fixed
//! [`FIXED_SOURCE`] and no bytes. The packet goes through the probe parser
//! (`crates/discovery/src/mdns/probe.rs`); panics (the fuzzer's finding)
//! when the parser panics or a hint breaks a documented property.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tazcom_discovery::fuzzing::{probe_hints, PROBE_OWN_ID};
use tazcom_discovery::wire::TXT_ID_KEY;
use tazcom_discovery::PeerInfo;

/// The source address when the selector names no other (TEST-NET-1).
pub(crate) const FIXED_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// Longest DNS label in bytes (RFC 1035 §2.3.4): the instance label.
const MAX_LABEL: usize = 63;

/// Runs one input; see the module docs.
pub(crate) fn run(data: &[u8]) {
    let (source, packet) = split(data);
    let Some(hints) = probe_hints(packet, source) else {
        return;
    };
    if !hints.is_empty() {
        check_header(packet, hints.len());
    }
    for hint in &hints {
        check_hint(hint, source);
    }
}

/// The source address and the packet.
fn split(data: &[u8]) -> (IpAddr, &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return (FIXED_SOURCE, data);
    };
    match selector % 4 {
        0 => {
            let (octets, packet) = array::<4>(rest);
            (IpAddr::V4(Ipv4Addr::from(octets)), packet)
        }
        1 => {
            let (octets, packet) = array::<16>(rest);
            (IpAddr::V6(Ipv6Addr::from(octets)), packet)
        }
        _ => (FIXED_SOURCE, rest),
    }
}

/// The first `N` bytes of `data` (zero-padded) and the rest.
fn array<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let (head, tail) = data.split_at(N.min(data.len()));
    let mut out = [0; N];
    out[..head.len()].copy_from_slice(head);
    (out, tail)
}

/// A packet with hints is a probe (RFC 6762 §18): QR = 0, opcode 0 and
/// RCODE 0 in the header, and at least one Authority record per hint (each
/// hint comes from one SRV record there).
fn check_header(packet: &[u8], hints: usize) {
    let flags = packet.get(2..4).expect("a parsed packet has a header");
    assert_eq!(flags[0] & 0xf8, 0, "hints from a response or non-query");
    assert_eq!(flags[1] & 0x0f, 0, "hints from a packet with an RCODE");
    let authority = packet.get(8..10).expect("a parsed packet has a header");
    let authority = usize::from(u16::from_be_bytes([authority[0], authority[1]]));
    assert!(hints <= authority, "{hints} hints from {authority} records");
}

/// The shape `ProbeParser::scan` promises for each hint.
fn check_hint(hint: &PeerInfo, source: IpAddr) {
    assert_ne!(hint.peer_id, PROBE_OWN_ID, "own id hinted");
    let id = hint.txt.get(TXT_ID_KEY);
    assert_eq!(id, Some(&hint.peer_id.to_string()), "TXT id differs");
    assert!(
        hint.txt
            .keys()
            .all(|k| !k.bytes().any(|b| b.is_ascii_uppercase())),
        "TXT key not lowercased: {:?}",
        hint.txt.keys()
    );
    assert!(!hint.instance_name.is_empty(), "empty instance name");
    assert!(
        hint.instance_name.len() <= MAX_LABEL,
        "instance not a label"
    );
    check_addrs(&hint.addrs, source);
}

/// Non-empty, sorted with IPv4 first, one port (not 0). No address is
/// unspecified, multicast, the IPv4 broadcast address or IPv6 link-local,
/// the source's included; a usable source stands in when no record gave an
/// IPv4 address (`addresses` and `usable` in probe.rs).
fn check_addrs(addrs: &[SocketAddr], source: IpAddr) {
    let Some(first) = addrs.first() else {
        panic!("hint without addresses");
    };
    assert!(
        addrs.windows(2).all(|w| w[0] < w[1]),
        "not sorted: {addrs:?}"
    );
    let v4 = addrs.iter().take_while(|a| a.is_ipv4()).count();
    assert!(
        addrs[v4..].iter().all(SocketAddr::is_ipv6),
        "IPv4 not first"
    );
    assert_ne!(first.port(), 0, "port 0");
    assert!(
        addrs.iter().all(|a| a.port() == first.port()),
        "ports differ"
    );
    for addr in addrs {
        assert!(usable(addr.ip()), "{} kept", addr.ip());
    }
    let record_v4 = addrs.iter().any(|a| a.is_ipv4() && a.ip() != source);
    let has_source = addrs.iter().any(|a| a.ip() == source);
    assert!(
        has_source || record_v4 || !usable(source),
        "no IPv4 record and a usable source left out"
    );
}

/// An address a TCP connection could go to (independent of probe.rs).
fn usable(ip: IpAddr) -> bool {
    let special = match ip {
        IpAddr::V4(v4) => v4.octets() == [255; 4] || v4.octets()[0] & 0xf0 == 0xe0,
        IpAddr::V6(v6) => v6.segments()[0] & 0xff00 == 0xff00,
    };
    !(special || ip.is_unspecified() || is_v6_link_local(ip))
}

/// `fe80::/10`.
fn is_v6_link_local(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}
