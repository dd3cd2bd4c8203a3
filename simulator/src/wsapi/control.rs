//! The simulator-control API under `/sim/v1` (documented in `docs/wsapi.md`): what test suites
//! in any language need and real clients never call.
//!
//! | Method, path | Body / query | Effect |
//! |---|---|---|
//! | `GET state` | | clock, digest, arrays |
//! | `GET digest` | | `{"digest", "nowNanos"}` |
//! | `GET`/`PUT clock` | `{"mode": "realtime"\|"manual", "scale": n}` | read or set the clock |
//! | `POST clock/advance` | `{"seconds": n}` | move virtual time forward, running due events |
//! | `POST arrays/<name>` | `{"action": "crash"\|"restart"}` | crash or restart an array |
//! | `GET volumes/<v>/data` | `?offset=&length=` | `{"offset", "length", "data": base64}` |
//! | `PUT volumes/<v>/data` | `{"offset", "data": base64}` | a host write through the model |
//! | `POST reset` | | rebuild the simulation from the configuration |
//! | `GET`/`POST`/`DELETE faults` | `{"point": ..., ...}` | list, arm, clear faults |
//! | `GET`/`PUT links` | `{"from", "to", "state", "direction", "latencyMillis", ...}` | Remote Copy links (see `control_links`) |
//! | `GET syncs`, `POST syncs/wait` | `{"timeoutSeconds", "group"}` | running syncs; wait for them in virtual time |
//!
//! Volume paths act on the array whose listener received the request. Every path needs a session,
//! like the WSAPI, so no data leaks without one.
//! Fault points are a closed list ([`FAULT_POINTS`]); adding one means adding a match arm in
//! [`arm`] (model faults go through `Simulation::schedule_fault`, HTTP faults into `Shared`).

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::ClockMode;
use super::control_links;
use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Shape};
use crate::{ErrorCode, Fault, Instant};

/// Largest read through the control API, bytes.
const MAX_READ: u64 = 16 << 20;

/// Names of the fault points `POST /sim/v1/faults` accepts.
pub(crate) const FAULT_POINTS: &[&str] = &[
    "array.crash",
    "array.restart",
    "wsapi.error",
    "wsapi.delay",
    "link.down",
    "link.up",
    "link.partition",
    "link.latency",
    "link.bandwidth",
];

/// Most HTTP faults armed at once.
const MAX_ARMED: usize = 256;

/// An HTTP-layer fault waiting for matching requests.
#[derive(Debug, Clone)]
pub(crate) struct ArmedFault {
    point: &'static str,
    method: Option<String>,
    path_prefix: Option<String>,
    remaining: u32,
    code: Option<ErrorCode>,
    delay: Duration,
}

impl ArmedFault {
    fn matches(&self, method: &hyper::Method, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && self.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }

    fn describe(&self) -> Value {
        json!({
            "point": self.point, "method": self.method, "path": self.path_prefix, "remaining": self.remaining,
            "code": self.code.map(|c| c.number()), "millis": self.delay.as_millis() as u64,
        })
    }
}

/// Applies armed HTTP faults to a request (delays, then injected errors).
pub(crate) async fn apply_http_faults(ctx: &Ctx, method: &hyper::Method, path: &str) -> ApiResult<()> {
    let fired = {
        let mut faults = ctx.shared.faults.lock().unwrap_or_else(|p| p.into_inner());
        let index = faults.iter().position(|f| f.remaining > 0 && f.matches(method, path));
        index.map(|i| {
            faults[i].remaining -= 1;
            let fault = faults[i].clone();
            if faults[i].remaining == 0 {
                faults.remove(i);
            }
            fault
        })
    };
    let Some(fault) = fired else {
        return Ok(());
    };
    if !fault.delay.is_zero() {
        tokio::time::sleep(fault.delay).await;
    }
    match fault.code {
        Some(code) => {
            let mut error = ApiError::new(code);
            error.debug = Some("injected by the wsapi.error fault".to_owned());
            Err(error)
        }
        None => Ok(()),
    }
}

/// Whether `segments` name a control resource.
pub(crate) fn is_known(segments: &[String]) -> bool {
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    matches!(
        segs.as_slice(),
        ["state"]
            | ["digest"]
            | ["clock"]
            | ["clock", "advance"]
            | ["arrays", _]
            | ["volumes", _, "data"]
            | ["reset"]
            | ["faults"]
            | ["links"]
            | ["syncs"]
            | ["syncs", "wait"]
    )
}

/// Routes a control request (path known, session checked).
pub(crate) async fn dispatch(ctx: &Ctx, req: Req) -> ApiResult<Reply> {
    use hyper::Method as M;
    let segs: Vec<String> = req.segments.clone();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method.clone(), segs.as_slice()) {
        (M::GET, ["state"]) => state(ctx).await,
        (M::GET, ["digest"]) => {
            let (digest, now) = ctx.model(|sim, _| (sim.digest().to_string(), sim.now().as_nanos())).await?;
            Ok(Reply::json(200, &json!({"digest": digest, "nowNanos": now})))
        }
        (M::GET, ["clock"]) => clock(ctx).await,
        (M::PUT, ["clock"]) => set_clock(ctx, &req).await,
        (M::POST, ["clock", "advance"]) => advance(ctx, &req).await,
        (M::POST, ["arrays", name]) => array_action(ctx, name.to_string(), &req).await,
        (M::GET, ["volumes", name, "data"]) => read(ctx, name.to_string(), &req).await,
        (M::PUT, ["volumes", name, "data"]) => write(ctx, name.to_string(), &req).await,
        (M::POST, ["reset"]) => {
            ctx.engine(|state, _| {
                state.sim = state.config.build_simulation().expect("the configuration built once already");
                state.clock.reanchor(&state.sim);
            })
            .await?;
            Ok(Reply::ok())
        }
        (M::GET, ["faults"]) => {
            let armed: Vec<Value> =
                ctx.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).iter().map(ArmedFault::describe).collect();
            Ok(Reply::json(200, &json!({"points": FAULT_POINTS, "armed": armed})))
        }
        (M::POST, ["faults"]) => arm(ctx, &req).await,
        (M::DELETE, ["faults"]) => {
            ctx.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
            Ok(Reply::ok())
        }
        (M::GET, ["links"]) => control_links::list(ctx).await,
        (M::PUT, ["links"]) => control_links::modify(ctx, &req).await,
        (M::GET, ["syncs"]) => control_links::syncs(ctx).await,
        (M::POST, ["syncs", "wait"]) => control_links::wait(ctx, &req).await,
        _ => Err(ApiError::new(ErrorCode::UNSUP_OP)),
    }
}

async fn state(ctx: &Ctx) -> ApiResult<Reply> {
    let value = ctx
        .engine(|state, _| {
            let sim = &state.sim;
            json!({
                "nowNanos": sim.now().as_nanos(),
                "nowSeconds": sim.now().as_secs_f64(),
                "clock": {"mode": state.clock.mode.as_str(), "scale": state.clock.scale},
                "seed": sim.seed(),
                "digest": sim.digest().to_string(),
                "arrays": sim.arrays().map(|a| json!({
                    "name": a.name(), "systemId": a.config().system_id, "online": a.is_online()
                })).collect::<Vec<_>>(),
            })
        })
        .await?;
    Ok(Reply::json(200, &value))
}

async fn clock(ctx: &Ctx) -> ApiResult<Reply> {
    let value = ctx
        .engine(|state, _| {
            json!({"mode": state.clock.mode.as_str(), "scale": state.clock.scale, "nowNanos": state.sim.now().as_nanos()})
        })
        .await?;
    Ok(Reply::json(200, &value))
}

const CLOCK: &[Field] = &[("mode", Shape::Any), ("scale", Shape::Any)];

async fn set_clock(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, CLOCK)?;
    let mode = match body.str("mode")? {
        None => None,
        Some("realtime") => Some(ClockMode::Realtime),
        Some("manual") => Some(ClockMode::Manual),
        Some(_) => return Err(ApiError::member(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "mode", "realtime or manual")),
    };
    let scale = match body.get("scale") {
        None => None,
        Some(value) => {
            let scale = value.as_f64().ok_or_else(|| json::wrong_type("scale", "a number"))?;
            if !(scale > 0.0 && scale <= 1e6) {
                return Err(ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "scale", "scale must be in (0, 1e6]"));
            }
            Some(scale)
        }
    };
    ctx.engine(move |state, _| {
        let mode = mode.unwrap_or(state.clock.mode);
        let scale = scale.unwrap_or(state.clock.scale);
        state.clock.set(&mut state.sim, mode, scale);
    })
    .await?;
    clock(ctx).await
}

const ADVANCE: &[Field] = &[("seconds", Shape::Any)];

/// Longest single advance: 10 virtual years.
const MAX_ADVANCE_SECS: f64 = 10.0 * 365.0 * 86_400.0;

async fn advance(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, ADVANCE)?;
    let seconds = body.get("seconds").ok_or_else(|| json::missing("seconds"))?;
    let seconds = seconds.as_f64().ok_or_else(|| json::wrong_type("seconds", "a number"))?;
    if !(0.0..=MAX_ADVANCE_SECS).contains(&seconds) {
        return Err(ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "seconds", "0 to 10 years"));
    }
    let now = ctx
        .engine(move |state, _| {
            state.sim.advance(Duration::from_secs_f64(seconds));
            state.clock.reanchor(&state.sim);
            state.sim.now().as_nanos()
        })
        .await?;
    Ok(Reply::json(200, &json!({"nowNanos": now})))
}

const ARRAY_ACTION: &[Field] = &[("action", Shape::Any)];

async fn array_action(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, ARRAY_ACTION)?;
    let crash = match body.req_str("action")? {
        "crash" => true,
        "restart" => false,
        _ => return Err(ApiError::member(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "action", "crash or restart")),
    };
    ctx.run(move |sim, _| {
        let id = sim
            .array_by_name(&name)
            .ok_or_else(|| crate::Error::new(ErrorCode::URI_RES_NOT_FOUND, format!("no array '{name}'")))?;
        if crash {
            sim.crash_array(id);
        } else {
            sim.restart_array(id);
        }
        Ok(())
    })
    .await?;
    Ok(Reply::ok())
}

fn number_param(req: &Req, name: &str) -> ApiResult<u64> {
    let text = req.query_param(name).ok_or_else(|| json::missing(name))?;
    text.parse().map_err(|_| json::wrong_type(name, "a non-negative integer"))
}

async fn read(ctx: &Ctx, volume: String, req: &Req) -> ApiResult<Reply> {
    let offset = number_param(req, "offset")?;
    let length = number_param(req, "length")?;
    if length > MAX_READ {
        return Err(ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "length", "at most 16 MiB per read"));
    }
    let bytes = ctx.run(move |sim, id| sim.read(id, &volume, offset, length as usize)).await?;
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(Reply::json(200, &json!({"offset": offset, "length": length, "data": data})))
}

const WRITE: &[Field] = &[("offset", Shape::Any), ("data", Shape::Any)];

async fn write(ctx: &Ctx, volume: String, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, WRITE)?;
    let offset = body.uint("offset", u64::MAX >> 1)?.ok_or_else(|| json::missing("offset"))?;
    let data = body.req_str("data")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| json::wrong_type("data", "base64 (standard alphabet, padded)"))?;
    let ack = ctx.run(move |sim, id| sim.write(id, &volume, offset, &bytes)).await?;
    Ok(Reply::json(
        200,
        &json!({"submittedAtNanos": ack.submitted_at.as_nanos(), "acknowledgedAtNanos": ack.acknowledged_at.as_nanos()}),
    ))
}

const ARM: &[Field] = &[
    ("point", Shape::Any),
    ("array", Shape::Any),
    ("atSeconds", Shape::Any),
    ("code", Shape::Any),
    ("count", Shape::Any),
    ("method", Shape::Any),
    ("path", Shape::Any),
    ("millis", Shape::Any),
    ("from", Shape::Any),
    ("to", Shape::Any),
    ("state", Shape::Any),
    ("direction", Shape::Any),
    ("latencyMillis", Shape::Any),
    ("bandwidthBytesPerSec", Shape::Any),
];

/// `POST /sim/v1/faults`: arms one fault point.
///
/// * `array.crash` / `array.restart`: `array` (name; default this listener's), `atSeconds`
///   (virtual seconds from now; default now) — a model fault on the virtual timeline;
/// * `wsapi.error`: `code` (a 3PAR error number), `count` (default 1), `method`, `path` (prefix)
///   — the next matching WSAPI requests answer that error (503 only this way, spec §1.5);
/// * `wsapi.delay`: `millis`, `count`, `method`, `path` — matching requests are delayed;
/// * `link.down` / `link.up` / `link.partition`: `from`, `to`, `direction`, `atSeconds`;
///   `link.latency`: `latencyMillis`; `link.bandwidth`: `bandwidthBytesPerSec` — a model fault
///   on the Remote Copy links (see `control_links`).
async fn arm(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, ARM)?;
    let point = body.req_str("point")?;
    let Some(point) = FAULT_POINTS.iter().find(|p| **p == point).copied() else {
        return Err(ApiError::member(
            ErrorCode::INV_INPUT_BAD_ENUM_VALUE,
            "point",
            &format!("one of {FAULT_POINTS:?}"),
        ));
    };
    match point {
        "link.down" | "link.up" | "link.partition" | "link.latency" | "link.bandwidth" => {
            let change = control_links::parse_change(&body, Some(point))?;
            ctx.run(move |sim, own| control_links::apply(sim, own, &change)).await?;
        }
        "array.crash" | "array.restart" => {
            let array = body.str("array")?.map(str::to_owned);
            let at = match body.get("atSeconds") {
                None => 0.0,
                Some(v) => v.as_f64().filter(|s| (0.0..=MAX_ADVANCE_SECS).contains(s)).ok_or_else(|| {
                    ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "atSeconds", "0 to 10 years")
                })?,
            };
            let crash = point == "array.crash";
            ctx.run(move |sim, own| {
                let id = match array {
                    Some(name) => sim
                        .array_by_name(&name)
                        .ok_or_else(|| crate::Error::new(ErrorCode::URI_RES_NOT_FOUND, format!("no array '{name}'")))?,
                    None => own,
                };
                let fault = if crash { Fault::ArrayCrash(id) } else { Fault::ArrayRestart(id) };
                let when: Instant = sim.now() + Duration::from_secs_f64(at);
                if at == 0.0 {
                    sim.inject_fault(fault)
                } else {
                    sim.schedule_fault(when, fault)
                }
                Ok(())
            })
            .await?;
        }
        _ => {
            let count = body.int("count", 1, 1_000_000)?.unwrap_or(1) as u32;
            let method = body.str("method")?.map(str::to_owned);
            let path_prefix = body.str("path")?.map(str::to_owned);
            let (code, delay) = if point == "wsapi.error" {
                let number = body.int("code", 1, 100_000)?.ok_or_else(|| json::missing("code"))?;
                let code =
                    ErrorCode::ALL.iter().find(|c| i64::from(c.number()) == number).copied().ok_or_else(|| {
                        ApiError::member(ErrorCode::INV_INPUT_BAD_ENUM_VALUE, "code", "not a code of the table")
                    })?;
                (Some(code), Duration::ZERO)
            } else {
                let millis = body.int("millis", 0, 60_000)?.ok_or_else(|| json::missing("millis"))?;
                (None, Duration::from_millis(millis as u64))
            };
            let mut faults = ctx.shared.faults.lock().unwrap_or_else(|p| p.into_inner());
            if faults.len() >= MAX_ARMED {
                return Err(ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "point", "too many armed faults"));
            }
            faults.push(ArmedFault { point, method, path_prefix, remaining: count, code, delay });
        }
    }
    Ok(Reply::created("/sim/v1/faults".to_owned()))
}
