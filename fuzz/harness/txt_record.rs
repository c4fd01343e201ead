//! Harness of the `txt_record` fuzz target, shared with the corpus
//! regression test `crates/discovery/tests/fuzz_corpus.rs` (docs/fuzzing.md).
//!
//! Input layout (missing bytes read as empty):
//! `port: u16 BE | name_len: u8 | fullname: name_len bytes (lossy UTF-8) |
//! addr_count: u8 (mod 4) | per address: tag (even: 4 bytes IPv4, odd: 16
//! bytes IPv6) | the rest: TXT RDATA`. The record goes through the mDNS
//! browser's conversion to a `PeerInfo`; panics (the fuzzer's finding) when
//! the conversion panics or its result breaks a documented property.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tazcom_discovery::fuzzing::peer_info_from_record;
use tazcom_discovery::wire::{SERVICE_TYPE, TXT_ID_KEY};

/// Runs one input; see the module docs.
pub(crate) fn run(data: &[u8]) {
    let mut input = Input(data);
    let port = u16::from_be_bytes([input.byte(), input.byte()]);
    let name_len = usize::from(input.byte());
    let fullname = String::from_utf8_lossy(input.take(name_len)).into_owned();
    let mut addrs = Vec::new();
    for _ in 0..input.byte() % 4 {
        let addr = if input.byte() % 2 == 0 {
            IpAddr::from(Ipv4Addr::from(input.array::<4>()))
        } else {
            IpAddr::from(Ipv6Addr::from(input.array::<16>()))
        };
        addrs.push(addr);
    }
    let txt = input.0;
    match peer_info_from_record(&fullname, port, &addrs, txt) {
        Ok(info) => {
            assert_ne!(port, 0, "port 0 accepted");
            let id = info.txt.get(TXT_ID_KEY);
            assert_eq!(id, Some(&info.peer_id.to_string()), "TXT id differs");
            assert!(info
                .txt
                .keys()
                .all(|k| !k.bytes().any(|b| b.is_ascii_uppercase())));
            let ips: BTreeSet<IpAddr> = addrs.iter().copied().collect();
            assert_eq!(info.addrs.len(), ips.len(), "one address per IP");
            assert!(info.addrs.windows(2).all(|w| w[0] < w[1]), "not sorted");
            assert!(info
                .addrs
                .iter()
                .all(|a| a.port() == port && ips.contains(&a.ip())));
            assert!(
                fullname.starts_with(&info.instance_name),
                "label not a prefix"
            );
            let stripped = info.instance_name.len() < fullname.len();
            assert!(
                !stripped || fullname.len() == info.instance_name.len() + 1 + SERVICE_TYPE.len()
            );
        }
        Err(reason) => assert!(!reason.to_string().is_empty()),
    }
}

/// The unread rest of the input.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }

    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// `N` bytes, zero-padded when the input runs out.
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }
}
