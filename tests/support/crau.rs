//! Support for the Flatcar payload tests: real update_engine payloads ("CrAU") made by
//! mantle's own generator (`../shared/peers/flatcar-update-gen`, signed with mantle's
//! developer key) from a real ext4 `/usr` image (`mkfs.ext4 -d`) holding a release file and a
//! `/postinst` that records its arguments, environment and working directory into the test's
//! temp dir (and nowhere else), plus a kernel file; what `flatcar-update-apply` (mantle's
//! reference applier) writes for the same payload; the payload's parts located for the
//! fault tests (a byte of operation data, of the manifest, of the signature; a cut; a delta
//! operation); and go-omaha's `omaha-trivial-server` serving it on a free loopback port.
//! A missing peer fails the test with a clear message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use super::process::{Guard, peer};

/// The developer key's public half (PEM), which mantle's generator signs with.
pub fn developer_key() -> PathBuf {
    peer("flatcar-update-tools/developer-key.pub.pem")
}

/// The size of update_engine's header: `CrAU`, version (u64), manifest size (u64).
pub const HEADER: u64 = 20;

/// What to put in a payload.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The release in `/usr/share/coreos/release`.
    pub version: String,
    /// The `/usr` image's size in MiB (a multiple of 4096 bytes, as the generator needs).
    pub usr_mib: u32,
    /// How the `/postinst` exits.
    pub postinst_exit: i32,
    /// The kernel file's size in bytes (0: no `KERNEL` procedure).
    pub kernel_bytes: usize,
}

impl Spec {
    pub fn new(version: &str) -> Spec {
        Spec {
            version: version.to_string(),
            usr_mib: 8,
            postinst_exit: 0,
            kernel_bytes: 10_000,
        }
    }
}

/// A payload made by `flatcar-update-gen`, with what it printed.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The payload file.
    pub path: PathBuf,
    /// The `/usr` image it was made from.
    pub usr: PathBuf,
    /// The kernel file given to the generator (when any).
    pub kernel: Option<PathBuf>,
    /// The directory the `/postinst` writes `argv`, `env` and `cwd` into.
    pub record: PathBuf,
    /// `KEY=VALUE` lines the generator printed (`SIZE`, `SHA256_B64`, `METADATA_SIZE`, ...).
    pub printed: BTreeMap<String, String>,
}

/// The `/postinst` script: records how it was run into `record`, then exits `code`.
fn postinst(record: &Path, code: i32) -> String {
    let r = record.display();
    format!(
        "#!/bin/sh\n\
         mkdir -p '{r}'\n\
         : > '{r}/argv'\n\
         for a in \"$0\" \"$@\"; do printf '%s\\n' \"$a\" >> '{r}/argv'; done\n\
         env | sort > '{r}/env'\n\
         pwd > '{r}/cwd'\n\
         echo ran >> '{r}/runs'\n\
         exit {code}\n"
    )
}

/// A real ext4 `/usr` image: the release file, a `/postinst` and some bulk (half random,
/// half compressible, so the generator makes both `REPLACE` and `REPLACE_BZ` operations).
pub fn usr_image(dir: &Path, spec: &Spec, record: &Path) -> PathBuf {
    let tree = dir.join(format!("crau-usr-{}", spec.version));
    std::fs::create_dir_all(tree.join("share/coreos")).unwrap();
    std::fs::write(
        tree.join("share/coreos/release"),
        format!(
            "COREOS_RELEASE_VERSION={}\nCOREOS_RELEASE_BOARD=amd64-usr\n",
            spec.version
        ),
    )
    .unwrap();
    let script = tree.join("postinst");
    std::fs::write(&script, postinst(record, spec.postinst_exit)).unwrap();
    set_mode(&script, 0o755);
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    let quarter = spec.usr_mib as usize * 256 * 1024;
    let mut bulk = vec![0u8; quarter];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bulk))
        .unwrap();
    bulk.extend(std::iter::repeat_n(b'k', quarter));
    std::fs::write(tree.join("bin/bulk"), &bulk).unwrap();
    let image = dir.join(format!("crau-usr-{}.ext4", spec.version));
    super::agent::mkfs_ext4(&tree, &image, spec.usr_mib);
    image
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Payload {
    /// Make `spec`'s payload in `dir` with `flatcar-update-gen`; the `/postinst` records
    /// into `dir/postinst-<version>/`.
    pub fn generate(dir: &Path, spec: &Spec) -> Payload {
        let record = dir.join(format!("postinst-{}", spec.version));
        let usr = usr_image(dir, spec, &record);
        let kernel = (spec.kernel_bytes > 0).then(|| {
            let k = dir.join(format!("vmlinuz-{}", spec.version));
            let bytes: Vec<u8> = (0..spec.kernel_bytes)
                .map(|i| (i.wrapping_mul(31) ^ (i >> 7)) as u8)
                .collect();
            std::fs::write(&k, bytes).unwrap();
            k
        });
        let path = dir.join(format!("crau-{}.bin", spec.version));
        let mut cmd = Command::new(peer("flatcar-update-gen"));
        cmd.arg("-usr").arg(&usr).arg("-out").arg(&path);
        if let Some(k) = &kernel {
            cmd.arg("-kernel").arg(k);
        }
        // The generator stages the data in an O_TMPFILE in $TMPDIR: keep it in the test dir.
        let out = cmd.env("TMPDIR", dir).output().unwrap();
        assert!(
            out.status.success(),
            "flatcar-update-gen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Payload {
            path,
            usr,
            kernel,
            record,
            printed,
        }
    }

    /// A value the generator printed.
    pub fn printed(&self, key: &str) -> &str {
        self.printed
            .get(key)
            .unwrap_or_else(|| panic!("flatcar-update-gen printed no {key}: {:?}", self.printed))
    }

    /// The payload's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }

    /// The manifest's size (the header's third field).
    pub fn manifest_size(&self) -> u64 {
        let b = self.bytes();
        u64::from_be_bytes(b[12..20].try_into().unwrap())
    }

    /// Where the operation data starts (header + manifest).
    pub fn data_start(&self) -> u64 {
        HEADER + self.manifest_size()
    }

    /// What `flatcar-update-apply` (mantle's applier) writes for this payload: the new
    /// `/usr` partition. It applies the partition operations, checks them and the signature,
    /// then stops at a `KERNEL` procedure (exit 1, `KERNEL`) after `./out` was written and
    /// before its signature check; that stop is expected when the payload has a kernel, and
    /// `flatcar-update-dump` then checks the operations and the signature.
    pub fn reference_usr(&self, dir: &Path) -> Vec<u8> {
        let work = dir.join(format!(
            "apply-{}",
            self.path.file_name().unwrap().display()
        ));
        std::fs::create_dir_all(&work).unwrap();
        let out = Command::new(peer("flatcar-update-apply"))
            .arg(&self.path)
            .current_dir(&work)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let kernel_stop = self.kernel.is_some() && out.status.code() == Some(1);
        assert!(
            out.status.success() || kernel_stop,
            "flatcar-update-apply: {stderr}"
        );
        if kernel_stop {
            // It stopped before its signature check: mantle's dump checks every operation
            // hash and the signature instead.
            assert!(stderr.contains("KERNEL"), "flatcar-update-apply: {stderr}");
            let dump = Command::new(peer("flatcar-update-dump"))
                .arg(&self.path)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&dump.stderr);
            assert!(
                dump.status.success() && err.contains("Good v2 signature"),
                "flatcar-update-dump: {err}"
            );
        } else {
            assert!(
                stderr.contains("Good v2 signature"),
                "flatcar-update-apply did not check the signature: {stderr}"
            );
        }
        std::fs::read(work.join("out")).unwrap()
    }

    /// A copy of the payload named `name` in `dir` with `edit` applied to its bytes.
    pub fn altered(&self, dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
        let mut bytes = self.bytes();
        edit(&mut bytes);
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// One byte of the first operation's data flipped.
    pub fn with_flipped_data(&self, dir: &Path) -> PathBuf {
        let at = usize::try_from(self.data_start()).unwrap() + 100;
        self.altered(dir, "flipped-data.bin", |b| b[at] ^= 0x01)
    }

    /// One byte inside the manifest flipped (a byte of `new_partition_info`'s hash, near
    /// the manifest's end, so the manifest still decodes and only the signature can tell).
    pub fn with_flipped_manifest(&self, dir: &Path) -> PathBuf {
        let at = usize::try_from(self.data_start()).unwrap() - 8;
        self.altered(dir, "flipped-manifest.bin", |b| b[at] ^= 0x01)
    }

    /// One byte of the RSA signature (the payload's last bytes) flipped.
    pub fn with_flipped_signature(&self, dir: &Path) -> PathBuf {
        self.altered(dir, "flipped-signature.bin", |b| {
            let at = b.len() - 40;
            b[at] ^= 0x01;
        })
    }

    /// The payload cut short: its last `cut` bytes gone.
    pub fn truncated(&self, dir: &Path, cut: usize) -> PathBuf {
        self.altered(dir, "truncated.bin", |b| b.truncate(b.len() - cut))
    }

    /// A delta payload: the first partition operation's type made `MOVE` (2), the manifest
    /// otherwise unchanged (the type is the operation's first field, a one-byte varint, so
    /// the lengths stay the same). Its signature no longer holds either; a reader must name
    /// the delta operation, before writing anything.
    pub fn as_delta(&self, dir: &Path) -> PathBuf {
        self.altered(dir, "delta.bin", |b| {
            let m = usize::try_from(HEADER).unwrap();
            // DeltaArchiveManifest field 1 (install operations / partition operations) or
            // field 2, length-delimited: the first operation.
            assert!(
                b[m] == 0x0a || b[m] == 0x12,
                "the manifest does not start with an operation: {:02x}",
                b[m]
            );
            let mut i = m + 1;
            while b[i] & 0x80 != 0 {
                i += 1;
            }
            i += 1;
            assert_eq!(b[i], 0x08, "the operation does not start with its type");
            assert!(b[i + 1] <= 1, "not a REPLACE/REPLACE_BZ: {}", b[i + 1]);
            b[i + 1] = 2;
        })
    }
}

/// go-omaha's `omaha-trivial-server` serving `payload` as `version` (no `.minisig`: a CrAU
/// payload carries its signature), on a free loopback port; stopped by its PID on drop.
pub struct GoOmaha {
    /// The update check URL (`.../v1/update/`).
    pub url: String,
    _child: Guard,
}

impl GoOmaha {
    pub fn start(payload: &Path, version: &str) -> GoOmaha {
        let (guard, base) = super::omaha::trivial_server(payload, version, &[]);
        GoOmaha {
            url: format!("{base}/v1/update/"),
            _child: guard,
        }
    }
}

/// A simulated 1.0.0 node (real cgpt) checking `server`, with the PEM `keys` placed in
/// kindling's trusted-key directory as `.pem` files (no minisign key).
pub fn node(dir: &Path, server: &str, keys: &[&Path]) -> super::agent::Node {
    let spec = Spec {
        usr_mib: 8,
        ..Spec::new("1.0.0")
    };
    let base = dir.join("base");
    std::fs::create_dir_all(&base).unwrap();
    let v100 = usr_image(&base, &spec, &base.join("postinst-1.0.0"));
    let node = super::agent::Node::checking(dir, &v100, server, "off", &[]);
    for (i, k) in keys.iter().enumerate() {
        std::fs::copy(
            k,
            node.root
                .join(format!("etc/kindling/trusted-keys/payload{i}.pem")),
        )
        .unwrap();
    }
    std::fs::create_dir_all(node.root.join("boot/flatcar")).unwrap();
    node
}

/// The `/postinst`'s record: its argument lines, its environment lines, its working
/// directory and how many times it ran (0 when it never did).
pub fn postinst_record(record: &Path) -> (Vec<String>, Vec<String>, String, usize) {
    let read = |name: &str| std::fs::read_to_string(record.join(name)).unwrap_or_default();
    (
        read("argv").lines().map(str::to_string).collect(),
        read("env").lines().map(str::to_string).collect(),
        read("cwd").trim().to_string(),
        read("runs").lines().count(),
    )
}
