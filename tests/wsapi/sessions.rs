//! Sessions and routing (spec §1.1, §1.5, §2): log in and out, keys, expiry, unknown paths,
//! unsupported methods.

use std::time::Duration;

use hyper::Method;
use serde_json::json;
use simulator::wsapi::{ClockMode, ServerConfig};

use super::support::Sim;

// Goal: the session rules of spec §2 hold. Method: log in and out with good and bad credentials
// and call endpoints with no, bad, live and logged-out keys, checking status, code and body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_logout_and_keys() {
    let sim = Sim::start().await;
    let version = sim.raw(0, Method::GET, "/api", None, None).await;
    version.ok(200);
    assert_eq!(version.json, json!({"major": 1, "minor": 8, "revision": 0, "build": 30301460}));
    sim.raw(0, Method::GET, "/api", None, Some("garbage")).await.ok(200);

    let bad = json!({"user": "3paradm", "password": "nope"}).to_string();
    let resp = sim.raw(0, Method::POST, "/api/v1/credentials", Some(bad), None).await;
    resp.error(403, 5);
    assert_eq!(resp.json["desc"], "invalid user or password");
    let missing = json!({"user": "3paradm"}).to_string();
    sim.raw(0, Method::POST, "/api/v1/credentials", Some(missing), None).await.error(400, 40);
    let extra = json!({"user": "3paradm", "password": "3pardata", "sessionType": 1}).to_string();
    let login = sim.raw(0, Method::POST, "/api/v1/credentials", Some(extra), None).await;
    login.ok(201);
    let key = login.json["key"].as_str().unwrap().to_owned();
    assert_eq!(login.location.as_deref(), Some(format!("/api/v1/credentials/{key}").as_str()));

    sim.raw(0, Method::GET, "/api/v1/system", None, None).await.error(403, 6);
    sim.raw(0, Method::GET, "/api/v1/system", None, Some("0-1-badkey")).await.error(403, 6);
    let system = sim.raw(0, Method::GET, "/api/v1/system", None, Some(&key)).await;
    system.ok(200);
    assert_eq!(system.json["id"], 20001);
    // A key is per array.
    sim.raw(1, Method::GET, "/api/v1/system", None, Some(&key)).await.error(403, 6);

    sim.raw(0, Method::DELETE, &format!("/api/v1/credentials/{key}"), None, None).await.ok(200);
    sim.raw(0, Method::GET, "/api/v1/system", None, Some(&key)).await.error(403, 6);
    // Logging out twice, or an unknown key, is fine (never 401/403).
    sim.raw(0, Method::DELETE, &format!("/api/v1/credentials/{key}"), None, None).await.ok(200);
    sim.stop().await;
}

// Goal: unknown paths are JSON 404 code 11 with or without a session, never 401/403; known paths
// with an unsupported method are 501 code 9; trailing slashes are tolerated. Method: probe paths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_never_answers_403_for_unknown_paths() {
    let sim = Sim::start().await;
    for path in [
        "/nothing",
        "/api/v2/volumes",
        "/api/v1/nothing",
        "/api/v1systemreporter/vstime/cpgstatistics/daily",
        // Longer than any resource (five segments), also under resources that exist.
        "/api/v1/remotecopygroups/g/volumes/v/more",
        "/api/v1/credentials/a/b/c/d",
        "/api/v1/volumes/a/objectKeyValues/k/x/y/z",
    ] {
        sim.raw(0, Method::GET, path, None, None).await.error(404, 11);
        sim.get(path).await.error(404, 11);
    }
    sim.raw(0, Method::GET, "/sim/v1/nothing", None, None).await.error(404, 11);
    sim.call(Method::PATCH, "/api/v1/volumes", None).await.error(501, 9);
    sim.call(Method::DELETE, "/api/v1/system", None).await.error(501, 9);
    sim.get("/api/v1/volumes/").await.ok(200);
    sim.get("/api/v1/systemreporter/vstime/cpgstatistics/hourly").await.ok(200);
    let vlans = sim.get("/api/v1/ports/0:2:1/iSCSIVlans/").await;
    vlans.ok(200);
    assert_eq!(vlans.json["iSCSIVlans"], json!([]));
    sim.stop().await;
}

// Goal: many sessions per user coexist and idle ones expire. Method: a server with a 300 ms idle
// timeout; open 150 sessions, use them all, then wait past the timeout and see them refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_many_and_expire() {
    let config = ServerConfig {
        clock_mode: ClockMode::Manual,
        session_idle_timeout: Duration::from_millis(300),
        ..ServerConfig::ephemeral()
    };
    let sim = Sim::start_with(config).await;
    let mut keys = Vec::new();
    for _ in 0..150 {
        keys.push(sim.login(0).await);
    }
    for key in &keys {
        sim.raw(0, Method::GET, "/api/v1/wsapiconfiguration", None, Some(key)).await.ok(200);
    }
    let config = sim.raw(0, Method::GET, "/api/v1/wsapiconfiguration", None, Some(&keys[0])).await;
    assert!(config.json["sessionsInUse"].as_u64().unwrap() >= 150);
    tokio::time::sleep(Duration::from_millis(700)).await;
    sim.raw(0, Method::GET, "/api/v1/system", None, Some(&keys[0])).await.error(403, 6);
    sim.stop().await;
}
