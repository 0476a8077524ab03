//! The deprecated sections coreos-cloudinit still accepts and compiles: `coreos.etcd`,
//! `coreos.etcd2`, `coreos.fleet` and `coreos.flannel`. Each key becomes an environment
//! variable in a drop-in (or, for flannel, `/run/flannel/options.env`). Keys, types,
//! environment names and deprecation texts are those of coreos-cloudinit v1.14.0.

use super::keys::section;
use super::values;

section! {
    /// `coreos.etcd`: etcd (v0.4) settings.
    pub struct Etcd in "coreos.etcd" {
        /// `ETCD_ADDR` (Addr).
        @env("ETCD_ADDR")
        addr: String,
        /// `ETCD_ADVERTISE_CLIENT_URLS` (AdvertiseClientURLs).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_ADVERTISE_CLIENT_URLS")
        advertise_client_urls: String,
        /// `ETCD_BIND_ADDR` (BindAddr).
        @env("ETCD_BIND_ADDR")
        bind_addr: String,
        /// `ETCD_CA_FILE` (CAFile).
        @env("ETCD_CA_FILE")
        ca_file: String,
        /// `ETCD_CERT_FILE` (CertFile).
        @env("ETCD_CERT_FILE")
        cert_file: String,
        /// `ETCD_CLUSTER_ACTIVE_SIZE` (ClusterActiveSize).
        @env("ETCD_CLUSTER_ACTIVE_SIZE")
        cluster_active_size: i64,
        /// `ETCD_CLUSTER_REMOVE_DELAY` (ClusterRemoveDelay).
        @env("ETCD_CLUSTER_REMOVE_DELAY")
        cluster_remove_delay: f64,
        /// `ETCD_CLUSTER_SYNC_INTERVAL` (ClusterSyncInterval).
        @env("ETCD_CLUSTER_SYNC_INTERVAL")
        cluster_sync_interval: f64,
        /// `ETCD_CORS` (CorsOrigins).
        @env("ETCD_CORS")
        cors: String,
        /// `ETCD_DATA_DIR` (DataDir).
        @env("ETCD_DATA_DIR")
        data_dir: String,
        /// `ETCD_DISCOVERY` (Discovery).
        @env("ETCD_DISCOVERY")
        discovery: String,
        /// `ETCD_DISCOVERY_FALLBACK` (DiscoveryFallback).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_DISCOVERY_FALLBACK")
        discovery_fallback: String,
        /// `ETCD_DISCOVERY_SRV` (DiscoverySRV).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_DISCOVERY_SRV")
        discovery_srv: String,
        /// `ETCD_DISCOVERY_PROXY` (DiscoveryProxy).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_DISCOVERY_PROXY")
        discovery_proxy: String,
        /// `ETCD_ELECTION_TIMEOUT` (ElectionTimeout).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_ELECTION_TIMEOUT")
        election_timeout: i64,
        /// `ETCD_FORCE_NEW_CLUSTER` (ForceNewCluster).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_FORCE_NEW_CLUSTER")
        force_new_cluster: bool,
        /// `ETCD_GRAPHITE_HOST` (GraphiteHost).
        @env("ETCD_GRAPHITE_HOST")
        graphite_host: String,
        /// `ETCD_HEARTBEAT_INTERVAL` (HeartbeatInterval).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_HEARTBEAT_INTERVAL")
        heartbeat_interval: i64,
        /// `ETCD_HTTP_READ_TIMEOUT` (HTTPReadTimeout).
        @env("ETCD_HTTP_READ_TIMEOUT")
        http_read_timeout: f64,
        /// `ETCD_HTTP_WRITE_TIMEOUT` (HTTPWriteTimeout).
        @env("ETCD_HTTP_WRITE_TIMEOUT")
        http_write_timeout: f64,
        /// `ETCD_INITIAL_ADVERTISE_PEER_URLS` (InitialAdvertisePeerURLs).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_INITIAL_ADVERTISE_PEER_URLS")
        initial_advertise_peer_urls: String,
        /// `ETCD_INITIAL_CLUSTER` (InitialCluster).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_INITIAL_CLUSTER")
        initial_cluster: String,
        /// `ETCD_INITIAL_CLUSTER_STATE` (InitialClusterState).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_INITIAL_CLUSTER_STATE")
        initial_cluster_state: String,
        /// `ETCD_INITIAL_CLUSTER_TOKEN` (InitialClusterToken).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_INITIAL_CLUSTER_TOKEN")
        initial_cluster_token: String,
        /// `ETCD_KEY_FILE` (KeyFile).
        @env("ETCD_KEY_FILE")
        key_file: String,
        /// `ETCD_LISTEN_CLIENT_URLS` (ListenClientURLs).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_LISTEN_CLIENT_URLS")
        listen_client_urls: String,
        /// `ETCD_LISTEN_PEER_URLS` (ListenPeerURLs).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_LISTEN_PEER_URLS")
        listen_peer_urls: String,
        /// `ETCD_MAX_RESULT_BUFFER` (MaxResultBuffer).
        @env("ETCD_MAX_RESULT_BUFFER")
        max_result_buffer: i64,
        /// `ETCD_MAX_RETRY_ATTEMPTS` (MaxRetryAttempts).
        @env("ETCD_MAX_RETRY_ATTEMPTS")
        max_retry_attempts: i64,
        /// `ETCD_MAX_SNAPSHOTS` (MaxSnapshots).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_MAX_SNAPSHOTS")
        max_snapshots: i64,
        /// `ETCD_MAX_WALS` (MaxWALs).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_MAX_WALS")
        max_wals: i64,
        /// `ETCD_NAME` (Name).
        @env("ETCD_NAME")
        name: String,
        /// `ETCD_PEER_ADDR` (PeerAddr).
        @env("ETCD_PEER_ADDR")
        peer_addr: String,
        /// `ETCD_PEER_BIND_ADDR` (PeerBindAddr).
        @env("ETCD_PEER_BIND_ADDR")
        peer_bind_addr: String,
        /// `ETCD_PEER_CA_FILE` (PeerCAFile).
        @env("ETCD_PEER_CA_FILE")
        peer_ca_file: String,
        /// `ETCD_PEER_CERT_FILE` (PeerCertFile).
        @env("ETCD_PEER_CERT_FILE")
        peer_cert_file: String,
        /// `ETCD_PEER_ELECTION_TIMEOUT` (PeerElectionTimeout).
        @env("ETCD_PEER_ELECTION_TIMEOUT")
        peer_election_timeout: i64,
        /// `ETCD_PEER_HEARTBEAT_INTERVAL` (PeerHeartbeatInterval).
        @env("ETCD_PEER_HEARTBEAT_INTERVAL")
        peer_heartbeat_interval: i64,
        /// `ETCD_PEER_KEY_FILE` (PeerKeyFile).
        @env("ETCD_PEER_KEY_FILE")
        peer_key_file: String,
        /// `ETCD_PEERS` (Peers).
        @env("ETCD_PEERS")
        peers: String,
        /// `ETCD_PEERS_FILE` (PeersFile).
        @env("ETCD_PEERS_FILE")
        peers_file: String,
        /// `ETCD_PROXY` (Proxy).
        @deprecated("etcd2 options no longer work for etcd") @env("ETCD_PROXY")
        proxy: String,
        /// `ETCD_RETRY_INTERVAL` (RetryInterval).
        @env("ETCD_RETRY_INTERVAL")
        retry_interval: f64,
        /// `ETCD_SNAPSHOT` (Snapshot).
        @env("ETCD_SNAPSHOT")
        snapshot: bool,
        /// `ETCD_SNAPSHOTCOUNT` (SnapshotCount).
        @env("ETCD_SNAPSHOTCOUNT")
        snapshot_count: i64,
        /// `ETCD_TRACE` (StrTrace).
        @env("ETCD_TRACE")
        trace: String,
        /// `ETCD_VERBOSE` (Verbose).
        @env("ETCD_VERBOSE")
        verbose: bool,
        /// `ETCD_VERY_VERBOSE` (VeryVerbose).
        @env("ETCD_VERY_VERBOSE")
        very_verbose: bool,
        /// `ETCD_VERY_VERY_VERBOSE` (VeryVeryVerbose).
        @env("ETCD_VERY_VERY_VERBOSE")
        very_very_verbose: bool,
    }
}

section! {
    /// `coreos.etcd2`: etcd2 settings.
    pub struct Etcd2 in "coreos.etcd2" {
        /// `ETCD_ADVERTISE_CLIENT_URLS` (AdvertiseClientURLs).
        @env("ETCD_ADVERTISE_CLIENT_URLS")
        advertise_client_urls: String,
        /// `ETCD_CA_FILE` (CAFile).
        @deprecated("ca_file obsoleted by trusted_ca_file and client_cert_auth") @env("ETCD_CA_FILE")
        ca_file: String,
        /// `ETCD_CERT_FILE` (CertFile).
        @env("ETCD_CERT_FILE")
        cert_file: String,
        /// `ETCD_CLIENT_CERT_AUTH` (ClientCertAuth).
        @env("ETCD_CLIENT_CERT_AUTH")
        client_cert_auth: bool,
        /// `ETCD_CORS` (CorsOrigins).
        @env("ETCD_CORS")
        cors: String,
        /// `ETCD_DATA_DIR` (DataDir).
        @env("ETCD_DATA_DIR")
        data_dir: String,
        /// `ETCD_DEBUG` (Debug).
        @env("ETCD_DEBUG")
        debug: bool,
        /// `ETCD_DISCOVERY` (Discovery).
        @env("ETCD_DISCOVERY")
        discovery: String,
        /// `ETCD_DISCOVERY_FALLBACK` (DiscoveryFallback).
        @env("ETCD_DISCOVERY_FALLBACK")
        discovery_fallback: String,
        /// `ETCD_DISCOVERY_SRV` (DiscoverySRV).
        @env("ETCD_DISCOVERY_SRV")
        discovery_srv: String,
        /// `ETCD_DISCOVERY_PROXY` (DiscoveryProxy).
        @env("ETCD_DISCOVERY_PROXY")
        discovery_proxy: String,
        /// `ETCD_ELECTION_TIMEOUT` (ElectionTimeout).
        @env("ETCD_ELECTION_TIMEOUT")
        election_timeout: i64,
        /// `ETCD_ENABLE_PPROF` (EnablePprof).
        @env("ETCD_ENABLE_PPROF")
        enable_pprof: bool,
        /// `ETCD_FORCE_NEW_CLUSTER` (ForceNewCluster).
        @env("ETCD_FORCE_NEW_CLUSTER")
        force_new_cluster: bool,
        /// `ETCD_HEARTBEAT_INTERVAL` (HeartbeatInterval).
        @env("ETCD_HEARTBEAT_INTERVAL")
        heartbeat_interval: i64,
        /// `ETCD_INITIAL_ADVERTISE_PEER_URLS` (InitialAdvertisePeerURLs).
        @env("ETCD_INITIAL_ADVERTISE_PEER_URLS")
        initial_advertise_peer_urls: String,
        /// `ETCD_INITIAL_CLUSTER` (InitialCluster).
        @env("ETCD_INITIAL_CLUSTER")
        initial_cluster: String,
        /// `ETCD_INITIAL_CLUSTER_STATE` (InitialClusterState).
        @env("ETCD_INITIAL_CLUSTER_STATE")
        initial_cluster_state: String,
        /// `ETCD_INITIAL_CLUSTER_TOKEN` (InitialClusterToken).
        @env("ETCD_INITIAL_CLUSTER_TOKEN")
        initial_cluster_token: String,
        /// `ETCD_KEY_FILE` (KeyFile).
        @env("ETCD_KEY_FILE")
        key_file: String,
        /// `ETCD_LISTEN_CLIENT_URLS` (ListenClientURLs).
        @env("ETCD_LISTEN_CLIENT_URLS")
        listen_client_urls: String,
        /// `ETCD_LISTEN_PEER_URLS` (ListenPeerURLs).
        @env("ETCD_LISTEN_PEER_URLS")
        listen_peer_urls: String,
        /// `ETCD_LOG_PACKAGE_LEVELS` (LogPackageLevels).
        @env("ETCD_LOG_PACKAGE_LEVELS")
        log_package_levels: String,
        /// `ETCD_MAX_SNAPSHOTS` (MaxSnapshots).
        @env("ETCD_MAX_SNAPSHOTS")
        max_snapshots: i64,
        /// `ETCD_MAX_WALS` (MaxWALs).
        @env("ETCD_MAX_WALS")
        max_wals: i64,
        /// `ETCD_NAME` (Name).
        @env("ETCD_NAME")
        name: String,
        /// `ETCD_PEER_CA_FILE` (PeerCAFile).
        @deprecated("peer_ca_file obsoleted peer_trusted_ca_file and peer_client_cert_auth") @env("ETCD_PEER_CA_FILE")
        peer_ca_file: String,
        /// `ETCD_PEER_CERT_FILE` (PeerCertFile).
        @env("ETCD_PEER_CERT_FILE")
        peer_cert_file: String,
        /// `ETCD_PEER_KEY_FILE` (PeerKeyFile).
        @env("ETCD_PEER_KEY_FILE")
        peer_key_file: String,
        /// `ETCD_PEER_CLIENT_CERT_AUTH` (PeerClientCertAuth).
        @env("ETCD_PEER_CLIENT_CERT_AUTH")
        peer_client_cert_auth: bool,
        /// `ETCD_PEER_TRUSTED_CA_FILE` (PeerTrustedCAFile).
        @env("ETCD_PEER_TRUSTED_CA_FILE")
        peer_trusted_ca_file: String,
        /// `ETCD_PROXY` (Proxy).
        @valid(values::ETCD2_PROXY) @env("ETCD_PROXY")
        proxy: String,
        /// `ETCD_PROXY_DIAL_TIMEOUT` (ProxyDialTimeout).
        @env("ETCD_PROXY_DIAL_TIMEOUT")
        proxy_dial_timeout: i64,
        /// `ETCD_PROXY_FAILURE_WAIT` (ProxyFailureWait).
        @env("ETCD_PROXY_FAILURE_WAIT")
        proxy_failure_wait: i64,
        /// `ETCD_PROXY_READ_TIMEOUT` (ProxyReadTimeout).
        @env("ETCD_PROXY_READ_TIMEOUT")
        proxy_read_timeout: i64,
        /// `ETCD_PROXY_REFRESH_INTERVAL` (ProxyRefreshInterval).
        @env("ETCD_PROXY_REFRESH_INTERVAL")
        proxy_refresh_interval: i64,
        /// `ETCD_PROXY_WRITE_TIMEOUT` (ProxyWriteTimeout).
        @env("ETCD_PROXY_WRITE_TIMEOUT")
        proxy_write_timeout: i64,
        /// `ETCD_SNAPSHOT_COUNT` (SnapshotCount).
        @env("ETCD_SNAPSHOT_COUNT")
        snapshot_count: i64,
        /// `ETCD_STRICT_RECONFIG_CHECK` (StrictReconfigCheck).
        @env("ETCD_STRICT_RECONFIG_CHECK")
        strict_reconfig_check: bool,
        /// `ETCD_TRUSTED_CA_FILE` (TrustedCAFile).
        @env("ETCD_TRUSTED_CA_FILE")
        trusted_ca_file: String,
        /// `ETCD_WAL_DIR` (WalDir).
        @env("ETCD_WAL_DIR")
        wal_dir: String,
    }
}

section! {
    /// `coreos.fleet`: fleet settings.
    pub struct Fleet in "coreos.fleet" {
        /// `FLEET_AGENT_TTL` (AgentTTL).
        @env("FLEET_AGENT_TTL")
        agent_ttl: String,
        /// `FLEET_AUTHORIZED_KEYS_FILE` (AuthorizedKeysFile).
        @env("FLEET_AUTHORIZED_KEYS_FILE")
        authorized_keys_file: String,
        /// `FLEET_DISABLE_ENGINE` (DisableEngine).
        @env("FLEET_DISABLE_ENGINE")
        disable_engine: bool,
        /// `FLEET_ENGINE_RECONCILE_INTERVAL` (EngineReconcileInterval).
        @env("FLEET_ENGINE_RECONCILE_INTERVAL")
        engine_reconcile_interval: f64,
        /// `FLEET_ETCD_CAFILE` (EtcdCAFile).
        @env("FLEET_ETCD_CAFILE")
        etcd_cafile: String,
        /// `FLEET_ETCD_CERTFILE` (EtcdCertFile).
        @env("FLEET_ETCD_CERTFILE")
        etcd_certfile: String,
        /// `FLEET_ETCD_KEYFILE` (EtcdKeyFile).
        @env("FLEET_ETCD_KEYFILE")
        etcd_keyfile: String,
        /// `FLEET_ETCD_KEY_PREFIX` (EtcdKeyPrefix).
        @env("FLEET_ETCD_KEY_PREFIX")
        etcd_key_prefix: String,
        /// `FLEET_ETCD_REQUEST_TIMEOUT` (EtcdRequestTimeout).
        @env("FLEET_ETCD_REQUEST_TIMEOUT")
        etcd_request_timeout: f64,
        /// `FLEET_ETCD_SERVERS` (EtcdServers).
        @env("FLEET_ETCD_SERVERS")
        etcd_servers: String,
        /// `FLEET_ETCD_USERNAME` (EtcdUsername).
        @env("FLEET_ETCD_USERNAME")
        etcd_username: String,
        /// `FLEET_ETCD_PASSWORD` (EtcdPassword).
        @env("FLEET_ETCD_PASSWORD")
        etcd_password: String,
        /// `FLEET_METADATA` (Metadata).
        @env("FLEET_METADATA")
        metadata: String,
        /// `FLEET_PUBLIC_IP` (PublicIP).
        @env("FLEET_PUBLIC_IP")
        public_ip: String,
        /// `FLEET_TOKEN_LIMIT` (TokenLimit).
        @env("FLEET_TOKEN_LIMIT")
        token_limit: i64,
        /// `FLEET_VERBOSITY` (Verbosity).
        @env("FLEET_VERBOSITY")
        verbosity: i64,
        /// `FLEET_VERIFY_UNITS` (VerifyUnits).
        @env("FLEET_VERIFY_UNITS")
        verify_units: bool,
    }
}

section! {
    /// `coreos.flannel`: flannel settings.
    pub struct Flannel in "coreos.flannel" {
        /// `FLANNELD_ETCD_ENDPOINTS` (EtcdEndpoints).
        @env("FLANNELD_ETCD_ENDPOINTS")
        etcd_endpoints: String,
        /// `FLANNELD_ETCD_CAFILE` (EtcdCAFile).
        @env("FLANNELD_ETCD_CAFILE")
        etcd_cafile: String,
        /// `FLANNELD_ETCD_CERTFILE` (EtcdCertFile).
        @env("FLANNELD_ETCD_CERTFILE")
        etcd_certfile: String,
        /// `FLANNELD_ETCD_KEYFILE` (EtcdKeyFile).
        @env("FLANNELD_ETCD_KEYFILE")
        etcd_keyfile: String,
        /// `FLANNELD_ETCD_PREFIX` (EtcdPrefix).
        @env("FLANNELD_ETCD_PREFIX")
        etcd_prefix: String,
        /// `FLANNELD_ETCD_USERNAME` (EtcdUsername).
        @env("FLANNELD_ETCD_USERNAME")
        etcd_username: String,
        /// `FLANNELD_ETCD_PASSWORD` (EtcdPassword).
        @env("FLANNELD_ETCD_PASSWORD")
        etcd_password: String,
        /// `FLANNELD_IP_MASQ` (IPMasq).
        @env("FLANNELD_IP_MASQ")
        ip_masq: String,
        /// `FLANNELD_SUBNET_FILE` (SubnetFile).
        @env("FLANNELD_SUBNET_FILE")
        subnet_file: String,
        /// `FLANNELD_IFACE` (Iface).
        @env("FLANNELD_IFACE")
        interface: String,
        /// `FLANNELD_PUBLIC_IP` (PublicIP).
        @env("FLANNELD_PUBLIC_IP")
        public_ip: String,
    }
}
