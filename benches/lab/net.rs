//! The lab network: N host namespaces on a bridge that lives in a switch
//! namespace of its own. Every `ip` command names its namespace (`-n`), and
//! each veth pair is created inside the switch namespace with its peer end
//! placed straight into a host namespace, so nothing is ever created in, or
//! moved through, the root network namespace.

use std::process::Command;

use crate::LabError;

/// First three octets of the lab's IPv4 subnet (10.78.0.0/24).
const SUBNET: &str = "10.78.0";

/// The namespaces of one lab; deleted (only those it created) when dropped.
pub(crate) struct Net {
    switch: String,
    hosts: Vec<String>,
    /// Namespaces created so far, in creation order (teardown goes backwards).
    created: Vec<String>,
}

impl Net {
    /// Creates `<prefix>-sw` with bridge `br0` and hosts `<prefix>-h1..hN`
    /// (eth0 = 10.78.0.i/24, IPv4 only, multicast routed to eth0).
    /// On error, whatever was already created is deleted by `Drop`.
    pub(crate) fn create(prefix: &str, n: usize) -> Result<Net, LabError> {
        if !(1..=250).contains(&n) {
            return Err(LabError::Failed(format!("N must be 1..=250, got {n}")));
        }
        let mut net = Net {
            switch: format!("{prefix}-sw"),
            hosts: (1..=n).map(|i| format!("{prefix}-h{i}")).collect(),
            created: Vec::new(),
        };
        net.create_switch()?;
        for i in 1..=n {
            net.create_host(i)?;
        }
        Ok(net)
    }

    /// Namespace name of host `i` (0-based).
    pub(crate) fn host(&self, i: usize) -> &str {
        &self.hosts[i]
    }

    /// Starts counting, in every host, the TCP packets it sends (IP and TCP
    /// headers included) with an nftables counter in its namespace (table
    /// `inet labcount`, replaced if present). `Ok(false)` when `nft` is not
    /// installed (apt `nftables`): the lab then reports no byte count.
    pub(crate) fn count_tcp(&self) -> Result<bool, LabError> {
        if Command::new("nft").arg("--version").output().is_err() {
            return Ok(false);
        }
        for h in &self.hosts {
            let _ = nft(h, &["delete", "table", "inet", "labcount"]);
            nft(h, &["add", "table", "inet", "labcount"])?;
            nft(
                h,
                &[
                    "add",
                    "chain",
                    "inet",
                    "labcount",
                    "out",
                    "{ type filter hook output priority 0; }",
                ],
            )?;
            nft(
                h,
                &[
                    "add", "rule", "inet", "labcount", "out", "meta", "l4proto", "tcp", "counter",
                ],
            )?;
        }
        Ok(true)
    }

    /// TCP bytes host `i` sent since [`count_tcp`](Self::count_tcp).
    pub(crate) fn tcp_bytes(&self, i: usize) -> Result<u64, LabError> {
        let listing = nft(
            &self.hosts[i],
            &["list", "chain", "inet", "labcount", "out"],
        )?;
        listing
            .split_whitespace()
            .skip_while(|w| *w != "bytes")
            .nth(1)
            .and_then(|b| b.parse().ok())
            .ok_or_else(|| LabError::Failed(format!("no byte counter in {listing:?}")))
    }

    fn add_namespace(&mut self, name: &str) -> Result<(), LabError> {
        ip(&["netns", "add", name])?;
        self.created.push(name.to_owned());
        Ok(())
    }

    fn create_switch(&mut self) -> Result<(), LabError> {
        let sw = self.switch.clone();
        self.add_namespace(&sw)?;
        ip(&["-n", &sw, "link", "set", "lo", "up"])?;
        // No STP (ports forward at once), no IGMP snooping (multicast is
        // flooded to every port, as on a dumb switch).
        ip(&[
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        disable_ipv6(&sw)
    }

    /// Host `i` is 1-based here, as in its name and address.
    fn create_host(&mut self, i: usize) -> Result<(), LabError> {
        let sw = self.switch.clone();
        let h = self.hosts[i - 1].clone();
        let port = format!("p{i}");
        self.add_namespace(&h)?;
        ip(&[
            "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &h,
        ])?;
        ip(&["-n", &sw, "link", "set", &port, "master", "br0"])?;
        ip(&["-n", &sw, "link", "set", &port, "up"])?;
        ip(&["-n", &h, "link", "set", "lo", "up"])?;
        ip(&["-n", &h, "link", "set", "eth0", "multicast", "on"])?;
        ip(&[
            "-n",
            &h,
            "addr",
            "add",
            &format!("{SUBNET}.{i}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &h, "link", "set", "eth0", "up"])?;
        // There is no default route on purpose; multicast still needs one.
        ip(&["-n", &h, "route", "add", "224.0.0.0/4", "dev", "eth0"])?;
        disable_ipv6(&h)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for name in self.created.iter().rev() {
            if let Err(e) = ip(&["netns", "del", name]) {
                eprintln!("lab: teardown: {e}");
            }
        }
    }
}

/// The lab is IPv4 only: keeps mDNS traffic and timings simple.
fn disable_ipv6(ns: &str) -> Result<(), LabError> {
    for key in ["all", "default"] {
        let setting = format!("net.ipv6.conf.{key}.disable_ipv6=1");
        ip(&["netns", "exec", ns, "sysctl", "-qw", &setting])?;
    }
    Ok(())
}

/// Runs `nft ARGS` in namespace `ns`; its stdout, or its stderr as the error.
fn nft(ns: &str, args: &[&str]) -> Result<String, LabError> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "nft"])
        .args(args)
        .output()
        .map_err(|e| LabError::Failed(format!("cannot run `nft`: {e}")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(LabError::Failed(format!(
        "`nft {}` in {ns} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Runs `ip ARGS`; a failure carries `ip`'s stderr. EPERM becomes
/// [`LabError::NotRoot`].
fn ip(args: &[&str]) -> Result<(), LabError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| LabError::Failed(format!("cannot run `ip` (iproute2 installed?): {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if stderr.contains("Operation not permitted") {
        return Err(LabError::NotRoot(stderr));
    }
    Err(LabError::Failed(format!(
        "`ip {}` failed: {stderr}",
        args.join(" ")
    )))
}
