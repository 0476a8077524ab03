//! VMware guestinfo network keys to networkd units, as coreos-cloudinit's
//! `network/vmware.go`: `dns.server.N` and `dns.domain.N` for every interface;
//! `interface.N.{name,mac,dhcp,ip.M.address,route.L.gateway,route.L.destination}` with N, M,
//! L counted from 0 until the first gap. An interface with addresses or routes is static, one
//! with `dhcp=yes` uses DHCP, and the first index with neither ends the list. Every unit is
//! `00-NAME` (no bonds or VLANs here).

use std::collections::BTreeMap;

use super::model::{Interface, Kind, Method, NetworkUnit, Route, network, parse_cidr, parse_mac};

/// Convert guestinfo keys (without the `guestinfo.` prefix).
///
/// # Errors
/// On an invalid name server, address, route, MAC or `dhcp` value.
pub fn convert(config: &BTreeMap<String, String>) -> Result<Vec<NetworkUnit>, String> {
    let get = |k: String| config.get(&k).cloned();
    let mut nameservers = Vec::new();
    for i in 0.. {
        let Some(s) = get(format!("dns.server.{i}")) else {
            break;
        };
        nameservers.push(
            s.parse()
                .map_err(|_| format!("guestinfo dns.server.{i}: invalid nameserver {s:?}"))?,
        );
    }
    let mut domains = Vec::new();
    for i in 0.. {
        let Some(d) = get(format!("dns.domain.{i}")) else {
            break;
        };
        domains.push(d);
    }
    let mut all = BTreeMap::new();
    let mut order = Vec::new();
    for i in 0.. {
        let key = |k: &str| format!("interface.{i}.{k}");
        let dhcp = match get(key("dhcp")).as_deref() {
            None | Some("no") => false,
            Some("yes") => true,
            Some(other) => {
                return Err(format!(
                    "guestinfo {}: invalid DHCP option {other:?} (yes or no)",
                    key("dhcp")
                ));
            }
        };
        let mut addresses = Vec::new();
        for a in 0.. {
            let Some(text) = get(key(&format!("ip.{a}.address"))) else {
                break;
            };
            addresses.push(parse_cidr(&text).map_err(|e| {
                format!(
                    "guestinfo {}: invalid address: {e}",
                    key(&format!("ip.{a}.address"))
                )
            })?);
        }
        let mut routes = Vec::new();
        for r in 0.. {
            let g = get(key(&format!("route.{r}.gateway")));
            let d = get(key(&format!("route.{r}.destination")));
            let (g, d) = match (g, d) {
                (None, None) => break,
                (Some(_), None) => {
                    return Err(format!(
                        "guestinfo {}: missing destination key",
                        key(&format!("route.{r}"))
                    ));
                }
                (None, Some(_)) => {
                    return Err(format!(
                        "guestinfo {}: missing gateway key",
                        key(&format!("route.{r}"))
                    ));
                }
                (Some(g), Some(d)) => (g, d),
            };
            routes.push(Route {
                gateway: g.parse().map_err(|_| {
                    format!(
                        "guestinfo {}: invalid gateway {g:?}",
                        key(&format!("route.{r}.gateway"))
                    )
                })?,
                destination: network(parse_cidr(&d).map_err(|e| {
                    format!("guestinfo {}: {e}", key(&format!("route.{r}.destination")))
                })?),
            });
        }
        let hwaddr = match get(key("mac")) {
            Some(m) => Some(parse_mac(&m).map_err(|e| format!("guestinfo {}: {e}", key("mac")))?),
            None => None,
        };
        let name = get(key("name")).unwrap_or_default();
        let method = if !addresses.is_empty() || !routes.is_empty() {
            Method::Static {
                addresses,
                nameservers: nameservers.clone(),
                domains: domains.clone(),
                routes,
                hwaddress: hwaddr.clone(),
            }
        } else if dhcp {
            Method::Dhcp {
                hwaddress: hwaddr.clone(),
            }
        } else {
            break;
        };
        if name.is_empty() && hwaddr.is_none() {
            return Err(format!(
                "guestinfo interface.{i} has neither name nor mac; its unit would match every link"
            ));
        }
        let id = if name.is_empty() {
            format!("#{i}")
        } else {
            name.clone()
        };
        all.insert(
            id.clone(),
            Interface {
                name,
                hwaddr,
                method,
                kind: Kind::Physical,
                children: Vec::new(),
                depth: 0,
            },
        );
        order.push(id);
    }
    Ok(super::model::units(&all, &order))
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
        assert!(convert(&bad).unwrap_err().contains("invalid DHCP option"));
    }
}
