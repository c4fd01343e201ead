//! [`MdnsDiscovery`]: publishes our DNS-SD service and browses for peers
//! over mDNS, with `mdns-sd` (0.21 or later) doing the protocol on its own
//! thread.
//!
//! What is published (docs/wire.md): instance `TAZCOM Node <short id>` of
//! the configured service type, SRV to host `<short id>.local.` on our TCP
//! port, A/AAAA records for the addresses of the selected interfaces, and
//! TXT `id=<64 hex>` followed by the extra entries.
//!
//! With `probe_hints` on, a second socket reads the probes of starting
//! peers (RFC 6762 §8.1) and reports them early as unconfirmed `Probing`
//! hints (`probe.rs`, `probe_listener.rs`).

mod browser;
mod config;
pub(crate) mod convert;
mod interfaces;
pub(crate) mod probe;
mod probe_dedup;
mod probe_listener;
mod table;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mdns_sd::{DaemonStatus, ServiceDaemon, ServiceInfo, UnregisterStatus};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};
use tracing::{debug, info, warn};

pub use config::{
    validate_service_type, InterfaceSelection, MdnsConfig, DEFAULT_EVENT_CAPACITY,
    DEFAULT_MDNS_PORT, DEFAULT_SHUTDOWN_TIMEOUT, SERVICE_NAME_MAX_LEN,
};

use crate::error::{Chain, DiscoveryError};
use crate::event::DiscoveryEvent;
use crate::source::{Discovery, LocalService};
use crate::stats::{DiscoveryStats, StatsCounter};
use crate::wire;
use browser::BrowserTask;
use probe::ProbeParser;
use probe_listener::ProbeTask;
use table::PeerTable;

/// After the first goodbye, `mdns-sd` repeats it 120 ms later (RFC 6762
/// §10.1 allows repeats against packet loss); wait this long (ms) so the
/// repeat goes out before the daemon exits.
const GOODBYE_REPEAT_WAIT: Duration = Duration::from_millis(150);

/// DNS-SD over mDNS: publishes our service and reports the peers it finds.
///
/// Events: `Discovered` once a peer's SRV, TXT and address records are all
/// known; `Updated` when they change; `Removed` on goodbye or expiry;
/// `Rejected` for instances with a missing or invalid TXT `id` (also counted
/// and logged). Our own announcements (TXT `id` equal to ours) are ignored.
/// With [`MdnsConfig::probe_hints`] (the default), `Probing` reports a
/// starting peer from its probes, before it is `Discovered`; such a hint is
/// unconfirmed.
///
/// Dropping a running `MdnsDiscovery` tells the daemon to exit (it still
/// sends goodbyes) without waiting; call [`Discovery::shutdown`] to wait.
pub struct MdnsDiscovery {
    config: MdnsConfig,
    stats: Arc<StatsCounter>,
    running: Option<Running>,
}

/// The parts of a started source.
struct Running {
    daemon: ServiceDaemon,
    fullname: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    /// The probe listener, when hints are on and its socket could be set up.
    probes: Option<ProbeTask>,
}

impl MdnsDiscovery {
    /// A stopped source with `config`.
    ///
    /// Errors: whatever [`MdnsConfig::validate`] finds.
    pub fn new(config: MdnsConfig) -> Result<Self, DiscoveryError> {
        config.validate()?;
        Ok(MdnsDiscovery {
            config,
            stats: Arc::default(),
            running: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MdnsConfig {
        &self.config
    }

    /// Whether `start` succeeded and `shutdown` has not run since.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Configures a fresh daemon, subscribes, registers and spawns the
    /// tasks. `addresses` are those of the selected interfaces.
    fn launch(
        &self,
        daemon: &ServiceDaemon,
        local: &LocalService,
        txt: &[(String, String)],
        addresses: &[(String, IpAddr)],
    ) -> Result<(Running, mpsc::Receiver<DiscoveryEvent>), DiscoveryError> {
        let refused = |operation| move |source| DiscoveryError::Daemon { operation, source };
        let ty = &self.config.service_type;
        interfaces::apply(daemon, &self.config.interfaces)?;
        let monitor = daemon
            .monitor()
            .map_err(refused("monitor its own errors"))?;
        let browse = daemon
            .browse(ty)
            .map_err(refused("browse the service type"))?;

        let instance = wire::instance_name(&local.peer_id);
        let host = wire::host_name(&local.peer_id);
        let info = ServiceInfo::new(ty, &instance, &host, (), local.port, txt)
            .map_err(refused("describe our service"))?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_string();
        daemon
            .register(info)
            .map_err(refused("register our service"))?;
        info!(instance = %instance, service_type = %ty, port = local.port, "mDNS service published");

        let (events_tx, events_rx) = mpsc::channel(self.config.event_capacity);
        let probes = self.config.probe_hints.then(|| {
            let parser = ProbeParser::new(ty, local.peer_id);
            let port = self.config.mdns_port;
            ProbeTask::spawn(
                port,
                addresses,
                parser,
                self.stats.clone(),
                events_tx.clone(),
            )
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = BrowserTask {
            table: PeerTable::new(local.peer_id, instance, ty.clone(), self.stats.clone()),
            daemon: daemon.clone(),
            service_type: ty.clone(),
            events: events_tx,
        };
        let task = tokio::spawn(task.run(browse, monitor, stop_rx));
        let running = Running {
            daemon: daemon.clone(),
            fullname,
            stop: stop_tx,
            task,
            probes: probes.flatten(),
        };
        Ok((running, events_rx))
    }
}

impl std::fmt::Debug for MdnsDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdnsDiscovery")
            .field("config", &self.config)
            .field("running", &self.is_running())
            .finish()
    }
}

#[async_trait]
impl Discovery for MdnsDiscovery {
    fn name(&self) -> &str {
        "mdns"
    }

    /// Starts the `mdns-sd` daemon on the configured port and interfaces,
    /// browses the service type and publishes `local`.
    ///
    /// Errors: [`DiscoveryError::AlreadyStarted`];
    /// [`DiscoveryError::InvalidLocalService`] (port 0, bad TXT extra);
    /// [`DiscoveryError::InterfaceNotFound`] / [`DiscoveryError::InterfaceList`];
    /// [`DiscoveryError::DaemonStart`] when the daemon cannot be created;
    /// [`DiscoveryError::Daemon`] when it refuses a command. On error
    /// nothing keeps running.
    async fn start(
        &mut self,
        local: LocalService,
    ) -> Result<mpsc::Receiver<DiscoveryEvent>, DiscoveryError> {
        if self.running.is_some() {
            return Err(DiscoveryError::AlreadyStarted {
                source_name: self.name().to_string(),
            });
        }
        let txt = local.txt_entries()?;
        let addresses = interfaces::selected_addresses(&self.config.interfaces)?;
        let port = self.config.mdns_port;
        let daemon = ServiceDaemon::new_with_port(port)
            .map_err(|source| DiscoveryError::DaemonStart { port, source })?;
        match self.launch(&daemon, &local, &txt, &addresses) {
            Ok((running, events)) => {
                self.running = Some(running);
                Ok(events)
            }
            Err(e) => {
                if let Err(exit) = daemon.shutdown() {
                    debug!(error = %exit, "mDNS daemon already gone after a failed start");
                }
                Err(e)
            }
        }
    }

    /// Withdraws our service and stops, in order: unregister and wait until
    /// the goodbye (TTL 0 records, RFC 6762 §10.1) and its repeat are sent;
    /// stop the browser task, the probe listener and browsing (the event
    /// stream then ends);
    /// tell the daemon to exit and wait for its confirmation. All steps
    /// together are bounded by [`MdnsConfig::shutdown_timeout`]; every step
    /// is attempted even if an earlier one failed, and the first failure is
    /// returned.
    ///
    /// Errors: [`DiscoveryError::ShutdownTimeout`] naming the step that did
    /// not finish in time; [`DiscoveryError::DaemonGone`] if the daemon
    /// thread vanished; [`DiscoveryError::Daemon`] if it refused a command.
    async fn shutdown(&mut self) -> Result<(), DiscoveryError> {
        let Some(running) = self.running.take() else {
            return Ok(());
        };
        let result = running
            .stop(&self.config.service_type, self.config.shutdown_timeout)
            .await;
        match &result {
            Ok(()) => info!("mDNS discovery shut down"),
            Err(e) => warn!(error = %Chain(e), "mDNS discovery shut down with an error"),
        }
        result
    }

    fn stats(&self) -> DiscoveryStats {
        self.stats.snapshot()
    }
}

impl Running {
    async fn stop(self, service_type: &str, timeout: Duration) -> Result<(), DiscoveryError> {
        let Running {
            daemon,
            fullname,
            stop,
            mut task,
            probes,
        } = self;
        let deadline = Instant::now() + timeout;
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let timed_out = |step| DiscoveryError::ShutdownTimeout { step, timeout_ms };

        let goodbye = say_goodbye(&daemon, &fullname, deadline)
            .await
            .map_err(|e| e.unwrap_or_else(|| timed_out("goodbye")));

        // The receiver is gone only if the task already ended.
        let _ = stop.send(());
        if let Err(e) = daemon.stop_browse(service_type) {
            debug!(error = %e, "mDNS stop_browse refused");
        }
        let task = match timeout_at(deadline, &mut task).await {
            Ok(_) => Ok(()),
            Err(_) => {
                task.abort();
                Err(timed_out("browser task"))
            }
        };
        // Hints are advisory: a late listener is aborted, not an error.
        if let Some(probes) = probes {
            probes.stop(deadline).await;
        }

        let exit = exit_daemon(&daemon, deadline)
            .await
            .map_err(|e| e.unwrap_or_else(|| timed_out("daemon exit")));
        goodbye.and(task).and(exit)
    }
}

/// Unregisters our service and waits for the daemon to confirm that the
/// goodbye went out, then for its repeat. `Err(None)` means timeout.
async fn say_goodbye(
    daemon: &ServiceDaemon,
    fullname: &str,
    deadline: Instant,
) -> Result<(), Option<DiscoveryError>> {
    let status = daemon.unregister(fullname).map_err(|source| {
        Some(DiscoveryError::Daemon {
            operation: "unregister our service",
            source,
        })
    })?;
    match timeout_at(deadline, status.recv_async()).await {
        Err(_) => Err(None),
        Ok(Err(_)) => Err(Some(DiscoveryError::DaemonGone { step: "goodbye" })),
        Ok(Ok(UnregisterStatus::OK)) => {
            debug!(service = %fullname, "mDNS goodbye sent");
            tokio::time::sleep_until(deadline.min(Instant::now() + GOODBYE_REPEAT_WAIT)).await;
            Ok(())
        }
        Ok(Ok(UnregisterStatus::NotFound)) => {
            warn!(service = %fullname, "our mDNS service was no longer registered; no goodbye sent");
            Ok(())
        }
    }
}

/// Tells the daemon to exit and waits for `DaemonStatus::Shutdown`.
/// `Err(None)` means timeout.
async fn exit_daemon(
    daemon: &ServiceDaemon,
    deadline: Instant,
) -> Result<(), Option<DiscoveryError>> {
    let status = match daemon.shutdown() {
        Ok(status) => status,
        Err(mdns_sd::Error::DaemonShutdown) => return Ok(()),
        Err(source) => {
            return Err(Some(DiscoveryError::Daemon {
                operation: "shut down",
                source,
            }))
        }
    };
    match timeout_at(deadline, status.recv_async()).await {
        Err(_) => Err(None),
        Ok(Err(_)) => Err(Some(DiscoveryError::DaemonGone {
            step: "daemon exit",
        })),
        Ok(Ok(DaemonStatus::Shutdown)) => Ok(()),
        Ok(Ok(other)) => {
            warn!(status = ?other, "mDNS daemon answered shutdown with an unexpected status");
            Ok(())
        }
    }
}

impl Drop for MdnsDiscovery {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.task.abort();
            if let Some(probes) = &running.probes {
                probes.abort();
            }
            // The daemon's exit sends goodbyes for what is still registered.
            if let Err(e) = running.daemon.shutdown() {
                debug!(error = %e, "mDNS daemon already gone when dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    // These start attempts fail before any daemon or socket exists, so they
    // are safe outside a network namespace.
    use super::*;
    use tazcom_identity::PeerId;

    fn local(port: u16) -> LocalService {
        LocalService::new(PeerId::from_bytes([3; 32]), port)
    }

    #[tokio::test]
    async fn start_refuses_an_unknown_interface() {
        let config = MdnsConfig::default().with_interfaces(["tazcom-no-such-if0"]);
        let mut mdns = MdnsDiscovery::new(config).unwrap();
        match mdns.start(local(4000)).await {
            Err(DiscoveryError::InterfaceNotFound { name, .. }) => {
                assert_eq!(name, "tazcom-no-such-if0")
            }
            other => panic!("expected InterfaceNotFound, got {other:?}"),
        }
        assert!(!mdns.is_running());
    }

    #[tokio::test]
    async fn start_refuses_port_zero_and_bad_txt() {
        let mut mdns = MdnsDiscovery::new(MdnsConfig::default().with_interfaces(["lo"])).unwrap();
        let zero = mdns.start(local(0)).await;
        assert!(matches!(
            zero,
            Err(DiscoveryError::InvalidLocalService { .. })
        ));
        let reserved = mdns.start(local(4000).with_txt("id", "x")).await;
        assert!(matches!(
            reserved,
            Err(DiscoveryError::InvalidLocalService { .. })
        ));
        assert!(!mdns.is_running());
        assert!(
            mdns.shutdown().await.is_ok(),
            "shutdown of a stopped source is a no-op"
        );
    }

    #[test]
    fn new_validates_the_config() {
        let bad = MdnsDiscovery::new(MdnsConfig::default().with_service_type("_tazcom._tcp.local"));
        assert!(matches!(
            bad,
            Err(DiscoveryError::InvalidServiceType { .. })
        ));
    }
}
