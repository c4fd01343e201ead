//! The probe listener: a second UDP socket on the mDNS group that reads the
//! probes of starting peers (RFC 6762 §8.1) and reports their proposed
//! records as [`DiscoveryEvent::Probing`] hints. IPv4 only.
//!
//! The socket sets SO_REUSEADDR before it binds, so it shares the mDNS port
//! with `mdns-sd`'s socket (SO_REUSEADDR + SO_REUSEPORT on 0.0.0.0). It is
//! bound to the group address 224.0.0.251, not 0.0.0.0, so unicast packets
//! to this host keep going to `mdns-sd` alone, and on Linux it turns
//! IP_MULTICAST_ALL off, so it receives only what arrives on the interfaces
//! it joined. It never sends.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};
use tracing::{debug, info, trace, warn};

use super::probe::{Ignored, IgnoredRecord, ProbeParser};
use super::probe_dedup::{RecentHints, DEDUP_CAPACITY, DEDUP_WINDOW};
use crate::event::DiscoveryEvent;
use crate::stats::StatsCounter;

/// The IPv4 mDNS group (RFC 6762 §3).
const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);

/// Receive buffer (bytes): the largest mDNS packet (RFC 6762 §17), as in
/// `mdns-sd`. Longer datagrams are cut and then fail to parse.
const MAX_PACKET: usize = 9000;

/// Receive errors in a row after which the listener gives up (hints stop,
/// discovery goes on).
const MAX_RECV_ERRORS: u32 = 10;

/// A running probe listener.
pub(crate) struct ProbeTask {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ProbeTask {
    /// Opens the socket on `mdns_port`, joins the group on the IPv4
    /// addresses among `interfaces`, and spawns the listener, which sends
    /// hints on `events`. `None` when no socket could be set up: the
    /// failure is logged at `warn` and counted, and discovery runs without
    /// hints. Must be called within a tokio runtime.
    pub(crate) fn spawn(
        mdns_port: u16,
        interfaces: &[(String, IpAddr)],
        parser: ProbeParser,
        stats: Arc<StatsCounter>,
        events: mpsc::Sender<DiscoveryEvent>,
    ) -> Option<Self> {
        let socket = open_socket(mdns_port, interfaces, &stats)?;
        let listener = Listener {
            socket,
            parser,
            recent: RecentHints::new(DEDUP_WINDOW, DEDUP_CAPACITY),
            stats,
            events,
        };
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(listener.run(stop_rx));
        Some(ProbeTask { stop, task })
    }

    /// Stops the listener, waiting for it until `deadline` at most (it
    /// stops at once: it only waits on its socket or the event channel).
    pub(crate) async fn stop(self, deadline: Instant) {
        let ProbeTask { stop, mut task } = self;
        // The receiver is gone only if the task already ended.
        let _ = stop.send(());
        if timeout_at(deadline, &mut task).await.is_err() {
            debug!("mDNS probe listener did not stop in time; aborted");
            task.abort();
        }
    }

    /// Ends the listener without waiting (drop of a running source).
    pub(crate) fn abort(&self) {
        self.task.abort();
    }
}

/// The joined socket, or `None` (logged, counted).
fn open_socket(
    port: u16,
    interfaces: &[(String, IpAddr)],
    stats: &StatsCounter,
) -> Option<UdpSocket> {
    let failed = |step: &str, error: &io::Error| {
        stats.count_probe_socket_error();
        warn!(step, error = %error, port, "mDNS probe listener unavailable; running without probe hints");
    };
    let socket = bound_socket(port)
        .map_err(|(step, e)| failed(step, &e))
        .ok()?;
    let mut joined = 0;
    for (name, ip) in interfaces {
        let IpAddr::V4(ip) = ip else { continue };
        match socket.join_multicast_v4(&GROUP_V4, ip) {
            Ok(()) => joined += 1,
            Err(e) => {
                stats.count_probe_socket_error();
                warn!(interface = %name, %ip, error = %e, "mDNS probe listener cannot join 224.0.0.251; no probe hints from there");
            }
        }
    }
    if joined == 0 {
        info!("no selected interface has a usable IPv4 address; running without mDNS probe hints (IPv4 only)");
        return None;
    }
    let socket = UdpSocket::from_std(socket.into())
        .map_err(|e| failed("register with tokio", &e))
        .ok()?;
    debug!(port, interfaces = joined, "mDNS probe listener started");
    Some(socket)
}

/// A non-blocking UDP socket bound to 224.0.0.251:`port`; on error, the
/// step that failed.
fn bound_socket(port: u16) -> Result<Socket, (&'static str, io::Error)> {
    let socket =
        Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(|e| ("create", e))?;
    // Before bind: the port is shared with mdns-sd's socket.
    socket
        .set_reuse_address(true)
        .map_err(|e| ("set SO_REUSEADDR", e))?;
    #[cfg(target_os = "linux")]
    socket
        .set_multicast_all_v4(false)
        .map_err(|e| ("turn IP_MULTICAST_ALL off", e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| ("make non-blocking", e))?;
    socket
        .bind(&SocketAddr::from((GROUP_V4, port)).into())
        .map_err(|e| ("bind 224.0.0.251", e))?;
    Ok(socket)
}

/// State of the running listener task.
struct Listener {
    socket: UdpSocket,
    parser: ProbeParser,
    recent: RecentHints,
    stats: Arc<StatsCounter>,
    events: mpsc::Sender<DiscoveryEvent>,
}

impl Listener {
    /// Runs until `stop` fires (or its sender is dropped), the event
    /// receiver is dropped, or receiving keeps failing.
    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let mut buf = vec![0; MAX_PACKET];
        let mut errors_left = MAX_RECV_ERRORS;
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                go_on = self.next(&mut buf, &mut errors_left) => if !go_on { break },
            }
        }
        debug!("mDNS probe listener stopped");
    }

    /// Receives one packet and forwards its hints; false to stop.
    async fn next(&mut self, buf: &mut [u8], errors_left: &mut u32) -> bool {
        match self.socket.recv_from(buf).await {
            Ok((len, from)) => {
                *errors_left = MAX_RECV_ERRORS;
                let packet = buf.get(..len).unwrap_or_default();
                self.on_packet(packet, from).await
            }
            Err(e) => {
                self.stats.count_probe_socket_error();
                *errors_left = errors_left.saturating_sub(1);
                warn!(error = %e, left = *errors_left, "mDNS probe listener cannot receive");
                *errors_left > 0
            }
        }
    }

    /// Forwards the new hints of one packet; false once nobody listens.
    async fn on_packet(&mut self, packet: &[u8], from: SocketAddr) -> bool {
        let scan = match self.parser.scan(packet, from.ip()) {
            Ok(scan) => scan,
            Err(e) => {
                self.stats.count_probe_packet_malformed();
                debug!(%from, len = packet.len(), error = %e, "mDNS packet not parsed; ignored for probe hints");
                return true;
            }
        };
        log_ignored(&scan.ignored, from);
        let ignored = u64::try_from(scan.ignored.len()).unwrap_or(u64::MAX);
        self.stats.count_probe_hints_ignored(ignored);
        for hint in scan.hints {
            if !self.recent.is_new(&hint, std::time::Instant::now()) {
                trace!(instance = %hint.instance_name, "repeated mDNS probe; hint already reported");
                continue;
            }
            debug!(
                peer = %hint.peer_id.short(),
                instance = %hint.instance_name,
                addrs = ?hint.addrs,
                %from,
                "mDNS probe hint"
            );
            let event = DiscoveryEvent::Probing(hint);
            self.stats.count(&event);
            if self.events.send(event).await.is_err() {
                debug!("mDNS event receiver dropped; probe listener ends");
                return false;
            }
        }
        true
    }
}

/// Logs records that gave no hint: our own probes and other services at
/// `trace` (routine on a LAN), refused ones at `debug` (the browser warns
/// once the instance resolves).
fn log_ignored(ignored: &[IgnoredRecord], from: SocketAddr) {
    for record in ignored {
        match &record.reason {
            Ignored::OwnId | Ignored::OtherServiceType => {
                trace!(name = %record.name, reason = ?record.reason, %from, "mDNS probe ignored")
            }
            Ignored::NonUtf8Instance => {
                debug!(name = %record.name, %from, "mDNS probe with a non-UTF-8 instance label ignored")
            }
            Ignored::Rejected(reason) => {
                debug!(name = %record.name, %reason, %from, "mDNS probe ignored")
            }
            Ignored::NoAddress => {
                debug!(name = %record.name, %from, "mDNS probe without a usable address ignored")
            }
        }
    }
}
