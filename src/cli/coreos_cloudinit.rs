//! kindling installed as `coreos-cloudinit`: that tool's command line (Go's flag package:
//! `-flag=value`, `-flag value`, `--flag`, booleans as `-flag=true`) turned into
//! `kindling apply --root=/ --flag...`, so existing images' boot units call kindling unchanged.

/// Go's flag spellings to clap's: `-from-file=X` and `-from-file X` become `--from-file=X`
/// and `--from-file X`; `-b=true` becomes `--b`, `-b=false` is dropped.
#[must_use]
pub fn go_flags(args: &[String]) -> Vec<String> {
    const BOOLS: [&str; 8] = [
        "from-proc-cmdline",
        "from-metadata-service",
        "from-vmware-guestinfo",
        "from-cloudsigma-metadata",
        "validate",
        "ignore-failure",
        "version",
        "help",
    ];
    let mut out = Vec::new();
    for a in args {
        let long = if a.starts_with("--") || !a.starts_with('-') || a == "-" {
            a.clone()
        } else if a == "-h" {
            "--help".to_string()
        } else {
            format!("-{a}")
        };
        if let Some((flag, value)) = long.strip_prefix("--").and_then(|f| f.split_once('='))
            && BOOLS.contains(&flag)
        {
            match value {
                "true" | "1" | "t" | "T" | "TRUE" | "True" => out.push(format!("--{flag}")),
                _ => {}
            }
            continue;
        }
        out.push(long);
    }
    out
}

/// The command line of kindling installed as `coreos-cloudinit`: `apply --root=/` plus the
/// flags in clap's spelling (`--root` may still be given, to run against a test root).
#[must_use]
pub fn coreos_cloudinit_args(argv: &[String]) -> Vec<String> {
    let rest = go_flags(argv.get(1..).unwrap_or(&[]));
    let mut out = vec!["kindling".to_string(), "apply".to_string()];
    if !rest
        .iter()
        .any(|a| a == "--root" || a.starts_with("--root="))
    {
        out.push("--root=/".into());
    }
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_spellings() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        assert_eq!(
            go_flags(&v(&[
                "-from-file=/x",
                "-oem",
                "ec2-compat",
                "-from-proc-cmdline=true",
                "-validate=false",
                "--from-url=u"
            ])),
            v(&[
                "--from-file=/x",
                "--oem",
                "ec2-compat",
                "--from-proc-cmdline",
                "--from-url=u"
            ])
        );
        assert_eq!(
            coreos_cloudinit_args(&v(&["coreos-cloudinit", "-from-file=/a"])),
            v(&["kindling", "apply", "--root=/", "--from-file=/a"])
        );
    }
}
