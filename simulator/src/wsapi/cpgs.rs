//! CPGs (spec §4): list, get, create, modify, delete, and the space reporter. Modify
//! (`PUT /cpgs/<name>`) is beyond the spec's subset: it follows the WSAPI 1.x "modify a CPG".
//!
//! It does not model logical disks or chunklets: the LD layout is stored and echoed, usage is
//! derived from the volumes' data, and auto-grow (disabled by a growth increment of 0) changes
//! nothing but what is reported. Raw figures count RAID-1 mirroring (×2) as a stand-in; the cost
//! is raw numbers that do not follow the requested RAID type.

use serde::Serialize;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Shape};
use super::render::Collection;
use crate::names::NAME31;
use crate::{Array, Cpg, CpgChanges, CpgSpec, ErrorCode, LdLayout};

#[derive(Serialize)]
struct Usage {
    #[serde(rename = "totalMiB")]
    total_mib: u64,
    #[serde(rename = "rawTotalMiB")]
    raw_total_mib: u64,
    #[serde(rename = "usedMiB")]
    used_mib: u64,
    #[serde(rename = "rawUsedMiB")]
    raw_used_mib: u64,
}

impl Usage {
    fn of(used_mib: u64) -> Usage {
        Usage { total_mib: used_mib, raw_total_mib: used_mib * 2, used_mib, raw_used_mib: used_mib * 2 }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CpgJson {
    id: u32,
    uuid: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    state: u8,
    #[serde(rename = "numFPVVs")]
    num_fpvvs: u32,
    #[serde(rename = "numTPVVs")]
    num_tpvvs: u32,
    #[serde(rename = "numTDVVs")]
    num_tdvvs: u32,
    #[serde(rename = "UsrUsage")]
    usr_usage: Usage,
    #[serde(rename = "SAUsage")]
    sa_usage: Usage,
    #[serde(rename = "SDUsage")]
    sd_usage: Usage,
    #[serde(rename = "SAGrowth")]
    sa_growth: serde_json::Value,
    #[serde(rename = "SDGrowth")]
    sd_growth: serde_json::Value,
    failed_states: Vec<u32>,
    degraded_states: Vec<u32>,
    additional_states: Vec<u32>,
}

fn layout_json(layout: &LdLayout) -> serde_json::Value {
    let mut value = json!({
        "diskPatterns": layout.disk_types.iter().map(|t| match t {
            Some(t) => json!({"diskType": t}),
            None => json!({}),
        }).collect::<Vec<_>>()
    });
    if let Some(raid) = layout.raid_type {
        value["RAIDType"] = json!(raid);
    }
    if let Some(ha) = layout.ha {
        value["HA"] = json!(ha);
    }
    if let Some(set_size) = layout.set_size {
        value["setSize"] = json!(set_size);
    }
    value
}

fn render(array: &Array, cpg: &Cpg) -> CpgJson {
    let usage = array.cpg_usage(cpg.id);
    let mut sd_growth = json!({"incrementMiB": cpg.growth_increment_mib, "LDLayout": layout_json(&cpg.ld_layout)});
    if let Some(limit) = cpg.growth_limit_mib {
        sd_growth["limitMiB"] = json!(limit);
    }
    if let Some(warning) = cpg.used_ld_warning_alert_mib {
        sd_growth["warningMiB"] = json!(warning);
    }
    CpgJson {
        id: cpg.id.0,
        uuid: cpg.uuid.clone(),
        name: cpg.name.clone(),
        domain: cpg.domain.clone(),
        state: 1,
        num_fpvvs: usage.fully_provisioned,
        num_tpvvs: usage.thin,
        num_tdvvs: usage.dedup,
        usr_usage: Usage::of(usage.user_used_mib),
        sa_usage: Usage::of(0),
        sd_usage: Usage::of(usage.snapshot_used_mib),
        sa_growth: json!({"incrementMiB": 8192, "LDLayout": layout_json(&cpg.ld_layout)}),
        sd_growth,
        failed_states: Vec::new(),
        degraded_states: Vec::new(),
        additional_states: Vec::new(),
    }
}

/// `GET /cpgs`.
pub(crate) async fn list(ctx: &Ctx) -> ApiResult<Reply> {
    let cpgs = ctx
        .model(|sim, id| {
            let array = sim.array(id);
            array.cpgs().map(|c| render(array, c)).collect::<Vec<_>>()
        })
        .await?;
    Ok(Reply::json(200, &Collection::of(cpgs)))
}

/// `GET /cpgs/<name>`.
pub(crate) async fn get(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    let cpg = ctx
        .run(move |sim, id| {
            let array = sim.array(id);
            array.cpg(&name).map(|c| render(array, c))
        })
        .await?;
    Ok(Reply::json(200, &cpg))
}

const DISK_PATTERN: &[Field] = &[
    ("diskType", Shape::Any),
    ("nodeList", Shape::Any),
    ("slotList", Shape::Any),
    ("portList", Shape::Any),
    ("cageList", Shape::Any),
    ("magList", Shape::Any),
    ("diskPosList", Shape::Any),
    ("diskList", Shape::Any),
    ("totalChunkletsGreaterThan", Shape::Any),
    ("totalChunkletsLessThan", Shape::Any),
    ("freeChunkletsGreaterThan", Shape::Any),
    ("freeChunkletsLessThan", Shape::Any),
    ("devType", Shape::Any),
    ("RPM", Shape::Any),
];

const LD_LAYOUT: &[Field] = &[
    ("RAIDType", Shape::Any),
    ("setSize", Shape::Any),
    ("HA", Shape::Any),
    ("chunkletPosPref", Shape::Any),
    ("diskPatterns", Shape::ObjectList(DISK_PATTERN)),
];

const CREATE: &[Field] = &[
    ("name", Shape::Any),
    ("domain", Shape::Any),
    ("growthIncrementMiB", Shape::Any),
    ("growthLimitMiB", Shape::Any),
    ("growthWarnMiB", Shape::Any),
    ("usedLDWarningAlertMiB", Shape::Any),
    ("LDLayout", Shape::Object(LD_LAYOUT)),
];

/// Largest size member accepted, MiB (well beyond any simulated capacity).
const MAX_MIB: u64 = 1 << 40;

fn ld_layout(body: &json::Obj<'_>) -> ApiResult<LdLayout> {
    let Some(layout) = body.obj("LDLayout")? else {
        return Ok(LdLayout::default());
    };
    let raid_type = layout.enumeration("RAIDType", &[1, 2, 3, 4])?;
    let set_size = layout.int("setSize", 1, 32)?.map(|v| v as u32);
    let ha = layout.enumeration("HA", &[1, 2, 3])?;
    let chunklet_pos_pref = layout.enumeration("chunkletPosPref", &[1, 2])?;
    let mut disk_types = Vec::new();
    for pattern in layout.obj_list("diskPatterns")?.unwrap_or_default() {
        let disk_type = pattern.int("diskType", i64::MIN, i64::MAX)?;
        match disk_type {
            None => disk_types.push(None),
            Some(t @ 1..=3) => disk_types.push(Some(t as u8)),
            Some(_) => {
                return Err(ApiError::member(ErrorCode::BAD_CPG_PATTERN, "diskType", "diskType must be 1, 2 or 3"));
            }
        }
        for list in ["nodeList", "slotList", "portList", "cageList", "magList", "diskPosList", "diskList"] {
            pattern.str(list)?;
        }
    }
    Ok(LdLayout { raid_type, set_size, ha, chunklet_pos_pref, disk_types })
}

/// `usedLDWarningAlertMiB`, or `growthWarnMiB`, an older name some clients send for the same
/// threshold (`-sdgw`); both with different values conflict.
fn warning_alert(body: &json::Obj<'_>) -> ApiResult<Option<u64>> {
    let alert = body.uint("usedLDWarningAlertMiB", MAX_MIB)?;
    let older = body.uint("growthWarnMiB", MAX_MIB)?;
    match (alert, older) {
        (Some(a), Some(b)) if a != b => Err(ApiError::member(
            ErrorCode::INV_INPUT_PARAM_CONFLICT,
            "growthWarnMiB",
            "usedLDWarningAlertMiB and growthWarnMiB name one threshold: give one value",
        )),
        _ => Ok(alert.or(older)),
    }
}

/// `POST /cpgs`.
pub(crate) async fn create(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, CREATE)?;
    let name = body.req_name("name", "CPG", NAME31)?;
    let domain = body.name("domain", "domain", NAME31)?;
    let spec = CpgSpec {
        name: name.clone(),
        domain,
        growth_increment_mib: body.uint("growthIncrementMiB", MAX_MIB)?,
        growth_limit_mib: body.uint("growthLimitMiB", MAX_MIB)?,
        used_ld_warning_alert_mib: warning_alert(&body)?,
        ld_layout: ld_layout(&body)?,
    };
    ctx.run(move |sim, id| sim.array_mut(id).create_cpg(spec)).await?;
    Ok(Reply::created(format!("/api/v1/cpgs/{name}")))
}

const MODIFY: &[Field] = &[
    ("newName", Shape::Any),
    ("disableAutoGrow", Shape::Any),
    ("rmGrowthLimit", Shape::Any),
    ("rmWarningAlert", Shape::Any),
    ("growthIncrementMiB", Shape::Any),
    ("growthLimitMiB", Shape::Any),
    ("usedLDWarningAlertMiB", Shape::Any),
    ("LDLayout", Shape::Object(LD_LAYOUT)),
];

/// `layout`'s members over `current`'s: those `layout` has replace them, and its disk patterns
/// replace the current ones when the request had `diskPatterns`.
fn merge_layout(current: &LdLayout, layout: LdLayout, patterns_given: bool) -> LdLayout {
    LdLayout {
        raid_type: layout.raid_type.or(current.raid_type),
        set_size: layout.set_size.or(current.set_size),
        ha: layout.ha.or(current.ha),
        chunklet_pos_pref: layout.chunklet_pos_pref.or(current.chunklet_pos_pref),
        disk_types: if patterns_given { layout.disk_types } else { current.disk_types.clone() },
    }
}

/// `PUT /cpgs/<name>`: modify (WSAPI 1.x, beyond the spec's subset). 200, empty body,
/// `Location` of the (possibly renamed) CPG. Members, all optional: `newName`,
/// `growthIncrementMiB`, `disableAutoGrow`, `growthLimitMiB`, `rmGrowthLimit`,
/// `usedLDWarningAlertMiB`, `rmWarningAlert`, `LDLayout` (members as on create, merged over the
/// current layout). A member given with its `rm…`/`disable…` counterpart is 400 code 44 (`ref`
/// the flag), before any lookup (spec §1.8); then the model's errors
/// ([`crate::ArrayMut::modify_cpg`]). `{}` changes nothing and succeeds, as `PUT /volumes` does.
pub(crate) async fn modify(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, MODIFY)?;
    let new_name = body.name("newName", "CPG", NAME31)?;
    let growth_increment_mib = body.uint("growthIncrementMiB", MAX_MIB)?;
    let disable_auto_grow = body.flag("disableAutoGrow")?;
    let growth_limit_mib = body.uint("growthLimitMiB", MAX_MIB)?;
    let remove_growth_limit = body.flag("rmGrowthLimit")?;
    let used_ld_warning_alert_mib = body.uint("usedLDWarningAlertMiB", MAX_MIB)?;
    let remove_warning_alert = body.flag("rmWarningAlert")?;
    let patterns_given = body.obj("LDLayout")?.map(|layout| layout.has("diskPatterns"));
    let layout = ld_layout(&body)?;
    let conflicts = [
        (growth_increment_mib.is_some() && disable_auto_grow, "growthIncrementMiB", "disableAutoGrow"),
        (growth_limit_mib.is_some() && remove_growth_limit, "growthLimitMiB", "rmGrowthLimit"),
        (used_ld_warning_alert_mib.is_some() && remove_warning_alert, "usedLDWarningAlertMiB", "rmWarningAlert"),
    ];
    if let Some((_, member, flag)) = conflicts.iter().find(|(conflict, _, _)| *conflict) {
        return Err(ApiError::member(
            ErrorCode::INV_INPUT_PARAM_CONFLICT,
            flag,
            &format!("'{member}' and '{flag}' exclude each other"),
        ));
    }
    let location = format!("/api/v1/cpgs/{}", new_name.as_deref().unwrap_or(&name));
    ctx.run(move |sim, id| {
        // Merged over the current layout when there is one; a missing CPG (or an offline array)
        // is the model's to report, in its order.
        let ld_layout = patterns_given.map(|patterns_given| match sim.array(id).cpg(&name) {
            Ok(cpg) => merge_layout(&cpg.ld_layout, layout, patterns_given),
            Err(_) => layout,
        });
        let changes = CpgChanges {
            new_name,
            growth_increment_mib,
            disable_auto_grow,
            growth_limit_mib,
            remove_growth_limit,
            used_ld_warning_alert_mib,
            remove_warning_alert,
            ld_layout,
        };
        sim.array_mut(id).modify_cpg(&name, changes)
    })
    .await?;
    Ok(Reply::ok().at(location))
}

/// `DELETE /cpgs/<name>`.
pub(crate) async fn delete(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    ctx.run(move |sim, id| sim.array_mut(id).delete_cpg(&name)).await?;
    Ok(Reply::ok())
}

const SPACE: &[Field] = &[("cpg", Shape::Any)];

/// `POST /spacereporter` `{"cpg"}`: usable free space is what the array and the CPG's growth
/// limit still allow; raw space counts RAID-1 mirroring (×2).
pub(crate) async fn space_reporter(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, SPACE)?;
    let cpg = body.req_name("cpg", "CPG", NAME31)?;
    let usable = ctx
        .run(move |sim, id| {
            let array = sim.array(id);
            let cpg = array.cpg(&cpg)?;
            let system_free = array.config().total_capacity_mib.saturating_sub(array.allocated_full_mib());
            let cpg_free = match cpg.growth_limit_mib {
                Some(limit) => limit.saturating_sub(array.cpg_growth_mib_used(cpg.id)),
                None => u64::MAX,
            };
            Ok(system_free.min(cpg_free))
        })
        .await?;
    Ok(Reply::json(200, &json!({"rawFreeMiB": usable.saturating_mul(2), "usableFreeMiB": usable})))
}
