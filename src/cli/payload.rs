//! `kindling payload fetch` (hidden): download one payload into a slot region, verify it and
//! print what was verified. It is the payload step of the agent on its own, for tests, the
//! W5 benchmark and operators debugging a download; it never makes anything bootable.
use std::process::ExitCode;
use std::time::Duration;

use super::emit;
use crate::payload::{self, ClientOptions, Expected, PayloadError, ProxyEnv, Target, Timeouts};

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
    /// Print how long each phase took to standard error (for the W5 benchmark).
    #[arg(long, hide = true)]
    pub timings: bool,
}

pub(super) fn run(args: &PayloadArgs) -> ExitCode {
    match &args.command {
        PayloadCommand::Fetch(f) => match fetch(f) {
            Ok(v) => emit(&format!(
                "verified size={} sha256={} key={}\n",
                v.size(),
                v.sha256_b64(),
                v.key_id()
            )),
            Err(e) => {
                eprintln!("kindling: {e} [{}, retry: {:?}]", e.kind(), e.retry());
                ExitCode::from(exit_status(&e))
            }
        },
    }
}

/// 1 when the payload, its signature or the keys are bad; 2 for network and disk problems.
fn exit_status(e: &PayloadError) -> u8 {
    match e.kind() {
        "region-unusable"
        | "region-too-small"
        | "region-outside-device"
        | "region-full"
        | "region-io"
        | "connect"
        | "stalled"
        | "too-slow"
        | "connection-reset"
        | "truncated"
        | "transfer"
        | "http-5xx"
        | "client" => 2,
        _ => 1,
    }
}

fn fetch(args: &FetchArgs) -> Result<payload::Verified, PayloadError> {
    let timeouts = Timeouts {
        stall: Duration::from_secs(args.stall_timeout.max(1)),
        ..Timeouts::default()
    };
    let keys = payload::TrustedKeys::load(&args.root)?;
    for skipped in &keys.skipped {
        eprintln!("kindling: trusted keys: skipped {skipped}");
    }
    let client = payload::client(&ClientOptions {
        proxy: ProxyEnv::from_process(),
        timeouts,
        extra_roots: args.cacert.clone(),
    })?;
    let expected = Expected {
        url: args.url.clone(),
        size: args.size,
        sha256_b64: args.sha256.clone(),
        signature_url: args.signature_url.clone(),
    };
    let target = Target {
        path: args.image.clone(),
        offset: args.offset,
        len: args.len,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PayloadError::Client {
            reason: format!("cannot start the async runtime: {e}"),
        })?;
    let bar = payload::terminal_bar(args.size);
    let started = std::time::Instant::now();
    let mut fetched_at = started;
    let fetched = runtime.block_on(async {
        // The signature first: an untrusted or unusable one saves a useless download.
        let signature = payload::fetch_signature(&client, &expected, &timeouts).await?;
        payload::precheck(&keys, &signature)?;
        let mut progress = |done: u64, _total: u64| bar.set_position(done);
        let fetched = payload::fetch(
            &client,
            &expected,
            &target,
            args.resume_from,
            &timeouts,
            &mut progress,
        )
        .await?;
        fetched_at = std::time::Instant::now();
        Ok::<_, PayloadError>((signature, fetched))
    });
    bar.finish_and_clear();
    let verify_at = std::time::Instant::now();
    let (signature, fetched) = fetched?;
    let verified = payload::verify(&target, &expected, &fetched, &keys, &signature);
    if args.timings {
        eprintln!(
            "timings: signature+download+write+sha256+sync {:.3}s, read-back verify {:.3}s",
            (fetched_at - started).as_secs_f64(),
            verify_at.elapsed().as_secs_f64()
        );
    }
    verified
}
