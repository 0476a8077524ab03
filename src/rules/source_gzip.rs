//! `kindling::source::gzip`: user-data that starts like gzip but does not unpack.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::source::gzip",
    severity: Severity::Error,
    summary: "gzip-compressed user-data that cannot be unpacked",
    help: "compress the file again with `gzip -c`, or send it uncompressed",
    explanation: "User-data that starts with the gzip magic bytes `1f 8b` is unpacked before \
anything else, as coreos-cloudinit does. A truncated or corrupt stream, or one that unpacks to \
more than 64 MiB, cannot be read at all.",
    example: "$ head -c 100 user-data.gz > truncated.gz\n$ kindling validate truncated.gz\n  × the input starts like gzip but cannot be unpacked: corrupt deflate stream\n",
    fixed: "$ gzip -c user-data > user-data.gz\n$ kindling validate user-data.gz\n1 file: 0 errors, 0 warnings, 0 infos\n",
};
