//! `kindling slots`: show and change the A/B /usr slots of a disk, play the firmware's boot
//! choice, and create a simulated node's disk. Thin wrappers over [`crate::slots`].
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::emit;
use crate::slots::{self, Disk, Slot, SlotsError};

/// Arguments of `slots`.
#[derive(Debug, clap::Args)]
pub struct SlotsArgs {
    /// What to do with the slots.
    #[command(subcommand)]
    pub command: SlotsCommand,
}

/// The `slots` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SlotsCommand {
    /// Show the /usr slots: label, PARTUUID, priority, tries, successful, version.
    Show(ShowArgs),
    /// Play the firmware (gptprio.next): choose the slot to boot, use one of its tries, and
    /// print its PARTUUID.
    Next(DiskArgs),
    /// Create a simulated node's disk: a CoreOS-like GPT with USR-A good and USR-B empty.
    Init(InitArgs),
    /// Mark a slot good (coreos-setgoodroot): successful, no tries, top priority.
    SetGood(SetArgs),
    /// Give a slot one boot attempt above every other slot (flatcar-postinst).
    SetTrial(SetArgs),
    /// Make a slot unbootable: priority 0, tries 0, not successful.
    SetUnbootable(SetArgs),
}

/// Which disk.
#[derive(Debug, clap::Args)]
pub struct DiskArgs {
    /// The disk image or block device. Without it, the disk holding the booted /usr
    /// partition (from ROOT/proc/cmdline) is found through ROOT/dev and ROOT/sys.
    #[arg(long, value_name = "IMG")]
    pub disk: Option<PathBuf>,
    /// The node's root directory, for its /proc/cmdline, /dev and /sys [default: /].
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// Arguments of `slots show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub disk: DiskArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = super::DiffFormat::Human)]
    pub format: super::DiffFormat,
}

/// Arguments of `slots init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The image file to create.
    #[arg(long, value_name = "IMG")]
    pub disk: PathBuf,
    /// Size of each /usr slot, like 64M or 1G.
    #[arg(long, value_name = "SIZE", value_parser = slots::parse_size)]
    pub slot_size: u64,
    /// A filesystem image to copy into USR-A.
    #[arg(long, value_name = "FILE")]
    pub usr_a: Option<PathBuf>,
    /// A filesystem image to copy into USR-B.
    #[arg(long, value_name = "FILE")]
    pub usr_b: Option<PathBuf>,
    /// Replace IMG if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `slots set-*`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub disk: DiskArgs,
    /// The slot's PARTUUID. `set-good` defaults to the booted slot (ROOT/proc/cmdline).
    #[arg(long, value_name = "UUID")]
    pub partuuid: Option<String>,
}

pub(super) fn run(args: &SlotsArgs) -> ExitCode {
    let result = match &args.command {
        SlotsCommand::Show(a) => show(a),
        SlotsCommand::Next(a) => next(a),
        SlotsCommand::Init(a) => init(a),
        SlotsCommand::SetGood(a) => set(a, "set-good"),
        SlotsCommand::SetTrial(a) => set(a, "set-trial"),
        SlotsCommand::SetUnbootable(a) => set(a, "set-unbootable"),
    };
    result.unwrap_or_else(|code| code)
}

fn fail(err: &SlotsError) -> ExitCode {
    eprintln!("kindling: {err}");
    ExitCode::from(err.exit_code())
}

fn root_of(args: &DiskArgs) -> &Path {
    args.root.as_deref().unwrap_or(Path::new("/"))
}

/// The booted PARTUUID named by ROOT/proc/cmdline; `Err` with the exit code when it cannot be
/// read or names none.
fn booted(root: &Path) -> Result<String, ExitCode> {
    let path = root.join("proc/cmdline");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        eprintln!("kindling: cannot read {}: {e}", path.display());
        ExitCode::from(2)
    })?;
    slots::booted_partuuid(&text).ok_or_else(|| {
        eprintln!(
            "kindling: {} names no booted /usr partition (no mount.usr=PARTUUID=... or \
             usr=PARTUUID=...); pass --disk and --partuuid",
            path.display()
        );
        ExitCode::from(1)
    })
}

fn open(args: &DiskArgs) -> Result<Disk, ExitCode> {
    let path = match &args.disk {
        Some(path) => path.clone(),
        None => {
            let root = root_of(args);
            let partuuid = booted(root)?;
            slots::find_disk(root, &partuuid).map_err(|e| fail(&e))?
        }
    };
    Disk::open(&path).map_err(|e| fail(&e))
}

#[derive(serde::Serialize)]
struct SlotView<'a> {
    #[serde(flatten)]
    slot: &'a Slot,
    booted: bool,
}

#[derive(serde::Serialize)]
struct ShowView<'a> {
    disk: String,
    tables: slots::Health,
    booted: Option<String>,
    next: Option<String>,
    slots: Vec<SlotView<'a>>,
}

fn show(args: &ShowArgs) -> Result<ExitCode, ExitCode> {
    let disk = open(&args.disk)?;
    let booted = match (&args.disk.root, &args.disk.disk) {
        (Some(root), _) => Some(booted(root)?),
        (None, None) => Some(booted(Path::new("/"))?),
        (None, Some(_)) => None,
    };
    let health = disk.health().map_err(|e| fail(&e))?;
    let slots = disk.usr_slots().map_err(|e| fail(&e))?;
    let next = disk.would_boot().map_err(|e| fail(&e))?;
    let is_booted = |s: &Slot| booted.as_deref() == Some(s.partuuid.as_str());
    let text = match args.format {
        super::DiffFormat::Json => {
            let view = ShowView {
                disk: disk.path().display().to_string(),
                tables: health,
                booted: booted.clone(),
                next: next.as_ref().map(|s| s.partuuid.clone()),
                slots: slots
                    .iter()
                    .map(|slot| SlotView {
                        slot,
                        booted: is_booted(slot),
                    })
                    .collect(),
            };
            let mut t = serde_json::to_string_pretty(&view).unwrap_or_default();
            t.push('\n');
            t
        }
        super::DiffFormat::Human => {
            let mut t = format!(
                "{}: primary table {}, backup table {}\n",
                disk.path().display(),
                health.primary,
                health.backup
            );
            let header = format!(
                "{:>3}  {:<10} {:<36}  {:>8} {:>5} {:>10}  {}",
                "#", "LABEL", "PARTUUID", "PRIORITY", "TRIES", "SUCCESSFUL", "VERSION"
            );
            t.push_str(header.trim_end());
            t.push('\n');
            for s in &slots {
                let line = format!(
                    "{:>3}  {:<10} {:<36}  {:>8} {:>5} {:>10}  {:<12}{}",
                    s.number,
                    s.label,
                    s.partuuid,
                    s.priority,
                    s.tries,
                    u8::from(s.successful),
                    s.version.as_deref().unwrap_or("-"),
                    if is_booted(s) { "  (booted)" } else { "" }
                );
                t.push_str(line.trim_end());
                t.push('\n');
            }
            if let Some(b) = &booted
                && !slots.iter().any(|s| &s.partuuid == b)
            {
                t.push_str(&format!("booted /usr {b} is not a slot of this disk\n"));
            }
            match &next {
                Some(s) => t.push_str(&format!("next boot: {} ({})\n", s.label, s.partuuid)),
                None => t.push_str("next boot: nothing is bootable\n"),
            }
            t
        }
    };
    Ok(emit(&text))
}

fn next(args: &DiskArgs) -> Result<ExitCode, ExitCode> {
    let disk = open(args)?;
    let next = disk.next_boot().map_err(|e| fail(&e))?;
    Ok(emit(&format!("{}\n", next.slot.partuuid)))
}

fn init(args: &InitArgs) -> Result<ExitCode, ExitCode> {
    let options = slots::InitOptions {
        slot_size: args.slot_size,
        usr_a: args.usr_a.clone(),
        usr_b: args.usr_b.clone(),
        force: args.force,
    };
    let (a, b) = slots::init(&args.disk, &options).map_err(|e| fail(&e))?;
    Ok(emit(&format!(
        "created {}: USR-A {a} (good, booted first), USR-B {b} (empty)\n",
        args.disk.display()
    )))
}

fn set(args: &SetArgs, which: &str) -> Result<ExitCode, ExitCode> {
    let disk = open(&args.disk)?;
    let partuuid = match (&args.partuuid, which) {
        (Some(p), _) => p.clone(),
        (None, "set-good") => booted(root_of(&args.disk))?,
        (None, _) => {
            eprintln!("kindling: slots {which} needs --partuuid");
            return Err(ExitCode::from(2));
        }
    };
    let slot = match which {
        "set-good" => disk.mark_good(&partuuid),
        "set-trial" => disk.prioritize_for_trial(&partuuid),
        _ => disk.make_unbootable(&partuuid),
    }
    .map_err(|e| fail(&e))?;
    Ok(emit(&format!(
        "{} {}: priority {} tries {} successful {}\n",
        slot.label,
        slot.partuuid,
        slot.priority,
        slot.tries,
        u8::from(slot.successful)
    )))
}
