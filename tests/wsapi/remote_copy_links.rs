//! Remote Copy service, targets and links (spec §12.5), and the control API's Remote Copy part
//! (`/sim/v1/links`, `/sim/v1/syncs`, fault points `link.*`).

use serde_json::json;

use super::support::{B, Sim, b64, rc_group};

// Goal: `GET /remotecopy`, targets and links answer in the spec's shapes from each array's
// side; `PUT /remotecopytargets` toggles `mirrorConfig` in the model; unknown names are 404s.
// Method: both listeners, then the model directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_targets_and_links() {
    let sim = Sim::start().await;
    assert_eq!(
        sim.get("/api/v1/remotecopy").await.ok(200).json,
        json!({"mode": 1, "status": 1, "asyncEnabled": false})
    );
    let targets = sim.get("/api/v1/remotecopytargets").await.ok(200).json.clone();
    assert_eq!(targets["total"], 1);
    let target = &targets["members"][0];
    assert_eq!(
        (target["name"].as_str(), target["type"].as_u64(), target["state"].as_u64()),
        (Some("SIM-B"), Some(1), Some(1))
    );
    assert_eq!(target["policies"]["mirrorConfig"], true);
    assert_eq!(sim.get_on(B, "/api/v1/remotecopytargets/SIM-A").await.ok(200).json["name"], "SIM-A");
    sim.get("/api/v1/remotecopytargets/SIM-A").await.error(404, 950);
    sim.put("/api/v1/remotecopytargets/SIM-B", json!({"policies": {"mirrorConfig": false}})).await.ok(200);
    assert!(!sim.model(|s| s.array(s.primary()).remote_copy().target("SIM-B").unwrap().mirror_config).await);
    assert_eq!(sim.get("/api/v1/remotecopytargets/SIM-B").await.json["policies"]["mirrorConfig"], false);
    sim.put("/api/v1/remotecopytargets/SIM-B", json!({"policies": {"mirror": true}})).await.error(400, 12);
    sim.put("/api/v1/remotecopytargets/SIM-B", json!({"policies": {}})).await.error(400, 40);
    sim.put("/api/v1/remotecopytargets/SIM-B", json!({"policies": {"mirrorConfig": 1}})).await.error(400, 39);
    sim.put("/api/v1/remotecopytargets/NOPE", json!({"policies": {"mirrorConfig": true}})).await.error(404, 950);

    let links = sim.get("/api/v1/remotecopylinks").await.ok(200).json.clone();
    assert_eq!(links["total"], 2);
    let link = links["members"][0].clone();
    assert_eq!((link["targetName"].as_str(), link["state"].as_u64()), (Some("SIM-B"), Some(1)));
    assert!(link["localPortPos"]["node"].is_u64() && link["address"].is_string(), "{link}");
    let name = link["name"].as_str().unwrap().to_owned();
    assert_eq!(sim.get(&format!("/api/v1/remotecopylinks/{name}")).await.ok(200).json, link);
    let from_b = sim.get_on(B, &format!("/api/v1/remotecopylinks/{name}")).await.ok(200).json.clone();
    assert_eq!(from_b["targetName"], "SIM-A");
    sim.get("/api/v1/remotecopylinks/NOPE").await.error(404, 986);
    sim.put("/api/v1/remotecopylinks/NOPE", json!({})).await.error(501, 9);

    sim.put("/sim/v1/links", json!({"state": "down", "direction": "forward"})).await.ok(200);
    assert_eq!(sim.get("/api/v1/remotecopylinks").await.json["members"][0]["state"], 2);
    sim.post("/sim/v1/arrays/SIM-A", json!({"action": "crash"})).await.ok(200);
    assert_eq!(sim.get("/api/v1/remotecopy").await.json["status"], 2);
    sim.stop().await;
}

// Goal: the control API breaks and repairs links per direction, partitions, and changes
// latency and bandwidth, now or at a virtual time; the pair's declarations follow the model's
// timeouts (links declared down 25 s after a break with only periodic groups, targets failed
// 200 s later, declared up again one heartbeat after the repair); refusals are 4xx with the
// 3PAR body. Method: `PUT /sim/v1/links` and `POST /sim/v1/faults`, then `GET /sim/v1/links`
// and the model's pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_links_state_latency_bandwidth() {
    let sim = Sim::start().await;
    let pair = sim.get("/sim/v1/links").await.ok(200).json["members"][0].clone();
    assert_eq!(pair["arrays"], json!(["SIM-A", "SIM-B"]));
    assert_eq!(
        (pair["usable"].as_bool(), pair["declaredUp"].as_bool(), pair["targetFailed"].as_bool()),
        (Some(true), Some(true), Some(false))
    );
    assert_eq!(pair["links"].as_array().unwrap().len(), 2);
    assert_eq!(pair["links"][0]["latencyNanos"], 1_000_000);

    let down =
        sim.put_on(B, "/sim/v1/links", json!({"state": "down", "direction": "forward"})).await.ok(200).json.clone();
    let directions = &down["links"][0]["directions"];
    assert_eq!(
        directions,
        &json!([{"from": "SIM-A", "to": "SIM-B", "up": true}, {"from": "SIM-B", "to": "SIM-A", "up": false}])
    );
    assert_eq!(down["usable"], false, "a pair needs both directions");
    let model = sim.model(|s| s.rc_pair(s.primary(), s.backup()).unwrap().direction_up(s.backup())).await;
    assert!(!model, "B -> A is down in the model");
    sim.post("/sim/v1/clock/advance", json!({"seconds": 24})).await.ok(200);
    assert_eq!(sim.get("/sim/v1/links").await.json["members"][0]["declaredUp"], true);
    sim.post("/sim/v1/clock/advance", json!({"seconds": 1})).await.ok(200);
    assert_eq!(sim.get("/sim/v1/links").await.json["members"][0]["declaredUp"], false);
    sim.post("/sim/v1/clock/advance", json!({"seconds": 200})).await.ok(200);
    let failed = sim.get("/sim/v1/links").await.json["members"][0].clone();
    assert_eq!(failed["targetFailed"], true);
    assert_eq!(failed["targets"][0]["state"], "failed");
    assert_eq!(sim.get("/api/v1/remotecopytargets/SIM-B").await.json["state"], 2);

    sim.post("/sim/v1/faults", json!({"point": "link.up", "from": "SIM-B", "to": "SIM-A", "atSeconds": 10}))
        .await
        .ok(201);
    sim.post("/sim/v1/clock/advance", json!({"seconds": 9})).await.ok(200);
    assert_eq!(sim.get("/sim/v1/links").await.json["members"][0]["usable"], false, "scheduled, not yet");
    sim.post("/sim/v1/clock/advance", json!({"seconds": 2})).await.ok(200);
    let repaired = sim.get("/sim/v1/links").await.json["members"][0].clone();
    assert_eq!((repaired["usable"].as_bool(), repaired["declaredUp"].as_bool()), (Some(true), Some(true)));
    assert_eq!(repaired["targetFailed"], false);

    sim.put("/sim/v1/links", json!({"latencyMillis": 5, "bandwidthBytesPerSec": 1_000_000})).await.ok(200);
    sim.post("/sim/v1/faults", json!({"point": "link.partition"})).await.ok(201);
    let (latency, bandwidth, up) = sim
        .model(|s| {
            let pair = s.rc_pair(s.primary(), s.backup()).unwrap();
            (pair.links[1].spec.latency, pair.bandwidth(s.primary()), pair.direction_up(s.primary()))
        })
        .await;
    assert_eq!((latency.as_millis(), bandwidth, up), (5, 0, false), "partitioned: no bandwidth either way");
    sim.post("/sim/v1/faults", json!({"point": "link.up"})).await.ok(201);
    sim.post("/sim/v1/faults", json!({"point": "link.bandwidth", "bandwidthBytesPerSec": 50_000_000})).await.ok(201);
    sim.post("/sim/v1/faults", json!({"point": "link.latency", "latencyMillis": 0.5})).await.ok(201);
    let pair = sim.get("/sim/v1/links").await.json["members"][0].clone();
    assert_eq!(
        (pair["links"][0]["latencyNanos"].as_u64(), pair["links"][0]["bandwidthBytesPerSec"].as_u64()),
        (Some(500_000), Some(50_000_000))
    );
    assert_eq!(pair["bandwidthBytesPerSec"]["SIM-A"], 100_000_000);

    let refusals = [
        (json!({}), 400, 78),
        (json!({"state": "sideways"}), 400, 46),
        (json!({"state": "down", "direction": "north"}), 400, 46),
        (json!({"state": "partition", "direction": "forward"}), 400, 44),
        (json!({"latencyMillis": -1}), 400, 43),
        (json!({"bandwidthBytesPerSec": 0}), 400, 115),
        (json!({"state": "down", "atSeconds": -5}), 400, 43),
        (json!({"state": "down", "to": "NOPE"}), 404, 11),
        (json!({"state": "down", "from": "SIM-A", "to": "SIM-A"}), 404, 950),
        (json!({"state": "down", "bogus": 1}), 400, 12),
    ];
    for (body, status, code) in refusals {
        let before = sim.digest().await;
        let resp = sim.put("/sim/v1/links", body.clone()).await;
        assert_eq!((resp.status, resp.json["code"].as_i64()), (status, Some(code)), "{body}: {resp:?}");
        assert_eq!(sim.digest().await, before, "{body} changed the model");
    }
    sim.post("/sim/v1/faults", json!({"point": "link.latency"})).await.error(400, 40);
    sim.post("/sim/v1/faults", json!({"point": "link.sideways"})).await.error(400, 46);
    let points = sim.get("/sim/v1/faults").await.json["points"].clone();
    assert!(points.as_array().unwrap().iter().any(|p| p == "link.partition"));
    sim.stop().await;
}

// Goal: `GET /sim/v1/syncs` reports running transfers and `POST /sim/v1/syncs/wait` advances
// virtual time until they finish (or reports `done: false` at its bound), so a test can
// "sync, then wait until synced" without sleeping. Method: a periodic group over a slow link
// (1 MB/s) with 8 MiB written; wait with a short bound, then without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_syncs_in_virtual_time() {
    let sim = Sim::start().await;
    rc_group(&sim, "g", "V", 2).await;
    sim.put("/sim/v1/links", json!({"bandwidthBytesPerSec": 500_000})).await.ok(200);
    sim.put("/sim/v1/volumes/V/data", json!({"offset": 0, "data": b64(&vec![5u8; 8 << 20])})).await.ok(200);
    assert_eq!(sim.get("/sim/v1/syncs").await.json["running"], json!([]));
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 3})).await.ok(200);
    let running = sim.get("/sim/v1/syncs").await.json["running"].clone();
    assert_eq!(running, json!([{"array": "SIM-A", "group": "g", "volumesRemaining": 1}]));
    assert_eq!(sim.get("/api/v1/remotecopygroups/g").await.json["volumes"][0]["remoteVolumes"][0]["syncStatus"], 2);
    let short = sim.post("/sim/v1/syncs/wait", json!({"timeoutSeconds": 1})).await.ok(200).json.clone();
    assert_eq!((short["done"].as_bool(), short["waitedNanos"].as_u64()), (Some(false), Some(1_000_000_000)));
    let waited = sim.post("/sim/v1/syncs/wait", json!({"group": "g"})).await.ok(200).json.clone();
    assert_eq!((waited["done"].as_bool(), waited["running"].clone()), (Some(true), json!([])));
    let seconds = waited["waitedNanos"].as_u64().unwrap() as f64 / 1e9;
    assert!((6.0..10.0).contains(&seconds), "8 MiB at 1 MB/s (2 links) take about 8 s: {seconds}");
    assert_eq!(sim.get_on(B, "/sim/v1/volumes/V/data?offset=8388000&length=8").await.json["data"], b64(&[5u8; 8]));
    sim.post("/sim/v1/syncs/wait", json!({"group": "NOPE"})).await.error(404, 187);
    sim.post("/sim/v1/syncs/wait", json!({"timeoutSeconds": -1})).await.error(400, 43);
    sim.stop().await;
}
