//! `--from-cloudsigma-metadata` (coreos-cloudinit's `server-context`): CloudSigma's server
//! context, read over the virtual serial port (`/dev/ttyS1` at 115200 baud, or
//! `--cloudsigma-serial PATH`). A request is `<\nKEY\n>`; the reply is JSON ending with the
//! byte 0x04 (EOT). Key `""` is the whole context (metadata), key `/meta/` its `meta` map
//! (user-data), as coreos-cloudinit's cepgo client asks.
//!
//! Availability: the root's `sys/class/dmi/id/product_name` starts with `CloudSigma` (else
//! never: waiting cannot change the hardware) and the root's `run/systemd/netif/leases/`
//! holds a lease (else not yet); a serial port that does not exist is never available.
//! Metadata: hostname = `name`, else `uuid`; SSH key =
//! `meta.ssh_public_key` (named by its last word); `$public_ipv4` = the last
//! `nics[].ip_v4_conf.ip.uuid`; `$private_ipv4` = the address of the local NIC whose MAC is
//! a `nics[]` entry with a `vlan.uuid`. Inside a root, "the local NIC's address" is what
//! networkd's lease for that link says: the NIC is found by MAC in the root's
//! `sys/class/net/*/address`, its `ifindex` names `run/systemd/netif/leases/IFINDEX`, whose
//! `ADDRESS=` is the IPv4 (coreos-cloudinit asks the kernel; a statically configured private
//! NIC has no lease, so kindling leaves `$private_ipv4` unset and says so). User-data =
//! `meta["cloudinit-user-data"]`, base64-decoded when `meta.base64_fields` (a comma list)
//! names it; a value that does not decode is an error (coreos-cloudinit silently uses empty
//! user-data).
//!
//! The serial device is a host path, not resolved inside `--root` (a test root holds no
//! devices; the flag names a pseudo-terminal instead). It never writes to the root.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{
    Availability, Datasource, FetchError, Fut, Identity, MAX_METADATA, Metadata, parse_ip,
};

/// The serial port's speed.
pub const BAUD: u32 = 115_200;
/// The byte that ends a reply (EOT).
pub const EOT: u8 = 0x04;
/// The longest one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The `meta` field holding the user-data.
pub const USER_DATA_FIELD: &str = "cloudinit-user-data";

/// CloudSigma's server context.
#[derive(Debug)]
pub struct CloudSigma {
    /// The serial port (`/dev/ttyS1`).
    pub serial: PathBuf,
    /// The root's `sys/class/dmi/id`.
    pub dmi_dir: PathBuf,
    /// The root's `run/systemd/netif/leases`.
    pub leases_dir: PathBuf,
    /// The root's `sys/class/net`.
    pub net_dir: PathBuf,
    /// The run's policy, for its deadline.
    pub policy: std::sync::Arc<super::http::Policy>,
    /// One exchange at a time on the port: replies carry no request id.
    lock: tokio::sync::Mutex<()>,
}

impl CloudSigma {
    /// A source on `serial`, reading the node's DMI, leases and NICs under the given root
    /// directories.
    #[must_use]
    pub fn new(
        serial: PathBuf,
        dmi_dir: PathBuf,
        leases_dir: PathBuf,
        net_dir: PathBuf,
        policy: std::sync::Arc<super::http::Policy>,
    ) -> Self {
        CloudSigma {
            serial,
            dmi_dir,
            leases_dir,
            net_dir,
            policy,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Ask for `key`; the reply parsed as JSON.
    async fn key(&self, key: &str) -> Result<Value, FetchError> {
        let _one = self.lock.lock().await;
        let budget = REQUEST_TIMEOUT.min(self.policy.left());
        let exchange = super::serial::Exchange {
            baud: BAUD,
            request: format!("<\n{key}\n>").into_bytes(),
            end: EOT,
            limit: MAX_METADATA,
            budget,
        };
        let raw = super::serial::request(&self.serial, exchange)
            .await
            .map_err(|e| FetchError::Unreachable(format!("CloudSigma server context: {e}")))?;
        serde_json::from_slice(&raw).map_err(|e| {
            FetchError::Malformed(format!(
                "CloudSigma server context key {key:?}: the reply is not JSON: {e}"
            ))
        })
    }
}

/// The IPv4 networkd leased to the local NIC with `mac`, read inside the root.
#[must_use]
pub fn leased_ipv4(net_dir: &Path, leases_dir: &Path, mac: &str) -> Option<IpAddr> {
    let want = mac.trim().to_ascii_lowercase();
    let entries = std::fs::read_dir(net_dir).ok()?;
    for entry in entries.flatten().take(1024) {
        let dir = entry.path();
        let read = |f: &str| {
            super::read_bounded(&dir.join(f), 4096)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        };
        if read("address").map(|a| a.to_ascii_lowercase()) != Some(want.clone()) {
            continue;
        }
        let ifindex = read("ifindex")?;
        let lease = super::read_bounded(&leases_dir.join(&ifindex), 64 * 1024).ok()?;
        return String::from_utf8_lossy(&lease).lines().find_map(|l| {
            l.strip_prefix("ADDRESS=")
                .and_then(|a| a.trim().parse::<IpAddr>().ok())
                .filter(IpAddr::is_ipv4)
        });
    }
    None
}

/// The metadata of a server context (the reply to key `""`); `local_ipv4` finds the
/// address of a local NIC by MAC.
///
/// # Errors
/// When the context is not an object or an address does not parse.
pub fn metadata(
    context: &Value,
    local_ipv4: &dyn Fn(&str) -> Option<IpAddr>,
) -> Result<Metadata, FetchError> {
    let Some(ctx) = context.as_object() else {
        return Err(FetchError::Malformed(
            "CloudSigma server context: not a JSON object".into(),
        ));
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let name = text(ctx.get("name"));
    let hostname = if name.is_empty() {
        text(ctx.get("uuid"))
    } else {
        name
    };
    let mut md = Metadata {
        hostname: Some(hostname).filter(|h| !h.is_empty()),
        ..Metadata::default()
    };
    let key = text(ctx.get("meta").and_then(|m| m.get("ssh_public_key")));
    if !key.is_empty() {
        let label = key.split(' ').next_back().unwrap_or("").to_string();
        md.ssh_keys.push((label, key));
    }
    let nics = ctx.get("nics").and_then(Value::as_array);
    for (i, nic) in nics.into_iter().flatten().enumerate() {
        let ip = text(nic.pointer("/ip_v4_conf/ip/uuid"));
        if let Some(ip) = parse_ip(&ip, &format!("CloudSigma nics[{i}].ip_v4_conf.ip.uuid"))? {
            md.public_ipv4 = Some(ip);
        }
        let vlan = text(nic.pointer("/vlan/uuid"));
        let mac = text(nic.get("mac"));
        if !vlan.is_empty()
            && !mac.is_empty()
            && let Some(ip) = local_ipv4(&mac)
        {
            md.private_ipv4 = Some(ip);
        }
    }
    Ok(md)
}

/// The user-data of a server context's `meta` map (the reply to key `/meta/`).
///
/// # Errors
/// When `meta` is not an object, the field is not a string, or it is listed in
/// `base64_fields` and does not decode.
pub fn user_data(meta: &Value) -> Result<Vec<u8>, FetchError> {
    let Some(meta) = meta.as_object() else {
        return Err(FetchError::Malformed(
            "CloudSigma server context /meta/: not a JSON object".into(),
        ));
    };
    let data = match meta.get(USER_DATA_FIELD) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(FetchError::Malformed(format!(
                "CloudSigma meta.{USER_DATA_FIELD} is not a string but {other}"
            )));
        }
    };
    let encoded = meta
        .get("base64_fields")
        .and_then(Value::as_str)
        .is_some_and(|f| f.split(',').any(|n| n.trim() == USER_DATA_FIELD));
    if !encoded {
        return Ok(data.clone().into_bytes());
    }
    crate::encoding::decode_base64(data.as_bytes()).map_err(|e| {
        FetchError::Malformed(format!(
            "CloudSigma meta.{USER_DATA_FIELD} is listed in meta.base64_fields but is not base64: {e}"
        ))
    })
}

impl Datasource for CloudSigma {
    fn identity(&self) -> Identity {
        Identity::waiting("server-context", self.serial.display())
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(async move {
            let product = super::dmi(&self.dmi_dir, "product_name");
            if !product
                .as_deref()
                .is_some_and(|p| p.starts_with("CloudSigma"))
            {
                return Availability::Never(format!(
                    "not running on CloudSigma: {}/product_name is {}",
                    self.dmi_dir.display(),
                    product.map_or_else(|| "unreadable".to_string(), |p| format!("{p:?}"))
                ));
            }
            if !self.serial.exists() {
                return Availability::Never(format!(
                    "the serial port {} does not exist; waiting cannot help (name it with --cloudsigma-serial PATH)",
                    self.serial.display()
                ));
            }
            let leased = std::fs::read_dir(&self.leases_dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            if !leased {
                return Availability::NotYet(format!(
                    "no DHCP lease in {} yet",
                    self.leases_dir.display()
                ));
            }
            Availability::Available
        })
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move { user_data(&self.key("/meta/").await?) })
    }

    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(async move {
            let context = self.key("").await?;
            let local = |mac: &str| leased_ipv4(&self.net_dir, &self.leases_dir, mac);
            metadata(&context, &local)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_user_data_of_a_context() {
        let ctx: Value = serde_json::json!({
            "name": "", "uuid": "65b2fb23",
            "meta": {"ssh_public_key": "ssh-ed25519 AAAA me@host"},
            "nics": [
                {"mac": "22:aa:00:00:00:01", "ip_v4_conf": {"ip": {"uuid": "185.12.5.6"}}},
                {"mac": "22:AA:00:00:00:02", "vlan": {"uuid": "vlan-1"}, "ip_v4_conf": null}
            ]
        });
        let md = metadata(&ctx, &|m| {
            (m == "22:AA:00:00:00:02").then(|| "10.0.0.7".parse().unwrap())
        })
        .unwrap();
        assert_eq!(md.hostname.as_deref(), Some("65b2fb23"));
        assert_eq!(md.public_ipv4, Some("185.12.5.6".parse().unwrap()));
        assert_eq!(md.private_ipv4, Some("10.0.0.7".parse().unwrap()));
        assert_eq!(md.ssh_keys[0].0, "me@host");
        let meta = serde_json::json!({"cloudinit-user-data": "I2Nsb3VkLWNvbmZpZwo=", "base64_fields": "x,cloudinit-user-data"});
        assert_eq!(user_data(&meta).unwrap(), b"#cloud-config\n");
        let bad = serde_json::json!({"cloudinit-user-data": "#!", "base64_fields": "cloudinit-user-data"});
        assert!(
            user_data(&bad)
                .unwrap_err()
                .to_string()
                .contains("not base64")
        );
    }
}
