//! Remote Copy service, targets and links (spec §12.5, endpoints #55, #66–#69): the overall
//! status, each array's target definitions (with the `mirrorConfig` policy, the only thing a
//! client changes), and the links as this array sees them.
//!
//! What it deliberately does not do: create or dismiss targets and links (real clients do that
//! over SSH; the simulator builds them with the arrays, and the control API under `/sim/v1/links`
//! breaks and repairs them), or report per-link statistics.
//!
//! Enumerations the spec marks unverified [K] and their choice here: `GET /remotecopy` answers
//! `mode` 1 and `status` 1 (started) while the array is up, 2 when it is crashed; a target's
//! `type` is 1 (IP: the links are RCIP) and its `state` 1 ready, 2 failed (declared failed after
//! the target timeout); a link's `state` is 1 up (traffic flows both ways on it), 2 down.
//! The cost of choosing: a client that knows the real numbers may read them differently; they
//! are in one place each (this file) to change when confirmed.

use serde::Serialize;

use super::error::ApiResult;
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Shape};
use super::render::{Collection, PortPosJson};
use crate::remote_copy::{RcTarget, TargetState};
use crate::{Error, ErrorCode, Simulation};

/// `GET /remotecopy`.
pub(crate) async fn status(ctx: &Ctx) -> ApiResult<Reply> {
    let online = ctx.model(|sim, id| sim.array(id).is_online()).await?;
    let body = serde_json::json!({"mode": 1, "status": if online { 1 } else { 2 }, "asyncEnabled": false});
    Ok(Reply::json(200, &body))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetPolicies {
    mirror_config: bool,
}

#[derive(Serialize)]
struct TargetJson {
    name: String,
    id: u32,
    #[serde(rename = "type")]
    kind: u8,
    policies: TargetPolicies,
    state: u8,
}

fn render_target(target: &RcTarget) -> TargetJson {
    TargetJson {
        name: target.name.clone(),
        id: target.id,
        kind: 1,
        policies: TargetPolicies { mirror_config: target.mirror_config },
        state: match target.state {
            TargetState::Ready => 1,
            TargetState::Failed => 2,
        },
    }
}

fn no_target(name: &str) -> Error {
    Error::new(ErrorCode::NON_EXISTENT_RCOPY_TARGET, format!("remote copy target '{name}' does not exist"))
}

/// `GET /remotecopytargets`.
pub(crate) async fn list_targets(ctx: &Ctx) -> ApiResult<Reply> {
    let targets =
        ctx.model(|sim, id| sim.array(id).remote_copy().targets().map(render_target).collect::<Vec<_>>()).await?;
    Ok(Reply::json(200, &Collection::of(targets)))
}

/// `GET /remotecopytargets/<name>`.
pub(crate) async fn get_target(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    let target = ctx
        .run(move |sim, id| {
            sim.array(id).remote_copy().target(&name).map(render_target).ok_or_else(|| no_target(&name))
        })
        .await?;
    Ok(Reply::json(200, &target))
}

const TARGET_POLICIES: &[Field] = &[("mirrorConfig", Shape::Any)];
const MODIFY_TARGET: &[Field] = &[("policies", Shape::Object(TARGET_POLICIES))];

/// `PUT /remotecopytargets/<name>` `{"policies": {"mirrorConfig": bool}}`.
pub(crate) async fn modify_target(ctx: &Ctx, name: String, req: &Req) -> ApiResult<Reply> {
    let value = json::parse(&req.body)?;
    let body = json::object(&value, MODIFY_TARGET)?;
    let policies = body.obj("policies")?.ok_or_else(|| json::missing("policies"))?;
    let mirror = policies.bool("mirrorConfig")?.ok_or_else(|| json::missing("mirrorConfig"))?;
    let location = format!("/api/v1/remotecopytargets/{name}");
    ctx.run(move |sim, id| sim.remote_copy().set_mirror_config(id, &name, mirror)).await?;
    Ok(Reply::ok().at(location))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkJson {
    name: String,
    target_name: String,
    local_port_pos: PortPosJson,
    address: String,
    state: u8,
}

/// Every link of every pair this array belongs to, from its side.
fn links(sim: &Simulation, array: crate::ArrayId) -> Vec<LinkJson> {
    let mut found = Vec::new();
    for pair in sim.rc_pairs().filter(|p| p.a == array || p.b == array) {
        let peer = pair.other(array);
        let target = sim.array(array).remote_copy().target_for(peer).map(|t| t.name.clone()).unwrap_or_default();
        for link in &pair.links {
            let (local, remote) = if pair.a == array { (link.a_port, link.b_port) } else { (link.b_port, link.a_port) };
            let address = sim
                .array(peer)
                .ports()
                .iter()
                .find(|p| p.pos == remote)
                .and_then(|p| p.ip_addr.clone())
                .unwrap_or_else(|| remote.to_string());
            found.push(LinkJson {
                name: link.name.clone(),
                target_name: target.clone(),
                local_port_pos: local.into(),
                address,
                state: if link.up_ab && link.up_ba { 1 } else { 2 },
            });
        }
    }
    found
}

/// `GET /remotecopylinks`.
pub(crate) async fn list_links(ctx: &Ctx) -> ApiResult<Reply> {
    let links = ctx.model(|sim, id| links(sim, id)).await?;
    Ok(Reply::json(200, &Collection::of(links)))
}

/// `GET /remotecopylinks/<name>`.
pub(crate) async fn get_link(ctx: &Ctx, name: String) -> ApiResult<Reply> {
    let link = ctx
        .run(move |sim, id| {
            links(sim, id).into_iter().find(|l| l.name == name).ok_or_else(|| {
                Error::new(ErrorCode::NON_EXISTENT_RCOPY_LINK, format!("remote copy link '{name}' does not exist"))
            })
        })
        .await?;
    Ok(Reply::json(200, &link))
}
