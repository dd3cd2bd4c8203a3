//! System, capacity, ports, QoS and flash cache (spec §3, §9, §10, §11).

use serde_json::json;

use super::support::Sim;

// Goal: the system-level objects carry what clients read, and differ between the arrays.
// Method: read both arrays' system, configuration, capacity, tasks and ports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_capacity_ports() {
    let sim = Sim::start().await;
    let a = sim.get("/api/v1/system").await;
    let b = sim.call_on(1, hyper::Method::GET, "/api/v1/system", None).await;
    assert_eq!((a.json["id"].as_i64(), b.json["id"].as_i64()), (Some(20001), Some(20002)));
    assert_eq!(a.json["name"], "SIM-A");
    let licences = a.json["licenseInfo"]["licenses"].as_array().unwrap();
    assert!(licences.iter().any(|l| l["name"] == "Remote Copy"));
    assert_eq!(sim.get("/api/v1/wsapiconfiguration").await.json["httpState"], "Enabled");
    let capacity = sim.get("/api/v1/capacity").await;
    for class in ["allCapacity", "FCCapacity", "NLCapacity", "SSDCapacity"] {
        assert!(capacity.json[class]["totalMiB"].is_u64(), "{class}");
    }
    let tasks = sim.get("/api/v1/tasks").await;
    assert!(tasks.json["total"].as_u64().unwrap() > 0);
    let ports = sim.get("/api/v1/ports").await;
    let members = ports.json["members"].as_array().unwrap();
    assert_eq!(ports.json["total"].as_u64().unwrap() as usize, members.len());
    assert!(
        members
            .iter()
            .any(|p| p["linkState"] == 4 && p["mode"] == 2 && p.get("device").is_none() && p["protocol"] == 1)
    );
    assert!(members.iter().any(|p| p["protocol"] == 2 && p["iSCSIPortInfo"]["vlan"] == 2));
    assert!(members.iter().any(|p| p["protocol"] == 4));
    sim.get("/api/v1/ports/9:9:9/iSCSIVlans/").await.error(404, 20);
    sim.stop().await;
}

// Goal: QoS rules and the flash cache follow spec §10–11. Method: create, read, modify, delete,
// with the error cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos_and_flash_cache() {
    let sim = Sim::start().await;
    sim.post("/api/v1/volumesets", json!({"name": "VS"})).await.ok(201);
    let created = sim
        .post("/api/v1/qos", json!({"name": "VS", "type": 1, "ioMinGoal": 10, "ioMaxLimit": 100, "priority": 3}))
        .await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/qos/vvset:VS"));
    sim.post("/api/v1/qos", json!({"name": "VS", "type": 1})).await.error(400, 114);
    sim.post("/api/v1/qos", json!({"name": "NOPE", "type": 1})).await.error(404, 117);
    sim.post("/api/v1/qos", json!({"name": "VS", "type": 1, "bad": 1})).await.error(400, 12);
    sim.post("/api/v1/qos", json!({"name": "all_others", "type": 2, "bwMaxLimitKB": 1000})).await.ok(201);
    let rule = sim.get("/api/v1/qos/vvset:VS").await;
    assert_eq!((rule.json["ioMaxLimit"].as_i64(), rule.json["priority"].as_i64()), (Some(100), Some(3)));
    assert!(rule.json.get("bwMaxLimitKB").is_none());
    assert_eq!(sim.get("/api/v1/qos").await.json["total"], 2);
    sim.put("/api/v1/qos/vvset:VS", json!({"ioMaxLimit": 200})).await.ok(200);
    assert_eq!(sim.get("/api/v1/qos/vvset:VS").await.json["ioMaxLimit"], 200);
    sim.put("/api/v1/qos/vvset:VS", json!({"ioMinGoal": 500})).await.error(400, 947);
    sim.get("/api/v1/qos/vvset:NONE").await.error(404, 100);
    sim.delete("/api/v1/qos/vvset:VS").await.ok(200);
    sim.delete("/api/v1/qos/vvset:VS").await.error(404, 100);

    sim.get("/api/v1/flashcache").await.error(404, 285);
    sim.delete("/api/v1/flashcache").await.error(404, 285);
    sim.post("/api/v1/", json!({"flashCache": {"sizeGiB": 64}})).await.ok(201);
    sim.post("/api/v1/", json!({"flashCache": {"sizeGiB": 64}})).await.error(409, 948);
    assert_eq!(sim.get("/api/v1/flashcache").await.json["sizeGiB"], 64);
    sim.delete("/api/v1/flashcache").await.ok(200);
    sim.stop().await;
}

// Goal: every object name in a path or body gets the same check before any lookup (spec §1.7:
// illegal character 400/69, too long 400/57, empty 400/45; §1.8: 400 before 404). Regression:
// the black-box review (finding 6) got 404 for these on DELETE/POST /volumes/<n>, GET
// /cpgs/<n>, POST /vluns and POST /volumesets, where GET /volumes/<n> gave 400/69. Method:
// the review's requests, on objects that do not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_names_are_checked_before_lookup() {
    use hyper::Method;
    let sim = Sim::start().await;
    sim.post("/api/v1/hosts", json!({"name": "h"})).await.ok(201);
    let snapshot = json!({"action": "createSnapshot", "parameters": {"name": "s"}});
    for (method, path, body) in [
        (Method::GET, "/api/v1/volumes/a&b", None),
        (Method::DELETE, "/api/v1/volumes/a&b", None),
        (Method::POST, "/api/v1/volumes/a&b", Some(snapshot)),
        (Method::PUT, "/api/v1/volumes/a&b", Some(json!({"comment": "x"}))),
        (Method::GET, "/api/v1/cpgs/a&b", None),
        (Method::DELETE, "/api/v1/cpgs/a&b", None),
        (Method::PUT, "/api/v1/cpgs/a&b", Some(json!({"growthLimitMiB": 1}))),
        (Method::GET, "/api/v1/volumesets/a&b", None),
        (Method::DELETE, "/api/v1/hosts/a&b", None),
        (Method::DELETE, "/api/v1/vluns/a&b,1,h", None),
        (Method::DELETE, "/api/v1/vluns/set:a&b,1,h", None),
        (Method::DELETE, "/api/v1/vluns/nope,1,h&", None),
        (Method::DELETE, "/api/v1/vluns/nope,1,set:h&", None),
    ] {
        sim.call(method.clone(), path, body).await.error(400, 69);
    }
    sim.delete(&format!("/api/v1/vluns/{},1,h", "v".repeat(40))).await.error(400, 57);
    sim.delete("/api/v1/vluns/,1,h").await.error(400, 45);
    for (name, code) in [("a&b", 69), ("", 45), (&*"v".repeat(40), 57), ("set:a&b", 69)] {
        let vlun = json!({"volumeName": name, "lun": 1, "hostname": "h"});
        sim.post("/api/v1/vluns", vlun).await.error(400, code);
    }
    sim.post("/api/v1/vluns", json!({"volumeName": "nope", "lun": 1, "hostname": "h&"})).await.error(400, 69);
    sim.post("/api/v1/vluns", json!({"volumeName": "nope", "lun": 1, "hostname": "h"})).await.error(404, 23);
    sim.delete("/api/v1/vluns/nope,1,h").await.error(404, 19);
    sim.post("/api/v1/volumesets", json!({"name": "vs", "setmembers": ["a&b"]})).await.error(400, 69);
    sim.post("/api/v1/hostsets", json!({"name": "hs", "setmembers": [""]})).await.error(400, 45);
    sim.post("/api/v1/volumesets", json!({"name": "vs", "setmembers": ["nope"]})).await.error(404, 23);
    // Too-long set names in paths stay 404 (spec §1.8's documented exception).
    sim.get(&format!("/api/v1/volumesets/{}", "s".repeat(40))).await.error(404, 102);
    sim.stop().await;
}
