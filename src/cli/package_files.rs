//! `kindling package-files --out DIR` (hidden): the files a distribution package installs
//! beside the binary, laid out as a root tree: the compatibility names as symlinks, the
//! agent's unit and its D-Bus policy (`com.coreos.update1`), the boot-time applier's units and udev rules, the shell completions and the
//! man pages. `scripts/package` runs it with the binary it packages, so the package holds
//! what that very binary generates and can never drift from it.
//!
//! Vendor paths: units in `/usr/lib/systemd/system`, rules in `/usr/lib/udev/rules.d`
//! (a package owns `/usr/lib`; `/etc` stays the administrator's and `kindling boot-units`'s).
//! Nothing is enabled: the package installs, the administrator (or a config) enables.
use std::io::Write;
use std::process::ExitCode;

use super::args::PackageFilesArgs;
use super::error::CliError;
use crate::plan::{Content, Effect, Plan, PlannedFile};

/// Where a package puts systemd units.
pub const UNIT_DIR: &str = "/usr/lib/systemd/system";
/// Where a package puts udev rules.
pub const RULES_DIR: &str = "/usr/lib/udev/rules.d";
/// Where a package puts man pages of section 1.
pub const MAN_DIR: &str = "/usr/share/man/man1";

fn file(path: String, content: Content, origin: &str) -> PlannedFile {
    PlannedFile::unplaced(path, content, 0o644, Effect::InService, origin.into())
}

/// Gzip as Debian policy wants man pages, deterministically (no name, no time stamp).
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    gz.finish()
}

/// The package's files for a binary installed at `bin`, as a plan (paths on the installed
/// system; the binary itself is not part of it).
///
/// # Errors
/// When a man page cannot be rendered or compressed (in memory: not in practice).
pub fn plan(bin: &str) -> std::io::Result<Plan> {
    let (bin_dir, bin_name) = bin.rsplit_once('/').unwrap_or(("/usr/bin", bin));
    let bin_dir = if bin_dir.is_empty() { "/" } else { bin_dir };
    let mut files = Vec::new();
    for name in super::COMPAT_NAMES {
        files.push(file(
            format!("{}/{name}", bin_dir.trim_end_matches('/')),
            Content::Symlink(bin_name.to_string()),
            "compatibility name",
        ));
    }
    files.push(file(
        format!("{UNIT_DIR}/{}", crate::plan::agent::AGENT_UNIT),
        Content::Bytes(crate::plan::agent::unit_text_for(bin).into_bytes()),
        "agent",
    ));
    // The system bus lets the agent own update_engine's name only with this policy.
    files.push(file(
        crate::bus::POLICY_PATH.to_string(),
        Content::Bytes(crate::bus::POLICY.as_bytes().to_vec()),
        "agent",
    ));
    files.push(file(
        format!("{UNIT_DIR}/{}", crate::plan::agent::REBOOT_MANAGER_UNIT),
        Content::Bytes(crate::plan::agent::reboot_manager_unit_text_for(bin).into_bytes()),
        "reboot manager",
    ));
    for (path, text) in crate::datasource::boot_units::files(bin) {
        let path = if let Some(name) = path.strip_prefix(crate::datasource::boot_units::UNIT_DIR) {
            format!("{UNIT_DIR}{name}")
        } else if let Some(name) = path.strip_prefix(crate::datasource::boot_units::RULES_DIR) {
            format!("{RULES_DIR}{name}")
        } else {
            path
        };
        files.push(file(path, Content::Bytes(text.into_bytes()), "boot-units"));
    }
    for (shell, path) in [
        (
            clap_complete::Shell::Bash,
            "/usr/share/bash-completion/completions/kindling",
        ),
        (
            clap_complete::Shell::Zsh,
            "/usr/share/zsh/vendor-completions/_kindling",
        ),
        (
            clap_complete::Shell::Fish,
            "/usr/share/fish/vendor_completions.d/kindling.fish",
        ),
    ] {
        files.push(file(
            path.into(),
            Content::Bytes(super::completions::script(shell).into_bytes()),
            "completions",
        ));
    }
    for (name, roff) in super::reference::man_pages()?
        .into_iter()
        .chain(compat_man_pages()?)
    {
        files.push(file(
            format!("{MAN_DIR}/{name}.gz"),
            Content::Bytes(gzip(&roff)?),
            "man pages",
        ));
    }
    Ok(Plan {
        files,
        actions: Vec::new(),
    })
}

/// What each compatibility name is, and the kindling command whose page has the details.
const COMPAT_PAGES: [(&str, &str, &str); 3] = [
    (
        "update_engine_client",
        "update_engine's client, answered by kindling's update agent",
        "Installed as update_engine_client, kindling takes update_engine_client's flags \
         (-status, -check_for_update, -update, -reset_status, -watch_for_updates) and \
         answers as update_engine_client does, from the kindling update agent.",
    ),
    (
        "locksmithctl",
        "locksmith's reboot lock client, answered by kindling lock",
        "Installed as locksmithctl, kindling takes locksmithctl's global flags \
         (-endpoint, -etcd-cafile, -etcd-certfile, -etcd-keyfile, -etcd-username, \
         -etcd-password, -group) and commands (status, lock, unlock, set-max, reboot, help) \
         and answers byte for byte as locksmithctl 0.6.2 does; the command itself runs as \
         kindling lock.",
    ),
    (
        "coreos-cloudinit",
        "coreos-cloudinit's command line, answered by kindling apply",
        "Installed as coreos-cloudinit, kindling takes coreos-cloudinit's flags in Go's \
         spelling (-from-file=FILE, -from-configdrive, -from-ec2-metadata, \
         -from-proc-cmdline, -oem, -validate, -version, ...) and runs them as \
         kindling apply --root=/ with the same flags, so images' boot units call it unchanged.",
    ),
];

/// A man page for each compatibility name: what it is, and where kindling's own page is.
///
/// # Errors
/// When a page cannot be rendered (in memory: not in practice).
pub fn compat_man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (name, about, long) in COMPAT_PAGES {
        let see = match name {
            "update_engine_client" => "kindling-agent(1)",
            "locksmithctl" => "kindling-lock(1)",
            _ => "kindling-apply(1)",
        };
        let cmd = clap::Command::new(name)
            .about(about)
            .long_about(format!(
                "{long} It is a symbolic link to kindling; see kindling(1) and {see}."
            ))
            .disable_help_flag(true)
            .disable_version_flag(true);
        let man = clap_mangen::Man::new(cmd)
            .source(concat!("kindling ", env!("CARGO_PKG_VERSION")))
            .manual("kindling");
        let mut text = Vec::new();
        man.render(&mut text)?;
        out.push((man.get_filename(), text));
    }
    Ok(out)
}

pub(super) fn run(args: &PackageFilesArgs) -> Result<ExitCode, CliError> {
    if !args.bin.starts_with('/')
        || args.bin.ends_with('/')
        || args.bin.contains(char::is_whitespace)
    {
        return Err(CliError::Usage(format!(
            "--bin {:?} must be an absolute file path without spaces",
            args.bin
        )));
    }
    let plan = plan(&args.bin)
        .map_err(|e| CliError::Usage(format!("cannot render the man pages: {e}")))?;
    // The tree writer's manifest records every file with its hash; its source is empty
    // because nothing was compiled.
    let (source, _) = crate::source::load("package-files", Vec::new());
    let manifest = crate::emit::manifest::render(&plan, &source);
    let n = crate::emit::tree::write(&plan, &manifest, &args.out)?;
    eprintln!("kindling: wrote {n} files into {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
