//! A Debian `interfaces` file (a config drive's `network_config`) to networkd units, as
//! coreos-cloudinit's `network/debian.go` and `stanza.go` read it: `\`-continued lines
//! joined, comments and blank lines dropped; `auto` and `iface NAME FAMILY METHOD` stanzas
//! with methods `static` (`address` + `netmask` required, `gateway` as a default route,
//! `dns-nameservers`, `hwaddress ether`, `post-up route add [-net] DEST [netmask M] gw GW`),
//! `dhcp`, `manual`, `loopback` (skipped); `bond-slaves` makes a bond (`bond-mode`,
//! `bond-miimon`, `bond-lacp-rate`), `vlan_raw_device` or a name `x.N`/`vlanN` a VLAN.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::error::Error;
use super::model::{
    Cidr, Interface, Kind, Method, NetworkUnit, Route, mask_prefix, parse_cidr, parse_mac,
};

struct Stanza {
    name: String,
    method: Option<Method>,
    kind: Kind,
}

fn lines(text: &str) -> Vec<String> {
    text.replace("\\\n", "")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn is_start(line: &str) -> bool {
    matches!(
        line.split(' ').next().unwrap_or(""),
        "auto" | "iface" | "mapping"
    ) || line.starts_with("allow-")
}

fn ip(text: &str, what: &'static str, iface: &str) -> Result<IpAddr, Error> {
    text.parse().map_err(|_| Error::Address {
        iface: iface.to_string(),
        what,
        text: text.to_string(),
    })
}

fn hwaddress(
    options: &BTreeMap<String, Vec<String>>,
    iface: &str,
) -> Result<Option<String>, Error> {
    match options.get("hwaddress").map(Vec::as_slice) {
        Some([kind, mac]) if kind == "ether" => parse_mac(mac)
            .map(Some)
            .map_err(|_| Error::Hwaddress(iface.to_string())),
        _ => Ok(None),
    }
}

fn post_up_route(line: &str, iface: &str) -> Result<Option<Route>, Error> {
    if !line.starts_with("route add") {
        return Ok(None);
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (mut dest_ip, mut prefix, mut gw) = (None, None, None);
    for (i, f) in fields
        .iter()
        .enumerate()
        .take(fields.len().saturating_sub(1))
    {
        let next = fields[i + 1];
        match *f {
            "-net" => {
                if let Ok(c) = parse_cidr(next) {
                    let n = super::model::network(c);
                    dest_ip = Some(n.ip);
                    prefix = Some(n.prefix);
                } else {
                    dest_ip = next.parse::<IpAddr>().ok();
                }
            }
            "netmask" => {
                prefix = next
                    .parse::<IpAddr>()
                    .ok()
                    .and_then(|m| mask_prefix(m).ok())
            }
            "gw" => gw = Some(ip(next, "route gateway", iface)?),
            _ => {}
        }
    }
    Ok(match (dest_ip, prefix, gw) {
        (Some(ip), Some(prefix), Some(gateway)) => Some(Route {
            destination: Cidr { ip, prefix },
            gateway,
        }),
        _ => None,
    })
}

/// An `iface` stanza's options: `post-up`/`pre-down` lines collected, every other option
/// as its words (a later one replaces an earlier one).
type Options = BTreeMap<String, Vec<String>>;

fn parse_iface(attrs: &[&str], body: &[String]) -> Result<Stanza, Error> {
    let [name, _family, method] = attrs else {
        return Err(Error::IfaceAttributes(attrs.join(" ")));
    };
    let options = options(body);
    let method = match *method {
        "static" => static_method(name, &options)?,
        "dhcp" => Method::Dhcp {
            hwaddress: hwaddress(&options, name)?,
        },
        "manual" => Method::Manual,
        "loopback" => {
            return Ok(Stanza {
                name: (*name).to_string(),
                method: None,
                kind: Kind::Physical,
            });
        }
        other => {
            return Err(Error::Method {
                iface: (*name).to_string(),
                method: other.to_string(),
            });
        }
    };
    Ok(Stanza {
        name: (*name).to_string(),
        method: Some(method),
        kind: kind(name, &options)?,
    })
}

fn options(body: &[String]) -> Options {
    let mut options = Options::new();
    for line in body {
        if let Some(rest) = line
            .strip_prefix("post-up ")
            .or_else(|| line.strip_prefix("pre-down "))
        {
            let key = if line.starts_with("post-up") {
                "post-up"
            } else {
                "pre-down"
            };
            options
                .entry(key.into())
                .or_default()
                .push(rest.to_string());
        } else {
            let mut t = line.split_whitespace();
            let key = t.next().unwrap_or("").to_string();
            options.insert(key, t.map(str::to_string).collect());
        }
    }
    options
}

/// The option's value when it has exactly one.
fn one(options: &Options, key: &str) -> Option<String> {
    match options.get(key).map(Vec::as_slice) {
        Some([v]) => Some(v.clone()),
        _ => None,
    }
}

/// `static`: `address` and an IPv4 `netmask`, the gateway as a default route, name servers,
/// `post-up` routes and `hwaddress`.
fn static_method(name: &str, options: &Options) -> Result<Method, Error> {
    let address = one(options, "address").and_then(|a| a.parse::<IpAddr>().ok());
    let prefix = one(options, "netmask")
        .and_then(|m| m.parse::<Ipv4Addr>().ok())
        .and_then(|m| mask_prefix(IpAddr::V4(m)).ok());
    let (Some(address), Some(prefix)) = (address, prefix) else {
        return Err(Error::StaticIncomplete(name.to_string()));
    };
    let mut routes = Vec::new();
    if let Some(gw) = one(options, "gateway") {
        routes.push(Route {
            destination: Cidr {
                ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                prefix: 0,
            },
            gateway: ip(&gw, "gateway", name)?,
        });
    }
    let mut nameservers = Vec::new();
    for n in options.get("dns-nameservers").into_iter().flatten() {
        nameservers.push(ip(n, "dns-nameservers", name)?);
    }
    for p in options.get("post-up").into_iter().flatten() {
        if let Some(r) = post_up_route(p, name)? {
            routes.push(r);
        }
    }
    Ok(Method::Static {
        addresses: vec![Cidr {
            ip: address,
            prefix,
        }],
        nameservers,
        domains: Vec::new(),
        routes,
        hwaddress: hwaddress(options, name)?,
    })
}

/// A VLAN (`vlan_raw_device`, or a name `x.N`/`vlanN`), a bond (`bond-slaves`) or a NIC.
fn kind(name: &str, options: &Options) -> Result<Kind, Error> {
    if options.contains_key("vlan_raw_device") || name.contains('.') {
        let id = if let Some((_, id)) = name.rsplit_once('.') {
            id
        } else if let Some(id) = name.strip_prefix("vlan") {
            id
        } else {
            return Err(Error::VlanName(name.to_string()));
        };
        let id: u32 = id.parse().map_err(|_| Error::VlanName(name.to_string()))?;
        let raw_device = one(options, "vlan_raw_device");
        return Ok(Kind::Vlan { id, raw_device });
    }
    if !options.contains_key("bond-slaves") {
        return Ok(Kind::Physical);
    }
    let mut opts = BTreeMap::new();
    for (debian, networkd) in [
        ("bond-mode", "Mode"),
        ("bond-miimon", "MIIMonitorSec"),
        ("bond-lacp-rate", "LACPTransmitRate"),
    ] {
        if let Some(v) = options.get(debian).and_then(|v| v.first()) {
            opts.insert(networkd.to_string(), bond_value(networkd, v));
        }
    }
    Ok(Kind::Bond {
        slaves: options.get("bond-slaves").cloned().unwrap_or_default(),
        options: opts,
    })
}

/// A Debian bond option's value in networkd's terms.
fn bond_value(key: &str, v: &str) -> String {
    match (key, v) {
        ("Mode", "0") => "balance-rr".into(),
        ("Mode", "1") => "active-backup".into(),
        ("Mode", "2") => "balance-xor".into(),
        ("Mode", "3") => "broadcast".into(),
        ("Mode", "4") => "802.3ad".into(),
        ("Mode", "5") => "balance-tlb".into(),
        ("Mode", "6") => "balance-alb".into(),
        ("MIIMonitorSec", ms) if ms.chars().all(|c| c.is_ascii_digit()) => format!("{ms}ms"),
        ("LACPTransmitRate", "0") => "slow".into(),
        ("LACPTransmitRate", "1") => "fast".into(),
        _ => v.to_string(),
    }
}

fn manual(name: &str) -> Interface {
    Interface {
        name: name.to_string(),
        hwaddr: None,
        method: Method::Manual,
        kind: Kind::Physical,
        children: Vec::new(),
        depth: 0,
    }
}

/// The longest chain of children below `name`; a loop of interfaces is cut where it
/// closes. Each interface's depth is computed once (found by fuzzing: walking every path
/// of a looping bond with repeated slaves took exponential time, 13 s for 300 bytes).
fn depth(all: &BTreeMap<String, Interface>, name: &str) -> usize {
    fn walk(
        all: &BTreeMap<String, Interface>,
        name: &str,
        memo: &mut BTreeMap<String, usize>,
        open: &mut std::collections::BTreeSet<String>,
    ) -> usize {
        if let Some(d) = memo.get(name) {
            return *d;
        }
        let Some(i) = all.get(name) else {
            return 0;
        };
        if !open.insert(name.to_string()) {
            return 0; // a loop of interfaces; the depth stops growing
        }
        let d = i
            .children
            .iter()
            .map(|c| walk(all, c, memo, open) + 1)
            .max()
            .unwrap_or(0);
        open.remove(name);
        memo.insert(name.to_string(), d);
        d
    }
    walk(
        all,
        name,
        &mut BTreeMap::new(),
        &mut std::collections::BTreeSet::new(),
    )
}

/// Convert the text of an `interfaces` file.
///
/// # Errors
/// On a malformed stanza or value.
pub fn convert(text: &str) -> Result<Vec<NetworkUnit>, Error> {
    let mut raw: Vec<Vec<String>> = Vec::new();
    for line in lines(text) {
        if is_start(&line) {
            raw.push(vec![line]);
        } else if let Some(cur) = raw.last_mut() {
            cur.push(line);
        } else {
            return Err(Error::NoStanzaStart(line));
        }
    }
    let mut stanzas = Vec::new();
    for r in &raw {
        let tokens: Vec<&str> = r[0].split_whitespace().collect();
        if tokens.len() < 2 {
            return Err(Error::StanzaStart(r[0].clone()));
        }
        // `auto`/`allow-*` only mark interfaces to bring up; networkd brings up every
        // interface it has a unit for. `mapping` runs scripts, which networkd cannot.
        if tokens[0] == "iface" {
            stanzas.push(parse_iface(&tokens[1..], &r[1..])?);
        }
    }
    let mut all: BTreeMap<String, Interface> = BTreeMap::new();
    for s in stanzas {
        let Some(method) = s.method else { continue };
        match &s.kind {
            Kind::Bond { slaves, .. } => {
                for slave in slaves {
                    all.entry(slave.clone()).or_insert_with(|| manual(slave));
                }
            }
            Kind::Vlan {
                raw_device: Some(d),
                ..
            } => {
                all.entry(d.clone()).or_insert_with(|| manual(d));
            }
            _ => {}
        }
        all.insert(
            s.name.clone(),
            Interface {
                name: s.name,
                hwaddr: None,
                method,
                kind: s.kind,
                children: Vec::new(),
                depth: 0,
            },
        );
    }
    // Link each bond and VLAN to the interfaces it sits on.
    let names: Vec<String> = all.keys().cloned().collect();
    for name in &names {
        let parents: Vec<String> = match &all[name].kind {
            Kind::Vlan {
                raw_device: Some(d),
                ..
            } => vec![d.clone()],
            Kind::Bond { slaves, .. } => slaves.clone(),
            _ => Vec::new(),
        };
        for p in parents {
            if let Some(parent) = all.get_mut(&p)
                && matches!(parent.kind, Kind::Physical | Kind::Bond { .. })
            {
                parent.children.push(name.clone());
            }
        }
    }
    let depths: Vec<(String, usize)> = names.iter().map(|n| (n.clone(), depth(&all, n))).collect();
    for (n, d) in depths {
        if let Some(i) = all.get_mut(&n) {
            i.depth = d;
        }
    }
    Ok(super::model::units(&all, &names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(units: &[NetworkUnit]) -> String {
        units
            .iter()
            .map(|u| format!("== {}\n{}", u.name, u.content))
            .collect()
    }

    #[test]
    fn static_dhcp_bond_vlan() {
        let text = "auto lo\niface lo inet loopback\n\n# public\nauto eth0\niface eth0 inet static\n  address 203.0.113.5\n  netmask 255.255.255.0\n  gateway 203.0.113.1\n  dns-nameservers 8.8.8.8 \\\n 8.8.4.4\n  post-up route add -net 10.0.0.0 netmask 255.0.0.0 gw 10.1.0.1\niface eth1 inet dhcp\niface bond0 inet manual\n  bond-slaves eth2 eth3\n  bond-mode 4\n  bond-miimon 100\niface vlan5 inet dhcp\n  vlan_raw_device bond0\n";
        let out = render(&convert(text).unwrap());
        for unit in [
            "== 01-bond0.netdev\n[NetDev]\nKind=bond\nName=bond0\n\n[Bond]\nMIIMonitorSec=100ms\nMode=802.3ad\n",
            "== 01-bond0.network\n[Match]\nName=bond0\n\n[Network]\nVLAN=vlan5\n",
            "== 02-eth2.network\n[Match]\nName=eth2\n\n[Network]\nBond=bond0\n",
            "== 00-eth0.network\n[Match]\nName=eth0\n\n[Network]\nDNS=8.8.8.8\nDNS=8.8.4.4\n\n[Address]\nAddress=203.0.113.5/24\n\n[Route]\nDestination=0.0.0.0/0\nGateway=203.0.113.1\n\n[Route]\nDestination=10.0.0.0/8\nGateway=10.1.0.1\n",
            "== 00-eth1.network\n[Match]\nName=eth1\n\n[Network]\nDHCP=true\n",
            "== 00-vlan5.netdev\n[NetDev]\nKind=vlan\nName=vlan5\n\n[VLAN]\nId=5\n",
        ] {
            assert!(out.contains(unit), "{out}");
        }
        assert!(!out.contains("lo."), "{out}");
    }

    #[test]
    fn errors_are_clear() {
        assert!(
            convert("address 1.2.3.4\n")
                .unwrap_err()
                .to_string()
                .contains("missing stanza start")
        );
        assert!(
            convert("iface eth0 inet static\n address 1.2.3.4\n")
                .unwrap_err()
                .to_string()
                .contains("malformed static")
        );
        assert!(
            convert(
                "iface eth0 inet static\n address 1.2.3.4\n netmask 255.0.0.0\n gateway nope\n"
            )
            .unwrap_err()
            .to_string()
            .contains("gateway")
        );
        assert!(
            convert("iface eth0 inet bogus\n")
                .unwrap_err()
                .to_string()
                .contains("invalid config method")
        );
    }
}
