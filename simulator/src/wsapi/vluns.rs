//! VLUNs (spec §8): templates (the export rules `POST /vluns` creates) and the active VLUNs
//! derived from them, one per (template, volume, host path, port the path is logged in on).
//!
//! Path logins follow `hosts::login_ports`: FC paths on every ready FC target port, iSCSI names
//! on every ready iSCSI target port. A template restricted to a port yields active VLUNs only on
//! that port; a port-only template (type 2) is seen by every host path logged in there.

use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::hosts::login_ports;
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Shape};
use super::query;
use super::render::PortPosJson;
use crate::names::NAME31;
use crate::vlun::MAX_LUN;
use crate::{Array, ErrorCode, HostId, PortPos, PortProtocol, Vlun, VlunSpec, VlunTarget, VlunVolume, VolumeId};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VlunJson {
    lun: u32,
    volume_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port_pos: Option<PortPosJson>,
    #[serde(rename = "type")]
    kind: u8,
    active: bool,
    #[serde(rename = "volumeWWN", skip_serializing_if = "Option::is_none")]
    volume_wwn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_name: Option<String>,
    multipathing: u8,
    failed_path_pol: u8,
    failed_path_interval: u32,
}

fn kind(target: VlunTarget) -> u8 {
    match target {
        VlunTarget::Port(_) => 2,
        VlunTarget::Host(_) => 3,
        VlunTarget::HostOnPort(..) => 4,
        VlunTarget::HostSet(_) => 5,
    }
}

fn volume_name(array: &Array, volume: VlunVolume) -> String {
    match volume {
        VlunVolume::Volume(id) => array.volume_by_id(id).map(|v| v.name.clone()).unwrap_or_default(),
        VlunVolume::Set(id) => format!("set:{}", array.volume_sets().find(|s| s.id == id).map_or("", |s| &s.name)),
    }
}

fn template(array: &Array, vlun: &Vlun) -> VlunJson {
    let hostname = match vlun.target {
        VlunTarget::Host(h) | VlunTarget::HostOnPort(h, _) => array.host_by_id(h).map(|h| h.name.clone()),
        VlunTarget::HostSet(s) => array.host_sets().find(|set| set.id == s).map(|set| format!("set:{}", set.name)),
        VlunTarget::Port(_) => None,
    };
    let port_pos = match vlun.target {
        VlunTarget::HostOnPort(_, p) | VlunTarget::Port(p) => Some(p.into()),
        _ => None,
    };
    let volume_wwn = match vlun.volume {
        VlunVolume::Volume(id) => array.volume_by_id(id).map(|v| v.wwn.clone()),
        VlunVolume::Set(_) => None,
    };
    VlunJson {
        lun: vlun.lun,
        volume_name: volume_name(array, vlun.volume),
        hostname,
        port_pos,
        kind: kind(vlun.target),
        active: false,
        volume_wwn,
        remote_name: None,
        multipathing: 1,
        failed_path_pol: 1,
        failed_path_interval: 0,
    }
}

/// The active VLUNs derived from `vlun`.
fn active(array: &Array, vlun: &Vlun) -> Vec<VlunJson> {
    let volumes: Vec<(u32, VolumeId)> = match vlun.volume {
        VlunVolume::Volume(id) => vec![(vlun.lun, id)],
        VlunVolume::Set(set) => array
            .volume_sets()
            .find(|s| s.id == set)
            .map(|s| s.members.iter().enumerate().map(|(i, m)| (vlun.lun + i as u32, *m)).collect())
            .unwrap_or_default(),
    };
    let hosts: Vec<HostId> = match vlun.target {
        VlunTarget::Host(h) | VlunTarget::HostOnPort(h, _) => vec![h],
        VlunTarget::HostSet(s) => {
            array.host_sets().find(|set| set.id == s).map(|set| set.members.clone()).unwrap_or_default()
        }
        VlunTarget::Port(_) => array.hosts().map(|h| h.id).collect(),
    };
    let only_port = match vlun.target {
        VlunTarget::HostOnPort(_, p) | VlunTarget::Port(p) => Some(p),
        _ => None,
    };
    let fc_ports = login_ports(array, PortProtocol::Fc);
    let iscsi_ports = login_ports(array, PortProtocol::Iscsi);
    let mut out = Vec::new();
    for host in hosts.iter().filter_map(|h| array.host_by_id(*h)) {
        let paths =
            host.fc_wwns.iter().map(|w| (w, &fc_ports)).chain(host.iscsi_names.iter().map(|n| (n, &iscsi_ports)));
        for (path, ports) in paths {
            for port in ports.iter().filter(|p| only_port.is_none_or(|only| only == **p)) {
                for (lun, volume) in &volumes {
                    let Some(volume) = array.volume_by_id(*volume) else { continue };
                    out.push(VlunJson {
                        lun: *lun,
                        volume_name: volume.name.clone(),
                        hostname: Some(host.name.clone()),
                        port_pos: Some((*port).into()),
                        kind: kind(vlun.target),
                        active: true,
                        volume_wwn: Some(volume.wwn.clone()),
                        remote_name: Some(path.clone()),
                        multipathing: 2,
                        failed_path_pol: 1,
                        failed_path_interval: 0,
                    });
                }
            }
        }
    }
    out
}

/// `GET /vluns[?query=...]`: templates, each followed by its active VLUNs.
pub(crate) async fn list(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let query = req.query_param("query");
    if let Some(text) = &query {
        query::Query::parse(text)?;
    }
    let members = ctx
        .model(|sim, id| {
            let array = sim.array(id);
            let mut all = Vec::new();
            for vlun in array.vluns() {
                all.push(serde_json::to_value(template(array, vlun)).expect("VLUNs serialise"));
                all.extend(active(array, vlun).into_iter().map(|v| serde_json::to_value(v).expect("VLUNs serialise")));
            }
            all
        })
        .await?;
    let members = query::filter(query, members)?;
    Ok(Reply::json(200, &serde_json::json!({"total": members.len(), "members": members})))
}

const PORT_POS: &[Field] = &[("node", Shape::Any), ("slot", Shape::Any), ("cardPort", Shape::Any)];

const CREATE: &[Field] = &[
    ("volumeName", Shape::Any),
    ("lun", Shape::Any),
    ("hostname", Shape::Any),
    ("portPos", Shape::Object(PORT_POS)),
    ("noVcn", Shape::Any),
    ("overrideLowerPriority", Shape::Any),
    ("autoLun", Shape::Any),
    ("maxAutoLun", Shape::Any),
];

fn bad_port(detail: &str) -> ApiError {
    ApiError::member(ErrorCode::INV_INPUT_PORT_SPECIFICATION, "portPos", detail)
}

fn port_pos(body: &json::Obj<'_>) -> ApiResult<Option<PortPos>> {
    let Some(pos) = body.obj("portPos")? else {
        return Ok(None);
    };
    let mut parts = [0u8; 3];
    for (part, key) in parts.iter_mut().zip(["node", "slot", "cardPort"]) {
        let value = pos
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| bad_port("node, slot and cardPort are required"))?;
        *part = u8::try_from(value).map_err(|_| bad_port("port position out of range"))?;
    }
    Ok(Some(PortPos::new(parts[0], parts[1], parts[2])))
}

/// `POST /vluns`: 201 with `Location: /api/v1/vluns/<vol>,<lun>,<host>[,<n:s:p>]`.
pub(crate) async fn create(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, CREATE)?;
    let volume = body.req_reference("volumeName", "volume", NAME31)?;
    let host = if body.has("hostname") { Some(body.req_reference("hostname", "host", NAME31)?) } else { None };
    let auto_lun = body.flag("autoLun")?;
    let lun = body.int_in("lun", 0, i64::from(MAX_LUN), ErrorCode::TOO_LARGE)?;
    let max_auto_lun = body.int("maxAutoLun", 0, i64::from(MAX_LUN))?.unwrap_or(0) as u32;
    let no_vcn = body.flag("noVcn")?;
    let override_priority = body.flag("overrideLowerPriority")?;
    let port = port_pos(&body)?;
    if host.is_none() && port.is_none() {
        return Err(ApiError::new(ErrorCode::MISSING_VLUN_EXPORT_INFO));
    }
    if override_priority && host.is_none() {
        return Err(ApiError::member(ErrorCode::INV_INPUT_PARAM_CONFLICT, "overrideLowerPriority", "needs hostname"));
    }
    let lun = match (lun, auto_lun) {
        (Some(lun), _) => lun as u32,
        (None, true) => 0,
        (None, false) => return Err(json::missing("lun")),
    };
    let spec = VlunSpec { volume: volume.clone(), lun, auto_lun, max_auto_lun, host: host.clone(), port, no_vcn };
    let lun = ctx.run(move |sim, id| sim.array_mut(id).create_vlun(spec)).await?;
    let mut location = format!("/api/v1/vluns/{volume},{lun},{}", host.unwrap_or_default());
    if let Some(port) = port {
        location.push_str(&format!(",{port}"));
    }
    Ok(Reply::created(location))
}

/// `DELETE /vluns/<vol>,<lun>,<host>[,<n:s:p>]`.
pub(crate) async fn delete(ctx: &Ctx, id: String, req: &Req) -> ApiResult<Reply> {
    // `?noVcn=true|false` (spec §8.5): checked like any boolean; the model sends no VLUN
    // change notifications, so its value changes nothing.
    req.query_flag("noVcn")?;
    let fields: Vec<&str> = id.split(',').collect();
    if fields.len() < 3 || fields.len() > 4 {
        return Err(ApiError::member(
            ErrorCode::INV_INPUT_MISSING_REQUIRED,
            "vlun",
            "expected <volume>,<lun>,<host>[,<n:s:p>]",
        ));
    }
    // Names before existence (spec §1.7, §1.8), as `create` checks its body: the volume (or
    // `set:<volume set>`) and, unless the template is to a port alone, the host (or `set:<host
    // set>`).
    json::reference("volume", fields[0], NAME31)?;
    if !fields[2].is_empty() {
        json::reference("host", fields[2], NAME31)?;
    }
    let volume = fields[0].to_owned();
    let lun: i64 = fields[1].parse().map_err(|_| json::wrong_type("lun", "an integer"))?;
    if !(0..=i64::from(MAX_LUN)).contains(&lun) {
        return Err(ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "lun", "LUN out of range"));
    }
    let host = Some(fields[2]).filter(|h| !h.is_empty()).map(str::to_owned);
    let port = match fields.get(3) {
        None => None,
        Some(text) => Some(PortPos::parse(text).ok_or_else(|| bad_port(&format!("'{text}' is not n:s:p")))?),
    };
    let known_port =
        ctx.model(move |sim, id| port.is_none_or(|p| sim.array(id).ports().iter().any(|q| q.pos == p))).await?;
    if !known_port {
        return Err(bad_port("no such port"));
    }
    ctx.run(move |sim, id| sim.array_mut(id).delete_vlun(&volume, lun as u32, host.as_deref(), port)).await?;
    Ok(Reply::ok())
}
