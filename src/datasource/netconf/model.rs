//! What the converters share: an interface tree ([`Interface`], its [`Method`] and [`Kind`]),
//! addresses ([`Cidr`], [`Route`]) and their parsers, and the networkd text of each interface
//! ([`units`]), named `NN-NAME` by depth. The converters (`debian`, `packet`, `vmware`) build
//! interfaces; only this file writes unit text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::error::ValueError;

/// One networkd file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkUnit {
    /// File name, e.g. `00-bond0.netdev`.
    pub name: String,
    /// Its text.
    pub content: String,
}

/// An address with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address (not masked).
    pub ip: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

/// The prefix length of a mask written as an address (`255.255.255.0` is 24).
///
/// # Errors
/// When the mask is not contiguous ones then zeros.
pub fn mask_prefix(mask: IpAddr) -> Result<u8, ValueError> {
    let (bits, width): (u128, u32) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)), 32),
        IpAddr::V6(m) => (u128::from(m), 128),
    };
    let ones = if width == 32 {
        (bits as u32).leading_ones()
    } else {
        bits.leading_ones()
    };
    let canonical = if ones == 0 {
        0
    } else if width == 32 {
        u128::from(u32::MAX << (32 - ones))
    } else {
        u128::MAX << (128 - ones)
    };
    if bits == canonical {
        u8::try_from(ones).map_err(|_| ValueError::MaskTooLong(mask))
    } else {
        Err(ValueError::NotPrefixMask(mask))
    }
}

/// A network with its host bits cleared (`10.1.2.3/8` is `10.0.0.0/8`).
#[must_use]
pub fn network(c: Cidr) -> Cidr {
    let ip = match c.ip {
        IpAddr::V4(v) => {
            let m = if c.prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(c.prefix.min(32)))
            };
            IpAddr::V4((u32::from(v) & m).into())
        }
        IpAddr::V6(v) => {
            let m = if c.prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(c.prefix.min(128)))
            };
            IpAddr::V6((u128::from(v) & m).into())
        }
    };
    Cidr {
        ip,
        prefix: c.prefix,
    }
}

/// Parse `ADDRESS/PREFIX`.
///
/// # Errors
/// When it is not that.
pub fn parse_cidr(text: &str) -> Result<Cidr, ValueError> {
    let (ip, len) = text
        .split_once('/')
        .ok_or_else(|| ValueError::NotCidr(text.to_string()))?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| ValueError::NotCidr(text.to_string()))?;
    let prefix: u8 = len
        .parse()
        .ok()
        .filter(|p| *p <= if ip.is_ipv4() { 32 } else { 128 })
        .ok_or_else(|| ValueError::BadPrefix(text.to_string()))?;
    Ok(Cidr { ip, prefix })
}

/// Parse a MAC address (`aa:bb:cc:dd:ee:ff` or with `-`), printed as Go prints it.
///
/// # Errors
/// When it is not six hex bytes.
pub fn parse_mac(text: &str) -> Result<String, ValueError> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    if parts.len() != 6
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(ValueError::NotMac(text.to_string()));
    }
    Ok(parts.join(":").to_ascii_lowercase())
}

/// A route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination network.
    pub destination: Cidr,
    /// Gateway.
    pub gateway: IpAddr,
}

/// How an interface gets its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Fixed addresses.
    Static {
        /// Addresses.
        addresses: Vec<Cidr>,
        /// Name servers.
        nameservers: Vec<IpAddr>,
        /// Search domains.
        domains: Vec<String>,
        /// Routes.
        routes: Vec<Route>,
        /// `hwaddress ether` (used by a VLAN's netdev).
        hwaddress: Option<String>,
    },
    /// DHCP.
    Dhcp {
        /// `hwaddress ether`.
        hwaddress: Option<String>,
    },
    /// Nothing configured (a bond slave).
    Manual,
}

/// What an interface is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A NIC.
    Physical,
    /// A bond with its slaves and `[Bond]` options.
    Bond {
        /// Slave names.
        slaves: Vec<String>,
        /// `[Bond]` keys, sorted.
        options: BTreeMap<String, String>,
    },
    /// A VLAN.
    Vlan {
        /// VLAN id.
        id: u32,
        /// The device it sits on.
        raw_device: Option<String>,
    },
}

/// One interface to write units for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Name (may be empty when a MAC is given).
    pub name: String,
    /// MAC to match (`[Match] MACAddress=`).
    pub hwaddr: Option<String>,
    /// Address method.
    pub method: Method,
    /// Kind.
    pub kind: Kind,
    /// Names of the bonds/VLANs on top of it.
    pub children: Vec<String>,
    /// Depth in the tree (the `NN` of the file name).
    pub depth: usize,
}

impl Interface {
    /// `NN-NAME`.
    #[must_use]
    pub fn filename(&self) -> String {
        let name = if self.name.is_empty() {
            self.hwaddr.clone().unwrap_or_default()
        } else {
            self.name.clone()
        };
        format!("{:02x}-{name}", self.depth)
    }

    /// The `.network` text.
    #[must_use]
    pub fn network(&self, all: &BTreeMap<String, Interface>) -> String {
        let mut s = String::from("[Match]\n");
        if !self.name.is_empty() {
            let _ = writeln!(s, "Name={}", self.name);
        }
        if let Some(mac) = &self.hwaddr {
            let _ = writeln!(s, "MACAddress={mac}");
        }
        s.push_str("\n[Network]\n");
        for child in &self.children {
            match all.get(child).map(|c| &c.kind) {
                Some(Kind::Vlan { .. }) => {
                    let _ = writeln!(s, "VLAN={child}");
                }
                Some(Kind::Bond { .. }) => {
                    let _ = writeln!(s, "Bond={child}");
                }
                _ => {}
            }
        }
        match &self.method {
            Method::Static {
                addresses,
                nameservers,
                domains,
                routes,
                ..
            } => {
                if !domains.is_empty() {
                    let _ = writeln!(s, "Domains={}", domains.join(" "));
                }
                for n in nameservers {
                    let _ = writeln!(s, "DNS={n}");
                }
                for a in addresses {
                    let _ = write!(s, "\n[Address]\nAddress={a}\n");
                }
                for r in routes {
                    let _ = write!(
                        s,
                        "\n[Route]\nDestination={}\nGateway={}\n",
                        r.destination, r.gateway
                    );
                }
            }
            Method::Dhcp { .. } => s.push_str("DHCP=true\n"),
            Method::Manual => {}
        }
        s
    }

    /// The `.netdev` text (empty for a NIC).
    #[must_use]
    pub fn netdev(&self) -> String {
        match &self.kind {
            Kind::Physical => String::new(),
            Kind::Bond { options, .. } => {
                let mut s = format!("[NetDev]\nKind=bond\nName={}\n", self.name);
                if let Some(mac) = &self.hwaddr {
                    let _ = writeln!(s, "MACAddress={mac}");
                }
                s.push_str("\n[Bond]\n");
                for (k, v) in options {
                    let _ = writeln!(s, "{k}={v}");
                }
                s
            }
            Kind::Vlan { id, .. } => {
                let mut s = format!("[NetDev]\nKind=vlan\nName={}\n", self.name);
                if let Method::Static {
                    hwaddress: Some(mac),
                    ..
                }
                | Method::Dhcp {
                    hwaddress: Some(mac),
                } = &self.method
                {
                    let _ = writeln!(s, "MACAddress={mac}");
                }
                let _ = write!(s, "\n[VLAN]\nId={id}\n");
                s
            }
        }
    }
}

/// The units of a set of interfaces, by interface name order: netdev, then network.
#[must_use]
pub fn units(all: &BTreeMap<String, Interface>, order: &[String]) -> Vec<NetworkUnit> {
    let mut out = Vec::new();
    for name in order {
        let Some(i) = all.get(name) else { continue };
        let netdev = i.netdev();
        if !netdev.is_empty() {
            out.push(NetworkUnit {
                name: format!("{}.netdev", i.filename()),
                content: netdev,
            });
        }
        out.push(NetworkUnit {
            name: format!("{}.network", i.filename()),
            content: i.network(all),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_macs() {
        assert_eq!(mask_prefix("255.255.255.0".parse().unwrap()), Ok(24));
        assert_eq!(mask_prefix("255.255.255.254".parse().unwrap()), Ok(31));
        assert_eq!(mask_prefix("0.0.0.0".parse().unwrap()), Ok(0));
        assert!(mask_prefix("255.0.255.0".parse().unwrap()).is_err());
        assert_eq!(
            mask_prefix("ffff:ffff:ffff:ffff::".parse().unwrap()),
            Ok(64)
        );
        assert_eq!(
            parse_mac("AA-bb:cc:dd:ee:0f"),
            Ok("aa:bb:cc:dd:ee:0f".into())
        );
        assert!(parse_mac("aa:bb").is_err());
        assert_eq!(
            network(parse_cidr("10.1.2.3/8").unwrap()).to_string(),
            "10.0.0.0/8"
        );
    }
}
