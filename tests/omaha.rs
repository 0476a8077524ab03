//! The Omaha protocol against programs kindling did not write, over real HTTP on loopback:
//! kindling's client against go-omaha's TrivialServer (`omaha-trivial-server`), kindling's
//! server against go-omaha's client (`omaha-client-check`) and against update_engine's
//! exact request bytes; payloads and signatures fetched with Range; the rollout controls;
//! the status report; hostile requests; publish's refusals.

use std::path::Path;

use base64::Engine as _;
use kindling::omaha::{AppInfo, Client, ClientError, Event, ResponseError, UpdateCheck};

use crate::support::omaha::{
    APP_ID, instance, kindling, kindling_server, minisign_keys, minisign_sign, minisign_verify,
    peer, post, published, sha256, squashfs, start_published, status_until, trivial_server,
};
use crate::support::process::publish_args;

fn app(version: &str, machine: &str) -> AppInfo {
    AppInfo::new(
        APP_ID,
        version,
        "stable",
        machine,
        AppInfo::braced_boot_id("b00t"),
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

async fn fetch(url: &str, range: Option<&str>) -> (u16, Option<String>, Vec<u8>) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_range = resp
        .headers()
        .get("content-range")
        .map(|v| v.to_str().unwrap().to_string());
    (status, content_range, resp.bytes().await.unwrap().to_vec())
}

// ---- kindling's client against go-omaha's TrivialServer ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_takes_an_update_from_go_omaha_and_fetches_it_with_range() {
    let tmp = scratch();
    let (public, secret) = minisign_keys(tmp.path());
    let payload = squashfs(tmp.path(), "payload.img", "v2");
    let sig = minisign_sign(&secret, &payload);
    let (_server, url) = trivial_server(
        &payload,
        "2.0.0",
        &["-signature", sig.to_str().unwrap(), "-name", "update.gz"],
    );
    let client = Client::new(&url).unwrap();
    assert_eq!(client.url(), format!("{url}/v1/update/"));
    let resp = client.check(&app("1.0.0", "m1")).await.unwrap();
    assert_eq!(resp.server.as_deref(), Some("go-omaha"));
    let UpdateCheck::Update(update) = resp.update else {
        panic!("no update offered: {resp:?}")
    };
    let bytes = std::fs::read(&payload).unwrap();
    assert_eq!(update.version, "2.0.0");
    assert_eq!(update.package_name, "update.gz");
    assert_eq!(update.size, bytes.len() as u64);
    assert_eq!(update.sha256, sha256(&payload));
    assert!(update.disable_payload_backoff);
    assert_eq!(update.payload_urls, [format!("{url}/packages/update.gz")]);
    let payload_url = &update.payload_urls[0];

    let (status, _, whole) = fetch(payload_url, None).await;
    assert_eq!((status, whole.as_slice()), (200, bytes.as_slice()));
    let (status, range, part) = fetch(payload_url, Some("bytes=100-")).await;
    assert_eq!(status, 206);
    assert_eq!(
        range,
        Some(format!("bytes 100-{}/{}", bytes.len() - 1, bytes.len()))
    );
    assert_eq!(part, bytes[100..]);

    let (status, _, sig_bytes) = fetch(&format!("{payload_url}.minisig"), None).await;
    assert_eq!(status, 200);
    let fetched = tmp.path().join("fetched.minisig");
    std::fs::write(&fetched, sig_bytes).unwrap();
    assert!(minisign_verify(&public, &payload, &fetched));

    client
        .event(&app("1.0.0", "m1"), Event::download_started())
        .await
        .unwrap();
    client
        .event(&app("1.0.0", "m1"), Event::error(10))
        .await
        .unwrap();
    client.ping(&app("1.0.0", "m1")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reads_go_omahas_refusals() {
    let tmp = scratch();
    let payload = squashfs(tmp.path(), "payload.img", "v2");
    let (_server, url) = trivial_server(&payload, "2.0.0", &["-appid", APP_ID, "-track", "stable"]);
    let client = Client::new(&url).unwrap();
    for version in ["2.0.0", "3.1.0"] {
        let resp = client.check(&app(version, "m1")).await.unwrap();
        assert_eq!(resp.update, UpdateCheck::NoUpdate, "{version}");
    }
    match client.check(&app("not-semver", "m1")).await {
        Err(ClientError::Response(ResponseError::Status(s))) => assert_eq!(s, "error-internal"),
        other => panic!("{other:?}"),
    }
    let mut other_app = app("1.0.0", "m1");
    other_app.app_id = "{00000000-0000-0000-0000-000000000000}".into();
    match client.check(&other_app).await {
        Err(e @ ClientError::HttpStatus { .. }) => {
            assert!(
                matches!(&e, ClientError::HttpStatus { status: 400, app_status: Some(s) } if s == "error-unknownApplication"),
                "{e:?}"
            );
            assert_eq!(e.error_code(), 2400);
        }
        other => panic!("{other:?}"),
    }
    let mut beta = app("1.0.0", "m1");
    beta.track = "beta".into();
    assert_eq!(
        client.check(&beta).await.unwrap().update,
        UpdateCheck::NoUpdate
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_refuses_go_omahas_zero_size_package() {
    let tmp = scratch();
    let empty = tmp.path().join("empty.gz");
    std::fs::write(&empty, b"").unwrap();
    let (_server, url) = trivial_server(&empty, "2.0.0", &[]);
    let err = Client::new(&url)
        .unwrap()
        .check(&app("1.0.0", "m1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Response(ResponseError::BadSize(s)) if s == "0"),
        "{err:?}"
    );
    assert_eq!(err.error_code(), 34);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_say_what_failed() {
    // Nothing listens on a port just released: a transport error.
    let port = crate::support::omaha::free_port();
    let err = Client::new(&format!("http://127.0.0.1:{port}/v1/update/"))
        .unwrap()
        .check(&app("1.0.0", "m1"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
    assert!(err.is_transient());
    // A server that accepts and never answers: a timeout, said as one (it was once "cannot
    // reach the update server"), with the same error code and retried like a transport error.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/v1/update/", silent.local_addr().unwrap());
    let err = Client::with_timeout(&silent_url, std::time::Duration::from_secs(1))
        .unwrap()
        .check(&app("1.0.0", "m1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::TimedOut {
                what: "the request",
                ..
            }
        ),
        "{err:?}"
    );
    let said = err.to_string();
    assert!(
        said.contains("did not answer in time: the request timed out after 1 s"),
        "{said}"
    );
    assert!(!said.contains("cannot reach"), "{said}");
    assert!(err.is_transient());
    assert_eq!(err.error_code(), 2000);
    drop(silent);
    // kindling's own server answers a payload URL with 404: an HTTP status error.
    let (tmp, _) = published(&[("stable", "1.0.0")]);
    let (_guard, url) = kindling_server(&tmp.path().join("srv"), &[]);
    let err = Client::new(&format!("{url}/packages/nothing"))
        .unwrap()
        .check(&app("1.0.0", "m1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::HttpStatus {
                status: 405 | 404,
                ..
            }
        ),
        "{err:?}"
    );
}

// ---- kindling's server against go-omaha's client and update_engine's request ----

fn client_check(url: &str, args: &[&str]) -> (i32, serde_json::Value) {
    let out = std::process::Command::new(peer("omaha-client-check"))
        .args(["-server", url, "-machineid", "m-go"])
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "omaha-client-check printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn go_omahas_client_takes_kindlings_answers() {
    let (_tmp, srv, _guard, url) = start_published(
        &[("stable", "1.0.0"), ("stable", "1.2.0"), ("beta", "2.0.0")],
        &[],
    );
    let payload = srv.join("packages/stable/1.2.0/update.gz");
    let hex: String = sha256(&payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let (code, json) = client_check(
        &url,
        &["-appid", APP_ID, "-version", "1.0.0", "-track", "stable"],
    );
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["status"], "ok");
    assert_eq!(json["version"], "1.2.0");
    let package = &json["packages"][0];
    assert_eq!(package["name"], "update.gz");
    assert_eq!(package["size"], std::fs::metadata(&payload).unwrap().len());
    assert_eq!(package["hash_sha256_hex"], hex.as_str());
    assert_eq!(json["actions"][0]["sha256_hex"], hex.as_str());
    assert_eq!(
        package["urls"][0],
        format!("{url}/packages/stable/1.2.0/update.gz")
    );

    let (code, json) = client_check(
        &url,
        &["-appid", APP_ID, "-version", "1.2.0", "-track", "stable"],
    );
    assert_eq!((code, &json["status"]), (0, &serde_json::json!("noupdate")));
    // Unknown track: noupdate, as go-omaha's track filter answers.
    let (code, json) = client_check(
        &url,
        &["-appid", APP_ID, "-version", "1.0.0", "-track", "nightly"],
    );
    assert_eq!((code, &json["status"]), (0, &serde_json::json!("noupdate")));
    // Non-semver version: error-internal, as go-omaha answers.
    let (_, json) = client_check(
        &url,
        &[
            "-appid", APP_ID, "-version", "bogus", "-track", "stable", "-raw",
        ],
    );
    assert_eq!(json["status"], "error-internal");
    // Another app id: 400 and error-unknownApplication, as go-omaha's -appid answers.
    let (code, json) = client_check(
        &url,
        &[
            "-appid", "{other}", "-version", "1.0.0", "-track", "stable", "-raw",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(json["http_status"], 400);
    assert_eq!(json["app_status"], "error-unknownApplication");
    // The event go-omaha sends with every check and its ping are acknowledged.
    let (_, json) = client_check(
        &url,
        &[
            "-appid", APP_ID, "-version", "1.0.0", "-track", "beta", "-raw",
        ],
    );
    assert_eq!(json["ping_status"], "ok");
    assert_eq!(json["event_statuses"], serde_json::json!(["ok"]));
    assert_eq!(json["version"], "2.0.0");
}

/// update_engine's request as `GetRequestXml` builds it (reference §4), byte for byte.
const UPDATE_ENGINE_REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<request protocol="3.0" version="update_engine-0.4.10" updaterversion="update_engine-0.4.10" installsource="scheduler" ismachine="1">
    <os version="Chateau" platform="CoreOS" sp="1.0.0_x86_64"></os>
    <app appid="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" version="1.0.0" track="stable" bootid="{7d52a1cc-7066-40f0-91c7-7cb6a871bfde}" oem="" oemversion="" alephversion="1.0.0" machineid="8bde4c4d90834d61b41c3253212c0c37" machinealias="" lang="en-US" board="amd64-usr" hardware_class="" delta_okay="false" >
        <ping active="1"></ping>
        <updatecheck></updatecheck>
        <event eventtype="3" eventresult="2" previousversion="0.0.0.0"></event>
    </app>
</request>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_engines_request_gets_what_update_engine_parses() {
    let (_tmp, srv, _guard, url) = start_published(&[("stable", "1.2.0")], &[]);
    // kindling's writer produces exactly these bytes for the same values.
    let mut same = AppInfo::new(
        APP_ID,
        "1.0.0",
        "stable",
        "8bde4c4d90834d61b41c3253212c0c37",
        "{7d52a1cc-7066-40f0-91c7-7cb6a871bfde}",
    );
    same.updater = "update_engine-0.4.10".into();
    same.machine_type = "x86_64".into();
    same.board = "amd64-usr".into();
    assert_eq!(
        String::from_utf8(kindling::omaha::request::update_check(&same)).unwrap(),
        UPDATE_ENGINE_REQUEST
    );

    let (status, body) = post(
        &format!("{url}/v1/update/"),
        "text/xml",
        UPDATE_ENGINE_REQUEST,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // update_engine's XPaths, read here from the element tree.
    let root = kindling::xml::parse(body.as_bytes(), &kindling::xml::RESPONSE_LIMITS).unwrap();
    let check = root.child("app").unwrap().child("updatecheck").unwrap();
    assert_eq!(check.attr("status"), Some("ok"));
    let codebase = check
        .child("urls")
        .unwrap()
        .child("url")
        .unwrap()
        .attr("codebase")
        .unwrap();
    let manifest = check.child("manifest").unwrap();
    assert_eq!(manifest.attr("version"), Some("1.2.0"));
    let package = manifest
        .child("packages")
        .unwrap()
        .child("package")
        .unwrap();
    let payload = srv.join("packages/stable/1.2.0/update.gz");
    let size: u64 = package.attr("size").unwrap().parse().unwrap();
    assert_eq!(size, std::fs::metadata(&payload).unwrap().len());
    let action = manifest
        .child("actions")
        .unwrap()
        .children_named("action")
        .find(|a| a.attr("event") == Some("postinstall"))
        .unwrap();
    assert_eq!(action.attr("sha256"), Some(b64(&sha256(&payload)).as_str()));
    // The payload is where update_engine looks: codebase + package name.
    let (code, _, bytes) = fetch(
        &format!("{codebase}{}", package.attr("name").unwrap()),
        None,
    )
    .await;
    assert_eq!((code, bytes), (200, std::fs::read(&payload).unwrap()));

    // The machine is recorded with update_engine's identity.
    let json = status_until(&srv, |j| {
        instance(j, "8bde4c4d90834d61b41c3253212c0c37").is_some()
    });
    let i = instance(&json, "8bde4c4d90834d61b41c3253212c0c37").unwrap();
    assert_eq!(i["version"], "1.0.0");
    assert_eq!(i["updater"], "update_engine-0.4.10");
    assert_eq!(i["granted"]["version"], "1.2.0");
    assert_eq!(i["last_event"]["event_type"], 3);
    assert_eq!(i["last_event"]["result"], 2);
}

// ---- payloads with Range ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_ranges() {
    let (_tmp, srv, _guard, url) = start_published(&[("stable", "1.0.0")], &[]);
    let bytes = std::fs::read(srv.join("packages/stable/1.0.0/update.gz")).unwrap();
    let n = bytes.len();
    let p = format!("{url}/packages/stable/1.0.0/update.gz");
    let cases: Vec<(String, u16, Option<String>, Vec<u8>)> = vec![
        (
            "bytes=0-0".into(),
            206,
            Some(format!("bytes 0-0/{n}")),
            bytes[..1].to_vec(),
        ),
        (
            "bytes=10-19".into(),
            206,
            Some(format!("bytes 10-19/{n}")),
            bytes[10..20].to_vec(),
        ),
        (
            "bytes=-16".into(),
            206,
            Some(format!("bytes {}-{}/{n}", n - 16, n - 1)),
            bytes[n - 16..].to_vec(),
        ),
        (
            format!("bytes={}-", n - 1),
            206,
            Some(format!("bytes {}-{}/{n}", n - 1, n - 1)),
            bytes[n - 1..].to_vec(),
        ),
        (
            "bytes=0-99999999".into(),
            206,
            Some(format!("bytes 0-{}/{n}", n - 1)),
            bytes.clone(),
        ),
        (
            format!("bytes={n}-"),
            416,
            Some(format!("bytes */{n}")),
            Vec::new(),
        ),
        (
            "bytes=20-10".into(),
            416,
            Some(format!("bytes */{n}")),
            Vec::new(),
        ),
        (
            "bytes=0-1,5-6".into(),
            416,
            Some(format!("bytes */{n}")),
            b"Cannot serve multipart range requests".to_vec(),
        ),
    ];
    for (range, status, content_range, body) in cases {
        let got = fetch(&p, Some(&range)).await;
        assert_eq!((got.0, &got.1), (status, &content_range), "{range}");
        assert_eq!(got.2, body, "{range}");
    }
    let head = reqwest::Client::new().head(&p).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], n.to_string().as_str());
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    // Only published files: not the index, not a traversal, not an unknown release.
    for path in [
        "/packages/stable/1.0.0/releases.json",
        "/packages/stable/1.0.0/..%2F..%2F..%2Freleases.json",
        "/packages/stable/9.9.9/update.gz",
        "/packages/../releases.json",
        "/releases.json",
    ] {
        let (status, _, _) = fetch(&format!("{url}{path}"), None).await;
        assert_eq!(status, 404, "{path}");
    }
}

// ---- rollout controls ----

async fn offered(client: &Client, version: &str, machine: &str) -> bool {
    matches!(
        client.check(&app(version, machine)).await.unwrap().update,
        UpdateCheck::Update(_)
    )
}

fn channel(srv: &Path, args: &[&str]) {
    let mut all = vec![
        "update-server",
        "channel",
        "--dir",
        srv.to_str().unwrap(),
        "--channel",
        "stable",
    ];
    all.extend_from_slice(args);
    let (code, out, err) = kindling(&all);
    assert_eq!(code, 0, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_off_and_n_per_period() {
    let (_tmp, srv, _guard, url) =
        start_published(&[("stable", "1.0.0"), ("stable", "2.0.0")], &[]);
    let client = Client::new(&url).unwrap();
    channel(&srv, &["--updates", "off"]);
    assert!(!offered(&client, "1.0.0", "a").await);
    let json = status_until(&srv, |j| {
        instance(j, "a").is_some_and(|i| i["state"] == "on-hold")
    });
    assert!(
        instance(&json, "a").unwrap()["note"]
            .as_str()
            .unwrap()
            .contains("updates are off")
    );

    // Picked up by the running server: on, at most 2 per hour.
    channel(
        &srv,
        &["--updates", "on", "--max-updates", "2", "--period", "1h"],
    );
    assert!(offered(&client, "1.0.0", "a").await);
    assert!(offered(&client, "1.0.0", "b").await);
    assert!(!offered(&client, "1.0.0", "c").await);
    // A machine already granted gets its update again without using up the limit.
    assert!(offered(&client, "1.0.0", "a").await);
    assert!(!offered(&client, "1.0.0", "d").await);
    channel(&srv, &["--no-limit"]);
    assert!(offered(&client, "1.0.0", "c").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_mode_canary_then_the_rest_and_a_failure_stops_it() {
    let (tmp, srv, _guard, url) = start_published(&[("stable", "1.0.0"), ("stable", "2.0.0")], &[]);
    let client = Client::new(&url).unwrap();
    channel(&srv, &["--safe-mode", "on"]);
    assert!(offered(&client, "1.0.0", "canary").await);
    assert!(!offered(&client, "1.0.0", "b").await);
    for event in [
        Event::download_started(),
        Event::download_finished(),
        Event::installed(),
    ] {
        client.event(&app("1.0.0", "canary"), event).await.unwrap();
    }
    assert!(!offered(&client, "1.0.0", "b").await);
    // The canary is up on 2.0.0: its check carries 3/2 with the previous version.
    let mut up = app("2.0.0", "canary");
    up.previous_version = Some("1.0.0".into());
    assert_eq!(
        client.check(&up).await.unwrap().update,
        UpdateCheck::NoUpdate
    );
    assert!(offered(&client, "1.0.0", "b").await);
    assert!(offered(&client, "1.0.0", "c").await);
    let json = status_until(&srv, |j| {
        instance(j, "canary").is_some_and(|i| i["state"] == "complete")
    });
    assert_eq!(
        instance(&json, "canary").unwrap()["last_event"]["result"],
        2
    );

    // A new release: the canary fails (a rollback), the rollout halts for everyone.
    let work = tmp.path().join("w3");
    std::fs::create_dir_all(&work).unwrap();
    let payload = squashfs(&work, "update.gz", "v3");
    let (_, secret) = minisign_keys(&work);
    let sig = minisign_sign(&secret, &payload);
    let (code, _, err) = kindling(&publish_args(&srv, "stable", "3.0.0", &payload, &sig));
    assert_eq!(code, 0, "{err}");
    assert!(offered(&client, "2.0.0", "b").await);
    assert!(!offered(&client, "2.0.0", "c").await);
    let mut rolled_back = app("2.0.0", "b");
    rolled_back.previous_version = Some("2.0.0".into());
    assert!(!offered_with(&client, &rolled_back).await);
    assert!(!offered(&client, "2.0.0", "c").await);
    let json = status_until(&srv, |j| j["channels"][0]["halted"]["version"] == "3.0.0");
    assert!(
        json["channels"][0]["halted"]["reason"]
            .as_str()
            .unwrap()
            .contains("error 44"),
        "{json:#}"
    );
    let (_, table, _) = kindling(&["update-server", "status", "--dir", srv.to_str().unwrap()]);
    assert!(
        table.contains("3.0.0: b reported 3/0 (rollback, error 44)"),
        "{table}"
    );
    // Resumed by the operator: the next machine gets it; the one that rolled back does not.
    channel(&srv, &["--resume"]);
    assert!(offered(&client, "2.0.0", "c").await);
    assert!(!offered(&client, "2.0.0", "b").await);
}

async fn offered_with(client: &Client, app: &AppInfo) -> bool {
    matches!(
        client.check(app).await.unwrap().update,
        UpdateCheck::Update(_)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_table_and_json_survive_a_restart() {
    let (tmp, _) = published(&[("stable", "1.0.0"), ("stable", "1.1.0")]);
    let srv = tmp.path().join("srv");
    let (mut guard, url) = kindling_server(&srv, &[]);
    let client = Client::new(&url).unwrap();
    assert!(offered(&client, "1.0.0", "node-1").await);
    client
        .event(&app("1.0.0", "node-1"), Event::download_started())
        .await
        .unwrap();
    assert!(!offered(&client, "1.1.0", "node-2").await);
    guard.terminate();
    let (code, table, err) = kindling(&["update-server", "status", "--dir", srv.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "CHANNEL  NEWEST  RELEASES  UPDATES  LIMIT  SAFE MODE  HALTED"
    );
    assert_eq!(
        lines[1],
        "stable   1.1.0   2         on       -      off        -"
    );
    assert!(
        lines[3].starts_with("MACHINE ID  CHANNEL  VERSION  STATE        LAST EVENT  LAST SEEN"),
        "{table}"
    );
    assert!(
        lines[4].starts_with("node-1      stable   1.0.0    downloading  13/1"),
        "{table}"
    );
    assert!(lines[4].contains("1.1.0 at "), "{table}");
    assert!(
        lines[5].starts_with("node-2      stable   1.1.0    up-to-date   3/2"),
        "{table}"
    );
    let json = status_until(&srv, |_| true);
    assert_eq!(instance(&json, "node-1").unwrap()["state"], "downloading");
    assert_eq!(instance(&json, "node-2").unwrap()["channel"], "stable");
    // A restarted server keeps the records (and the grant).
    let (_guard, url) = kindling_server(&srv, &[]);
    assert!(offered(&Client::new(&url).unwrap(), "1.0.0", "node-1").await);
    let json = status_until(&srv, |j| {
        instance(j, "node-1").is_some_and(|i| i["state"] == "granted")
    });
    assert_eq!(
        instance(&json, "node-1").unwrap()["granted"]["version"],
        "1.1.0"
    );
}

// ---- hostile requests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_4xx_and_the_server_keeps_answering() {
    let (tmp, _) = published(&[("stable", "1.0.0")]);
    let srv = tmp.path().join("srv");
    let (mut guard, url) = kindling_server(&srv, &[]);
    let endpoint = format!("{url}/v1/update/");
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><request protocol="3.0"><app appid="&lol2;"/></request>"#;
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><request protocol="3.0"><app appid="&x;"/></request>"#;
    let undeclared = r#"<request protocol="3.0"><app appid="&x;" version="1.0.0"/></request>"#;
    let deep = format!(
        "<request protocol=\"3.0\">{}{}</request>",
        "<app>".repeat(5000),
        "</app>".repeat(5000)
    );
    let huge_attr = format!(
        "<request protocol=\"3.0\"><app appid=\"{}\" version=\"1.0.0\"/></request>",
        "x".repeat(60_000)
    );
    let oversized = format!(
        "<request protocol=\"3.0\"><app appid=\"x\"/>{}</request>",
        " ".repeat(70 * 1024)
    );
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("billion laughs", laughs.into(), 400, "DOCTYPE"),
        ("external entity", xxe.into(), 400, "DOCTYPE"),
        ("undeclared entity", undeclared.into(), 400, "&x;"),
        ("deep nesting", deep, 400, "nested deeper"),
        ("huge attribute", huge_attr, 400, "over the limit"),
        ("oversized body", oversized, 413, ""),
        (
            "garbage",
            "\u{1}\u{2}not xml at all <<<".into(),
            400,
            "bad Omaha request",
        ),
        (
            "not UTF-8",
            String::from_utf8_lossy(b"\xff").into_owned() + "<request/>",
            400,
            "bad Omaha request",
        ),
        (
            "wrong protocol",
            "<request protocol=\"2.0\"><app appid=\"x\"/></request>".into(),
            400,
            "protocol",
        ),
        ("empty", String::new(), 400, "empty"),
    ];
    for (name, body, status, says) in cases {
        let (got, text) = post(&endpoint, "text/xml", body).await;
        assert_eq!(got, status, "{name}: {text}");
        assert!(text.contains(says), "{name}: {text}");
    }
    let (got, _) = post(
        &endpoint,
        "application/x-www-form-urlencoded",
        UPDATE_ENGINE_REQUEST,
    )
    .await;
    assert_eq!(got, 415);
    // A body announced as 10 MiB is refused from its Content-Length, before it is sent
    // (a client still writing it would see the connection close).
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/update/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
        .await
        .unwrap();
    let mut answer = vec![0u8; 64];
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut stream, &mut answer),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // Still answering, still the same process.
    assert!(guard.0.try_wait().unwrap().is_none());
    let (got, body) = post(&endpoint, "text/xml", UPDATE_ENGINE_REQUEST).await;
    assert_eq!(got, 200, "{body}");
    assert!(body.contains("status=\"noupdate\""), "{body}");
}

// ---- publish ----

#[test]
fn publish_refuses_with_clear_errors() {
    let tmp = scratch();
    let (_, secret) = minisign_keys(tmp.path());
    let payload = squashfs(tmp.path(), "update.gz", "p");
    let sig = minisign_sign(&secret, &payload);
    let empty = tmp.path().join("empty.gz");
    std::fs::write(&empty, b"").unwrap();
    let junk = tmp.path().join("junk.minisig");
    std::fs::write(&junk, "untrusted comment: x\nnot base64!\n").unwrap();
    let srv = tmp.path().join("srv");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let publish = |version: &str, payload: &str, sig: &str| {
        kindling(&[
            "update-server",
            "publish",
            "--dir",
            &s(&srv),
            "--channel",
            "stable",
            "--version",
            version,
            "--payload",
            payload,
            "--signature",
            sig,
        ])
    };
    let (code, out, _) = publish("1.0.0", &s(&payload), &s(&sig));
    assert_eq!(code, 0);
    assert!(
        out.contains("payload   /packages/stable/1.0.0/update.gz"),
        "{out}"
    );
    let cases = [
        (
            publish("1.0.0", &s(&payload), &s(&sig)),
            1,
            "already published in channel stable",
        ),
        (
            publish("1.0", &s(&payload), &s(&sig)),
            1,
            "is not a semantic version",
        ),
        (
            publish("v2.0.0", &s(&payload), &s(&sig)),
            1,
            "is not a semantic version",
        ),
        (publish("2.0.0", &s(&empty), &s(&sig)), 1, "is empty"),
        (
            publish("2.0.0", &s(&tmp.path().join("missing.gz")), &s(&sig)),
            2,
            "No such file",
        ),
        (
            publish("2.0.0", &s(&payload), &s(&junk)),
            1,
            "is not a minisign signature",
        ),
        (
            publish("2.0.0", &s(&payload), &s(&payload)),
            1,
            "is not a minisign signature",
        ),
    ];
    for ((code, _, err), want_code, says) in cases {
        assert_eq!(code, want_code, "{err}");
        assert!(err.contains(says), "{err}");
    }
    let (_, out, _) = kindling(&[
        "update-server",
        "status",
        "--dir",
        &s(&srv),
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["channels"][0]["releases"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_that_never_finishes_halts_the_rollout() {
    let (_tmp, srv, _guard, url) =
        start_published(&[("stable", "1.0.0"), ("stable", "2.0.0")], &[]);
    let client = Client::new(&url).unwrap();
    channel(&srv, &["--safe-mode", "on", "--update-timeout", "1s"]);
    assert!(offered(&client, "1.0.0", "silent").await);
    // Timestamps are whole seconds: wait until the grant is at least 1 s old for sure.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(!offered(&client, "1.0.0", "next").await);
    let json = status_until(&srv, |j| {
        j["channels"][0]["halted"]["machine_id"] == "silent"
    });
    let reason = json["channels"][0]["halted"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("did not finish the update within 1s"),
        "{reason}"
    );
    assert!(!offered(&client, "1.0.0", "next").await);
}

#[test]
fn channel_refuses_incomplete_or_bad_controls() {
    let tmp = scratch();
    let dir = tmp.path().to_str().unwrap();
    let base = [
        "update-server",
        "channel",
        "--dir",
        dir,
        "--channel",
        "stable",
    ];
    for (extra, says) in [
        (&["--max-updates", "2"][..], "--period"),
        (
            &["--max-updates", "2", "--period", "soon"][..],
            "is not a duration",
        ),
        (
            &["--max-updates", "0", "--period", "1h"][..],
            "use --updates off",
        ),
        (&["--safe-mode", "maybe"][..], "invalid value"),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let (code, _, err) = kindling(&args);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
    }
    let (code, _, err) = kindling(&[
        "update-server",
        "channel",
        "--dir",
        dir,
        "--channel",
        "../x",
        "--updates",
        "off",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not a valid name"), "{err}");
    let (code, out, _) = kindling(
        &[
            &base[..],
            &[
                "--max-updates",
                "3",
                "--period",
                "15 minutes",
                "--safe-mode",
                "on",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "channel stable: updates on, at most 3 per 15m, safe mode on\n"
    );
}
