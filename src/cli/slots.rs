//! `kindling slots`: show and change the A/B /usr slots of a disk, play the firmware's boot
//! choice, and create a simulated node's disk. Thin wrappers over [`crate::slots`]: each
//! command parses, calls the domain, and renders; failures go through [`CliError`].
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::emit;
use super::error::CliError;
use crate::slots::{self, Disk, Slot};

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

pub(super) fn run(args: &SlotsArgs) -> Result<ExitCode, CliError> {
    match &args.command {
        SlotsCommand::Show(a) => show(a),
        SlotsCommand::Next(a) => next(a),
        SlotsCommand::Init(a) => init(a),
        SlotsCommand::SetGood(a) => set(a, Change::Good),
        SlotsCommand::SetTrial(a) => set(a, Change::Trial),
        SlotsCommand::SetUnbootable(a) => set(a, Change::Unbootable),
    }
}

/// What a `slots set-*` command does to its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Good,
    Trial,
    Unbootable,
}

impl Change {
    fn command(self) -> &'static str {
        match self {
            Change::Good => "set-good",
            Change::Trial => "set-trial",
            Change::Unbootable => "set-unbootable",
        }
    }
}

fn root_of(args: &DiskArgs) -> &Path {
    args.root.as_deref().unwrap_or(Path::new("/"))
}

fn open(args: &DiskArgs) -> Result<Disk, CliError> {
    Ok(slots::open_disk(args.disk.as_deref(), root_of(args))?)
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

/// What `slots show` prints: the disk, its tables' health, its slots, the booted one and
/// the one the firmware would boot next.
struct Shown {
    disk: Disk,
    health: slots::Health,
    slots: Vec<Slot>,
    booted: Option<String>,
    next: Option<Slot>,
}

impl Shown {
    fn is_booted(&self, slot: &Slot) -> bool {
        self.booted.as_deref() == Some(slot.partuuid.as_str())
    }

    fn json(&self) -> String {
        let view = ShowView {
            disk: self.disk.path().display().to_string(),
            tables: self.health.clone(),
            booted: self.booted.clone(),
            next: self.next.as_ref().map(|s| s.partuuid.clone()),
            slots: self
                .slots
                .iter()
                .map(|slot| SlotView {
                    slot,
                    booted: self.is_booted(slot),
                })
                .collect(),
        };
        let mut t = serde_json::to_string_pretty(&view).unwrap_or_default();
        t.push('\n');
        t
    }

    fn human(&self) -> String {
        let mut t = format!(
            "{}: primary table {}, backup table {}\n",
            self.disk.path().display(),
            self.health.primary,
            self.health.backup
        );
        let header = format!(
            "{:>3}  {:<10} {:<36}  {:>8} {:>5} {:>10}  {}",
            "#", "LABEL", "PARTUUID", "PRIORITY", "TRIES", "SUCCESSFUL", "VERSION"
        );
        t.push_str(header.trim_end());
        t.push('\n');
        for s in &self.slots {
            let line = format!(
                "{:>3}  {:<10} {:<36}  {:>8} {:>5} {:>10}  {:<12}{}",
                s.number,
                s.label,
                s.partuuid,
                s.priority,
                s.tries,
                u8::from(s.successful),
                s.version.as_deref().unwrap_or("-"),
                if self.is_booted(s) { "  (booted)" } else { "" }
            );
            t.push_str(line.trim_end());
            t.push('\n');
        }
        if let Some(b) = &self.booted
            && !self.slots.iter().any(|s| &s.partuuid == b)
        {
            t.push_str(&format!("booted /usr {b} is not a slot of this disk\n"));
        }
        match &self.next {
            Some(s) => t.push_str(&format!("next boot: {} ({})\n", s.label, s.partuuid)),
            None => t.push_str("next boot: nothing is bootable\n"),
        }
        t
    }
}

fn show(args: &ShowArgs) -> Result<ExitCode, CliError> {
    let disk = open(&args.disk)?;
    let booted = match (&args.disk.root, &args.disk.disk) {
        (Some(root), _) => Some(slots::booted_under(
            root,
            "leave out --root to show the disk without its booted slot",
        )?),
        (None, None) => Some(slots::booted_under(
            Path::new("/"),
            "pass --disk IMG to name the disk",
        )?),
        (None, Some(_)) => None,
    };
    let shown = Shown {
        health: disk.health()?,
        slots: disk.usr_slots()?,
        next: disk.would_boot()?,
        disk,
        booted,
    };
    let text = match args.format {
        super::DiffFormat::Json => shown.json(),
        super::DiffFormat::Human => shown.human(),
    };
    Ok(emit(&text))
}

fn next(args: &DiskArgs) -> Result<ExitCode, CliError> {
    let next = open(args)?.next_boot()?;
    Ok(emit(&format!("{}\n", next.slot.partuuid)))
}

fn init(args: &InitArgs) -> Result<ExitCode, CliError> {
    let options = slots::InitOptions {
        slot_size: args.slot_size,
        usr_a: args.usr_a.clone(),
        usr_b: args.usr_b.clone(),
        force: args.force,
    };
    let (a, b) = slots::init(&args.disk, &options)?;
    Ok(emit(&format!(
        "created {}: USR-A {a} (good, booted first), USR-B {b} (empty)\n",
        args.disk.display()
    )))
}

fn set(args: &SetArgs, change: Change) -> Result<ExitCode, CliError> {
    let disk = open(&args.disk)?;
    let partuuid = match (&args.partuuid, change) {
        (Some(p), _) => p.clone(),
        (None, Change::Good) => {
            slots::booted_under(root_of(&args.disk), "pass --partuuid UUID to name the slot")?
        }
        (None, _) => {
            return Err(CliError::Usage(format!(
                "slots {} needs --partuuid",
                change.command()
            )));
        }
    };
    let slot = match change {
        Change::Good => disk.mark_good(&partuuid),
        Change::Trial => disk.prioritize_for_trial(&partuuid),
        Change::Unbootable => disk.make_unbootable(&partuuid),
    }?;
    Ok(emit(&format!(
        "{} {}: priority {} tries {} successful {}\n",
        slot.label,
        slot.partuuid,
        slot.priority,
        slot.tries,
        u8::from(slot.successful)
    )))
}
