//! Hosts (spec §7): list and query, get, create, modify (paths, persona, descriptors, CHAP,
//! rename), delete.
//!
//! Path logins are derived, not stored: every FC WWN of a host is taken as logged in on every
//! ready FC target port, every iSCSI name on every ready iSCSI target port. `portPos` of a path
//! shows the first such port; active VLUNs (see `vluns`) use all of them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Shape};
use super::query;
use super::render::PortPosJson;
use crate::names::NAME31;
use crate::{Array, Chap, ErrorCode, Host, HostChanges, HostSpec, PathChange, PortPos, PortProtocol};

/// Ports a path of `protocol` is logged in on: ready target host ports of that protocol.
pub(crate) fn login_ports(array: &Array, protocol: PortProtocol) -> Vec<PortPos> {
    array.ports().iter().filter(|p| p.mode == 2 && p.link_state == 4 && p.protocol == protocol).map(|p| p.pos).collect()
}

#[derive(Serialize)]
struct FcPath {
    wwn: String,
    #[serde(rename = "portPos", skip_serializing_if = "Option::is_none")]
    port_pos: Option<PortPosJson>,
}

#[derive(Serialize)]
struct IscsiPath {
    name: String,
    #[serde(rename = "portPos", skip_serializing_if = "Option::is_none")]
    port_pos: Option<PortPosJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HostJson {
    id: u32,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    persona: u8,
    #[serde(rename = "FCPaths")]
    fc_paths: Vec<FcPath>,
    #[serde(rename = "iSCSIPaths")]
    iscsi_paths: Vec<IscsiPath>,
    descriptors: BTreeMap<String, String>,
    initiator_chap_enabled: bool,
    target_chap_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    initiator_chap_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_chap_name: Option<String>,
}

pub(crate) fn render(array: &Array, host: &Host) -> HostJson {
    let fc_port = login_ports(array, PortProtocol::Fc).first().copied().map(PortPosJson::from);
    let iscsi_port = login_ports(array, PortProtocol::Iscsi).first().copied().map(PortPosJson::from);
    HostJson {
        id: host.id.0,
        name: host.name.clone(),
        domain: host.domain.clone(),
        persona: host.persona,
        fc_paths: host.fc_wwns.iter().map(|w| FcPath { wwn: w.clone(), port_pos: fc_port }).collect(),
        iscsi_paths: host.iscsi_names.iter().map(|n| IscsiPath { name: n.clone(), port_pos: iscsi_port }).collect(),
        descriptors: host.descriptors.clone(),
        initiator_chap_enabled: host.initiator_chap.is_some(),
        target_chap_enabled: host.target_chap.is_some(),
        initiator_chap_name: host.initiator_chap.as_ref().map(|c| c.name.clone()),
        target_chap_name: host.target_chap.as_ref().map(|c| c.name.clone()),
    }
}

/// `GET /hosts[?query=...]`.
pub(crate) async fn list(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let query = req.query_param("query");
    if let Some(text) = &query {
        query::Query::parse(text)?;
    }
    let members = ctx
        .model(|sim, id| {
            let array = sim.array(id);
            array.hosts().map(|h| serde_json::to_value(render(array, h)).expect("hosts serialise")).collect()
        })
        .await?;
    let members = query::filter(query, members)?;
    Ok(Reply::json(200, &serde_json::json!({"total": members.len(), "members": members})))
}

/// `GET /hosts/<name>`: illegal characters → 400 (69, the router's path check); unknown → 404 (17).
pub(crate) async fn get(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    let host = ctx
        .run(move |sim, id| {
            let array = sim.array(id);
            array.host(&name).map(|h| render(array, h))
        })
        .await?;
    Ok(Reply::json(200, &host))
}

const DESCRIPTORS: &[Field] = &[
    ("location", Shape::Any),
    ("IPAddr", Shape::Any),
    ("os", Shape::Any),
    ("model", Shape::Any),
    ("contact", Shape::Any),
    ("comment", Shape::Any),
];

const CREATE: &[Field] = &[
    ("name", Shape::Any),
    ("iSCSINames", Shape::Any),
    ("FCWWNs", Shape::Any),
    ("NQN", Shape::Any),
    ("persona", Shape::Any),
    ("domain", Shape::Any),
    ("forceTearDown", Shape::Any),
    ("descriptors", Shape::Object(DESCRIPTORS)),
];

fn descriptors(body: &json::Obj<'_>) -> ApiResult<Option<BTreeMap<String, String>>> {
    let Some(object) = body.obj("descriptors")? else {
        return Ok(None);
    };
    let mut map = BTreeMap::new();
    for (key, value) in object.members() {
        match value {
            Value::String(text) => {
                crate::names::validate_comment(text, 255).map_err(|e| ApiError::from(e).with_ref(key))?;
                map.insert(key.clone(), text.clone());
            }
            Value::Null => {}
            _ => return Err(json::wrong_type(key, "a string")),
        }
    }
    Ok(Some(map))
}

fn persona(body: &json::Obj<'_>) -> ApiResult<Option<u8>> {
    body.enumeration("persona", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
}

/// `POST /hosts`: 201 with `Location: /api/v1/hosts/<name>` (the client needs it).
pub(crate) async fn create(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, CREATE)?;
    let name = body.req_str("name")?.to_owned();
    crate::names::validate_name("host", &name, NAME31).map_err(|e| ApiError::from(e).with_ref("name"))?;
    let domain = body.name("domain", "domain", NAME31)?;
    let fc_wwns = body.str_list("FCWWNs")?.unwrap_or_default();
    let iscsi_names = body.str_list("iSCSINames")?.unwrap_or_default();
    if body.has("NQN") {
        body.str("NQN")?;
        return Err(ApiError::member(ErrorCode::INV_INPUT, "NQN", "NVMe hosts are not simulated"));
    }
    body.bool("forceTearDown")?;
    let spec = HostSpec {
        name: name.clone(),
        domain,
        persona: persona(&body)?,
        fc_wwns,
        iscsi_names,
        descriptors: descriptors(&body)?.unwrap_or_default(),
    };
    ctx.run(move |sim, id| sim.array_mut(id).create_host(spec)).await?;
    Ok(Reply::created(format!("/api/v1/hosts/{name}")))
}

const MODIFY: &[Field] = &[
    ("newName", Shape::Any),
    ("pathOperation", Shape::Any),
    ("FCWWNs", Shape::Any),
    ("iSCSINames", Shape::Any),
    ("forcePathRemoval", Shape::Any),
    ("persona", Shape::Any),
    ("descriptors", Shape::Object(DESCRIPTORS)),
    ("chapOperation", Shape::Any),
    ("chapOperationMode", Shape::Any),
    ("chapName", Shape::Any),
    ("chapSecret", Shape::Any),
    ("chapSecretHex", Shape::Any),
    ("chapRemoveTargetOnly", Shape::Any),
];

fn one_required(members: &str) -> ApiError {
    ApiError::new(ErrorCode::INV_INPUT_ONE_REQUIRED).with_ref(members)
}

/// `PUT /hosts/<name>`, validated in the order of spec §7.3.
pub(crate) async fn modify(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, MODIFY)?;
    let fc = body.str_list("FCWWNs")?;
    let iscsi = body.str_list("iSCSINames")?;
    if fc.is_some() && iscsi.is_some() {
        return Err(ApiError::new(ErrorCode::INV_INPUT_PARAM_CONFLICT));
    }
    let operation = body.enumeration("pathOperation", &[1, 2])?;
    let has_paths = fc.is_some() || iscsi.is_some();
    if has_paths != operation.is_some() {
        return Err(one_required("pathOperation,FCWWNs,iSCSINames"));
    }
    let chap_operation = body.enumeration("chapOperation", &[1, 2])?;
    if !body.has("newName")
        && operation.is_none()
        && !body.has("descriptors")
        && !body.has("persona")
        && chap_operation.is_none()
    {
        return Err(one_required("newName,pathOperation,descriptors,persona,chapOperation"));
    }
    let new_name = body.name("newName", "host", NAME31)?;
    let force = body.bool("forcePathRemoval")?;
    if force.is_some() && operation == Some(1) {
        return Err(ApiError::member(ErrorCode::INV_INPUT_PARAM_CONFLICT, "forcePathRemoval", "only with a removal"));
    }
    let persona = persona(&body)?;
    let descriptors = descriptors(&body)?;
    let chap_mode = body.enumeration("chapOperationMode", &[1, 2])?;
    let chap_name = body.str("chapName")?.map(str::to_owned);
    let chap_secret = body.str("chapSecret")?.map(str::to_owned);
    if body.flag("chapSecretHex")? {
        return Err(ApiError::member(
            ErrorCode::INV_INPUT,
            "chapSecretHex",
            "hexadecimal CHAP secrets are not simulated",
        ));
    }
    let target_only = body.flag("chapRemoveTargetOnly")?;
    let force = force.unwrap_or(false);
    let paths = match (operation, fc, iscsi) {
        (Some(1), Some(fc), _) => Some(PathChange::AddFc(fc)),
        (Some(1), _, Some(iscsi)) => Some(PathChange::AddIscsi(iscsi)),
        (Some(_), Some(fc), _) => Some(PathChange::RemoveFc(fc, force)),
        (Some(_), _, Some(iscsi)) => Some(PathChange::RemoveIscsi(iscsi, force)),
        _ => None,
    };
    let mut changes = HostChanges { new_name: new_name.clone(), paths, persona, descriptors, ..HostChanges::default() };
    match chap_operation {
        Some(1) => {
            let chap = Chap {
                name: chap_name.ok_or_else(|| json::missing("chapName"))?,
                secret: chap_secret.ok_or_else(|| json::missing("chapSecret"))?,
            };
            match chap_mode {
                Some(2) => changes.set_target_chap = Some(chap),
                _ => changes.set_initiator_chap = Some(chap),
            }
        }
        Some(_) => changes.remove_chap = Some(target_only),
        None => {}
    }
    let location = format!("/api/v1/hosts/{}", new_name.as_deref().unwrap_or(&name));
    ctx.run(move |sim, id| sim.array_mut(id).modify_host(&name, changes)).await?;
    Ok(Reply::ok().at(location))
}

/// `DELETE /hosts/<name>`: exported → 409 (26) before set membership → 409 (77).
pub(crate) async fn delete(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    ctx.run(move |sim, id| sim.array_mut(id).delete_host(&name)).await?;
    Ok(Reply::ok())
}
