//! Remote Copy groups (spec §12.2–§12.4, endpoints #56–#65): list, get, create, modify, the
//! PUT actions (admit, dismiss, start, stop, synchronize), the disaster-recovery POST actions
//! (reverse, failover, switchover, recover, restore, override failsafe), delete, and the
//! group's `/volumes` sub-resource.
//!
//! Each listener shows its own array's view: the partner group `<name>.r<primary system id>`
//! is an ordinary group on the target array, with its own role, state and volume names, so a
//! client logged in to the backup fails over by acting on the partner, as Cinder does.
//!
//! What it deliberately does not do: asynchronous streaming mode (mode 4, `snapFrequency`),
//! several targets per group, starting snapshots (`snapshotName`, `startingSnapshots` are
//! checked, then the initial sync is a full one), `noResyncSnapshot`/`noSnapshot` on DR actions
//! (accepted, no effect), `localGroupsDirection` (refused) and failsafe (action 11 answers 403:
//! no group is ever in the failsafe state). Every rule about roles and states lives in
//! `crate::remote_copy`; this file translates JSON to model calls.
//!
//! Design choice: the checks that need the group (a `targetName` that is not the group's
//! target, starting snapshots) run in the engine closure before the model operation, so the
//! order stays "member shapes (400), then existence (404), then state (403/409)" and a refused
//! request changes nothing. The cost: those checks read the group twice (once here, once in the
//! model operation), which is negligible next to an HTTP round trip.

use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Obj, Shape};
use super::render::{Collection, iso8601};
use crate::names::NAME31;
use crate::{
    AdmitSpec, Array, DrOptions, Error, ErrorCode, GroupChanges, GroupPolicies, GroupSpec, Mode, RcGroup, Simulation,
    StartOptions, StopOptions, SyncOptions, VolumeKind,
};

/// Smallest and largest `syncPeriod` and `snapFrequency`, seconds.
const PERIOD_RANGE: (i64, i64) = (300, 31_622_400);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PoliciesJson {
    auto_recover: bool,
    over_period_alert: bool,
    auto_failover: bool,
    path_management: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetJson {
    target_name: String,
    /// Same value as `targetName`: the client's `targetInRemoteCopyGroupExists` reads `target`.
    target: String,
    target_id: u32,
    mode: u8,
    state: u8,
    role_reversed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_last_sync_time: Option<String>,
    sync_period: u64,
    policies: PoliciesJson,
    #[serde(rename = "remoteUserCPG", skip_serializing_if = "Option::is_none")]
    remote_user_cpg: Option<String>,
    #[serde(rename = "remoteSnapCPG", skip_serializing_if = "Option::is_none")]
    remote_snap_cpg: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RemoteVolumeJson {
    target_name: String,
    remote_volume_name: String,
    #[serde(rename = "remoteVolumeID")]
    remote_volume_id: u32,
    sync_status: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_sync_time: Option<String>,
}

/// A volume element of a group (also the answer of `GET …/volumes/<v>`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupVolumeJson {
    local_volume_name: String,
    #[serde(rename = "localVolumeID")]
    local_volume_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_snapshot_name: Option<String>,
    remote_volumes: Vec<RemoteVolumeJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupJson {
    name: String,
    id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    role: u8,
    #[serde(rename = "localUserCPG", skip_serializing_if = "Option::is_none")]
    local_user_cpg: Option<String>,
    #[serde(rename = "localSnapCPG", skip_serializing_if = "Option::is_none")]
    local_snap_cpg: Option<String>,
    targets: Vec<TargetJson>,
    volumes: Vec<GroupVolumeJson>,
}

fn render_volumes(sim: &Simulation, array: &Array, group: &RcGroup) -> Vec<GroupVolumeJson> {
    let name_of = |id| array.volume_by_id(id).map(|v| v.name.clone());
    group
        .volumes
        .iter()
        .map(|entry| GroupVolumeJson {
            local_volume_name: name_of(entry.local).unwrap_or_default(),
            local_volume_id: entry.local.0,
            local_snapshot_name: entry.resync_snapshot.and_then(name_of),
            remote_volumes: vec![RemoteVolumeJson {
                target_name: group.target.clone(),
                remote_volume_name: entry.remote_name.clone(),
                remote_volume_id: entry.remote.0,
                sync_status: entry.status.number(),
                last_sync_time: entry.last_sync_time.map(|at| iso8601(sim, at)),
            }],
        })
        .collect()
}

fn render(sim: &Simulation, array: &Array, group: &RcGroup) -> GroupJson {
    let cpg_name = |id| array.cpg_by_id(id).map(|c: &crate::Cpg| c.name.clone());
    let target = TargetJson {
        target_name: group.target.clone(),
        target: group.target.clone(),
        target_id: array.remote_copy().target(&group.target).map_or(0, |t| t.id),
        mode: group.mode_number,
        state: group.state.number(),
        role_reversed: group.role.is_reversed(),
        group_last_sync_time: group.stats.last_sync_completed.map(|at| iso8601(sim, at)),
        sync_period: group.sync_period.as_secs(),
        policies: PoliciesJson {
            auto_recover: group.policies.auto_recover,
            over_period_alert: group.policies.over_period_alert,
            auto_failover: group.policies.auto_failover,
            path_management: group.policies.path_management,
        },
        remote_user_cpg: group.remote_user_cpg.clone(),
        remote_snap_cpg: group.remote_snap_cpg.clone(),
    };
    GroupJson {
        name: group.name.clone(),
        id: group.id.0,
        domain: group.domain.clone(),
        role: group.role.number(),
        local_user_cpg: group.local_user_cpg.and_then(cpg_name),
        local_snap_cpg: group.local_snap_cpg.and_then(cpg_name),
        targets: vec![target],
        volumes: render_volumes(sim, array, group),
    }
}

/// The location of a group.
fn location(name: &str) -> String {
    format!("/api/v1/remotecopygroups/{name}")
}

/// The group `name` on `array`, or `NON_EXISTENT_RCOPY_GROUP` (187).
fn group<'a>(sim: &'a Simulation, array: crate::ArrayId, name: &str) -> crate::Result<&'a RcGroup> {
    sim.array(array).remote_copy().group(name)
}

/// `RCOPY_GROUP_INV_TARGET` unless every name in `targets` is the group's target.
fn check_targets(group: &RcGroup, targets: &[String]) -> crate::Result<()> {
    match targets.iter().find(|t| **t != group.target) {
        Some(other) => Err(Error::new(
            ErrorCode::RCOPY_GROUP_INV_TARGET,
            format!("'{other}' is not a target of '{}' (its target is '{}')", group.name, group.target),
        )),
        None => Ok(()),
    }
}

/// `400 RCOPY_GROUP_TARGET_NOT_UNIQUE` when a target is named twice.
fn unique_targets(names: &[String]) -> ApiResult<()> {
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(ApiError::member(
                ErrorCode::RCOPY_GROUP_TARGET_NOT_UNIQUE,
                "targets",
                &format!("target '{name}' is listed twice"),
            ));
        }
    }
    Ok(())
}

/// A `mode` member: 1 sync, 2/3 periodic; 4 (asynchronous streaming) is not modelled.
fn mode(body: &Obj<'_>) -> ApiResult<Option<(Mode, u8)>> {
    match body.enumeration("mode", &[1, 2, 3, 4])? {
        None => Ok(None),
        Some(1) => Ok(Some((Mode::Synchronous, 1))),
        Some(4) => Err(ApiError::member(
            ErrorCode::INV_INPUT_BAD_ENUM_VALUE,
            "mode",
            "mode 4 (asynchronous streaming) is not modelled by the simulator",
        )),
        Some(n) => Ok(Some((Mode::Periodic, n))),
    }
}

/// `GET /remotecopygroups`.
pub(crate) async fn list(ctx: &Ctx) -> ApiResult<Reply> {
    let groups = ctx
        .model(|sim, id| {
            let array = sim.array(id);
            array.remote_copy().groups().map(|g| render(sim, array, g)).collect::<Vec<_>>()
        })
        .await?;
    Ok(Reply::json(200, &Collection::of(groups)))
}

/// `GET /remotecopygroups/<name>`.
pub(crate) async fn get(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    let group = ctx.run(move |sim, id| group(sim, id, &name).map(|g| render(sim, sim.array(id), g))).await?;
    Ok(Reply::json(200, &group))
}

const CREATE_TARGET: &[Field] =
    &[("targetName", Shape::Any), ("mode", Shape::Any), ("userCPG", Shape::Any), ("snapCPG", Shape::Any)];
const CREATE: &[Field] = &[
    ("name", Shape::Any),
    ("targets", Shape::ObjectList(CREATE_TARGET)),
    ("localUserCPG", Shape::Any),
    ("localSnapCPG", Shape::Any),
    ("domain", Shape::Any),
];

/// A required, non-empty list of target objects.
fn targets<'a>(body: &Obj<'a>) -> ApiResult<Vec<Obj<'a>>> {
    match body.obj_list("targets")? {
        Some(list) if !list.is_empty() => Ok(list),
        _ => Err(json::missing("targets")),
    }
}

/// `400 RCOPY_GROUP_TOO_MANY_TARGETS`: the model has one target per group.
fn one_target(count: usize) -> ApiResult<()> {
    if count > 1 {
        return Err(ApiError::member(
            ErrorCode::RCOPY_GROUP_TOO_MANY_TARGETS,
            "targets",
            "the simulator models one target per remote copy group",
        ));
    }
    Ok(())
}

/// `POST /remotecopygroups`: the group on this array and its partner on the target's array.
pub(crate) async fn create(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let value = json::parse(&req.body)?;
    let body = json::object(&value, CREATE)?;
    let name = body.req_name("name", "remote copy group", NAME31)?;
    let mut parsed = Vec::new();
    for target in targets(&body)? {
        let target_name = target.req_name("targetName", "target", NAME31)?;
        let mode = mode(&target)?.ok_or_else(|| json::missing("mode"))?;
        let user_cpg = target.name("userCPG", "CPG", NAME31)?;
        let snap_cpg = target.name("snapCPG", "CPG", NAME31)?;
        parsed.push((target_name, mode, user_cpg, snap_cpg));
    }
    unique_targets(&parsed.iter().map(|t| t.0.clone()).collect::<Vec<_>>())?;
    one_target(parsed.len())?;
    let local_user_cpg = body.name("localUserCPG", "CPG", NAME31)?;
    let local_snap_cpg = body.name("localSnapCPG", "CPG", NAME31)?;
    let domain = body.name("domain", "domain", NAME31)?;
    let (target, (mode, mode_number), remote_user_cpg, remote_snap_cpg) =
        parsed.pop().expect("targets() returns at least one");
    let spec = GroupSpec {
        mode_number: Some(mode_number),
        local_user_cpg,
        local_snap_cpg,
        remote_user_cpg,
        remote_snap_cpg,
        domain,
        ..GroupSpec::new(&name, &target, mode)
    };
    ctx.run(move |sim, id| sim.remote_copy().create_group(id, spec)).await?;
    Ok(Reply::created(location(&name)))
}

const POLICIES: &[Field] = &[
    ("autoRecover", Shape::Any),
    ("overPeriodAlert", Shape::Any),
    ("autoFailover", Shape::Any),
    ("pathManagement", Shape::Any),
];
const MODIFY_TARGET: &[Field] = &[
    ("targetName", Shape::Any),
    ("remoteUserCPG", Shape::Any),
    ("remoteSnapCPG", Shape::Any),
    ("syncPeriod", Shape::Any),
    ("rmSyncPeriod", Shape::Any),
    ("mode", Shape::Any),
    ("snapFrequency", Shape::Any),
    ("rmSnapFrequency", Shape::Any),
    ("policies", Shape::Object(POLICIES)),
];
const MODIFY: &[Field] = &[
    ("localUserCPG", Shape::Any),
    ("localSnapCPG", Shape::Any),
    ("unsetUserCPG", Shape::Any),
    ("unsetSnapCPG", Shape::Any),
    ("targets", Shape::ObjectList(MODIFY_TARGET)),
];

/// Policy members given in a modification; absent ones keep the group's value.
#[derive(Debug, Clone, Copy, Default)]
struct PolicyChanges {
    auto_recover: Option<bool>,
    over_period_alert: Option<bool>,
    auto_failover: Option<bool>,
    path_management: Option<bool>,
}

impl PolicyChanges {
    fn apply(self, base: GroupPolicies) -> GroupPolicies {
        GroupPolicies {
            auto_recover: self.auto_recover.unwrap_or(base.auto_recover),
            over_period_alert: self.over_period_alert.unwrap_or(base.over_period_alert),
            auto_failover: self.auto_failover.unwrap_or(base.auto_failover),
            path_management: self.path_management.unwrap_or(base.path_management),
            ..base
        }
    }
}

/// `PUT /remotecopygroups/<name>` without `action`.
async fn modify(ctx: &Ctx, name: String, body: Obj<'_>) -> ApiResult<Reply> {
    let mut changes = GroupChanges {
        local_user_cpg: body.name("localUserCPG", "CPG", NAME31)?,
        local_snap_cpg: body.name("localSnapCPG", "CPG", NAME31)?,
        unset_user_cpg: body.flag("unsetUserCPG")?,
        unset_snap_cpg: body.flag("unsetSnapCPG")?,
        ..GroupChanges::default()
    };
    let mut named_targets = Vec::new();
    let mut policies = None;
    let entries = body.obj_list("targets")?.unwrap_or_default();
    for target in &entries {
        if let Some(name) = target.name("targetName", "target", NAME31)? {
            named_targets.push(name);
        }
        changes.remote_user_cpg = target.name("remoteUserCPG", "CPG", NAME31)?.or(changes.remote_user_cpg);
        changes.remote_snap_cpg = target.name("remoteSnapCPG", "CPG", NAME31)?.or(changes.remote_snap_cpg);
        let period = target.int("syncPeriod", PERIOD_RANGE.0, PERIOD_RANGE.1)?;
        let remove_period = target.flag("rmSyncPeriod")?;
        if period.is_some() && remove_period {
            return Err(ApiError::member(
                ErrorCode::INV_INPUT_PARAM_CONFLICT,
                "rmSyncPeriod",
                "syncPeriod and rmSyncPeriod exclude each other",
            ));
        }
        if let Some(period) = period {
            changes.sync_period = Some(std::time::Duration::from_secs(period as u64));
        }
        if remove_period {
            changes.sync_period = Some(std::time::Duration::ZERO);
        }
        changes.mode = mode(target)?.or(changes.mode);
        target.bool("rmSnapFrequency")?;
        if target.int("snapFrequency", PERIOD_RANGE.0, PERIOD_RANGE.1)?.is_some() {
            return Err(ApiError::member(
                ErrorCode::INV_INPUT_PARAM_CONFLICT,
                "snapFrequency",
                "snapFrequency applies to asynchronous streaming groups (mode 4), which are not modelled",
            ));
        }
        if let Some(p) = target.obj("policies")? {
            policies = Some(PolicyChanges {
                auto_recover: p.bool("autoRecover")?,
                over_period_alert: p.bool("overPeriodAlert")?,
                auto_failover: p.bool("autoFailover")?,
                path_management: p.bool("pathManagement")?,
            });
        }
    }
    unique_targets(&named_targets)?;
    let at = location(&name);
    ctx.run(move |sim, id| {
        let group = group(sim, id, &name)?;
        check_targets(group, &named_targets)?;
        changes.policies = policies.map(|p| p.apply(group.policies));
        sim.remote_copy().modify_group(id, &name, changes)
    })
    .await?;
    Ok(Reply::ok().at(at))
}

const ADMIT_TARGET: &[Field] = &[("targetName", Shape::Any), ("secVolumeName", Shape::Any)];
const ADMIT: &[Field] = &[
    ("action", Shape::Any),
    ("volumeName", Shape::Any),
    ("targets", Shape::ObjectList(ADMIT_TARGET)),
    ("snapshotName", Shape::Any),
    ("volumeAutoCreation", Shape::Any),
    ("skipInitialSync", Shape::Any),
    ("differentSecondaryWWN", Shape::Any),
];
const DISMISS: &[Field] = &[("action", Shape::Any), ("volumeName", Shape::Any), ("keepSnap", Shape::Any)];
const STARTING_SNAPSHOT: &[Field] = &[("volumeName", Shape::Any), ("snapshotName", Shape::Any)];
const START: &[Field] = &[
    ("action", Shape::Any),
    ("skipInitialSync", Shape::Any),
    ("targetName", Shape::Any),
    ("startingSnapshots", Shape::ObjectList(STARTING_SNAPSHOT)),
];
const STOP: &[Field] = &[("action", Shape::Any), ("noSnapshot", Shape::Any), ("targetName", Shape::Any)];
const SYNC: &[Field] =
    &[("action", Shape::Any), ("noResyncSnapshot", Shape::Any), ("targetName", Shape::Any), ("fullSync", Shape::Any)];

/// `PUT /remotecopygroups/<name>`: a modification, or action 1 (admit), 2 (dismiss), 3 (start),
/// 4 (stop), 5 (synchronize).
pub(crate) async fn put(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    let value = json::parse(&req.body)?;
    let action = match &value {
        serde_json::Value::Object(map) if map.get("action").is_some_and(|a| !a.is_null()) => {
            let probe = serde_json::json!({"action": map["action"]});
            json::object(&probe, &[("action", Shape::Any)])?.enumeration("action", &[1, 2, 3, 4, 5])?
        }
        _ => None,
    };
    match action {
        None => modify(ctx, name, json::object(&value, MODIFY)?).await,
        Some(1) => {
            admit(ctx, name.clone(), json::object(&value, ADMIT)?).await?;
            Ok(Reply::ok())
        }
        Some(2) => {
            let body = json::object(&value, DISMISS)?;
            let volume = body.req_name("volumeName", "volume", NAME31)?;
            let keep = body.flag("keepSnap")?;
            ctx.run(move |sim, id| sim.remote_copy().dismiss_volume(id, &name, &volume, keep, false)).await?;
            Ok(Reply::ok())
        }
        Some(3) => start(ctx, name, json::object(&value, START)?).await,
        Some(4) => {
            let body = json::object(&value, STOP)?;
            let options = StopOptions { no_snapshot: body.flag("noSnapshot")? };
            let target = body.name("targetName", "target", NAME31)?;
            ctx.run(move |sim, id| {
                check_targets(group(sim, id, &name)?, target.as_slice())?;
                sim.remote_copy().stop_group(id, &name, &options)
            })
            .await?;
            Ok(Reply::ok())
        }
        _ => {
            let body = json::object(&value, SYNC)?;
            // `noResyncSnapshot` is accepted and has no effect: the model always keeps the
            // resync snapshot, which the next resync needs.
            body.bool("noResyncSnapshot")?;
            let options = SyncOptions { full: body.flag("fullSync")? };
            let target = body.name("targetName", "target", NAME31)?;
            ctx.run(move |sim, id| {
                check_targets(group(sim, id, &name)?, target.as_slice())?;
                sim.remote_copy().sync_group(id, &name, &options)
            })
            .await?;
            Ok(Reply::ok())
        }
    }
}

/// Checks that `snapshot` is a read-only virtual copy of `volume` on `array` (a starting
/// snapshot): 404 (23) when missing, 409 when not a copy of the volume, 403 when writable.
fn check_starting_snapshot(array: &Array, volume: &str, snapshot: &str) -> crate::Result<()> {
    let base = array.volume(volume)?;
    let copy = array.volume(snapshot)?;
    let is_copy_of_volume = matches!(copy.kind, VolumeKind::VirtualCopy { .. }) && copy.base_id() == base.base_id();
    if !is_copy_of_volume {
        return Err(Error::new(
            ErrorCode::INV_OPERATION_VV_NOT_A_SNAPSHOT,
            format!("'{snapshot}' is not a virtual copy of '{volume}'"),
        ));
    }
    if !copy.read_only {
        return Err(Error::new(ErrorCode::RCOPY_GROUP_SNAPSHOT_IS_RW, format!("'{snapshot}' is read-write")));
    }
    Ok(())
}

/// Admission (action 1 and `POST …/volumes`).
async fn admit(ctx: &Ctx, name: String, body: Obj<'_>) -> ApiResult<String> {
    let volume = body.req_name("volumeName", "volume", NAME31)?;
    let mut names = Vec::new();
    let mut secondaries = Vec::new();
    for target in targets(&body)? {
        names.push(target.req_name("targetName", "target", NAME31)?);
        secondaries.push(target.req_name("secVolumeName", "volume", NAME31)?);
    }
    unique_targets(&names)?;
    let snapshot = body.name("snapshotName", "snapshot", NAME31)?;
    let spec = AdmitSpec {
        volume: volume.clone(),
        secondary: secondaries.swap_remove(0),
        auto_create: body.flag("volumeAutoCreation")?,
        different_wwn: body.flag("differentSecondaryWWN")?,
        already_synced: body.flag("skipInitialSync")?,
    };
    ctx.run(move |sim, id| {
        let group = group(sim, id, &name)?;
        let array = sim.array(id);
        array.volume(&spec.volume)?;
        check_targets(group, &names)?;
        if let Some(snapshot) = &snapshot {
            // Starting snapshots are checked, then not used: the initial sync is a full one.
            check_starting_snapshot(array, &spec.volume, snapshot)?;
        }
        sim.remote_copy().admit_volume(id, &name, spec)
    })
    .await?;
    Ok(volume)
}

async fn start(ctx: &Ctx, name: String, body: Obj<'_>) -> ApiResult<Reply> {
    let options = StartOptions { skip_initial_sync: body.flag("skipInitialSync")? };
    let target = body.name("targetName", "target", NAME31)?;
    let mut starting = Vec::new();
    let listed = body.obj_list("startingSnapshots")?;
    for entry in listed.iter().flatten() {
        let volume = entry.req_name("volumeName", "volume", NAME31)?;
        starting.push((volume, entry.name("snapshotName", "snapshot", NAME31)?));
    }
    let check_starting = listed.is_some();
    ctx.run(move |sim, id| {
        let group = group(sim, id, &name)?;
        check_targets(group, target.as_slice())?;
        if check_starting {
            let array = sim.array(id);
            for (volume, snapshot) in &starting {
                let vid = array.volume(volume)?.id;
                if group.volume(vid).is_none() {
                    return Err(Error::new(
                        ErrorCode::RCOPY_GROUP_VOL_NOT_IN_GROUP,
                        format!("'{volume}' is not in '{name}'"),
                    ));
                }
                if let Some(snapshot) = snapshot {
                    check_starting_snapshot(array, volume, snapshot)?;
                }
            }
            let missing = group.volumes.iter().find(|v| {
                let volume = array.volume_by_id(v.local).map(|v| v.name.as_str());
                !starting.iter().any(|(listed, _)| Some(listed.as_str()) == volume)
            });
            if let Some(missing) = missing {
                return Err(Error::new(
                    ErrorCode::RCOPY_GROUP_NOT_ALL_VOLUMES_SPECIFIED,
                    format!("startingSnapshots does not list volume id {} of '{name}'", missing.local),
                ));
            }
        }
        sim.remote_copy().start_group(id, &name, &options)
    })
    .await?;
    Ok(Reply::ok())
}

const DR: &[Field] = &[
    ("action", Shape::Any),
    ("targetName", Shape::Any),
    ("skipStart", Shape::Any),
    ("skipSync", Shape::Any),
    ("discardNewData", Shape::Any),
    ("skipPromote", Shape::Any),
    ("noSnapshot", Shape::Any),
    ("stopGroups", Shape::Any),
    ("localGroupsDirection", Shape::Any),
];

/// The boolean members each DR action accepts (client docstring of
/// `recoverRemoteCopyGroupFromDisaster`): 6 reverse, 7 failover, 8 switchover, 9 recover,
/// 10 restore, 11 override failsafe.
fn dr_members(action: u8) -> &'static [&'static str] {
    match action {
        6 => &["skipPromote", "noSnapshot", "stopGroups", "localGroupsDirection"],
        7 => &["skipStart", "skipSync", "discardNewData", "skipPromote", "noSnapshot"],
        9 => &["skipStart", "skipSync"],
        10 => &["skipStart", "skipSync", "noSnapshot"],
        _ => &[],
    }
}

/// `POST /remotecopygroups/<name>`: disaster-recovery actions 6–11.
pub(crate) async fn post_action(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    let value = json::parse(&req.body)?;
    let body = json::object(&value, DR)?;
    let action = body.enumeration("action", &[6, 7, 8, 9, 10, 11])?.ok_or_else(|| json::missing("action"))?;
    let target = body.name("targetName", "target", NAME31)?;
    let mut given = Vec::new();
    for (member, _) in &DR[2..] {
        if body.flag(member)? {
            given.push(*member);
        }
    }
    if let Some(member) = given.iter().find(|m| !dr_members(action).contains(m)) {
        return Err(ApiError::member(
            ErrorCode::INV_INPUT_PARAM_CONFLICT,
            member,
            &format!("'{member}' is not valid for action {action}"),
        ));
    }
    if given.contains(&"localGroupsDirection") {
        return Err(ApiError::member(
            ErrorCode::INV_INPUT,
            "localGroupsDirection",
            "reversing one side only (localGroupsDirection) is not modelled",
        ));
    }
    // `noSnapshot` and `discardNewData` are accepted and have no effect (one target per group;
    // the failover snapshot is the reference the model needs for recover).
    let options = DrOptions {
        skip_start: given.contains(&"skipStart"),
        skip_sync: given.contains(&"skipSync"),
        skip_promote: given.contains(&"skipPromote"),
        stop_groups: given.contains(&"stopGroups"),
    };
    ctx.run(move |sim, id| {
        check_targets(group(sim, id, &name)?, target.as_slice())?;
        let mut rc = sim.remote_copy();
        match action {
            6 => rc.reverse(id, &name, options),
            7 => rc.failover(id, &name, options),
            8 => rc.switchover(id, &name),
            9 => rc.recover(id, &name, options),
            10 => rc.restore(id, &name, options),
            _ => Err(Error::new(
                ErrorCode::INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT,
                format!("'{name}' is not in the failsafe state (the simulator does not model failsafe)"),
            )),
        }
    })
    .await?;
    Ok(Reply::ok())
}

/// `DELETE /remotecopygroups/<name>[?keepSnap=true|false]`.
pub(crate) async fn delete(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    let keep = req.query_flag("keepSnap")?;
    ctx.run(move |sim, id| sim.remote_copy().remove_group(id, &name, keep)).await?;
    Ok(Reply::ok())
}

/// `GET /remotecopygroups/<name>/volumes`.
pub(crate) async fn list_volumes(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    let volumes = ctx
        .run(move |sim, id| {
            let group = group(sim, id, &name)?;
            Ok(render_volumes(sim, sim.array(id), group))
        })
        .await?;
    Ok(Reply::json(200, &Collection::of(volumes)))
}

/// `GET /remotecopygroups/<name>/volumes/<volume>`: 404 (23) for an unknown volume, 404
/// `RCOPY_GROUP_VOL_NOT_IN_GROUP` for one outside the group.
pub(crate) async fn get_volume(ctx: &Ctx, name: String, volume: String) -> ApiResult<Reply> {
    let element = ctx
        .run(move |sim, id| {
            let group = group(sim, id, &name)?;
            let array = sim.array(id);
            let vid = array.volume(&volume)?.id;
            let index = group.volumes.iter().position(|v| v.local == vid).ok_or_else(|| {
                Error::new(ErrorCode::RCOPY_GROUP_VOL_NOT_IN_GROUP, format!("'{volume}' is not in '{name}'"))
            })?;
            Ok(render_volumes(sim, array, group).swap_remove(index))
        })
        .await?;
    Ok(Reply::json(200, &element))
}

/// `POST /remotecopygroups/<name>/volumes`: admission as action 1, without `action`.
pub(crate) async fn add_volume(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    let value = json::parse(&req.body)?;
    let body = json::object(&value, &ADMIT[1..])?;
    let volume = admit(ctx, name.clone(), body).await?;
    Ok(Reply::created(format!("{}/volumes/{volume}", location(&name))))
}

/// `DELETE /remotecopygroups/<name>/volumes/<volume>[?keepSnap=true | ?removeSecondaryVolume=true]`.
pub(crate) async fn remove_volume(ctx: &Ctx, name: String, volume: String, req: &Req) -> ApiResult<Reply> {
    let keep = req.query_flag("keepSnap")?;
    let remove_secondary = req.query_flag("removeSecondaryVolume")?;
    if keep && remove_secondary {
        return Err(ApiError::member(
            ErrorCode::INV_INPUT_PARAM_CONFLICT,
            "removeSecondaryVolume",
            "keepSnap and removeSecondaryVolume exclude each other",
        ));
    }
    ctx.run(move |sim, id| sim.remote_copy().dismiss_volume(id, &name, &volume, keep, remove_secondary)).await?;
    Ok(Reply::ok())
}
