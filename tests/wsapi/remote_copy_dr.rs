//! Remote Copy disaster recovery over the WSAPI (spec §12.4, §12.6): POST actions 6–11 on
//! either array, the role/state table on both sides, and the refusals.

use serde_json::json;
use simulator::Role;

use super::support::{A, B, Sim, b64, partner, rc_group};

/// Role, target state and `roleReversed` of group `name` as array `index` shows it.
async fn view(sim: &Sim, index: usize, name: &str) -> (u64, u64, bool) {
    let g = sim.get_on(index, &format!("/api/v1/remotecopygroups/{name}")).await.ok(200).json.clone();
    let t = &g["targets"][0];
    (g["role"].as_u64().unwrap(), t["state"].as_u64().unwrap(), t["roleReversed"].as_bool().unwrap())
}

// Goal: the table of spec §12.6 over HTTP, the way Cinder drives it: start and sync on A, stop
// on A, failover (7) on the partner through B's listener, write on B, recover (9) and restore
// (10) on B; each step's role/state/roleReversed on both arrays, and the data: B exposes the
// last synced image at failover, and A ends with B's writes. Method: requests to both
// listeners, bytes through the control API, waits in virtual time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_recover_restore_as_cinder_does() {
    let sim = Sim::start().await;
    rc_group(&sim, "g", "V", 2).await;
    let p = partner("g");
    assert_eq!((view(&sim, A, "g").await, view(&sim, B, &p).await), ((1, 1, false), (2, 1, false)));
    let synced = b64(&[1u8; 4096]);
    sim.put("/sim/v1/volumes/V/data", json!({"offset": 0, "data": synced})).await.ok(200);
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 3})).await.ok(200);
    sim.wait_syncs().await;
    assert_eq!((view(&sim, A, "g").await, view(&sim, B, &p).await), ((1, 3, false), (2, 3, false)));
    // Written after the last sync: a failover must not expose it.
    sim.put("/sim/v1/volumes/V/data", json!({"offset": 0, "data": b64(&[2u8; 4096])})).await.ok(200);
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 4})).await.ok(200);
    assert_eq!((view(&sim, A, "g").await, view(&sim, B, &p).await), ((1, 5, false), (2, 5, false)));

    sim.post("/api/v1/remotecopygroups/g", json!({"action": 7})).await.error(403, 934);
    sim.post_on(B, &format!("/api/v1/remotecopygroups/{p}"), json!({"action": 7})).await.ok(200);
    assert_eq!((view(&sim, A, "g").await, view(&sim, B, &p).await), ((1, 5, false), (3, 5, true)));
    assert_eq!(sim.get_on(B, "/sim/v1/volumes/V/data?offset=0&length=4096").await.json["data"], synced);
    let on_b = b64(&[3u8; 4096]);
    sim.put_on(B, "/sim/v1/volumes/V/data", json!({"offset": 8192, "data": on_b})).await.ok(200);
    // Both sides are sources now: starting on A is refused until recover or restore.
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 3})).await.error(403, 978);

    sim.post_on(B, &format!("/api/v1/remotecopygroups/{p}"), json!({"action": 9})).await.ok(200);
    sim.wait_syncs().await;
    assert_eq!((view(&sim, A, "g").await, view(&sim, B, &p).await), ((4, 3, true), (3, 3, true)));
    assert_eq!(sim.get("/sim/v1/volumes/V/data?offset=8192&length=4096").await.json["data"], on_b);

    sim.post_on(B, &format!("/api/v1/remotecopygroups/{p}"), json!({"action": 10, "skipStart": false})).await.ok(200);
    sim.wait_syncs().await;
    assert_eq!((view(&sim, A, "g").await, view(&sim, B, &p).await), ((1, 3, false), (2, 3, false)));
    assert_eq!(sim.get("/sim/v1/volumes/V/data?offset=8192&length=4096").await.json["data"], on_b);
    assert_eq!(sim.get("/sim/v1/volumes/V/data?offset=0&length=4096").await.json["data"], synced, "B's image won");
    let roles = sim
        .model(|s| {
            (
                s.array(s.primary()).remote_copy().group("g").unwrap().role,
                s.array(s.backup()).remote_copy().group("g.r20001").unwrap().role,
            )
        })
        .await;
    assert_eq!(roles, (Role::Primary, Role::Secondary));
    sim.stop().await;
}

// Goal: restore (10) directly after failover (7), as the client's live suite does, returns both
// sides to their natural roles; the link declared down by the control API stops the group
// (Cinder's disaster), failover works on B while A is unreachable, and once the link returns
// restore succeeds. Method: `PUT /sim/v1/links` down, wait past the heartbeat timeout, act on
// B, repair, restore, wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_then_failover_and_restore() {
    let sim = Sim::start().await;
    rc_group(&sim, "g", "V", 2).await;
    let p = format!("/api/v1/remotecopygroups/{}", partner("g"));
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 3})).await.ok(200);
    sim.wait_syncs().await;
    sim.put("/sim/v1/links", json!({"state": "partition"})).await.ok(200);
    sim.post("/sim/v1/clock/advance", json!({"seconds": 26})).await.ok(200);
    let links = sim.get("/sim/v1/links").await.json["members"][0].clone();
    assert_eq!((links["usable"].as_bool(), links["declaredUp"].as_bool()), (Some(false), Some(false)));
    assert_eq!(view(&sim, A, "g").await.1, 5, "declared down: the primary group stops");
    sim.post_on(B, &p, json!({"action": 10})).await.error(403, 934);
    sim.post_on(B, &p, json!({"action": 7, "skipPromote": false})).await.ok(200);
    assert_eq!(view(&sim, B, &partner("g")).await, (3, 5, true));
    sim.post_on(B, &p, json!({"action": 10})).await.error(403, 953);
    sim.put("/sim/v1/links", json!({"state": "up"})).await.ok(200);
    sim.post("/sim/v1/clock/advance", json!({"seconds": 2})).await.ok(200);
    assert_eq!(sim.get("/sim/v1/links").await.json["members"][0]["declaredUp"], true);
    sim.post_on(B, &p, json!({"action": 10})).await.ok(200);
    sim.wait_syncs().await;
    assert_eq!((view(&sim, A, "g").await, view(&sim, B, &partner("g")).await), ((1, 3, false), (2, 3, false)));
    sim.stop().await;
}

// Goal: reverse (6), switchover (8) and override failsafe (11), and the refusals of the DR
// actions: missing or unknown action, members not valid for the action, a started group,
// the wrong side, an unknown group or target; refusals change nothing.
// Method: a synchronous group (switchover needs one), digests around each refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_switchover_and_refusals() {
    let sim = Sim::start().await;
    rc_group(&sim, "s", "V", 1).await;
    let p = format!("/api/v1/remotecopygroups/{}", partner("s"));
    sim.put("/api/v1/remotecopygroups/s", json!({"action": 3})).await.ok(200);
    sim.wait_syncs().await;
    let refusals: Vec<(usize, &str, serde_json::Value, u16, i64)> = vec![
        (A, "/api/v1/remotecopygroups/s", json!({}), 400, 40),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 5}), 400, 46),
        (A, "/api/v1/remotecopygroups/s", json!({"action": "7"}), 400, 39),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 8, "bogus": true}), 400, 12),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 8, "skipStart": true}), 400, 44),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 9, "stopGroups": true}), 400, 44),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 6, "localGroupsDirection": true}), 400, 12),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 7, "skipSync": "no"}), 400, 39),
        (A, "/api/v1/remotecopygroups/NOPE", json!({"action": 7}), 404, 187),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 8, "targetName": "NOPE"}), 403, 954),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 7}), 403, 934),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 9}), 403, 934),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 6}), 403, 974),
        (A, "/api/v1/remotecopygroups/s", json!({"action": 11}), 403, 934),
        (B, &p, json!({"action": 7}), 403, 974),
        (B, &p, json!({"action": 8}), 403, 934),
        (B, &p, json!({"action": 10}), 403, 934),
    ];
    for (index, path, body, status, code) in refusals {
        let before = sim.digest().await;
        let resp = sim.post_on(index, path, body.clone()).await;
        assert_eq!((resp.status, resp.json["code"].as_i64()), (status, Some(code)), "{path} {body}: {resp:?}");
        assert_eq!(sim.digest().await, before, "{path} {body} changed the model");
    }

    sim.post("/api/v1/remotecopygroups/s", json!({"action": 8, "targetName": "SIM-B"})).await.ok(200);
    assert_eq!((view(&sim, A, "s").await, view(&sim, B, &partner("s")).await), ((2, 3, false), (1, 3, false)));
    let data = b64(b"written on the new primary");
    sim.put_on(B, "/sim/v1/volumes/V/data", json!({"offset": 0, "data": data})).await.ok(200);
    assert_eq!(sim.get("/sim/v1/volumes/V/data?offset=0&length=26").await.json["data"], data, "mirrored to A");

    sim.post_on(B, &p, json!({"action": 6, "stopGroups": true})).await.ok(200);
    assert_eq!((view(&sim, A, "s").await, view(&sim, B, &partner("s")).await), ((1, 5, false), (2, 5, false)));
    sim.put("/api/v1/remotecopygroups/s", json!({"action": 3})).await.ok(200);
    sim.wait_syncs().await;
    assert_eq!(view(&sim, A, "s").await, (1, 3, false));
    sim.stop().await;
}

// Goal: Cinder's clean-up after a failover: on B (`Primary-Rev`, A still `Primary`) deleting
// the group or dismissing its volume is refused with 403 `RCOPY_GROUP_IN_FAILOVER_STATE` while
// B's target mirrors configuration; after `toggleRemoteCopyConfigMirror(False)` the delete acts
// on B only and A keeps its group. Method: requests on B, model views of both arrays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_after_failover_needs_mirroring_off() {
    let sim = Sim::start().await;
    rc_group(&sim, "g", "V", 2).await;
    let p = format!("/api/v1/remotecopygroups/{}", partner("g"));
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 3})).await.ok(200);
    sim.wait_syncs().await;
    sim.put("/api/v1/remotecopygroups/g", json!({"action": 4})).await.ok(200);
    sim.post_on(B, &p, json!({"action": 7})).await.ok(200);
    let before = sim.digest().await;
    sim.call_on(B, hyper::Method::DELETE, &p, None).await.error(403, 978);
    sim.call_on(B, hyper::Method::DELETE, &format!("{p}/volumes/V"), None).await.error(403, 978);
    sim.put_on(B, &p, json!({"action": 2, "volumeName": "V"})).await.error(403, 978);
    assert_eq!(sim.digest().await, before);
    sim.put_on(B, "/api/v1/remotecopytargets/SIM-A", json!({"policies": {"mirrorConfig": false}})).await.ok(200);
    // With mirroring off the two sides' configurations diverge by design: removing the volume on
    // the backup side only is allowed and breaks no invariant.
    sim.call_on(B, hyper::Method::DELETE, &format!("{p}/volumes/V"), None).await.ok(200);
    let violations = sim.model(|sim| simulator::invariants::check_all(sim)).await;
    assert!(violations.is_empty(), "{violations:?}");
    sim.call_on(B, hyper::Method::DELETE, &format!("{p}?keepSnap=true"), None).await.ok(200);
    sim.get_on(B, &p).await.error(404, 187);
    let a = sim.get("/api/v1/remotecopygroups/g").await.ok(200).json.clone();
    assert_eq!((a["role"].as_u64(), a["volumes"].as_array().map(Vec::len)), (Some(1), Some(1)));
    sim.stop().await;
}
