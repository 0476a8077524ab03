//! A private D-Bus for one test: Debian's `dbus-daemon` on a socket in the test's directory,
//! with a system bus's policy (method calls denied unless a policy file allows them) plus
//! kindling's shipped `com.coreos.update1` policy and a logind policy for root; never the
//! machine's bus. The daemon is stopped by its PID on drop, also when a test fails.
//!
//! Beside it: a client connection, a recorder of `StatusUpdate` signals, and a logind
//! stand-in (`org.freedesktop.login1.Manager.Reboot` recorded, nothing rebooted).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::process::Guard;

/// update_engine's five values, as a signal or `GetStatus` carries them.
pub type Wire = (i64, f64, String, String, i64);

/// A private bus; the daemon dies with it.
pub struct Bus {
    /// `unix:path=DIR/bus`, for `--bus` and `DBUS_SYSTEM_BUS_ADDRESS`.
    pub address: String,
    _daemon: Guard,
}

/// The bus configuration: the defaults of Debian's `system.conf` (everyone may connect,
/// nobody may own a name or call a method unless a policy says so), logind's policy for
/// root, and kindling's `com.coreos.update1.conf`, included as shipped.
fn config(socket: &Path) -> String {
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/bus/com.coreos.update1.conf");
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
  </policy>
  <policy user="root">
    <allow own="org.freedesktop.login1"/>
    <allow send_destination="org.freedesktop.login1"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"#,
        socket = socket.display(),
        policy = policy.display()
    )
}

impl Bus {
    /// Start a bus in `dir` (its socket `dir/bus`).
    pub fn start(dir: &Path) -> Bus {
        super::agent::need("dbus-daemon");
        std::fs::create_dir_all(dir).unwrap();
        let conf = dir.join("bus.conf");
        std::fs::write(&conf, config(&dir.join("bus"))).unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dbus-daemon: {e}"));
        let stdout = child.stdout.take().unwrap();
        let guard = Guard(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("dbus-daemon printed no address within 10 s");
        let address = line.trim().to_string();
        assert!(
            address.starts_with("unix:path="),
            "dbus-daemon printed {line:?}"
        );
        Bus {
            address,
            _daemon: guard,
        }
    }

    /// A client connection (on the caller's runtime).
    pub async fn connect(&self) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .build()
            .await
            .unwrap()
    }
}

/// `GetStatus` on `com.coreos.update1`: the reply's signature (as the message header carries
/// it: `xdssx`, no parentheses) and its five values.
pub async fn get_status(conn: &zbus::Connection) -> zbus::Result<(String, Wire)> {
    let reply = conn
        .call_method(
            Some("com.coreos.update1"),
            "/com/coreos/update1",
            Some("com.coreos.update1.Manager"),
            "GetStatus",
            &(),
        )
        .await?;
    let body = reply.body();
    let signature = body.signature().to_string_no_parens();
    Ok((signature, body.deserialize()?))
}

/// Call a method of update_engine's Manager that takes and returns nothing.
pub async fn call(conn: &zbus::Connection, method: &str) -> zbus::Result<()> {
    conn.call_method(
        Some("com.coreos.update1"),
        "/com/coreos/update1",
        Some("com.coreos.update1.Manager"),
        method,
        &(),
    )
    .await
    .map(|_| ())
}

/// Wait (bounded, on the caller's runtime) until `com.coreos.update1` answers `GetStatus`.
pub async fn wait_for_update1(conn: &zbus::Connection, limit: Duration) -> Wire {
    let start = Instant::now();
    loop {
        if let Ok((_, wire)) = get_status(conn).await {
            return wire;
        }
        assert!(
            start.elapsed() < limit,
            "nothing answered com.coreos.update1.Manager.GetStatus within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every `StatusUpdate` seen on the bus (signature and values, in order), from when it was
/// made; the task that records them ends with the runtime.
#[derive(Clone, Default)]
pub struct Signals(pub Arc<Mutex<Vec<(String, Wire)>>>);

impl Signals {
    /// Subscribe (the match rule is in place when this returns).
    pub async fn record(conn: &zbus::Connection) -> Signals {
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface("com.coreos.update1.Manager")
            .member("StatusUpdate")
            .build()
            .unwrap();
        let mut stream =
            zbus::MessageStream::for_match_rule(rule, conn, std::num::NonZeroUsize::new(64))
                .await
                .unwrap();
        let signals = Signals::default();
        let seen = signals.0.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = next(&mut stream).await {
                let body = m.body();
                let signature = body.signature().to_string_no_parens();
                if let Ok(wire) = body.deserialize::<Wire>() {
                    seen.lock().unwrap().push((signature, wire));
                }
            }
        });
        signals
    }

    /// The statuses seen so far, in order.
    pub fn operations(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, w)| w.2.clone())
            .collect()
    }
}

/// The next item of a stream (futures' `StreamExt::next`, with only futures-core).
async fn next<S: futures_core::Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *s).poll_next(cx)).await
}

/// logind's stand-in: `Reboot(b)` calls are recorded, nothing else happens.
#[derive(Clone, Default)]
pub struct Login1 {
    /// The `interactive` argument of each `Reboot` call.
    pub reboots: Arc<Mutex<Vec<bool>>>,
}

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl Login1 {
    fn reboot(&self, interactive: bool) {
        self.reboots.lock().unwrap().push(interactive);
    }
}

impl Login1 {
    /// Serve it as `org.freedesktop.login1` at `/org/freedesktop/login1` on `conn`.
    pub async fn serve(conn: &zbus::Connection) -> Login1 {
        let login1 = Login1::default();
        conn.object_server()
            .at("/org/freedesktop/login1", login1.clone())
            .await
            .unwrap();
        conn.request_name("org.freedesktop.login1").await.unwrap();
        login1
    }
}
