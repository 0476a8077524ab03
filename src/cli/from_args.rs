//! The clap ids of the datasource flags (`datasource::flags::FromArgs`, coreos-cloudinit's
//! names): what `apply`'s FILE and `diff`'s FILEs are not needed with.

pub use crate::datasource::flags::FromArgs;

/// Every datasource flag's id, for clap's `required_unless_present_any`.
pub const SOURCE_IDS: [&str; 14] = [
    "from_file",
    "from_url",
    "from_configdrive",
    "from_ec2_metadata",
    "from_gce_metadata",
    "from_digitalocean_metadata",
    "from_packet_metadata",
    "from_proc_cmdline",
    "from_vmware_ovf_env",
    "from_waagent",
    "from_metadata_service",
    "from_vmware_guestinfo",
    "from_cloudsigma_metadata",
    "oem",
];

/// What `apply`'s FILE is not needed with: `--rollback` or a datasource flag.
pub const APPLY_UNLESS: [&str; 15] = {
    let mut ids = ["rollback"; 15];
    let mut i = 0;
    while i < SOURCE_IDS.len() {
        ids[i + 1] = SOURCE_IDS[i];
        i += 1;
    }
    ids
};
