//! The cluster-wide reboot lock: one trait, three backends (etcd v2 as locksmith, etcd v3 with
//! leases, a FleetLock client), and a FleetLock server on the etcd v3 semaphore.
