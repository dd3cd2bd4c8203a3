//! Remote Copy groups over the WSAPI (spec §12.2, §12.3): shapes on both arrays, the PUT
//! actions, the `/volumes` sub-resource, and every refusal in the spec's validation order.

use serde_json::json;
use simulator::{GroupState, Mode, Role, SyncStatus};

use super::support::{A, B, Sim, b64, partner, rc_group};

// Goal: a group's life over HTTP, seen from both arrays: create shows the group on A and its
// partner on B with the spec's members, admission auto-creates the secondary, start/sync/stop
// move the target state and sync times, bytes written on A arrive on B, modify is mirrored,
// and delete removes both sides. Method: requests to both listeners, then the model directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_life_on_both_arrays() {
    let sim = Sim::start().await;
    for index in [A, B] {
        sim.post_on(index, "/api/v1/cpgs", json!({"name": "RC"})).await.ok(201);
    }
    sim.post("/api/v1/volumes", json!({"name": "V", "cpg": "RC", "sizeMiB": 1024, "tpvv": true, "snapCPG": "RC"}))
        .await
        .ok(201);
    let created = sim
        .post(
            "/api/v1/remotecopygroups",
            json!({"name": "g", "targets": [{"targetName": "SIM-B", "mode": 2, "userCPG": "RC", "snapCPG": "RC"}],
                   "localUserCPG": "RC", "localSnapCPG": "RC"}),
        )
        .await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/remotecopygroups/g"));
    let a = sim.get("/api/v1/remotecopygroups/g").await.ok(200).json.clone();
    assert_eq!((a["name"].as_str(), a["role"].as_u64()), (Some("g"), Some(1)));
    assert_eq!((a["localUserCPG"].as_str(), a["localSnapCPG"].as_str()), (Some("RC"), Some("RC")));
    let t = &a["targets"][0];
    assert_eq!((t["targetName"].as_str(), t["target"].as_str()), (Some("SIM-B"), Some("SIM-B")));
    assert_eq!((t["mode"].as_u64(), t["state"].as_u64(), t["roleReversed"].as_bool()), (Some(2), Some(1), Some(false)));
    assert!(t.get("groupLastSyncTime").is_none(), "absent before the first sync: {t}");
    assert_eq!((t["remoteUserCPG"].as_str(), t["syncPeriod"].as_u64()), (Some("RC"), Some(0)));
    assert_eq!(
        t["policies"],
        json!({"autoRecover": false, "overPeriodAlert": true, "autoFailover": false, "pathManagement": false})
    );
    assert_eq!(a["volumes"], json!([]));
    let b = sim.get_on(B, &format!("/api/v1/remotecopygroups/{}", partner("g"))).await.ok(200).json.clone();
    assert_eq!((b["role"].as_u64(), b["targets"][0]["targetName"].as_str()), (Some(2), Some("SIM-A")));
    assert_eq!(b["localUserCPG"], "RC");
    sim.get_on(B, "/api/v1/remotecopygroups/g").await.error(404, 187);
    assert_eq!(sim.get("/api/v1/remotecopygroups").await.json["total"], 1);

    let admit = json!({"action": 1, "volumeName": "V", "targets": [{"targetName": "SIM-B", "secVolumeName": "V2"}],
                       "volumeAutoCreation": true});
    sim.put("/api/v1/remotecopygroups/g", admit).await.ok(200);
    let secondary = sim.get_on(B, "/api/v1/volumes/V2").await.ok(200).json.clone();
    assert_eq!((secondary["sizeMiB"].as_u64(), secondary["rcopyStatus"].as_u64()), (Some(1024), Some(3)));
    assert_eq!(secondary["rcopyGroup"], partner("g"));
    assert_eq!(sim.get("/api/v1/volumes/V").await.json["rcopyStatus"], 2);
    let element = sim.get("/api/v1/remotecopygroups/g/volumes/V").await.ok(200).json.clone();
    assert_eq!(element["localVolumeName"], "V");
    let remote = &element["remoteVolumes"][0];
    assert_eq!((remote["targetName"].as_str(), remote["remoteVolumeName"].as_str()), (Some("SIM-B"), Some("V2")));
    assert_eq!(remote["syncStatus"], 1);
    let b_element = sim.get_on(B, &format!("/api/v1/remotecopygroups/{}/volumes/V2", partner("g"))).await;
    assert_eq!(b_element.ok(200).json["remoteVolumes"][0]["remoteVolumeName"], "V");

    let data = b64(&[7u8; 8192]);
    sim.put("/sim/v1/volumes/V/data", json!({"offset": 65536, "data": data})).await.ok(200);
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 3})).await.ok(200);
    assert_eq!(sim.get("/api/v1/remotecopygroups/g").await.json["targets"][0]["state"], 3);
    assert_eq!(
        sim.get_on(B, &format!("/api/v1/remotecopygroups/{}", partner("g"))).await.json["targets"][0]["state"],
        3
    );
    sim.wait_syncs().await;
    let group = sim.get("/api/v1/remotecopygroups/g").await.json.clone();
    assert!(group["targets"][0]["groupLastSyncTime"].is_string(), "{group}");
    assert_eq!(group["volumes"][0]["remoteVolumes"][0]["syncStatus"], 3);
    assert!(group["volumes"][0]["remoteVolumes"][0]["lastSyncTime"].is_string());
    let read = sim.get_on(B, "/sim/v1/volumes/V2/data?offset=65536&length=8192").await;
    assert_eq!(read.json["data"], data, "the initial sync carried the bytes");

    let more = b64(&[9u8; 4096]);
    sim.put("/sim/v1/volumes/V/data", json!({"offset": 0, "data": more})).await.ok(200);
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 5, "fullSync": false})).await.ok(200);
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 5})).await.error(403, 979);
    sim.wait_syncs().await;
    assert_eq!(sim.get_on(B, "/sim/v1/volumes/V2/data?offset=0&length=4096").await.json["data"], more);
    let stats = sim.model(|s| s.array(s.primary()).remote_copy().group("g").unwrap().stats).await;
    assert_eq!(stats.syncs_completed, 2);

    let modify = json!({"targets": [{"targetName": "SIM-B", "syncPeriod": 300,
                                     "policies": {"autoRecover": true}}]});
    sim.put("/api/v1/remotecopygroups/g", modify).await.ok(200);
    for (index, name) in [(A, "g".to_owned()), (B, partner("g"))] {
        let t = sim.get_on(index, &format!("/api/v1/remotecopygroups/{name}")).await.json["targets"][0].clone();
        assert_eq!((t["syncPeriod"].as_u64(), t["policies"]["autoRecover"].as_bool()), (Some(300), Some(true)));
        assert_eq!(t["policies"]["overPeriodAlert"], true, "unmentioned policies keep their value");
    }
    sim.put("/api/v1/remotecopygroups/g", json!({"targets": [{"rmSyncPeriod": true}]})).await.ok(200);
    assert_eq!(sim.get("/api/v1/remotecopygroups/g").await.json["targets"][0]["syncPeriod"], 0);

    sim.put("/api/v1/remotecopygroups/g", json!({"action": 4, "targetName": "SIM-B"})).await.ok(200);
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 4})).await.ok(200);
    for (index, name) in [(A, "g".to_owned()), (B, partner("g"))] {
        let t = sim.get_on(index, &format!("/api/v1/remotecopygroups/{name}")).await.json["targets"][0].clone();
        assert_eq!(t["state"], 5);
    }
    let (a_state, b_state) = sim
        .model(|s| {
            let a = s.array(s.primary()).remote_copy().group("g").unwrap().state;
            let b = s.array(s.backup()).remote_copy().group("g.r20001").unwrap().state;
            (a, b)
        })
        .await;
    assert_eq!((a_state, b_state), (GroupState::Stopped, GroupState::Stopped));

    sim.delete("/api/v1/remotecopygroups/g/volumes/V?removeSecondaryVolume=true").await.ok(200);
    sim.get_on(B, "/api/v1/volumes/V2").await.error(404, 23);
    assert_eq!(sim.get("/api/v1/remotecopygroups/g/volumes").await.json, json!({"total": 0, "members": []}));
    let add = json!({"volumeName": "V", "targets": [{"targetName": "SIM-B", "secVolumeName": "V3"}],
                     "volumeAutoCreation": true});
    let added = sim.post("/api/v1/remotecopygroups/g/volumes", add).await;
    added.ok(201);
    assert_eq!(added.location.as_deref(), Some("/api/v1/remotecopygroups/g/volumes/V"));
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 2, "volumeName": "V", "keepSnap": false})).await.ok(200);
    sim.get_on(B, "/api/v1/volumes/V3").await.ok(200);
    sim.delete("/api/v1/remotecopygroups/g?keepSnap=false").await.ok(200);
    sim.get("/api/v1/remotecopygroups/g").await.error(404, 187);
    sim.get_on(B, &format!("/api/v1/remotecopygroups/{}", partner("g"))).await.error(404, 187);
    assert_eq!(sim.get("/api/v1/volumes/V").await.json["rcopyStatus"], 1);
    sim.stop().await;
}

// Goal: every refusal of create, modify, admit, dismiss, start, stop, sync and delete has the
// spec's status and code, in the spec's order (members, then existence, then state), and
// changes neither array. Method: one request per case, the model's digest before and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_refusals_change_nothing() {
    let sim = Sim::start().await;
    rc_group(&sim, "g", "V", 2).await;
    sim.post("/api/v1/volumes", json!({"name": "W", "cpg": "RC", "sizeMiB": 1024, "tpvv": true, "snapCPG": "RC"}))
        .await
        .ok(201);
    sim.post("/api/v1/volumes", json!({"name": "NOSNAP", "cpg": "RC", "sizeMiB": 1024, "tpvv": true})).await.ok(201);
    let target = |extra: serde_json::Value| {
        let mut t = json!({"targetName": "SIM-B", "mode": 2, "userCPG": "RC"});
        t.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        t
    };
    let create = |name: &str, targets: serde_json::Value| json!({"name": name, "targets": targets});
    let partner_path = format!("/api/v1/remotecopygroups/{}", partner("g"));
    let too_long_group = format!("/api/v1/remotecopygroups/{}", "g".repeat(40));
    let cases: Vec<(&str, &str, serde_json::Value, u16, i64)> = vec![
        ("POST", "/api/v1/remotecopygroups", create("n", json!([target(json!({"roleReversed": true}))])), 400, 12),
        ("POST", "/api/v1/remotecopygroups", create("n", json!([target(json!({"groupLastSyncTime": "x"}))])), 400, 12),
        ("POST", "/api/v1/remotecopygroups", json!({"name": "n"}), 400, 40),
        ("POST", "/api/v1/remotecopygroups", create("n", json!([])), 400, 40),
        ("POST", "/api/v1/remotecopygroups", create("n", json!([{"targetName": "SIM-B"}])), 400, 40),
        ("POST", "/api/v1/remotecopygroups", create("n", json!([target(json!({"mode": 7}))])), 400, 46),
        ("POST", "/api/v1/remotecopygroups", create("n", json!([target(json!({"mode": 4}))])), 400, 46),
        ("POST", "/api/v1/remotecopygroups", create("n", json!([target(json!({"mode": "2"}))])), 400, 39),
        ("POST", "/api/v1/remotecopygroups", create(&"x".repeat(32), json!([target(json!({}))])), 400, 57),
        ("POST", "/api/v1/remotecopygroups", create("x".repeat(25).as_str(), json!([target(json!({}))])), 400, 57),
        ("POST", "/api/v1/remotecopygroups", create("b&d", json!([target(json!({}))])), 400, 69),
        ("POST", "/api/v1/remotecopygroups", create("n", json!([target(json!({})), target(json!({}))])), 400, 955),
        (
            "POST",
            "/api/v1/remotecopygroups",
            create("n", json!([target(json!({})), target(json!({"targetName": "OTHER"}))])),
            400,
            958,
        ),
        ("POST", "/api/v1/remotecopygroups", create("n", json!([target(json!({"targetName": "NOPE"}))])), 403, 954),
        ("POST", "/api/v1/remotecopygroups", create("n", json!([target(json!({"userCPG": "NOPE"}))])), 404, 15),
        (
            "POST",
            "/api/v1/remotecopygroups",
            json!({"name": "n", "targets": [target(json!({}))], "localUserCPG": "NOPE"}),
            404,
            15,
        ),
        (
            "POST",
            "/api/v1/remotecopygroups",
            json!({"name": "n", "targets": [target(json!({}))], "domain": "NOPE"}),
            404,
            38,
        ),
        ("POST", "/api/v1/remotecopygroups", create("g", json!([target(json!({}))])), 409, 237),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"bogus": 1}), 400, 12),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"targets": [{"syncPeriod": 299}]}), 400, 115),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"targets": [{"syncPeriod": 31_622_401}]}), 400, 43),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"targets": [{"syncPeriod": 300, "rmSyncPeriod": true}]}), 400, 44),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"targets": [{"snapFrequency": 600}]}), 400, 44),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"localUserCPG": "RC", "unsetUserCPG": true}), 400, 44),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"targets": [{"policies": {"bogus": true}}]}), 400, 12),
        ("PUT", "/api/v1/remotecopygroups/NOPE", json!({"targets": [{"syncPeriod": 300}]}), 404, 187),
        (
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"targets": [{"targetName": "NOPE", "syncPeriod": 300}]}),
            403,
            954,
        ),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"targets": [{"policies": {"autoFailover": true}}]}), 403, 981),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"targets": [{"remoteUserCPG": "NOPE"}]}), 404, 15),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"action": 9}), 400, 46),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"action": 1, "volumeName": "W"}), 400, 40),
        (
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"action": 1, "volumeName": "W", "targets": [{"targetName": "SIM-B"}]}),
            400,
            40,
        ),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"action": 3, "volumeName": "W"}), 400, 12),
        (
            "PUT",
            "/api/v1/remotecopygroups/NOPE",
            json!({"action": 1, "volumeName": "W", "targets": [{"targetName": "SIM-B", "secVolumeName": "W"}]}),
            404,
            187,
        ),
        (
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"action": 1, "volumeName": "NOPE", "targets": [{"targetName": "SIM-B", "secVolumeName": "W"}]}),
            404,
            23,
        ),
        (
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"action": 1, "volumeName": "W", "targets": [{"targetName": "NOPE", "secVolumeName": "W"}]}),
            403,
            954,
        ),
        (
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"action": 1, "volumeName": "V", "targets": [{"targetName": "SIM-B", "secVolumeName": "V9"}], "volumeAutoCreation": true}),
            409,
            960,
        ),
        (
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"action": 1, "volumeName": "W", "targets": [{"targetName": "SIM-B", "secVolumeName": "V"}], "volumeAutoCreation": true}),
            409,
            961,
        ),
        (
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"action": 1, "volumeName": "W", "targets": [{"targetName": "SIM-B", "secVolumeName": "NOPE"}]}),
            404,
            962,
        ),
        (
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"action": 1, "volumeName": "NOSNAP", "targets": [{"targetName": "SIM-B", "secVolumeName": "NS"}], "volumeAutoCreation": true}),
            403,
            965,
        ),
        (
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"action": 1, "volumeName": "W", "snapshotName": "NOPE", "targets": [{"targetName": "SIM-B", "secVolumeName": "W"}], "volumeAutoCreation": true}),
            404,
            23,
        ),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"action": 2, "volumeName": "W"}), 404, 971),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"action": 2, "volumeName": "NOPE"}), 404, 23),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"action": 3, "targetName": "NOPE"}), 403, 954),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"action": 3, "startingSnapshots": []}), 400, 982),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"action": 5}), 403, 973),
        ("PUT", "/api/v1/remotecopygroups/g", json!({"action": 5, "fullSync": "yes"}), 400, 39),
        ("PUT", &partner_path, json!({"action": 3}), 404, 187),
        ("DELETE", "/api/v1/remotecopygroups/NOPE", json!(null), 404, 187),
        ("DELETE", "/api/v1/remotecopygroups/g?keepSnap=maybe", json!(null), 400, 39),
        (
            "DELETE",
            "/api/v1/remotecopygroups/g/volumes/V?keepSnap=true&removeSecondaryVolume=true",
            json!(null),
            400,
            44,
        ),
        ("DELETE", "/api/v1/remotecopygroups/g/volumes/W", json!(null), 404, 971),
        ("GET", "/api/v1/remotecopygroups/g/volumes/W", json!(null), 404, 971),
        ("GET", "/api/v1/remotecopygroups/g/volumes/NOPE", json!(null), 404, 23),
        ("GET", "/api/v1/remotecopygroups/NOPE/volumes", json!(null), 404, 187),
        ("GET", "/api/v1/remotecopygroups/b&d", json!(null), 400, 69),
        // Names in paths: the router's one check (400 for an empty or illegal name, before any
        // lookup; a name too long to exist is simply not found).
        ("PUT", "/api/v1/remotecopygroups/b&d", json!({"action": 3}), 400, 69),
        ("POST", "/api/v1/remotecopygroups/b&d", json!({"action": 8}), 400, 69),
        ("DELETE", "/api/v1/remotecopygroups/b&d", json!(null), 400, 69),
        ("GET", "/api/v1/remotecopygroups/b&d/volumes", json!(null), 400, 69),
        ("POST", "/api/v1/remotecopygroups/b&d/volumes", json!({"volumeName": "W"}), 400, 69),
        ("GET", "/api/v1/remotecopygroups/b&d/volumes/V", json!(null), 400, 69),
        ("GET", "/api/v1/remotecopygroups/g/volumes/b&d", json!(null), 400, 69),
        ("DELETE", "/api/v1/remotecopygroups/g/volumes/b&d", json!(null), 400, 69),
        ("GET", &too_long_group, json!(null), 404, 187),
        ("PUT", &too_long_group, json!({"action": 3}), 404, 187),
        ("GET", "/api/v1/remotecopytargets/b&d", json!(null), 400, 69),
        ("PUT", "/api/v1/remotecopytargets/b&d", json!({"policies": {"mirrorConfig": true}}), 400, 69),
        ("GET", "/api/v1/remotecopylinks/b&d", json!(null), 400, 69),
        ("PATCH", "/api/v1/remotecopygroups/g", json!(null), 501, 9),
        ("PUT", "/api/v1/remotecopygroups/g/volumes", json!({}), 501, 9),
    ];
    for (method, path, body, status, code) in cases {
        let before = sim.digest().await;
        let body = (!body.is_null()).then_some(body);
        let resp = sim.call(method.parse().unwrap(), path, body.clone()).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_i64()),
            (status, Some(code)),
            "{method} {path} {body:?}: {resp:?}"
        );
        assert!(resp.json["desc"].is_string());
        assert_eq!(sim.digest().await, before, "{method} {path} {body:?} changed the model");
    }

    // State refusals on a started group, and on the secondary side.
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 3})).await.ok(200);
    sim.wait_syncs().await;
    let p = format!("/api/v1/remotecopygroups/{}", partner("g"));
    let started: Vec<(usize, &str, &str, serde_json::Value, u16, i64)> = vec![
        (A, "PUT", "/api/v1/remotecopygroups/g", json!({"action": 3}), 403, 215),
        (
            A,
            "PUT",
            "/api/v1/remotecopygroups/g",
            json!({"action": 1, "volumeName": "W", "targets": [{"targetName": "SIM-B", "secVolumeName": "W"}], "volumeAutoCreation": true}),
            403,
            215,
        ),
        (A, "PUT", "/api/v1/remotecopygroups/g", json!({"action": 2, "volumeName": "V"}), 403, 215),
        (A, "PUT", "/api/v1/remotecopygroups/g", json!({"targets": [{"mode": 1}]}), 403, 215),
        (A, "DELETE", "/api/v1/remotecopygroups/g", json!(null), 403, 215),
        (A, "DELETE", "/api/v1/volumes/V", json!(null), 403, 120),
        (B, "PUT", &p, json!({"action": 4}), 403, 976),
        (B, "PUT", &p, json!({"action": 5}), 403, 976),
        (B, "PUT", &p, json!({"targets": [{"syncPeriod": 600}]}), 403, 976),
    ];
    for (index, method, path, body, status, code) in started {
        let before = sim.digest().await;
        let body = (!body.is_null()).then_some(body);
        let resp = sim.call_on(index, method.parse().unwrap(), path, body.clone()).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_i64()),
            (status, Some(code)),
            "{method} {path} {body:?}: {resp:?}"
        );
        assert_eq!(sim.digest().await, before, "{method} {path} {body:?} changed the model");
    }
    let (role, state, status) = sim
        .model(|s| {
            let g = s.array(s.primary()).remote_copy().group("g").unwrap();
            (g.role, g.state, g.volumes[0].status)
        })
        .await;
    assert_eq!((role, state, status), (Role::Primary, GroupState::Started, SyncStatus::Synced));
    sim.stop().await;
}

// Goal: a synchronous group mirrors every write before it completes, so the secondary holds the
// bytes without any sync request; modify switches a stopped group's mode and the mode number
// is reported back. Method: writes through the control API, reads on B, mode changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronous_group_mirrors_writes_and_modes_change() {
    let sim = Sim::start().await;
    rc_group(&sim, "s", "V", 1).await;
    sim.put("/api/v1/remotecopygroups/s", json!({"action": 3, "skipInitialSync": true})).await.ok(200);
    assert_eq!(sim.get("/api/v1/remotecopygroups/s").await.json["volumes"][0]["remoteVolumes"][0]["syncStatus"], 3);
    let data = b64(b"mirrored before the acknowledgement");
    let ack = sim.put("/sim/v1/volumes/V/data", json!({"offset": 512, "data": data})).await;
    assert!(ack.json["acknowledgedAtNanos"].as_u64() > ack.json["submittedAtNanos"].as_u64(), "round trip");
    assert_eq!(sim.get_on(B, "/sim/v1/volumes/V/data?offset=512&length=35").await.json["data"], data);
    let wrote_on_b = sim.put_on(B, "/sim/v1/volumes/V/data", json!({"offset": 0, "data": b64(b"x")})).await;
    wrote_on_b.error(403, 985);
    sim.put("/api/v1/remotecopygroups/s", json!({"targets": [{"syncPeriod": 600}]})).await.error(403, 980);
    sim.put("/api/v1/remotecopygroups/s", json!({"action": 4})).await.ok(200);
    sim.put("/api/v1/remotecopygroups/s", json!({"targets": [{"mode": 3, "syncPeriod": 600}]})).await.ok(200);
    let (mode, number) = sim
        .model(|s| {
            let g = s.array(s.backup()).remote_copy().group("s.r20001").unwrap();
            (g.mode, g.mode_number)
        })
        .await;
    assert_eq!((mode, number), (Mode::Periodic, 3), "mirrored to the partner");
    assert_eq!(sim.get("/api/v1/remotecopygroups/s").await.json["targets"][0]["mode"], 3);
    sim.stop().await;
}
