//! QoS rules (spec §10): `/qos` and `/qos/<vvset|sys>:<name>`.
//!
//! Rules are configuration only: the model throttles nothing (see `crate::qos`). A rule on a
//! volume set that vanished answers 404 code 100, like a missing rule.

use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Shape};
use crate::names::{NAME31, validate_name};
use crate::{Array, ErrorCode, QosLimits, QosRule, QosTarget, QosTargetName};

/// Largest limit value accepted (`2^31 - 1`, as the WSAPI's 32-bit members).
const MAX_LIMIT: u64 = i32::MAX as u64;

fn render(array: &Array, rule: &QosRule) -> Value {
    let (name, kind) = match rule.target {
        QosTarget::VolumeSet(id) => (array.volume_sets().find(|s| s.id == id).map_or("", |s| &s.name).to_owned(), 1),
        QosTarget::AllOthers => ("all_others".to_owned(), 2),
    };
    let l = &rule.limits;
    let mut value = json!({"name": name, "type": kind, "id": rule.id, "enabled": l.enabled.unwrap_or(true)});
    let mut set = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            value[key] = v;
        }
    };
    set("priority", Some(json!(l.priority.unwrap_or(2))));
    set("bwMinGoalKB", l.bw_min_goal_kb.map(|v| json!(v)));
    set("bwMaxLimitKB", l.bw_max_limit_kb.map(|v| json!(v)));
    set("ioMinGoal", l.io_min_goal.map(|v| json!(v)));
    set("ioMaxLimit", l.io_max_limit.map(|v| json!(v)));
    set("bwMinGoalOP", l.bw_min_goal_op.map(|v| json!(v)));
    set("bwMaxLimitOP", l.bw_max_limit_op.map(|v| json!(v)));
    set("ioMinGoalOP", l.io_min_goal_op.map(|v| json!(v)));
    set("ioMaxLimitOP", l.io_max_limit_op.map(|v| json!(v)));
    set("latencyGoal", l.latency_goal_ms.map(|v| json!(v)));
    set("latencyGoaluSecs", l.latency_goal_us.map(|v| json!(v)));
    set("defaultLatency", l.default_latency.map(|v| json!(v)));
    value
}

/// Parses `vvset:<name>` or `sys:all_others`.
fn target(text: &str) -> ApiResult<QosTargetName> {
    match text.split_once(':') {
        Some(("vvset", name)) => {
            validate_name("volume set", name, NAME31).map_err(ApiError::from)?;
            Ok(QosTargetName::VolumeSet(name.to_owned()))
        }
        Some(("sys", "all_others")) => Ok(QosTargetName::AllOthers),
        _ => Err(ApiError::invalid(&format!("'{text}' is not vvset:<name> or sys:all_others"))),
    }
}

/// `GET /qos`.
pub(crate) async fn list(ctx: &Ctx) -> ApiResult<Reply> {
    let rules: Vec<Value> = ctx
        .model(|sim, id| {
            let array = sim.array(id);
            array.qos_rules().map(|r| render(array, r)).collect()
        })
        .await?;
    Ok(Reply::json(200, &json!({"total": rules.len(), "members": rules})))
}

/// `GET /qos/<type>:<name>`.
pub(crate) async fn get(ctx: &Ctx, text: String) -> ApiResult<Reply> {
    let name = target(&text)?;
    let rule = ctx
        .run(move |sim, id| {
            let array = sim.array(id);
            let target = array.qos_target(&name).map_err(|_| no_rule(&text))?;
            array.qos_rule(target).map(|r| render(array, r))
        })
        .await?;
    Ok(Reply::json(200, &rule))
}

fn no_rule(text: &str) -> crate::Error {
    crate::Error::new(ErrorCode::NON_EXISTENT_QOS_RULE, format!("no QoS rule on {text}"))
}

const LIMITS: &[Field] = &[
    ("name", Shape::Any),
    ("type", Shape::Any),
    ("priority", Shape::Any),
    ("bwMinGoalKB", Shape::Any),
    ("bwMaxLimitKB", Shape::Any),
    ("ioMinGoal", Shape::Any),
    ("ioMaxLimit", Shape::Any),
    ("bwMinGoalOP", Shape::Any),
    ("bwMaxLimitOP", Shape::Any),
    ("ioMinGoalOP", Shape::Any),
    ("ioMaxLimitOP", Shape::Any),
    ("latencyGoal", Shape::Any),
    ("latencyGoaluSecs", Shape::Any),
    ("defaultLatency", Shape::Any),
    ("enable", Shape::Any),
];

fn limits(body: &json::Obj<'_>) -> ApiResult<QosLimits> {
    Ok(QosLimits {
        priority: body.enumeration("priority", &[1, 2, 3])?,
        bw_min_goal_kb: body.uint("bwMinGoalKB", MAX_LIMIT)?,
        bw_max_limit_kb: body.uint("bwMaxLimitKB", MAX_LIMIT)?,
        io_min_goal: body.uint("ioMinGoal", MAX_LIMIT)?,
        io_max_limit: body.uint("ioMaxLimit", MAX_LIMIT)?,
        bw_min_goal_op: body.enumeration("bwMinGoalOP", &[1, 2])?,
        bw_max_limit_op: body.enumeration("bwMaxLimitOP", &[1, 2])?,
        io_min_goal_op: body.enumeration("ioMinGoalOP", &[1, 2])?,
        io_max_limit_op: body.enumeration("ioMaxLimitOP", &[1, 2])?,
        latency_goal_ms: body.uint("latencyGoal", MAX_LIMIT)?,
        latency_goal_us: body.uint("latencyGoaluSecs", MAX_LIMIT)?,
        default_latency: body.bool("defaultLatency")?,
        enabled: body.bool("enable")?,
    })
}

/// `POST /qos`: `name` and `type` (1 volume set, 2 system) plus limits.
pub(crate) async fn create(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, LIMITS)?;
    let kind = body.enumeration("type", &[1, 2])?.ok_or_else(|| json::missing("type"))?;
    let name = body.req_str("name")?.to_owned();
    let limits = limits(&body)?;
    let (text, target) = match kind {
        1 => {
            validate_name("volume set", &name, NAME31).map_err(|e| ApiError::from(e).with_ref("name"))?;
            (format!("vvset:{name}"), QosTargetName::VolumeSet(name))
        }
        _ if name == "all_others" => ("sys:all_others".to_owned(), QosTargetName::AllOthers),
        _ => return Err(ApiError::member(ErrorCode::INV_INPUT, "name", "a system rule is named all_others")),
    };
    ctx.run(move |sim, id| sim.array_mut(id).create_qos_rule(&target, limits)).await?;
    Ok(Reply::created(format!("/api/v1/qos/{text}")))
}

/// `PUT /qos/<type>:<name>`: changes the limits given.
pub(crate) async fn modify(ctx: &Ctx, text: String, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, LIMITS)?;
    let name = target(&text)?;
    let limits = limits(&body)?;
    let location = format!("/api/v1/qos/{text}");
    ctx.run(move |sim, id| {
        sim.array(id).qos_target(&name).map_err(|_| no_rule(&text))?;
        sim.array_mut(id).modify_qos_rule(&name, limits)
    })
    .await?;
    Ok(Reply::ok().at(location))
}

/// `DELETE /qos/<type>:<name>`.
pub(crate) async fn delete(ctx: &Ctx, text: String) -> ApiResult<Reply> {
    let name = target(&text)?;
    ctx.run(move |sim, id| {
        sim.array(id).qos_target(&name).map_err(|_| no_rule(&text))?;
        sim.array_mut(id).delete_qos_rule(&name)
    })
    .await?;
    Ok(Reply::ok())
}
