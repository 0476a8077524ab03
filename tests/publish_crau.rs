//! `kindling update-server publish` with update_engine (CrAU) payloads made by mantle's own
//! generator (the peer `flatcar-update-gen`, signed with mantle's developer key): accepted
//! as they are (no `.minisig`) when the developer key is trusted with `--trusted-key`,
//! refused without it, refused when corrupt or given a `.minisig`; once published, served
//! as Flatcar's server serves them (go-omaha's client sees the generator's size and hashes,
//! no signature file beside the payload).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::omaha::{APP_ID, kindling, kindling_server};
use crate::support::process::peer;

/// The generator's `KEY=VALUE` lines.
struct Generated {
    payload: PathBuf,
    size: u64,
    sha256_hex: String,
}

/// A 2 MiB image (half random, half zeros: one REPLACE and one REPLACE_BZ operation) made
/// into a signed payload by `flatcar-update-gen`.
fn generate(dir: &Path) -> Generated {
    let image = dir.join("usr.img");
    let mut bytes: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    bytes.resize(2 << 20, 0);
    std::fs::write(&image, bytes).unwrap();
    let payload = dir.join("flatcar_production_update.gz");
    let out = Command::new(peer("flatcar-update-gen"))
        .arg("-usr")
        .arg(&image)
        .arg("-out")
        .arg(&payload)
        .env("TMPDIR", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .to_string()
    };
    Generated {
        payload,
        size: value("SIZE").parse().unwrap(),
        sha256_hex: value("SHA256_HEX"),
    }
}

fn developer_key() -> PathBuf {
    peer("flatcar-update-tools/developer-key.pub.pem")
}

fn publish(srv: &Path, version: &str, payload: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "update-server".to_string(),
        "publish".into(),
        "--dir".into(),
        srv.display().to_string(),
        "--channel".into(),
        "stable".into(),
        "--version".into(),
        version.into(),
        "--payload".into(),
        payload.display().to_string(),
    ];
    args.extend(extra.iter().map(ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kindling(&args)
}

#[test]
fn a_crau_payload_is_published_only_when_a_trusted_key_verifies_it() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let g = generate(tmp.path());
    let srv = tmp.path().join("srv");
    let key = developer_key();
    let key = key.to_str().unwrap();

    // Only Flatcar's official key: the developer key's signature is not trusted.
    let (code, out, err) = publish(&srv, "1.0.1", &g.payload, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("refused"), "{err}");
    // A .minisig makes no sense for a payload signed inside.
    let (code, _, err) = publish(&srv, "1.0.1", &g.payload, &["--signature", key]);
    assert_eq!(code, 1);
    assert!(err.contains("drop --signature"), "{err}");
    // A flipped byte in the operations' data: the signature no longer matches.
    let mut corrupt = std::fs::read(&g.payload).unwrap();
    let at = corrupt.len() / 2;
    corrupt[at] ^= 0x40;
    let corrupt_path = tmp.path().join("corrupt.gz");
    std::fs::write(&corrupt_path, corrupt).unwrap();
    let (code, _, err) = publish(&srv, "1.0.1", &corrupt_path, &["--trusted-key", key]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refused"), "{err}");
    let index = std::fs::read_to_string(srv.join("releases.json")).unwrap_or_default();
    assert!(!index.contains("1.0.1"), "{index}");

    // The developer key trusted (as a file, then as a directory of *.pem): published.
    let (code, out, err) = publish(&srv, "1.0.1", &g.payload, &["--trusted-key", key]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("update_engine (CrAU), signed by"), "{out}");
    assert!(!out.contains(".minisig"), "{out}");
    let keys = tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(developer_key(), keys.join("developer.pem")).unwrap();
    let (code, out, err) = publish(
        &srv,
        "1.0.2",
        &g.payload,
        &["--trusted-key", keys.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");

    // Served like Flatcar's server: the generator's size and SHA-256, no signature file.
    let (_guard, url) = kindling_server(&srv, &[]);
    let out = Command::new(peer("omaha-client-check"))
        .args(["-server", &url, "-machineid", "m-crau"])
        .args(["-appid", APP_ID, "-version", "1.0.0", "-track", "stable"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["version"], "1.0.2", "{json:#}");
    let package = &json["packages"][0];
    assert_eq!(package["size"], g.size);
    assert_eq!(package["hash_sha256_hex"], g.sha256_hex.as_str());
    assert_eq!(json["actions"][0]["sha256_hex"], g.sha256_hex.as_str());
    let payload_url = package["urls"][0].as_str().unwrap().to_string();
    let (status, body) = get(&payload_url);
    assert_eq!(status, 200);
    assert_eq!(body, std::fs::read(&g.payload).unwrap());
    assert_eq!(get(&format!("{payload_url}.minisig")).0, 404);
}

/// GET `url` on a runtime of its own: the status and the body.
fn get(url: &str) -> (u16, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = reqwest::get(url).await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    })
}
