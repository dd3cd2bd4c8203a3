//! Volumes (spec §5.1–5.10): list and query, get, create, delete, modify, the PUT actions
//! (grow, promote, tune, resync, stop copy) and the POST actions (snapshot, physical copy).

use serde::Serialize;
use serde_json::json;

use super::OnlineCopyDelete;
use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Obj, Shape};
use super::query;
use super::render::{iso8601, unix_secs};
use crate::names::NAME31;
use crate::{
    AllocationAlerts, Array, ErrorCode, PhysicalCopySpec, PromoteOptions, Provisioning, Simulation, SnapshotSpec,
    TuneSpec, Volume, VolumeChanges, VolumeKind, VolumePolicies, VolumeSpec,
};

#[derive(Serialize)]
struct Space {
    #[serde(rename = "reservedMiB")]
    reserved_mib: u64,
    #[serde(rename = "rawReservedMiB")]
    raw_reserved_mib: u64,
    #[serde(rename = "usedMiB")]
    used_mib: u64,
    #[serde(rename = "freeMiB")]
    free_mib: u64,
}

impl Space {
    fn of(reserved_mib: u64, used_mib: u64) -> Space {
        Space { reserved_mib, raw_reserved_mib: reserved_mib * 2, used_mib, free_mib: reserved_mib - used_mib }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Policies {
    #[serde(rename = "staleSS")]
    stale_ss: bool,
    one_host: bool,
    zero_detect: bool,
    system: bool,
    caching: bool,
    fsvc: bool,
    #[serde(rename = "hostDIF", skip_serializing_if = "Option::is_none")]
    host_dif: Option<u8>,
}

/// A volume as the WSAPI shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeJson<'a> {
    id: u32,
    uuid: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    provisioning_type: u8,
    copy_type: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    copy_of: Option<&'a str>,
    base_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ro_child_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rw_child_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phys_parent_id: Option<u32>,
    read_only: bool,
    state: u8,
    failed_states: Vec<u32>,
    degraded_states: Vec<u32>,
    additional_states: Vec<u32>,
    #[serde(rename = "sizeMiB")]
    size_mib: u64,
    user_space: Space,
    snapshot_space: Space,
    admin_space: Space,
    #[serde(rename = "userCPG", skip_serializing_if = "Option::is_none")]
    user_cpg: Option<&'a str>,
    #[serde(rename = "snapCPG", skip_serializing_if = "Option::is_none")]
    snap_cpg: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
    wwn: &'a str,
    creation_time8601: String,
    creation_time_sec: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_time8601: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_time_sec: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_time8601: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_time_sec: Option<i64>,
    ss_spc_alloc_warning_pct: u8,
    ss_spc_alloc_limit_pct: u8,
    usr_spc_alloc_warning_pct: u8,
    usr_spc_alloc_limit_pct: u8,
    policies: Policies,
    compression_state: u8,
    deduplication_state: u8,
    rcopy_status: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    rcopy_group: Option<&'a str>,
    tpvv: bool,
    tdvv: bool,
    compression: bool,
    reduce: bool,
}

/// Volume `state` (spec §14.2): normal.
const VOLUME_STATE_NORMAL: u8 = 1;
/// Volume `state` (spec §14.2): failed.
const VOLUME_STATE_FAILED: u8 = 3;
/// The volume detailed state STALE (8) of the WSAPI's `VolumeDetailedState` enumeration, as
/// the HPE 3PAR SDKs define it (1 LDS_NOT_STARTED … 6 SNAPDATA_INVALID, 7 PRESERVED, 8 STALE);
/// the spec lists `failedStates` without its values.
const DETAILED_STATE_STALE: u32 = 8;

/// Children examined for `roChildId` / `rwChildId`.
const CHILD_SCAN: usize = 32;

/// Renders `volume` of `array` (borrowing its names: serialise it before the model changes).
pub(crate) fn render<'a>(sim: &Simulation, array: &'a Array, volume: &'a Volume) -> VolumeJson<'a> {
    let name_of = |id| array.volume_by_id(id).map(|v: &Volume| v.name.as_str());
    let cpg_name = |id| array.cpg_by_id(id).map(|c: &crate::Cpg| c.name.as_str());
    let (provisioning_type, copy_type) = match volume.kind {
        VolumeKind::VirtualCopy { .. } => (3, 3),
        VolumeKind::Base | VolumeKind::PhysicalCopy { .. } => (
            match volume.provisioning {
                Provisioning::Full => 1,
                Provisioning::Thin => 2,
                Provisioning::Dedup => 6,
            },
            if matches!(volume.kind, VolumeKind::PhysicalCopy { .. }) { 2 } else { 1 },
        ),
    };
    // The newest read-only / read-write child. The scan is capped so a GET stays O(1) even on a
    // base with hundreds of copies; a kind absent from the newest CHILD_SCAN children is omitted.
    let child = |read_only: bool| {
        volume
            .children()
            .iter()
            .rev()
            .take(CHILD_SCAN)
            .find(|c| array.volume_by_id(**c).is_some_and(|v| v.read_only == read_only))
    };
    let used = volume.user_space_used_mib().min(volume.size_mib);
    let reserved = if volume.is_virtual_copy() { 0 } else { volume.size_mib.max(used) };
    let snapshot =
        if volume.is_virtual_copy() { 0 } else { crate::pages_to_mib(array.snapshot_space_used_pages(volume.id)) };
    let dedup = volume.provisioning == Provisioning::Dedup;
    // Remote Copy role of the volume: 1 none, 2 primary (source side), 3 secondary.
    let membership = array.remote_copy().membership(volume.id);
    let rcopy_status = membership.map_or(1, |(group, _)| if group.role.is_source() { 2 } else { 3 });
    VolumeJson {
        id: volume.id.0,
        uuid: &volume.uuid,
        name: &volume.name,
        domain: volume.domain.as_deref(),
        provisioning_type,
        copy_type,
        copy_of: volume.copy_of().and_then(name_of),
        base_id: volume.base_id().0,
        parent_id: match volume.kind {
            VolumeKind::VirtualCopy { parent, .. } => Some(parent.0),
            _ => None,
        },
        ro_child_id: child(true).map(|c| c.0),
        rw_child_id: child(false).map(|c| c.0),
        phys_parent_id: match volume.kind {
            VolumeKind::PhysicalCopy { parent } => Some(parent.0),
            _ => None,
        },
        read_only: volume.read_only,
        // A stale copy cannot be read: FAILED, with the detailed state STALE.
        state: if volume.is_stale() { VOLUME_STATE_FAILED } else { VOLUME_STATE_NORMAL },
        failed_states: if volume.is_stale() { vec![DETAILED_STATE_STALE] } else { Vec::new() },
        degraded_states: Vec::new(),
        additional_states: Vec::new(),
        size_mib: volume.size_mib,
        user_space: if volume.is_virtual_copy() { Space::of(0, 0) } else { Space::of(reserved, used) },
        // A tree's snapshot space shows on its base volume (thin: reserved as it is used).
        snapshot_space: Space::of(snapshot, snapshot),
        admin_space: Space::of(0, 0),
        user_cpg: volume.user_cpg().and_then(cpg_name),
        snap_cpg: volume.snap_cpg().and_then(cpg_name),
        comment: volume.comment.as_deref(),
        wwn: &volume.wwn,
        creation_time8601: iso8601(sim, volume.created_at),
        creation_time_sec: unix_secs(sim, volume.created_at),
        expiration_time8601: volume.expires_at.map(|at| iso8601(sim, at)),
        expiration_time_sec: volume.expires_at.map(|at| unix_secs(sim, at)),
        retention_time8601: volume.retained_until.map(|at| iso8601(sim, at)),
        retention_time_sec: volume.retained_until.map(|at| unix_secs(sim, at)),
        ss_spc_alloc_warning_pct: volume.alerts.snapshot_warning_pct,
        ss_spc_alloc_limit_pct: volume.alerts.snapshot_limit_pct,
        usr_spc_alloc_warning_pct: volume.alerts.user_warning_pct,
        usr_spc_alloc_limit_pct: volume.alerts.user_limit_pct,
        policies: Policies {
            stale_ss: volume.policies.stale_ss,
            one_host: volume.policies.one_host,
            zero_detect: volume.policies.zero_detect,
            system: volume.policies.system,
            caching: volume.policies.caching,
            fsvc: volume.policies.fsvc,
            host_dif: volume.policies.host_dif,
        },
        compression_state: if volume.compression { 1 } else { 2 },
        deduplication_state: if dedup { 1 } else { 2 },
        rcopy_status,
        rcopy_group: membership.map(|(group, _)| group.name.as_str()),
        tpvv: volume.provisioning == Provisioning::Thin,
        tdvv: dedup,
        compression: volume.compression,
        reduce: dedup && volume.compression,
    }
}

/// `GET /volumes[?query=...]`, in id order.
pub(crate) async fn list(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let query = req.query_param("query");
    if let Some(text) = &query {
        query::Query::parse(text)?;
    }
    let members = ctx
        .model(|sim, id| {
            let array = sim.array(id);
            array.volumes().map(|v| serde_json::to_value(render(sim, array, v)).expect("volumes serialise")).collect()
        })
        .await?;
    let members = query::filter(query, members)?;
    Ok(Reply::json(200, &json!({"total": members.len(), "members": members})))
}

/// `GET /volumes/<name>` (the router has checked the name's characters).
pub(crate) async fn get(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    // Serialised in the engine, from borrowed names: no copy of the volume's strings.
    let volume = ctx
        .run(move |sim, id| {
            let array = sim.array(id);
            array.volume(&name).map(|v| super::http::json_bytes(&render(sim, array, v)))
        })
        .await?;
    Ok(Reply::raw_json(200, volume))
}

const POLICIES: &[Field] = &[
    ("staleSS", Shape::Any),
    ("oneHost", Shape::Any),
    ("zeroDetect", Shape::Any),
    ("system", Shape::Any),
    ("caching", Shape::Any),
    ("fsvc", Shape::Any),
    ("hostDIF", Shape::Any),
];

const CREATE: &[Field] = &[
    ("name", Shape::Any),
    ("cpg", Shape::Any),
    ("sizeMiB", Shape::Any),
    ("id", Shape::Any),
    ("comment", Shape::Any),
    ("policies", Shape::Object(POLICIES)),
    ("snapCPG", Shape::Any),
    ("ssSpcAllocWarningPct", Shape::Any),
    ("ssSpcAllocLimitPct", Shape::Any),
    ("usrSpcAllocWarningPct", Shape::Any),
    ("usrSpcAllocLimitPct", Shape::Any),
    ("tpvv", Shape::Any),
    ("tdvv", Shape::Any),
    ("compression", Shape::Any),
    ("reduce", Shape::Any),
    ("expirationHours", Shape::Any),
    ("retentionHours", Shape::Any),
];

/// Largest explicit volume id.
const MAX_VOLUME_ID: i64 = 65_535;

/// Hours members: 1..=43,800 are checked by the model; here only the type and sign.
fn hours(body: &Obj<'_>, key: &str) -> ApiResult<Option<u64>> {
    Ok(body.int(key, 0, i64::MAX)?.map(|h| h as u64))
}

fn pct(body: &Obj<'_>, key: &str) -> ApiResult<Option<u8>> {
    Ok(body.int(key, 0, 100)?.map(|p| p as u8))
}

fn policies(body: &Obj<'_>, base: VolumePolicies) -> ApiResult<Option<VolumePolicies>> {
    let Some(p) = body.obj("policies")? else {
        return Ok(None);
    };
    Ok(Some(VolumePolicies {
        fsvc: p.bool("fsvc")?.unwrap_or(base.fsvc),
        // 1 3PAR host DIF, 2 standard host DIF, 3 no host DIF (the WSAPI's hostDIF enum).
        host_dif: p.enumeration("hostDIF", &[1, 2, 3])?.or(base.host_dif),
        stale_ss: p.bool("staleSS")?.unwrap_or(base.stale_ss),
        one_host: p.bool("oneHost")?.unwrap_or(base.one_host),
        zero_detect: p.bool("zeroDetect")?.unwrap_or(base.zero_detect),
        system: p.bool("system")?.unwrap_or(base.system),
        caching: p.bool("caching")?.unwrap_or(base.caching),
    }))
}

/// Resolves the provisioning flags (spec §5.3): `reduce` or `tdvv` → dedup, `tpvv` → thin,
/// none → full (refused on the Primera persona with code 78, ref `tpvv,reduce`).
fn provisioning(body: &Obj<'_>, primera: bool) -> ApiResult<(Provisioning, bool)> {
    let tpvv = body.flag("tpvv")?;
    let tdvv = body.flag("tdvv")?;
    let compression = body.flag("compression")?;
    let reduce = body.flag("reduce")?;
    if tpvv && (tdvv || reduce) {
        return Err(ApiError::member(ErrorCode::INV_INPUT_PARAM_CONFLICT, "tpvv", "tpvv conflicts with tdvv/reduce"));
    }
    if primera && !tpvv && !reduce {
        return Err(ApiError::new(ErrorCode::INV_INPUT_ONE_REQUIRED).with_ref("tpvv,reduce"));
    }
    Ok(if reduce || tdvv {
        (Provisioning::Dedup, compression || reduce)
    } else if tpvv {
        (Provisioning::Thin, compression)
    } else {
        (Provisioning::Full, compression)
    })
}

/// `POST /volumes`.
pub(crate) async fn create(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, CREATE)?;
    let (provisioning, compression) = provisioning(&body, ctx.shared.config.version.is_primera())?;
    let name = body.req_name("name", "volume", NAME31)?;
    let cpg = body.req_name("cpg", "CPG", NAME31)?;
    let size =
        body.int_in("sizeMiB", i64::MIN, i64::MAX, ErrorCode::TOO_LARGE)?.ok_or_else(|| json::missing("sizeMiB"))?;
    let spec = VolumeSpec {
        name: name.clone(),
        cpg,
        size_mib: size.max(0) as u64,
        id: body.int("id", 1, MAX_VOLUME_ID)?.map(|id| id as u32),
        provisioning,
        compression,
        snap_cpg: body.name("snapCPG", "CPG", NAME31)?,
        comment: body.str("comment")?.map(str::to_owned),
        expiration_hours: hours(&body, "expirationHours")?,
        retention_hours: hours(&body, "retentionHours")?,
        policies: policies(&body, VolumePolicies::default())?.unwrap_or_default(),
        alerts: AllocationAlerts {
            snapshot_warning_pct: pct(&body, "ssSpcAllocWarningPct")?.unwrap_or(0),
            snapshot_limit_pct: pct(&body, "ssSpcAllocLimitPct")?.unwrap_or(0),
            user_warning_pct: pct(&body, "usrSpcAllocWarningPct")?.unwrap_or(0),
            user_limit_pct: pct(&body, "usrSpcAllocLimitPct")?.unwrap_or(0),
        },
    };
    ctx.run(move |sim, id| sim.array_mut(id).create_volume(spec)).await?;
    Ok(Reply::created(format!("/api/v1/volumes/{name}")))
}

/// `DELETE /volumes/<name>`; with [`OnlineCopyDelete::Cancel`] an active online copy of the
/// volume is cancelled first (and restored if the delete still fails).
pub(crate) async fn delete(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    let cancel = ctx.shared.config.online_copy_delete == OnlineCopyDelete::Cancel;
    ctx.run(move |sim, id| {
        let task = sim.array(id).volume(&name)?.online_copy;
        match task {
            Some(task) if cancel => {
                let before = sim.clone();
                let result = sim.array_mut(id).cancel_task(task).and_then(|()| sim.array_mut(id).delete_volume(&name));
                if result.is_err() {
                    *sim = before;
                }
                result
            }
            _ => sim.array_mut(id).delete_volume(&name),
        }
    })
    .await?;
    Ok(Reply::ok())
}

const MODIFY: &[Field] = &[
    ("newName", Shape::Any),
    ("comment", Shape::Any),
    ("snapCPG", Shape::Any),
    ("userCPG", Shape::Any),
    ("expirationHours", Shape::Any),
    ("retentionHours", Shape::Any),
    ("ssSpcAllocWarningPct", Shape::Any),
    ("ssSpcAllocLimitPct", Shape::Any),
    ("usrSpcAllocWarningPct", Shape::Any),
    ("usrSpcAllocLimitPct", Shape::Any),
    ("rmSsSpcAllocWarning", Shape::Any),
    ("rmUsrSpcAllocWarning", Shape::Any),
    ("rmUsrSpcAllocWarwaning", Shape::Any),
    ("rmExpTime", Shape::Any),
    ("rmSsSpcAllocLimit", Shape::Any),
    ("rmUsrSpcAllocLimit", Shape::Any),
    ("policies", Shape::Object(POLICIES)),
];

const POLICIES_WRAPPER: &[Field] = &[("policies", Shape::Object(POLICIES))];

const GROW: &[Field] = &[("action", Shape::Any), ("sizeMiB", Shape::Any)];
const PROMOTE: &[Field] =
    &[("action", Shape::Any), ("online", Shape::Any), ("allowRemoteCopyParent", Shape::Any), ("priority", Shape::Any)];
const TUNE: &[Field] = &[
    ("action", Shape::Any),
    ("tuneOperation", Shape::Any),
    ("userCPG", Shape::Any),
    ("snapCPG", Shape::Any),
    ("conversionOperation", Shape::Any),
    ("keepVV", Shape::Any),
    ("compression", Shape::Any),
];
const BARE_ACTION: &[Field] = &[("action", Shape::Any), ("priority", Shape::Any)];

#[derive(Serialize)]
struct TaskId {
    taskid: u32,
}

/// `PUT /volumes/<name>`: a modification, or action 1/2/3/4/6.
pub(crate) async fn put(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    let value = json::parse(&req.body)?;
    let action = match &value {
        serde_json::Value::Object(map) if map.get("action").is_some_and(|a| !a.is_null()) => {
            let probe = json!({"action": map["action"]});
            json::object(&probe, &[("action", Shape::Any)])?.enumeration("action", &[1, 2, 3, 4, 6])?
        }
        _ => None,
    };
    match action {
        None => modify(ctx, name, json::object(&value, MODIFY)?).await,
        Some(3) => grow(ctx, name, json::object(&value, GROW)?).await,
        Some(4) => promote(ctx, name, json::object(&value, PROMOTE)?).await,
        Some(6) => tune(ctx, name, json::object(&value, TUNE)?).await,
        Some(2) => {
            let body = json::object(&value, BARE_ACTION)?;
            body.enumeration("priority", &[1, 2, 3])?;
            let task = ctx.run(move |sim, id| sim.array_mut(id).resync_physical_copy(&name)).await?;
            Ok(Reply::json(200, &TaskId { taskid: task.0 }))
        }
        _ => {
            json::object(&value, BARE_ACTION)?;
            // Offline copies finish as soon as they start, so there is never one to stop.
            ctx.run(move |sim, id| {
                let volume = sim.array(id).volume(&name)?;
                Err(crate::Error::new(
                    ErrorCode::NON_ACTIVE_TASK,
                    format!("no offline physical copy into '{}' is running", volume.name),
                ))
            })
            .await
        }
    }
}

async fn modify(ctx: &Ctx, name: String, body: Obj<'_>) -> ApiResult<Reply> {
    let new_name = body.name("newName", "volume", NAME31)?;
    let comment = body.str("comment")?.map(str::to_owned);
    let snap_cpg = body.name("snapCPG", "CPG", NAME31)?;
    let user_cpg = body.name("userCPG", "CPG", NAME31)?;
    let expiration_hours = hours(&body, "expirationHours")?;
    let retention_hours = hours(&body, "retentionHours")?;
    let set = [
        pct(&body, "ssSpcAllocWarningPct")?,
        pct(&body, "ssSpcAllocLimitPct")?,
        pct(&body, "usrSpcAllocWarningPct")?,
        pct(&body, "usrSpcAllocLimitPct")?,
    ];
    let remove = [
        body.flag("rmSsSpcAllocWarning")?,
        body.flag("rmSsSpcAllocLimit")?,
        body.flag("rmUsrSpcAllocWarning")? || body.flag("rmUsrSpcAllocWarwaning")?,
        body.flag("rmUsrSpcAllocLimit")?,
    ];
    let remove_expiration = body.flag("rmExpTime")?;
    policies(&body, VolumePolicies::default())?;
    let policies_value = body.get("policies").cloned();
    let location = format!("/api/v1/volumes/{}", new_name.as_deref().unwrap_or(&name));
    ctx.run(move |sim, id| {
        let volume = sim.array(id).volume(&name)?;
        let mut alerts = volume.alerts;
        let fields = [
            &mut alerts.snapshot_warning_pct,
            &mut alerts.snapshot_limit_pct,
            &mut alerts.user_warning_pct,
            &mut alerts.user_limit_pct,
        ];
        let mut alerts_changed = false;
        for ((field, new), rm) in fields.into_iter().zip(set).zip(remove) {
            if let Some(new) = new {
                *field = new;
                alerts_changed = true;
            }
            if rm {
                *field = 0;
                alerts_changed = true;
            }
        }
        let policies = match &policies_value {
            Some(value) => {
                let wrapped = json!({ "policies": value });
                let outer = json::object(&wrapped, POLICIES_WRAPPER).expect("checked before the model call");
                policies(&outer, volume.policies).expect("checked before the model call")
            }
            None => None,
        };
        let changes = VolumeChanges {
            new_name,
            comment,
            snap_cpg,
            user_cpg,
            expiration_hours,
            retention_hours,
            remove_expiration,
            policies,
            alerts: alerts_changed.then_some(alerts),
        };
        sim.array_mut(id).modify_volume(&name, changes)
    })
    .await?;
    Ok(Reply::ok().at(location))
}

async fn grow(ctx: &Ctx, name: String, body: Obj<'_>) -> ApiResult<Reply> {
    let size = body.int_in("sizeMiB", i64::MIN, i64::MAX, ErrorCode::INV_INPUT_EXCEEDS_RANGE)?;
    let size = size.ok_or_else(|| json::missing("sizeMiB"))?;
    if size <= 0 {
        return Err(ApiError::member(ErrorCode::INV_INPUT_VV_GROW_SIZE, "sizeMiB", "the grow size must be positive"));
    }
    ctx.run(move |sim, id| sim.array_mut(id).grow_volume(&name, size as u64)).await?;
    Ok(Reply::ok())
}

async fn promote(ctx: &Ctx, name: String, body: Obj<'_>) -> ApiResult<Reply> {
    let options = PromoteOptions {
        target: None,
        allow_remote_copy_parent: body.flag("allowRemoteCopyParent")?,
        online: body.flag("online")?,
        priority: body.enumeration("priority", &[1, 2, 3])?,
    };
    let task = ctx.run(move |sim, id| sim.array_mut(id).promote_snapshot(&name, options)).await?;
    Ok(Reply::json(200, &TaskId { taskid: task.0 }))
}

async fn tune(ctx: &Ctx, name: String, body: Obj<'_>) -> ApiResult<Reply> {
    let operation = body.enumeration("tuneOperation", &[1, 2])?;
    let conversion = body.enumeration("conversionOperation", &[1, 2, 3, 4])?;
    let compression = body.bool("compression")?;
    let keep = body.name("keepVV", "volume", NAME31)?;
    let user_cpg = body.name("userCPG", "CPG", NAME31)?;
    let snap_cpg = body.name("snapCPG", "CPG", NAME31)?;
    match operation {
        None => return Err(json::missing("tuneOperation")),
        Some(1) if user_cpg.is_none() => return Err(json::missing("userCPG")),
        Some(2) if snap_cpg.is_none() => return Err(json::missing("snapCPG")),
        _ => {}
    }
    let task = ctx
        .run(move |sim, id| {
            let volume = sim.array(id).volume(&name)?;
            let conversion = match (conversion, compression) {
                (Some(1), c) => Some((Provisioning::Thin, c.unwrap_or(false))),
                (Some(2), c) => Some((Provisioning::Full, c.unwrap_or(false))),
                (Some(3), c) => Some((Provisioning::Dedup, c.unwrap_or(false))),
                (Some(_), _) => Some((Provisioning::Dedup, true)),
                (None, Some(c)) => Some((volume.provisioning, c)),
                (None, None) => None,
            };
            let spec = TuneSpec { user_cpg, snap_cpg, conversion, keep_volume: keep };
            sim.array_mut(id).tune_volume(&name, spec)
        })
        .await?;
    Ok(Reply::json(200, &TaskId { taskid: task.0 }))
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

const COPY_PARAMETERS: &[Field] = &[
    ("destVolume", Shape::Any),
    ("destCPG", Shape::Any),
    ("online", Shape::Any),
    ("tpvv", Shape::Any),
    ("tdvv", Shape::Any),
    ("compression", Shape::Any),
    ("reduce", Shape::Any),
    ("snapCPG", Shape::Any),
    ("saveSnapshot", Shape::Any),
    ("priority", Shape::Any),
];
const COPY: &[Field] = &[("action", Shape::Any), ("parameters", Shape::Object(COPY_PARAMETERS))];

/// The `action` string of a POST body: missing → 40, not a string → 39, unknown → 46.
pub(crate) fn post_action_name(value: &serde_json::Value, known: &[&'static str]) -> ApiResult<&'static str> {
    let serde_json::Value::Object(map) = value else {
        return Err(ApiError::invalid("the request body must be a JSON object"));
    };
    match map.get("action") {
        None | Some(serde_json::Value::Null) => Err(json::missing("action")),
        Some(serde_json::Value::String(action)) => known.iter().find(|k| **k == action).copied().ok_or_else(|| {
            ApiError::member(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "action", &format!("unknown action '{action}'"))
        }),
        Some(_) => Err(json::wrong_type("action", "a string")),
    }
}

/// Creates the snapshot `spec` of volume `name`; the body has been read and checked.
async fn create_snapshot(ctx: &Ctx, name: String, spec: SnapshotSpec) -> ApiResult<Reply> {
    crate::names::validate_name("snapshot", &spec.name, NAME31).map_err(|e| ApiError::from(e).with_ref("name"))?;
    const PREFIX: &str = "/api/v1/volumes/";
    let mut location = String::with_capacity(PREFIX.len() + spec.name.len());
    location.push_str(PREFIX);
    location.push_str(&spec.name);
    ctx.run(move |sim, id| sim.array_mut(id).create_snapshot(&name, spec)).await?;
    Ok(Reply::created(location))
}

/// The most common snapshot request, read without building a `serde_json::Value`:
/// `{"action": "createSnapshot", "parameters": {"name": "...", "readOnly": true|false}}`, members
/// in any order, `readOnly` optional, strings without escapes. Any other body, a well-formed one
/// included (another member, a `null`, a repeated member, an escape, an array), is `None`: the
/// general path then reads it, and for the bodies accepted here it reaches the same
/// [`SnapshotSpec`] (tested below).
///
/// Why: snapshot creation is what backup tools call in bulk, and building and dropping the
/// `Value` tree (two maps, six strings) was a third of the request's server-side work outside the
/// model. The cost: a second reader of this one body shape, kept equal to the first by a test.
fn plain_snapshot_request(body: &[u8]) -> Option<SnapshotSpec> {
    let request: plain::Body<'_> = serde_json::from_slice(body).ok()?;
    Some(SnapshotSpec { name: request.name.to_owned(), read_only: request.read_only, ..SnapshotSpec::default() })
}

/// Visitors of [`plain_snapshot_request`]: objects only (serde's derived readers also take
/// arrays), each member at most once, nothing else.
mod plain {
    use std::fmt;

    use serde::de::{self, Deserializer, MapAccess, Visitor};

    /// What a plain snapshot body carries.
    pub(super) struct Body<'a> {
        pub(super) name: &'a str,
        pub(super) read_only: bool,
    }

    struct Parameters<'a>(Body<'a>);

    fn unexpected<E: de::Error>() -> E {
        E::custom("not a plain snapshot request")
    }

    impl<'de> de::Deserialize<'de> for Body<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(BodyVisitor)
        }
    }

    impl<'de> de::Deserialize<'de> for Parameters<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(ParametersVisitor)
        }
    }

    struct BodyVisitor;

    impl<'de> Visitor<'de> for BodyVisitor {
        type Value = Body<'de>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a createSnapshot request")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut action, mut parameters) = (false, None);
            while let Some(key) = map.next_key::<&str>()? {
                match key {
                    "action" if !action => {
                        if map.next_value::<&str>()? != "createSnapshot" {
                            return Err(unexpected());
                        }
                        action = true;
                    }
                    "parameters" if parameters.is_none() => parameters = Some(map.next_value::<Parameters<'de>>()?.0),
                    _ => return Err(unexpected()),
                }
            }
            match parameters {
                Some(body) if action => Ok(body),
                _ => Err(unexpected()),
            }
        }
    }

    struct ParametersVisitor;

    impl<'de> Visitor<'de> for ParametersVisitor {
        type Value = Parameters<'de>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("createSnapshot parameters")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut name, mut read_only) = (None, None);
            while let Some(key) = map.next_key::<&str>()? {
                match key {
                    "name" if name.is_none() => name = Some(map.next_value::<&str>()?),
                    "readOnly" if read_only.is_none() => read_only = Some(map.next_value::<bool>()?),
                    _ => return Err(unexpected()),
                }
            }
            let name = name.ok_or_else(unexpected)?;
            Ok(Parameters(Body { name, read_only: read_only.unwrap_or(false) }))
        }
    }
}

/// Snapshot parameters shared by volume and volume-set snapshots.
pub(crate) fn snapshot_spec(parameters: &Obj<'_>) -> ApiResult<SnapshotSpec> {
    Ok(SnapshotSpec {
        name: parameters.req_str("name")?.to_owned(),
        read_only: parameters.flag("readOnly")?,
        id: parameters.int("id", 1, MAX_VOLUME_ID)?.map(|id| id as u32),
        comment: parameters.str("comment")?.map(str::to_owned),
        expiration_hours: hours(parameters, "expirationHours")?,
        retention_hours: hours(parameters, "retentionHours")?,
    })
}

/// `POST /volumes/<name>`: `createSnapshot` or `createPhysicalCopy`.
pub(crate) async fn post_action(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    if let Some(spec) = plain_snapshot_request(&req.body) {
        return create_snapshot(ctx, name, spec).await;
    }
    let value = json::parse(&req.body)?;
    let action = post_action_name(&value, &["createSnapshot", "createPhysicalCopy"])?;
    if action == "createSnapshot" {
        let body = json::object(&value, SNAPSHOT)?;
        let parameters = body.obj("parameters")?.ok_or_else(|| json::missing("parameters"))?;
        let spec = snapshot_spec(&parameters)?;
        return create_snapshot(ctx, name, spec).await;
    }
    let body = json::object(&value, COPY)?;
    let parameters = body.obj("parameters")?.ok_or_else(|| json::missing("parameters"))?;
    let destination = parameters.req_name("destVolume", "volume", NAME31)?;
    let online = parameters.flag("online")?;
    let destination_cpg = parameters.name("destCPG", "CPG", NAME31)?;
    let snap_cpg = parameters.name("snapCPG", "CPG", NAME31)?;
    let save_snapshot = parameters.bool("saveSnapshot")?;
    let priority = parameters.enumeration("priority", &[1, 2, 3])?;
    let offline_only = |member: &str| {
        ApiError::member(ErrorCode::INV_INPUT_PARAM_CONFLICT, member, &format!("'{member}' needs an offline copy"))
    };
    let online_only = |member: &str| {
        ApiError::member(ErrorCode::INV_INPUT_PARAM_CONFLICT, member, &format!("'{member}' needs an online copy"))
    };
    let (provisioning, compression) = if online {
        if save_snapshot.is_some() {
            return Err(offline_only("saveSnapshot"));
        }
        if priority.is_some() {
            return Err(offline_only("priority"));
        }
        if destination_cpg.is_none() {
            return Err(json::missing("destCPG"));
        }
        provisioning(&parameters, ctx.shared.config.version.is_primera())?
    } else {
        for member in ["tpvv", "tdvv", "compression", "reduce"] {
            parameters.bool(member)?;
            if parameters.has(member) {
                return Err(online_only(member));
            }
        }
        if destination_cpg.is_some() {
            return Err(online_only("destCPG"));
        }
        if snap_cpg.is_some() {
            return Err(online_only("snapCPG"));
        }
        (Provisioning::Full, false)
    };
    let spec = PhysicalCopySpec {
        destination: destination.clone(),
        online,
        destination_cpg,
        provisioning,
        compression,
        snap_cpg,
        priority,
    };
    let task = ctx.run(move |sim, id| sim.array_mut(id).copy_volume(&name, spec)).await?;
    Ok(Reply::json(200, &TaskId { taskid: task.0 }).at(format!("/api/v1/volumes/{destination}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general path's reading of a `createSnapshot` body.
    fn general(body: &str) -> ApiResult<SnapshotSpec> {
        let value = json::parse(body.as_bytes())?;
        assert_eq!(post_action_name(&value, &["createSnapshot", "createPhysicalCopy"])?, "createSnapshot");
        let body = json::object(&value, SNAPSHOT)?;
        let parameters = body.obj("parameters")?.ok_or_else(|| json::missing("parameters"))?;
        snapshot_spec(&parameters)
    }

    // Goal: the plain reader of snapshot bodies takes only bodies the general path reads, and
    // reads them to the same spec. Method: bodies it must take, compared with the general path,
    // and bodies it must leave to the general path (some valid, some refused there).
    #[test]
    fn plain_snapshot_requests_read_as_the_general_path_reads_them() {
        let taken = [
            r#"{"action":"createSnapshot","parameters":{"name":"s1","readOnly":true}}"#,
            r#"{"parameters":{"readOnly":false,"name":"s1"},"action":"createSnapshot"}"#,
            r#" { "action" : "createSnapshot" , "parameters" : { "name" : "bad name!" } } "#,
        ];
        for body in taken {
            let plain = plain_snapshot_request(body.as_bytes()).expect(body);
            let general = general(body).expect(body);
            assert_eq!(plain, general, "{body}");
        }
        let left = [
            "",
            "[]",
            r#"["createSnapshot",{"name":"s1"}]"#,
            r#"{"action":"createSnapshot","parameters":["s1",true]}"#,
            r#"{"action":"createSnapshot","parameters":{"name":"s1","readOnly":null}}"#,
            r#"{"action":"createSnapshot","parameters":{"name":"s1","id":7}}"#,
            r#"{"action":"createSnapshot","parameters":{"name":"s\u0031"}}"#,
            r#"{"action":"createSnapshot","parameters":{"name":"s1","name":"s2"}}"#,
            r#"{"action":"createSnapshot","action":"createSnapshot","parameters":{"name":"s1"}}"#,
            r#"{"action":"createSnapshot","parameters":{"name":"s1"},"extra":1}"#,
            r#"{"action":"createPhysicalCopy","parameters":{"name":"s1"}}"#,
            r#"{"action":"createSnapshot","parameters":{"readOnly":true}}"#,
            r#"{"action":"createSnapshot","parameters":null}"#,
            r#"{"action":"createSnapshot"}"#,
            r#"{"parameters":{"name":"s1"}}"#,
            r#"{"action":"createSnapshot","parameters":{"name":"s1"}} x"#,
        ];
        for body in left {
            assert!(plain_snapshot_request(body.as_bytes()).is_none(), "{body}");
        }
    }
}
