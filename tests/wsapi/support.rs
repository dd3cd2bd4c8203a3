//! The one helper every WSAPI test goes through: start a server, log in, send JSON, read JSON.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use simulator::Simulation;
use simulator::wsapi::{ClockMode, Server, ServerConfig};

/// A response: status, JSON body (`Null` when empty) and `Location`.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub json: Value,
    pub location: Option<String>,
}

impl Resp {
    /// Asserts an error answer with `status` and `code`, and the 3PAR body shape.
    #[track_caller]
    pub fn error(&self, status: u16, code: i64) {
        assert_eq!((self.status, self.json["code"].as_i64()), (status, Some(code)), "{:?}", self.json);
        assert!(self.json["desc"].is_string(), "{:?}", self.json);
    }

    /// Asserts success with `status`.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Resp {
        assert_eq!(self.status, status, "{:?}", self.json);
        self
    }
}

/// A running server plus a client logged in to every array.
pub struct Sim {
    pub server: Server,
    client: Client<HttpConnector, Full<Bytes>>,
    keys: Vec<String>,
}

impl Sim {
    /// Both arrays on port 0, manual clock (tests move time through the control API).
    pub async fn start() -> Sim {
        Sim::start_with(ServerConfig { clock_mode: ClockMode::Manual, ..ServerConfig::ephemeral() }).await
    }

    /// A server with `config`, logged in on every array.
    pub async fn start_with(config: ServerConfig) -> Sim {
        let server = Server::start(config).await.expect("the server starts");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let mut sim = Sim { server, client, keys: Vec::new() };
        for index in 0..sim.server.listeners().len() {
            let key = sim.login(index).await;
            sim.keys.push(key);
        }
        sim
    }

    /// A fresh session key on array `index`.
    pub async fn login(&self, index: usize) -> String {
        let body = serde_json::json!({"user": "3paradm", "password": "3pardata"});
        let resp = self.raw(index, Method::POST, "/api/v1/credentials", Some(body.to_string()), None).await;
        assert_eq!(resp.status, 201, "{resp:?}");
        resp.json["key"].as_str().expect("a key").to_owned()
    }

    /// Sends a request with an optional raw body and session key to array `index`.
    pub async fn raw(&self, index: usize, method: Method, path: &str, body: Option<String>, key: Option<&str>) -> Resp {
        let uri = format!("http://{}{path}", self.server.local_addr(index));
        let mut builder = Request::builder().method(method).uri(uri).header("Accept", "application/json");
        if let Some(key) = key {
            builder = builder.header("X-Hp3Par-Wsapi-Sessionkey", key);
        }
        if body.is_some() {
            builder = builder.header("Content-Type", "application/json");
        }
        let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default()))).expect("a valid request");
        let response = tokio::time::timeout(Duration::from_secs(30), self.client.request(request))
            .await
            .expect("the server answers within 30 s")
            .expect("the request reaches the server");
        let status = response.status().as_u16();
        let location = response.headers().get("location").map(|v| v.to_str().expect("ASCII").to_owned());
        if let Some(kind) = response.headers().get("content-type") {
            assert_eq!(kind, "application/json");
        }
        let bytes = response.into_body().collect().await.expect("a body").to_bytes();
        let json = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON body") };
        Resp { status, json, location }
    }

    /// Sends JSON to the primary with its session.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_on(0, method, path, body).await
    }

    /// Sends JSON to array `index` with its session.
    pub async fn call_on(&self, index: usize, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.raw(index, method, path, body.map(|b| b.to_string()), Some(&self.keys[index])).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// Runs `f` on the model and returns its result.
    pub async fn model<R: Send + 'static>(&self, f: impl FnOnce(&mut Simulation) -> R + Send + 'static) -> R {
        self.server.with_simulation(f).await.expect("the engine runs")
    }

    /// The model's state digest.
    pub async fn digest(&self) -> simulator::Digest {
        self.model(|sim| sim.digest()).await
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}

/// A CPG `cpg`, a thin volume `name` (1 GiB, snapshot CPG `cpg`) on the primary.
pub async fn volume(sim: &Sim, cpg: &str, name: &str) {
    let cpgs = sim.get(&format!("/api/v1/cpgs/{cpg}")).await;
    if cpgs.status == 404 {
        sim.post("/api/v1/cpgs", serde_json::json!({"name": cpg})).await.ok(201);
    }
    let body = serde_json::json!({"name": name, "cpg": cpg, "sizeMiB": 1024, "tpvv": true, "snapCPG": cpg});
    sim.post("/api/v1/volumes", body).await.ok(201);
}

impl Sim {
    pub async fn get_on(&self, index: usize, path: &str) -> Resp {
        self.call_on(index, Method::GET, path, None).await
    }

    pub async fn post_on(&self, index: usize, path: &str, body: Value) -> Resp {
        self.call_on(index, Method::POST, path, Some(body)).await
    }

    pub async fn put_on(&self, index: usize, path: &str, body: Value) -> Resp {
        self.call_on(index, Method::PUT, path, Some(body)).await
    }

    /// Advances virtual time until no Remote Copy transfer runs (bounded: one virtual hour).
    pub async fn wait_syncs(&self) {
        let waited = self.post("/sim/v1/syncs/wait", serde_json::json!({})).await;
        assert_eq!((waited.status, waited.json["done"].as_bool()), (200, Some(true)), "{:?}", waited.json);
    }
}

/// Primary (array 0) and backup (array 1) of the default server.
pub const A: usize = 0;
pub const B: usize = 1;

/// The partner of group `name` created on the primary (system id 20001).
pub fn partner(name: &str) -> String {
    format!("{name}.r20001")
}

/// CPG `RC` on both arrays, volume `volume` (1 GiB thin, snapshot CPG `RC`) on the primary and a
/// Remote Copy group `group` on the primary with `mode` (1 sync, 2 periodic) towards SIM-B,
/// remote CPGs `RC`, with `volume` admitted and its secondary auto-created under the same name.
pub async fn rc_group(sim: &Sim, group: &str, volume: &str, mode: u8) {
    for index in [A, B] {
        if sim.get_on(index, "/api/v1/cpgs/RC").await.status == 404 {
            sim.post_on(index, "/api/v1/cpgs", serde_json::json!({"name": "RC"})).await.ok(201);
        }
    }
    let body = serde_json::json!({"name": volume, "cpg": "RC", "sizeMiB": 1024, "tpvv": true, "snapCPG": "RC"});
    sim.post("/api/v1/volumes", body).await.ok(201);
    let body = serde_json::json!({
        "name": group,
        "targets": [{"targetName": "SIM-B", "mode": mode, "userCPG": "RC", "snapCPG": "RC"}],
        "localUserCPG": "RC", "localSnapCPG": "RC",
    });
    sim.post("/api/v1/remotecopygroups", body).await.ok(201);
    let admit = serde_json::json!({
        "action": 1, "volumeName": volume,
        "targets": [{"targetName": "SIM-B", "secVolumeName": volume}], "volumeAutoCreation": true,
    });
    sim.put(&format!("/api/v1/remotecopygroups/{group}"), admit).await.ok(200);
}

/// `bytes` as the control API's base64.
pub fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}
