//! Flash cache (spec §11): `GET`/`DELETE /flashcache` and `POST /api/v1/` `{"flashCache": {...}}`.
//!
//! Configuration only: nothing is cached, `usedSizeGiB` is always 0 (see `crate::flash_cache`).

use serde_json::json;

use super::error::ApiResult;
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Shape};

const CACHE: &[Field] = &[("sizeGiB", Shape::Any), ("mode", Shape::Any)];
const CREATE: &[Field] = &[("flashCache", Shape::Object(CACHE))];

/// `GET /flashcache`: 404 (285) when none exists.
pub(crate) async fn get(ctx: &Ctx) -> ApiResult<Reply> {
    let (size, mode) = ctx.run(|sim, id| sim.array(id).flash_cache().map(|c| (c.size_gib, c.mode))).await?;
    Ok(Reply::json(200, &json!({"mode": mode, "sizeGiB": size, "state": 1, "usedSizeGiB": 0})))
}

/// `POST /api/v1/` `{"flashCache": {"sizeGiB", "mode"?}}`: 201.
pub(crate) async fn create(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, CREATE)?;
    let cache = body.obj("flashCache")?.ok_or_else(|| json::missing("flashCache"))?;
    let size = cache.uint("sizeGiB", u64::from(u32::MAX))?.ok_or_else(|| json::missing("sizeGiB"))?;
    let mode = cache.enumeration("mode", &[1, 2])?;
    ctx.run(move |sim, id| sim.array_mut(id).create_flash_cache(size, mode)).await?;
    Ok(Reply::created("/api/v1/flashcache".to_owned()))
}

/// `DELETE /flashcache`.
pub(crate) async fn delete(ctx: &Ctx) -> ApiResult<Reply> {
    ctx.run(|sim, id| sim.array_mut(id).delete_flash_cache()).await?;
    Ok(Reply::ok())
}
