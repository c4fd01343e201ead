//! The order in which `closest` visits buckets.
//!
//! Let `D = local ⊕ target`. A contact `P` in bucket `i` has `P ⊕ local`
//! with highest set bit `i`, so its distance to the target,
//! `P ⊕ target = (P ⊕ local) ⊕ D`, agrees with `D` above bit `i` and has bit
//! `i` equal to `¬D[i]`, lower bits free. Each bucket therefore covers one
//! contiguous range of distances to the target, and the ranges are disjoint:
//!
//! - buckets `i` with `D[i] = 1` (bit `i` of the distance is 0: the contact
//!   shares a longer prefix with the target), from the highest `i` down,
//!   come first;
//! - then buckets with `D[i] = 0`, from the lowest `i` up.
//!
//! Comparing two buckets `i > j` at bit `i` shows why: bucket `i`'s
//! distances have `¬D[i]` there, bucket `j`'s have `D[i]`.

use crate::distance::{Distance, NUM_BUCKETS};

/// Bucket indexes in increasing order of their distance range to a target.
pub(crate) struct BucketOrder {
    /// `local ⊕ target`.
    d: Distance,
    /// 0..NUM_BUCKETS: the descending pass over set bits; then the
    /// ascending pass over clear bits; done at 2 × NUM_BUCKETS.
    step: usize,
}

impl BucketOrder {
    pub(crate) fn new(d: Distance) -> Self {
        Self { d, step: 0 }
    }
}

impl Iterator for BucketOrder {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.step < 2 * NUM_BUCKETS {
            let step = self.step;
            self.step += 1;
            if step < NUM_BUCKETS {
                let i = NUM_BUCKETS - 1 - step;
                if self.d.bit(i) {
                    return Some(i);
                }
            } else {
                let i = step - NUM_BUCKETS;
                if !self.d.bit(i) {
                    return Some(i);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_every_bucket_once() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0b1010_0000;
        bytes[31] = 0b0000_0011;
        let mut seen: Vec<usize> = BucketOrder::new(Distance::from_bytes(bytes)).collect();
        assert_eq!(&seen[..4], &[255, 253, 1, 0]);
        assert_eq!(seen[4], 2);
        seen.sort_unstable();
        assert_eq!(seen, (0..NUM_BUCKETS).collect::<Vec<_>>());
    }

    #[test]
    fn target_equal_to_local_visits_buckets_nearest_first() {
        let order: Vec<usize> = BucketOrder::new(Distance::ZERO).collect();
        assert_eq!(order, (0..NUM_BUCKETS).collect::<Vec<_>>());
    }
}
