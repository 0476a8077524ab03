//! VMware guestinfo network keys to networkd units, as coreos-cloudinit's
//! `network/vmware.go`: `dns.server.N` and `dns.domain.N` for every interface;
//! `interface.N.{name,mac,dhcp,ip.M.address,route.L.gateway,route.L.destination}` with N, M,
//! L counted from 0 until the first gap. An interface with addresses or routes is static, one
//! with `dhcp=yes` uses DHCP, and the first index with neither ends the list. Every unit is
//! `00-NAME` (no bonds or VLANs here).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::error::Error;
use super::model::{Interface, Kind, Method, NetworkUnit, Route, network, parse_cidr, parse_mac};

/// Guestinfo keys, without the `guestinfo.` prefix.
type Keys = BTreeMap<String, String>;

/// Convert guestinfo keys (without the `guestinfo.` prefix).
///
/// # Errors
/// On an invalid name server, address, route, MAC or `dhcp` value.
pub fn convert(config: &Keys) -> Result<Vec<NetworkUnit>, Error> {
    let mut nameservers = Vec::new();
    for (key, s) in listed(config, "dns.server") {
        nameservers.push(s.parse().map_err(|_| Error::Nameserver {
            key,
            value: s.clone(),
        })?);
    }
    let domains: Vec<String> = listed(config, "dns.domain")
        .map(|(_, d)| d.clone())
        .collect();
    let mut all = BTreeMap::new();
    let mut order = Vec::new();
    for i in 0.. {
        let Some(interface) = interface(config, i, &nameservers, &domains)? else {
            break;
        };
        let id = if interface.name.is_empty() {
            format!("#{i}")
        } else {
            interface.name.clone()
        };
        all.insert(id.clone(), interface);
        order.push(id);
    }
    Ok(super::model::units(&all, &order))
}

/// The values of `PREFIX.0`, `PREFIX.1`, ... until the first gap, with their keys.
fn listed<'c>(config: &'c Keys, prefix: &str) -> impl Iterator<Item = (String, &'c String)> {
    (0..)
        .map(move |i| format!("{prefix}.{i}"))
        .map_while(move |key| config.get(&key).map(|v| (key, v)))
}

/// Interface `i`, or `None` when it has neither addresses, routes nor DHCP (the list ends).
fn interface(
    config: &Keys,
    i: usize,
    nameservers: &[IpAddr],
    domains: &[String],
) -> Result<Option<Interface>, Error> {
    let key = |k: &str| format!("interface.{i}.{k}");
    let get = |k: &str| config.get(&key(k)).cloned();
    let dhcp = match get("dhcp").as_deref() {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => {
            return Err(Error::Dhcp {
                key: key("dhcp"),
                value: other.to_string(),
            });
        }
    };
    let mut addresses = Vec::new();
    for a in 0.. {
        let k = key(&format!("ip.{a}.address"));
        let Some(text) = config.get(&k) else {
            break;
        };
        addresses
            .push(parse_cidr(text).map_err(|source| Error::InterfaceAddress { key: k, source })?);
    }
    let routes = routes(config, &key("route"))?;
    let hwaddr = match get("mac") {
        Some(m) => Some(parse_mac(&m).map_err(|source| Error::Value {
            key: key("mac"),
            source,
        })?),
        None => None,
    };
    let name = get("name").unwrap_or_default();
    let method = if !addresses.is_empty() || !routes.is_empty() {
        Method::Static {
            addresses,
            nameservers: nameservers.to_vec(),
            domains: domains.to_vec(),
            routes,
            hwaddress: hwaddr.clone(),
        }
    } else if dhcp {
        Method::Dhcp {
            hwaddress: hwaddr.clone(),
        }
    } else {
        return Ok(None);
    };
    if name.is_empty() && hwaddr.is_none() {
        return Err(Error::Unmatched(i));
    }
    Ok(Some(Interface {
        name,
        hwaddr,
        method,
        kind: Kind::Physical,
        children: Vec::new(),
        depth: 0,
    }))
}

/// The routes `PREFIX.L.{gateway,destination}` until the first index with neither.
fn routes(config: &Keys, prefix: &str) -> Result<Vec<Route>, Error> {
    let mut routes = Vec::new();
    for r in 0.. {
        let route = format!("{prefix}.{r}");
        let g = config.get(&format!("{route}.gateway"));
        let d = config.get(&format!("{route}.destination"));
        let (g, d) = match (g, d) {
            (None, None) => break,
            (Some(_), None) => return Err(Error::MissingDestination(route)),
            (None, Some(_)) => return Err(Error::MissingGateway(route)),
            (Some(g), Some(d)) => (g, d),
        };
        routes.push(Route {
            gateway: g.parse().map_err(|_| Error::Gateway {
                key: format!("{route}.gateway"),
                value: g.clone(),
            })?,
            destination: network(parse_cidr(d).map_err(|source| Error::Value {
                key: format!("{route}.destination"),
                source,
            })?),
        });
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_dhcp() {
        let map: BTreeMap<String, String> = [
            ("dns.server.0", "192.0.2.53"),
            ("dns.domain.0", "example.com"),
            ("interface.0.name", "ens192"),
            ("interface.0.ip.0.address", "10.20.0.5/24"),
            ("interface.0.route.0.gateway", "10.20.0.1"),
            ("interface.0.route.0.destination", "0.0.0.0/0"),
            ("interface.1.mac", "00:50:56:AA:BB:CC"),
            ("interface.1.dhcp", "yes"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let units = convert(&map).unwrap();
        assert_eq!(units[0].name, "00-ens192.network");
        assert_eq!(
            units[0].content,
            "[Match]\nName=ens192\n\n[Network]\nDomains=example.com\nDNS=192.0.2.53\n\n[Address]\nAddress=10.20.0.5/24\n\n[Route]\nDestination=0.0.0.0/0\nGateway=10.20.0.1\n"
        );
        assert_eq!(units[1].name, "00-00:50:56:aa:bb:cc.network");
        assert_eq!(
            units[1].content,
            "[Match]\nMACAddress=00:50:56:aa:bb:cc\n\n[Network]\nDHCP=true\n"
        );
        let mut bad = map.clone();
        bad.insert("interface.0.dhcp".into(), "maybe".into());
        assert!(
            convert(&bad)
                .unwrap_err()
                .to_string()
                .contains("invalid DHCP option")
        );
    }
}
