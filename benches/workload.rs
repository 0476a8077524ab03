//! The W1 workload: 2,000 units (every 10th with a drop-in) and 2,000 write_files,
//! about 39,000 lines. `scale` multiplies the counts, for the linearity check.

use std::fmt::Write;

/// Generate W1 times `scale`.
pub fn w1(scale: usize) -> String {
    let units = 2000 * scale;
    let files = 2000 * scale;
    let mut out = String::with_capacity(1_100_000 * scale);
    out.push_str("#cloud-config\n# W1: kindling's benchmark workload\ncoreos:\n  update:\n    group: stable\n    reboot-strategy: etcd-lock\n  locksmith:\n    endpoint: http://10.0.0.10:2379\n    window-start: Sun 4:00\n    window-length: 2h\n  units:\n");
    for i in 0..units {
        let _ = write!(
            out,
            "    - name: svc-{i:05}.service\n      command: start\n      content: |\n        [Unit]\n        Description=Service {i}\n        After=network-online.target\n\n        [Service]\n        ExecStart=/opt/bin/svc-{i:05}\n        Restart=always\n"
        );
        if i % 10 == 0 {
            let _ = write!(
                out,
                "      drop-ins:\n        - name: 10-env.conf\n          content: |\n            [Service]\n            Environment=ID={i}\n"
            );
        }
    }
    out.push_str("write_files:\n");
    for i in 0..files {
        let _ = write!(
            out,
            "  - path: /opt/bin/svc-{i:05}\n    permissions: '0755'\n    owner: root\n    content: |\n      #!/bin/sh\n      # service {i}\n      set -eu\n      echo starting {i}\n      exec /usr/bin/sleep infinity\n"
        );
    }
    out
}
