//! The tokio task that turns `mdns-sd` browse events into
//! [`DiscoveryEvent`]s. It awaits the daemon's flume channels with
//! `recv_async`, so it never blocks the runtime.

use mdns_sd::{DaemonEvent, Receiver, RecvError, ServiceDaemon, ServiceEvent};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, trace, warn};

use super::table::PeerTable;
use crate::event::DiscoveryEvent;

/// How often a browse subscription that ended on its own (the daemon drops
/// it when its channel fills up) is renewed before the task gives up.
const MAX_REBROWSE: u32 = 3;

/// State of the running browser task.
pub(crate) struct BrowserTask {
    pub(crate) table: PeerTable,
    pub(crate) daemon: ServiceDaemon,
    pub(crate) service_type: String,
    pub(crate) events: mpsc::Sender<DiscoveryEvent>,
}

impl BrowserTask {
    /// Runs until `stop` fires, the event receiver is dropped, or the daemon
    /// goes away. Dropping `self.events` at the end closes the stream.
    pub(crate) async fn run(
        mut self,
        mut browse: Receiver<ServiceEvent>,
        monitor: Receiver<DaemonEvent>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut monitor = Some(monitor);
        let mut rebrowse_left = MAX_REBROWSE;
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                event = browse.recv_async() => match event {
                    Ok(ServiceEvent::SearchStopped(_)) | Err(RecvError::Disconnected) => {
                        match self.rebrowse(&mut rebrowse_left) {
                            Some(renewed) => browse = renewed,
                            None => break,
                        }
                    }
                    Ok(event) => {
                        if !self.on_service_event(event).await {
                            debug!("mDNS event receiver dropped; browser task ends");
                            break;
                        }
                    }
                },
                event = next_daemon_event(&monitor) => match event {
                    Ok(event) => on_daemon_event(event),
                    Err(RecvError::Disconnected) => monitor = None,
                },
            }
        }
    }

    /// Forwards the events of one browse event; false once nobody listens.
    async fn on_service_event(&mut self, event: ServiceEvent) -> bool {
        let events = match event {
            ServiceEvent::ServiceResolved(resolved) => self.table.on_resolved(&resolved),
            ServiceEvent::ServiceRemoved(_, fullname) => {
                self.table.on_removed(&fullname).into_iter().collect()
            }
            other => {
                trace!(event = ?other, "mDNS browse event");
                Vec::new()
            }
        };
        for event in events {
            if self.events.send(event).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Subscribes again after the daemon ended our subscription.
    fn rebrowse(&self, left: &mut u32) -> Option<Receiver<ServiceEvent>> {
        if *left == 0 {
            error!(service_type = %self.service_type, "mDNS browsing ended too often; giving up");
            return None;
        }
        *left -= 1;
        warn!(service_type = %self.service_type, "mDNS browse subscription ended unexpectedly; browsing again");
        match self.daemon.browse(&self.service_type) {
            Ok(receiver) => Some(receiver),
            Err(e) => {
                error!(service_type = %self.service_type, error = %e, "mDNS browsing could not be renewed");
                None
            }
        }
    }
}

/// The next daemon event, or never once the monitor channel is closed.
async fn next_daemon_event(
    monitor: &Option<Receiver<DaemonEvent>>,
) -> Result<DaemonEvent, RecvError> {
    match monitor {
        Some(receiver) => receiver.recv_async().await,
        None => std::future::pending().await,
    }
}

/// Logs what the daemon reports about itself.
fn on_daemon_event(event: DaemonEvent) {
    match event {
        DaemonEvent::Error(e) => warn!(error = %e, "mDNS daemon error"),
        DaemonEvent::NameChange(change) => info!(
            original = %change.original,
            new_name = %change.new_name,
            "mDNS name conflict resolved by renaming (RFC 6762 §9)"
        ),
        DaemonEvent::Announce(name, on) => debug!(%name, %on, "mDNS service announced"),
        DaemonEvent::IpAdd(ip) => debug!(%ip, "mDNS: interface address added"),
        DaemonEvent::IpDel(ip) => debug!(%ip, "mDNS: interface address removed"),
        other => trace!(event = ?other, "mDNS daemon event"),
    }
}
