//! Array ports: fixed configuration (FC and iSCSI host ports, RCIP ports for Remote Copy).

use std::fmt;

/// Position of a port: node, slot, card port (`n:s:p`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortPos {
    /// Controller node.
    pub node: u8,
    /// Slot.
    pub slot: u8,
    /// Port on the card.
    pub card_port: u8,
}

impl PortPos {
    /// `n:s:p`.
    pub fn new(node: u8, slot: u8, card_port: u8) -> PortPos {
        PortPos { node, slot, card_port }
    }

    /// Parses `n:s:p`.
    pub fn parse(text: &str) -> Option<PortPos> {
        let mut parts = text.split(':').map(|p| p.parse::<u8>().ok());
        let pos = PortPos::new(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(pos)
    }
}

impl fmt::Display for PortPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.node, self.slot, self.card_port)
    }
}

/// Port protocol (WSAPI enum numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortProtocol {
    /// Fibre Channel (1).
    Fc = 1,
    /// iSCSI (2).
    Iscsi = 2,
    /// IP, used by RCIP (4).
    Ip = 4,
}

/// One port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Position.
    pub pos: PortPos,
    /// Mode: 2 target, 3 initiator, 4 peer.
    pub mode: u8,
    /// Link state: 4 ready, 5 loss sync, 10 offline.
    pub link_state: u8,
    /// Type: 1 host, 7 RCIP, 8 iSCSI.
    pub port_type: u8,
    /// Protocol.
    pub protocol: PortProtocol,
    /// Label, e.g. `RCIP0`.
    pub label: String,
    /// FC node WWN.
    pub node_wwn: Option<String>,
    /// FC port WWN.
    pub port_wwn: Option<String>,
    /// IP address (iSCSI, RCIP).
    pub ip_addr: Option<String>,
    /// iSCSI target name.
    pub iscsi_name: Option<String>,
    /// iSCSI VLAN flag as the WSAPI reports it (1 = tagged; other values untagged).
    pub vlan: Option<u16>,
    /// Attached devices (empty on free host ports).
    pub devices: Vec<String>,
}

/// The port fixture of WSAPI spec §9/§17 for an array with `system_id`: two FC host ports, two
/// iSCSI host ports and two RCIP ports, all ready.
pub fn default_ports(system_id: u32) -> Vec<Port> {
    let octet = (system_id % 250) as u8;
    let mut ports = Vec::new();
    for node in 0..2u8 {
        ports.push(Port {
            pos: PortPos::new(node, 1, 1),
            mode: 2,
            link_state: 4,
            port_type: 1,
            protocol: PortProtocol::Fc,
            label: format!("FC{node}"),
            node_wwn: Some(format!("2FF70002AC{:06X}", system_id & 0xff_ffff)),
            port_wwn: Some(format!("2{node}110002AC{:06X}", system_id & 0xff_ffff)),
            ip_addr: None,
            iscsi_name: None,
            vlan: None,
            devices: Vec::new(),
        });
        ports.push(Port {
            pos: PortPos::new(node, 2, 1),
            mode: 2,
            link_state: 4,
            port_type: 8,
            protocol: PortProtocol::Iscsi,
            label: format!("ISCSI{node}"),
            node_wwn: None,
            port_wwn: None,
            ip_addr: Some(format!("10.{octet}.{node}.10")),
            iscsi_name: Some(format!("iqn.2000-05.com.3pardata:2{node}210002ac{:06x}", system_id & 0xff_ffff)),
            vlan: Some(2),
            devices: Vec::new(),
        });
        ports.push(Port {
            pos: PortPos::new(node, 3, 1),
            mode: 4,
            link_state: 4,
            port_type: 7,
            protocol: PortProtocol::Ip,
            label: format!("RCIP{node}"),
            node_wwn: None,
            port_wwn: None,
            ip_addr: Some(format!("10.200.{octet}.{}", node + 1)),
            iscsi_name: None,
            vlan: None,
            devices: Vec::new(),
        });
    }
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_positions_parse_and_print() {
        assert_eq!(PortPos::parse("1:2:3"), Some(PortPos::new(1, 2, 3)));
        assert_eq!(PortPos::parse("1:2"), None);
        assert_eq!(PortPos::parse("1:2:3:4"), None);
        assert_eq!(PortPos::parse("a:2:3"), None);
        assert_eq!(PortPos::new(0, 3, 1).to_string(), "0:3:1");
    }
}
