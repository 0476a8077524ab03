//! The sources the datasource flags name, built in coreos-cloudinit's order, each with an
//! HTTP client under the run's [`Policy`] where it needs one, and the node paths it reads
//! resolved inside the root. Nothing is contacted here.

use std::sync::Arc;

use super::flags::FromArgs;
use super::http::{Client, Policy};
use super::{
    Datasource, FetchError, cloudsigma, configdrive, digitalocean, ec2, file, gce, packet,
    proc_cmdline, url, vmware, vmware_guestinfo, waagent,
};
use crate::root::{Root, RootError};

/// Why a source could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Its HTTP client cannot be built (a bad header, TLS).
    #[error(transparent)]
    Client(#[from] FetchError),
    /// A node path it reads cannot be resolved inside the root.
    #[error("{node}: {source}")]
    InRoot {
        /// The node path, as the message names it.
        node: &'static str,
        /// Why.
        source: RootError,
    },
}

/// The address `--from-metadata-service` stands for.
const EC2_ADDRESS: &str = "http://169.254.169.254/";

/// The sources `from` names, in coreos-cloudinit's order.
///
/// # Errors
/// When a client cannot be built or a node path cannot be resolved in `root`.
pub fn sources(
    from: &FromArgs,
    root: &Root,
    policy: &Arc<Policy>,
) -> Result<Vec<Arc<dyn Datasource>>, SourceError> {
    let client = |headers: &[(&str, &str)], env_proxy: bool| {
        Client::new(Arc::clone(policy), headers, env_proxy)
    };
    let plain = || client(&[], false);
    let proxied = || client(&[], true);
    let in_root = |node: &'static str, shown: &'static str| {
        root.resolve(node).map_err(|source| SourceError::InRoot {
            node: shown,
            source,
        })
    };
    // A metadata service named by `flag`: its root URL and a client sending `headers`.
    let service = |flag: &Option<String>, headers: &[(&str, &str)]| {
        flag.as_ref()
            .map(|root| Ok::<_, SourceError>((root.clone(), client(headers, false)?)))
            .transpose()
    };
    let mut out: Vec<Arc<dyn Datasource>> = Vec::new();
    if let Some(p) = &from.from_file {
        out.push(Arc::new(file::File { path: p.into() }));
    }
    if let Some(url) = from.from_url.clone() {
        let client = proxied()?;
        out.push(Arc::new(url::Url { url, client }));
    }
    if let Some(d) = &from.from_configdrive {
        out.push(Arc::new(configdrive::ConfigDrive { root: d.into() }));
    }
    let ec2 = (from.from_ec2_metadata.clone())
        .or_else(|| from.from_metadata_service.then(|| EC2_ADDRESS.to_string()));
    if let Some(u) = ec2 {
        out.push(Arc::new(ec2::Ec2::new(&u, plain()?)));
    }
    if let Some((root, client)) = service(&from.from_gce_metadata, &[gce::FLAVOR])? {
        out.push(Arc::new(gce::Gce { root, client }));
    }
    if let Some((root, client)) = service(&from.from_digitalocean_metadata, &[])? {
        out.push(Arc::new(digitalocean::DigitalOcean { root, client }));
    }
    if let Some(d) = &from.from_waagent {
        out.push(Arc::new(waagent::Waagent { root: d.into() }));
    }
    if let Some((root, client)) = service(&from.from_packet_metadata, &[])? {
        out.push(Arc::new(packet::Packet { root, client }));
    }
    if from.from_proc_cmdline {
        let path = in_root("/proc/cmdline", "proc/cmdline")?;
        let client = proxied()?;
        out.push(Arc::new(proc_cmdline::ProcCmdline { path, client }));
    }
    if from.from_cloudsigma_metadata {
        out.push(Arc::new(cloudsigma::CloudSigma::new(
            from.cloudsigma_serial.clone().into(),
            in_root("/sys/class/dmi/id", "/sys/class/dmi/id")?,
            in_root("/run/systemd/netif/leases", "/run/systemd/netif/leases")?,
            in_root("/sys/class/net", "/sys/class/net")?,
            Arc::clone(policy),
        )));
    }
    if from.from_vmware_guestinfo {
        out.push(Arc::new(vmware_guestinfo::VmwareGuestinfo::new(
            from.vmware_rpctool.clone().into(),
            in_root("/sys/class/dmi/id", "/sys/class/dmi/id")?,
            proxied()?,
        )));
    }
    if let Some(f) = &from.from_vmware_ovf_env {
        let client = proxied()?;
        out.push(Arc::new(vmware::VmwareOvf {
            path: f.into(),
            client,
        }));
    }
    Ok(out)
}
