//! `kindling::update::reboot-hooks`: the commands run around a reboot kindling makes.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::reboot-hooks",
    severity: Severity::Error,
    summary: "a reboot hook that cannot run (a blank command, unbalanced quotes, a relative program, several lines) or a timeout that is not a usable time span",
    help: "give the program's absolute path (`/opt/bin/drain`, or `/bin/sh -c '...'` for a shell) on one line, and a finite timeout such as `10min`",
    explanation: "`coreos.update.reboot-hooks` (a kindling extension) runs `pre-reboot` immediately \
before a reboot the kindling agent or reboot manager makes (after the window and the lock \
are held) and `post-boot` after the next boot's health check passed, before the reboot slot \
is given back: the place to drain a Kubernetes node and to uncordon it. Each becomes an \
update.conf line (`KINDLING_PRE_REBOOT_COMMAND=`, `KINDLING_POST_BOOT_COMMAND=`, with \
`KINDLING_PRE_REBOOT_TIMEOUT=` and `KINDLING_POST_BOOT_TIMEOUT=` in whole seconds, 10 minutes \
when unset). A command is split into words as a shell would split it but runs without a \
shell and without a PATH search, so the program is an absolute path and the command fits on \
one line; a hook that needs pipes, variables or `$(...)` asks for a shell: \
`/bin/sh -c 'kubectl drain \"$(hostname)\"'`. A timeout is a systemd time span of at least a \
second (`infinity` is refused: a hook that hangs must not hold the reboot slot forever). A \
timeout without its command does nothing (a warning). A pre-reboot hook that fails or times \
out means no reboot now (the slot is given back and the reboot tried again at the next \
window opening); a post-boot hook that fails keeps the slot until it succeeds.",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    reboot-hooks:\n      pre-reboot: kubectl drain node-1\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    reboot-hooks:\n      pre-reboot: /opt/bin/kubectl drain node-1\n",
};
