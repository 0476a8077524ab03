//! Running the new slot's `/postinst` as update_engine runs it.
//!
//! update_engine (`postinstall_runner_action.cc`, `subprocess.cc`) executes
//! `MOUNT/postinst INSTALL_DEVICE [KERNEL=PATH] [PCR_POLICY=PATH]` with an environment of
//! only `LD_LIBRARY_PATH`, `PATH`, `ALL_PROXY`, `HTTP_PROXY` and `HTTPS_PROXY` (those that
//! are set), stderr joined to stdout, in its own working directory (`/` under systemd). Any
//! exit status but 0 fails the update (error 5; status 3 is "booted from firmware B", 19).
//! The same is done here, with two additions: the run is bounded by [`Postinst::timeout`]
//! (its process group is killed past it), and the output is kept (its last 64 KiB) for the
//! error message. On a simulated node the working directory is the node's root.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::PostinstallError;
use super::mount::mount_slot;
use super::tree::extract;

/// The environment update_engine hands on to the postinst.
const KEPT_ENV: [&str; 5] = [
    "LD_LIBRARY_PATH",
    "PATH",
    "ALL_PROXY",
    "HTTP_PROXY",
    "HTTPS_PROXY",
];

/// How much of the output is kept.
const OUTPUT_CAP: usize = 64 << 10;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Postinst {
    /// The first argument: the install device (`/dev/sda4` on a real node).
    pub install_device: String,
    /// The arguments after it: `KERNEL=...`, `PCR_POLICY=...`, as the payload had them.
    pub args: Vec<String>,
    /// The working directory: `/` on a real node, the root on a simulated one.
    pub working_dir: PathBuf,
    /// The most it may take.
    pub timeout: Duration,
}

/// Where the postinst comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A real node: the install device, mounted read-only.
    Mount {
        /// The partition device.
        device: &'a Path,
    },
    /// A simulated node: the slot's filesystem inside a disk image, copied (not mounted)
    /// into a new directory under `scratch`.
    Extract {
        /// The disk image.
        disk: &'a Path,
        /// Where the slot starts, in bytes.
        first_byte: u64,
        /// The slot's size, in bytes.
        len: u64,
        /// The directory the copy is made in (removed afterwards).
        scratch: &'a Path,
    },
}

/// A postinst that succeeded.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The command line, as run.
    pub command: String,
    /// Its stdout and stderr, interleaved (the end, when long).
    pub output: String,
}

/// Runs the slot's `/postinst`.
///
/// # Errors
/// Any [`PostinstallError`] but the kernel ones: the slot unreadable or unmountable, no
/// `/postinst`, a failure to start it, a non-zero exit, or the timeout.
pub async fn run(postinst: &Postinst, source: Source<'_>) -> Result<Ran, PostinstallError> {
    match source {
        Source::Mount { device } => {
            let mounted = mount_slot(device)?;
            exec(postinst, &mounted.dir).await
        }
        Source::Extract {
            disk,
            first_byte,
            len,
            scratch,
        } => {
            std::fs::create_dir_all(scratch).map_err(|source| PostinstallError::Io {
                action: "create",
                path: scratch.to_path_buf(),
                source,
            })?;
            let dir = tempfile::Builder::new()
                .prefix("au_postint_mount.")
                .tempdir_in(scratch)
                .map_err(|source| PostinstallError::Io {
                    action: "create a directory in",
                    path: scratch.to_path_buf(),
                    source,
                })?;
            extract(disk, first_byte, len, dir.path())?;
            exec(postinst, dir.path()).await
        }
    }
}

/// Executes `DIR/postinst` with update_engine's arguments and environment.
async fn exec(postinst: &Postinst, dir: &Path) -> Result<Ran, PostinstallError> {
    let program = dir.join("postinst");
    if std::fs::symlink_metadata(&program).is_err() {
        return Err(PostinstallError::NoPostinst);
    }
    let command_line = std::iter::once("/postinst".to_string())
        .chain(std::iter::once(postinst.install_device.clone()))
        .chain(postinst.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let spawn_error = |source| PostinstallError::Spawn {
        command: command_line.clone(),
        source,
    };
    let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
    let mut command = tokio::process::Command::new(&program);
    command
        .arg(&postinst.install_device)
        .args(&postinst.args)
        .env_clear()
        .envs(
            KEPT_ENV
                .iter()
                .filter_map(|k| std::env::var_os(k).map(|v| (k, v))),
        )
        .current_dir(&postinst.working_dir)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(spawn_error)?)
        .stderr(writer)
        .process_group(0)
        .kill_on_drop(true);
    let spawned = command.spawn();
    // The command holds the pipe's write end: dropped, the read end sees the end of the
    // output when the postinst (and what it started) is done.
    drop(command);
    let mut child = spawned.map_err(spawn_error)?;
    let output = tokio::task::spawn_blocking(move || read_tail(reader));
    let status = tokio::time::timeout(postinst.timeout, child.wait()).await;
    let status = match status {
        Ok(status) => status.map_err(spawn_error)?,
        Err(_) => {
            kill_group(&child);
            let _ = child.kill().await;
            return Err(PostinstallError::TimedOut {
                command: command_line,
                seconds: postinst.timeout.as_secs(),
                output: collect(output).await,
            });
        }
    };
    let output = collect(output).await;
    if status.success() {
        return Ok(Ran {
            command: command_line,
            output,
        });
    }
    Err(PostinstallError::Failed {
        command: command_line,
        status: describe(status),
        firmware_b: status.code() == Some(3),
        output,
    })
}

/// Kills the postinst's whole process group (it is its leader).
fn kill_group(child: &tokio::process::Child) {
    if let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// The reader's output, waiting at most a few seconds once the postinst is gone (something
/// it started outside its group may hold the pipe open).
async fn collect(output: tokio::task::JoinHandle<String>) -> String {
    match tokio::time::timeout(Duration::from_secs(5), output).await {
        Ok(Ok(text)) => text,
        _ => String::from("(its output could not be collected)"),
    }
}

/// Reads the pipe to its end, keeping the last [`OUTPUT_CAP`] bytes.
fn read_tail(mut reader: std::io::PipeReader) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * OUTPUT_CAP {
            kept.drain(..kept.len() - OUTPUT_CAP);
        }
    }
    if kept.len() > OUTPUT_CAP {
        kept.drain(..kept.len() - OUTPUT_CAP);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// `exit status N` or `killed by signal N`.
fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An ext4 image (made by the real mkfs.ext4 -d) holding `bin/flatcar-postinst` with
    /// `script` and `/postinst` linking to it, as Flatcar's /usr has it.
    fn slot_image(dir: &Path, script: &str) -> PathBuf {
        let tree = dir.join("tree");
        std::fs::create_dir_all(tree.join("bin")).unwrap();
        let file = tree.join("bin/flatcar-postinst");
        std::fs::write(&file, script).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("bin/flatcar-postinst", tree.join("postinst")).unwrap();
        let image = dir.join("usr.img");
        let out = std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-d"])
            .arg(&tree)
            .arg(&image)
            .arg("4M")
            .output()
            .expect("mkfs.ext4 is needed for this test");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        image
    }

    fn postinst(root: &Path, timeout: Duration) -> Postinst {
        Postinst {
            install_device: "/dev/sda4".into(),
            args: vec!["KERNEL=/boot/flatcar/vmlinuz-b".into()],
            working_dir: root.to_path_buf(),
            timeout,
        }
    }

    async fn run_image(
        image: &Path,
        root: &Path,
        timeout: Duration,
    ) -> Result<Ran, PostinstallError> {
        let len = std::fs::metadata(image).unwrap().len();
        let scratch = root.join("tmp");
        let source = Source::Extract {
            disk: image,
            first_byte: 0,
            len,
            scratch: &scratch,
        };
        run(&postinst(root, timeout), source).await
    }

    #[tokio::test]
    async fn the_postinst_gets_update_engines_arguments_environment_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        // Writes only into its working directory: the test's root.
        let image = slot_image(
            dir.path(),
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > argv\nenv > env\npwd > cwd\n\
             test -f \"$(dirname \"$0\")/bin/flatcar-postinst\" && echo tree > tree\n\
             echo out; echo err >&2\n",
        );
        let ran = run_image(&image, &root, Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(
            ran.command,
            "/postinst /dev/sda4 KERNEL=/boot/flatcar/vmlinuz-b"
        );
        assert_eq!(ran.output, "out\nerr\n");
        let read = |f: &str| std::fs::read_to_string(root.join(f)).unwrap();
        assert_eq!(read("argv"), "/dev/sda4\nKERNEL=/boot/flatcar/vmlinuz-b\n");
        assert_eq!(
            read("cwd").trim(),
            root.canonicalize().unwrap().to_str().unwrap()
        );
        assert_eq!(read("tree"), "tree\n");
        // Only what update_engine hands on (sh adds PWD, SHLVL and `_` itself).
        for line in read("env").lines() {
            let key = line.split('=').next().unwrap();
            assert!(
                KEPT_ENV.contains(&key) || ["PWD", "SHLVL", "_", "OLDPWD"].contains(&key),
                "{line}"
            );
        }
        // The copy of the slot is gone.
        assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_failing_postinst_is_an_error_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let image = slot_image(dir.path(), "#!/bin/sh\necho cannot install >&2\nexit 1\n");
        let err = run_image(&image, dir.path(), Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(!err.is_firmware_b());
        assert_eq!(
            err.to_string(),
            "/postinst /dev/sda4 KERNEL=/boot/flatcar/vmlinuz-b failed (exit status 1); its \
             output:\ncannot install"
        );
        let image = slot_image(&dir.path().join("b"), "#!/bin/sh\nexit 3\n");
        let err = run_image(&image, dir.path(), Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(err.is_firmware_b(), "{err}");
    }

    #[tokio::test]
    async fn a_postinst_past_its_time_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let image = slot_image(
            dir.path(),
            "#!/bin/sh\necho started\nsleep 60 &\nsleep 60\n",
        );
        let began = std::time::Instant::now();
        let err = run_image(&image, dir.path(), Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{:?}",
            began.elapsed()
        );
        assert!(matches!(err, PostinstallError::TimedOut { .. }), "{err}");
        assert!(err.to_string().contains("started"), "{err}");
    }

    #[tokio::test]
    async fn a_slot_without_postinst_or_filesystem_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.img");
        std::fs::write(&empty, vec![0u8; 1 << 20]).unwrap();
        let err = run_image(&empty, dir.path(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, PostinstallError::SlotUnreadable(_)), "{err}");
    }
}
