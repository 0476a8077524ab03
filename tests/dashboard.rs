//! `kindling fleet serve` in a real browser (Debian's chromium, driven through WebDriver by
//! chromium-driver and the fantoccini crate) against a real etcd with simulated nodes: the
//! test writes each node's record and liveness key as an agent would, and plays the nodes'
//! answers to a rollout's admissions. It checks what an operator sees: the overview shows
//! the nodes; a `fleet publish` changes the open page within a second without a reload; a
//! rollout run from the dashboard (token, confirmation) advances wave by wave on the open
//! page; a control action without the token is refused; a hostname with markup in it is
//! shown as text. It writes a screenshot (`target/tmp/fleet-dashboard.png`; with
//! `KINDLING_BOOK_SCREENSHOT=1` also the book's `book/src/fleet-dashboard.png`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::fleet::{fleet, write};
use crate::support::agent::{Guard, bin, need};
use crate::support::lock::{Etcd, free_port, listening, rt, wait_until};

const GROUP: &str = "web";
const EVIL: &str = "<b>evil</b><script>window.pwned=1</script>";

fn record(id: &str, host: &str, version: &str, generation: u64, state: &str) -> String {
    serde_json::json!({
        "group": GROUP, "machine_id": id, "hostname": host,
        "address": format!("10.0.0.{}", id.trim_start_matches('m')),
        "status": "UPDATE_STATUS_IDLE", "running_version": version,
        "generation": generation, "target_generation": generation, "state": state,
        "healthy": true, "last_seen": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        "digest": {"/etc/app/app.conf": format!("sha256:{generation:016x}:0644:0:0")},
    })
    .to_string()
}

async fn put(client: &mut etcd_client::Client, key: String, value: String) {
    client.put(key, value, None).await.unwrap();
}

/// The simulated nodes: ids, hostnames.
fn nodes() -> Vec<(String, String)> {
    (1..=6)
        .map(|i| {
            let host = if i == 6 {
                EVIL.to_string()
            } else {
                format!("node-{i}")
            };
            (format!("m{i}"), host)
        })
        .collect()
}

/// Play the nodes: every admitted node reports the admitted generation applied (and
/// release 1.0.1 running) 0.8 s after its admission, until `stop`.
fn play_nodes(url: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        rt().block_on(async move {
            let mut c = etcd_client::Client::connect([url.as_str()], None)
                .await
                .unwrap();
            let mut seen: std::collections::HashMap<String, Instant> =
                std::collections::HashMap::new();
            let hosts: std::collections::HashMap<String, String> = nodes().into_iter().collect();
            let start = Instant::now();
            while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(120) {
                let prefix = format!("kindling/fleet/{GROUP}/admit/");
                let resp = c
                    .get(
                        prefix.as_str(),
                        Some(etcd_client::GetOptions::new().with_prefix()),
                    )
                    .await
                    .unwrap();
                for kv in resp.kvs() {
                    let id = String::from_utf8_lossy(kv.key())
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_string();
                    let generation: u64 =
                        String::from_utf8_lossy(kv.value()).trim().parse().unwrap();
                    let at = *seen
                        .entry(format!("{id}@{generation}"))
                        .or_insert_with(Instant::now);
                    if at.elapsed() >= Duration::from_millis(800)
                        && at.elapsed() < Duration::from_secs(1000)
                    {
                        put(
                            &mut c,
                            format!("kindling/fleet/{GROUP}/node/{id}"),
                            record(&id, &hosts[&id], "1.0.1", generation, "applied"),
                        )
                        .await;
                        seen.insert(
                            format!("{id}@{generation}"),
                            Instant::now() - Duration::from_secs(2000),
                        );
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    })
}

/// Wait until `script` (returning a boolean) is true in the page, bounded; the time taken.
async fn until(c: &Client, what: &str, script: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let v = c.execute(script, vec![]).await.unwrap();
        if v.as_bool() == Some(true) {
            return start.elapsed();
        }
        if start.elapsed() > limit {
            let text = c
                .find(Locator::Css("main"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            panic!("waited {limit:?} for {what}; the page shows:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text_has(selector: &str, needle: &str) -> String {
    format!(
        "var e = document.querySelector({}); return !!e && e.textContent.indexOf({}) >= 0;",
        serde_json::to_string(selector).unwrap(),
        serde_json::to_string(needle).unwrap()
    )
}

fn spawn_logged(cmd: &mut Command, log: &Path) -> Guard {
    Guard(
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn the_dashboard_in_a_real_browser_is_live_advances_waves_and_refuses_control_without_the_token() {
    need("chromium");
    need("chromedriver");
    let etcd = Etcd::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    rt().block_on(async {
        let mut c = etcd_client::Client::connect([etcd.url.as_str()], None)
            .await
            .unwrap();
        for (id, host) in nodes() {
            put(
                &mut c,
                format!("kindling/fleet/{GROUP}/node/{id}"),
                record(&id, &host, "1.0.0", 0, "pending"),
            )
            .await;
            put(
                &mut c,
                format!("kindling/fleet/{GROUP}/live/{id}"),
                String::new(),
            )
            .await;
        }
    });
    let out = crate::support::agent::kindling(&[
        "lock",
        "--backend",
        "etcd3",
        "--endpoint",
        &etcd.url,
        "set-max",
        "2",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let token = "a-control-token-of-32-characters";
    let token_file = write(dir.path(), "token", &format!("{token}\n"));
    let port = free_port();
    let mut dashboard = spawn_logged(
        Command::new(bin())
            .args(["fleet", "--endpoint", &etcd.url, "--group", GROUP, "serve"])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--allow-control"])
            .args(["--control-token-file", &token_file, "--node-timeout", "30"]),
        &dir.path().join("dashboard.log"),
    );
    wait_until("the dashboard", Duration::from_secs(20), || listening(port));
    let driver_port = free_port();
    let _driver = spawn_logged(
        Command::new("chromedriver").arg(format!("--port={driver_port}")),
        &dir.path().join("chromedriver.log"),
    );
    wait_until("chromedriver", Duration::from_secs(20), || {
        listening(driver_port)
    });
    let base = format!("http://127.0.0.1:{port}");
    let profile = dir.path().join("profile");
    let stop = Arc::new(AtomicBool::new(false));
    let player = play_nodes(etcd.url.clone(), stop.clone());
    let shot = rt().block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1800", format!("--user-data-dir={}", profile.display())]}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let b = ClientBuilder::new(connector).capabilities(caps).connect(&format!("http://127.0.0.1:{driver_port}")).await.unwrap();
        b.goto(&format!("{base}/")).await.unwrap();
        // The overview shows the nodes.
        until(&b, "the six nodes", &text_has("[data-testid=summary]", "6 node(s)"), Duration::from_secs(10)).await;
        until(&b, "the semaphore", &text_has("[data-testid=slots]", "0 of 2 slot(s) held"), Duration::from_secs(10)).await;
        // The hostname with markup is text: no <b> or script from it, its characters shown.
        b.goto(&format!("{base}/nodes?group={GROUP}")).await.unwrap();
        let safe = b
            .execute(
                "return window.pwned === undefined && document.querySelectorAll('main b, main script').length === 0 \
                 && document.querySelector('[data-testid=nodes]').textContent.indexOf('<b>evil</b><script>') >= 0;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(safe, serde_json::Value::Bool(true), "{}", b.source().await.unwrap());
        // A publish reaches the open page within a second, without a reload.
        b.goto(&format!("{base}/")).await.unwrap();
        until(&b, "the live stream", "return document.getElementById('livestate').textContent.indexOf('live') === 0;", Duration::from_secs(10)).await;
        b.execute("window.samePage = 42; return true;", vec![]).await.unwrap();
        let c1 = write(dir.path(), "c1.yaml", "#cloud-config\nwrite_files:\n  - path: /etc/app/app.conf\n    content: |\n      v1\n");
        let out = fleet(&etcd, GROUP, &["publish", &c1]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let took = until(&b, "generation 1 on the page", &text_has("[data-testid=applied]", "generation 1 applied 0/6"), Duration::from_secs(5)).await;
        println!("fleet publish reached the open page in {took:?}");
        assert!(took <= Duration::from_secs(1), "the publish took {took:?} to reach the page");
        assert_eq!(b.execute("return window.samePage;", vec![]).await.unwrap(), 42, "the page was reloaded");
        // A held generation and a rollout of it, 2 nodes at a time: 3 waves.
        let c2 = write(dir.path(), "c2.yaml", "#cloud-config\nwrite_files:\n  - path: /etc/app/app.conf\n    content: |\n      v2\n");
        let out = fleet(&etcd, GROUP, &["publish", "--hold", &c2]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let out = fleet(&etcd, GROUP, &["rollout", "create", "--type", "parallel", "--max-parallel", "2"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        until(&b, "the rollout", &text_has("[data-testid=rollout]", "rollout of generation 2: created"), Duration::from_secs(5)).await;
        // Control without the token is refused (a wrong one in the browser, none by HTTP).
        let form = b.form(Locator::Css("form[action='/control/rollout-apply']")).await.unwrap();
        form.set_by_name("token", "not-the-token").await.unwrap();
        form.submit().await.unwrap();
        until(&b, "the refusal", &text_has("#message", "Refused: this action needs the control token"), Duration::from_secs(5)).await;
        let none = reqwest::Client::new()
            .post(format!("{base}/control/rollout-apply"))
            .form(&[("group", GROUP), ("confirm", "yes")])
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), 401);
        // With the token: a confirmation first, then the controller runs in the dashboard.
        b.goto(&format!("{base}/")).await.unwrap();
        let form = b.form(Locator::Css("form[action='/control/rollout-apply']")).await.unwrap();
        form.set_by_name("token", token).await.unwrap();
        form.submit().await.unwrap();
        until(&b, "the confirmation", &text_has("#question", "Run the rollout of group web"), Duration::from_secs(5)).await;
        b.find(Locator::Css("#confirm")).await.unwrap().click().await.unwrap();
        until(&b, "the outcome", &text_has("#message", "the rollout controller runs"), Duration::from_secs(5)).await;
        // The waves advance on the open page, no reload.
        b.goto(&format!("{base}/")).await.unwrap();
        b.execute("window.samePage = 43; return true;", vec![]).await.unwrap();
        for wave in 1..=3 {
            let script = format!(
                "var r = document.querySelector('[data-wave=\"{wave}\"]'); return !!r && r.children[2].textContent === '2';"
            );
            let t = until(&b, &format!("wave {wave} healthy"), &script, Duration::from_secs(30)).await;
            println!("wave {wave} healthy on the page after {t:?}");
        }
        until(&b, "the rollout completed", &text_has("[data-testid=rollout]", "completed"), Duration::from_secs(10)).await;
        until(&b, "every node applied", &text_has("[data-testid=applied]", "generation 2 applied 6/6"), Duration::from_secs(10)).await;
        until(&b, "the versions", &text_has("[data-testid=versions]", "6 on 1.0.1"), Duration::from_secs(10)).await;
        assert_eq!(b.execute("return window.samePage;", vec![]).await.unwrap(), 43, "the page was reloaded");
        let updates = b.execute("return Number(document.documentElement.getAttribute('data-updates'));", vec![]).await.unwrap();
        assert!(updates.as_u64().unwrap() >= 3, "{updates}");
        // A node's page: its history from etcd's revisions.
        b.goto(&format!("{base}/node?group={GROUP}&id=m1")).await.unwrap();
        until(&b, "m1's history", &text_has("main", "generation 2 applied (was 0)"), Duration::from_secs(5)).await;
        until(&b, "m1's last apply", &text_has("main", "1 changed"), Duration::from_secs(5)).await;
        b.goto(&format!("{base}/")).await.unwrap();
        until(&b, "the logged actions", &text_has("main", "refused, no valid token"), Duration::from_secs(5)).await;
        let shot = b.screenshot().await.unwrap();
        b.close().await.unwrap();
        shot
    });
    stop.store(true, Ordering::SeqCst);
    player.join().unwrap();
    assert!(shot.starts_with(b"\x89PNG"), "not a PNG");
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet-dashboard.png"),
        &shot,
    )
    .unwrap();
    if std::env::var_os("KINDLING_BOOK_SCREENSHOT").is_some() {
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/fleet-dashboard.png"),
            &shot,
        )
        .unwrap();
    }
    dashboard.terminate();
    let log = std::fs::read_to_string(dir.path().join("dashboard.log")).unwrap();
    assert!(log.contains("refused, no valid token"), "{log}");
    assert!(
        log.contains("the rollout ended: rollout of generation 2: completed"),
        "{log}"
    );
}
