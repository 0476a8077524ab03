//! `--from-configdrive DIR` (coreos-cloudinit's `cloud-drive`): an OpenStack config drive
//! mounted at DIR. Available when DIR exists; user-data `openstack/latest/user_data`;
//! metadata `openstack/latest/meta_data.json` (`public_keys` map, `hostname`, and
//! `network_config.content_path`, a Debian `interfaces` file under `openstack/`). Missing
//! files read as empty; every file must be a regular file whose real path is on the drive (a
//! symbolic link that leads off it is refused).
//!
//! Difference: coreos-cloudinit ignores the drive's `ec2/` tree, so `$private_ipv4` is empty
//! on OpenStack (coreos/bugs#761). kindling reads `local-ipv4` and `public-ipv4` from
//! `ec2/latest/meta-data.json` when the drive has it.

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::{
    Availability, Datasource, FetchError, Fut, Identity, MAX_METADATA, MAX_USER_DATA, Metadata,
    NetworkConfig, parse_ip, read_bounded_within,
};

/// A mounted config drive.
#[derive(Debug, Clone)]
pub struct ConfigDrive {
    /// Its mount point.
    pub root: PathBuf,
}

fn json(root: &Path, path: &Path) -> Result<Option<Value>, FetchError> {
    let bytes = read_bounded_within(root, path, MAX_METADATA)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| FetchError::Malformed(format!("{}: not JSON: {e}", path.display())))
}

fn string_field<'a>(v: &'a Value, key: &str, path: &Path) -> Result<Option<&'a str>, FetchError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FetchError::Malformed(format!(
            "{}: {key} is not a string",
            path.display()
        ))),
    }
}

impl ConfigDrive {
    fn metadata(&self) -> Result<Metadata, FetchError> {
        let mut md = Metadata::default();
        let openstack = self.root.join("openstack");
        let path = openstack.join("latest/meta_data.json");
        if let Some(v) = json(&self.root, &path)? {
            if !v.is_object() {
                return Err(FetchError::Malformed(format!(
                    "{}: not a JSON object",
                    path.display()
                )));
            }
            md.hostname = string_field(&v, "hostname", &path)?
                .filter(|h| !h.is_empty())
                .map(str::to_string);
            match v.get("public_keys") {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => {
                    for (name, key) in map {
                        let key = key.as_str().ok_or_else(|| {
                            FetchError::Malformed(format!(
                                "{}: public_keys.{name} is not a string",
                                path.display()
                            ))
                        })?;
                        md.ssh_keys.push((name.clone(), key.to_string()));
                    }
                }
                Some(_) => {
                    return Err(FetchError::Malformed(format!(
                        "{}: public_keys is not an object",
                        path.display()
                    )));
                }
            }
            if let Some(nc) = v.get("network_config")
                && let Some(content) = string_field(nc, "content_path", &path)?
                && !content.is_empty()
            {
                let rel = Path::new(content.trim_start_matches('/'));
                if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                    return Err(FetchError::Malformed(format!(
                        "{}: network_config.content_path {content:?} leaves the drive",
                        path.display()
                    )));
                }
                md.network = Some(NetworkConfig::Debian(read_bounded_within(
                    &self.root,
                    &openstack.join(rel),
                    MAX_METADATA,
                )?));
            }
        }
        let ec2 = self.root.join("ec2/latest/meta-data.json");
        if let Some(v) = json(&self.root, &ec2)? {
            if let Some(ip) = string_field(&v, "local-ipv4", &ec2)? {
                md.private_ipv4 = parse_ip(ip, &format!("{} local-ipv4", ec2.display()))?;
            }
            if let Some(ip) = string_field(&v, "public-ipv4", &ec2)? {
                md.public_ipv4 = parse_ip(ip, &format!("{} public-ipv4", ec2.display()))?;
            }
        }
        Ok(md)
    }
}

impl Datasource for ConfigDrive {
    fn identity(&self) -> Identity {
        Identity::waiting("cloud-drive", self.root.display())
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(async move {
            Availability::if_present(self.root.is_dir(), || {
                Availability::NotYet(format!("{} is not there (yet)", self.root.display()))
            })
        })
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move {
            read_bounded_within(
                &self.root,
                &self.root.join("openstack/latest/user_data"),
                MAX_USER_DATA,
            )
        })
    }

    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(async move { self.metadata() })
    }
}
