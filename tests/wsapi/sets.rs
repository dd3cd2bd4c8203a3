//! Volume sets, host sets and set snapshots (spec §6).

use serde_json::json;

use super::support::{Sim, volume};

// Goal: sets follow spec §6 (shape, order, validation order, verbatim descs) and set snapshots
// expand `@count@` per member. Method: the client suite's requests, then the model's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_sets_and_snapshots() {
    let sim = Sim::start().await;
    volume(&sim, "C", "A").await;
    volume(&sim, "C", "B").await;
    let created = sim.post("/api/v1/volumesets", json!({"name": "VS", "comment": "c", "setmembers": ["A"]})).await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/volumesets/VS"));
    sim.post("/api/v1/volumesets", json!({"name": "E"})).await.ok(201);
    let long = sim.post("/api/v1/volumesets", json!({"name": "x".repeat(28)})).await;
    long.error(400, 57);
    assert_eq!(long.json["desc"], "invalid input: string length exceeds limit");
    sim.post("/api/v1/volumesets", json!({"name": "x".repeat(27)})).await.ok(201);
    sim.post("/api/v1/volumesets", json!({"name": "VS"})).await.error(409, 101);
    sim.post("/api/v1/volumesets", json!({"name": "N", "setmembers": ["NOPE"]})).await.error(404, 23);
    sim.post("/api/v1/volumesets", json!({"name": "N", "bad": 1})).await.error(400, 12);
    assert_eq!(sim.get("/api/v1/volumesets").await.json["total"], 3, "nothing created on failure");

    let bad = sim.get("/api/v1/volumesets/HostSet-!nval!d").await;
    bad.error(400, 69);
    assert_eq!(bad.json["desc"], "illegal character in input");
    sim.get(&format!("/api/v1/volumesets/{}", "y".repeat(40))).await.error(404, 102);
    sim.delete(&format!("/api/v1/volumesets/{}", "y".repeat(40))).await.error(404, 102);

    let conflict = sim
        .put("/api/v1/volumesets/VS", json!({"action": 1, "newName": "X", "comment": "d", "setmembers": ["B"]}))
        .await;
    conflict.error(400, 44);
    assert_eq!(conflict.json["desc"], "invalid input: parameters cannot be present at the same time");
    sim.put(&format!("/api/v1/volumesets/{}", "z".repeat(28)), json!({"comment": "x"})).await.error(400, 57);
    sim.put("/api/v1/volumesets/VS", json!({"action": 1})).await.error(400, 40);
    sim.put("/api/v1/volumesets/NOPE", json!({"action": 1, "setmembers": ["B"]})).await.error(404, 102);
    sim.put("/api/v1/volumesets/VS", json!({"action": 1, "setmembers": ["B"]})).await.ok(200);
    sim.put("/api/v1/volumesets/VS", json!({"action": 1, "setmembers": ["B"]})).await.error(409, 904);
    sim.put("/api/v1/volumesets/VS", json!({"flashCachePolicy": 1})).await.ok(200);
    let vs = sim.get("/api/v1/volumesets/VS").await;
    assert_eq!(vs.json["setmembers"], json!(["A", "B"]));
    assert_eq!(vs.json["flashCachePolicy"], 1);
    assert_eq!(vs.json["comment"], "c");
    let list = sim.get("/api/v1/volumesets").await;
    assert!(list.json["members"].as_array().unwrap().contains(&vs.json));

    let snap = json!({"action": "createSnapshot", "parameters": {"name": "SNAP-@count@", "expirationHours": 3}});
    let taken = sim.post("/api/v1/volumesets/VS", snap.clone()).await;
    taken.ok(201);
    assert_eq!(taken.location.as_deref(), Some("/api/v1/volumesets/VS"));
    assert_eq!(sim.get("/api/v1/volumes/SNAP-0").await.json["copyOf"], "A");
    assert_eq!(sim.get("/api/v1/volumes/SNAP-1").await.json["copyOf"], "B");
    assert!(sim.get("/api/v1/volumes/SNAP-0").await.json["expirationTimeSec"].is_i64());
    sim.post("/api/v1/volumesets/VS", snap).await.error(409, 22);
    let plain = json!({"action": "createSnapshot", "parameters": {"name": "PLAIN"}});
    sim.post("/api/v1/volumesets/E", plain.clone()).await.error(404, 902);
    sim.post("/api/v1/volumesets/VS", plain).await.error(400, 903);
    sim.post("/api/v1/volumesets/NOPE", json!({"action": "createSnapshot", "parameters": {"name": "x"}}))
        .await
        .error(404, 102);
    sim.post("/api/v1/volumesets/VS", json!({"action": "createSnapshot", "parameters": {"name": "x", "Bad": 1}}))
        .await
        .error(400, 12);

    sim.post("/api/v1/qos", json!({"name": "VS", "type": 1, "ioMaxLimit": 100})).await.ok(201);
    let renamed = sim.put("/api/v1/volumesets/VS", json!({"newName": "VS2"})).await;
    renamed.ok(200);
    assert_eq!(renamed.location.as_deref(), Some("/api/v1/volumesets/VS2"));
    assert_eq!(sim.get("/api/v1/qos/vvset:VS2").await.json["ioMaxLimit"], 100);
    sim.put("/api/v1/volumesets/VS2", json!({"action": 2, "setmembers": ["B"]})).await.ok(200);
    sim.put("/api/v1/volumesets/VS2", json!({"action": 2, "setmembers": ["B"]})).await.error(404, 905);
    sim.delete("/api/v1/volumesets/VS2").await.ok(200);
    sim.get("/api/v1/qos/vvset:VS2").await.error(404, 100);
    sim.delete("/api/v1/volumesets/VS2").await.error(404, 102);
    assert!(sim.model(|s| s.array(s.primary()).volume("A").is_ok()).await, "members survive");
    sim.stop().await;
}

// Goal: host sets share the rules and answer the verbatim "host does not exist". Method: create,
// add an unknown host, compare the single GET with the list element, delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_sets() {
    let sim = Sim::start().await;
    sim.post("/api/v1/hosts", json!({"name": "h1"})).await.ok(201);
    sim.post("/api/v1/hosts", json!({"name": "h2"})).await.ok(201);
    let created = sim.post("/api/v1/hostsets", json!({"name": "HS", "setmembers": ["h1", "h2"]})).await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/hostsets/HS"));
    let unknown = sim.put("/api/v1/hostsets/HS", json!({"action": 1, "setmembers": ["nobody"]})).await;
    unknown.error(404, 17);
    assert_eq!(unknown.json["desc"], "host does not exist");
    let hs = sim.get("/api/v1/hostsets/HS").await;
    assert_eq!(hs.json["setmembers"], json!(["h1", "h2"]));
    assert!(sim.get("/api/v1/hostsets").await.json["members"].as_array().unwrap().contains(&hs.json));
    let in_set = sim.delete("/api/v1/hosts/h1").await;
    in_set.error(409, 77);
    assert_eq!(in_set.json["desc"], "host is a member of a set");
    sim.post("/api/v1/hostsets/HS", json!({"action": "createSnapshot"})).await.error(501, 9);
    sim.delete("/api/v1/hostsets/HS").await.ok(200);
    sim.delete("/api/v1/hosts/h1").await.ok(200);
    sim.stop().await;
}

// Goal: over the WSAPI, a host joins an exported host set only where the set's LUN is free for
// it: `PUT /hostsets/<name>` (action 1, add) answers 409 `EXISTENT_LUN` (18) and changes nothing;
// after the host's own export is gone the same request succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_joins_an_exported_host_set_only_where_its_luns_are_free() {
    let sim = Sim::start().await;
    volume(&sim, "C", "shared").await;
    volume(&sim, "C", "own").await;
    sim.post("/api/v1/hosts", json!({"name": "h1"})).await.ok(201);
    sim.post("/api/v1/hosts", json!({"name": "h2"})).await.ok(201);
    sim.post("/api/v1/hostsets", json!({"name": "HS", "setmembers": ["h1"]})).await.ok(201);
    sim.post("/api/v1/vluns", json!({"volumeName": "shared", "lun": 7, "hostname": "set:HS"})).await.ok(201);
    sim.post("/api/v1/vluns", json!({"volumeName": "own", "lun": 7, "hostname": "h2"})).await.ok(201);
    let join = json!({"action": 1, "setmembers": ["h2"]});
    let refused = sim.put("/api/v1/hostsets/HS", join.clone()).await;
    refused.error(409, 18);
    assert_eq!(sim.get("/api/v1/hostsets/HS").await.json["setmembers"], json!(["h1"]));
    sim.delete("/api/v1/vluns/own,7,h2").await.ok(200);
    sim.put("/api/v1/hostsets/HS", join).await.ok(200);
    assert_eq!(sim.get("/api/v1/hostsets/HS").await.json["setmembers"], json!(["h1", "h2"]));
    sim.stop().await;
}
