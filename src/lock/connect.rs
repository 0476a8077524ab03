//! Choosing the backend: [`connect`] builds the [`RebootLock`] a [`LockConfig`] names.

use super::api::{LockError, RebootLock};
use super::config::{Backend, LockConfig};
use super::etcd2::Etcd2Lock;
use super::etcd3::Etcd3Lock;
use super::fleetlock::FleetLockClient;

/// Build the backend `config` names. Nothing is contacted yet for etcd v2 and FleetLock; the
/// etcd v3 client connects here.
///
/// # Errors
/// When the TLS files cannot be read, an endpoint is not a URL, or etcd v3 is unreachable.
pub async fn connect(config: &LockConfig) -> Result<Box<dyn RebootLock>, LockError> {
    Ok(match config.backend {
        Backend::Etcd2 => Box::new(Etcd2Lock::new(config)?),
        Backend::Etcd3 => Box::new(Etcd3Lock::connect(config).await?),
        Backend::FleetLock => Box::new(FleetLockClient::new(config)?),
    })
}
