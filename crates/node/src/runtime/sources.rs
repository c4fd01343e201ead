//! Starting the discovery sources, and one forwarding task per source that
//! feeds its events, tagged with the source's kind, to the actor.

use tazcom_discovery::{Discovery, DiscoveryEvent, LocalService, MdnsConfig, MdnsDiscovery};
use tazcom_registry::Source;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::error::StartError;

/// A discovery source the builder was given.
pub(crate) enum SourceSpec {
    Mdns(MdnsConfig),
    Custom(Box<dyn Discovery>, Source),
}

/// Started sources, in the order given, and their forwarding tasks.
pub(crate) struct Sources {
    pub started: Vec<Box<dyn Discovery>>,
    pub forwarders: JoinSet<()>,
}

/// Starts every source (publishing `local`); on a failure, stops those
/// already started and returns the error.
pub(crate) async fn start(
    specs: Vec<SourceSpec>,
    local: LocalService,
    to_actor: mpsc::Sender<(Source, DiscoveryEvent)>,
) -> Result<Sources, StartError> {
    let mut sources = Sources {
        started: Vec::new(),
        forwarders: JoinSet::new(),
    };
    for spec in specs {
        let (mut source, kind) = match spec {
            SourceSpec::Mdns(config) => match MdnsDiscovery::new(config) {
                Ok(mdns) => (Box::new(mdns) as Box<dyn Discovery>, Source::Mdns),
                Err(e) => return Err(stop_all(sources, e).await),
            },
            SourceSpec::Custom(source, kind) => (source, kind),
        };
        let mut rx = match source.start(local.clone()).await {
            Ok(rx) => rx,
            Err(e) => return Err(stop_all(sources, e).await),
        };
        let tx = to_actor.clone();
        sources.forwarders.spawn(async move {
            while let Some(event) = rx.recv().await {
                if tx.send((kind, event)).await.is_err() {
                    break;
                }
            }
        });
        sources.started.push(source);
    }
    Ok(sources)
}

async fn stop_all(sources: Sources, error: tazcom_discovery::DiscoveryError) -> StartError {
    for mut s in sources.started {
        if let Err(e) = s.shutdown().await {
            tracing::warn!(source = s.name(), error = %e, "shutdown after a failed start");
        }
    }
    StartError::Discovery(error)
}
