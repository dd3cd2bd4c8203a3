//! The simulator-control API (`/sim/v1`).

use serde_json::json;

use super::support::{Sim, volume};

// Goal: the control API moves the clock, crashes and restarts arrays, reads and writes bytes,
// resets and reports a digest that tracks the model. Method: drive each endpoint and compare
// with the model seen directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_arrays_data_reset_faults() {
    let sim = Sim::start().await;
    let clock = sim.get("/sim/v1/clock").await;
    assert_eq!(clock.json["mode"], "manual");
    let t0 = clock.json["nowNanos"].as_u64().unwrap();
    let moved = sim.post("/sim/v1/clock/advance", json!({"seconds": 2.5})).await;
    assert_eq!(moved.json["nowNanos"].as_u64().unwrap(), t0 + 2_500_000_000);
    sim.post("/sim/v1/clock/advance", json!({"seconds": -1})).await.error(400, 43);
    let set = sim.put("/sim/v1/clock", json!({"mode": "realtime", "scale": 2.0})).await;
    assert_eq!((set.json["mode"].as_str(), set.json["scale"].as_f64()), (Some("realtime"), Some(2.0)));
    sim.put("/sim/v1/clock", json!({"mode": "sideways"})).await.error(400, 46);
    sim.put("/sim/v1/clock", json!({"mode": "manual"})).await.ok(200);

    volume(&sim, "C", "V").await;
    let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"hello");
    sim.put("/sim/v1/volumes/V/data", json!({"offset": 4096, "data": data})).await.ok(200);
    let read = sim.get("/sim/v1/volumes/V/data?offset=4096&length=5").await;
    assert_eq!(read.json["data"], data);
    let direct = sim.model(|s| s.read(s.primary(), "V", 4096, 5).unwrap()).await;
    assert_eq!(direct, b"hello");
    sim.get("/sim/v1/volumes/V/data?offset=0").await.error(400, 40);
    sim.get(&format!("/sim/v1/volumes/V/data?offset={}&length=1", 1u64 << 40)).await.error(400, 43);
    sim.put("/sim/v1/volumes/V/data", json!({"offset": 0, "data": "***"})).await.error(400, 39);
    sim.get("/sim/v1/volumes/NOPE/data?offset=0&length=1").await.error(404, 23);

    let digest = sim.get("/sim/v1/digest").await.json["digest"].as_str().unwrap().to_owned();
    assert_eq!(digest, sim.digest().await.to_string());
    let state = sim.get("/sim/v1/state").await;
    assert_eq!(state.json["arrays"][1]["name"], "SIM-B");

    sim.post("/sim/v1/arrays/SIM-A", json!({"action": "crash"})).await.ok(200);
    assert!(!sim.model(|s| s.array(s.primary()).is_online()).await);
    sim.get("/api/v1/volumes/V").await.ok(200);
    sim.post("/api/v1/volumes", json!({"name": "W", "cpg": "C", "sizeMiB": 1})).await.error(503, 945);
    sim.post("/sim/v1/arrays/SIM-A", json!({"action": "restart"})).await.ok(200);
    sim.post("/sim/v1/arrays/NOPE", json!({"action": "restart"})).await.error(404, 11);

    sim.post("/sim/v1/faults", json!({"point": "wsapi.error", "code": 503, "count": 1})).await.error(400, 46);
    sim.post("/sim/v1/faults", json!({"point": "wsapi.error", "code": 945, "count": 2, "path": "/api/v1/volumes"}))
        .await
        .ok(201);
    assert_eq!(sim.get("/sim/v1/faults").await.json["armed"][0]["remaining"], 2);
    sim.get("/api/v1/cpgs").await.ok(200);
    sim.get("/api/v1/volumes").await.error(503, 945);
    sim.get("/api/v1/volumes").await.error(503, 945);
    sim.get("/api/v1/volumes").await.ok(200);
    sim.post("/sim/v1/faults", json!({"point": "array.crash", "array": "SIM-B", "atSeconds": 10})).await.ok(201);
    sim.post("/sim/v1/clock/advance", json!({"seconds": 11})).await.ok(200);
    assert!(!sim.model(|s| s.array(s.backup()).is_online()).await);
    sim.post("/sim/v1/faults", json!({"point": "link.bogus"})).await.error(400, 46);
    sim.delete("/sim/v1/faults").await.ok(200);

    sim.post("/sim/v1/reset", json!({})).await.ok(200);
    sim.get("/api/v1/volumes/V").await.error(404, 23);
    assert!(sim.model(|s| s.array(s.backup()).is_online()).await);
    let fresh = simulator::wsapi::ServerConfig::ephemeral().build_simulation().unwrap().digest();
    assert_eq!(sim.digest().await, fresh, "reset rebuilds the configured simulation");
    sim.raw(0, hyper::Method::GET, "/sim/v1/state", None, None).await.error(403, 6);
    sim.stop().await;
}
