//! System-level endpoints (spec §2.1, §3.1–3.3, §12.7): version, system, WSAPI configuration,
//! capacity, and the System Reporter CPG statistics path.

use serde::Serialize;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply};
use crate::{ErrorCode, Provisioning};

/// `GET /api`: never fails, needs no session.
pub(crate) fn version(ctx: &Ctx) -> ApiResult<Reply> {
    let v = ctx.shared.config.version;
    Ok(Reply::json(200, &json!({"major": v.major, "minor": v.minor, "revision": v.revision, "build": v.build})))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct System {
    id: u32,
    name: String,
    system_version: String,
    #[serde(rename = "IPv4Addr")]
    ipv4_addr: String,
    model: String,
    serial_number: String,
    total_nodes: u32,
    master_node: u32,
    online_nodes: Vec<u32>,
    cluster_nodes: Vec<u32>,
    #[serde(rename = "chunkletSizeMiB")]
    chunklet_size_mib: u32,
    #[serde(rename = "totalCapacityMiB")]
    total_capacity_mib: u64,
    #[serde(rename = "allocatedCapacityMiB")]
    allocated_capacity_mib: u64,
    #[serde(rename = "freeCapacityMiB")]
    free_capacity_mib: u64,
    #[serde(rename = "failedCapacityMiB")]
    failed_capacity_mib: u64,
    location: String,
    owner: String,
    contact: String,
    comment: String,
    time_zone: String,
    license_info: serde_json::Value,
}

/// `GET /system`.
pub(crate) async fn system(ctx: &Ctx) -> ApiResult<Reply> {
    let ip = ctx.shared.local_addrs[ctx.array.0 as usize].ip().to_string();
    let system = ctx
        .model(|sim, id| {
            let array = sim.array(id);
            let config = array.config();
            let allocated = allocated_mib(array);
            System {
                id: config.system_id,
                name: config.name.clone(),
                system_version: config.system_version.clone(),
                ipv4_addr: ip,
                model: config.model.clone(),
                serial_number: config.serial.clone(),
                total_nodes: 2,
                master_node: 0,
                online_nodes: if array.is_online() { vec![0, 1] } else { Vec::new() },
                cluster_nodes: vec![0, 1],
                chunklet_size_mib: 1024,
                total_capacity_mib: config.total_capacity_mib,
                allocated_capacity_mib: allocated,
                free_capacity_mib: config.total_capacity_mib.saturating_sub(allocated),
                failed_capacity_mib: 0,
                location: "storeserv-sim".to_owned(),
                owner: "storeserv-sim".to_owned(),
                contact: "storeserv-sim".to_owned(),
                comment: "simulated HPE 3PAR StoreServ".to_owned(),
                time_zone: "UTC".to_owned(),
                license_info: json!({
                    "licenses": config.licences.iter().map(|name| json!({"name": name})).collect::<Vec<_>>()
                }),
            }
        })
        .await?;
    Ok(Reply::json(200, &system))
}

/// MiB allocated on the array: fully provisioned sizes plus written thin pages.
fn allocated_mib(array: &crate::Array) -> u64 {
    array
        .volumes()
        .filter(|v| !v.is_virtual_copy())
        .map(|v| match v.provisioning {
            Provisioning::Full => v.size_mib,
            _ => v.user_space_used_mib(),
        })
        .sum()
}

/// `GET /wsapiconfiguration`.
pub(crate) fn wsapi_configuration(ctx: &Ctx) -> ApiResult<Reply> {
    let v = ctx.shared.config.version;
    let sessions = ctx.shared.sessions[ctx.array.0 as usize].count();
    Ok(Reply::json(
        200,
        &json!({
            "httpState": "Enabled",
            "httpPort": ctx.shared.local_addrs[ctx.array.0 as usize].port(),
            "httpsState": "Disabled",
            "httpsPort": 8080,
            "version": format!("{}.{}.{}", v.major, v.minor, v.revision),
            "sessionsInUse": sessions,
            "systemResourceUsage": 0,
        }),
    ))
}

/// `GET /capacity`: every disk class reports the same figures (the model has no disk classes,
/// so `allCapacity` and `FCCapacity` carry everything and NL/SSD are empty).
pub(crate) async fn capacity(ctx: &Ctx) -> ApiResult<Reply> {
    let (total, allocated, snapshot) = ctx
        .model(|sim, id| {
            let array = sim.array(id);
            let snapshot: u64 = array.cpgs().map(|c| array.cpg_usage(c.id).snapshot_used_mib).sum();
            (array.config().total_capacity_mib, allocated_mib(array), snapshot)
        })
        .await?;
    let class = |total: u64, user: u64, snap: u64| {
        let used = user + snap;
        json!({
            "totalMiB": total,
            "allocated": {
                "totalAllocatedMiB": used,
                "volumes": {
                    "totalVolumesMiB": used, "nonCPGsMiB": 0, "nonCPGUserMiB": 0, "nonCPGSnapshotMiB": 0,
                    "nonCPGAdminMiB": 0, "CPGsMiB": used, "CPGUserMiB": user, "CPGUserUsedMiB": user,
                    "CPGUserUnusedMiB": 0, "CPGSnapshotMiB": snap, "CPGSnapshotUsedMiB": snap,
                    "CPGSnapshotUnusedMiB": 0, "CPGAdminMiB": 0, "CPGAdminUsedMiB": 0, "CPGAdminUnusedMiB": 0,
                    "unmappedMiB": 0
                },
                "system": {"totalSystemMiB": 0, "internalMiB": 0, "spareMiB": 0, "spareUsedMiB": 0, "spareUnusedMiB": 0}
            },
            "freeMiB": total.saturating_sub(used),
            "freeInitializedMiB": total.saturating_sub(used),
            "freeUninitializedMiB": 0,
            "unavailableCapacityMiB": 0,
            "failedCapacityMiB": 0
        })
    };
    Ok(Reply::json(
        200,
        &json!({
            "allCapacity": class(total, allocated, snapshot),
            "FCCapacity": class(total, allocated, snapshot),
            "NLCapacity": class(0, 0, 0),
            "SSDCapacity": class(0, 0, 0),
        }),
    ))
}

/// `GET /systemreporter/vstime/cpgstatistics/{daily|hourly}`: one sample of zeros (the model
/// measures no performance).
pub(crate) fn cpg_statistics(interval: &str) -> ApiResult<Reply> {
    if !matches!(interval, "daily" | "hourly") {
        return Err(ApiError::new(ErrorCode::URI_RES_NOT_FOUND));
    }
    let sample = json!({
        "throughputKByteSec": 0.0, "bwLimit": 0, "latency": 0.0, "IOSizeKB": 0.0,
        "queueLength": 0.0, "busyPct": 0.0, "totalIOPs": 0.0
    });
    Ok(Reply::json(200, &json!({"total": 1, "members": [sample]})))
}
