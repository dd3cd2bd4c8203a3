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
