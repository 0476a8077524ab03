//! The sections of a cloud-config that kindling compiles: the document root, `coreos`,
//! `coreos.update`, `coreos.locksmith`, `coreos.units` (with drop-ins), `write_files`
//! and `users`. Keys, types, value rules and environment names are those of
//! coreos-cloudinit v1.14.0 (`config/*.go`); extensions are marked.

use super::keys::{Block, Content, Spanned, section};
use super::legacy::{Etcd, Etcd2, Flannel, Fleet};
use super::values;

/// The variables coreos-cloudinit substitutes in a config's text (`$public_ipv4`).
pub const VARIABLES: [&str; 4] = ["public_ipv4", "private_ipv4", "public_ipv6", "private_ipv6"];

section! {
    /// A `#cloud-config` document.
    pub struct CloudConfig in "" {
        /// CoreOS-specific settings: update strategy, reboot lock, systemd units.
        coreos: Coreos,
        /// SSH public keys authorised for the `core` user.
        ssh_authorized_keys: Vec<Spanned<String>>,
        /// Files to write, with content, permissions and owner.
        write_files: Vec<Spanned<WriteFile>>,
        /// The node's hostname (RFC 1123 labels, at most 64 bytes).
        @valid(values::HOSTNAME)
        hostname: String,
        /// Users to create or update.
        users: Vec<Spanned<User>>,
        /// Generate `/etc/hosts`; only `localhost` is supported.
        manage_etc_hosts: String,
    }
}

section! {
    /// The `coreos` section.
    pub struct Coreos in "coreos" {
        /// etcd (v0.4) settings, written as a drop-in for etcd.service.
        @deprecated("etcd is no longer shipped in Container Linux")
        etcd: Etcd,
        /// etcd2 settings, written as a drop-in for etcd2.service.
        @deprecated("etcd2 is no longer shipped in Container Linux")
        etcd2: Etcd2,
        /// flannel settings, written to /run/flannel/options.env.
        flannel: Flannel,
        /// fleet settings, written as a drop-in for fleet.service.
        @deprecated("fleet is no longer shipped in Container Linux")
        fleet: Fleet,
        /// The reboot lock (locksmithd) settings.
        locksmith: Locksmith,
        /// Written to /etc/oem-release.
        oem: Oem,
        /// The update engine's settings, written to /etc/coreos/update.conf.
        update: Update,
        /// systemd units to write, enable, mask or start.
        units: Vec<Spanned<Unit>>,
    }
}

section! {
    /// `coreos.update`: how the node gets updates and reboots into them.
    pub struct Update in "coreos.update" {
        /// `reboot`, `etcd-lock`, `off`, or the kindling extension `best-effort`.
        #[schemars(extend("examples" = ["reboot", "etcd-lock", "off", "best-effort"]))]
        @valid(values::REBOOT_STRATEGY) @env("REBOOT_STRATEGY")
        reboot_strategy: String,
        /// The update channel (`stable`, `beta`, `alpha`, or a custom group).
        @env("GROUP")
        group: String,
        /// The Omaha update server URL.
        @env("SERVER")
        server: String,
        /// A proxy for the update engine (`http://`, `https://`, `socks4://`, `socks5://`),
        /// written as `ALL_PROXY` in an update-engine.service drop-in.
        @valid(values::UPDATE_PROXY) @extension("update-engine proxy drop-in, not in coreos-cloudinit")
        proxy: String,
        /// Reboot into updates only inside this window: a timer, a service and a script
        /// that reboots when an update is staged (through the reboot lock when etcd runs).
        @extension("the update-window recipe as one key, not in coreos-cloudinit")
        maintenance_window: MaintenanceWindow,
        /// Which program keeps the node updated: `update-engine` (the default);
        /// `kindling`, whose agent (`kindling-agent.service`) then replaces update-engine
        /// and locksmithd (both masked); or `reboot-manager`: update-engine kept, locksmithd
        /// masked and kindling's reboot manager (`kindling-reboot-manager.service`) in its
        /// place.
        #[schemars(extend("examples" = ["update-engine", "kindling", "reboot-manager"]))]
        @valid(values::UPDATE_AGENT) @extension("the kindling agent instead of update-engine (`kindling`), or kindling's reboot manager instead of locksmithd (`reboot-manager`), not in coreos-cloudinit")
        agent: String,
        /// minisign public keys the kindling agent trusts for update payloads, each the
        /// two lines of a `.pub` file or its base64 line alone; written to
        /// `/etc/kindling/trusted-keys/<KEY ID>.pub`.
        @extension("trusted payload keys of the kindling agent, not in coreos-cloudinit")
        signing_keys: Vec<Spanned<Block>>,
        /// What the kindling agent checks after booting into an update before it marks the
        /// new slot good (else it rolls back).
        @extension("the kindling agent's health check, not in coreos-cloudinit")
        health_check: HealthCheck,
        /// Commands the kindling agent and reboot manager run around a reboot: `pre-reboot`
        /// before it (drain), `post-boot` after the next boot's health check (uncordon).
        @extension("reboot hooks of the kindling agent and reboot manager, not in coreos-cloudinit")
        reboot_hooks: RebootHooks,
        /// How often the kindling agent checks for updates: a systemd time span
        /// (`1h`, `45min`); written in whole seconds.
        #[schemars(extend("examples" = ["1h", "45min", "2h 30min"]))]
        @valid(values::CHECK_TIMING) @env("KINDLING_CHECK_INTERVAL") @extension("kindling agent timing, not in coreos-cloudinit")
        check_interval: String,
        /// How long after it starts the kindling agent checks for the first time: a
        /// systemd time span; written in whole seconds.
        #[schemars(extend("examples" = ["10min", "2min"]))]
        @valid(values::CHECK_TIMING) @env("KINDLING_FIRST_CHECK_DELAY") @extension("kindling agent timing, not in coreos-cloudinit")
        first_check_delay: String,
        /// Upper bound of the random delay added to every wait between checks: a systemd
        /// time span; written in whole seconds.
        #[schemars(extend("examples" = ["10min", "5min"]))]
        @valid(values::CHECK_TIMING) @env("KINDLING_CHECK_JITTER") @extension("kindling agent timing, not in coreos-cloudinit")
        check_jitter: String,
    }
}

section! {
    /// `coreos.update.health-check` (kindling extension): what must be healthy after an
    /// update before the kindling agent marks the new slot good.
    pub struct HealthCheck in "coreos.update.health_check" {
        /// Units that must be active, e.g. `docker.service`.
        units: Vec<Spanned<String>>,
        /// A command run with `/bin/sh -c` that must exit 0, e.g. `curl -fsS http://127.0.0.1:8080/healthz`.
        @valid(values::HEALTH_COMMAND) @env("KINDLING_HEALTH_COMMAND")
        command: Block,
    }
}

section! {
    /// `coreos.update.reboot-hooks` (kindling extension): commands around a reboot the
    /// kindling agent or reboot manager makes. Each is split into words as a shell would
    /// and run without one (the program an absolute path; `/bin/sh -c '...'` asks for a
    /// shell), with `KINDLING_REBOOT_REASON`, `KINDLING_LOCK_GROUP` and
    /// `KINDLING_MACHINE_ID` in its environment.
    pub struct RebootHooks in "coreos.update.reboot_hooks" {
        /// Run once the window and the reboot lock are held, immediately before the reboot;
        /// failing or timing out means no reboot now (the slot is given back, the reboot
        /// tried again at the next window opening), e.g. `/opt/bin/drain-node`.
        #[schemars(extend("examples" = ["/opt/bin/drain-node", "/bin/sh -c 'kubectl drain \"$(hostname)\" --ignore-daemonsets'"]))]
        @valid(values::HOOK_COMMAND) @env("KINDLING_PRE_REBOOT_COMMAND")
        pre_reboot: String,
        /// How long `pre-reboot` may run (a systemd time span, default `10min`); then it is
        /// killed with its process group.
        #[schemars(extend("examples" = ["10min", "15min"]))]
        @valid(values::HOOK_TIMEOUT) @env("KINDLING_PRE_REBOOT_TIMEOUT")
        pre_reboot_timeout: String,
        /// Run after the next boot's health check passed, before the reboot slot is given
        /// back; failing keeps the slot (the node is not back in service) and is retried,
        /// e.g. `/opt/bin/uncordon-node`.
        #[schemars(extend("examples" = ["/opt/bin/uncordon-node"]))]
        @valid(values::HOOK_COMMAND) @env("KINDLING_POST_BOOT_COMMAND")
        post_boot: String,
        /// How long `post-boot` may run (default `10min`).
        #[schemars(extend("examples" = ["5min"]))]
        @valid(values::HOOK_TIMEOUT) @env("KINDLING_POST_BOOT_TIMEOUT")
        post_boot_timeout: String,
    }
}

section! {
    /// `coreos.update.maintenance-window` (kindling extension).
    pub struct MaintenanceWindow in "coreos.update.maintenance_window" {
        /// When to check for a staged update: a systemd calendar expression
        /// (`OnCalendar=`), e.g. `*-*-* 05,06:00,30:00`. Required.
        #[schemars(extend("examples" = ["*-*-* 05,06:00,30:00", "Sun 04:00", "daily"]))]
        calendar: String,
        /// How long the window stays open after each elapse of the calendar: a systemd time
        /// span (default `1h`). With the kindling agent, the lock is waited for inside it and
        /// the window checked again once the lock is taken.
        #[schemars(extend("examples" = ["1h", "30min"]))]
        length: String,
        /// Upper bound, in seconds, of the random delay before an unlocked reboot
        /// (default 3600; 0 reboots at once).
        random_delay: i64,
    }
}

section! {
    /// `coreos.locksmith`: the cluster-wide reboot lock.
    pub struct Locksmith in "coreos.locksmith" {
        /// etcd endpoint(s) of the reboot lock.
        @env("LOCKSMITHD_ENDPOINT")
        endpoint: String,
        /// CA file for the etcd connection.
        @env("LOCKSMITHD_ETCD_CAFILE")
        etcd_cafile: String,
        /// Client certificate for the etcd connection.
        @env("LOCKSMITHD_ETCD_CERTFILE")
        etcd_certfile: String,
        /// Client key for the etcd connection.
        @env("LOCKSMITHD_ETCD_KEYFILE")
        etcd_keyfile: String,
        /// etcd user name.
        @env("LOCKSMITHD_ETCD_USERNAME")
        etcd_username: String,
        /// etcd password.
        @env("LOCKSMITHD_ETCD_PASSWORD")
        etcd_password: String,
        /// The lock group this node belongs to.
        @env("LOCKSMITHD_GROUP")
        group: String,
        /// Start of the reboot window: `[<day> ]H:MM`, e.g. `Sun 4:00`.
        @valid(values::WINDOW_START) @env("REBOOT_WINDOW_START")
        window_start: String,
        /// Length of the reboot window, e.g. `1h30m`.
        @valid(values::WINDOW_LENGTH) @env("REBOOT_WINDOW_LENGTH")
        window_length: String,
    }
}

section! {
    /// One entry of `coreos.units`.
    pub struct Unit in "coreos.units[]" {
        /// The unit's file name, e.g. `docker.service`. Required.
        name: String,
        /// Mask the unit (link it to /dev/null).
        mask: bool,
        /// Enable the unit (per its [Install] section).
        enable: bool,
        /// Write to /run (lost at reboot) instead of /etc.
        runtime: bool,
        /// The unit file's text.
        content: Block,
        /// A systemctl command to run: start, stop, restart, reload, try-restart,
        /// reload-or-restart or reload-or-try-restart.
        #[schemars(extend("examples" = ["start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "reload-or-try-restart"]))]
        @valid(values::UNIT_COMMAND)
        command: String,
        /// Drop-ins for the unit.
        drop_ins: Vec<Spanned<DropIn>>,
    }
}

section! {
    /// A drop-in of a unit.
    pub struct DropIn in "coreos.units[].drop_ins[]" {
        /// The drop-in's file name, e.g. `50-proxy.conf`. Required.
        name: String,
        /// The drop-in's text. Required.
        content: Block,
    }
}

section! {
    /// One entry of `write_files`.
    pub struct WriteFile in "write_files[]" {
        /// How `content` is encoded: base64, b64, gz, gzip, gz+base64, gzip+base64,
        /// gz+b64 or gzip+b64.
        #[schemars(extend("examples" = ["base64", "b64", "gz", "gzip", "gz+base64", "gzip+base64", "gz+b64", "gzip+b64"]))]
        @valid(values::ENCODING)
        encoding: String,
        /// The file's content.
        content: Content,
        /// Owner, `user` or `user:group`.
        owner: String,
        /// Absolute path of the file. Required.
        path: String,
        /// Octal mode, e.g. `0644` (always read as octal, quoted or not).
        #[schemars(extend("examples" = ["0644", "0755", "0600"]))]
        @valid(values::PERMISSIONS)
        permissions: String,
    }
}

section! {
    /// One entry of `users`.
    pub struct User in "users[]" {
        /// The login name. Required.
        name: String,
        /// The password hash.
        passwd: String,
        /// SSH public keys for this user.
        ssh_authorized_keys: Vec<Spanned<String>>,
        /// Import the SSH keys of a GitHub user.
        @deprecated("trying to fetch from a remote endpoint introduces too many intermittent errors")
        coreos_ssh_import_github: String,
        /// Import the SSH keys of several GitHub users.
        @deprecated("trying to fetch from a remote endpoint introduces too many intermittent errors")
        coreos_ssh_import_github_users: Vec<Spanned<String>>,
        /// Import SSH keys from a URL.
        @deprecated("trying to fetch from a remote endpoint introduces too many intermittent errors")
        coreos_ssh_import_url: String,
        /// The GECOS (comment) field.
        gecos: String,
        /// The home directory.
        homedir: String,
        /// Do not create the home directory.
        no_create_home: bool,
        /// The primary group.
        primary_group: String,
        /// Supplementary groups.
        groups: Vec<Spanned<String>>,
        /// Do not create a group with the user's name.
        no_user_group: bool,
        /// Create a system user.
        system: bool,
        /// Do not add the user to the lastlog and faillog databases.
        no_log_init: bool,
        /// The login shell.
        shell: String,
    }
}

section! {
    /// `coreos.oem`: written to /etc/oem-release when `id` is set.
    pub struct Oem in "coreos.oem" {
        /// OEM id.
        id: String,
        /// OEM name.
        name: String,
        /// OEM version.
        version_id: String,
        /// Home page.
        home_url: String,
        /// Where to report bugs.
        bug_report_url: String,
    }
}

impl CloudConfig {
    /// The `coreos.units` entries.
    pub fn units(&self) -> impl Iterator<Item = &Spanned<Unit>> {
        self.coreos
            .iter()
            .flat_map(|c| c.value.units.iter())
            .flat_map(|u| u.value.iter())
    }

    /// The `write_files` entries.
    pub fn write_files(&self) -> impl Iterator<Item = &Spanned<WriteFile>> {
        self.write_files.iter().flat_map(|w| w.value.iter())
    }

    /// The `users` entries.
    pub fn users(&self) -> impl Iterator<Item = &Spanned<User>> {
        self.users.iter().flat_map(|u| u.value.iter())
    }

    /// `coreos.update`, when present.
    #[must_use]
    pub fn update(&self) -> Option<&Spanned<Update>> {
        self.coreos.as_ref().and_then(|c| c.value.update.as_ref())
    }

    /// `coreos.locksmith`, when present.
    #[must_use]
    pub fn locksmith(&self) -> Option<&Spanned<Locksmith>> {
        self.coreos
            .as_ref()
            .and_then(|c| c.value.locksmith.as_ref())
    }
}

impl Update {
    /// Whether the kindling agent, not update-engine, keeps the node updated.
    #[must_use]
    pub fn kindling_agent(&self) -> bool {
        self.agent
            .as_ref()
            .is_some_and(|a| a.value == values::AGENT_KINDLING)
    }

    /// Whether update-engine stays and kindling's reboot manager replaces locksmithd.
    #[must_use]
    pub fn reboot_manager(&self) -> bool {
        self.agent
            .as_ref()
            .is_some_and(|a| a.value == values::AGENT_REBOOT_MANAGER)
    }

    /// Whether kindling decides when the node reboots (its agent, or its reboot manager
    /// beside update-engine): then the maintenance window is kindling's own window check.
    #[must_use]
    pub fn kindling_reboots(&self) -> bool {
        self.kindling_agent() || self.reboot_manager()
    }

    /// The `signing-keys` entries.
    pub fn signing_keys(&self) -> impl Iterator<Item = &Spanned<Block>> {
        self.signing_keys.iter().flat_map(|k| k.value.iter())
    }
}

impl Unit {
    /// The drop-ins.
    pub fn drop_ins(&self) -> impl Iterator<Item = &Spanned<DropIn>> {
        self.drop_ins.iter().flat_map(|d| d.value.iter())
    }

    /// The unit's name, or "" when it has none.
    #[must_use]
    pub fn name(&self) -> &str {
        self.name.as_ref().map_or("", |n| n.value.as_str())
    }

    /// Whether a boolean flag is set to true.
    #[must_use]
    pub fn flag(flag: Option<&Spanned<bool>>) -> bool {
        flag.is_some_and(|f| f.value)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::CloudConfig;

    fn read(text: &str) -> CloudConfig {
        let v = crate::validate("t", text.as_bytes().to_vec());
        v.config
    }

    /// coreos-cloudinit's TestNewCloudConfig: hyphen and underscore keys, raw text kept.
    #[test]
    fn raw_text_and_key_spellings() {
        for (perm, want) in [
            ("0744", "0744"),
            ("744", "744"),
            ("'0744'", "0744"),
            ("'744'", "744"),
        ] {
            let c = read(&format!(
                "#cloud-config\nwrite-files:\n  - path: /x\n    permissions: {perm}\n"
            ));
            let f = c.write_files().next().unwrap();
            assert_eq!(f.value.permissions.as_ref().unwrap().value, want);
        }
        for (text, want) in [
            ("off", "off"),
            ("false", "false"),
            ("best-effort", "best-effort"),
        ] {
            let c = read(&format!(
                "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: {text}\n"
            ));
            assert_eq!(
                c.update()
                    .unwrap()
                    .value
                    .reboot_strategy
                    .as_ref()
                    .unwrap()
                    .value,
                want
            );
        }
        let c = read(
            "#cloud-config\ncoreos:\n  units:\n    - name: a.service\n      drop_ins:\n        - name: x.conf\n          content: y\n",
        );
        assert_eq!(c.units().next().unwrap().value.drop_ins().count(), 1);
    }

    /// coreos-cloudinit's TestCloudConfigUsers: YAML 1.1 booleans.
    #[test]
    fn yaml_1_1_booleans() {
        let c = read(
            "#cloud-config\nusers:\n  - name: a\n    no_create_home: yes\n    system: y\n    no_log_init: True\n    no_user_group: off\n",
        );
        let u = &c.users().next().unwrap().value;
        assert!(u.no_create_home.as_ref().unwrap().value);
        assert!(u.system.as_ref().unwrap().value);
        assert!(u.no_log_init.as_ref().unwrap().value);
        assert!(!u.no_user_group.as_ref().unwrap().value);
        let quoted = read("#cloud-config\nusers:\n  - name: a\n    system: \"true\"\n");
        assert!(
            quoted.users().next().unwrap().value.system.is_none(),
            "a quoted true is a string"
        );
    }

    /// TestCloudConfigKeysNotList: wrong item types are dropped, not fatal.
    #[test]
    fn wrong_items_are_dropped() {
        let c = read("#cloud-config\nssh_authorized_keys:\n  - {foo: bar}\n  - ssh-ed25519 AAAA\n");
        let keys = c.ssh_authorized_keys.unwrap().value;
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].value, "ssh-ed25519 AAAA");
    }

    /// TestNewCloudConfigDecode's !!binary case: bytes kept as bytes.
    #[test]
    fn binary_content() {
        let c = read("#cloud-config\nwrite_files:\n  - path: /x\n    content: !!binary aGVsbG8K\n");
        let f = c.write_files().next().unwrap();
        let content = &f.value.content.as_ref().unwrap().value;
        assert_eq!(content.bytes, b"hello\n");
        assert!(content.binary);
    }
}
