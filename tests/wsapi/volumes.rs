//! Volumes, snapshots, copies, tasks and metadata (spec §3.4, §5).

use base64::Engine as _;
use serde_json::{Value, json};

use super::support::{Sim, volume};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// Goal: volume creation follows spec §5.3 (provisioning flags, sizes, errors in validation
// order) and the volume object carries the members clients read. Method: create volumes with the
// client suite's bodies and check answers and model state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_list_and_errors() {
    let sim = Sim::start().await;
    sim.post("/api/v1/cpgs", json!({"name": "C"})).await.ok(201);
    let created = sim.post("/api/v1/volumes", json!({"name": "V1", "cpg": "C", "sizeMiB": 512, "comment": "hi"})).await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/volumes/V1"));
    let v1 = sim.get("/api/v1/volumes/V1").await;
    v1.ok(200);
    assert_eq!(v1.json["provisioningType"], 1);
    assert_eq!(v1.json["copyType"], 1);
    assert_eq!(v1.json["sizeMiB"], 512);
    assert_eq!(v1.json["comment"], "hi");
    assert_eq!(v1.json["userCPG"], "C");
    assert!(v1.json.get("snapCPG").is_none());
    assert_eq!(v1.json["wwn"].as_str().unwrap().len(), 32);
    let body = json!({"name": "V2", "cpg": "C", "sizeMiB": 16384, "reduce": true, "snapCPG": "C", "id": 10000});
    sim.post("/api/v1/volumes", body).await.ok(201);
    let v2 = sim.get("/api/v1/volumes/V2").await;
    assert_eq!((v2.json["provisioningType"].as_i64(), v2.json["reduce"].as_bool()), (Some(6), Some(true)));
    assert_eq!(v2.json["id"], 10000);
    sim.post("/api/v1/volumes", json!({"name": "V3", "cpg": "C", "sizeMiB": 1, "tpvv": null})).await.ok(201);
    assert_eq!(sim.get("/api/v1/volumes/V3").await.json["sizeMiB"], 256, "sizes round up to 256 MiB");

    let errors = [
        (json!({"name": "X", "cpg": "C", "sizeMiB": 1, "badPram": 1}), 400, 12),
        (json!({"name": "X", "cpg": "C", "sizeMiB": 1, "tpvv": "junk"}), 400, 39),
        (json!({"name": "x".repeat(59), "cpg": "C", "sizeMiB": 1}), 400, 57),
        (json!({"name": "X!", "cpg": "C", "sizeMiB": 1}), 400, 69),
        (json!({"name": "X", "cpg": "C", "sizeMiB": 16777218}), 400, 28),
        (json!({"name": "X", "cpg": "C", "sizeMiB": 0}), 400, 115),
        (json!({"name": "X", "cpg": "C"}), 400, 40),
        (json!({"name": "X", "cpg": "C", "sizeMiB": 1, "tpvv": true, "tdvv": true}), 400, 44),
        (json!({"name": "X", "cpg": "NOPE", "sizeMiB": 1}), 404, 15),
        (json!({"name": "V1", "cpg": "C", "sizeMiB": 1}), 409, 22),
        (json!({"name": "X", "cpg": "C", "sizeMiB": 1, "id": 10000}), 409, 59),
    ];
    let before = sim.digest().await;
    for (body, status, code) in errors {
        sim.post("/api/v1/volumes", body).await.error(status, code);
    }
    assert_eq!(sim.digest().await, before, "refused requests change nothing");
    sim.get("/api/v1/volumes/NOPE").await.error(404, 23);
    sim.get("/api/v1/volumes/B&d").await.error(400, 69);
    let list = sim.get("/api/v1/volumes").await;
    let names: Vec<&str> =
        list.json["members"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["V1", "V2", "V3"], "ascending id order (V3 takes the id after 10000)");
    assert_eq!(list.json["total"], 3);
    sim.stop().await;
}

// Goal: snapshots, queries, rename, grow and delete rules. Method: build a small family, query
// it the way the client does, rename and grow, and check the refusals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_queries_rename_grow_delete() {
    let sim = Sim::start().await;
    volume(&sim, "C", "V").await;
    let snap = |name: &str, ro: bool| json!({"action": "createSnapshot", "parameters": {"name": name, "readOnly": ro}});
    let created = sim.post("/api/v1/volumes/V", snap("S1", true)).await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/volumes/S1"));
    sim.post("/api/v1/volumes/V", snap("S2", false)).await.ok(201);
    sim.post("/api/v1/volumes/V", json!({"action": "createSnapshot", "parameters": {"name": "S3", "Bad": 1}}))
        .await
        .error(400, 12);
    sim.post("/api/v1/volumes/NOPE", snap("S3", true)).await.error(404, 23);
    sim.post("/api/v1/volumes/V", snap("S1", true)).await.error(409, 22);
    sim.post("/api/v1/volumes/V", json!({"action": "explode"})).await.error(400, 46);
    let s1 = sim.get("/api/v1/volumes/S1").await;
    assert_eq!((s1.json["copyType"].as_i64(), s1.json["copyOf"].as_str()), (Some(3), Some("V")));
    assert_eq!((s1.json["readOnly"].as_bool(), s1.json["snapCPG"].as_str()), (Some(true), Some("C")));

    let query = sim.get("/api/v1/volumes?query=%22copyOf%20EQ%20V%22").await;
    let names: Vec<&str> =
        query.json["members"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["S1", "S2"]);
    let none = sim.get("/api/v1/volumes?query=%22copyOf%20EQ%20BAD_VOL%22").await;
    assert_eq!(none.json, json!({"total": 0, "members": []}));
    sim.get("/api/v1/volumes?query=%22copyOf%22").await.error(400, 12);
    let wwn = s1.json["wwn"].as_str().unwrap().to_lowercase();
    let by_wwn = sim.get(&format!("/api/v1/volumes?query=%22wwn%20EQ%20{wwn}%22")).await;
    assert_eq!(by_wwn.json["members"][0]["name"], "S1");

    sim.post("/api/v1/volumes/V/objectKeyValues", json!({"key": "k", "value": "v"})).await.ok(201);
    let renamed = sim.put("/api/v1/volumes/V", json!({"newName": "W", "comment": "c"})).await;
    renamed.ok(200);
    assert_eq!(renamed.location.as_deref(), Some("/api/v1/volumes/W"));
    let w = sim.get("/api/v1/volumes/W").await;
    assert_eq!(w.json["comment"], "c");
    assert_eq!(sim.get("/api/v1/volumes/S1").await.json["copyOf"], "W");
    assert_eq!(sim.get("/api/v1/volumes/W/objectKeyValues/k").await.json["value"], "v");
    sim.put("/api/v1/volumes/W", json!({"newName": "S1"})).await.error(409, 22);
    sim.put("/api/v1/volumes/W", json!({"comment": ""})).await.ok(200);
    assert!(sim.get("/api/v1/volumes/W").await.json.get("comment").is_none());

    sim.put("/api/v1/volumes/W", json!({"action": 3, "sizeMiB": 1})).await.ok(200);
    assert_eq!(sim.get("/api/v1/volumes/W").await.json["sizeMiB"], 1280);
    sim.put("/api/v1/volumes/W", json!({"action": 3, "sizeMiB": 0})).await.error(400, 152);
    sim.put("/api/v1/volumes/S1", json!({"action": 3, "sizeMiB": 1})).await.error(403, 150);
    sim.put("/api/v1/volumes/W", json!({"action": 9})).await.error(400, 46);

    sim.delete("/api/v1/volumes/W").await.error(409, 32);
    sim.delete("/api/v1/volumes/S2").await.ok(200);
    sim.delete("/api/v1/volumes/S1").await.ok(200);
    sim.delete("/api/v1/volumes/W").await.ok(200);
    sim.delete("/api/v1/volumes/W").await.error(404, 23);
    assert_eq!(sim.model(|s| s.array(s.primary()).volume_count()).await, 0);
    sim.stop().await;
}

// Goal: promote and physical copies move real bytes, and tasks report them (spec §3.4, §5.6–5.9).
// Method: write bytes through the control API, promote / copy, read the bytes back; run an online
// copy under the manual clock, find its ACTIVE task, cancel it, and check the destination.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_copies_and_tasks() {
    let sim = Sim::start().await;
    volume(&sim, "C", "V").await;
    volume(&sim, "C", "D").await;
    sim.put("/sim/v1/volumes/V/data", json!({"offset": 0, "data": b64(b"before")})).await.ok(200);
    sim.post("/api/v1/volumes/V", json!({"action": "createSnapshot", "parameters": {"name": "S", "readOnly": true}}))
        .await
        .ok(201);
    sim.put("/sim/v1/volumes/V/data", json!({"offset": 0, "data": b64(b"after!")})).await.ok(200);
    let promoted = sim.put("/api/v1/volumes/S", json!({"action": 4, "online": true})).await;
    promoted.ok(200);
    let task = promoted.json["taskid"].as_u64().unwrap();
    let task = sim.get(&format!("/api/v1/tasks/{task}")).await;
    assert_eq!((task.json["type"].as_i64(), task.json["status"].as_i64()), (Some(4), Some(1)));
    let read = sim.get("/sim/v1/volumes/V/data?offset=0&length=6").await;
    assert_eq!(read.json["data"], b64(b"before"));
    sim.put("/api/v1/volumes/V", json!({"action": 4})).await.error(409, 923);
    sim.put("/api/v1/volumes/S", json!({"action": 4, "online": true, "priority": 1})).await.error(409, 922);

    // Offline copy onto an existing volume: done at once, bytes equal, copyOf set.
    let copy = json!({"action": "createPhysicalCopy", "parameters": {"destVolume": "D"}});
    let offline = sim.post("/api/v1/volumes/V", copy).await;
    offline.ok(200);
    assert_eq!(offline.location.as_deref(), Some("/api/v1/volumes/D"));
    assert_eq!(sim.get("/sim/v1/volumes/D/data?offset=0&length=6").await.json["data"], b64(b"before"));
    let d = sim.get("/api/v1/volumes/D").await;
    assert_eq!((d.json["copyType"].as_i64(), d.json["copyOf"].as_str()), (Some(2), Some("V")));
    let tpvv = json!({"action": "createPhysicalCopy", "parameters": {"destVolume": "D", "tpvv": true}});
    sim.post("/api/v1/volumes/V", tpvv).await.error(400, 44);
    let tpdd = json!({"action": "createPhysicalCopy", "parameters": {"destVolume": "D", "tpdd": true}});
    sim.post("/api/v1/volumes/V", tpdd).await.error(400, 12);

    // Online copy: ACTIVE until virtual time passes; newest task first; cancel leaves a base volume.
    let online = json!({"action": "createPhysicalCopy",
        "parameters": {"destVolume": "O", "destCPG": "C", "online": true, "tpvv": true}});
    let started = sim.post("/api/v1/volumes/V", online.clone()).await;
    started.ok(200);
    let id = started.json["taskid"].as_u64().unwrap();
    let tasks = sim.get("/api/v1/tasks").await;
    assert_eq!(tasks.json["members"][0]["id"], id, "newest first");
    assert_eq!(tasks.json["members"][0]["name"], "O");
    assert_eq!(tasks.json["members"][0]["status"], 2);
    assert_eq!(tasks.json["members"][0]["finishTime"], "-");
    assert_eq!(sim.get(&format!("/api/v1/tasks/{id}")).await.json, tasks.json["members"][0]);
    sim.delete("/api/v1/volumes/O").await.error(409, 151);
    sim.put(&format!("/api/v1/tasks/{id}"), json!({"action": 1})).await.ok(200);
    assert_eq!(sim.get(&format!("/api/v1/tasks/{id}")).await.json["status"], 3);
    sim.put(&format!("/api/v1/tasks/{id}"), json!({"action": 1})).await.error(400, 931);
    let o = sim.get("/api/v1/volumes/O").await;
    assert!(o.json.get("copyOf").is_none());
    assert_eq!(o.json["copyType"], 1);
    sim.delete("/api/v1/volumes/O").await.ok(200);

    // A second online copy completes when virtual time passes its duration.
    let id = sim.post("/api/v1/volumes/V", online).await.json["taskid"].as_u64().unwrap();
    sim.post("/sim/v1/clock/advance", json!({"seconds": 1})).await.ok(200);
    let task = sim.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!((task.json["status"].as_i64(), task.json["completedSteps"].as_i64()), (Some(1), Some(100)));

    for (path, status, code) in [("-1", 400, 115), ("nonIntTask", 400, 39), ("70000", 400, 43), ("9999", 404, 145)] {
        sim.get(&format!("/api/v1/tasks/{path}")).await.error(status, code);
    }
    sim.stop().await;
}

// Goal: tune converts provisioning visibly at once and validates like spec §5.6 (client test_48,
// test_55, test_56). Method: tune a volume into the UserCPG fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tune_volume() {
    let sim = Sim::start().await;
    sim.post("/api/v1/volumes", json!({"name": "T", "cpg": "UserCPG", "sizeMiB": 16384, "tpvv": true})).await.ok(201);
    let base = json!({"action": 6, "tuneOperation": 1, "userCPG": "UserCPG", "conversionOperation": 4});
    let tuned = sim.put("/api/v1/volumes/T", base.clone()).await;
    tuned.ok(200);
    assert!(tuned.json["taskid"].is_u64());
    let t = sim.get("/api/v1/volumes/T").await;
    assert_eq!((t.json["tdvv"].as_bool(), t.json["compression"].as_bool()), (Some(true), Some(true)));
    assert_eq!(t.json["provisioningType"], 6);
    let mut bad = base.clone();
    bad["tuneOperation"] = json!(3);
    sim.put("/api/v1/volumes/T", bad).await.error(400, 46);
    let mut bad = base.clone();
    bad["keepVV"] = json!("k".repeat(46));
    sim.put("/api/v1/volumes/T", bad).await.error(400, 57);
    let mut bad = base.clone();
    bad["compression"] = json!("yes");
    sim.put("/api/v1/volumes/T", bad).await.error(400, 39);
    let mut bad = base.clone();
    bad["userCPG"] = json!("NOPE");
    sim.put("/api/v1/volumes/T", bad).await.error(404, 15);
    sim.post("/api/v1/volumes/T", json!({"action": "createSnapshot", "parameters": {"name": "TS"}}))
        .await
        .error(409, 901);
    sim.put("/api/v1/volumes/T", json!({"snapCPG": "UserCPG"})).await.ok(200);
    sim.post("/api/v1/volumes/T", json!({"action": "createSnapshot", "parameters": {"name": "TS"}})).await.ok(201);
    let with_child = sim.put("/api/v1/volumes/T", base).await;
    with_child.error(400, 40);
    assert!(with_child.json["desc"].as_str().unwrap().contains("keepVV"));
    sim.stop().await;
}

// Goal: compression is refused on a fully provisioned volume wherever a provisioning is chosen
// (create, online copy, tune), as a real array refuses `-compr` without `-tpvv`/`-tdvv`, and the
// refusal changes nothing. Method: each call with and without a thin or dedup flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_needs_a_thin_or_dedup_volume() {
    let sim = Sim::start().await;
    let full = json!({"name": "F", "cpg": "UserCPG", "sizeMiB": 16384, "compression": true});
    let refused = sim.post("/api/v1/volumes", full).await;
    refused.error(400, 44);
    assert!(refused.json["debug1"].as_str().unwrap().contains("compression"), "{}", refused.json);
    sim.get("/api/v1/volumes/F").await.error(404, 23);
    let thin = json!({"name": "T", "cpg": "UserCPG", "sizeMiB": 16384, "tpvv": true, "compression": true});
    sim.post("/api/v1/volumes", thin).await.ok(201);
    let t = sim.get("/api/v1/volumes/T").await;
    assert_eq!((t.json["provisioningType"].as_i64(), t.json["compression"].as_bool()), (Some(2), Some(true)));

    let copy = |provisioning: Value| {
        let mut parameters = json!({"destVolume": "O", "destCPG": "UserCPG", "online": true, "compression": true});
        if let Value::Object(flags) = provisioning {
            parameters.as_object_mut().unwrap().extend(flags);
        }
        json!({"action": "createPhysicalCopy", "parameters": parameters})
    };
    sim.post("/api/v1/volumes/T", copy(json!({}))).await.error(400, 44);
    sim.get("/api/v1/volumes/O").await.error(404, 23);
    sim.post("/api/v1/volumes/T", copy(json!({"tdvv": true}))).await.ok(200);
    let o = sim.get("/api/v1/volumes/O").await;
    assert_eq!((o.json["provisioningType"].as_i64(), o.json["compression"].as_bool()), (Some(6), Some(true)));

    sim.post("/api/v1/volumes", json!({"name": "F", "cpg": "UserCPG", "sizeMiB": 1024})).await.ok(201);
    let tune = json!({"action": 6, "tuneOperation": 1, "userCPG": "UserCPG", "compression": true});
    sim.put("/api/v1/volumes/F", tune).await.error(400, 44);
    let to_full =
        json!({"action": 6, "tuneOperation": 1, "userCPG": "UserCPG", "conversionOperation": 2, "compression": true});
    sim.put("/api/v1/volumes/T", to_full).await.error(400, 44);
    for (name, provisioning, compression) in [("F", 1, false), ("T", 2, true)] {
        let v = sim.get(&format!("/api/v1/volumes/{name}")).await;
        assert_eq!(
            (v.json["provisioningType"].as_i64(), v.json["compression"].as_bool()),
            (Some(provisioning), Some(compression)),
            "{name} unchanged"
        );
    }
    let to_thin =
        json!({"action": 6, "tuneOperation": 1, "userCPG": "UserCPG", "conversionOperation": 1, "compression": true});
    sim.put("/api/v1/volumes/F", to_thin).await.ok(200);
    let f = sim.get("/api/v1/volumes/F").await;
    assert_eq!((f.json["provisioningType"].as_i64(), f.json["compression"].as_bool()), (Some(2), Some(true)));
    sim.stop().await;
}

// Goal: metadata endpoints follow spec §5.11 exactly. Method: the client suite's calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata() {
    let sim = Sim::start().await;
    volume(&sim, "C", "V").await;
    let empty = sim.get("/api/v1/volumes/V/objectKeyValues").await;
    assert_eq!(empty.json, json!({"total": 0, "members": []}));
    let created = sim.post("/api/v1/volumes/V/objectKeyValues", json!({"key": "a:b", "value": "1"})).await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/volumes/V/objectKeyValues/a:b"));
    sim.post("/api/v1/volumes/V/objectKeyValues", json!({"key": "a:b", "value": "2"})).await.error(409, 181);
    sim.put("/api/v1/volumes/V/objectKeyValues/a:b", json!({"value": "2"})).await.ok(200);
    let kv = sim.get("/api/v1/volumes/V/objectKeyValues/a:b").await;
    assert_eq!((kv.json["key"].as_str(), kv.json["value"].as_str()), (Some("a:b"), Some("2")));
    assert!(kv.json["creationTimeSec"].is_i64());
    sim.post("/api/v1/volumes/V/objectKeyValues", json!({"key": null, "value": "x"})).await.error(400, 40);
    sim.post("/api/v1/volumes/V/objectKeyValues", json!({"key": "k".repeat(9000), "value": "x"})).await.error(400, 57);
    sim.post("/api/v1/volumes/V/objectKeyValues", json!({"key": "a b", "value": "x"})).await.error(400, 69);
    sim.post("/api/v1/volumes/NOPE/objectKeyValues", json!({"key": "k", "value": "x"})).await.error(404, 23);
    sim.get("/api/v1/volumes/NOPE/objectKeyValues").await.error(404, 23);
    sim.get("/api/v1/volumes/V/objectKeyValues/none").await.error(404, 180);
    sim.get("/api/v1/volumes/V/objectKeyValues/&").await.error(400, 69);
    sim.delete("/api/v1/volumes/V/objectKeyValues/&").await.error(400, 69);
    sim.delete("/api/v1/volumes/V/objectKeyValues/a:b").await.ok(200);
    sim.delete("/api/v1/volumes/V/objectKeyValues/a:b").await.error(404, 180);
    sim.delete("/api/v1/volumes/NOPE/objectKeyValues/a").await.error(404, 23);
    sim.stop().await;
}

// Goal: a volume in a Remote Copy group shows its group and role, and refuses deletion with
// code 120. Method: set up a group through the model API (the Remote Copy endpoints come
// later), then read both sides over the WSAPI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_copy_membership_is_visible() {
    use simulator::remote_copy::{AdmitSpec, GroupSpec, Mode};
    let sim = Sim::start().await;
    volume(&sim, "C", "V").await;
    sim.call_on(1, hyper::Method::POST, "/api/v1/cpgs", Some(json!({"name": "C"}))).await.ok(201);
    sim.model(|s| {
        let (a, b) = (s.primary(), s.backup());
        let target = s.array(a).remote_copy().target_for(b).unwrap().name.clone();
        let spec = GroupSpec { remote_user_cpg: Some("C".into()), ..GroupSpec::new("G", &target, Mode::Periodic) };
        s.remote_copy().create_group(a, spec).unwrap();
        let admit = AdmitSpec { volume: "V".into(), secondary: "V".into(), auto_create: true, ..AdmitSpec::default() };
        s.remote_copy().admit_volume(a, "G", admit).unwrap();
    })
    .await;
    let v = sim.get("/api/v1/volumes/V").await;
    assert_eq!((v.json["rcopyStatus"].as_i64(), v.json["rcopyGroup"].as_str()), (Some(2), Some("G")));
    let secondary = sim.call_on(1, hyper::Method::GET, "/api/v1/volumes/V", None).await;
    assert_eq!(secondary.json["rcopyStatus"], 3);
    sim.delete("/api/v1/volumes/V").await.error(403, 120);
    volume(&sim, "C", "W").await;
    assert_eq!(sim.get("/api/v1/volumes/W").await.json["rcopyStatus"], 1);
    assert!(sim.get("/api/v1/volumes/W").await.json.get("rcopyGroup").is_none());
    sim.stop().await;
}

// Goal: renaming a volume renames its tasks, so a client finding a copy task by the
// destination's name still finds it (spec §5.5: rename updates task names). Regression: the
// black-box review (finding 2) saw tasks keep the old name. Method: online copy to `dst`, rename
// it, read the task by id and in the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_renames_tasks() {
    let sim = Sim::start().await;
    volume(&sim, "C", "src").await;
    let online = json!({"action": "createPhysicalCopy",
        "parameters": {"destVolume": "dst", "destCPG": "C", "online": true, "tpvv": true}});
    let id = sim.post("/api/v1/volumes/src", online).await.json["taskid"].as_u64().unwrap();
    sim.put("/api/v1/volumes/dst", json!({"newName": "dst2"})).await.ok(200);
    assert_eq!(sim.get(&format!("/api/v1/tasks/{id}")).await.json["name"], "dst2");
    let tasks = sim.get("/api/v1/tasks").await;
    assert_eq!(tasks.json["members"][0]["name"], "dst2");
    // The source keeps its name, and so do tasks named after other volumes.
    assert!(tasks.json["members"].as_array().unwrap().iter().all(|t| t["name"] != "dst"));
    sim.stop().await;
}

// Goal: modify and tune apply the domain rule of create, so a volume's CPGs stay in its
// domain and `domain` stays the user CPG's (spec §5.1 domain "from the user CPG"; §5.5 "snap
// CPG in other domain → 403 CPG_NOT_IN_SAME_DOMAIN"). Regression: the black-box review
// (finding 3) got 200 for these and a stale `domain`. Method: a volume in a domain-less CPG
// gets CPGs of UNIT_TEST_DOMAIN through PUT and tune; a volume in that domain moves within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modify_and_tune_keep_the_domain_rule() {
    let sim = Sim::start().await;
    sim.post("/api/v1/cpgs", json!({"name": "N"})).await.ok(201);
    sim.post("/api/v1/cpgs", json!({"name": "D2", "domain": "UNIT_TEST_DOMAIN"})).await.ok(201);
    sim.post("/api/v1/volumes", json!({"name": "nd", "cpg": "N", "sizeMiB": 1024})).await.ok(201);
    sim.post("/api/v1/volumes", json!({"name": "x", "cpg": "N", "snapCPG": "UserCPG", "sizeMiB": 1024}))
        .await
        .error(403, 909);
    sim.put("/api/v1/volumes/nd", json!({"snapCPG": "UserCPG"})).await.error(403, 909);
    sim.put("/api/v1/volumes/nd", json!({"userCPG": "UserCPG"})).await.error(403, 909);
    for tune in [
        json!({"action": 6, "tuneOperation": 1, "userCPG": "UserCPG"}),
        json!({"action": 6, "tuneOperation": 2, "snapCPG": "UserCPG"}),
    ] {
        sim.put("/api/v1/volumes/nd", tune).await.error(403, 909);
    }
    let nd = sim.get("/api/v1/volumes/nd").await;
    assert!(nd.json.get("domain").is_none());
    assert!(nd.json.get("snapCPG").is_none());
    assert_eq!(nd.json["userCPG"], "N");

    // Within one domain both work, and `domain` is the user CPG's.
    sim.post("/api/v1/volumes", json!({"name": "d", "cpg": "UserCPG", "sizeMiB": 1024})).await.ok(201);
    sim.put("/api/v1/volumes/d", json!({"userCPG": "D2", "snapCPG": "UserCPG"})).await.ok(200);
    sim.put("/api/v1/volumes/d", json!({"action": 6, "tuneOperation": 2, "snapCPG": "D2"})).await.ok(200);
    let d = sim.get("/api/v1/volumes/d").await;
    assert_eq!((d.json["userCPG"].as_str(), d.json["snapCPG"].as_str()), (Some("D2"), Some("D2")));
    assert_eq!(d.json["domain"], "UNIT_TEST_DOMAIN");
    sim.put("/api/v1/volumes/d", json!({"userCPG": "N"})).await.error(403, 909);
    sim.stop().await;
}

// Goal: growing a volume past its CPG's growth limit answers 403 code 153 (spec §5.6 Grow:
// "above a CPG growth limit → 403 (153)"), while creating past it stays 400 NO_SPACE (§5.3).
// Regression: the black-box review (finding 4) got 400/24 for the grow. Method: the review's
// repro, then a grow within the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grow_past_cpg_growth_limit() {
    let sim = Sim::start().await;
    sim.post("/api/v1/cpgs", json!({"name": "LIM", "growthLimitMiB": 1536})).await.ok(201);
    sim.post("/api/v1/volumes", json!({"name": "lv", "cpg": "LIM", "sizeMiB": 1024})).await.ok(201);
    sim.post("/api/v1/volumes", json!({"name": "big", "cpg": "LIM", "sizeMiB": 1024})).await.error(400, 24);
    sim.put("/api/v1/volumes/lv", json!({"action": 3, "sizeMiB": 1024})).await.error(403, 153);
    assert_eq!(sim.get("/api/v1/volumes/lv").await.json["sizeMiB"], 1024);
    sim.put("/api/v1/volumes/lv", json!({"action": 3, "sizeMiB": 256})).await.ok(200);
    assert_eq!(sim.get("/api/v1/volumes/lv").await.json["sizeMiB"], 1280);
    sim.stop().await;
}

// Goal: a physical copy reports a missing destination CPG or destination volume (404) before
// the source's active online copy (409/151): spec §1.8 puts existence before state conflicts.
// Regression: the black-box review (finding 5) got 409/151 first. Method: start an online copy
// from `src`, then copy from `src` again with missing references, and with valid ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_reports_missing_objects_before_active_copy() {
    let sim = Sim::start().await;
    volume(&sim, "C", "src").await;
    volume(&sim, "C", "other").await;
    let online = |dest: &str, cpg: &str| {
        json!({"action": "createPhysicalCopy",
            "parameters": {"destVolume": dest, "destCPG": cpg, "online": true, "tpvv": true}})
    };
    sim.post("/api/v1/volumes/src", online("dst", "C")).await.ok(200);
    sim.post("/api/v1/volumes/src", online("dst9", "NOCPG")).await.error(404, 15);
    let offline = json!({"action": "createPhysicalCopy", "parameters": {"destVolume": "NOVOL"}});
    sim.post("/api/v1/volumes/src", offline).await.error(404, 23);
    sim.post("/api/v1/volumes/src", online("dst9", "C")).await.error(409, 151);
    let offline = json!({"action": "createPhysicalCopy", "parameters": {"destVolume": "other"}});
    sim.post("/api/v1/volumes/src", offline).await.error(409, 151);
    sim.stop().await;
}

// Goal: an error's desc is the 3PAR text of its code and its debug1 reads as a sentence with
// names, never Rust Debug output (clients show desc, Cinder matches substrings of it).
// Regression: the black-box review (finding 8) saw "volume is a base volume" for a snapshot
// destination, "cannot grow this type of volume" for resyncs, "no QoS rule on
// VolumeSet(SetId(4))" and "retained until 3658.809194761s". Method: provoke each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_texts_match_their_codes() {
    let sim = Sim::start().await;
    volume(&sim, "C", "v1").await;
    sim.post("/api/v1/volumes/v1", json!({"action": "createSnapshot", "parameters": {"name": "snap1"}})).await.ok(201);
    let copy = json!({"action": "createPhysicalCopy", "parameters": {"destVolume": "snap1"}});
    let refused = sim.post("/api/v1/volumes/v1", copy).await;
    refused.error(409, 987);
    assert_eq!(refused.json["desc"], "volume is not a base volume");
    let refused = sim.put("/api/v1/volumes/snap1", json!({"action": 6, "tuneOperation": 1, "userCPG": "C"})).await;
    refused.error(409, 987);
    let refused = sim.put("/api/v1/volumes/v1", json!({"action": 2})).await;
    refused.error(403, 988);
    assert_eq!(refused.json["desc"], "volume is not a physical copy");
    sim.post("/api/v1/volumesets", json!({"name": "vs", "setmembers": ["v1"]})).await.ok(201);
    sim.put("/api/v1/volumesets/vs", json!({"action": 3})).await.error(403, 988);
    let no_rule = sim.put("/api/v1/qos/vvset:vs", json!({"priority": 2})).await;
    no_rule.error(404, 100);
    assert!(no_rule.json["debug1"].as_str().unwrap().contains("vvset:vs"), "{}", no_rule.json);
    sim.post("/api/v1/volumes", json!({"name": "r", "cpg": "C", "sizeMiB": 256, "tpvv": true, "retentionHours": 1}))
        .await
        .ok(201);
    let retained = sim.delete("/api/v1/volumes/r").await;
    retained.error(409, 900);
    assert_eq!(retained.json["debug1"], "volume 'r' is retained for another 1 h 0 min 0 s");
    sim.stop().await;
}

// Goal: the optional policies fsvc and hostDIF (spec §5.1: policies "+ fsvc, hostDIF
// optional") are stored and returned, on create and modify, and hostDIF takes only its enum
// values 1–3. Regression: the black-box review (finding 10) saw both accepted and dropped.
// Method: create with both, read, modify one, read; send bad values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_keep_fsvc_and_host_dif() {
    let sim = Sim::start().await;
    sim.post("/api/v1/cpgs", json!({"name": "C"})).await.ok(201);
    let body = json!({"name": "p", "cpg": "C", "sizeMiB": 256, "tpvv": true, "policies": {"fsvc": true, "hostDIF": 3}});
    sim.post("/api/v1/volumes", body).await.ok(201);
    let p = sim.get("/api/v1/volumes/p").await;
    assert_eq!((p.json["policies"]["fsvc"].as_bool(), p.json["policies"]["hostDIF"].as_i64()), (Some(true), Some(3)));
    sim.put("/api/v1/volumes/p", json!({"policies": {"hostDIF": 2}})).await.ok(200);
    let p = sim.get("/api/v1/volumes/p").await;
    assert_eq!((p.json["policies"]["fsvc"].as_bool(), p.json["policies"]["hostDIF"].as_i64()), (Some(true), Some(2)));
    sim.put("/api/v1/volumes/p", json!({"policies": {"hostDIF": 4}})).await.error(400, 46);
    sim.put("/api/v1/volumes/p", json!({"policies": {"fsvc": "yes"}})).await.error(400, 39);
    sim.post("/api/v1/volumes", json!({"name": "q", "cpg": "C", "sizeMiB": 256})).await.ok(201);
    let q = sim.get("/api/v1/volumes/q").await;
    assert_eq!(q.json["policies"]["fsvc"], false);
    assert!(q.json["policies"].get("hostDIF").is_none(), "hostDIF omitted when never set");
    sim.stop().await;
}

// Goal: spec §7.1/8 through the WSAPI. Under staleSS a base write past ssSpcAllocLimitPct is
// acknowledged and the copy reports state 3 FAILED with the detailed state 8 STALE; reading,
// exporting and promoting it answer 409 code 942; it can be deleted. Under no staleSS the write
// answers 400 code 24 (NO_SPACE) with the 3PAR body and the model's digest is unchanged.
// Method: 1 % of 256 MiB is 163 pages of 16 KiB; write 200 pages, copy, overwrite them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_space_failure_follows_the_stale_ss_policy() {
    let sim = Sim::start().await;
    sim.post("/api/v1/cpgs", json!({"name": "C"})).await.ok(201);
    sim.post("/api/v1/hosts", json!({"name": "H", "FCWWNs": ["1000000000000001"]})).await.ok(201);
    let pages = |seed: u8| b64(&vec![seed; 200 * 16384]);
    for (name, stale_ss) in [("s", true), ("n", false)] {
        let body = json!({"name": name, "cpg": "C", "snapCPG": "C", "sizeMiB": 256, "tpvv": true,
            "ssSpcAllocLimitPct": 1, "policies": {"staleSS": stale_ss}});
        sim.post("/api/v1/volumes", body).await.ok(201);
        sim.put(&format!("/sim/v1/volumes/{name}/data"), json!({"offset": 0, "data": pages(1)})).await.ok(200);
        let snap = json!({"action": "createSnapshot", "parameters": {"name": format!("{name}.ro"), "readOnly": true}});
        sim.post(&format!("/api/v1/volumes/{name}"), snap).await.ok(201);
    }

    sim.put("/sim/v1/volumes/s/data", json!({"offset": 0, "data": pages(2)})).await.ok(200);
    let base = sim.get("/sim/v1/volumes/s/data?offset=0&length=16384").await;
    assert_eq!(base.ok(200).json["data"], b64(&[2; 16384]));
    let copy = sim.get("/api/v1/volumes/s.ro").await;
    assert_eq!((copy.json["state"].as_i64(), copy.json["failedStates"].clone()), (Some(3), json!([8])));
    assert_eq!(sim.get("/api/v1/volumes/s").await.json["state"], 1, "the base stays normal");
    sim.get("/sim/v1/volumes/s.ro/data?offset=0&length=1").await.error(409, 942);
    let export = json!({"volumeName": "s.ro", "lun": 1, "hostname": "H"});
    sim.post("/api/v1/vluns", export).await.error(409, 942);
    sim.put("/api/v1/volumes/s.ro", json!({"action": 4})).await.error(409, 942);
    sim.delete("/api/v1/volumes/s.ro").await.ok(200);

    let before = sim.digest().await;
    sim.put("/sim/v1/volumes/n/data", json!({"offset": 0, "data": pages(2)})).await.error(400, 24);
    assert_eq!(sim.digest().await, before, "a refused write changes nothing");
    let copy = sim.get("/api/v1/volumes/n.ro").await;
    assert_eq!((copy.json["state"].as_i64(), copy.json["failedStates"].clone()), (Some(1), json!([])));
    let read = sim.get("/sim/v1/volumes/n.ro/data?offset=0&length=16384").await;
    assert_eq!(read.ok(200).json["data"], b64(&[1; 16384]));
    let read = sim.get("/sim/v1/volumes/n/data?offset=0&length=16384").await;
    assert_eq!(read.ok(200).json["data"], b64(&[1; 16384]));
    sim.stop().await;
}
