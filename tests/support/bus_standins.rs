//! A private D-Bus and the stand-ins the reboot manager talks to, for tests that must never
//! touch the machine's bus: a `dbus-daemon` per test (`--session` config on a socket in the
//! test's directory, stopped by its PID on drop), an update_engine stand-in owning
//! `com.coreos.update1` with exactly update_engine's interface (`GetStatus` returning
//! `x d s s x`, `AttemptUpdate`, `ResetStatus`, the `StatusUpdate` signal, emitted on demand,
//! also malformed), and a logind stand-in owning `org.freedesktop.login1` that records every
//! `Reboot(b)` call.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::process::Guard;

/// A private bus: `dbus-daemon --session --nofork` on `unix:path=DIR/bus`.
pub struct Bus {
    pub address: String,
    _daemon: Guard,
}

impl Bus {
    pub fn start(dir: &Path) -> Bus {
        let socket = dir.join("bus");
        let address = format!("unix:path={}", socket.display());
        let daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .arg(format!("--address={address}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start dbus-daemon ({e}): scripts/test installs it (Debian package dbus-daemon)")
            });
        let daemon = Guard(daemon);
        let start = Instant::now();
        while !socket.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "dbus-daemon did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Bus {
            address,
            _daemon: daemon,
        }
    }
}

/// update_engine's status: `(x d s s x)`.
pub type Status = (i64, f64, String, String, i64);

/// A status with `operation` and `version`.
pub fn status(operation: &str, version: &str) -> Status {
    (0, 0.0, operation.to_string(), version.to_string(), 0)
}

struct Manager {
    status: Arc<Mutex<Status>>,
}

#[zbus::interface(name = "com.coreos.update1.Manager")]
impl Manager {
    fn get_status(&self) -> Status {
        self.status.lock().unwrap().clone()
    }

    fn attempt_update(&self) {}

    fn reset_status(&self) {}
}

/// update_engine's stand-in, on its own runtime.
pub struct UpdateEngine {
    pub status: Arc<Mutex<Status>>,
    conn: zbus::Connection,
    rt: tokio::runtime::Runtime,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

impl UpdateEngine {
    pub fn start(bus: &Bus, initial: Status) -> UpdateEngine {
        let rt = runtime();
        let status = Arc::new(Mutex::new(initial));
        let manager = Manager {
            status: status.clone(),
        };
        let conn = rt
            .block_on(
                zbus::connection::Builder::address(bus.address.as_str())
                    .name("com.coreos.update1")
                    .serve_at("/com/coreos/update1", manager)
                    .build(),
            )
            .expect("the update_engine stand-in connects");
        UpdateEngine { status, conn, rt }
    }

    /// Set the status and emit `StatusUpdate` with it, as update_engine does on a change.
    pub fn set(&self, s: Status) {
        *self.status.lock().unwrap() = s.clone();
        self.emit(&s);
    }

    /// Emit `StatusUpdate` with any body (malformed ones included).
    pub fn emit<B: serde::Serialize + zbus::DynamicType>(&self, body: &B) {
        self.rt
            .block_on(self.conn.emit_signal(
                None::<&str>,
                "/com/coreos/update1",
                "com.coreos.update1.Manager",
                "StatusUpdate",
                body,
            ))
            .expect("StatusUpdate is emitted");
    }
}

struct Login1 {
    reboots: Arc<Mutex<Vec<bool>>>,
}

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl Login1 {
    fn reboot(&self, interactive: bool) {
        self.reboots.lock().unwrap().push(interactive);
    }
}

/// logind's stand-in: records `Reboot(interactive)` calls.
pub struct Logind {
    pub reboots: Arc<Mutex<Vec<bool>>>,
    _conn: zbus::Connection,
    _rt: tokio::runtime::Runtime,
}

impl Logind {
    pub fn start(bus: &Bus) -> Logind {
        let rt = runtime();
        let reboots = Arc::new(Mutex::new(Vec::new()));
        let conn = rt
            .block_on(
                zbus::connection::Builder::address(bus.address.as_str())
                    .name("org.freedesktop.login1")
                    .serve_at(
                        "/org/freedesktop/login1",
                        Login1 {
                            reboots: reboots.clone(),
                        },
                    )
                    .build(),
            )
            .expect("the logind stand-in connects");
        Logind {
            reboots,
            _conn: conn,
            _rt: rt,
        }
    }

    pub fn reboots(&self) -> Vec<bool> {
        self.reboots.lock().unwrap().clone()
    }
}
