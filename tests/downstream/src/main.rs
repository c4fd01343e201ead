//! A LAN node as a user of `tazcom-node` writes it: the facade is its only
//! TAZCOM dependency. `cargo run -p tazcom-downstream` announces itself over
//! mDNS on every non-loopback interface and prints what happens.

use tazcom_node::{MdnsConfig, Node};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder().mdns(MdnsConfig::default()).start().await?;
    let mut events = node.events();
    while let Ok(event) = events.recv().await {
        println!("{event:?}");
    }
    Ok(())
}
