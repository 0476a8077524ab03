//! The datasource flags of `apply` and `diff` (coreos-cloudinit's names, parsed by clap) and
//! the `--oem` presets that fill them in. Difference: an explicit flag wins over the preset
//! (coreos-cloudinit applies the preset after parsing, so it overrides what the command line
//! says).

/// The datasource flags, shared by `apply` and `diff` (coreos-cloudinit's names).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Datasources (coreos-cloudinit's flags)")]
pub struct FromArgs {
    /// User-data from a local file.
    #[arg(long, value_name = "PATH")]
    pub from_file: Option<String>,
    /// User-data from a URL.
    #[arg(long, value_name = "URL")]
    pub from_url: Option<String>,
    /// An OpenStack config drive mounted at DIR.
    #[arg(long, value_name = "DIR")]
    pub from_configdrive: Option<String>,
    /// The EC2 metadata service at URL (IMDSv2 with IMDSv1 fallback).
    #[arg(long, value_name = "URL")]
    pub from_ec2_metadata: Option<String>,
    /// The GCE metadata service at URL.
    #[arg(long, value_name = "URL")]
    pub from_gce_metadata: Option<String>,
    /// The DigitalOcean metadata service at URL.
    #[arg(long, value_name = "URL")]
    pub from_digitalocean_metadata: Option<String>,
    /// The Packet (Equinix Metal) metadata service at URL.
    #[arg(long, value_name = "URL")]
    pub from_packet_metadata: Option<String>,
    /// The URL of `cloud-config-url=` on the kernel command line (the root's proc/cmdline).
    #[arg(long)]
    pub from_proc_cmdline: bool,
    /// A VMware OVF environment file.
    #[arg(long, value_name = "FILE")]
    pub from_vmware_ovf_env: Option<String>,
    /// Azure's agent directory (waits for DIR/provisioned).
    #[arg(long, value_name = "DIR")]
    pub from_waagent: Option<String>,
    /// [deprecated] The EC2 metadata service at http://169.254.169.254/.
    #[arg(long, hide = true)]
    pub from_metadata_service: bool,
    /// VMware guestinfo, read through open-vm-tools' vmware-rpctool (the root's DMI must
    /// say VMware).
    #[arg(long)]
    pub from_vmware_guestinfo: bool,
    /// The tool --from-vmware-guestinfo runs as `PATH "info-get guestinfo.KEY"`.
    #[arg(long, value_name = "PATH", default_value = "vmware-rpctool")]
    pub vmware_rpctool: String,
    /// CloudSigma's server context over its serial port (the root's DMI must say
    /// CloudSigma).
    #[arg(long)]
    pub from_cloudsigma_metadata: bool,
    /// The serial port of --from-cloudsigma-metadata (a host path, not inside --root).
    #[arg(long, value_name = "PATH", default_value = "/dev/ttyS1")]
    pub cloudsigma_serial: String,
    /// A cloud's preset of sources (ec2-compat, gce, digitalocean, packet, azure,
    /// rackspace-onmetal, vmware, cloudsigma); explicit flags win over it.
    #[arg(long, value_name = "NAME")]
    pub oem: Option<String>,
    /// Convert the source's network config to networkd units: debian, packet or vmware.
    #[arg(long, value_name = "FORMAT")]
    pub convert_netconf: Option<String>,
    /// Where user-data scripts are kept.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/coreos-cloudinit")]
    pub workspace: String,
    /// The name of the authorized_keys.d file (only coreos-cloudinit is supported).
    #[arg(long, value_name = "NAME", default_value = "coreos-cloudinit")]
    pub ssh_key_name: String,
    /// Exit 0 even when the user-data failed (metadata errors still fail).
    #[arg(long)]
    pub ignore_failure: bool,
    /// Only validate the fetched user-data: exit 0 when clean, 1 otherwise.
    #[arg(long)]
    pub validate: bool,
    /// The deadline of the whole run, waiting for sources and fetching included.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub timeout: f64,
    /// The limit of one HTTP request, body included.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub http_timeout: f64,
    /// Contact only these hosts (comma-separated); any other URL is refused before a
    /// connection is attempted.
    #[arg(long, value_name = "HOST,...", value_delimiter = ',')]
    pub allow_hosts: Vec<String>,
}

/// `--oem` names no known preset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--oem {0:?} is not a known OEM; supported: {names}", names = oem_names())]
pub struct UnknownOem(pub String);

fn oem_names() -> String {
    let names: Vec<&str> = OEMS.iter().map(|(n, _, _)| *n).collect();
    names.join(", ")
}

/// One `--oem` preset: its name, the flags it sets, and its `--convert-netconf`.
type Preset = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Option<&'static str>,
);

/// The `--oem` presets.
const OEMS: [Preset; 8] = [
    (
        "digitalocean",
        &[("from-digitalocean-metadata", "http://169.254.169.254/")],
        None,
    ),
    (
        "ec2-compat",
        &[
            ("from-ec2-metadata", "http://169.254.169.254/"),
            ("from-configdrive", "/media/configdrive"),
        ],
        None,
    ),
    (
        "gce",
        &[("from-gce-metadata", "http://metadata.google.internal/")],
        None,
    ),
    (
        "rackspace-onmetal",
        &[("from-configdrive", "/media/configdrive")],
        Some("debian"),
    ),
    ("azure", &[("from-waagent", "/var/lib/waagent")], None),
    ("cloudsigma", &[("from-cloudsigma-metadata", "true")], None),
    (
        "packet",
        &[("from-packet-metadata", "https://metadata.packet.net/")],
        None,
    ),
    (
        "vmware",
        &[("from-vmware-guestinfo", "true")],
        Some("vmware"),
    ),
];

impl FromArgs {
    /// Whether any datasource flag is given.
    #[must_use]
    pub fn any(&self) -> bool {
        self.from_file.is_some()
            || self.from_url.is_some()
            || self.from_configdrive.is_some()
            || self.from_ec2_metadata.is_some()
            || self.from_gce_metadata.is_some()
            || self.from_digitalocean_metadata.is_some()
            || self.from_packet_metadata.is_some()
            || self.from_proc_cmdline
            || self.from_vmware_ovf_env.is_some()
            || self.from_waagent.is_some()
            || self.from_metadata_service
            || self.from_vmware_guestinfo
            || self.from_cloudsigma_metadata
            || self.oem.is_some()
    }

    /// The flags with the `--oem` preset filled in where no explicit flag is given.
    ///
    /// # Errors
    /// When `--oem` names no known preset.
    pub fn with_preset(&self) -> Result<FromArgs, UnknownOem> {
        let mut out = self.clone();
        let Some(name) = &self.oem else {
            return Ok(out);
        };
        let Some((_, sets, netconf)) = OEMS.iter().find(|(n, _, _)| n == name) else {
            return Err(UnknownOem(name.clone()));
        };
        for (flag, value) in *sets {
            let v = Some((*value).to_string());
            match *flag {
                "from-digitalocean-metadata" if out.from_digitalocean_metadata.is_none() => {
                    out.from_digitalocean_metadata = v;
                }
                "from-ec2-metadata" if out.from_ec2_metadata.is_none() => {
                    out.from_ec2_metadata = v;
                }
                "from-configdrive" if out.from_configdrive.is_none() => out.from_configdrive = v,
                "from-gce-metadata" if out.from_gce_metadata.is_none() => {
                    out.from_gce_metadata = v;
                }
                "from-waagent" if out.from_waagent.is_none() => out.from_waagent = v,
                "from-packet-metadata" if out.from_packet_metadata.is_none() => {
                    out.from_packet_metadata = v;
                }
                "from-cloudsigma-metadata" => out.from_cloudsigma_metadata = true,
                "from-vmware-guestinfo" if out.from_vmware_ovf_env.is_none() => {
                    out.from_vmware_guestinfo = true;
                }
                _ => {}
            }
        }
        if out.convert_netconf.is_none() {
            out.convert_netconf = netconf.map(str::to_string);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fill_only_what_is_not_given() {
        let args = FromArgs {
            oem: Some("ec2-compat".into()),
            from_ec2_metadata: Some("http://127.0.0.1:9/".into()),
            ..FromArgs::default()
        };
        let f = args.with_preset().unwrap();
        assert_eq!(f.from_ec2_metadata.as_deref(), Some("http://127.0.0.1:9/"));
        assert_eq!(f.from_configdrive.as_deref(), Some("/media/configdrive"));
        let f = FromArgs {
            oem: Some("rackspace-onmetal".into()),
            ..FromArgs::default()
        }
        .with_preset()
        .unwrap();
        assert_eq!(f.convert_netconf.as_deref(), Some("debian"));
        for (oem, guestinfo, cloudsigma, netconf) in [
            ("vmware", true, false, Some("vmware")),
            ("cloudsigma", false, true, None),
        ] {
            let f = FromArgs {
                oem: Some(oem.into()),
                ..FromArgs::default()
            }
            .with_preset()
            .unwrap();
            assert_eq!(
                (
                    f.from_vmware_guestinfo,
                    f.from_cloudsigma_metadata,
                    f.convert_netconf.as_deref()
                ),
                (guestinfo, cloudsigma, netconf),
                "{oem}"
            );
        }
        let err = FromArgs {
            oem: Some("nope".into()),
            ..FromArgs::default()
        }
        .with_preset()
        .unwrap_err()
        .to_string();
        assert!(err.contains("ec2-compat, gce"), "{err}");
    }
}
