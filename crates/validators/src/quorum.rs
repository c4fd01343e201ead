//! Byzantine fault tolerance arithmetic: how many faulty validators a set of
//! `n` tolerates, and how many must agree.
//!
//! Sources: Lamport, Shostak, Pease, "The Byzantine Generals Problem",
//! ACM TOPLAS 4(3), 1982 (agreement with `f` arbitrary faults needs
//! `n ≥ 3f + 1`); Castro, Liskov, "Practical Byzantine Fault Tolerance",
//! OSDI 1999 (`n = 3f + 1` replicas, quorums of `2f + 1`).

/// The largest number of faulty (Byzantine) validators a set of `n`
/// tolerates: `f = ⌊(n − 1) / 3⌋`, the largest `f` with `n ≥ 3f + 1`
/// (Lamport, Shostak, Pease 1982). `0` for `n = 0`.
///
/// ```
/// use tazcom_validators::max_faulty;
/// assert_eq!(max_faulty(0), 0);
/// assert_eq!(max_faulty(4), 1);
/// assert_eq!(max_faulty(7), 2);
/// ```
pub const fn max_faulty(n: usize) -> usize {
    n.saturating_sub(1) / 3
}

/// The BFT quorum for `n` validators: `n − f` with `f` = [`max_faulty`]`(n)`;
/// `None` for `n = 0` (no quorum can be formed: refuse to decide).
///
/// This is `2f + 1` when `n = 3f + 1` (Castro, Liskov 1999) and, for any
/// `n`, the smallest integer strictly greater than `2n / 3`. Two quorums
/// share at least `n − 2f ≥ f + 1` validators, so at least one honest one
/// (safety), and the `n − f` validators that are not faulty can form a quorum
/// on their own (liveness). See `docs/validators.md` for the table.
///
/// ```
/// use tazcom_validators::quorum_size;
/// assert_eq!(quorum_size(0), None);
/// assert_eq!(quorum_size(1), Some(1));
/// assert_eq!(quorum_size(4), Some(3));
/// assert_eq!(quorum_size(6), Some(5));
/// ```
pub const fn quorum_size(n: usize) -> Option<usize> {
    if n == 0 {
        None
    } else {
        Some(n - max_faulty(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (n, f, quorum) for n = 0..=10, the table in docs/validators.md.
    const TABLE: [(usize, usize, Option<usize>); 11] = [
        (0, 0, None),
        (1, 0, Some(1)),
        (2, 0, Some(2)),
        (3, 0, Some(3)),
        (4, 1, Some(3)),
        (5, 1, Some(4)),
        (6, 1, Some(5)),
        (7, 2, Some(5)),
        (8, 2, Some(6)),
        (9, 2, Some(7)),
        (10, 3, Some(7)),
    ];

    #[test]
    fn f_and_quorum_match_the_documented_table() {
        for (n, f, q) in TABLE {
            assert_eq!(max_faulty(n), f, "f for n = {n}");
            assert_eq!(quorum_size(n), q, "quorum for n = {n}");
        }
    }

    #[test]
    fn quorums_intersect_in_an_honest_validator_and_honest_ones_reach_one() {
        for n in 1..=1_000usize {
            let f = max_faulty(n);
            let q = quorum_size(n).unwrap_or(0);
            assert!(n > 3 * f, "n ≥ 3f + 1 for n = {n}");
            // Two quorums of q out of n share at least 2q − n validators.
            let shared = (2 * q).saturating_sub(n);
            assert!(shared > f, "intersection ≥ f + 1 for n = {n}");
            assert!(
                q <= n - f,
                "the honest validators alone form a quorum, n = {n}"
            );
            // Strictly more than two thirds, and the smallest such integer.
            assert!(
                3 * q > 2 * n && 3 * (q - 1) <= 2 * n,
                "q = ⌊2n/3⌋ + 1 for n = {n}"
            );
        }
    }

    #[test]
    fn quorum_is_two_f_plus_one_when_n_is_three_f_plus_one() {
        for f in 0..100usize {
            assert_eq!(max_faulty(3 * f + 1), f);
            assert_eq!(quorum_size(3 * f + 1), Some(2 * f + 1));
        }
    }
}
