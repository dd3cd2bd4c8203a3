//! CPGs and the space reporter (spec §4).

use serde_json::json;

use super::support::{Sim, volume};

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
async fn space(sim: &Sim, volume: &str) -> (Option<u64>, serde_json::Value) {
    let v = sim.get(&format!("/api/v1/volumes/{volume}")).await;
    v.ok(200);
    (v.json["userSpace"]["usedMiB"].as_u64(), v.json["snapshotSpace"].clone())
}
