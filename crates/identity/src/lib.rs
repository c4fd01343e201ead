//! Ed25519 identity and peer ids for TAZCOM nodes.
//!
//! ```
//! use tazcom_identity::{verify, Domain, Identity, PeerId};
//!
//! // Every signature is made in a domain (domain separation, `Domain`).
//! const NOTE: Domain = Domain::new(b"example/note/1\0");
//! let me = Identity::generate();
//! let sig = me.sign(&NOTE, b"hello");
//!
//! // Peers know each other by `PeerId`, whose wire form is 64 lowercase hex chars.
//! let wire = me.peer_id().to_string();
//! let peer: PeerId = wire.parse()?;
//! verify(&peer, &NOTE, b"hello", &sig)?;
//! assert!(verify(&peer, &NOTE, b"hellO", &sig).is_err());
//! println!("peer id {peer} (short {})", peer.short());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A node keeps its identity across restarts in a key file:
//! [`Identity::load_or_generate`] loads it, or creates it (mode 0600,
//! atomically, never overwriting an existing file) on first start.
//!
//! Layout, one module per concept:
//! - [`peer_id`]: [`PeerId`], the public key bytes and their hex wire form.
//! - [`identity`]: [`Identity`], the keypair; signing.
//! - [`domain`]: [`Domain`], the signing context every signature is made in.
//! - [`signature`]: [`Signature`]; [`verify`], strict signature verification.
//! - [`key_file`]: loading and creating the key file.
//! - [`error`]: [`PeerIdError`], [`IdentityError`], [`KeyFileError`].
//!
//! No `ed25519-dalek` type is part of the public API: [`PeerId`] is the
//! public form of a verifying key and [`Signature`] is this crate's own, so a
//! major release of `ed25519-dalek` is not a breaking change here. Formats
//! and protocols: `docs/identity.md`.

pub mod domain;
pub mod error;
pub mod identity;
pub mod key_file;
pub mod peer_id;
pub mod signature;

pub use domain::Domain;
pub use error::{IdentityError, KeyFileError, PeerIdError};
pub use identity::{Identity, SEED_LEN};
pub use peer_id::{PeerId, PEER_ID_HEX_LEN, PEER_ID_LEN, PEER_ID_SHORT_LEN};
pub use signature::{verify, KeyCache, Signature, SIGNATURE_LEN};
