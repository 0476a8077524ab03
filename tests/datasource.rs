//! `kindling apply --from-...` and `diff --from-...` against emulated metadata services
//! (`support::datasource::Emulator`, axum on 127.0.0.1 only) and real directories: per source
//! the user-data, addresses, hostname, keys and network units; IMDSv2 with and without a
//! token endpoint; 4xx as absent, 5xx retried, hostile answers (malformed JSON, 10 MB, slow
//! drip, a non-loopback `cloud-config-url`) ending bounded with nothing applied; the race;
//! convergence; the `coreos-cloudinit` name; the boot units with `systemd-analyze verify`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::support::datasource::{
    Emulator, Out, Reply, Seen, kindling, node_root, run_clean, text,
};

fn run_as(program: &Path, args: &[&str]) -> Out {
    run_clean(program, args)
}

/// A node root with a `core` user.
fn node() -> tempfile::TempDir {
    node_root()
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every file below `dir` with mtime and bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<SystemTime>, Vec<u8>)> {
    let mut out: Vec<_> = crate::support::common::tree(dir)
        .into_iter()
        .filter(|(_, meta)| meta.is_file())
        .map(|(p, meta)| {
            let bytes = std::fs::read(&p).unwrap();
            (p, meta.modified().ok(), bytes)
        })
        .collect();
    out.sort();
    out
}

const USER_DATA: &str = "#cloud-config\nwrite_files:\n- path: /etc/kindling-test/ip\n  content: |\n    private=$private_ipv4 public=$public_ipv4\n";

/// An EC2 metadata service under `/imds/`; with `v2` every GET needs the token.
fn ec2(v2: bool, user_data: &'static str) -> Emulator {
    Emulator::start(move |s: &Seen, _| {
        let Some(path) = s.path.strip_prefix("/imds") else {
            return Reply::Status(404);
        };
        if s.method == "PUT" {
            return match (path, v2) {
                ("/latest/api/token", true)
                    if s.headers
                        .contains_key("x-aws-ec2-metadata-token-ttl-seconds") =>
                {
                    text("TOKEN-1")
                }
                _ => Reply::Status(404),
            };
        }
        if v2
            && s.headers
                .get("x-aws-ec2-metadata-token")
                .map(String::as_str)
                != Some("TOKEN-1")
        {
            return Reply::Status(401);
        }
        match path {
            "/2009-04-04/" => text("meta-data\nuser-data\n"),
            "/2009-04-04/user-data" => text(user_data),
            "/2009-04-04/meta-data/public-keys" => text("0=alice\n1=bob\n"),
            "/2009-04-04/meta-data/public-keys/0/openssh-key" => {
                text("ssh-ed25519 AAAAalice alice@laptop\n")
            }
            "/2009-04-04/meta-data/public-keys/1/openssh-key" => {
                text("ssh-ed25519 AAAAbob bob@laptop\n")
            }
            "/2009-04-04/meta-data/hostname" => text("ip-10-1-2-3.ec2.internal other"),
            "/2009-04-04/meta-data/local-ipv4" => text("10.1.2.3"),
            "/2009-04-04/meta-data/public-ipv4" => text("203.0.113.7"),
            _ => Reply::Status(404),
        }
    })
}

fn assert_ec2_root(root: &Path) {
    assert_eq!(
        read(root, "etc/kindling-test/ip"),
        "private=10.1.2.3 public=203.0.113.7\n"
    );
    assert_eq!(read(root, "etc/hostname"), "ip-10-1-2-3.ec2.internal\n");
    assert_eq!(
        read(root, "home/core/.ssh/authorized_keys.d/coreos-cloudinit"),
        "ssh-ed25519 AAAAalice alice@laptop\nssh-ed25519 AAAAbob bob@laptop\n"
    );
    assert!(read(root, "home/core/.ssh/authorized_keys").contains("AAAAbob"));
    assert_eq!(
        read(root, "etc/environment"),
        "COREOS_PRIVATE_IPV4=10.1.2.3\nCOREOS_PUBLIC_IPV4=203.0.113.7\n"
    );
}

#[test]
fn ec2_imdsv2_applies_metadata_and_converges() {
    let imds = ec2(true, USER_DATA);
    let root = node();
    let r = root.path().to_str().unwrap();
    let url = format!("{}imds/", imds.url);
    let first = kindling(&[
        "apply",
        "--from-ec2-metadata",
        &url,
        "--root",
        r,
        "--color",
        "never",
    ]);
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert_ec2_root(root.path());
    let seen = imds.requests();
    // The token is asked for under the given URL, and every GET carries it.
    assert!(
        seen.iter()
            .any(|s| s.method == "PUT" && s.path == "/imds/latest/api/token")
    );
    let gets: Vec<&Seen> = seen.iter().filter(|s| s.method == "GET").collect();
    assert!(gets.len() >= 7, "{gets:?}");
    assert!(
        gets.iter().all(|s| s
            .headers
            .get("x-aws-ec2-metadata-token")
            .map(String::as_str)
            == Some("TOKEN-1")),
        "{gets:?}"
    );
    assert!(
        first
            .stdout
            .contains("hostnamectl set-hostname ip-10-1-2-3.ec2.internal"),
        "{}",
        first.stdout
    );

    // The second boot with the same data writes nothing.
    let before = snapshot(root.path());
    let second = kindling(&[
        "apply",
        "--from-ec2-metadata",
        &url,
        "--root",
        r,
        "--color",
        "never",
    ]);
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert!(second.stdout.contains("no changes"), "{}", second.stdout);
    assert_eq!(snapshot(root.path()), before);
}

#[test]
fn ec2_without_token_endpoint_falls_back_to_imdsv1() {
    let imds = ec2(false, USER_DATA);
    let root = node();
    let url = format!("{}imds", imds.url);
    let out = kindling(&[
        "apply",
        "--from-ec2-metadata",
        &url,
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_ec2_root(root.path());
    let seen = imds.requests();
    assert!(seen.iter().any(|s| s.method == "PUT"));
    assert!(
        seen.iter()
            .filter(|s| s.method == "GET")
            .all(|s| !s.headers.contains_key("x-aws-ec2-metadata-token"))
    );
}

#[test]
fn diff_previews_metadata_without_writing() {
    let imds = ec2(true, USER_DATA);
    let root = node();
    let before = snapshot(root.path());
    let url = format!("{}imds/", imds.url);
    let out = kindling(&[
        "diff",
        "--from-ec2-metadata",
        &url,
        "--root",
        root.path().to_str().unwrap(),
        "--color",
        "never",
        "--exit-code",
    ]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    for want in [
        "create /etc/hostname",
        "+ip-10-1-2-3.ec2.internal",
        "+ssh-ed25519 AAAAalice alice@laptop",
        "+private=10.1.2.3 public=203.0.113.7",
        "+COREOS_PRIVATE_IPV4=10.1.2.3",
    ] {
        assert!(out.stdout.contains(want), "{want}\n{}", out.stdout);
    }
    assert_eq!(snapshot(root.path()), before);
}

fn config_drive(dir: &Path, user_data: &str) {
    let os = dir.join("openstack");
    std::fs::create_dir_all(os.join("latest")).unwrap();
    std::fs::create_dir_all(os.join("content")).unwrap();
    std::fs::create_dir_all(dir.join("ec2/latest")).unwrap();
    std::fs::write(os.join("latest/user_data"), user_data).unwrap();
    std::fs::write(
        os.join("latest/meta_data.json"),
        r#"{"uuid":"x","name":"not-the-hostname","hostname":"drive-node","public_keys":{"ops":"ssh-rsa AAAAops ops@x"},"network_config":{"content_path":"/content/0000"}}"#,
    )
    .unwrap();
    std::fs::write(
        os.join("content/0000"),
        "auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet static\n    address 10.9.8.7\n    netmask 255.255.255.0\n    gateway 10.9.8.1\n    dns-nameservers 10.9.8.2\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ec2/latest/meta-data.json"),
        r#"{"local-ipv4":"10.9.8.7","public-ipv4":"198.51.100.4"}"#,
    )
    .unwrap();
}

#[test]
fn config_drive_applies_and_converts_the_network() {
    let drive = tempfile::tempdir().unwrap();
    config_drive(drive.path(), USER_DATA);
    let root = node();
    let r = root.path().to_str().unwrap();
    let d = drive.path().to_str().unwrap();
    let args = [
        "apply",
        "--from-configdrive",
        d,
        "--convert-netconf",
        "debian",
        "--root",
        r,
        "--color",
        "never",
    ];
    let out = kindling(&args);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let p = root.path();
    assert_eq!(
        read(p, "etc/kindling-test/ip"),
        "private=10.9.8.7 public=198.51.100.4\n"
    );
    assert_eq!(read(p, "etc/hostname"), "drive-node\n");
    assert_eq!(
        read(p, "home/core/.ssh/authorized_keys.d/coreos-cloudinit"),
        "ssh-rsa AAAAops ops@x\n"
    );
    assert_eq!(
        read(p, "run/systemd/network/00-eth0.network"),
        "[Match]\nName=eth0\n\n[Network]\nDNS=10.9.8.2\n\n[Address]\nAddress=10.9.8.7/24\n\n[Route]\nDestination=0.0.0.0/0\nGateway=10.9.8.1\n"
    );
    // The networkd restart is planned; on a test root it stays pending.
    assert!(
        out.stdout
            .contains("systemctl restart systemd-networkd.service"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("pending"), "{}", out.stdout);
    let before = snapshot(p);
    let again = kindling(&args);
    assert!(again.stdout.contains("no changes"), "{}", again.stdout);
    assert_eq!(snapshot(p), before);

    // A changed key on the metadata side is the only change applied.
    std::fs::write(
        drive.path().join("openstack/latest/meta_data.json"),
        r#"{"hostname":"drive-node","public_keys":{"ops":"ssh-rsa AAAAnew ops@x"},"network_config":{"content_path":"/content/0000"}}"#,
    )
    .unwrap();
    let third = kindling(&args);
    assert_eq!(third.status, 0, "{}", third.stderr);
    assert!(
        third.stdout.contains("0 files to create, 2 to change"),
        "{}",
        third.stdout
    );
    assert!(read(p, "home/core/.ssh/authorized_keys").contains("AAAAnew"));
}

#[test]
fn environment_fallback_and_missing_variable_warning() {
    let drive = tempfile::tempdir().unwrap();
    let os = drive.path().join("openstack/latest");
    std::fs::create_dir_all(&os).unwrap();
    std::fs::write(
        os.join("user_data"),
        "#cloud-config\nwrite_files:\n- path: /etc/x\n  content: '$private_ipv4|$public_ipv6|\\$private_ipv4'\n",
    )
    .unwrap();
    let root = node();
    std::fs::write(
        root.path().join("etc/environment"),
        "# site\nCOREOS_PRIVATE_IPV4=10.0.0.42\nOTHER=1\n",
    )
    .unwrap();
    let out = kindling(&[
        "apply",
        "--from-configdrive",
        drive.path().to_str().unwrap(),
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/x"), "10.0.0.42||$private_ipv4");
    assert!(
        out.stderr
            .contains("warning: the user-data uses $public_ipv6"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("uses $private_ipv4"), "{}", out.stderr);
    assert_eq!(
        read(root.path(), "etc/environment"),
        "# site\nCOREOS_PRIVATE_IPV4=10.0.0.42\nOTHER=1\n"
    );
}

#[test]
fn gce_sends_the_flavor_header() {
    let gce = Emulator::start(|s: &Seen, _| {
        if s.headers.get("metadata-flavor").map(String::as_str) != Some("Google") {
            return Reply::Status(403);
        }
        match s.path.as_str() {
            "/computeMetadata/v1/" => text("instance/\n"),
            "/computeMetadata/v1/instance/attributes/user-data" => text(USER_DATA),
            "/computeMetadata/v1/instance/network-interfaces/0/access-configs/0/external-ip" => {
                text("35.1.2.3")
            }
            "/computeMetadata/v1/instance/network-interfaces/0/ip" => text("10.128.0.5"),
            "/computeMetadata/v1/instance/hostname" => text("gce-node.c.project.internal\n"),
            _ => Reply::Status(404),
        }
    });
    let root = node();
    let out = kindling(&[
        "apply",
        "--from-gce-metadata",
        &gce.url,
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        read(root.path(), "etc/kindling-test/ip"),
        "private=10.128.0.5 public=35.1.2.3\n"
    );
    assert_eq!(
        read(root.path(), "etc/hostname"),
        "gce-node.c.project.internal\n"
    );
    assert!(
        gce.requests()
            .iter()
            .all(|s| s.headers.contains_key("metadata-flavor"))
    );
}

#[test]
fn digitalocean_json() {
    let doc = r#"{"droplet_id":1,"hostname":"do-node","public_keys":["ssh-ed25519 AAAAdo1 a","ssh-ed25519 AAAAdo2 b"],
      "interfaces":{"public":[{"ipv4":{"ip_address":"104.1.2.3","netmask":"255.255.240.0","gateway":"104.1.0.1"},"ipv6":{"ip_address":"2604:a880::10","cidr":64},"mac":"aa:bb:cc:dd:ee:ff","type":"public"}],
      "private":[{"ipv4":{"ip_address":"10.132.0.2"},"type":"private"}]},"dns":{"nameservers":["2001:4860:4860::8844"]}}"#;
    let svc = Emulator::start(move |s: &Seen, _| match s.path.as_str() {
        "/metadata/v1" => text("id\n"),
        "/metadata/v1/user-data" => text(
            "#cloud-config\nwrite_files:\n- path: /etc/ips\n  content: \"$public_ipv4 $private_ipv4 $public_ipv6 $private_ipv6\"\n",
        ),
        "/metadata/v1.json" => text(doc),
        _ => Reply::Status(404),
    });
    let root = node();
    let out = kindling(&[
        "apply",
        "--from-digitalocean-metadata",
        &svc.url,
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        read(root.path(), "etc/ips"),
        "104.1.2.3 10.132.0.2 2604:a880::10 "
    );
    assert_eq!(read(root.path(), "etc/hostname"), "do-node\n");
    assert_eq!(
        read(
            root.path(),
            "home/core/.ssh/authorized_keys.d/coreos-cloudinit"
        ),
        "ssh-ed25519 AAAAdo1 a\nssh-ed25519 AAAAdo2 b\n"
    );
    assert!(out.stderr.contains("uses $private_ipv6"), "{}", out.stderr);
}

const PACKET: &str = r#"{"id":"x","hostname":"pkt-node","ssh_keys":["ssh-ed25519 AAAApkt p"],
  "network":{"interfaces":[{"name":"enp1s0f0","mac":"0c:c4:7a:00:00:01"},{"name":"enp1s0f1","mac":"0c:c4:7a:00:00:02"}],
  "addresses":[
    {"address":"147.75.0.10","netmask":"255.255.255.254","gateway":"147.75.0.9","address_family":4,"public":true,"cidr":31},
    {"address":"2604:1380::1","netmask":"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe","gateway":"2604:1380::","address_family":6,"public":true,"cidr":127},
    {"address":"fd00::5","cidr":64,"gateway":"fd00::1","address_family":6,"public":false},
    {"address":"10.88.0.3","netmask":"255.255.255.254","gateway":"10.88.0.2","address_family":4,"public":false,"cidr":31}],
  "dns":["147.75.207.207"]}}"#;

#[test]
fn packet_bond_and_ipv6_roles() {
    let svc = Emulator::start(|s: &Seen, _| match s.path.as_str() {
        "/" => text("ok"),
        "/userdata" => text(
            "#cloud-config\nwrite_files:\n- path: /etc/ips\n  content: \"$public_ipv4 $private_ipv4 $public_ipv6 $private_ipv6\"\n",
        ),
        "/metadata" => text(PACKET),
        _ => Reply::Status(404),
    });
    let root = node();
    let out = kindling(&[
        "apply",
        "--from-packet-metadata",
        &svc.url,
        "--convert-netconf=packet",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let p = root.path();
    // The private IPv6 is $private_ipv6, not $public_ipv6 (coreos-cloudinit's bug).
    assert_eq!(
        read(p, "etc/ips"),
        "147.75.0.10 10.88.0.3 2604:1380::1 fd00::5"
    );
    assert_eq!(
        read(p, "run/systemd/network/00-bond0.netdev"),
        "[NetDev]\nKind=bond\nName=bond0\nMACAddress=0c:c4:7a:00:00:01\n\n[Bond]\nDownDelaySec=.2\nLACPTransmitRate=fast\nMIIMonitorSec=.2\nMode=802.3ad\nUpDelaySec=.2\n"
    );
    let bond = read(p, "run/systemd/network/00-bond0.network");
    for want in [
        "[Match]\nName=bond0\nMACAddress=0c:c4:7a:00:00:01\n",
        "DNS=147.75.207.207\n",
        "Address=147.75.0.10/31\n",
        "Address=2604:1380::1/127\n",
        "Address=fd00::5/64\n",
        "[Route]\nDestination=0.0.0.0/0\nGateway=147.75.0.9\n",
        "[Route]\nDestination=::/0\nGateway=2604:1380::\n",
        "[Route]\nDestination=10.0.0.0/8\nGateway=10.88.0.2\n",
    ] {
        assert!(bond.contains(want), "{want}\n{bond}");
    }
    assert_eq!(
        read(p, "run/systemd/network/01-enp1s0f1.network"),
        "[Match]\nName=enp1s0f1\n\n[Network]\nBond=bond0\nDNS=147.75.207.207\n"
    );
    assert!(p.join("run/systemd/network/00-enp1s0f0.network").exists());
}

#[test]
fn proc_cmdline_of_the_root() {
    let svc = Emulator::start(|s: &Seen, _| match s.path.as_str() {
        "/cfg" => text("#cloud-config\nhostname: from-cmdline\n"),
        _ => Reply::Status(404),
    });
    let root = node();
    std::fs::create_dir_all(root.path().join("proc")).unwrap();
    std::fs::write(
        root.path().join("proc/cmdline"),
        format!(
            "BOOT_IMAGE=/vmlinuz cloud-config-url=http://unused/ cloud_config_url={}cfg quiet\n",
            svc.url
        ),
    )
    .unwrap();
    let out = kindling(&[
        "apply",
        "--from-proc-cmdline",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/hostname"), "from-cmdline\n");

    // No cloud-config-url: waiting cannot help, the run ends at once.
    std::fs::write(
        root.path().join("proc/cmdline"),
        "BOOT_IMAGE=/vmlinuz quiet\n",
    )
    .unwrap();
    let out = kindling(&[
        "apply",
        "--from-proc-cmdline",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("has no cloud-config-url"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(2), "{:?}", out.elapsed);
}

#[test]
fn non_loopback_cloud_config_url_is_never_contacted() {
    // 192.0.2.0/24 is TEST-NET-1. The allow-list refuses it before any socket is opened
    // (`Policy::check` runs before the request is built), so the run ends at once with the
    // refusal rather than after a connect timeout.
    let root = node();
    std::fs::create_dir_all(root.path().join("proc")).unwrap();
    std::fs::write(
        root.path().join("proc/cmdline"),
        "cloud-config-url=http://192.0.2.10/config\n",
    )
    .unwrap();
    let before = snapshot(root.path());
    let out = kindling(&[
        "apply",
        "--from-proc-cmdline",
        "--allow-hosts",
        "127.0.0.1,::1",
        "--http-timeout",
        "30",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("host 192.0.2.10 is not in --allow-hosts"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("not contacted"), "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(2), "{:?}", out.elapsed);
    assert_eq!(snapshot(root.path()), before);
}

#[test]
fn vmware_ovf_environment() {
    use base64::Engine as _;
    let ud = base64::engine::general_purpose::STANDARD.encode(
        "#cloud-config\nwrite_files:\n- path: /etc/ips\n  content: \"$private_ipv4 $public_ipv6\"\n",
    );
    let ovf = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1">
  <PlatformSection><Kind>VMware ESXi</Kind></PlatformSection>
  <PropertySection>
    <Property oe:key="guestinfo.hostname" oe:value="vm-node"/>
    <Property oe:key="guestinfo.coreos.config.data" oe:value="{ud}"/>
    <Property oe:key="guestinfo.coreos.config.data.encoding" oe:value="base64"/>
    <Property oe:key="guestinfo.dns.server.0" oe:value="10.20.0.53"/>
    <Property oe:key="guestinfo.interface.0.name" oe:value="ens192"/>
    <Property oe:key="guestinfo.interface.0.role" oe:value="private"/>
    <Property oe:key="guestinfo.interface.0.ip.0.address" oe:value="10.20.0.5/24"/>
    <Property oe:key="guestinfo.interface.1.mac" oe:value="00:50:56:00:00:02"/>
    <Property oe:key="guestinfo.interface.1.role" oe:value="public"/>
    <Property oe:key="guestinfo.interface.1.ip.0.address" oe:value="2001:db8::5/64"/>
    <Property oe:key="guestinfo.interface.1.route.0.gateway" oe:value="2001:db8::1"/>
    <Property oe:key="guestinfo.interface.1.route.0.destination" oe:value="::/0"/>
  </PropertySection>
</Environment>"#
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ovf-env.xml");
    std::fs::write(&file, ovf).unwrap();
    let root = node();
    let r = root.path().to_str().unwrap();
    let out = kindling(&[
        "apply",
        "--from-vmware-ovf-env",
        file.to_str().unwrap(),
        "--convert-netconf",
        "vmware",
        "--root",
        r,
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/ips"), "10.20.0.5 2001:db8::5");
    assert_eq!(read(root.path(), "etc/hostname"), "vm-node\n");
    assert_eq!(
        read(root.path(), "run/systemd/network/00-ens192.network"),
        "[Match]\nName=ens192\n\n[Network]\nDNS=10.20.0.53\n\n[Address]\nAddress=10.20.0.5/24\n"
    );
    assert!(
        read(
            root.path(),
            "run/systemd/network/00-00:50:56:00:00:02.network"
        )
        .contains("MACAddress=00:50:56:00:00:02\n")
    );

    // Bad XML ends the run with a clear message and nothing applied.
    std::fs::write(&file, "<Environment><PropertySection>").unwrap();
    let root2 = node();
    let before = snapshot(root2.path());
    let out = kindling(&[
        "apply",
        "--from-vmware-ovf-env",
        file.to_str().unwrap(),
        "--root",
        root2.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("not an OVF environment"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(root2.path()), before);

    // A missing file: the run ends at once.
    let out = kindling(&[
        "apply",
        "--from-vmware-ovf-env",
        "/nonexistent/ovf-env.xml",
        "--root",
        r,
    ]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("waiting cannot help"), "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(2));
}

#[test]
fn azure_waagent_directory() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path();
    std::fs::write(a.join("provisioned"), "").unwrap();
    std::fs::write(a.join("CustomData"), USER_DATA).unwrap();
    std::fs::write(
        a.join("SharedConfig.xml"),
        r#"<?xml version="1.0" encoding="utf-8"?>
<SharedConfig version="1.0.0.0" goalStateIncarnation="1">
  <Deployment name="d" guid="{g}" incarnation="0" />
  <Incarnation number="1" instance="vm_IN_1" guid="{g}" />
  <Instances>
    <Instance id="vm_IN_0" address="10.0.0.4"><InputEndpoints><Endpoint loadBalancedPublicAddress="40.0.0.9:22" /></InputEndpoints></Instance>
    <Instance id="vm_IN_1" address="10.0.0.5">
      <FaultDomains randomId="0" updateId="0" updateCount="0" />
      <InputEndpoints>
        <Endpoint name="ssh" address="10.0.0.5:22" protocol="tcp" hostName="h" isPublic="true" loadBalancedPublicAddress="40.1.2.3:22" enableDirectServerReturn="false" />
      </InputEndpoints>
    </Instance>
  </Instances>
</SharedConfig>"#,
    )
    .unwrap();
    let root = node();
    let out = kindling(&[
        "apply",
        "--from-waagent",
        a.to_str().unwrap(),
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        read(root.path(), "etc/kindling-test/ip"),
        "private=10.0.0.5 public=40.1.2.3\n"
    );
}

#[test]
fn missing_file_is_an_immediate_error() {
    let root = node();
    let out = kindling(&[
        "apply",
        "--from-file",
        "/nonexistent/user_data",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("waiting cannot help") && out.stderr.contains("/nonexistent/user_data"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(2));
}

#[test]
fn client_errors_are_absent_server_errors_are_retried() {
    // public-ipv4 answers 404 (absent); user-data answers 503 twice, then the config.
    let svc = Emulator::start(|s: &Seen, n| match s.path.as_str() {
        "/2009-04-04/" => text("ok"),
        "/2009-04-04/user-data" if n < 2 => Reply::Status(503),
        "/2009-04-04/user-data" => text(USER_DATA),
        "/2009-04-04/meta-data/local-ipv4" => text("10.1.1.1"),
        _ => Reply::Status(404),
    });
    let root = node();
    let out = kindling(&[
        "apply",
        "--from-ec2-metadata",
        &svc.url,
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        read(root.path(), "etc/kindling-test/ip"),
        "private=10.1.1.1 public=\n"
    );
    assert!(out.stderr.contains("uses $public_ipv4"), "{}", out.stderr);
    let tries = svc
        .requests()
        .iter()
        .filter(|s| s.path == "/2009-04-04/user-data")
        .count();
    assert_eq!(tries, 3);
}

/// A DigitalOcean service whose metadata document is `reply`.
fn hostile(reply: fn() -> Reply) -> Emulator {
    Emulator::start(move |s: &Seen, _| match s.path.as_str() {
        "/metadata/v1" => text("ok"),
        "/metadata/v1/user-data" => text(USER_DATA),
        "/metadata/v1.json" => reply(),
        _ => Reply::Status(404),
    })
}

fn assert_bounded_failure(svc: &Emulator, want: &str, max: Duration) {
    let root = node();
    let before = snapshot(root.path());
    let out = kindling(&[
        "apply",
        "--from-digitalocean-metadata",
        &svc.url,
        "--timeout",
        "4",
        "--http-timeout",
        "0.5",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains(want), "{want}\n{}", out.stderr);
    assert!(out.stderr.contains("nothing applied"), "{}", out.stderr);
    assert!(out.elapsed < max, "{:?}", out.elapsed);
    assert_eq!(snapshot(root.path()), before, "nothing may be half applied");
}

#[test]
fn hostile_metadata_ends_bounded_with_nothing_applied() {
    let malformed = hostile(|| text("{\"hostname\": \"x\", \"public_keys\": [1,"));
    assert_bounded_failure(&malformed, "metadata/v1.json", Duration::from_secs(3));
    let huge = hostile(|| Reply::Huge(10 * 1024 * 1024));
    assert_bounded_failure(&huge, "larger than 1024 KiB", Duration::from_secs(3));
    let drip = hostile(|| Reply::Drip(Duration::from_millis(100)));
    assert_bounded_failure(&drip, "no complete answer within", Duration::from_secs(7));
    let broken = hostile(|| Reply::Status(500));
    assert_bounded_failure(&broken, "HTTP 500 (gave up after", Duration::from_secs(7));
}

#[test]
fn race_picks_the_first_available_source() {
    // The EC2 service never becomes available (503); the config drive appears after 300 ms.
    let down = Emulator::start(|_: &Seen, _| Reply::Status(503));
    let drive = tempfile::tempdir().unwrap();
    let mount = drive.path().join("configdrive");
    let later = mount.clone();
    let maker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let staging = later.with_extension("tmp");
        config_drive(&staging, "#cloud-config\nhostname: from-the-drive\n");
        std::fs::rename(staging, later).unwrap();
    });
    let root = node();
    let out = kindling(&[
        "apply",
        "--from-configdrive",
        mount.to_str().unwrap(),
        "--from-ec2-metadata",
        &down.url,
        "--timeout",
        "10",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    maker.join().unwrap();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("using cloud-drive"), "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/hostname"), "from-the-drive\n");

    // Nothing ever available: the deadline ends the wait, with progress lines on the way.
    let root = node();
    let out = kindling(&[
        "apply",
        "--from-configdrive",
        "/nonexistent/drive",
        "--from-ec2-metadata",
        &down.url,
        "--timeout",
        "2.5",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("waiting for a datasource"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("no datasource became available within 2 s"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("HTTP 503"), "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
fn bad_user_data_still_applies_the_metadata() {
    let imds = ec2(false, "#cloud-config\nhostname: [unclosed\n");
    let root = node();
    let url = format!("{}imds/", imds.url);
    let out = kindling(&[
        "apply",
        "--from-ec2-metadata",
        &url,
        "--root",
        root.path().to_str().unwrap(),
        "--color",
        "never",
    ]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("the user-data has errors"),
        "{}",
        out.stderr
    );
    assert_eq!(
        read(root.path(), "etc/hostname"),
        "ip-10-1-2-3.ec2.internal\n"
    );
    assert!(read(root.path(), "home/core/.ssh/authorized_keys").contains("AAAAalice"));
    let ignored = kindling(&[
        "apply",
        "--from-ec2-metadata",
        &url,
        "--ignore-failure",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(ignored.status, 0, "{}", ignored.stderr);
}

#[test]
fn scripts_are_planned_and_ignition_is_left_alone() {
    let imds = ec2(
        false,
        "#!/bin/bash\necho private=$private_ipv4 > /tmp/never-run-by-a-test\n",
    );
    let root = node();
    let r = root.path().to_str().unwrap();
    let url = format!("{}imds/", imds.url);
    let out = kindling(&[
        "apply",
        "--from-ec2-metadata",
        &url,
        "--root",
        r,
        "--color",
        "never",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let scripts = root.path().join("var/lib/coreos-cloudinit/scripts");
    let unit = read(root.path(), "var/lib/coreos-cloudinit/scripts/unit-name");
    let unit = unit.trim();
    assert!(
        unit.starts_with("coreos-cloudinit-") && unit.ends_with(".service"),
        "{unit}"
    );
    let id = unit
        .trim_start_matches("coreos-cloudinit-")
        .trim_end_matches(".service");
    assert_eq!(
        std::fs::read_to_string(scripts.join(id)).unwrap(),
        "#!/bin/bash\necho private=10.1.2.3 > /tmp/never-run-by-a-test\n"
    );
    assert!(
        read(root.path(), &format!("run/systemd/system/{unit}")).contains(&format!(
            "ExecStart=/bin/bash /var/lib/coreos-cloudinit/scripts/{id}"
        ))
    );
    assert!(
        out.stdout.contains(&format!("systemctl start {unit}")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("pending"), "{}", out.stdout);

    let ign = ec2(false, r#"{"ignition":{"version":"3.3.0"}}"#);
    let root = node();
    let before = snapshot(root.path());
    let out = kindling(&[
        "apply",
        "--from-ec2-metadata",
        &format!("{}imds/", ign.url),
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Ignition config"), "{}", out.stderr);
    assert_eq!(snapshot(root.path()), before);
}

#[test]
fn installed_as_coreos_cloudinit() {
    let bin = tempfile::tempdir().unwrap();
    let link = bin.path().join("coreos-cloudinit");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kindling"), &link).unwrap();
    let drive = tempfile::tempdir().unwrap();
    config_drive(drive.path(), USER_DATA);
    let root = node();
    let out = run_as(
        &link,
        &[
            &format!("-from-configdrive={}", drive.path().display()),
            "-convert-netconf",
            "debian",
            &format!("-root={}", root.path().display()),
        ],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/hostname"), "drive-node\n");
    let version = run_as(&link, &["-version"]);
    assert!(
        version.stdout.starts_with("coreos-cloudinit"),
        "{}",
        version.stdout
    );
    let none = run_as(&link, &[&format!("-root={}", root.path().display())]);
    assert_eq!(none.status, 2, "{}", none.stderr);
    let oem = run_as(
        &link,
        &["-oem=nope", &format!("-root={}", root.path().display())],
    );
    assert_eq!(oem.status, 2);
    assert!(oem.stderr.contains("ec2-compat"), "{}", oem.stderr);
}

#[test]
fn boot_units_install_and_verify() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let r = root.path().to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_kindling");
    let out = kindling(&["boot-units", "--root", r, "--bin", bin]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let units = root.path().join("etc/systemd/system");
    assert!(
        std::fs::symlink_metadata(units.join("multi-user.target.wants/kindling-user-data.path"))
            .is_ok(),
        "enabled through systemctl --root"
    );
    // Flatcar's oem-cloudinit.service: Ignition's OEM_ID picks the --oem preset.
    assert!(
        std::fs::symlink_metadata(
            units.join("multi-user.target.wants/kindling-oem-cloudinit.service")
        )
        .is_ok()
    );
    let oem = read(
        root.path(),
        "etc/systemd/system/kindling-oem-cloudinit.service",
    );
    assert!(
        oem.contains("EnvironmentFile=/run/ignition.env\n")
            && oem.contains("aws) KINDLING_OEM=ec2-compat;;")
            && oem.contains("--oem=\"$$KINDLING_OEM\"'"),
        "{oem}"
    );
    let rules = read(
        root.path(),
        "etc/udev/rules.d/90-kindling-configdrive.rules",
    );
    assert!(rules.contains("ENV{ID_FS_LABEL}==\"config-2\""));
    // update_engine's D-Bus policy, so the agent can own com.coreos.update1 on the system bus.
    let policy = read(root.path(), "etc/dbus-1/system.d/com.coreos.update1.conf");
    assert!(
        policy.contains("<allow own=\"com.coreos.update1\" />"),
        "{policy}"
    );
    let again = kindling(&["boot-units", "--root", r, "--bin", bin]);
    assert!(again.stdout.contains("no changes"), "{}", again.stdout);

    let analyze = which("systemd-analyze")
        .expect("systemd-analyze is missing: install Debian's systemd (scripts/test does)");
    let files: Vec<PathBuf> = std::fs::read_dir(&units)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(files.len(), 11, "{files:?}");
    let out = Command::new(analyze)
        .arg("verify")
        .arg("--man=no")
        .args(&files)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("kindling") || l.contains("media-"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

/// `apply --validate` from a datasource exits 0 on the usual `$private_ipv4` user-data, as
/// coreos-cloudinit's -validate does (the metadata fills it in); a real mistake still
/// exits 1.
#[test]
fn validate_from_a_datasource_accepts_substitution_variables() {
    let dir = tempfile::tempdir().unwrap();
    let root = node();
    let r = root.path().to_str().unwrap();
    let usual = dir.path().join("usual.yaml");
    std::fs::write(
        &usual,
        "#cloud-config\nwrite_files:\n  - path: /etc/app.env\n    content: |\n      LISTEN=$private_ipv4:8080\n",
    )
    .unwrap();
    let out = kindling(&[
        "apply",
        "--validate",
        "--from-file",
        usual.to_str().unwrap(),
        "--root",
        r,
        "--color",
        "never",
    ]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let wrong = dir.path().join("wrong.yaml");
    std::fs::write(
        &wrong,
        "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: always\n",
    )
    .unwrap();
    let out = kindling(&[
        "apply",
        "--validate",
        "--from-file",
        wrong.to_str().unwrap(),
        "--root",
        r,
        "--color",
        "never",
    ]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
}
