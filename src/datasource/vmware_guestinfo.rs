//! `--from-vmware-guestinfo` (coreos-cloudinit's `vmware` reading guestinfo from the
//! hypervisor): the same keys as an OVF environment, asked of VMware one at a time through
//! open-vm-tools' `vmware-rpctool "info-get guestinfo.KEY"`, as cloud-init does.
//!
//! coreos-cloudinit talks to the hypervisor in-process through the VMware backdoor I/O port
//! and dies with SIGSEGV on any other x86 machine. kindling never does raw port I/O: it runs
//! the tool VMware ships for exactly this, with a timeout per call (never past the run's
//! deadline), stdout bounded (a value larger than the limit ends the call), stderr bounded,
//! and stdin closed. `vmware-rpctool` prints the value plus a newline and exits 0, or prints
//! the hypervisor's reply on stderr and exits 1: `No value found` is an absent key, anything
//! else (`Failed sending message to VMware.`, or open-vm-tools 12's `Error: vmware-rpctool
//! must be run inside a virtual machine on a VMware hypervisor product.` with exit 255) means
//! the node is not on VMware.
//!
//! Availability (never changes, as in coreos-cloudinit): the root's DMI
//! (`sys/class/dmi/id/sys_vendor` or `product_name`) says VMware, the tool is installed,
//! and it answers `info-get guestinfo.ovfenv` (a value or `No value found`). Reading:
//! `ovfenv` first; when non-empty it is the OVF environment document and its properties
//! are the keys; else each key is asked for in coreos-cloudinit's order (`hostname`,
//! `dns.server.N`, `dns.domain.N`, `interface.N.*` until the first empty interface, the
//! user-data keys), every loop bounded. User-data and metadata then come from the shared
//! code in `vmware`, so both VMware sources read keys the same way.
//!
//! It never writes, and it runs nothing but the configured tool.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::http::Client;
use super::{
    Availability, Datasource, FetchError, Fut, Identity, MAX_METADATA, MAX_USER_DATA, Metadata,
    vmware,
};

/// The longest one `vmware-rpctool` call may take (a real call takes milliseconds).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The most indices read for `dns.server.N`, `interface.N`, `ip.M`, `route.L` (far beyond
/// any real VM: vSphere allows 10 NICs).
pub const MAX_INDEX: usize = 64;

/// Largest stderr kept from the tool (its messages are one line).
const MAX_STDERR: usize = 4096;

/// What `vmware-rpctool` prints for a key that is not set.
pub const NO_VALUE: &str = "No value found";

/// VMware guestinfo, through `vmware-rpctool`.
#[derive(Debug)]
pub struct VmwareGuestinfo {
    /// The tool: a path, or a name looked up on `PATH`.
    pub rpctool: PathBuf,
    /// The root's `sys/class/dmi/id`.
    pub dmi_dir: PathBuf,
    /// The client for `*.config.url`; its policy's deadline bounds every call.
    pub client: Client,
    /// The keys, read once.
    keys: tokio::sync::OnceCell<Result<BTreeMap<String, String>, FetchError>>,
}

/// Why a call gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CallError {
    /// The tool is not installed (or cannot be run).
    Missing(String),
    /// The tool says the node is not on VMware.
    NotVmware(String),
    /// Anything else: a timeout, a value too large, another failure.
    Failed(String),
}

impl CallError {
    fn into_fetch(self) -> FetchError {
        match self {
            CallError::Missing(m) | CallError::NotVmware(m) | CallError::Failed(m) => {
                FetchError::Unreachable(m)
            }
        }
    }
}

impl VmwareGuestinfo {
    /// A source using `rpctool`, with the root's DMI directory.
    #[must_use]
    pub fn new(rpctool: PathBuf, dmi_dir: PathBuf, client: Client) -> Self {
        VmwareGuestinfo {
            rpctool,
            dmi_dir,
            client,
            keys: tokio::sync::OnceCell::new(),
        }
    }

    /// The tool's path, looked up on `PATH` when it is a bare name.
    fn program(&self) -> Option<PathBuf> {
        if self.rpctool.components().count() > 1 {
            return self.rpctool.is_file().then(|| self.rpctool.clone());
        }
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(&self.rpctool))
                .find(|f| f.is_file())
        })
    }

    fn install_hint(&self) -> String {
        format!(
            "{} is not installed (install open-vm-tools, or name the tool with --vmware-rpctool PATH)",
            self.rpctool.display()
        )
    }

    /// One `info-get guestinfo.KEY`: `Ok(None)` for an absent or empty key.
    async fn get(&self, key: &str, limit: usize) -> Result<Option<String>, CallError> {
        let Some(program) = self.program() else {
            return Err(CallError::Missing(self.install_hint()));
        };
        let request = format!("info-get guestinfo.{key}");
        let budget = CALL_TIMEOUT.min(self.client.policy().left());
        let call = async {
            let mut child = tokio::process::Command::new(&program)
                .arg(&request)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
                    CallError::Missing(format!("cannot run {}: {e}", program.display()))
                })?;
            let stdout = child.stdout.take();
            let stderr = child.stderr.take();
            // Each pipe is read up to its limit and then closed, so a tool that keeps
            // writing gets EPIPE instead of filling memory; the timeout bounds the rest.
            let (out, err) = tokio::join!(capped(stdout, limit), capped(stderr, MAX_STDERR));
            if out.len() > limit {
                return Err(CallError::Failed(format!(
                    "{} {request:?}: the value is larger than {} KiB",
                    program.display(),
                    limit / 1024
                )));
            }
            let status = child.wait().await.map_err(|e| {
                CallError::Failed(format!("{} {request:?}: {e}", program.display()))
            })?;
            Ok((status, out, err))
        };
        let (status, out, err) = match tokio::time::timeout(budget, call).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(CallError::Failed(format!(
                    "{} {request:?} did not answer within {:.1} s",
                    program.display(),
                    budget.as_secs_f64()
                )));
            }
        };
        let err = String::from_utf8_lossy(&err).trim().to_string();
        if status.success() {
            let mut value = String::from_utf8_lossy(&out).into_owned();
            // The tool appends one newline to the value; anything else is the value's.
            if value.ends_with('\n') {
                value.pop();
            }
            return Ok(Some(value).filter(|v| !v.is_empty()));
        }
        if err.contains(NO_VALUE) {
            return Ok(None);
        }
        let code = status.code().map_or_else(
            || "killed by a signal".to_string(),
            |c| format!("exit status {c}"),
        );
        let said = if err.is_empty() { "no message" } else { &err };
        if err.contains("must be run inside a virtual machine")
            || err.contains("Failed sending message to VMware")
        {
            return Err(CallError::NotVmware(format!(
                "not running on VMware ({}: {said}; {code})",
                program.display()
            )));
        }
        Err(CallError::Failed(format!(
            "{} {request:?} failed ({code}): {said}",
            program.display()
        )))
    }

    /// Every key coreos-cloudinit reads, `guestinfo.` removed.
    async fn read_keys(&self) -> Result<BTreeMap<String, String>, FetchError> {
        let ovfenv = self
            .get("ovfenv", MAX_METADATA)
            .await
            .map_err(CallError::into_fetch)?;
        if let Some(doc) = ovfenv {
            return vmware::properties(&doc).map_err(|e| {
                FetchError::Malformed(format!("guestinfo.ovfenv is not an OVF environment: {e}"))
            });
        }
        let mut keys = BTreeMap::new();
        let mut save = async |key: String, limit: usize| -> Result<bool, FetchError> {
            match self.get(&key, limit).await.map_err(CallError::into_fetch)? {
                Some(v) => {
                    keys.insert(key, v);
                    Ok(true)
                }
                None => Ok(false),
            }
        };
        save("hostname".into(), MAX_METADATA).await?;
        for kind in ["server", "domain"] {
            for i in 0..MAX_INDEX {
                if !save(format!("dns.{kind}.{i}"), MAX_METADATA).await? {
                    break;
                }
            }
        }
        for i in 0..MAX_INDEX {
            let mut found = false;
            for k in ["name", "mac", "dhcp"] {
                found |= save(format!("interface.{i}.{k}"), MAX_METADATA).await?;
            }
            save(format!("interface.{i}.role"), MAX_METADATA).await?;
            for a in 0..MAX_INDEX {
                if !save(format!("interface.{i}.ip.{a}.address"), MAX_METADATA).await? {
                    break;
                }
                found = true;
            }
            for r in 0..MAX_INDEX {
                let g = save(format!("interface.{i}.route.{r}.gateway"), MAX_METADATA).await?;
                let d = save(format!("interface.{i}.route.{r}.destination"), MAX_METADATA).await?;
                if !g && !d {
                    break;
                }
                found = true;
            }
            if !found {
                break;
            }
        }
        for prefix in vmware::USER_DATA_PREFIXES {
            // Base64 of the largest user-data is a third larger than the user-data.
            save(format!("{prefix}.data"), MAX_USER_DATA / 3 * 4 + 4).await?;
            save(format!("{prefix}.data.encoding"), MAX_METADATA).await?;
            save(format!("{prefix}.url"), MAX_METADATA).await?;
        }
        Ok(keys)
    }

    async fn keys(&self) -> Result<BTreeMap<String, String>, FetchError> {
        self.keys.get_or_init(|| self.read_keys()).await.clone()
    }
}

/// Read `pipe` up to `limit + 1` bytes (one more than allowed, to see an overflow).
async fn capped<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(p) = pipe {
        // A read error leaves what was read; the exit status tells the rest.
        let _ = p.take(limit as u64 + 1).read_to_end(&mut out).await;
    }
    out
}

impl Datasource for VmwareGuestinfo {
    fn identity(&self) -> Identity {
        Identity::once(
            "vmware",
            format_args!("guestinfo via {}", self.rpctool.display()),
        )
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(async move {
            let vendor = super::dmi(&self.dmi_dir, "sys_vendor");
            let product = super::dmi(&self.dmi_dir, "product_name");
            let is_vmware = |v: &Option<String>| {
                v.as_deref()
                    .is_some_and(|s| s.to_ascii_lowercase().starts_with("vmware"))
            };
            if !is_vmware(&vendor) && !is_vmware(&product) {
                return Availability::Never(format!(
                    "not running on VMware: {} says sys_vendor {}, product_name {}",
                    self.dmi_dir.display(),
                    vendor.map_or_else(|| "(unreadable)".to_string(), |v| format!("{v:?}")),
                    product.map_or_else(|| "(unreadable)".to_string(), |v| format!("{v:?}")),
                ));
            }
            // The probe is the key read first anyway; its answer says the hypervisor talks.
            match self.get("ovfenv", MAX_METADATA).await {
                Ok(_) => Availability::Available,
                Err(CallError::Missing(m) | CallError::NotVmware(m) | CallError::Failed(m)) => {
                    Availability::Never(m)
                }
            }
        })
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move { vmware::user_data(&self.keys().await?, &self.client).await })
    }

    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(async move { vmware::metadata(&self.keys().await?) })
    }
}
