//! Reads the records a starting peer proposes in its mDNS probes (RFC 6762
//! §8.1, §8.2) into unconfirmed [`PeerInfo`] hints. Pure: bytes in, hints
//! out, no I/O. Every byte is untrusted: nothing here indexes or panics.

use std::net::{IpAddr, SocketAddr};

use simple_dns::rdata::{RData, SRV, TXT};
use simple_dns::{Name, Packet, PacketFlag, ResourceRecord, SimpleDnsError, OPCODE, RCODE};
use tazcom_identity::PeerId;
use tracing::debug;

use super::convert::{check_port, txt_fields, TxtFields};
use crate::event::{PeerInfo, RejectReason};

/// Why an SRV record in a probe gave no hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ignored {
    /// The record is not `<instance>.<our service type>`.
    OtherServiceType,
    /// The instance label is not UTF-8.
    NonUtf8Instance,
    /// The record proposes our own peer id (our own probe, looped back).
    OwnId,
    /// The TXT record or the port is refused, as a resolved service would be.
    Rejected(RejectReason),
    /// No usable address: no A/AAAA record of the SRV target that a TCP
    /// connection could go to, and a source address that cannot stand in
    /// (unspecified, multicast, broadcast, IPv6 link-local).
    NoAddress,
}

/// One SRV record of a probe that gave no hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IgnoredRecord {
    /// The record's full name, in DNS presentation format.
    pub(crate) name: String,
    pub(crate) reason: Ignored,
}

/// What one packet holds: hints and the records that gave none. Both are
/// empty for packets that are not probes (responses, plain queries).
#[derive(Debug, Default)]
pub(crate) struct ProbeScan {
    pub(crate) hints: Vec<PeerInfo>,
    pub(crate) ignored: Vec<IgnoredRecord>,
}

/// Reads probes of one service type, leaving out our own.
#[derive(Debug, Clone)]
pub(crate) struct ProbeParser {
    /// Labels of the service type, e.g. `_tazcom`, `_tcp`, `local`.
    service_labels: Vec<Vec<u8>>,
    own_id: PeerId,
}

impl ProbeParser {
    /// A parser for `service_type` (`_name._tcp.local.`, as validated by
    /// `MdnsConfig`) that ignores probes proposing `own_id`.
    pub(crate) fn new(service_type: &str, own_id: PeerId) -> Self {
        let service_labels = service_type
            .split('.')
            .filter(|label| !label.is_empty())
            .map(|label| label.as_bytes().to_vec())
            .collect();
        ProbeParser {
            service_labels,
            own_id,
        }
    }

    /// The hints in `packet`, received from `source`.
    ///
    /// A probe is a standard query (QR = 0, opcode 0, RCODE 0; RFC 6762
    /// §18) with a non-empty Authority section. Each SRV record there named
    /// `<instance>.<service type>` gives a hint, built from the TXT record
    /// of the same name in the Authority section and the A/AAAA records of
    /// the SRV target in the Authority or Additional section (IPv6
    /// link-local ones are left out: their scope is unknown here); with no
    /// A record, the source address stands in.
    ///
    /// Errors: the `simple-dns` error when `packet` is not a DNS message.
    pub(crate) fn scan(&self, packet: &[u8], source: IpAddr) -> Result<ProbeScan, SimpleDnsError> {
        let packet = Packet::parse(packet)?;
        let mut scan = ProbeScan::default();
        if !is_probe(&packet) {
            return Ok(scan);
        }
        for record in &packet.name_servers {
            let RData::SRV(srv) = &record.rdata else {
                continue;
            };
            match self.hint(&packet, record, srv, source) {
                Ok(hint) => scan.hints.push(hint),
                Err(reason) => scan.ignored.push(IgnoredRecord {
                    name: record.name.to_string(),
                    reason,
                }),
            }
        }
        Ok(scan)
    }

    /// The hint of one proposed SRV record.
    fn hint(
        &self,
        packet: &Packet<'_>,
        record: &ResourceRecord<'_>,
        srv: &SRV<'_>,
        source: IpAddr,
    ) -> Result<PeerInfo, Ignored> {
        let label = self
            .instance_label(&record.name)
            .ok_or(Ignored::OtherServiceType)?;
        let instance_name = std::str::from_utf8(label)
            .map_err(|_| Ignored::NonUtf8Instance)?
            .to_string();
        let txt = packet.name_servers.iter().find_map(|r| match &r.rdata {
            RData::TXT(txt) if r.name == record.name => Some(txt),
            _ => None,
        });
        let TxtFields { peer_id, txt } = read_txt(txt).map_err(Ignored::Rejected)?;
        let port = check_port(srv.port).map_err(Ignored::Rejected)?;
        if peer_id == self.own_id {
            return Err(Ignored::OwnId);
        }
        let addrs = addresses(source, port);
        if addrs.is_empty() {
            return Err(Ignored::NoAddress);
        }
        Ok(PeerInfo {
            peer_id,
            addrs,
            instance_name,
            txt,
        })
    }

    /// The instance label of `name` when it is `<label>.<service type>`
    /// (labels compared ignoring ASCII case, as DNS names are).
    fn instance_label<'n>(&self, name: &'n Name<'_>) -> Option<&'n [u8]> {
        let (first, rest) = name.get_labels().split_first()?;
        let same_type = rest.len() == self.service_labels.len()
            && rest
                .iter()
                .zip(&self.service_labels)
                .all(|(label, want)| label.as_ref().eq_ignore_ascii_case(want));
        same_type.then(|| first.as_ref())
    }
}

/// Whether a TCP connection could go to `ip`: not unspecified, multicast
/// or the IPv4 broadcast address, and not IPv6 link-local (which needs its
/// interface as scope id, unknown here).
fn usable(ip: IpAddr) -> bool {
    let special = match ip {
        IpAddr::V4(v4) => v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    };
    !(special || ip.is_unspecified() || ip.is_multicast())
}

/// QR = 0, standard query, no error, and something proposed.
fn is_probe(packet: &Packet<'_>) -> bool {
    !packet.has_flags(PacketFlag::RESPONSE)
        && packet.opcode() == OPCODE::StandardQuery
        && packet.rcode() == RCODE::NoError
        && !packet.name_servers.is_empty()
}

/// The TXT entries through the same checks as resolved services; no TXT
/// record reads as one without `id`. Non-UTF-8 keys are left out, as
/// `mdns-sd` does for resolved services.
fn read_txt(txt: Option<&TXT<'_>>) -> Result<TxtFields, RejectReason> {
    let entries = txt.into_iter().flat_map(TXT::iter_raw);
    txt_fields(
        entries.filter_map(|(key, value)| match std::str::from_utf8(key) {
            Ok(key) => Some((key, value)),
            Err(_) => {
                debug!(key = %String::from_utf8_lossy(key), "probe TXT key is not UTF-8; left out");
                None
            }
        }),
    )
}

/// The one TCP address a hint may lead a node to: the probe packet's
/// `source` IP with the SRV `port` (issue 13, probe hints as a reflector:
/// the packet's A/AAAA records are unauthenticated and may name any third
/// party, loopback included, so they are not used). Empty when the source
/// is not [`usable`].
fn addresses(source: IpAddr, port: u16) -> Vec<SocketAddr> {
    if usable(source) {
        vec![SocketAddr::new(source, port)]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::rdata::{A, AAAA};
    use simple_dns::{Question, CLASS, QCLASS, QTYPE};
    use std::net::Ipv4Addr;

    const TY: &str = "_tazcom._tcp.local.";
    const FROM: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 9));

    fn id(byte: u8) -> PeerId {
        PeerId::from_bytes([byte; 32])
    }

    fn parser() -> ProbeParser {
        ProbeParser::new(TY, id(0))
    }

    fn record<'a>(name: &'a str, rdata: RData<'a>) -> ResourceRecord<'a> {
        ResourceRecord::new(Name::new_unchecked(name), CLASS::IN, 120, rdata).with_cache_flush(true)
    }

    /// A probe like mdns-sd's for `instance` of `ty`: questions for the
    /// service and host names, SRV + TXT + `ips` in the Authority section.
    fn probe(instance: &str, ty: &str, port: u16, txt: &[&str], ips: &[IpAddr]) -> Vec<u8> {
        let full = format!("{instance}.{ty}");
        let host = "h1.local.";
        let mut packet = Packet::new_query(0);
        for name in [full.as_str(), host] {
            packet.questions.push(Question::new(
                Name::new_unchecked(name),
                QTYPE::ANY,
                QCLASS::CLASS(CLASS::IN),
                false,
            ));
        }
        for ip in ips {
            let rdata = match ip {
                IpAddr::V4(v4) => RData::A(A::from(*v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA::from(*v6)),
            };
            packet.name_servers.push(record(host, rdata));
        }
        let mut txt_record = TXT::new();
        for entry in txt {
            txt_record.add_string(entry).unwrap();
        }
        packet
            .name_servers
            .push(record(&full, RData::TXT(txt_record)));
        let target = Name::new_unchecked(host);
        let srv = SRV {
            priority: 0,
            weight: 0,
            port,
            target,
        };
        packet.name_servers.push(record(&full, RData::SRV(srv)));
        packet.build_bytes_vec_compressed().unwrap()
    }

    fn id_entry(peer: PeerId) -> String {
        format!("id={peer}")
    }

    #[test]
    fn a_probe_gives_a_hint_with_port_id_and_addresses() {
        let peer = id(0xab);
        let ips = [
            "fe80::1".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
        ];
        let bytes = probe(
            "TAZCOM Node abababab",
            "_TAZCOM._tcp.LOCAL.",
            4000,
            &[&id_entry(peer), "V=1"],
            &ips,
        );
        let scan = parser().scan(&bytes, FROM).unwrap();
        assert!(scan.ignored.is_empty(), "{:?}", scan.ignored);
        let [hint] = &scan.hints[..] else {
            panic!("expected one hint, got {:?}", scan.hints);
        };
        assert_eq!(hint.peer_id, peer);
        assert_eq!(hint.instance_name, "TAZCOM Node abababab");
        // Its A/AAAA records (10.0.0.2, 2001:db8::1) are not used: only the
        // packet's source (issue 13, probe hints as a reflector).
        assert_eq!(hint.addrs, [SocketAddr::from((FROM, 4000))]);
        assert_eq!(hint.txt.get("v").map(String::as_str), Some("1"));
        assert_eq!(hint.txt.get("id"), Some(&peer.to_string()));
    }

    #[test]
    fn third_party_addresses_in_a_probe_are_never_hinted() {
        // 40 ids, each naming loopback and a third party: one hint per id,
        // each at the packet's source only.
        let third: [IpAddr; 2] = ["127.0.0.1".parse().unwrap(), "10.9.9.9".parse().unwrap()];
        let bytes = probe("p", TY, 4001, &[&id_entry(id(1))], &third);
        let scan = parser().scan(&bytes, FROM).unwrap();
        let addrs: Vec<SocketAddr> = scan.hints.iter().flat_map(|h| h.addrs.clone()).collect();
        assert_eq!(addrs, vec![SocketAddr::from((FROM, 4001))]);
    }

    #[test]
    fn an_unusable_source_does_not_stand_in() {
        for source in ["0.0.0.0", "224.0.0.251", "255.255.255.255", "fe80::1", "::"] {
            let source: IpAddr = source.parse().unwrap();
            let link_local: IpAddr = "fe80::2".parse().unwrap();
            let bytes = probe("p", TY, 4002, &[&id_entry(id(1))], &[link_local]);
            let scan = parser().scan(&bytes, source).unwrap();
            assert!(scan.hints.is_empty(), "{source}: {:?}", scan.hints);
            let reasons: Vec<&Ignored> = scan.ignored.iter().map(|r| &r.reason).collect();
            assert_eq!(reasons, [&Ignored::NoAddress], "{source}");
        }
    }

    #[test]
    fn responses_and_plain_queries_give_nothing() {
        let bytes = probe("p", TY, 4000, &[&id_entry(id(1))], &[FROM]);
        let mut response = Packet::parse(&bytes).unwrap();
        response.set_flags(PacketFlag::RESPONSE);
        let response = response.build_bytes_vec().unwrap();
        let scan = parser().scan(&response, FROM).unwrap();
        assert!(scan.hints.is_empty() && scan.ignored.is_empty());

        let mut query = Packet::parse(&bytes).unwrap();
        query.name_servers.clear();
        let query = query.build_bytes_vec().unwrap();
        let scan = parser().scan(&query, FROM).unwrap();
        assert!(scan.hints.is_empty() && scan.ignored.is_empty());
    }

    #[test]
    fn another_service_type_is_ignored() {
        for ty in ["_other._tcp.local.", "_tazcom._udp.local.", "_tcp.local."] {
            let bytes = probe("p", ty, 4000, &[&id_entry(id(1))], &[FROM]);
            let scan = parser().scan(&bytes, FROM).unwrap();
            assert!(scan.hints.is_empty(), "{ty}");
            assert_eq!(scan.ignored.len(), 1, "{ty}");
            assert_eq!(scan.ignored[0].reason, Ignored::OtherServiceType);
        }
    }

    #[test]
    fn our_own_probe_is_ignored() {
        let bytes = probe(
            "TAZCOM Node 00000000",
            TY,
            4000,
            &[&id_entry(id(0))],
            &[FROM],
        );
        let scan = parser().scan(&bytes, FROM).unwrap();
        assert!(scan.hints.is_empty());
        assert_eq!(scan.ignored[0].reason, Ignored::OwnId);
    }

    #[test]
    fn bad_txt_ids_and_port_zero_are_ignored_with_the_reason() {
        let upper = format!("id={}", "AB".repeat(32));
        type Case<'a> = (&'a [&'a str], u16, fn(&Ignored) -> bool);
        let cases: [Case<'_>; 4] = [
            (&[upper.as_str()], 4000, |r| {
                matches!(r, Ignored::Rejected(RejectReason::InvalidId { .. }))
            }),
            (&["v=1"], 4000, |r| {
                *r == Ignored::Rejected(RejectReason::MissingId)
            }),
            (&[], 4000, |r| {
                *r == Ignored::Rejected(RejectReason::MissingId)
            }),
            (&["id=ab"], 0, |r| {
                matches!(r, Ignored::Rejected(RejectReason::InvalidId { .. }))
            }),
        ];
        for (txt, port, want) in cases {
            let bytes = probe("p", TY, port, txt, &[FROM]);
            let scan = parser().scan(&bytes, FROM).unwrap();
            assert!(scan.hints.is_empty(), "{txt:?}");
            assert!(
                matches!(&scan.ignored[..], [one] if want(&one.reason) && one.name == "p._tazcom._tcp.local"),
                "{txt:?}: {:?}",
                scan.ignored
            );
        }
        let good = id_entry(id(1));
        let zero = probe("p", TY, 0, &[&good], &[FROM]);
        let scan = parser().scan(&zero, FROM).unwrap();
        assert_eq!(
            scan.ignored[0].reason,
            Ignored::Rejected(RejectReason::ZeroPort)
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"\x00", &[0xff; 11], &[0xff; 64]] {
            assert!(parser().scan(bytes, FROM).is_err(), "{bytes:?}");
        }
        let bytes = probe("p", TY, 4000, &[&id_entry(id(1))], &[FROM]);
        let cut = bytes.get(..bytes.len() - 3).unwrap();
        assert!(parser().scan(cut, FROM).is_err(), "truncated probe");
    }

    /// Deterministic xorshift, so a failure can be replayed.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Each hint keeps the documented shape, whatever the input.
    fn check(bytes: &[u8]) {
        if let Ok(scan) = parser().scan(bytes, FROM) {
            for hint in scan.hints {
                assert!(!hint.addrs.is_empty());
                assert!(hint.addrs.windows(2).all(|w| w[0] < w[1]));
                assert!(hint.addrs.iter().all(|a| a.port() != 0));
                assert_eq!(hint.txt.get("id"), Some(&hint.peer_id.to_string()));
                assert_ne!(hint.peer_id, id(0));
            }
        }
    }

    #[test]
    fn mutated_probes_and_random_bytes_never_panic() {
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let valid = probe("p", TY, 4000, &[&id_entry(id(1)), "v=1"], &[FROM, v6]);
        check(&valid);
        for len in 0..valid.len() {
            check(valid.get(..len).unwrap_or_default());
        }
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut bytes = valid.clone();
            for _ in 0..1 + next(&mut state) % 4 {
                let at = (next(&mut state) % bytes.len() as u64) as usize;
                if let Some(byte) = bytes.get_mut(at) {
                    *byte = next(&mut state) as u8;
                }
            }
            check(&bytes);
        }
        for _ in 0..2000 {
            let len = (next(&mut state) % 600) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next(&mut state) as u8).collect();
            if let Some(flags) = bytes.get_mut(2) {
                *flags &= 0x7f; // a query, so that the sections get parsed
            }
            check(&bytes);
        }
    }

    #[test]
    fn a_probe_needs_no_question() {
        let bytes = probe("p", TY, 4000, &[&id_entry(id(1))], &[FROM]);
        let mut packet = Packet::parse(&bytes).unwrap();
        packet.questions.clear();
        let scan = parser()
            .scan(&packet.build_bytes_vec().unwrap(), FROM)
            .unwrap();
        assert_eq!(scan.hints.len(), 1);
    }
}
