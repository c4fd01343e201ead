//! Property test: random upserts, removals and batches, with random aborts
//! by a failing critical observer registered after the validator observer.
//! After every commit the set equals the reference computed from the
//! registry, the epoch grew by one exactly when membership changed, an
//! aborted commit left the set (members and epoch) equal to before, the
//! watch holds the set's snapshot, and replaying the change stream gives the
//! same set.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{entry, id, Saboteur};
use proptest::prelude::*;
use tazcom_identity::PeerId;
use tazcom_registry::{ObserverOptions, ObserverRegistryConfig, PeerRegistry, RegistryError};
use tazcom_validators::{ValidatorObserver, ValidatorPolicy, ValidatorSet};

const PEERS: u8 = 6;

#[derive(Debug, Clone)]
enum Step {
    Upsert {
        peer: u8,
        validator: bool,
        verified: bool,
        port: u16,
    },
    Remove {
        peer: u8,
    },
}

#[derive(Debug, Clone)]
struct Commit {
    steps: Vec<Step>,
    batch: bool,
    abort: bool,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..PEERS, any::<bool>(), any::<bool>(), 0..2u16).prop_map(
            |(peer, validator, verified, port)| Step::Upsert { peer, validator, verified, port }
        ),
        1 => (0..PEERS).prop_map(|peer| Step::Remove { peer }),
    ]
}

fn commit() -> impl Strategy<Value = Commit> {
    (
        prop::collection::vec(step(), 1..5),
        any::<bool>(),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(steps, batch, abort)| Commit {
            steps,
            batch,
            abort,
        })
}

/// `(require_verified, local)`; the local id may also appear in the registry.
fn policy() -> impl Strategy<Value = ValidatorPolicy> {
    (any::<bool>(), prop::option::of(0..PEERS + 1)).prop_map(|(verified, local)| {
        let p = ValidatorPolicy::default().with_require_verified(verified);
        match local {
            Some(n) => p.with_local(id(n)),
            None => p,
        }
    })
}

async fn run(reg: &PeerRegistry, commit: &Commit) -> Result<(), RegistryError> {
    if let (false, [single]) = (commit.batch, commit.steps.as_slice()) {
        match *single {
            Step::Upsert {
                peer,
                validator,
                verified,
                port,
            } => reg
                .upsert(entry(id(peer), validator, verified, port))
                .await
                .map(drop),
            Step::Remove { peer } => reg.remove(&id(peer)).await.map(drop),
        }
    } else {
        let mut batch = reg.batch();
        for step in &commit.steps {
            match *step {
                Step::Upsert {
                    peer,
                    validator,
                    verified,
                    port,
                } => batch.upsert(entry(id(peer), validator, verified, port)),
                Step::Remove { peer } => batch.remove(&id(peer)),
            };
        }
        batch.commit().await.map(drop)
    }
}

/// The members the policy implies for the registry's current contents.
fn reference(reg: &PeerRegistry, policy: &ValidatorPolicy) -> BTreeSet<PeerId> {
    reg.snapshot()
        .iter()
        .filter(|e| policy.admits(e))
        .map(|e| e.peer_id)
        .chain(policy.include_local)
        .collect()
}

fn members(set: &ValidatorSet) -> BTreeSet<PeerId> {
    set.members().copied().collect()
}

async fn check(policy: ValidatorPolicy, commits: Vec<Commit>) -> Result<(), TestCaseError> {
    let reg = PeerRegistry::with_config(
        ObserverRegistryConfig::default().with_max_consecutive_failures(1_000),
    )
    .expect("valid config");
    let obs = Arc::new(ValidatorObserver::with_change_capacity(policy, 4_096).expect("capacity"));
    let saboteur = Arc::new(Saboteur::default());
    reg.register_observer(&obs, ObserverOptions::critical())
        .await
        .expect("register validators");
    reg.register_observer(&saboteur, ObserverOptions::critical())
        .await
        .expect("register saboteur");
    let watch = obs.watch();
    let mut changes = obs.subscribe_changes();
    let mut mirror = members(&obs.set());
    let mut mirror_epoch = 0u64;

    for commit in &commits {
        let before = obs.set();
        if commit.abort {
            saboteur.arm();
        }
        let result = run(&reg, commit).await;
        // A commit that changed nothing in the registry dispatched nothing.
        saboteur.disarm();

        let after = obs.set();
        if result.is_err() {
            prop_assert_eq!(&after, &before, "aborted commit restored the set exactly");
        }
        let expected = reference(&reg, &policy);
        prop_assert_eq!(
            &members(&after),
            &expected,
            "set equals the registry's reference"
        );
        let bump = u64::from(expected != members(&before));
        prop_assert_eq!(
            after.epoch(),
            before.epoch() + bump,
            "one bump per membership change"
        );
        prop_assert_eq!(&*watch.borrow(), &after.snapshot(), "watch holds the set");

        while let Ok(change) = changes.try_recv() {
            let step: i64 = if change.undo { -1 } else { 1 };
            prop_assert_eq!(change.epoch as i64, mirror_epoch as i64 + step);
            for peer in &change.left {
                prop_assert!(mirror.remove(peer), "a left peer was a member");
            }
            for peer in &change.joined {
                prop_assert!(mirror.insert(*peer), "a joined peer was not a member");
            }
            mirror_epoch = change.epoch;
        }
        prop_assert_eq!(&mirror, &expected, "the change stream rebuilds the set");
        prop_assert_eq!(mirror_epoch, after.epoch());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn set_follows_the_registry_through_commits_and_aborts(
        policy in policy(),
        commits in prop::collection::vec(commit(), 1..40),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(check(policy, commits))?;
    }
}
