//! CPGs and the space reporter (spec §4).

use serde_json::{Value, json};

use super::support::{A, B, Sim, rc_group, volume};

// Goal: CPG create/get/list/delete with the spec's errors and validation order. Method: send the
// client test suite's requests and check answers and the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpg_lifecycle_and_errors() {
    let sim = Sim::start().await;
    let layout = json!({"HA": 3, "diskPatterns": [{"diskType": 3}]});
    let created =
        sim.post("/api/v1/cpgs", json!({"name": "C1", "domain": "UNIT_TEST_DOMAIN", "LDLayout": layout})).await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/cpgs/C1"));
    let layout2 = json!({"RAIDType": 2, "HA": 3, "diskPatterns": [{"diskType": 3}]});
    sim.post("/api/v1/cpgs", json!({"name": "C2", "domain": "UNIT_TEST_DOMAIN", "LDLayout": layout2})).await.ok(201);
    let cpg = sim.get("/api/v1/cpgs/C1").await;
    cpg.ok(200);
    assert_eq!(cpg.json["domain"], "UNIT_TEST_DOMAIN");
    assert_eq!(cpg.json["SDGrowth"]["LDLayout"]["HA"], 3);
    assert!(cpg.json["SDGrowth"].get("limitMiB").is_none());
    let list = sim.get("/api/v1/cpgs").await;
    assert_eq!(list.json["total"], 3, "UserCPG fixture plus two");

    sim.post("/api/v1/cpgs", json!({"name": "C3", "domainBad": "x"})).await.error(400, 12);
    let bad_layout = json!({"name": "C3", "domain": "NO_SUCH", "LDLayout": {"RAIDBadType": 1}});
    sim.post("/api/v1/cpgs", bad_layout).await.error(400, 12);
    sim.post("/api/v1/cpgs", json!({"name": "C3", "domain": "NO_SUCH"})).await.error(404, 38);
    sim.post("/api/v1/cpgs", json!({"name": "C1"})).await.error(409, 14);
    sim.post("/api/v1/cpgs", json!({"name": "C1&"})).await.error(400, 69);
    sim.post("/api/v1/cpgs", json!({"name": "C3", "LDLayout": {"RAIDType": 9}})).await.error(400, 46);
    sim.get("/api/v1/cpgs/NOPE").await.error(404, 15);

    let space = sim.post("/api/v1/spacereporter", json!({"cpg": "C1"})).await;
    space.ok(200);
    assert!(space.json["usableFreeMiB"].as_u64().unwrap() > 0);
    sim.post("/api/v1/spacereporter", json!({"cpg": "NOPE"})).await.error(404, 15);

    volume(&sim, "C1", "V1").await;
    sim.delete("/api/v1/cpgs/C1").await.error(409, 34);
    assert_eq!(sim.get("/api/v1/cpgs/C1").await.json["numTPVVs"], 1);
    sim.delete("/api/v1/cpgs/C2").await.ok(200);
    sim.delete("/api/v1/cpgs/C2").await.error(404, 15);
    let gone = sim.model(|s| s.array(s.primary()).cpg("C2").is_err()).await;
    assert!(gone);
    sim.stop().await;
}

// Goal: a tree's snapshot space shows where 3PAR shows it and counts against its snapshot CPG's
// growth limit wherever that limit is read: the base volume's `snapshotSpace`, the CPG's
// `SDUsage`, the space reporter, and a fully provisioned volume created in the CPG (spec §4,
// §5.1; 7.1/8). Regression: `snapshotSpace` was always zeros, `SDUsage` was counted per copy
// against its parent, and the space reporter and volume creation left snapshot space out.
// Method: 2 MiB written to a thin volume, a snapshot, its first MiB rewritten (64 pages only
// the copy keeps), then every figure read; deleting the snapshot gives the space back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_space_shows_on_the_base_and_counts_in_its_snapshot_cpg() {
    let sim = Sim::start().await;
    sim.post("/api/v1/cpgs", json!({"name": "U"})).await.ok(201);
    sim.post("/api/v1/cpgs", json!({"name": "S", "growthLimitMiB": 257})).await.ok(201);
    let body = json!({"name": "V", "cpg": "U", "sizeMiB": 1024, "tpvv": true, "snapCPG": "S"});
    sim.post("/api/v1/volumes", body).await.ok(201);
    rewrite(&sim, 1, 2).await;
    let snapshot = json!({"action": "createSnapshot", "parameters": {"name": "V.s", "readOnly": true}});
    sim.post("/api/v1/volumes/V", snapshot).await.ok(201);
    assert_eq!(space(&sim, "V").await.1["usedMiB"], 0, "the copy shares every page");
    rewrite(&sim, 2, 1).await;

    let (user, snapshot) = space(&sim, "V").await;
    assert_eq!(user, Some(2));
    assert_eq!(snapshot, json!({"reservedMiB": 1, "rawReservedMiB": 2, "usedMiB": 1, "freeMiB": 0}));
    assert_eq!(space(&sim, "V.s").await.1["usedMiB"], 0, "a copy's snapshot space shows on its base");
    let s = sim.get("/api/v1/cpgs/S").await;
    assert_eq!((s.json["SDUsage"]["usedMiB"].as_u64(), s.json["UsrUsage"]["usedMiB"].as_u64()), (Some(1), Some(0)));
    let u = sim.get("/api/v1/cpgs/U").await;
    assert_eq!((u.json["SDUsage"]["usedMiB"].as_u64(), u.json["UsrUsage"]["usedMiB"].as_u64()), (Some(0), Some(2)));
    let reported = sim.post("/api/v1/spacereporter", json!({"cpg": "S"})).await;
    assert_eq!(reported.json["usableFreeMiB"], 256, "the growth limit less the snapshot space drawn from S");
    let capacity = sim.get("/api/v1/capacity").await;
    assert_eq!(capacity.json["allCapacity"]["allocated"]["volumes"]["CPGSnapshotMiB"], 1);

    // 1 MiB of snapshot space + 257 MiB > 257 MiB; 256 MiB fits.
    let before = sim.digest().await;
    sim.post("/api/v1/volumes", json!({"name": "F", "cpg": "S", "sizeMiB": 257})).await.error(400, 24);
    assert_eq!(sim.digest().await, before, "a refused creation changes nothing");
    sim.post("/api/v1/volumes", json!({"name": "F", "cpg": "S", "sizeMiB": 256})).await.ok(201);

    sim.delete("/api/v1/volumes/V.s").await.ok(200);
    assert_eq!(space(&sim, "V").await.1["usedMiB"], 0);
    assert_eq!(sim.get("/api/v1/cpgs/S").await.json["SDUsage"]["usedMiB"], 0);
    sim.stop().await;
}

/// Writes `mib` MiB of `byte` at the start of volume `V` on the primary.
async fn rewrite(sim: &Sim, byte: u8, mib: usize) {
    sim.model(move |s| {
        let a = s.primary();
        s.write(a, "V", 0, &vec![byte; mib << 20]).expect("within every limit");
    })
    .await;
}

/// `userSpace.usedMiB` and `snapshotSpace` of `volume`.
async fn space(sim: &Sim, volume: &str) -> (Option<u64>, Value) {
    let v = sim.get(&format!("/api/v1/volumes/{volume}")).await;
    v.ok(200);
    (v.json["userSpace"]["usedMiB"].as_u64(), v.json["snapshotSpace"].clone())
}

/// `pages` pages (16 KiB each) of `seed` as the control API's base64.
fn pages(seed: u8, pages: usize) -> String {
    super::support::b64(&vec![seed; pages * 16384])
}

// Goal: `PUT /cpgs/<name>` (beyond the spec's subset, WSAPI 1.x "modify a CPG") sets a growth
// limit that GET shows as `SDGrowth.limitMiB` and that the next writes obey: a write allocating
// user space past it is refused NO_SPACE (400 code 24) and changes nothing, one needing
// snapshot space past it makes the copies stale (staleSS, the default); `rmGrowthLimit` removes
// it. Method: a thin volume with 64 pages (1 MiB) written, the limit set at 1 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modify_sets_and_removes_the_growth_limit_writes_obey() {
    let sim = Sim::start().await;
    volume(&sim, "LIM", "v").await;
    sim.put("/sim/v1/volumes/v/data", json!({"offset": 0, "data": pages(1, 64)})).await.ok(200);
    let modified = sim.put("/api/v1/cpgs/LIM", json!({"growthLimitMiB": 1})).await;
    modified.ok(200);
    assert_eq!((&modified.json, modified.location.as_deref()), (&Value::Null, Some("/api/v1/cpgs/LIM")));
    let cpg = sim.get("/api/v1/cpgs/LIM").await;
    assert_eq!(cpg.json["SDGrowth"]["limitMiB"], 1);
    let space = sim.post("/api/v1/spacereporter", json!({"cpg": "LIM"})).await;
    assert_eq!(space.json["usableFreeMiB"], 0);

    let before = sim.digest().await;
    let past = json!({"offset": 64 * 16384, "data": pages(2, 1)});
    sim.put("/sim/v1/volumes/v/data", past.clone()).await.error(400, 24);
    assert_eq!(sim.digest().await, before, "a refused write changes nothing");
    let snapshot = json!({"action": "createSnapshot", "parameters": {"name": "v.ro", "readOnly": true}});
    sim.post("/api/v1/volumes/v", snapshot).await.ok(201);
    sim.put("/sim/v1/volumes/v/data", json!({"offset": 0, "data": pages(3, 1)})).await.ok(200);
    let copy = sim.get("/api/v1/volumes/v.ro").await;
    assert_eq!((copy.json["state"].as_i64(), copy.json["failedStates"].clone()), (Some(3), json!([8])));

    sim.put("/api/v1/cpgs/LIM", json!({"rmGrowthLimit": true})).await.ok(200);
    assert!(sim.get("/api/v1/cpgs/LIM").await.json["SDGrowth"].get("limitMiB").is_none());
    sim.put("/sim/v1/volumes/v/data", past).await.ok(200);
    let read = sim.get(&format!("/sim/v1/volumes/v/data?offset={}&length=16384", 64 * 16384)).await;
    assert_eq!(read.ok(200).json["data"], pages(2, 1));
    sim.stop().await;
}

// Goal: a rename keeps the CPG (same id) under its new name: GET by the new name 200, by the
// old 404 code 15, the volumes' `userCPG`/`snapCPG` show the new name, and the CPG is still in
// use; the growth settings and the layout (request members merged over the current layout)
// show in `SDGrowth`; `{}` succeeds and changes nothing, as `PUT /volumes` does. Method: modify
// a CPG holding a volume, read CPG and volume back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modify_renames_and_changes_growth_settings_and_layout() {
    let sim = Sim::start().await;
    let layout = json!({"HA": 3, "diskPatterns": [{"diskType": 3}]});
    sim.post("/api/v1/cpgs", json!({"name": "C1", "LDLayout": layout})).await.ok(201);
    volume(&sim, "C1", "V1").await;
    let id = sim.get("/api/v1/cpgs/C1").await.json["id"].clone();
    let renamed = sim.put("/api/v1/cpgs/C1", json!({"newName": "C1new"})).await;
    assert_eq!(renamed.ok(200).location.as_deref(), Some("/api/v1/cpgs/C1new"));
    let cpg = sim.get("/api/v1/cpgs/C1new").await;
    assert_eq!((cpg.ok(200).json["id"].clone(), cpg.json["name"].clone()), (id, json!("C1new")));
    assert_eq!(cpg.json["numTPVVs"], 1);
    sim.get("/api/v1/cpgs/C1").await.error(404, 15);
    let v1 = sim.get("/api/v1/volumes/V1").await;
    assert_eq!((v1.json["userCPG"].as_str(), v1.json["snapCPG"].as_str()), (Some("C1new"), Some("C1new")));
    let query = sim.get("/api/v1/volumes?query=%22snapCPG%20EQ%20C1new%22").await;
    assert_eq!(query.json["total"], 1);
    sim.delete("/api/v1/cpgs/C1new").await.error(409, 34);
    let body = json!({"name": "V2", "cpg": "C1", "sizeMiB": 256, "tpvv": true});
    sim.post("/api/v1/volumes", body).await.error(404, 15);

    let growth = json!({"growthIncrementMiB": 1024, "usedLDWarningAlertMiB": 512, "LDLayout": {"RAIDType": 3}});
    sim.put("/api/v1/cpgs/C1new", growth).await.ok(200);
    let cpg = sim.get("/api/v1/cpgs/C1new").await;
    assert_eq!(cpg.json["SDGrowth"]["incrementMiB"], 1024);
    let expected = json!({"RAIDType": 3, "HA": 3, "diskPatterns": [{"diskType": 3}]});
    assert_eq!(cpg.json["SDGrowth"]["LDLayout"], expected);
    let warning = sim.model(|s| s.array(s.primary()).cpg("C1new").unwrap().used_ld_warning_alert_mib).await;
    assert_eq!(warning, Some(512));
    assert_eq!(cpg.json["SDGrowth"]["warningMiB"], 512, "the used-LD warning is the SD growth warning (-sdgw)");
    let patterns =
        json!({"LDLayout": {"diskPatterns": [{"diskType": 1}]}, "disableAutoGrow": true, "rmWarningAlert": true});
    sim.put("/api/v1/cpgs/C1new", patterns).await.ok(200);
    let cpg = sim.get("/api/v1/cpgs/C1new").await;
    assert_eq!(cpg.json["SDGrowth"]["incrementMiB"], 0);
    let expected = json!({"RAIDType": 3, "HA": 3, "diskPatterns": [{"diskType": 1}]});
    assert_eq!(cpg.json["SDGrowth"]["LDLayout"], expected);
    let warning = sim.model(|s| s.array(s.primary()).cpg("C1new").unwrap().used_ld_warning_alert_mib).await;
    assert_eq!(warning, None);
    assert!(cpg.json["SDGrowth"].get("warningMiB").is_none());

    let before = sim.get("/api/v1/cpgs/C1new").await.json;
    sim.put("/api/v1/cpgs/C1new", json!({})).await.ok(200);
    sim.put("/api/v1/volumes/V1", json!({})).await.ok(200);
    assert_eq!(sim.get("/api/v1/cpgs/C1new").await.json, before);
    sim.stop().await;
}

// Goal: every refused modify answers its status and 3PAR code, in the spec's order (§1.8:
// syntax, unknown members, types, ranges, names and conflicting members 400 even for a CPG
// that does not exist; then 404; then 409), and changes nothing, the valid members of the same
// request included. Renaming a CPG a Remote Copy group uses is 409 code 34 on both arrays
// (the partner group on the backup holds it too). Method: one request per row on a populated
// server, the digest compared around each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modify_errors_change_nothing() {
    let sim = Sim::start().await;
    volume(&sim, "C1", "V1").await;
    sim.post("/api/v1/cpgs", json!({"name": "C2"})).await.ok(201);
    rc_group(&sim, "G", "R", 2).await;
    let key = sim.login(0).await;
    for body in ["{", "[1,", "nul", "{\"growthLimitMiB\": 1} x"] {
        let before = sim.digest().await;
        let resp = sim.raw(0, hyper::Method::PUT, "/api/v1/cpgs/C1", Some(body.to_owned()), Some(&key)).await;
        resp.error(400, 12);
        assert_eq!(sim.digest().await, before, "{body} changed the model");
    }
    let long = "c".repeat(32);
    let cases = [
        (A, "/api/v1/cpgs/C1", json!([1]), 400, 12),
        (A, "/api/v1/cpgs/C1", json!({"growthLimit": 1}), 400, 12),
        (A, "/api/v1/cpgs/NOPE", json!({"LDLayout": {"RAIDBadType": 1}}), 400, 12),
        (A, "/api/v1/cpgs/NOPE", json!({"growthLimitMiB": "1"}), 400, 39),
        (A, "/api/v1/cpgs/C1", json!({"rmGrowthLimit": 1}), 400, 39),
        (A, "/api/v1/cpgs/C1", json!({"disableAutoGrow": "yes"}), 400, 39),
        (A, "/api/v1/cpgs/C1", json!({"newName": 5}), 400, 39),
        (A, "/api/v1/cpgs/C1", json!({"LDLayout": 3}), 400, 39),
        (A, "/api/v1/cpgs/C1", json!({"growthLimitMiB": -1}), 400, 115),
        (A, "/api/v1/cpgs/C1", json!({"growthIncrementMiB": 1.5}), 400, 39),
        (A, "/api/v1/cpgs/C1", json!({"usedLDWarningAlertMiB": 1u64 << 41}), 400, 43),
        (A, "/api/v1/cpgs/C1", json!({"growthLimitMiB": 1, "LDLayout": {"RAIDType": 9}}), 400, 46),
        (A, "/api/v1/cpgs/C1", json!({"LDLayout": {"diskPatterns": [{"diskType": 7}]}}), 400, 933),
        (A, "/api/v1/cpgs/NOPE", json!({"growthLimitMiB": 1, "rmGrowthLimit": true}), 400, 44),
        (A, "/api/v1/cpgs/C1", json!({"growthIncrementMiB": 8, "disableAutoGrow": true}), 400, 44),
        (A, "/api/v1/cpgs/C1", json!({"usedLDWarningAlertMiB": 8, "rmWarningAlert": true}), 400, 44),
        (A, "/api/v1/cpgs/NOPE", json!({"newName": "C&"}), 400, 69),
        (A, "/api/v1/cpgs/C1", json!({"newName": long}), 400, 57),
        (A, "/api/v1/cpgs/C1", json!({"newName": ""}), 400, 45),
        (A, "/api/v1/cpgs/C1", json!({"newName": null, "growthLimitMiB": 1, "rmGrowthLimit": true}), 400, 44),
        (A, "/api/v1/cpgs/C%26", json!({"growthLimitMiB": 1}), 400, 69),
        (A, "/api/v1/cpgs/NOPE", json!({"growthLimitMiB": 1}), 404, 15),
        (A, "/api/v1/cpgs/NOPE", json!({}), 404, 15),
        (A, "/api/v1/cpgs/C1", json!({"growthLimitMiB": 5, "newName": "C2"}), 409, 14),
        (A, "/api/v1/cpgs/RC", json!({"growthLimitMiB": 5, "newName": "RC2"}), 409, 34),
        (B, "/api/v1/cpgs/RC", json!({"newName": "RC2"}), 409, 34),
    ];
    for (array, path, body, status, code) in cases {
        let before = sim.digest().await;
        let resp = sim.put_on(array, path, body.clone()).await;
        resp.error(status, code);
        assert_eq!(sim.digest().await, before, "PUT {path} {body} changed the model: {resp:?}");
    }
    let conflict = sim.put("/api/v1/cpgs/C1", json!({"growthLimitMiB": 1, "rmGrowthLimit": true})).await;
    assert_eq!(conflict.json["ref"], "rmGrowthLimit");
    assert!(sim.get("/api/v1/cpgs/C1").await.json["SDGrowth"].get("limitMiB").is_none());
    sim.get("/api/v1/cpgs/RC").await.ok(200);
    let group = sim.get("/api/v1/remotecopygroups/G").await;
    assert_eq!(group.json["localUserCPG"], "RC");
    sim.stop().await;
}

// Goal: `usedLDWarningAlertMiB` on create (spec §4.2) is the threshold GET shows as
// `SDGrowth.warningMiB` (spec §4.1; `createcpg -sdgw`), and `growthWarnMiB`, an older name for
// it, sets the same; both with different values → 400 INV_INPUT_PARAM_CONFLICT (44).
// Regression: the two were stored apart and GET showed only `growthWarnMiB`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_used_ld_warning_is_the_sd_growth_warning() {
    let sim = Sim::start().await;
    sim.post("/api/v1/cpgs", json!({"name": "W1", "usedLDWarningAlertMiB": 300})).await.ok(201);
    assert_eq!(sim.get("/api/v1/cpgs/W1").await.json["SDGrowth"]["warningMiB"], 300);
    sim.post("/api/v1/cpgs", json!({"name": "W2", "growthWarnMiB": 400})).await.ok(201);
    assert_eq!(sim.get("/api/v1/cpgs/W2").await.json["SDGrowth"]["warningMiB"], 400);
    let both = json!({"name": "W3", "growthWarnMiB": 500, "usedLDWarningAlertMiB": 500});
    sim.post("/api/v1/cpgs", both).await.ok(201);
    assert_eq!(sim.get("/api/v1/cpgs/W3").await.json["SDGrowth"]["warningMiB"], 500);
    let before = sim.digest().await;
    let conflict = json!({"name": "W4", "growthWarnMiB": 500, "usedLDWarningAlertMiB": 600});
    sim.post("/api/v1/cpgs", conflict).await.error(400, 44);
    assert_eq!(sim.digest().await, before);
    assert!(sim.get("/api/v1/cpgs/W1").await.json["SDGrowth"].get("limitMiB").is_none());
    sim.stop().await;
}
