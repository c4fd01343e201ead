//! How registry events map to mesh operations.

use tazcom_identity::PeerId;
use tazcom_registry::{Change, Origin, PeerEntry, RegistryEvent};

use crate::journal::{Journal, Op};
use crate::mesh::Mesh;
use crate::reachability::Reachability;
use crate::stats::MeshObserverStats;

/// A mesh kept in step with the registry, with the undo record of the last
/// commit. [`MeshObserver`](crate::MeshObserver) wraps it in a mutex.
#[derive(Debug, Clone)]
pub(crate) struct Follower {
    pub(crate) mesh: Mesh,
    pub(crate) reachability: Reachability,
    journal: Option<Journal>,
    pub(crate) stats: MeshObserverStats,
}

impl Follower {
    pub(crate) fn new(mesh: Mesh, reachability: Reachability) -> Self {
        Self {
            mesh,
            reachability,
            journal: None,
            stats: MeshObserverStats::default(),
        }
    }

    /// Applies one event. O(Σ degree of the peers it touches).
    pub(crate) fn apply(&mut self, event: &RegistryEvent) {
        match event.origin {
            Origin::Commit => {
                let ops = self.apply_changes(event.changes());
                self.journal = Some(Journal {
                    seq: event.seq,
                    ops,
                });
                self.stats.commits += 1;
            }
            Origin::Replay => {
                // Applied like a commit, but nothing can roll a replay back.
                self.apply_changes(event.changes());
                self.journal = None;
                self.stats.replays += 1;
            }
            Origin::Rollback => self.roll_back(event.seq),
        }
    }

    /// Undoes the last commit if it is `seq`. The rollback's own changes are
    /// not used: they cannot bring back the links a removal deleted.
    fn roll_back(&mut self, seq: u64) {
        match self.journal.take() {
            Some(journal) if journal.seq == seq => {
                tracing::debug!(seq, ops = journal.ops.len(), "mesh: rolling back commit");
                journal.undo(&mut self.mesh);
                self.stats.rollbacks += 1;
            }
            other => {
                // Nothing of this commit was applied here: nothing to undo.
                tracing::warn!(
                    seq,
                    last_commit = other.map(|j| j.seq),
                    "mesh: rollback of a commit this mesh did not apply; ignored"
                );
                self.stats.unmatched_rollbacks += 1;
            }
        }
    }

    fn apply_changes(&mut self, changes: &[Change]) -> Vec<Op> {
        let mut ops = Vec::new();
        for change in changes {
            self.apply_change(change, &mut ops);
        }
        ops
    }

    /// Added / Updated: the peer is a vertex, linked to the local node iff
    /// reachable. Removed: the peer and all its links go.
    fn apply_change(&mut self, change: &Change, ops: &mut Vec<Op>) {
        let peer = match change {
            Change::Added(e) | Change::Updated { new: e, .. } | Change::Removed(e) => e.peer_id,
        };
        if peer == self.mesh.local() {
            // The local node may see its own announcement; it is not its own neighbour.
            tracing::debug!(%peer, "mesh: registry entry for the local node ignored");
            self.stats.local_entries_ignored += 1;
            return;
        }
        match change {
            Change::Added(entry) | Change::Updated { new: entry, .. } => self.upsert(entry, ops),
            Change::Removed(_) => {
                if let Ok(Some(links)) = self.mesh.remove_node(&peer) {
                    ops.push(Op::NodeRemoved { peer, links });
                }
            }
        }
    }

    fn upsert(&mut self, entry: &PeerEntry, ops: &mut Vec<Op>) {
        let peer = entry.peer_id;
        if self.mesh.add_node(peer) {
            ops.push(Op::NodeAdded(peer));
        }
        let reachable = self.reachability.is_reachable(entry);
        self.set_local_link(peer, reachable, ops);
    }

    fn set_local_link(&mut self, peer: PeerId, linked: bool, ops: &mut Vec<Op>) {
        let local = self.mesh.local();
        if linked {
            if matches!(self.mesh.add_link(peer, local), Ok(true)) {
                ops.push(Op::LinkAdded(peer, local));
            }
        } else if self.mesh.remove_link(&peer, &local) {
            ops.push(Op::LinkRemoved(peer, local));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use tazcom_registry::{Change, EventKind, Origin, PeerEntry, RegistryEvent, Source};

    use super::*;

    fn p(n: u8) -> PeerId {
        PeerId::from_bytes([n; 32])
    }

    fn entry(n: u8, reachable: bool) -> Arc<PeerEntry> {
        let mut e = PeerEntry::new(p(n), Source::Static);
        if reachable {
            e.addrs.push(SocketAddr::from(([127, 0, 0, 1], 7000)));
        }
        Arc::new(e)
    }

    fn event(seq: u64, origin: Origin, changes: Vec<Change>) -> RegistryEvent {
        RegistryEvent {
            seq,
            origin,
            kind: EventKind::Batch(changes),
        }
    }

    fn follower() -> Follower {
        Follower::new(Mesh::new(p(0)), Reachability::AnyAddress)
    }

    #[test]
    fn rollback_of_another_seq_changes_nothing_and_is_counted() {
        let mut f = follower();
        f.apply(&event(
            1,
            Origin::Commit,
            vec![Change::Added(entry(1, true))],
        ));
        let after = f.mesh.clone();
        f.apply(&event(
            2,
            Origin::Rollback,
            vec![Change::Removed(entry(1, true))],
        ));
        assert_eq!(f.mesh, after);
        assert_eq!((f.stats.rollbacks, f.stats.unmatched_rollbacks), (0, 1));
    }

    #[test]
    fn replay_cannot_be_rolled_back() {
        let mut f = follower();
        f.apply(&event(
            5,
            Origin::Replay,
            vec![Change::Added(entry(1, true))],
        ));
        f.apply(&event(
            5,
            Origin::Rollback,
            vec![Change::Removed(entry(1, true))],
        ));
        assert_eq!(f.mesh.local_neighbours(), vec![p(1)]);
        assert_eq!(f.stats.unmatched_rollbacks, 1);
    }

    #[test]
    fn rollback_uses_the_undo_record_not_the_inverse_changes() {
        let mut f = follower();
        f.apply(&event(
            1,
            Origin::Commit,
            vec![Change::Added(entry(1, true))],
        ));
        f.mesh.add_link(p(1), p(2)).unwrap();
        let before = f.mesh.clone();
        f.apply(&event(
            2,
            Origin::Commit,
            vec![Change::Removed(entry(1, true))],
        ));
        // The inverse change (Added) alone could not bring back the 1–2 link.
        f.apply(&event(
            2,
            Origin::Rollback,
            vec![Change::Added(entry(1, true))],
        ));
        assert_eq!(f.mesh, before);
        // The record is spent: a second rollback of 2 does nothing.
        f.apply(&event(
            2,
            Origin::Rollback,
            vec![Change::Added(entry(1, true))],
        ));
        assert_eq!(f.mesh, before);
    }

    #[test]
    fn undo_keeps_a_vertex_the_application_linked_in_between() {
        let mut f = follower();
        f.apply(&event(
            1,
            Origin::Commit,
            vec![Change::Added(entry(1, false))],
        ));
        f.mesh.add_link(p(1), p(2)).unwrap();
        f.apply(&event(
            1,
            Origin::Rollback,
            vec![Change::Removed(entry(1, false))],
        ));
        assert_eq!(f.mesh.links(), vec![(p(1), p(2))]);
    }

    #[test]
    fn a_batch_touching_one_peer_twice_rolls_back_exactly() {
        let mut f = follower();
        f.mesh.add_link(p(3), p(4)).unwrap();
        let before = f.mesh.clone();
        let changes = vec![
            Change::Added(entry(3, true)),
            Change::Updated {
                old: entry(3, true),
                new: entry(3, false),
            },
            Change::Removed(entry(3, false)),
            Change::Added(entry(3, true)),
        ];
        f.apply(&event(1, Origin::Commit, changes));
        assert_eq!(f.mesh.neighbours(&p(3)), vec![p(0)], "the 3–4 link went");
        f.apply(&event(1, Origin::Rollback, vec![]));
        assert_eq!(f.mesh, before);
    }
}
