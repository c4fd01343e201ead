//! Entry point for the `txt_record` fuzz target and its corpus regression
//! test (`fuzz/`, docs/fuzzing.md).
//!
//! Only built with the `fuzzing` feature and hidden from the docs: not part
//! of the API, may change in any release.

use std::net::IpAddr;

use mdns_sd::{ServiceInfo, TxtProperties};

use crate::event::{PeerInfo, RejectReason};
use crate::mdns::convert::peer_info;
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
