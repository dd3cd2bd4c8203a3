//! The Remote Copy part of the control API (`/sim/v1/links`, `/sim/v1/syncs`, fault points
//! `link.*`): break and repair links per direction, change latency and bandwidth, read what the
//! arrays have declared about their pairs, and wait in virtual time for running syncs.
//!
//! What it deliberately does not do: act on one link of a pair (changes apply to every link
//! between the two arrays, as the model's faults do) or wait in wall time: `syncs/wait` moves the
//! virtual clock event by event until no transfer runs, so a test in any language can "sync,
//! then wait until synced" without sleeping.
//!
//! Design choice: every change is a model [`Fault`] (`LinkDown`, `LinkUp`, `LatencyChange`,
//! `BandwidthChange`), injected now or scheduled at `atSeconds` on the virtual timeline, so a
//! change made over HTTP behaves exactly like one a Rust test schedules and lands inside
//! transfers the same way. The cost: one request may turn into two faults (state and latency),
//! applied in a fixed order (state, latency, bandwidth).

use std::time::Duration;

use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Obj, Shape};
use super::render::iso8601;
use crate::remote_copy::{RcPair, TargetState};
use crate::{ArrayId, Direction, Error, ErrorCode, Fault, Simulation};

/// Longest `atSeconds` and `timeoutSeconds`: 10 virtual years.
const MAX_SECONDS: f64 = 10.0 * 365.0 * 86_400.0;

/// Largest `latencyMillis` (one-way).
const MAX_LATENCY_MILLIS: f64 = 60_000.0;

/// Largest `bandwidthBytesPerSec` (1 TB/s).
const MAX_BANDWIDTH: i64 = 1_000_000_000_000;

/// Default bound of `syncs/wait`, virtual seconds.
const DEFAULT_WAIT_SECONDS: f64 = 3_600.0;

/// A change to the links between two arrays, as parsed from a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkChange {
    from: Option<String>,
    to: Option<String>,
    /// `Some(true)` up, `Some(false)` down.
    up: Option<bool>,
    direction: Option<Direction>,
    latency: Option<Duration>,
    bandwidth: Option<u64>,
    at_seconds: f64,
}

/// Members of `PUT /sim/v1/links` (`POST /sim/v1/faults` accepts the same for `link.*`).
const LINK_FIELDS: &[Field] = &[
    ("from", Shape::Any),
    ("to", Shape::Any),
    ("state", Shape::Any),
    ("direction", Shape::Any),
    ("latencyMillis", Shape::Any),
    ("bandwidthBytesPerSec", Shape::Any),
    ("atSeconds", Shape::Any),
];

/// Parses a link change. `state` is `up`, `down` or `partition` (down both ways); `point` is the
/// fault point when the request came through `POST /sim/v1/faults` (it implies the change).
///
/// Errors: 46 for a bad `state`/`direction`, 44 for `partition` with a one-way direction, 43/115
/// for out-of-range numbers, 78 when nothing would change.
pub(crate) fn parse_change(body: &Obj<'_>, point: Option<&str>) -> ApiResult<LinkChange> {
    let state = match point {
        Some("link.down") => Some("down"),
        Some("link.up") => Some("up"),
        Some("link.partition") => Some("partition"),
        _ => body.str("state")?,
    };
    let direction = match body.str("direction")? {
        None => None,
        Some("both") => Some(Direction::Both),
        Some("forward") => Some(Direction::Forward),
        Some("backward") => Some(Direction::Backward),
        Some(_) => {
            return Err(ApiError::member(
                ErrorCode::INV_INPUT_BAD_ENUM_VALUE,
                "direction",
                "both, forward or backward",
            ));
        }
    };
    let up = match state {
        None => None,
        Some("up") => Some(true),
        Some("down") => Some(false),
        Some("partition") => {
            if direction.is_some_and(|d| d != Direction::Both) {
                return Err(ApiError::member(
                    ErrorCode::INV_INPUT_PARAM_CONFLICT,
                    "direction",
                    "a partition cuts both directions",
                ));
            }
            Some(false)
        }
        Some(_) => {
            return Err(ApiError::member(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "state", "up, down or partition"));
        }
    };
    let latency = match body.get("latencyMillis") {
        None => None,
        Some(value) => {
            let millis = value.as_f64().ok_or_else(|| json::wrong_type("latencyMillis", "a number"))?;
            if !(0.0..=MAX_LATENCY_MILLIS).contains(&millis) {
                return Err(ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "latencyMillis", "0 to 60,000 ms"));
            }
            Some(Duration::from_secs_f64(millis / 1_000.0))
        }
    };
    let bandwidth = body.int("bandwidthBytesPerSec", 1, MAX_BANDWIDTH)?.map(|b| b as u64);
    let at_seconds = match body.get("atSeconds") {
        None => 0.0,
        Some(value) => value
            .as_f64()
            .filter(|s| (0.0..=MAX_SECONDS).contains(s))
            .ok_or_else(|| ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "atSeconds", "0 to 10 years"))?,
    };
    let needed = match point {
        Some("link.latency") if latency.is_none() => Some("latencyMillis"),
        Some("link.bandwidth") if bandwidth.is_none() => Some("bandwidthBytesPerSec"),
        _ => None,
    };
    if let Some(member) = needed {
        return Err(json::missing(member));
    }
    if up.is_none() && latency.is_none() && bandwidth.is_none() {
        return Err(ApiError::member(
            ErrorCode::INV_INPUT_ONE_REQUIRED,
            "state,latencyMillis,bandwidthBytesPerSec",
            "nothing to change",
        ));
    }
    Ok(LinkChange {
        from: body.str("from")?.map(str::to_owned),
        to: body.str("to")?.map(str::to_owned),
        up,
        direction,
        latency,
        bandwidth,
        at_seconds,
    })
}

fn array_named(sim: &Simulation, name: &str) -> crate::Result<ArrayId> {
    sim.array_by_name(name).ok_or_else(|| Error::new(ErrorCode::URI_RES_NOT_FOUND, format!("no array '{name}'")))
}

/// Resolves the two arrays of a change: `from` defaults to `own`, `to` to the only array paired
/// with `from`.
fn ends(sim: &Simulation, own: ArrayId, change: &LinkChange) -> crate::Result<(ArrayId, ArrayId)> {
    let from = match &change.from {
        Some(name) => array_named(sim, name)?,
        None => own,
    };
    let to = match &change.to {
        Some(name) => array_named(sim, name)?,
        None => {
            let mut peers = sim.rc_pairs().filter(|p| p.a == from || p.b == from).map(|p| p.other(from));
            match (peers.next(), peers.next()) {
                (Some(peer), None) => peer,
                _ => {
                    return Err(Error::new(
                        ErrorCode::INV_INPUT_MISSING_REQUIRED,
                        format!("{} is paired with zero or several arrays: give 'to'", sim.array(from).name()),
                    ));
                }
            }
        }
    };
    if sim.rc_pair(from, to).is_none() {
        return Err(Error::new(
            ErrorCode::NON_EXISTENT_RCOPY_TARGET,
            format!("{} and {} are not paired", sim.array(from).name(), sim.array(to).name()),
        ));
    }
    Ok((from, to))
}

/// Applies (or schedules) `change`; returns the pair's view afterwards.
pub(crate) fn apply(sim: &mut Simulation, own: ArrayId, change: &LinkChange) -> crate::Result<Value> {
    let (from, to) = ends(sim, own, change)?;
    let direction = change.direction.unwrap_or(Direction::Both);
    let mut faults = Vec::new();
    match change.up {
        Some(true) => faults.push(Fault::LinkUp { from, to, direction }),
        Some(false) => faults.push(Fault::LinkDown { from, to, direction }),
        None => {}
    }
    if let Some(latency) = change.latency {
        faults.push(Fault::LatencyChange { from, to, direction, latency });
    }
    if let Some(bandwidth_bytes_per_sec) = change.bandwidth {
        faults.push(Fault::BandwidthChange { from, to, bandwidth_bytes_per_sec });
    }
    let at = sim.now() + Duration::from_secs_f64(change.at_seconds);
    for fault in faults {
        if change.at_seconds == 0.0 {
            sim.inject_fault(fault);
        } else {
            sim.schedule_fault(at, fault);
        }
    }
    let pair = sim.rc_pair(from, to).expect("ends() checked the pair");
    Ok(render_pair(sim, pair))
}

/// A pair as the control API shows it: both arrays' declarations, targets and every link.
fn render_pair(sim: &Simulation, pair: &RcPair) -> Value {
    let name = |id: ArrayId| sim.array(id).name().to_owned();
    let (a, b) = (name(pair.a), name(pair.b));
    let targets: Vec<Value> = [(pair.a, pair.b), (pair.b, pair.a)]
        .into_iter()
        .filter_map(|(x, peer)| {
            sim.array(x).remote_copy().target_for(peer).map(|t| {
                json!({"array": name(x), "name": t.name, "mirrorConfig": t.mirror_config,
                       "state": if t.state == TargetState::Ready { "ready" } else { "failed" }})
            })
        })
        .collect();
    let links: Vec<Value> = pair
        .links
        .iter()
        .enumerate()
        .map(|(index, link)| {
            json!({
                "index": index,
                "name": link.name,
                "ports": [{"array": a, "portPos": link.a_port.to_string()}, {"array": b, "portPos": link.b_port.to_string()}],
                "directions": [{"from": a, "to": b, "up": link.up_ab}, {"from": b, "to": a, "up": link.up_ba}],
                "latencyNanos": link.spec.latency.as_nanos() as u64,
                "bandwidthBytesPerSec": link.spec.bandwidth_bytes_per_sec,
            })
        })
        .collect();
    json!({
        "arrays": [a, b],
        "usable": pair.usable,
        "declaredUp": pair.declared_up,
        "targetFailed": pair.target_failed,
        "brokenSinceNanos": pair.broken_since.map(|at| at.as_nanos()),
        "brokenSince": pair.broken_since.map(|at| iso8601(sim, at)),
        "bandwidthBytesPerSec": {a.clone(): pair.bandwidth(pair.a), b.clone(): pair.bandwidth(pair.b)},
        "targets": targets,
        "links": links,
    })
}

/// `GET /sim/v1/links`: every pair with its links.
pub(crate) async fn list(ctx: &Ctx) -> ApiResult<Reply> {
    let pairs = ctx.model(|sim, _| sim.rc_pairs().map(|p| render_pair(sim, p)).collect::<Vec<_>>()).await?;
    Ok(Reply::json(200, &json!({"total": pairs.len(), "members": pairs})))
}

/// `PUT /sim/v1/links`: changes link state, latency or bandwidth now or at `atSeconds`.
pub(crate) async fn modify(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let value = json::parse(&req.body)?;
    let body = json::object(&value, LINK_FIELDS)?;
    let change = parse_change(&body, None)?;
    let pair = ctx.run(move |sim, own| apply(sim, own, &change)).await?;
    Ok(Reply::json(200, &pair))
}

/// Transfers running now, as JSON.
fn running(sim: &Simulation) -> Vec<Value> {
    sim.rc_running_transfers()
        .map(|(at, volumes)| {
            let array = sim.array(at.array);
            let group = array.remote_copy().group_by_id(at.group).map(|g| g.name.clone());
            json!({"array": array.name(), "group": group, "volumesRemaining": volumes})
        })
        .collect()
}

/// `GET /sim/v1/syncs`: the transfers (syncs, recover and restore resyncs) running now.
pub(crate) async fn syncs(ctx: &Ctx) -> ApiResult<Reply> {
    let value = ctx.model(|sim, _| json!({"nowNanos": sim.now().as_nanos(), "running": running(sim)})).await?;
    Ok(Reply::json(200, &value))
}

const WAIT: &[Field] = &[("timeoutSeconds", Shape::Any), ("group", Shape::Any)];

/// `POST /sim/v1/syncs/wait` `{"timeoutSeconds"?, "group"?}`: advances virtual time event by
/// event until no transfer runs (or none of `group` on this listener's array), at most
/// `timeoutSeconds` (default 3,600). Answers `done`, the virtual time waited and what still runs.
pub(crate) async fn wait(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let value = json::parse(&req.body)?;
    let body = json::object(&value, WAIT)?;
    let timeout = match body.get("timeoutSeconds") {
        None => DEFAULT_WAIT_SECONDS,
        Some(value) => value
            .as_f64()
            .filter(|s| (0.0..=MAX_SECONDS).contains(s))
            .ok_or_else(|| ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "timeoutSeconds", "0 to 10 years"))?,
    };
    let group = body.name("group", "remote copy group", usize::MAX)?;
    let value = ctx
        .engine(move |state, own| {
            let sim = &mut state.sim;
            let group_id = match &group {
                Some(name) => Some(sim.array(own).remote_copy().group(name)?.id),
                None => None,
            };
            let start = sim.now();
            let deadline = start + Duration::from_secs_f64(timeout);
            let done = sim.advance_until(deadline, |s| {
                !s.rc_running_transfers().any(|(at, _)| group_id.is_none_or(|g| at.array == own && at.group == g))
            });
            state.clock.reanchor(&state.sim);
            let sim = &state.sim;
            Ok::<_, Error>(json!({
                "done": done,
                "nowNanos": sim.now().as_nanos(),
                "waitedNanos": (sim.now() - start).as_nanos() as u64,
                "running": running(sim),
            }))
        })
        .await??;
    Ok(Reply::json(200, &value))
}
