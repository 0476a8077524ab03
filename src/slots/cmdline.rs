//! Which slot is booted, read from a kernel command line.
//!
//! The firmware (GRUB's gptprio.next) boots the kernel with `mount.usr=PARTUUID=<uuid>`
//! (older CoreOS images: `usr=PARTUUID=<uuid>`), and systemd or bootengine also accept the
//! `/dev/disk/by-partuuid/<uuid>` form. As in the kernel and systemd, a later occurrence of a
//! key overrides an earlier one; `mount.usr` is systemd's own key and wins over `usr`.

/// The booted /usr partition's PARTUUID (lowercase) named by `cmdline`, if any.
#[must_use]
pub fn booted_partuuid(cmdline: &str) -> Option<String> {
    let mut mount_usr = None;
    let mut usr = None;
    for word in words(cmdline) {
        let Some((key, value)) = word.split_once('=') else {
            continue;
        };
        let slot = match key {
            "mount.usr" => &mut mount_usr,
            "usr" => &mut usr,
            _ => continue,
        };
        *slot = partuuid_of(value);
    }
    mount_usr.or(usr)
}

/// The uuid in `PARTUUID=<uuid>` or `/dev/disk/by-partuuid/<uuid>`, lowercased and checked.
fn partuuid_of(value: &str) -> Option<String> {
    let uuid = value
        .strip_prefix("PARTUUID=")
        .or_else(|| value.strip_prefix("/dev/disk/by-partuuid/"))?;
    let parsed = uuid::Uuid::try_parse(uuid).ok()?;
    // Only the hyphenated 36-character form names a partition in these places.
    (uuid.len() == 36).then(|| parsed.hyphenated().to_string())
}

/// Splits a command line into words as the kernel does: whitespace separates, and double
/// quotes group (`key="a b"`), the quotes themselves removed.
fn words(cmdline: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut current));
                    any = false;
                }
            }
            c => {
                current.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::booted_partuuid;

    const A: &str = "7130c94a-213a-4e5a-8e26-6cce9662f132";
    const B: &str = "e03dd35c-7c2d-4a47-b3fe-27f15780a57c";

    /// Each command line and the PARTUUID it names (or none).
    fn check(cases: &[(String, Option<&str>)]) {
        for (line, want) in cases {
            assert_eq!(booted_partuuid(line).as_deref(), *want, "{line:?}");
        }
    }

    #[test]
    fn finds_the_usr_partition() {
        check(&[
            (
                format!("BOOT_IMAGE=/coreos/vmlinuz-a mount.usr=PARTUUID={A} rootflags=rw"),
                Some(A),
            ),
            (format!("usr=PARTUUID={}", B.to_uppercase()), Some(B)),
            (format!("mount.usr=/dev/disk/by-partuuid/{A}\n"), Some(A)),
            (format!("x=\"a b\" mount.usr=\"PARTUUID={A}\""), Some(A)),
        ]);
    }

    #[test]
    fn later_wins_and_mount_usr_beats_usr() {
        check(&[
            (
                format!("mount.usr=PARTUUID={A} mount.usr=PARTUUID={B}"),
                Some(B),
            ),
            (format!("mount.usr=PARTUUID={A} usr=PARTUUID={B}"), Some(A)),
        ]);
    }

    #[test]
    fn ignores_what_is_not_a_partuuid() {
        check(&[
            ("root=/dev/sda9 mount.usr=/dev/sda3".into(), None),
            ("usr=PARTUUID=not-a-uuid".into(), None),
            (format!("xmount.usr=PARTUUID={A}"), None),
            (String::new(), None),
        ]);
    }
}
