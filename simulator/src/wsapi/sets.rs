//! Volume sets and host sets (spec §6): one object shape and one set of rules for both kinds,
//! plus the volume-set snapshot with its name pattern (`@count@`, `@vvname@`, time tokens).

use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Obj, Shape};
use super::render::Collection;
use super::volumes::{post_action_name, snapshot_spec};
use crate::names::{NAME27, NAME31};
use crate::volume_set::validate_member_names;
use crate::{Array, ErrorCode, SetChanges, SetSnapshotSpec, SetSpec};

/// Which kind of set a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `/volumesets`.
    Volume,
    /// `/hostsets`.
    Host,
}

impl Kind {
    pub(crate) fn of(segment: &str) -> Kind {
        if segment == "hostsets" { Kind::Host } else { Kind::Volume }
    }

    /// What the members are, for name errors.
    fn member(self) -> &'static str {
        match self {
            Kind::Volume => "volume",
            Kind::Host => "host",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Volume => "volumesets",
            Kind::Host => "hostsets",
        }
    }
}

#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct SetJson {
    id: u32,
    uuid: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    setmembers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flash_cache_policy: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qos_enabled: Option<bool>,
}

fn render_all(array: &Array, kind: Kind) -> Vec<SetJson> {
    match kind {
        Kind::Volume => array
            .volume_sets()
            .map(|set| {
                let qos = array.qos_rule(crate::QosTarget::VolumeSet(set.id)).ok();
                SetJson {
                    id: set.id.0,
                    uuid: set.uuid.clone(),
                    name: set.name.clone(),
                    domain: set.domain.clone(),
                    comment: set.comment.clone(),
                    setmembers: set
                        .members
                        .iter()
                        .filter_map(|m| array.volume_by_id(*m).map(|v| v.name.clone()))
                        .collect(),
                    flash_cache_policy: set.flash_cache_policy,
                    qos_enabled: Some(qos.is_some_and(|rule| rule.limits.enabled != Some(false))),
                }
            })
            .collect(),
        Kind::Host => array
            .host_sets()
            .map(|set| SetJson {
                id: set.id.0,
                uuid: set.uuid.clone(),
                name: set.name.clone(),
                domain: set.domain.clone(),
                comment: set.comment.clone(),
                setmembers: set.members.iter().filter_map(|m| array.host_by_id(*m).map(|h| h.name.clone())).collect(),
                flash_cache_policy: None,
                qos_enabled: None,
            })
            .collect(),
    }
}

/// `GET /volumesets`, `GET /hostsets`, in creation order.
pub(crate) async fn list(ctx: &Ctx, kind: Kind) -> ApiResult<Reply> {
    let sets = ctx.model(move |sim, id| render_all(sim.array(id), kind)).await?;
    Ok(Reply::json(200, &Collection::of(sets)))
}

fn not_found(kind: Kind, name: &str) -> ApiError {
    let mut error = ApiError::new(ErrorCode::NON_EXISTENT_SET);
    error.debug = Some(format!("{} '{name}' does not exist", kind.path()));
    error
}

/// `GET /<kind>/<name>`: illegal characters → 400 (69, the router's path check); unknown or too
/// long → 404 (102).
pub(crate) async fn get(ctx: &Ctx, kind: Kind, name: String) -> ApiResult<Reply> {
    let lookup = name.clone();
    let set = ctx
        .model(move |sim, id| render_all(sim.array(id), kind).into_iter().find(|s| s.name == lookup))
        .await?
        .ok_or_else(|| not_found(kind, &name))?;
    Ok(Reply::json(200, &set))
}

/// The `setmembers` list, its names checked by the model's rule ([`validate_member_names`])
/// before the rest of the request (spec §1.7, §1.8: 400 before any lookup), the error naming
/// the member.
fn set_members(body: &Obj<'_>, kind: Kind) -> ApiResult<Option<Vec<String>>> {
    let members = body.str_list("setmembers")?;
    if let Some(names) = &members {
        validate_member_names(kind.member(), names).map_err(|e| ApiError::from(e).with_ref("setmembers"))?;
    }
    Ok(members)
}

const CREATE: &[Field] =
    &[("name", Shape::Any), ("domain", Shape::Any), ("comment", Shape::Any), ("setmembers", Shape::Any)];

/// `POST /<kind>`: 201 with `Location: /api/v1/<kind>/<name>` (the client returns what follows
/// the prefix as the set's id).
pub(crate) async fn create(ctx: &Ctx, kind: Kind, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, CREATE)?;
    let name = body.req_name("name", "set", NAME27)?;
    let spec = SetSpec {
        name: name.clone(),
        domain: body.name("domain", "domain", NAME31)?,
        comment: body.str("comment")?.map(str::to_owned),
        members: set_members(&body, kind)?.unwrap_or_default(),
    };
    ctx.run(move |sim, id| {
        let mut array = sim.array_mut(id);
        match kind {
            Kind::Volume => array.create_volume_set(spec),
            Kind::Host => array.create_host_set(spec),
        }
    })
    .await?;
    Ok(Reply::created(format!("/api/v1/{}/{name}", kind.path())))
}

const MODIFY: &[Field] = &[
    ("action", Shape::Any),
    ("setmembers", Shape::Any),
    ("newName", Shape::Any),
    ("comment", Shape::Any),
    ("flashCachePolicy", Shape::Any),
    ("priority", Shape::Any),
];

/// `PUT /<kind>/<name>`, validated in the order of spec §6.2.
pub(crate) async fn modify(ctx: &Ctx, kind: Kind, name: String, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, MODIFY)?;
    if name.chars().count() > NAME27 {
        return Err(ApiError::new(ErrorCode::INV_INPUT_EXCEEDS_LENGTH));
    }
    if body.has("newName") && (body.has("action") || body.has("setmembers")) {
        return Err(ApiError::new(ErrorCode::INV_INPUT_PARAM_CONFLICT));
    }
    let action = body.enumeration("action", &[1, 2, 3, 4])?;
    let members = set_members(&body, kind)?;
    match (action, &members) {
        (Some(1 | 2), None) => return Err(json::missing("setmembers")),
        (None, Some(_)) => return Err(json::missing("action")),
        _ => {}
    }
    let new_name = body.name("newName", "set", NAME27)?;
    let comment = body.str("comment")?.map(str::to_owned);
    let flash_cache_policy = body.enumeration("flashCachePolicy", &[1, 2])?;
    let priority = body.enumeration("priority", &[1, 2, 3])?;
    if priority.is_some() && action != Some(3) {
        return Err(ApiError::member(ErrorCode::INV_INPUT_PARAM_CONFLICT, "priority", "priority needs action 3"));
    }
    if kind == Kind::Host && (flash_cache_policy.is_some() || matches!(action, Some(3 | 4))) {
        return Err(ApiError::member(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "action", "not valid for host sets"));
    }
    let members = members.unwrap_or_default();
    let changes = SetChanges {
        add: if action == Some(1) { members.clone() } else { Vec::new() },
        remove: if action == Some(2) { members } else { Vec::new() },
        new_name: new_name.clone(),
        comment,
        flash_cache_policy,
    };
    let location = format!("/api/v1/{}/{}", kind.path(), new_name.as_deref().unwrap_or(&name));
    ctx.run(move |sim, id| {
        let mut array = sim.array_mut(id);
        match (kind, action) {
            (Kind::Volume, Some(3)) => resync_set(sim, id, &name),
            (Kind::Volume, Some(4)) => {
                let set = sim.array(id).volume_set(&name)?;
                Err(crate::Error::new(
                    ErrorCode::NON_ACTIVE_TASK,
                    format!("no physical copy of '{}' is running (offline copies finish at once)", set.name),
                ))
            }
            (Kind::Volume, _) => array.modify_volume_set(&name, changes),
            (Kind::Host, _) => array.modify_host_set(&name, changes),
        }
    })
    .await?;
    Ok(Reply::ok().at(location))
}

/// Set action 3: re-copies every member that is a physical copy, after checking them all.
fn resync_set(sim: &mut crate::Simulation, id: crate::ArrayId, name: &str) -> crate::Result<()> {
    let array = sim.array(id);
    let set = array.volume_set(name)?;
    let members: Vec<String> =
        set.members.iter().filter_map(|m| array.volume_by_id(*m)).map(|v| v.name.clone()).collect();
    let copies: Vec<String> = members
        .into_iter()
        .filter(|m| array.volume(m).is_ok_and(|v| matches!(v.kind, crate::VolumeKind::PhysicalCopy { .. })))
        .collect();
    if copies.is_empty() {
        return Err(crate::Error::new(
            ErrorCode::INV_OPERATION_VV_NOT_PHYSICAL_COPY,
            format!("no member of '{name}' is a physical copy"),
        ));
    }
    if let Some(exported) = copies.iter().find(|c| array.volume(c).is_ok_and(|v| array.is_exported(v.id))) {
        return Err(crate::Error::new(ErrorCode::INV_OPERATION_VV_EXPORTED, format!("'{exported}' is exported")));
    }
    for copy in copies {
        sim.array_mut(id).resync_physical_copy(&copy)?;
    }
    Ok(())
}

/// `DELETE /<kind>/<name>`: unknown or too long → 404 (102).
pub(crate) async fn delete(ctx: &Ctx, kind: Kind, name: String) -> ApiResult<Reply> {
    ctx.run(move |sim, id| {
        let mut array = sim.array_mut(id);
        match kind {
            Kind::Volume => array.delete_volume_set(&name),
            Kind::Host => array.delete_host_set(&name),
        }
    })
    .await?;
    Ok(Reply::ok())
}

const SNAPSHOT_PARAMETERS: &[Field] = &[
    ("name", Shape::Any),
    ("id", Shape::Any),
    ("comment", Shape::Any),
    ("readOnly", Shape::Any),
    ("expirationHours", Shape::Any),
    ("retentionHours", Shape::Any),
];
const SNAPSHOT: &[Field] = &[("action", Shape::Any), ("parameters", Shape::Object(SNAPSHOT_PARAMETERS))];

/// `POST /volumesets/<name>` `{"action": "createSnapshot", ...}`.
pub(crate) async fn post_action(ctx: &Ctx, kind: Kind, name: String, req: &Req) -> ApiResult<Reply> {
    if kind == Kind::Host {
        return Err(ApiError::new(ErrorCode::UNSUP_OP));
    }
    let value = json::parse(&req.body)?;
    let action = post_action_name(&value, &["createSnapshot", "createPhysicalCopy"])?;
    if action == "createPhysicalCopy" {
        let mut error = ApiError::new(ErrorCode::UNSUP_OP);
        error.debug = Some("volume-set physical copies are not simulated".to_owned());
        return Err(error);
    }
    let body = json::object(&value, SNAPSHOT)?;
    let parameters = body.obj("parameters")?.ok_or_else(|| json::missing("parameters"))?;
    let single = snapshot_spec(&parameters)?;
    let spec = SetSnapshotSpec {
        pattern: single.name,
        read_only: single.read_only,
        id: single.id,
        comment: single.comment,
        expiration_hours: single.expiration_hours,
        retention_hours: single.retention_hours,
    };
    let location = format!("/api/v1/volumesets/{name}");
    ctx.run(move |sim, id| sim.array_mut(id).snapshot_volume_set(&name, spec)).await?;
    Ok(Reply::created(location))
}
