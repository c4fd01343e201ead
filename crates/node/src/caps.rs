//! Capabilities announced in TXT records (`docs/wire.md` §2: `v=`, `caps=`).

use std::collections::BTreeMap;

use tazcom_registry::Capabilities;

/// TXT key of the protocol version (decimal, `1` for this implementation).
pub const TXT_VERSION_KEY: &str = "v";
/// TXT key of the capability list (comma-separated tokens, e.g. `validator`).
pub const TXT_CAPS_KEY: &str = "caps";
/// The capability token that marks a validator.
pub const CAP_VALIDATOR: &str = "validator";
/// The capability token of a node that accepts session upgrades (§3.8).
pub const CAP_SESSION: &str = "session";
/// The protocol version this node announces.
pub const PROTOCOL_VERSION: u16 = 1;

/// Reads capabilities from a TXT record. Both keys are optional (the Python
/// prototype sends neither): a missing or malformed `v` reads as 0, unknown
/// capability tokens are ignored.
pub fn from_txt(txt: &BTreeMap<String, String>) -> Capabilities {
    let protocol_version = txt
        .get(TXT_VERSION_KEY)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let has = |token: &str| {
        txt.get(TXT_CAPS_KEY)
            .is_some_and(|caps| caps.split(',').any(|c| c.trim() == token))
    };
    Capabilities {
        validator: has(CAP_VALIDATOR),
        protocol_version,
        sessions: has(CAP_SESSION),
    }
}

/// The TXT entries that announce `caps` (besides `id`, which discovery adds).
pub fn to_txt(caps: &Capabilities) -> BTreeMap<String, String> {
    let mut txt = BTreeMap::new();
    txt.insert(
        TXT_VERSION_KEY.to_owned(),
        caps.protocol_version.to_string(),
    );
    let tokens: Vec<&str> = [
        (caps.validator, CAP_VALIDATOR),
        (caps.sessions, CAP_SESSION),
    ]
    .into_iter()
    .filter_map(|(on, token)| on.then_some(token))
    .collect();
    if !tokens.is_empty() {
        txt.insert(TXT_CAPS_KEY.to_owned(), tokens.join(","));
    }
    txt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn prototype_txt_has_no_capabilities() {
        assert_eq!(from_txt(&txt(&[("id", "00")])), Capabilities::default());
    }

    #[test]
    fn version_and_validator_are_read_leniently() {
        let caps = from_txt(&txt(&[("v", "1"), ("caps", "relay, validator")]));
        assert_eq!((caps.protocol_version, caps.validator), (1, true));
        assert!(!caps.sessions);
        let both = from_txt(&txt(&[("caps", "session,validator")]));
        assert!(both.sessions && both.validator);
        let bad = from_txt(&txt(&[("v", "one"), ("caps", "validators")]));
        assert_eq!((bad.protocol_version, bad.validator), (0, false));
    }

    #[test]
    fn round_trip() {
        let caps = Capabilities {
            validator: true,
            protocol_version: PROTOCOL_VERSION,
            sessions: true,
        };
        assert_eq!(from_txt(&to_txt(&caps)), caps);
        assert_eq!(to_txt(&caps)[TXT_CAPS_KEY], "validator,session");
        let plain = Capabilities {
            validator: false,
            protocol_version: 1,
            sessions: false,
        };
        assert!(!to_txt(&plain).contains_key(TXT_CAPS_KEY));
    }
}
