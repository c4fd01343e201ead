//! The binding payload of Noise messages 2 and 3 (`docs/wire.md` §3.8):
//! the sender's id and the connection's two addresses, signed over the
//! sender's Noise static key. Pure functions, no I/O.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use tazcom_identity::{Domain, Identity, PeerId, Signature, PEER_ID_LEN, SIGNATURE_LEN};

/// The binding signature's signing context ([`BINDING_DOMAIN`]).
const DOMAIN: Domain = Domain::new(BINDING_DOMAIN);

use super::{HandshakeError, BINDING_DOMAIN, BINDING_VERSION, NOISE_KEY_LEN};

/// The address encoding of the binding payload: family byte 4 or 6, then 4
/// or 16 address bytes, then the port (u16 big endian); 7 or 19 bytes. An
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is encoded as IPv4; the IPv6
/// scope id and flow label are not encoded.
pub fn encode_address(addr: SocketAddr) -> Vec<u8> {
    let addr = canonical(addr);
    let mut out = Vec::with_capacity(19);
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
    out
}

/// The address as the payload carries it: IPv4-mapped IPv6 becomes IPv4,
/// scope id and flow label dropped.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => SocketAddr::new(IpAddr::V6(ip), addr.port()),
        },
        IpAddr::V4(_) => addr,
    }
}

/// Decodes one address at the start of `bytes`; returns it and its length.
/// Only the canonical form [`encode_address`] writes: an IPv4-mapped IPv6
/// address under family 6 is refused.
fn decode_address(bytes: &[u8]) -> Result<(SocketAddr, usize), HandshakeError> {
    let short = HandshakeError::BadPayload {
        reason: "truncated address",
    };
    let (ip, len): (IpAddr, usize) = match bytes.first() {
        Some(4) => {
            let octets: [u8; 4] = bytes.get(1..5).ok_or(short)?.try_into().unwrap_or_default();
            (IpAddr::from(octets), 7)
        }
        Some(6) => {
            let octets: [u8; 16] = bytes
                .get(1..17)
                .ok_or(short)?
                .try_into()
                .unwrap_or_default();
            let ip = Ipv6Addr::from(octets);
            // The sender MUST encode it as IPv4 (family 4); accepting it
            // here would make two wire forms of one payload.
            if ip.to_ipv4_mapped().is_some() {
                return Err(HandshakeError::BadPayload {
                    reason: "IPv4-mapped address encoded as IPv6",
                });
            }
            (IpAddr::V6(ip), 19)
        }
        Some(_) => {
            return Err(HandshakeError::BadPayload {
                reason: "unknown address family",
            })
        }
        None => return Err(short),
    };
    let port = bytes.get(len - 2..len).ok_or(HandshakeError::BadPayload {
        reason: "truncated address",
    })?;
    let port = u16::from_be_bytes([port[0], port[1]]);
    Ok((SocketAddr::new(ip, port), len))
}

/// The handshake payload of XX messages 2 and 3: the sender's Ed25519 id,
/// the two ends of the TCP connection as the sender sees them, and a
/// signature binding them to the sender's Noise static key
/// (`docs/wire.md` §3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingPayload {
    /// The sender's peer id (its Ed25519 verifying key).
    pub peer: PeerId,
    /// The sender's own end of the connection (its socket's local address).
    pub local: SocketAddr,
    /// The other end as the sender sees it (its socket's peer address).
    pub remote: SocketAddr,
    /// The TCP port the sender listens on (its SRV port), 0 when it does
    /// not say. With the connection's bound source IP it names the
    /// initiator's listen address (`docs/wire.md` §3.8.4).
    pub listen_port: u16,
    /// The sender's signature over [`signed_bytes`](Self::signed_bytes).
    pub signature: Signature,
}

impl BindingPayload {
    /// The payload `identity` sends for a Noise static key `noise_static`,
    /// the connection `local` → `remote` (as it sees them) and its listen
    /// port (0: none).
    pub fn sign(
        identity: &Identity,
        noise_static: &[u8; NOISE_KEY_LEN],
        local: SocketAddr,
        remote: SocketAddr,
        listen_port: u16,
    ) -> BindingPayload {
        let (local, remote) = (canonical(local), canonical(remote));
        let signed = Self::signed_bytes(noise_static, local, remote, listen_port);
        BindingPayload {
            peer: identity.peer_id(),
            local,
            remote,
            listen_port,
            // `signed_bytes` starts with the domain; the identity adds it.
            signature: identity.sign(&DOMAIN, &signed[BINDING_DOMAIN.len()..]),
        }
    }

    /// The signed bytes: [`BINDING_DOMAIN`] ‖ Noise static key (32) ‖
    /// `local` encoding ‖ `remote` encoding ([`encode_address`]) ‖ listen
    /// port (u16 big endian).
    pub fn signed_bytes(
        noise_static: &[u8],
        local: SocketAddr,
        remote: SocketAddr,
        listen_port: u16,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(BINDING_DOMAIN.len() + NOISE_KEY_LEN + 40);
        out.extend_from_slice(BINDING_DOMAIN);
        out.extend_from_slice(noise_static);
        out.extend_from_slice(&encode_address(local));
        out.extend_from_slice(&encode_address(remote));
        out.extend_from_slice(&listen_port.to_be_bytes());
        out
    }

    /// The wire form: version (1) ‖ peer id (32) ‖ `local` ‖ `remote` ‖
    /// listen port (2) ‖ signature (64); 113, 125 or 137 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(137);
        out.push(BINDING_VERSION);
        out.extend_from_slice(self.peer.as_bytes());
        out.extend_from_slice(&encode_address(self.local));
        out.extend_from_slice(&encode_address(self.remote));
        out.extend_from_slice(&self.listen_port.to_be_bytes());
        out.extend_from_slice(self.signature.as_bytes());
        out
    }

    /// Parses the wire form. Checks the version, the layout and the exact
    /// length, and that the peer id is a valid Ed25519 key; not the
    /// signature (see [`check`](Self::check)).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::BadPayload`] naming the first problem.
    pub fn decode(bytes: &[u8]) -> Result<BindingPayload, HandshakeError> {
        let bad = |reason| HandshakeError::BadPayload { reason };
        match bytes.first() {
            None => return Err(bad("empty payload")),
            Some(&BINDING_VERSION) => {}
            Some(_) => return Err(bad("unsupported payload version")),
        }
        let mut at = 1;
        let id: [u8; PEER_ID_LEN] = bytes
            .get(at..at + PEER_ID_LEN)
            .ok_or(bad("truncated peer id"))?
            .try_into()
            .unwrap_or_default();
        at += PEER_ID_LEN;
        let (local, len) = decode_address(&bytes[at..])?;
        at += len;
        let (remote, len) = decode_address(&bytes[at..])?;
        at += len;
        let port = bytes.get(at..at + 2).ok_or(bad("truncated listen port"))?;
        let listen_port = u16::from_be_bytes([port[0], port[1]]);
        at += 2;
        let sig: [u8; SIGNATURE_LEN] = bytes
            .get(at..at + SIGNATURE_LEN)
            .ok_or(bad("truncated signature"))?
            .try_into()
            .map_err(|_| bad("truncated signature"))?;
        at += SIGNATURE_LEN;
        if at != bytes.len() {
            return Err(bad("trailing bytes after the signature"));
        }
        let peer = PeerId::from_bytes(id);
        peer.validate().map_err(|_| bad("invalid verifying key"))?;
        Ok(BindingPayload {
            peer,
            local,
            remote,
            listen_port,
            signature: Signature::from_bytes(sig),
        })
    }

    /// The checks on a received payload, in order: the signature verifies
    /// under [`peer`](Self::peer) over `remote_static` (the peer's Noise
    /// static key, as the handshake reports it) and the two addresses
    /// ([`HandshakeError::BadSignature`]); the peer is `expected`
    /// ([`HandshakeError::WrongPeer`]); the peer's `local` is our socket's
    /// peer address and its `remote` our socket's local address
    /// ([`HandshakeError::AddressMismatch`]). The same on both sides.
    ///
    /// # Errors
    ///
    /// The first check that fails.
    pub fn check(
        &self,
        remote_static: &[u8],
        expected: &PeerId,
        our_local: SocketAddr,
        our_peer: SocketAddr,
    ) -> Result<(), HandshakeError> {
        let signed = Self::signed_bytes(remote_static, self.local, self.remote, self.listen_port);
        tazcom_identity::verify(
            &self.peer,
            &DOMAIN,
            &signed[BINDING_DOMAIN.len()..],
            &self.signature,
        )
        .map_err(|_| HandshakeError::BadSignature)?;
        if self.peer != *expected {
            return Err(HandshakeError::WrongPeer {
                expected: *expected,
                found: self.peer,
            });
        }
        for (expected, got) in [(our_peer, self.local), (our_local, self.remote)] {
            let expected = canonical(expected);
            if canonical(got) != expected {
                return Err(HandshakeError::AddressMismatch { expected, got });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::NoiseKeys;

    fn v4(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_encoding() {
        let cases: &[(&str, &[u8])] = &[
            ("127.0.0.1:5000", &[4, 127, 0, 0, 1, 0x13, 0x88]),
            ("[::ffff:10.0.0.2]:1", &[4, 10, 0, 0, 2, 0, 1]),
            (
                "[fe80::1%7]:65535",
                &[
                    6, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff,
                ],
            ),
        ];
        for (addr, bytes) in cases {
            assert_eq!(encode_address(v4(addr)), *bytes, "{addr}");
            let (decoded, len) = decode_address(bytes).unwrap();
            assert_eq!(len, bytes.len());
            assert_eq!(canonical(decoded), canonical(v4(addr)));
        }
    }

    fn sample() -> (Identity, NoiseKeys, BindingPayload) {
        let id = Identity::from_seed([7; 32]);
        let keys = NoiseKeys::generate().unwrap();
        let p = BindingPayload::sign(
            &id,
            keys.public(),
            v4("10.0.0.1:4000"),
            v4("10.0.0.2:50000"),
            4000,
        );
        (id, keys, p)
    }

    #[test]
    fn payload_round_trip_and_length() {
        let (_, _, p) = sample();
        let bytes = p.encode();
        assert_eq!(bytes.len(), 113);
        assert_eq!(BindingPayload::decode(&bytes).unwrap(), p);
        let six = BindingPayload {
            local: v4("[::1]:1"),
            remote: v4("[::2]:2"),
            ..p
        };
        assert_eq!(six.encode().len(), 137);
    }

    #[test]
    fn payload_decode_table() {
        let (_, _, p) = sample();
        let good = p.encode();
        let mut bad_version = good.clone();
        bad_version[0] = 2;
        let mut bad_family = good.clone();
        bad_family[33] = 5;
        let mut trailing = good.clone();
        trailing.push(0);
        // The local address 10.0.0.1:4000 as family 6, `::ffff:10.0.0.1`:
        // the fuzzer's finding (docs/fuzzing.md); its encode gave family 4.
        let mut mapped_local = good[..33].to_vec();
        mapped_local.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
        mapped_local.extend_from_slice(&good[34..]);
        assert_eq!(mapped_local.len(), 125);
        let mut bad_key = good.clone();
        // y = 2 with the sign bit: not on the curve.
        bad_key[1..33].copy_from_slice(&{
            let mut k = [0u8; 32];
            k[0] = 2;
            k
        });
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "empty payload"),
            ("version", bad_version, "unsupported payload version"),
            ("family", bad_family, "unknown address family"),
            ("trailing", trailing, "trailing bytes after the signature"),
            (
                "short sig",
                good[..good.len() - 1].to_vec(),
                "truncated signature",
            ),
            ("short id", good[..20].to_vec(), "truncated peer id"),
            ("short addr", good[..36].to_vec(), "truncated address"),
            ("short port", good[..48].to_vec(), "truncated listen port"),
            (
                "mapped local",
                mapped_local,
                "IPv4-mapped address encoded as IPv6",
            ),
        ];
        for (name, bytes, want) in cases {
            match BindingPayload::decode(&bytes) {
                Err(HandshakeError::BadPayload { reason }) => assert_eq!(reason, want, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        // A key that is not a valid point (if this byte string happens to be one, skip).
        if PeerId::from_bytes(bad_key[1..33].try_into().unwrap())
            .validate()
            .is_err()
        {
            assert!(matches!(
                BindingPayload::decode(&bad_key),
                Err(HandshakeError::BadPayload {
                    reason: "invalid verifying key"
                })
            ));
        }
    }

    #[test]
    fn payload_check_table() {
        let (id, keys, p) = sample();
        let other_keys = NoiseKeys::generate().unwrap();
        // The receiver sees the connection from the other end.
        let (their_local, their_peer) = (v4("10.0.0.2:50000"), v4("10.0.0.1:4000"));
        let me = id.peer_id();
        let stranger = Identity::from_seed([9; 32]).peer_id();
        let mut tampered = p;
        let mut sig = tampered.signature.to_bytes();
        sig[5] ^= 1;
        tampered.signature = Signature::from_bytes(sig);
        let moved = BindingPayload {
            remote: v4("10.0.0.3:50000"),
            ..p
        };

        type Case<'a> = (
            &'a str,
            BindingPayload,
            &'a [u8; 32],
            PeerId,
            SocketAddr,
            SocketAddr,
        );
        type Want = fn(&HandshakeError) -> bool;
        let cases: Vec<(Case<'_>, Want)> = vec![
            (
                ("ok", p, keys.public(), me, their_local, their_peer),
                |_| false,
            ),
            (
                (
                    "tampered sig",
                    tampered,
                    keys.public(),
                    me,
                    their_local,
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::BadSignature),
            ),
            (
                (
                    "other noise key",
                    p,
                    other_keys.public(),
                    me,
                    their_local,
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::BadSignature),
            ),
            (
                (
                    "addresses changed after signing",
                    moved,
                    keys.public(),
                    me,
                    their_local,
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::BadSignature),
            ),
            (
                (
                    "wrong peer",
                    p,
                    keys.public(),
                    stranger,
                    their_local,
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::WrongPeer { .. }),
            ),
            (
                (
                    "relay: peer's local differs",
                    p,
                    keys.public(),
                    me,
                    their_local,
                    v4("10.0.0.9:4000"),
                ),
                |e| matches!(e, HandshakeError::AddressMismatch { .. }),
            ),
            (
                (
                    "relay: peer's remote differs",
                    p,
                    keys.public(),
                    me,
                    v4("10.0.0.9:1"),
                    their_peer,
                ),
                |e| matches!(e, HandshakeError::AddressMismatch { .. }),
            ),
            (
                (
                    "v4-mapped v6 socket",
                    p,
                    keys.public(),
                    me,
                    v4("[::ffff:10.0.0.2]:50000"),
                    v4("[::ffff:10.0.0.1]:4000"),
                ),
                |_| false,
            ),
        ];
        for ((name, payload, key, expected, local, peer), is_want) in cases {
            match payload.check(key, &expected, local, peer) {
                Ok(()) => assert!(
                    name == "ok" || name.starts_with("v4-mapped"),
                    "{name} passed"
                ),
                Err(e) => assert!(is_want(&e), "{name}: {e:?}"),
            }
        }
    }

    /// The test vector of `docs/wire.md` §3.8 (Ed25519 is deterministic).
    #[test]
    fn binding_test_vector() {
        let id = Identity::from_seed([7; 32]);
        let noise_static = [0x11u8; 32];
        let local: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.2:50000".parse().unwrap();
        let p = BindingPayload::sign(&id, &noise_static, local, remote, 4000);
        assert_eq!(
            id.peer_id().to_string(),
            "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
        );
        assert_eq!(
            hex::encode(BindingPayload::signed_bytes(
                &noise_static,
                local,
                remote,
                4000
            )),
            "74617a636f6d2f73657373696f6e2f312062696e64696e67\
             1111111111111111111111111111111111111111111111111111111111111111\
             04c00002010fa0\
             04c0000202c350\
             0fa0"
        );
        assert_eq!(
            hex::encode(p.encode()),
            "01\
             ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c\
             04c00002010fa0\
             04c0000202c350\
             0fa0\
             eae6591203f23708e264084da391d9973fecfb94f19d7caccc7dbb56c8a1bdfc\
             427265be1f879b4d780f2f4608ed607606af7f9607feeca51d3ac7a62c648d0b"
        );
        let decoded = BindingPayload::decode(&p.encode()).unwrap();
        decoded
            .check(&noise_static, &id.peer_id(), remote, local)
            .unwrap();
    }
}
