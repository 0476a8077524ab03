//! Packet's `network` metadata to networkd units, as coreos-cloudinit's `network/packet.go`:
//! every NIC enslaved to `bond0` (802.3ad, fast LACP, 200 ms MII monitor and up/down
//! delays; `MACAddress` of the first NIC), `bond0` carrying every address with a route per
//! block (public IPv4 `0.0.0.0/0`, public IPv6 `::/0`, private `10.0.0.0/8`, each via its
//! gateway), name servers from the metadata or else 8.8.8.8 and 8.8.4.4. NIC number `i` is
//! written as `%02x(i)-NAME`, the bond as `00-bond0`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::Error;
use super::model::{Cidr, Interface, Kind, Method, NetworkUnit, Route, mask_prefix, parse_mac};
use crate::datasource::network::{Netblock, NetworkData};

/// Convert Packet's network data.
///
/// # Errors
/// Without interfaces, or with a block that has neither netmask nor cidr.
pub fn convert(data: &NetworkData) -> Result<Vec<NetworkUnit>, Error> {
    let Some(first) = data.interfaces.first() else {
        return Err(Error::NoInterfaces);
    };
    let nameservers = data.dns.clone().unwrap_or_else(|| {
        vec![
            IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
            IpAddr::V4(Ipv4Addr::new(8, 8, 4, 4)),
        ]
    });
    let (addresses, routes) = addresses_and_routes(&data.addresses)?;
    let mut all = BTreeMap::new();
    let mut order = Vec::new();
    for (i, nic) in data.interfaces.iter().enumerate() {
        if nic.name.is_empty() || nic.name == "bond0" {
            return Err(Error::NicName {
                index: i,
                name: nic.name.clone(),
            });
        }
        all.insert(nic.name.clone(), slave(&nic.name, i, &nameservers));
        order.push(nic.name.clone());
    }
    let bond = Interface {
        name: "bond0".into(),
        hwaddr: parse_mac(&first.mac).ok(),
        method: Method::Static {
            addresses,
            nameservers,
            domains: Vec::new(),
            routes,
            hwaddress: None,
        },
        kind: Kind::Bond {
            slaves: order.clone(),
            options: bond_options(),
        },
        children: Vec::new(),
        depth: 0,
    };
    all.insert("bond0".into(), bond);
    order.push("bond0".into());
    Ok(super::model::units(&all, &order))
}

/// Every block's address, and a route per block with a gateway (public IPv4 `0.0.0.0/0`,
/// public IPv6 `::/0`, private `10.0.0.0/8`).
fn addresses_and_routes(blocks: &[Netblock]) -> Result<(Vec<Cidr>, Vec<Route>), Error> {
    let mut addresses = Vec::new();
    let mut routes = Vec::new();
    for b in blocks {
        let prefix = match (b.netmask, b.cidr) {
            (Some(m), _) => mask_prefix(m).map_err(|source| Error::Netmask {
                address: b.address,
                source,
            })?,
            (None, Some(c)) => c,
            (None, None) => return Err(Error::NoPrefix(b.address)),
        };
        addresses.push(Cidr {
            ip: b.address,
            prefix,
        });
        let destination = match (b.public, b.address_family) {
            (false, _) => Cidr {
                ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)),
                prefix: 8,
            },
            (true, 4) => Cidr {
                ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                prefix: 0,
            },
            (true, _) => Cidr {
                ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                prefix: 0,
            },
        };
        if let Some(gateway) = b.gateway {
            routes.push(Route {
                destination,
                gateway,
            });
        }
    }
    Ok((addresses, routes))
}

/// The `[Bond]` options coreos-cloudinit writes for Packet.
fn bond_options() -> BTreeMap<String, String> {
    [
        ("Mode", "802.3ad"),
        ("LACPTransmitRate", "fast"),
        ("MIIMonitorSec", ".2"),
        ("UpDelaySec", ".2"),
        ("DownDelaySec", ".2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// NIC number `depth`, enslaved to `bond0`.
fn slave(name: &str, depth: usize, nameservers: &[IpAddr]) -> Interface {
    Interface {
        name: name.to_string(),
        hwaddr: None,
        method: Method::Static {
            addresses: Vec::new(),
            nameservers: nameservers.to_vec(),
            domains: Vec::new(),
            routes: Vec::new(),
            hwaddress: None,
        },
        kind: Kind::Physical,
        children: vec!["bond0".into()],
        depth,
    }
}
