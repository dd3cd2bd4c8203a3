//! Volume key/value metadata (spec §5.11): `/volumes/<name>/objectKeyValues[/<key>]`.
//!
//! Keys are checked here before the volume is looked up (input errors before existence errors,
//! spec §1.8); the model repeats the check, which costs nothing and keeps its API safe alone.

use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Field, Shape};
use super::render::{Collection, iso8601, unix_secs};
use crate::names::validate_key;
use crate::{KeyValue, Simulation};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyValueJson {
    key: String,
    value: String,
    creation_time_sec: i64,
    creation_time8601: String,
}

fn render(sim: &Simulation, key: &str, kv: &KeyValue) -> KeyValueJson {
    KeyValueJson {
        key: key.to_owned(),
        value: kv.value.clone(),
        creation_time_sec: unix_secs(sim, kv.created_at),
        creation_time8601: iso8601(sim, kv.created_at),
    }
}

fn check_key(key: &str) -> ApiResult<()> {
    validate_key(key).map_err(|e| ApiError::from(e).with_ref("key"))
}

/// `GET …/objectKeyValues`: exactly `{"total": 0, "members": []}` when empty.
pub(crate) async fn list(ctx: &Ctx, volume: String) -> ApiResult<Reply> {
    let members = ctx
        .run(move |sim, id| {
            let v = sim.array(id).volume(&volume)?;
            Ok(v.metadata.iter().map(|(k, kv)| render(sim, k, kv)).collect::<Vec<_>>())
        })
        .await?;
    Ok(Reply::json(200, &Collection::of(members)))
}

const CREATE: &[Field] = &[("key", Shape::Any), ("value", Shape::Any)];
const UPDATE: &[Field] = &[("value", Shape::Any)];

/// `POST …/objectKeyValues` `{"key", "value"}`.
pub(crate) async fn create(ctx: &Ctx, volume: String, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, CREATE)?;
    let key = body.req_str("key")?.to_owned();
    check_key(&key)?;
    let value = body.req_str("value")?.to_owned();
    let location = format!("/api/v1/volumes/{volume}/objectKeyValues/{key}");
    ctx.run(move |sim, id| sim.array_mut(id).create_metadata(&volume, &key, &value)).await?;
    Ok(Reply::created(location))
}

/// `GET …/objectKeyValues/<key>`.
pub(crate) async fn get(ctx: &Ctx, volume: String, key: String) -> ApiResult<Reply> {
    check_key(&key)?;
    let kv = ctx
        .run(move |sim, id| {
            let v = sim.array(id).volume(&volume)?;
            match v.metadata.get(&key) {
                Some(kv) => Ok(render(sim, &key, kv)),
                None => Err(crate::Error::new(
                    crate::ErrorCode::NON_EXISTENT_OBJECT_KEY,
                    format!("key '{key}' does not exist on '{volume}'"),
                )),
            }
        })
        .await?;
    Ok(Reply::json(200, &kv))
}

/// `PUT …/objectKeyValues/<key>` `{"value"}`.
pub(crate) async fn update(ctx: &Ctx, volume: String, key: String, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, UPDATE)?;
    check_key(&key)?;
    let value = body.req_str("value")?.to_owned();
    ctx.run(move |sim, id| sim.array_mut(id).update_metadata(&volume, &key, &value)).await?;
    Ok(Reply::ok())
}

/// `DELETE …/objectKeyValues/<key>`.
pub(crate) async fn delete(ctx: &Ctx, volume: String, key: String) -> ApiResult<Reply> {
    check_key(&key)?;
    ctx.run(move |sim, id| sim.array_mut(id).delete_metadata(&volume, &key)).await?;
    Ok(Reply::ok())
}
