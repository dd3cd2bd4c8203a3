//! Ports (spec §9): the fixed port list and the iSCSI VLAN sub-resource.
//!
//! Ports are configuration (`ArrayConfig::ports`); nothing here changes them, and `device` stays
//! empty so the client suite always finds a free target port. iSCSI details the model lacks
//! (netmask, MTU, rate) are fixed values.

use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply};
use super::render::PortPosJson;
use crate::{ErrorCode, Port, PortPos, PortProtocol};

fn render(port: &Port) -> Value {
    let mut value = json!({
        "portPos": PortPosJson::from(port.pos),
        "mode": port.mode,
        "linkState": port.link_state,
        "type": port.port_type,
        "protocol": port.protocol as u8,
        "label": port.label,
        "failoverState": 1,
    });
    if !port.devices.is_empty() {
        value["device"] = json!(port.devices);
    }
    if let Some(wwn) = &port.node_wwn {
        value["nodeWWN"] = json!(wwn);
    }
    if let Some(wwn) = &port.port_wwn {
        value["portWWN"] = json!(wwn);
    }
    if let Some(ip) = &port.ip_addr {
        value["IPAddr"] = json!(ip);
    }
    if let Some(name) = &port.iscsi_name {
        value["iSCSIName"] = json!(name);
    }
    if port.protocol == PortProtocol::Iscsi {
        value["HWAddr"] =
            json!(format!("00:02:AC:{:02X}:{:02X}:{:02X}", port.pos.node, port.pos.slot, port.pos.card_port));
        value["iSCSIPortInfo"] = json!({
            "IPAddr": port.ip_addr, "netmask": "255.255.255.0", "gateway": "0.0.0.0", "mtu": 1500,
            "rate": "10Gbps", "iSNSAddr": "0.0.0.0", "iSNSPort": 3205, "stgt": 21, "tpgt": 21,
            "iSCSIName": port.iscsi_name, "vlan": port.vlan.unwrap_or(2),
        });
    }
    value
}

/// `GET /ports`.
pub(crate) async fn list(ctx: &Ctx) -> ApiResult<Reply> {
    let ports: Vec<Value> = ctx.model(|sim, id| sim.array(id).ports().iter().map(render).collect()).await?;
    Ok(Reply::json(200, &json!({"total": ports.len(), "members": ports})))
}

/// `GET /ports/<n:s:p>/iSCSIVlans/`: the port's VLAN interfaces (one per tagged iSCSI port).
pub(crate) async fn iscsi_vlans(ctx: &Ctx, position: String) -> ApiResult<Reply> {
    let pos = PortPos::parse(&position).ok_or_else(|| ApiError::new(ErrorCode::INV_INPUT_PORT_SPECIFICATION))?;
    let port = ctx
        .run(move |sim, id| {
            sim.array(id)
                .ports()
                .iter()
                .find(|p| p.pos == pos)
                .cloned()
                .ok_or_else(|| crate::Error::new(ErrorCode::NON_EXISTENT_PORT, format!("port {pos} does not exist")))
        })
        .await?;
    let vlans: Vec<Value> = if port.protocol == PortProtocol::Iscsi && port.vlan == Some(1) {
        vec![json!({
            "IPAddr": port.ip_addr, "netmask": "255.255.255.0", "gateway": "0.0.0.0", "mtu": 1500,
            "stgt": 21, "tpgt": 21, "iSNSAddr": "0.0.0.0", "iSNSPort": 3205, "vlanTag": 1,
        })]
    } else {
        Vec::new()
    };
    Ok(Reply::json(200, &json!({"total": vlans.len(), "iSCSIVlans": vlans})))
}
