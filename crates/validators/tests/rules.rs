//! One test per rule of the validator observer, through a real registry.

mod common;

use std::sync::Arc;

use common::{entry, id, Saboteur};
use tazcom_registry::{ObserverOptions, PeerRegistry, RegistryError};
use tazcom_validators::{ValidatorChange, ValidatorError, ValidatorObserver, ValidatorPolicy};

async fn setup(policy: ValidatorPolicy) -> (PeerRegistry, Arc<ValidatorObserver>) {
    let registry = PeerRegistry::new();
    let obs = Arc::new(ValidatorObserver::new(policy));
    registry
        .register_observer(&obs, ObserverOptions::critical())
        .await
        .expect("register");
    (registry, obs)
}

#[tokio::test]
async fn default_policy_counts_unverified_validator_claims_only() {
    let (reg, obs) = setup(ValidatorPolicy::default().with_require_verified(false)).await;
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    reg.upsert(entry(id(2), false, true, 1)).await.unwrap();
    reg.upsert(entry(id(3), true, true, 1)).await.unwrap();
    assert_eq!(obs.set().to_vec(), vec![id(1), id(3)]);
    assert_eq!(obs.epoch(), 2, "the non-validator changed nothing");
}

#[tokio::test]
async fn require_verified_ignores_unverified_validators() {
    let (reg, obs) = setup(ValidatorPolicy::default().with_require_verified(true)).await;
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    reg.upsert(entry(id(2), true, true, 1)).await.unwrap();
    assert_eq!(obs.set().to_vec(), vec![id(2)]);
    assert_eq!(obs.epoch(), 1);
}

#[tokio::test]
async fn validator_flag_flip_adds_and_removes() {
    let (reg, obs) = setup(ValidatorPolicy::default().with_require_verified(false)).await;
    reg.upsert(entry(id(1), false, false, 1)).await.unwrap();
    assert!(!obs.contains(&id(1)));
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    assert!(obs.contains(&id(1)));
    assert_eq!(obs.epoch(), 1);
    reg.upsert(entry(id(1), false, false, 1)).await.unwrap();
    assert!(!obs.contains(&id(1)));
    assert_eq!(obs.epoch(), 2);
}

#[tokio::test]
async fn verified_flip_adds_and_removes_when_required() {
    let (reg, obs) = setup(ValidatorPolicy::default().with_require_verified(true)).await;
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    assert!(obs.is_empty());
    reg.upsert(entry(id(1), true, true, 1)).await.unwrap();
    assert!(obs.contains(&id(1)));
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    assert!(obs.is_empty());
    assert_eq!(obs.epoch(), 2);
}

#[tokio::test]
async fn verified_flip_changes_nothing_when_not_required() {
    let (reg, obs) = setup(ValidatorPolicy::default().with_require_verified(false)).await;
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    reg.upsert(entry(id(1), true, true, 1)).await.unwrap();
    assert!(obs.contains(&id(1)));
    assert_eq!(obs.epoch(), 1);
}

#[tokio::test]
async fn epoch_bumps_only_when_membership_changes() {
    let (reg, obs) = setup(ValidatorPolicy::default().with_require_verified(false)).await;
    let mut watch = obs.watch();
    let mut changes = obs.subscribe_changes();
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    assert_eq!(obs.epoch(), 1);
    assert!(watch.has_changed().unwrap());
    watch.borrow_and_update();
    // An address change and a non-validator coming and going: no membership change.
    reg.upsert(entry(id(1), true, false, 2)).await.unwrap();
    reg.upsert(entry(id(2), false, false, 1)).await.unwrap();
    reg.remove(&id(2)).await.unwrap();
    assert_eq!(obs.epoch(), 1);
    assert!(!watch.has_changed().unwrap(), "nothing published");
    assert_eq!(changes.try_recv().unwrap().joined, vec![id(1)]);
    assert!(changes.try_recv().is_err(), "one change only");
    // Removing the member does change it.
    reg.remove(&id(1)).await.unwrap();
    assert_eq!(obs.epoch(), 2);
    assert!(obs.is_empty());
    assert_eq!(watch.borrow_and_update().epoch, 2);
}

#[tokio::test]
async fn a_batch_bumps_the_epoch_once_and_a_netted_out_batch_not_at_all() {
    let (reg, obs) = setup(ValidatorPolicy::default().with_require_verified(false)).await;
    let mut changes = obs.subscribe_changes();
    let mut batch = reg.batch();
    batch.upsert(entry(id(1), true, false, 1));
    batch.upsert(entry(id(2), true, false, 1));
    batch.upsert(entry(id(3), false, false, 1));
    batch.commit().await.unwrap();
    assert_eq!(obs.epoch(), 1);
    assert_eq!(
        changes.try_recv().unwrap(),
        ValidatorChange {
            epoch: 1,
            joined: vec![id(1), id(2)],
            left: vec![],
            undo: false
        }
    );
    let mut batch = reg.batch();
    batch.upsert(entry(id(4), true, false, 1));
    batch.remove(&id(4));
    batch.commit().await.unwrap();
    assert_eq!(obs.epoch(), 1, "added and removed within one commit");
    assert!(changes.try_recv().is_err());
}

#[tokio::test]
async fn the_local_node_is_a_member_from_epoch_zero_and_registry_entries_for_it_are_ignored() {
    let me = id(9);
    let (reg, obs) = setup(
        ValidatorPolicy::default()
            .with_require_verified(false)
            .with_local(me),
    )
    .await;
    let snap = obs.snapshot();
    assert_eq!((snap.epoch, snap.members.clone()), (0, vec![me]));
    assert_eq!((snap.f, snap.quorum), (0, Some(1)));
    // Even a non-validator entry for the local id does not remove it.
    reg.upsert(entry(me, false, false, 1)).await.unwrap();
    reg.remove(&me).await.unwrap();
    assert_eq!(obs.set().to_vec(), vec![me]);
    assert_eq!(obs.epoch(), 0);
    for n in 1..=3 {
        reg.upsert(entry(id(n), true, false, 1)).await.unwrap();
    }
    assert_eq!(obs.len(), 4);
    assert_eq!(obs.quorum(), Some(3));
}

#[tokio::test]
async fn registration_replays_the_registry_into_the_set() {
    let reg = PeerRegistry::new();
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    reg.upsert(entry(id(2), false, false, 1)).await.unwrap();
    reg.upsert(entry(id(3), true, false, 1)).await.unwrap();
    let obs = Arc::new(ValidatorObserver::new(
        ValidatorPolicy::default().with_require_verified(false),
    ));
    reg.register_observer(&obs, ObserverOptions::best_effort())
        .await
        .unwrap();
    assert_eq!(obs.set().to_vec(), vec![id(1), id(3)]);
    assert_eq!(obs.epoch(), 1, "one replay batch, one bump");
    assert_eq!(obs.watch().borrow().members, vec![id(1), id(3)]);
}

#[tokio::test]
async fn an_aborted_commit_restores_members_epoch_and_watch_and_sends_the_undo() {
    let (reg, obs) = setup(ValidatorPolicy::default().with_require_verified(false)).await;
    let saboteur = Arc::new(Saboteur::default());
    reg.register_observer(&saboteur, ObserverOptions::critical())
        .await
        .unwrap();
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    let before = obs.set();
    let watch = obs.watch();
    let mut changes = obs.subscribe_changes();

    saboteur.arm();
    let mut batch = reg.batch();
    batch.remove(&id(1));
    batch.upsert(entry(id(2), true, false, 1));
    let err = batch.commit().await.unwrap_err();
    assert!(matches!(err, RegistryError::Aborted { .. }), "{err:?}");

    assert_eq!(obs.set(), before);
    assert_eq!(
        *watch.borrow(),
        before.snapshot(),
        "watch holds the restored state"
    );
    let forward = changes.try_recv().unwrap();
    assert_eq!((forward.epoch, forward.undo), (2, false));
    let undo = changes.try_recv().unwrap();
    assert_eq!(
        undo,
        ValidatorChange {
            epoch: 1,
            joined: vec![id(1)],
            left: vec![id(2)],
            undo: true
        }
    );
    // The next commit reuses the restored epoch + 1.
    reg.upsert(entry(id(3), true, false, 1)).await.unwrap();
    assert_eq!(obs.epoch(), 2);
    assert_eq!(obs.set().to_vec(), vec![id(1), id(3)]);
}

#[tokio::test]
async fn an_aborted_commit_that_changed_nothing_for_the_set_publishes_nothing() {
    let (reg, obs) = setup(ValidatorPolicy::default().with_require_verified(false)).await;
    let saboteur = Arc::new(Saboteur::default());
    reg.register_observer(&saboteur, ObserverOptions::critical())
        .await
        .unwrap();
    reg.upsert(entry(id(1), true, false, 1)).await.unwrap();
    let mut watch = obs.watch();
    watch.borrow_and_update();
    saboteur.arm();
    assert!(reg.upsert(entry(id(1), true, false, 2)).await.is_err());
    assert!(!watch.has_changed().unwrap());
    assert_eq!(obs.epoch(), 1);
}

#[test]
fn a_zero_change_capacity_is_refused() {
    let err = ValidatorObserver::with_change_capacity(
        ValidatorPolicy::default().with_require_verified(false),
        0,
    )
    .unwrap_err();
    assert_eq!(err, ValidatorError::ZeroCapacity);
    assert!(ValidatorObserver::with_change_capacity(
        ValidatorPolicy::default().with_require_verified(false),
        1
    )
    .is_ok());
}
