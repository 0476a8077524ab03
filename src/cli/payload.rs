//! `kindling payload fetch` (hidden): download one payload into a slot region, verify it and
//! print what was verified. It is the payload step of the agent on its own, for tests, the
//! W5 benchmark and operators debugging a download; it never makes anything bootable.
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::emit;
use super::error::CliError;
use crate::payload::{self, ClientOptions, Expected, Job, ProxyEnv, Target, Timeouts};

/// Arguments of `payload`.
#[derive(Debug, clap::Args)]
pub struct PayloadArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PayloadCommand,
}

/// `payload` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PayloadCommand {
    /// Download, write into the region, and verify (SHA-256 and minisign, read back).
    Fetch(FetchArgs),
}

/// Arguments of `payload fetch`.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// The payload's URL.
    #[arg(long)]
    pub url: String,
    /// Its size in bytes.
    #[arg(long)]
    pub size: u64,
    /// Its SHA-256, base64 (as in the Omaha response).
    #[arg(long, value_name = "BASE64")]
    pub sha256: String,
    /// The signature's URL (default: URL + .minisig).
    #[arg(long)]
    pub signature_url: Option<String>,
    /// The disk image file or block device holding the slot.
    #[arg(long, value_name = "PATH")]
    pub image: std::path::PathBuf,
    /// The slot's first byte in it.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// The slot's length in bytes.
    #[arg(long)]
    pub len: u64,
    /// The root whose trusted keys are used.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: std::path::PathBuf,
    /// Bytes already written by an earlier attempt (re-hashed, not trusted).
    #[arg(long, default_value_t = 0)]
    pub resume_from: u64,
    /// Seconds without a byte before giving up.
    #[arg(long, default_value_t = 90)]
    pub stall_timeout: u64,
    /// A PEM file of extra CA certificates to trust.
    #[arg(long, value_name = "PEM")]
    pub cacert: Vec<std::path::PathBuf>,
    /// Where an update_engine payload's kernel goes (default: the kernel is skipped).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<std::path::PathBuf>,
    /// A JSON file keeping an update_engine payload's resume point (read if present,
    /// rewritten at each checkpoint).
    #[arg(long, value_name = "FILE")]
    pub resume_state: Option<std::path::PathBuf>,
    /// Print how long each phase took to standard error (for the W5 benchmark).
    #[arg(long, hide = true)]
    pub timings: bool,
}

pub(super) fn run(args: &PayloadArgs) -> Result<ExitCode, CliError> {
    match &args.command {
        PayloadCommand::Fetch(f) => fetch(f),
    }
}

fn fetch(args: &FetchArgs) -> Result<ExitCode, CliError> {
    let job = job(args);
    if job.format()? == payload::Format::Crau {
        return fetch_crau(args, &job);
    }
    let keys = payload::TrustedKeys::load(&args.root)?;
    for skipped in &keys.skipped {
        eprintln!("kindling: trusted keys: skipped {skipped}");
    }
    let downloaded = job.download(&keys)?;
    let verify_at = Instant::now();
    let verified = downloaded.verify();
    if args.timings {
        eprintln!(
            "timings: signature+download+write+sha256+sync {:.3}s, read-back verify {:.3}s",
            downloaded.took().as_secs_f64(),
            verify_at.elapsed().as_secs_f64()
        );
    }
    let v = verified?;
    Ok(emit(&format!(
        "verified size={} sha256={} key={}\n",
        v.size(),
        v.sha256_b64(),
        v.key_id()
    )))
}

/// An update_engine payload: applied while it downloads, then verified as a whole.
fn fetch_crau(args: &FetchArgs, job: &Job) -> Result<ExitCode, CliError> {
    let keys = payload::RsaKeys::load(&args.root);
    for skipped in &keys.skipped {
        eprintln!("kindling: trusted keys: skipped {skipped}");
    }
    let (v, took) = job.crau(&keys, args.kernel.clone(), args.resume_state.as_deref())?;
    if args.timings {
        eprintln!("timings: download+apply+verify {:.3}s", took.as_secs_f64());
    }
    let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let kernel = v.kernel().map_or(String::new(), |k| {
        format!(
            " kernel-size={} kernel-sha256={}",
            k.size(),
            hex(k.sha256())
        )
    });
    Ok(emit(&format!(
        "verified format=crau size={} sha256={} usr-size={} usr-sha256={} operations={}{kernel} key={}\n",
        v.size(),
        v.sha256_b64(),
        v.partition_size(),
        hex(v.partition_sha256()),
        v.operations(),
        v.key()
    )))
}

/// The job the arguments describe.
fn job(args: &FetchArgs) -> Job {
    Job {
        expected: Expected {
            url: args.url.clone(),
            size: args.size,
            sha256_b64: args.sha256.clone(),
            signature_url: args.signature_url.clone(),
        },
        target: Target {
            path: args.image.clone(),
            offset: args.offset,
            len: args.len,
        },
        resume_from: args.resume_from,
        client: ClientOptions {
            proxy: ProxyEnv::from_process(),
            timeouts: Timeouts {
                stall: Duration::from_secs(args.stall_timeout.max(1)),
                ..Timeouts::default()
            },
            extra_roots: args.cacert.clone(),
            resolve: Vec::new(),
        },
    }
}
