//! Entry points for the `txt_record` fuzz target and its corpus regression
//! test (`fuzz/`, docs/fuzzing.md), and for the probe parser's corpus
//! replay (tests/fuzz_corpus.rs).
//!
//! Only built with the `fuzzing` feature and hidden from the docs: not part
//! of the API, may change in any release.

use std::net::IpAddr;

use mdns_sd::{ServiceInfo, TxtProperties};
use tazcom_identity::PeerId;

use crate::event::{PeerInfo, RejectReason};
use crate::mdns::convert::peer_info;
use crate::mdns::probe::ProbeParser;
use crate::wire::SERVICE_TYPE;

/// Runs the conversion the mDNS browser applies to a resolved service
/// (`mdns/convert.rs`) on a record assembled from raw parts: the instance's
/// full name, the SRV port, the A/AAAA addresses and the TXT record's RDATA
/// (length-prefixed `key=value` strings, RFC 6763 §6), decoded by `mdns-sd`
/// exactly as it decodes received packets. The service type is
/// [`SERVICE_TYPE`].
///
/// # Errors
///
/// The [`RejectReason`] the browser would report for this record.
pub fn peer_info_from_record(
    fullname: &str,
    port: u16,
    addrs: &[IpAddr],
    txt_rdata: &[u8],
) -> Result<PeerInfo, RejectReason> {
    // `ServiceInfo::new` only fails on bad addresses or TXT keys, and this
    // record has neither: the fuzzed parts are set on the fields below.
    let info = ServiceInfo::new(SERVICE_TYPE, "fuzz", "fuzz.local.", (), port, None)
        .expect("a service without addresses or TXT entries is valid");
    let mut resolved = info.as_resolved_service();
    resolved.fullname = fullname.to_string();
    resolved.addresses = addrs.iter().map(|ip| (*ip).into()).collect();
    resolved.txt_properties = TxtProperties::from(txt_rdata);
    peer_info(&resolved, SERVICE_TYPE)
}

/// The peer id [`probe_hints`] treats as its own: 32 zero bytes.
pub const PROBE_OWN_ID: PeerId = PeerId::from_bytes([0; 32]);

/// Runs the mDNS probe parser (`mdns/probe.rs`) on `packet`, received from
/// `source`, for [`SERVICE_TYPE`] and own id [`PROBE_OWN_ID`]: the hints
/// the probe listener would report (before de-duplication), or `None` when
/// `packet` is not a DNS message.
pub fn probe_hints(packet: &[u8], source: IpAddr) -> Option<Vec<PeerInfo>> {
    let parser = ProbeParser::new(SERVICE_TYPE, PROBE_OWN_ID);
    parser.scan(packet, source).ok().map(|scan| scan.hints)
}
