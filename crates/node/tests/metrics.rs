//! `Node::metrics` exposes the transport's rejection counters.

mod common;

use common::{builder, eventually, WAIT};
use tazcom_transport::{send_line, TransportConfig, TransportError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_line_is_counted_as_a_transport_rejection() {
    let node = builder().start().await.expect("start");
    assert_eq!(node.metrics().transport.rejected_total(), 0);

    let reply = send_line(node.local_addr(), "not json", &TransportConfig::default()).await;
    assert!(
        matches!(reply, Err(TransportError::EofBeforeReply { .. })),
        "a malformed line is closed without ACK: {reply:?}"
    );

    let counted = eventually(WAIT, || node.metrics().transport.rejected_not_json == 1).await;
    let transport = node.metrics().transport;
    assert!(counted, "{transport:?}");
    assert_eq!(transport.rejected_total(), 1);
    assert_eq!(transport.lines_acked, 0);
    assert_eq!(transport.hellos, 0);
    assert_eq!(node.metrics().hellos_received, 0);

    node.shutdown().await.expect("shutdown");
    // The last transport snapshot is kept after shutdown.
    assert_eq!(node.metrics().transport.rejected_not_json, 1);
}
