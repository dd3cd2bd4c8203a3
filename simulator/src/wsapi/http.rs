//! HTTP plumbing: accepting connections, reading bounded bodies, routing paths to resources,
//! checking sessions, and writing JSON answers with the headers clients expect (spec §1.3).
//!
//! Routing happens before authentication so that an unknown path is always a JSON 404 (code 11)
//! and never a 401/403, which would make the Python client log in again and replay (spec §1.5).
//! A known path with an unsupported method answers 501 (code 9).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION, PRAGMA, SERVER};
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::control::{self, ArmedFault};
use super::credentials::Sessions;
use super::engine::{Engine, EngineState};
use super::error::{ApiError, ApiResult};
use super::self_wake::AbsorbSelfWakes;
use super::{ServerConfig, cpgs, credentials, flashcache, hosts, metadata, ports, qos, sets, system, tasks};
use super::{remote_copy, remote_copy_groups, vluns, volumes};
use crate::{ArrayId, ErrorCode, Simulation};

/// Most connections served at once per listener; further ones wait to be accepted.
const MAX_CONNECTIONS: usize = 1024;

/// Longest wait for a request's headers on an open connection.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Largest request body on `/api` paths.
const MAX_API_BODY: usize = 1 << 20;

/// Largest request body on `/sim` paths (volume data writes).
const MAX_CONTROL_BODY: usize = 64 << 20;

/// How far past its limit a request body is still read and discarded before answering 413
/// (see `read_body`).
const MAX_DRAINED_EXCESS: usize = 16 << 20;

/// Most path segments after `/api/v1` of any resource (`remotecopygroups/<g>/volumes/<v>`).
const MAX_SEGMENTS: usize = 4;

/// The session header (matched case-insensitively, as HTTP header names are).
pub(crate) const SESSION_HEADER: &str = "x-hp3par-wsapi-sessionkey";

/// State shared by every listener and request.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) config: ServerConfig,
    /// Sessions of each array (index = array id).
    pub(crate) sessions: Vec<Sessions>,
    /// Faults armed through the control API that act on the HTTP layer.
    pub(crate) faults: Mutex<Vec<ArmedFault>>,
    /// Where each array's listener is bound (index = array id).
    pub(crate) local_addrs: Vec<std::net::SocketAddr>,
}

impl Shared {
    pub(crate) fn new(config: ServerConfig, engine: Engine, local_addrs: Vec<std::net::SocketAddr>) -> Shared {
        let sessions = (0..local_addrs.len()).map(|i| Sessions::new(i as u32, &config)).collect();
        Shared { engine, config, sessions, faults: Mutex::new(Vec::new()), local_addrs }
    }
}

/// What a handler sees: which array it serves, the shared state, and whether its model work
/// may take long (collections and the control API: see `engine`).
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) array: ArrayId,
    pub(crate) shared: Arc<Shared>,
    pub(crate) heavy: bool,
}

impl Ctx {
    /// Runs `f` on the model under the engine lock, with this listener's array id.
    pub(crate) async fn model<R>(&self, f: impl FnOnce(&mut Simulation, ArrayId) -> R) -> ApiResult<R> {
        let array = self.array;
        Ok(self.shared.engine.call(self.heavy, move |state| f(&mut state.sim, array)).await?)
    }

    /// Runs `f` with the whole engine state (clock, configuration).
    pub(crate) async fn engine<R>(&self, f: impl FnOnce(&mut EngineState, ArrayId) -> R) -> ApiResult<R> {
        let array = self.array;
        Ok(self.shared.engine.call(self.heavy, move |state| f(state, array)).await?)
    }

    /// Runs a fallible model operation and converts its error.
    pub(crate) async fn run<R>(&self, f: impl FnOnce(&mut Simulation, ArrayId) -> crate::Result<R>) -> ApiResult<R> {
        self.model(f).await?.map_err(ApiError::from)
    }
}

/// A parsed request.
pub(crate) struct Req {
    pub(crate) method: Method,
    /// Percent-decoded path segments after `/api/v1` (or `/sim/v1`).
    pub(crate) segments: Vec<String>,
    /// The raw query string.
    pub(crate) query: Option<String>,
    pub(crate) body: Bytes,
}

impl Req {
    /// A boolean query parameter (`true`/`false`, any case); absent is false; anything else is
    /// 400 `INV_INPUT_WRONG_TYPE` (39), the answer for a non-boolean body member.
    pub(crate) fn query_flag(&self, name: &str) -> ApiResult<bool> {
        match self.query_param(name) {
            None => Ok(false),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(super::json::wrong_type(name, "true or false")),
        }
    }

    /// The value of query parameter `name`, percent-decoded (`+` is a space).
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then(|| {
                let value = value.replace('+', " ");
                percent_encoding::percent_decode_str(&value).decode_utf8_lossy().into_owned()
            })
        })
    }
}

/// A successful answer.
pub(crate) struct Reply {
    status: u16,
    body: Option<Vec<u8>>,
    content_type: &'static str,
    location: Option<String>,
}

impl Reply {
    /// 200 with an empty body.
    pub(crate) fn ok() -> Reply {
        Reply { status: 200, body: None, content_type: "application/json", location: None }
    }

    /// 201 with an empty body and `Location: location`.
    pub(crate) fn created(location: String) -> Reply {
        Reply { status: 201, body: None, content_type: "application/json", location: Some(location) }
    }

    /// `status` with a JSON body.
    pub(crate) fn json<T: Serialize>(status: u16, value: &T) -> Reply {
        Reply::raw_json(status, json_bytes(value))
    }

    /// `status` with a body already serialised by [`json_bytes`].
    pub(crate) fn raw_json(status: u16, body: Vec<u8>) -> Reply {
        Reply { status, body: Some(body), content_type: "application/json", location: None }
    }

    /// Adds a `Location` header.
    pub(crate) fn at(mut self, location: String) -> Reply {
        self.location = Some(location);
        self
    }
}

/// `value` as JSON bytes.
pub(crate) fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    // Most answers are one object of a few hundred bytes to 2 KiB: start big enough that the
    // buffer is rarely regrown (each regrowth copies everything written so far).
    let mut body = Vec::with_capacity(2048);
    serde_json::to_writer(&mut body, value).expect("response types serialise");
    body
}

/// Accepts connections on `listener` for `array` until shutdown, then drains in-flight ones.
pub(crate) async fn serve(
    listener: TcpListener,
    array: ArrayId,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            permit = limit.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = shutdown.changed() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((stream, _)) = accepted else {
            // Transient accept errors (e.g. too many open files): try again.
            continue;
        };
        let _ = stream.set_nodelay(true);
        let ctx = Ctx { array, shared: shared.clone(), heavy: false };
        let service = service_fn(move |request| {
            let ctx = ctx.clone();
            async move { Ok::<_, Infallible>(handle(ctx, request).await) }
        });
        let connection =
            // A client that never finishes its headers is dropped after HEADER_TIMEOUT, so idle
            // sockets cannot hold the connection permits forever.
            hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
        // A request body wakes its own connection task while it runs: see `self_wake`.
        let connection = AbsorbSelfWakes::new(graceful.watch(connection));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    // In-flight requests get a bounded time to finish.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
}

/// Where a path leads.
enum Target {
    /// `GET /api`.
    Version,
    /// `/api/v1/...` with its segments.
    Api(Vec<String>),
    /// `/sim/v1/...` with its segments.
    Control(Vec<String>),
}

fn split_path(path: &str) -> ApiResult<Option<Target>> {
    // `POST /api/v1/` creates the flash cache (spec §1.1): keep that one trailing slash meaningful.
    if path == "/api/v1/" || path == "/api/v1" {
        return Ok(Some(Target::Api(Vec::new())));
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    if path == "/api" {
        return Ok(Some(Target::Version));
    }
    let (rest, control) = if let Some(rest) = path.strip_prefix("/api/v1/") {
        (rest, false)
    } else if let Some(rest) = path.strip_prefix("/sim/v1/") {
        (rest, true)
    } else {
        return Ok(None);
    };
    let segments = rest
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| ApiError::invalid("the path is not valid UTF-8"))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Some(if control { Target::Control(segments) } else { Target::Api(segments) }))
}

async fn handle(ctx: Ctx, request: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = match respond(&ctx, request).await {
        Ok(reply) => reply,
        Err(error) => {
            Reply { status: error.status(), body: Some(error.body()), content_type: "application/json", location: None }
        }
    };
    build(reply)
}

fn build(reply: Reply) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let has_body = reply.body.is_some();
    let mut response = Response::new(Full::new(Bytes::from(reply.body.unwrap_or_default())));
    *response.status_mut() = status;
    // Known names and static values: nothing is parsed per request.
    let headers = response.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static("HP3PAR-WSAPI"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    if has_body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    }
    // The location's own buffer becomes the header value (checked, not copied).
    if let Some(location) = reply.location
        && let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(location))
    {
        headers.insert(LOCATION, value);
    }
    response
}

/// Reads a request body of at most `limit` bytes. A longer body is still read to its end, up
/// to `limit` + [`MAX_DRAINED_EXCESS`] bytes, and discarded before the 413 `INPUT_TOO_LONG` answer: a client
/// that writes its whole body before reading (Python's `http.client`) then gets the JSON error
/// on a live connection instead of a broken pipe. Bodies announced or found longer than that
/// are answered at once and the connection closes.
async fn read_body(body: Incoming, limit: usize) -> ApiResult<Bytes> {
    let too_long = || ApiError::new(ErrorCode::INPUT_TOO_LONG);
    let drained = limit.saturating_add(MAX_DRAINED_EXCESS);
    if hyper::body::Body::size_hint(&body).lower() > drained as u64 {
        return Err(too_long());
    }
    let mut body = Limited::new(body, drained);
    let mut kept = Vec::new();
    let mut read = 0usize;
    // Bounded: `Limited` ends the loop with an error past `drained` bytes.
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(if read > limit { too_long() } else { ApiError::new(ErrorCode::INPUT_EOF) });
        };
        if let Ok(data) = frame.into_data() {
            read += data.len();
            if read <= limit {
                kept.extend_from_slice(&data);
            }
        }
    }
    if read > limit {
        return Err(too_long());
    }
    Ok(Bytes::from(kept))
}

async fn respond(ctx: &Ctx, request: hyper::Request<Incoming>) -> ApiResult<Reply> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let target = split_path(path)?;
    if !matches!(target, Some(Target::Control(_))) {
        control::apply_http_faults(ctx, &parts.method, path).await?;
    }
    let limit = if matches!(target, Some(Target::Control(_))) { MAX_CONTROL_BODY } else { MAX_API_BODY };
    let body = read_body(body, limit).await?;
    let session = parts.headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok());
    let req =
        |segments| Req { method: parts.method.clone(), segments, query: parts.uri.query().map(str::to_owned), body };
    match target {
        None => Err(ApiError::new(ErrorCode::URI_RES_NOT_FOUND)),
        Some(Target::Version) => match parts.method {
            Method::GET => system::version(ctx),
            _ => Err(ApiError::new(ErrorCode::UNSUP_OP)),
        },
        Some(Target::Control(segments)) => {
            let req = req(segments);
            if !control::is_known(&req.segments) {
                return Err(ApiError::new(ErrorCode::URI_RES_NOT_FOUND));
            }
            authenticate(ctx, session)?;
            // Bulk data, clock advances, digests and resets may take long.
            control::dispatch(&Ctx { heavy: true, ..ctx.clone() }, req).await
        }
        Some(Target::Api(segments)) => {
            // Collections (one path segment, GET) render every object of their kind.
            let heavy = segments.len() <= 1 && parts.method == Method::GET;
            let ctx = if heavy { &Ctx { heavy: true, ..ctx.clone() } } else { ctx };
            api(ctx, req(segments), session).await
        }
    }
}

fn authenticate(ctx: &Ctx, key: Option<&str>) -> ApiResult<()> {
    let sessions = &ctx.shared.sessions[ctx.array.0 as usize];
    match key {
        Some(key) if sessions.touch(key) => Ok(()),
        _ => Err(ApiError::new(ErrorCode::INV_SESS_KEY)),
    }
}

/// Routes an `/api/v1` request: resource first (404 if none), then method (501 if not served
/// there), then the session (403), then the handler.
async fn api(ctx: &Ctx, req: Req, session: Option<&str>) -> ApiResult<Reply> {
    use Method as M;
    // No resource has more than four segments: a longer path is unknown (and needs no
    // allocation to find that out).
    if req.segments.len() > MAX_SEGMENTS {
        return Err(ApiError::new(ErrorCode::URI_RES_NOT_FOUND));
    }
    let mut held = [""; MAX_SEGMENTS];
    for (slot, segment) in held.iter_mut().zip(&req.segments) {
        *slot = segment.as_str();
    }
    let segs = &held[..req.segments.len()];
    let method = req.method.clone();
    let unsupported = || Err(ApiError::new(ErrorCode::UNSUP_OP));
    // Log in and out need no session.
    match segs {
        ["credentials"] => return if method == M::POST { credentials::login(ctx, &req) } else { unsupported() },
        ["credentials", key] => {
            return if method == M::DELETE { credentials::logout(ctx, key) } else { unsupported() };
        }
        _ => {}
    }
    let known = matches!(
        segs,
        [] | ["system"]
            | ["wsapiconfiguration"]
            | ["capacity"]
            | ["tasks"]
            | ["tasks", _]
            | ["cpgs"]
            | ["cpgs", _]
            | ["spacereporter"]
            | ["volumes"]
            | ["volumes", _]
            | ["volumes", _, "objectKeyValues"]
            | ["volumes", _, "objectKeyValues", _]
            | ["volumesets"]
            | ["volumesets", _]
            | ["hostsets"]
            | ["hostsets", _]
            | ["hosts"]
            | ["hosts", _]
            | ["vluns"]
            | ["vluns", _]
            | ["ports"]
            | ["ports", _, "iSCSIVlans"]
            | ["qos"]
            | ["qos", _]
            | ["flashcache"]
            | ["systemreporter", "vstime", "cpgstatistics", _]
            | ["remotecopy"]
            | ["remotecopygroups"]
            | ["remotecopygroups", _]
            | ["remotecopygroups", _, "volumes"]
            | ["remotecopygroups", _, "volumes", _]
            | ["remotecopytargets"]
            | ["remotecopytargets", _]
            | ["remotecopylinks"]
            | ["remotecopylinks", _]
    );
    if !known {
        return Err(ApiError::new(ErrorCode::URI_RES_NOT_FOUND));
    }
    let allowed = match segs {
        [] => method == M::POST,
        ["volumes", _] | ["volumesets", _] | ["hostsets", _] | ["remotecopygroups", _] => {
            matches!(method, M::GET | M::POST | M::PUT | M::DELETE)
        }
        ["volumes", _, "objectKeyValues", _] | ["hosts", _] | ["qos", _] => {
            matches!(method, M::GET | M::PUT | M::DELETE)
        }
        ["tasks", _] => matches!(method, M::GET | M::PUT),
        ["cpgs", _] => matches!(method, M::GET | M::PUT | M::DELETE),
        ["flashcache"] => matches!(method, M::GET | M::DELETE),
        ["vluns", _] => method == M::DELETE,
        ["spacereporter"] => method == M::POST,
        ["cpgs"]
        | ["volumes"]
        | ["volumesets"]
        | ["hostsets"]
        | ["hosts"]
        | ["vluns"]
        | ["qos"]
        | ["remotecopygroups"] => matches!(method, M::GET | M::POST),
        ["volumes", _, "objectKeyValues"] | ["remotecopygroups", _, "volumes"] => matches!(method, M::GET | M::POST),
        ["remotecopygroups", _, "volumes", _] => matches!(method, M::GET | M::DELETE),
        ["remotecopytargets", _] => matches!(method, M::GET | M::PUT),
        _ => method == M::GET,
    };
    if !allowed {
        return unsupported();
    }
    authenticate(ctx, session)?;
    // One name check for every object named in the path (spec §1.8: 400 before 404), by the
    // segment's position: a group's volume is named after the group.
    let named_objects: &[(usize, &str)] = match segs {
        ["cpgs", ..] => &[(1, "CPG")],
        ["volumes", ..] => &[(1, "volume")],
        ["volumesets" | "hostsets", ..] => &[(1, "set")],
        ["hosts", ..] => &[(1, "host")],
        ["remotecopygroups", _, "volumes", _] => &[(1, "remote copy group"), (3, "volume")],
        ["remotecopygroups", ..] => &[(1, "remote copy group")],
        ["remotecopytargets", ..] => &[(1, "target")],
        ["remotecopylinks", ..] => &[(1, "link")],
        _ => &[],
    };
    for (position, what) in named_objects {
        if let Some(object) = segs.get(*position) {
            super::json::path_name(what, object)?;
        }
    }
    let name = |i: usize| segs[i].to_owned();
    match (method, segs) {
        (M::POST, []) => flashcache::create(ctx, &req).await,
        (_, ["system"]) => system::system(ctx).await,
        (_, ["wsapiconfiguration"]) => system::wsapi_configuration(ctx),
        (_, ["capacity"]) => system::capacity(ctx).await,
        (_, ["systemreporter", "vstime", "cpgstatistics", interval]) => system::cpg_statistics(interval),
        (_, ["tasks"]) => tasks::list(ctx).await,
        (M::GET, ["tasks", id]) => tasks::get(ctx, id).await,
        (_, ["tasks", id]) => tasks::modify(ctx, id, &req).await,
        (M::GET, ["cpgs"]) => cpgs::list(ctx).await,
        (_, ["cpgs"]) => cpgs::create(ctx, &req).await,
        (M::GET, ["cpgs", _]) => cpgs::get(ctx, name(1)).await,
        (M::PUT, ["cpgs", _]) => cpgs::modify(ctx, name(1), &req).await,
        (_, ["cpgs", _]) => cpgs::delete(ctx, name(1)).await,
        (_, ["spacereporter"]) => cpgs::space_reporter(ctx, &req).await,
        (M::GET, ["volumes"]) => volumes::list(ctx, &req).await,
        (_, ["volumes"]) => volumes::create(ctx, &req).await,
        (M::GET, ["volumes", _]) => volumes::get(ctx, name(1)).await,
        (M::POST, ["volumes", _]) => volumes::post_action(ctx, name(1), &req).await,
        (M::PUT, ["volumes", _]) => volumes::put(ctx, name(1), &req).await,
        (_, ["volumes", _]) => volumes::delete(ctx, name(1)).await,
        (M::GET, ["volumes", _, _]) => metadata::list(ctx, name(1)).await,
        (_, ["volumes", _, _]) => metadata::create(ctx, name(1), &req).await,
        (M::GET, ["volumes", _, _, _]) => metadata::get(ctx, name(1), name(3)).await,
        (M::PUT, ["volumes", _, _, _]) => metadata::update(ctx, name(1), name(3), &req).await,
        (_, ["volumes", _, _, _]) => metadata::delete(ctx, name(1), name(3)).await,
        (M::GET, [kind @ ("volumesets" | "hostsets")]) => sets::list(ctx, sets::Kind::of(kind)).await,
        (_, [kind @ ("volumesets" | "hostsets")]) => sets::create(ctx, sets::Kind::of(kind), &req).await,
        (M::GET, [kind @ ("volumesets" | "hostsets"), _]) => sets::get(ctx, sets::Kind::of(kind), name(1)).await,
        (M::POST, [kind @ ("volumesets" | "hostsets"), _]) => {
            sets::post_action(ctx, sets::Kind::of(kind), name(1), &req).await
        }
        (M::PUT, [kind @ ("volumesets" | "hostsets"), _]) => {
            sets::modify(ctx, sets::Kind::of(kind), name(1), &req).await
        }
        (_, [kind @ ("volumesets" | "hostsets"), _]) => sets::delete(ctx, sets::Kind::of(kind), name(1)).await,
        (M::GET, ["hosts"]) => hosts::list(ctx, &req).await,
        (_, ["hosts"]) => hosts::create(ctx, &req).await,
        (M::GET, ["hosts", _]) => hosts::get(ctx, name(1)).await,
        (M::PUT, ["hosts", _]) => hosts::modify(ctx, name(1), &req).await,
        (_, ["hosts", _]) => hosts::delete(ctx, name(1)).await,
        (M::GET, ["vluns"]) => vluns::list(ctx, &req).await,
        (_, ["vluns"]) => vluns::create(ctx, &req).await,
        (_, ["vluns", _]) => vluns::delete(ctx, name(1), &req).await,
        (_, ["ports"]) => ports::list(ctx).await,
        (_, ["ports", _, _]) => ports::iscsi_vlans(ctx, name(1)).await,
        (M::GET, ["qos"]) => qos::list(ctx).await,
        (_, ["qos"]) => qos::create(ctx, &req).await,
        (M::GET, ["qos", _]) => qos::get(ctx, name(1)).await,
        (M::PUT, ["qos", _]) => qos::modify(ctx, name(1), &req).await,
        (_, ["qos", _]) => qos::delete(ctx, name(1)).await,
        (M::GET, ["flashcache"]) => flashcache::get(ctx).await,
        (_, ["flashcache"]) => flashcache::delete(ctx).await,
        (_, ["remotecopy"]) => remote_copy::status(ctx).await,
        (M::GET, ["remotecopygroups"]) => remote_copy_groups::list(ctx).await,
        (_, ["remotecopygroups"]) => remote_copy_groups::create(ctx, &req).await,
        (M::GET, ["remotecopygroups", _]) => remote_copy_groups::get(ctx, name(1)).await,
        (M::PUT, ["remotecopygroups", _]) => remote_copy_groups::put(ctx, name(1), &req).await,
        (M::POST, ["remotecopygroups", _]) => remote_copy_groups::post_action(ctx, name(1), &req).await,
        (_, ["remotecopygroups", _]) => remote_copy_groups::delete(ctx, name(1), &req).await,
        (M::GET, ["remotecopygroups", _, _]) => remote_copy_groups::list_volumes(ctx, name(1)).await,
        (_, ["remotecopygroups", _, _]) => remote_copy_groups::add_volume(ctx, name(1), &req).await,
        (M::GET, ["remotecopygroups", _, _, _]) => remote_copy_groups::get_volume(ctx, name(1), name(3)).await,
        (_, ["remotecopygroups", _, _, _]) => remote_copy_groups::remove_volume(ctx, name(1), name(3), &req).await,
        (_, ["remotecopytargets"]) => remote_copy::list_targets(ctx).await,
        (M::GET, ["remotecopytargets", _]) => remote_copy::get_target(ctx, name(1)).await,
        (_, ["remotecopytargets", _]) => remote_copy::modify_target(ctx, name(1), &req).await,
        (_, ["remotecopylinks"]) => remote_copy::list_links(ctx).await,
        (_, ["remotecopylinks", _]) => remote_copy::get_link(ctx, name(1)).await,
        _ => unsupported(),
    }
}
