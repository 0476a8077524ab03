//! Why provider network config could not be converted: a value that does not parse
//! ([`ValueError`]) or a converter's problem with the config as a whole ([`Error`]). Each
//! message names the interface, key or line at fault, worded as coreos-cloudinit users know
//! them; the command line prints them after "the metadata's network config: ".

use std::net::IpAddr;

/// A value that does not parse: a mask, an `ADDRESS/PREFIX` or a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A prefix mask longer than any prefix.
    #[error("netmask {0} is too long")]
    MaskTooLong(IpAddr),
    /// A mask that is not ones then zeros.
    #[error("netmask {0} is not a prefix mask")]
    NotPrefixMask(IpAddr),
    /// Not `ADDRESS/PREFIX`.
    #[error("{0:?} is not ADDRESS/PREFIX")]
    NotCidr(String),
    /// A prefix length too long for the address.
    #[error("{0:?} has a bad prefix length")]
    BadPrefix(String),
    /// Not six hex bytes.
    #[error("{0:?} is not a MAC address")]
    NotMac(String),
}

/// Why a converter refused the config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `--convert-netconf` names a converter for another form than the source gave.
    #[error("--convert-netconf={want} cannot read this source's network config (it is {got} data)")]
    WrongConverter {
        /// The converter asked for.
        want: String,
        /// The form the source gave (`debian`, `packet`, `vmware`).
        got: &'static str,
    },
    /// Debian: a line before the first stanza.
    /// An interface name (from metadata) that cannot be a file name under
    /// `/run/systemd/network` (found by fuzzing: `a/b` or `../x` named a path elsewhere).
    #[error(
        "interface name {0:?} cannot name a network unit (it must be a file name: no `/`, not `.` or `..`, no control characters)"
    )]
    UnitName(String),
    #[error("missing stanza start before {0:?}")]
    NoStanzaStart(String),
    /// Debian: a stanza line with a keyword only.
    #[error("malformed stanza start {0:?}")]
    StanzaStart(String),
    /// Debian: `iface` without exactly NAME FAMILY METHOD.
    #[error("iface {0}: incorrect number of attributes (want NAME FAMILY METHOD)")]
    IfaceAttributes(String),
    /// Debian: a static interface without `address` and an IPv4 `netmask`.
    #[error("malformed static network config for {0:?} (it needs `address` and an IPv4 `netmask`)")]
    StaticIncomplete(String),
    /// Debian: a method other than static, dhcp, manual, loopback.
    #[error("iface {iface}: invalid config method {method:?}")]
    Method {
        /// The interface.
        iface: String,
        /// The method given.
        method: String,
    },
    /// Debian: a VLAN whose id cannot be read from its name.
    #[error("malformed vlan name {0:?}")]
    VlanName(String),
    /// Debian: an address option that is not an IP address.
    #[error("interface {iface}: {what} {text:?} is not an IP address")]
    Address {
        /// The interface.
        iface: String,
        /// The option (`gateway`, `dns-nameservers`, `route gateway`).
        what: &'static str,
        /// Its value.
        text: String,
    },
    /// Debian: `hwaddress ether` with a bad MAC.
    #[error("malformed hwaddress option for {0:?}")]
    Hwaddress(String),
    /// Packet: no NICs to bond.
    #[error("Packet's network metadata lists no interfaces to bond")]
    NoInterfaces,
    /// Packet: a block whose netmask is not a prefix mask.
    #[error("address {address}: {source}")]
    Netmask {
        /// The block's address.
        address: IpAddr,
        /// What is wrong with its mask.
        source: ValueError,
    },
    /// Packet: a block without netmask or cidr.
    #[error("address {0} has neither netmask nor cidr")]
    NoPrefix(IpAddr),
    /// Packet: a NIC without a name, or named like the bond.
    #[error("interface {index} has no usable name ({name:?})")]
    NicName {
        /// Its place in the list.
        index: usize,
        /// Its name.
        name: String,
    },
    /// VMware: a `dns.server.N` that is not an address.
    #[error("guestinfo {key}: invalid nameserver {value:?}")]
    Nameserver {
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
    /// VMware: `dhcp` other than yes or no.
    #[error("guestinfo {key}: invalid DHCP option {value:?} (yes or no)")]
    Dhcp {
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
    /// VMware: an `ip.M.address` that does not parse.
    #[error("guestinfo {key}: invalid address: {source}")]
    InterfaceAddress {
        /// The key.
        key: String,
        /// Why.
        source: ValueError,
    },
    /// VMware: a route with a gateway and no destination.
    #[error("guestinfo {0}: missing destination key")]
    MissingDestination(String),
    /// VMware: a route with a destination and no gateway.
    #[error("guestinfo {0}: missing gateway key")]
    MissingGateway(String),
    /// VMware: a route gateway that is not an address.
    #[error("guestinfo {key}: invalid gateway {value:?}")]
    Gateway {
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
    /// VMware: a route destination or MAC that does not parse.
    #[error("guestinfo {key}: {source}")]
    Value {
        /// The key.
        key: String,
        /// Why.
        source: ValueError,
    },
    /// VMware: an interface that no unit could match.
    #[error("guestinfo interface.{0} has neither name nor mac; its unit would match every link")]
    Unmatched(usize),
}
