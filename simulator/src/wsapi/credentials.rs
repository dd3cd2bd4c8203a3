//! Sessions (spec §2.2–2.4): `POST /credentials` logs in, `DELETE /credentials/<key>` logs out,
//! and every other endpoint but `GET /api` needs a live key in the session header.
//!
//! Sessions are per array and live on the async side (they are not model state: a reset or a
//! digest ignores them). A key expires after the configured idle time; many sessions per user are
//! allowed because the Python client logs in again on every 403 and never logs those out, and the
//! least recently used session is dropped when the table is full, so a client is never refused.
//! Keys are a counter plus per-process random bits (std's `RandomState`), unique and hard to guess.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::ServerConfig;
use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json;
use crate::ErrorCode;

struct Session {
    last_used: Instant,
}

struct Table {
    by_key: BTreeMap<String, Session>,
    issued: u64,
}

/// The sessions of one array.
pub(crate) struct Sessions {
    array: u32,
    idle_timeout: Duration,
    max_sessions: usize,
    salt: std::collections::hash_map::RandomState,
    table: Mutex<Table>,
}

impl Sessions {
    pub(crate) fn new(array: u32, config: &ServerConfig) -> Sessions {
        Sessions {
            array,
            idle_timeout: config.session_idle_timeout,
            max_sessions: config.max_sessions.max(1),
            salt: std::collections::hash_map::RandomState::new(),
            table: Mutex::new(Table { by_key: BTreeMap::new(), issued: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A poisoned lock only means a panic elsewhere while holding it; the table is still sound.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Issues a new key.
    pub(crate) fn open(&self) -> String {
        let now = Instant::now();
        let mut table = self.lock();
        table.issued += 1;
        let mut hasher = self.salt.build_hasher();
        hasher.write_u64(table.issued);
        let key = format!("{}-{:x}-{:016x}", self.array, table.issued, hasher.finish());
        table.by_key.retain(|_, s| now.duration_since(s.last_used) < self.idle_timeout);
        // Bounded: removes at most the surplus.
        while table.by_key.len() >= self.max_sessions {
            let oldest = table.by_key.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => table.by_key.remove(&k),
                None => break,
            };
        }
        table.by_key.insert(key.clone(), Session { last_used: now });
        key
    }

    /// Whether `key` is live; refreshes its idle timer, or forgets it if it expired.
    pub(crate) fn touch(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut table = self.lock();
        let Some(session) = table.by_key.get_mut(key) else {
            return false;
        };
        if now.duration_since(session.last_used) >= self.idle_timeout {
            table.by_key.remove(key);
            return false;
        }
        session.last_used = now;
        true
    }

    /// Ends `key`'s session; unknown keys are fine (logout is idempotent).
    pub(crate) fn close(&self, key: &str) {
        self.lock().by_key.remove(key);
    }

    /// Live sessions.
    pub(crate) fn count(&self) -> usize {
        let now = Instant::now();
        self.lock().by_key.values().filter(|s| now.duration_since(s.last_used) < self.idle_timeout).count()
    }
}

#[derive(Serialize)]
struct Key {
    key: String,
}

/// `POST /credentials`: 201 `{"key"}` with `Location`; bad user or password → 403 code 5;
/// missing members → 400 code 40. Extra members (`sessionType`, ...) are accepted and ignored.
pub(crate) fn login(ctx: &Ctx, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let serde_json::Value::Object(map) = &body else {
        return Err(ApiError::invalid("the request body must be a JSON object"));
    };
    let user = match map.get("user") {
        None | Some(serde_json::Value::Null) => return Err(json::missing("user")),
        Some(serde_json::Value::String(u)) => u.as_str(),
        Some(_) => return Err(json::wrong_type("user", "a string")),
    };
    let password = match map.get("password") {
        None | Some(serde_json::Value::Null) => return Err(json::missing("password")),
        Some(serde_json::Value::String(p)) => p.as_str(),
        Some(_) => return Err(json::wrong_type("password", "a string")),
    };
    if !ctx.shared.config.users.iter().any(|(u, p)| u == user && p == password) {
        return Err(ApiError::new(ErrorCode::INV_USER_PASS));
    }
    let key = ctx.shared.sessions[ctx.array.0 as usize].open();
    Ok(Reply::json(201, &Key { key: key.clone() }).at(format!("/api/v1/credentials/{key}")))
}

/// `DELETE /credentials/<key>`: 200 whether or not the key was live (never 401/403).
pub(crate) fn logout(ctx: &Ctx, key: &str) -> ApiResult<Reply> {
    ctx.shared.sessions[ctx.array.0 as usize].close(key);
    Ok(Reply::ok())
}
