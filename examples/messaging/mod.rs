//! The node example's direct messages (`docs/node.md`, "The node example's
//! commands"): commands on stdin, one JSON object per line, and what they
//! and received messages print on stdout, one JSON object per line.
//!
//! - `{"cmd":"send","peer":"<64 hex>","text":"…"}` →
//!   `{"event":"delivered","peer":…,"rtt_us":…}` or
//!   `{"event":"send_failed","peer":…,"reason":…}` (`SendError::as_str`).
//! - A message received on [`PROTOCOL`] →
//!   `{"event":"message","peer":…,"protocol":…,"text":…}` (`"len"` instead
//!   of `"text"` when the body is not UTF-8).
//! - A line that is not a command → `{"event":"command_error","reason":…}`.

use std::io::Write;

use serde_json::{json, Value};
use tazcom_node::registry::unix_ms;
use tazcom_node::{Inbox, InboxError, Node, PeerId};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The protocol the example sends and serves text messages on.
pub(crate) const PROTOCOL: &str = "/tazcom/msg/1";
/// Received messages waiting for the printer, at most.
const INBOX: usize = 256;

/// Prints one JSON line with `t_ms`; `false` once stdout is closed.
pub(crate) fn print(mut line: Value) -> bool {
    line["t_ms"] = json!(unix_ms());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

/// Serves [`PROTOCOL`] and prints each message received.
pub(crate) fn serve(node: &Node) -> Result<tokio::task::JoinHandle<()>, tazcom_node::ServeError> {
    let inbox = node.serve(PROTOCOL, INBOX)?;
    Ok(tokio::spawn(print_messages(inbox)))
}

async fn print_messages(mut inbox: Inbox) {
    loop {
        let message = match inbox.recv().await {
            Ok(message) => message,
            Err(InboxError::Lagged { refused }) => {
                tracing::warn!(refused, "message printer fell behind; senders were refused");
                continue;
            }
            Err(_) => return,
        };
        let mut line = json!({
            "event": "message",
            "peer": message.peer.to_string(),
            "protocol": message.protocol,
        });
        match String::from_utf8(message.body) {
            Ok(text) => line["text"] = json!(text),
            Err(e) => line["len"] = json!(e.as_bytes().len()),
        }
        if !print(line) {
            return;
        }
    }
}

/// Reads commands from stdin until it closes (the node keeps running).
pub(crate) async fn read_commands(node: Node) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        match parse(&line) {
            Ok((peer, text)) => {
                let node = node.clone();
                tokio::spawn(send(node, peer, text));
            }
            Err(reason) => {
                print(json!({"event": "command_error", "reason": reason}));
            }
        }
    }
}

/// A `send` command's peer and text.
fn parse(line: &str) -> Result<(PeerId, String), String> {
    let command: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    match command["cmd"].as_str() {
        Some("send") => {}
        Some(other) => return Err(format!("unknown cmd {other:?}")),
        None => return Err("no string cmd".to_owned()),
    }
    let peer = command["peer"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .ok_or("peer is not a peer id")?;
    let text = command["text"].as_str().ok_or("text is not a string")?;
    Ok((peer, text.to_owned()))
}

async fn send(node: Node, peer: PeerId, text: String) {
    let line = match node.send(peer, PROTOCOL, text.into_bytes()).await {
        Ok(rtt) => json!({
            "event": "delivered",
            "peer": peer.to_string(),
            "rtt_us": u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX),
        }),
        Err(error) => {
            tracing::debug!(peer = %peer, %error, "send failed");
            json!({"event": "send_failed", "peer": peer.to_string(), "reason": error.as_str()})
        }
    };
    print(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_or_say_why_not() {
        let id = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let ok = parse(&format!(r#"{{"cmd":"send","peer":"{id}","text":"hi"}}"#)).unwrap();
        assert_eq!((ok.0.to_string().as_str(), ok.1.as_str()), (id, "hi"));
        for (line, why) in [
            ("nope", "not JSON"),
            (r#"{"cmd":"quit"}"#, "unknown cmd"),
            (r#"{"peer":"x"}"#, "no string cmd"),
            (r#"{"cmd":"send","peer":"xyz","text":"a"}"#, "peer is not"),
            (
                &format!(r#"{{"cmd":"send","peer":"{id}","text":1}}"#),
                "text is not",
            ),
        ] {
            let error = parse(line).unwrap_err();
            assert!(error.starts_with(why), "{line}: {error}");
        }
    }
}
