//! XOR distance between 256-bit keys (Kademlia paper §2.1).

use std::fmt;

use tazcom_identity::PeerId;

/// Number of k-buckets: one per bit of a 256-bit key.
pub const NUM_BUCKETS: usize = 256;

/// The XOR of two 256-bit keys (peer id bytes), ordered as a big-endian
/// 256-bit unsigned integer (Kademlia paper §2.1: d(x, y) = x ⊕ y, "interpreted
/// as an integer").
///
/// Stored as four big-endian `u64` words, most significant first, so the
/// derived lexicographic `Ord` is the integer order.
///
/// ```
/// use tazcom_dht::{Distance, PeerId};
///
/// let a = PeerId::from_bytes([0; 32]);
/// let mut b = [0u8; 32];
/// b[31] = 0b101; // differs in bits 2 and 0
/// let d = Distance::between(&a, &PeerId::from_bytes(b));
/// assert_eq!(d.leading_zeros(), 253);
/// assert_eq!(d.bucket_index(), Some(2)); // highest differing bit
/// assert!(Distance::between(&a, &a).is_zero());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Distance([u64; 4]);

impl Distance {
    /// The zero distance (a key to itself).
    pub const ZERO: Distance = Distance([0; 4]);

    /// `a ⊕ b`. Symmetric; zero only when `a == b`.
    pub fn between(a: &PeerId, b: &PeerId) -> Distance {
        Distance::from_keys(a.as_bytes(), b.as_bytes())
    }

    /// `a ⊕ b` over raw 32-byte keys.
    pub fn from_keys(a: &[u8; 32], b: &[u8; 32]) -> Distance {
        let (wa, wb) = (words(a), words(b));
        Distance([wa[0] ^ wb[0], wa[1] ^ wb[1], wa[2] ^ wb[2], wa[3] ^ wb[3]])
    }

    /// The most significant 64 bits of `a ⊕ b`: when they differ between
    /// two distances, they alone decide the order (a cheap first test).
    pub(crate) fn high_word_between(a: &PeerId, b: &PeerId) -> u64 {
        high_word(a.as_bytes()) ^ high_word(b.as_bytes())
    }

    /// The most significant 64 bits.
    pub(crate) fn high_word(&self) -> u64 {
        self.0[0]
    }

    /// A distance from its 32 big-endian bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Distance {
        Distance(words(&bytes))
    }

    /// The 32 big-endian bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// Whether the distance is zero (same key).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 4]
    }

    /// Number of leading zero bits, 0..=256 (256 for [`Distance::ZERO`]):
    /// the length of the common prefix of the two keys.
    pub fn leading_zeros(&self) -> u32 {
        let mut zeros = 0;
        for word in self.0 {
            if word != 0 {
                return zeros + word.leading_zeros();
            }
            zeros += 64;
        }
        zeros
    }

    /// The k-bucket this distance falls in: the index of the highest set
    /// bit, `255 - leading_zeros()`, so bucket `i` holds distances in
    /// `[2^i, 2^(i+1))` (the paper's numbering, §2.2; also libp2p-kad's).
    /// `None` for [`Distance::ZERO`]: a node keeps no bucket for itself.
    pub fn bucket_index(&self) -> Option<usize> {
        let lz = self.leading_zeros() as usize;
        (lz < NUM_BUCKETS).then(|| NUM_BUCKETS - 1 - lz)
    }

    /// Bit `i` (0 = least significant, 255 = most significant); `false`
    /// for `i` ≥ 256.
    pub fn bit(&self, i: usize) -> bool {
        if i >= NUM_BUCKETS {
            return false;
        }
        let word = self.0[3 - i / 64];
        (word >> (i % 64)) & 1 == 1
    }
}

/// Four big-endian words, most significant first.
fn words(bytes: &[u8; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut be = [0u8; 8];
        be.copy_from_slice(chunk);
        *word = u64::from_be_bytes(be);
    }
    out
}

impl fmt::Debug for Distance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Distance({self})")
    }
}

/// 64 lowercase hex digits, most significant first.
impl fmt::Display for Distance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for word in self.0 {
            write!(f, "{word:016x}")?;
        }
        Ok(())
    }
}

/// The first 8 bytes of a key as a big-endian integer.
fn high_word(key: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&key[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_with_bit(i: usize) -> [u8; 32] {
        let mut k = [0u8; 32];
        k[31 - i / 8] = 1 << (i % 8);
        k
    }

    #[test]
    fn bucket_index_is_the_highest_differing_bit() {
        for i in 0..NUM_BUCKETS {
            let d = Distance::from_keys(&[0; 32], &key_with_bit(i));
            assert_eq!(d.bucket_index(), Some(i));
            assert_eq!(d.leading_zeros() as usize, 255 - i);
            assert!(d.bit(i));
            assert!(!d.bit((i + 1) % NUM_BUCKETS));
        }
        assert_eq!(Distance::ZERO.bucket_index(), None);
        assert_eq!(Distance::ZERO.leading_zeros(), 256);
    }

    #[test]
    fn order_is_big_endian_integer_order() {
        let low = Distance::from_bytes(key_with_bit(63));
        let high = Distance::from_bytes(key_with_bit(64));
        assert!(low < high);
        let mut top = [0u8; 32];
        top[0] = 0x80;
        assert!(Distance::from_bytes(top) > Distance::from_bytes([0x7f; 32]));
    }

    #[test]
    fn bytes_round_trip_and_display_is_hex() {
        let mut b = [0u8; 32];
        b[0] = 0xab;
        b[31] = 0x01;
        let d = Distance::from_bytes(b);
        assert_eq!(d.to_bytes(), b);
        let s = d.to_string();
        assert_eq!(s.len(), 64);
        assert!(s.starts_with("ab") && s.ends_with("01"));
    }
}
