//! Hosts (spec §7).

use serde_json::json;

use super::support::Sim;

// Goal: host create/modify/delete/query follow spec §7 with its error table. Method: the client
// suite's requests, checking the stored paths in the answers and the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_lifecycle_and_errors() {
    let sim = Sim::start().await;
    let created = sim
        .post(
            "/api/v1/hosts",
            json!({"name": "H1", "domain": "UNIT_TEST_DOMAIN", "FCWWNs": ["00:00:00:00:00:12:34:56"]}),
        )
        .await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/hosts/H1"));
    sim.post("/api/v1/hosts", json!({"name": "H2", "iSCSINames": ["iqn.1993-08.org.debian:01:0000012"]})).await.ok(201);
    sim.post("/api/v1/hosts", json!({"name": "H3"})).await.ok(201);
    let h1 = sim.get("/api/v1/hosts/H1").await;
    assert_eq!(h1.json["FCPaths"][0]["wwn"], "0000000000123456");
    assert_eq!(h1.json["iSCSIPaths"], json!([]));
    assert_eq!(h1.json["persona"], 2);

    let errors = [
        (json!({"name": "X", "iSCSIPaths": []}), 400, 12),
        (json!({"name": null}), 400, 40),
        (json!({"name": "X", "domain": "d".repeat(40)}), 400, 57),
        (json!({"name": "X", "domain": ""}), 400, 45),
        (json!({"name": "X", "domain": "doma&n"}), 400, 69),
        (json!({"name": "X", "FCWWNs": ["1000000000000009"], "iSCSINames": ["iqn.x"]}), 400, 44),
        (json!({"name": "X", "FCWWNs": ["00:00:00:00:00:00:01"]}), 400, 39),
        (json!({"name": "X", "domain": "NO_DOMAIN"}), 404, 38),
        (json!({"name": "X", "FCWWNs": ["0000000000123456"]}), 409, 73),
        (json!({"name": "H1"}), 409, 16),
    ];
    for (body, status, code) in errors {
        sim.post("/api/v1/hosts", body).await.error(status, code);
    }
    sim.get("/api/v1/hosts/B&dHostName").await.error(400, 69);
    let missing = sim.get("/api/v1/hosts/NOPE").await;
    missing.error(404, 17);
    assert_eq!(missing.json["desc"], "host does not exist");

    let q = "%22FCPaths%5Bwwn%3D%3D0000000000123456%5D%20OR%20iSCSIPaths%5Bname%3D%3Diqn.1993-08.org.debian%3A01%3A0000012%5D%22";
    let found = sim.get(&format!("/api/v1/hosts?query={q}")).await;
    assert_eq!(found.json["total"], 2);
    let one = sim.get("/api/v1/hosts?query=%22FCPaths%5Bwwn%3D%3D0000000000123456%5D%22").await;
    assert_eq!(one.json["total"], 1);

    sim.put("/api/v1/hosts/NOTHERE", json!({"FCWWNs": ["1"], "iSCSINames": ["x"]})).await.error(400, 44);
    sim.put("/api/v1/hosts/H1", json!({"FCWWNs": ["1000000000000001"]})).await.error(400, 78);
    sim.put("/api/v1/hosts/H1", json!({"pathOperation": 1})).await.error(400, 78);
    sim.put("/api/v1/hosts/H1", json!({"newName": "New#O$TN@ME"})).await.error(400, 69);
    sim.put("/api/v1/hosts/H1", json!({"newName": "n".repeat(32)})).await.error(400, 57);
    sim.put("/api/v1/hosts/None", json!({"newName": "Z"})).await.error(404, 17);
    sim.put("/api/v1/hosts/H1", json!({"newName": "H2"})).await.error(409, 16);
    sim.put("/api/v1/hosts/H3", json!({"pathOperation": 1, "FCWWNs": ["0000000000123456"]})).await.error(409, 73);
    sim.put("/api/v1/hosts/H1", json!({"pathOperation": 2, "FCWWNs": ["1000000000000099"]})).await.error(404, 80);
    sim.put("/api/v1/hosts/H1", json!({"pathOperation": 1, "FCWWNs": ["10:00:00:00:00:00:00:02"]})).await.ok(200);
    assert_eq!(sim.get("/api/v1/hosts/H1").await.json["FCPaths"].as_array().unwrap().len(), 2);
    sim.put("/api/v1/hosts/H1", json!({"pathOperation": 2, "FCWWNs": ["1000000000000002"]})).await.ok(200);
    let chap = json!({"chapOperation": 1, "chapOperationMode": 1, "chapName": "c", "chapSecret": "0123456789abc"});
    sim.put("/api/v1/hosts/H2", chap).await.ok(200);
    assert_eq!(sim.get("/api/v1/hosts/H2").await.json["initiatorChapEnabled"], true);
    let renamed = sim.put("/api/v1/hosts/H1", json!({"newName": "H1b", "persona": 11})).await;
    renamed.ok(200);
    assert_eq!(renamed.location.as_deref(), Some("/api/v1/hosts/H1b"));
    assert_eq!(sim.get("/api/v1/hosts/H1b").await.json["persona"], 11);
    sim.delete("/api/v1/hosts/H1b").await.ok(200);
    sim.delete("/api/v1/hosts/H1b").await.error(404, 17);
    assert_eq!(sim.model(|s| s.array(s.primary()).hosts().count()).await, 2);
    sim.stop().await;
}

// Goal: host paths are checked the same way on create and modify, before the host is looked
// up: a path listed twice is 400 INV_INPUT_DUP_PATH (98, spec §15.1), an iSCSI name must be
// non-empty (45), at most 223 characters (57) and printable without spaces (69, spec §1.7).
// Regression: the black-box review (findings 6 and 7) saw PUT de-duplicate silently and
// POST accept "", NUL, space and 300-character iSCSI names. Method: both verbs, bad paths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_input_is_validated_on_create_and_modify() {
    let sim = Sim::start().await;
    sim.post("/api/v1/hosts", json!({"name": "h2"})).await.ok(201);
    let dup = "10:00:00:00:00:00:00:07";
    sim.post("/api/v1/hosts", json!({"name": "x", "FCWWNs": [dup, dup]})).await.error(400, 98);
    sim.put("/api/v1/hosts/h2", json!({"pathOperation": 1, "FCWWNs": [dup, dup]})).await.error(400, 98);
    sim.put("/api/v1/hosts/h2", json!({"pathOperation": 1, "iSCSINames": ["iqn.a", "iqn.a"]})).await.error(400, 98);
    sim.put("/api/v1/hosts/NOHOST", json!({"pathOperation": 1, "FCWWNs": [dup, dup]})).await.error(400, 98);
    assert_eq!(sim.get("/api/v1/hosts/h2").await.json["FCPaths"], json!([]));
    let long = format!("iqn.{}", "a".repeat(296));
    for (iqn, code) in [("", 45), ("iqn.a\u{0}b", 69), ("iqn.a b", 69), (long.as_str(), 57)] {
        sim.post("/api/v1/hosts", json!({"name": "x", "iSCSINames": [iqn]})).await.error(400, code);
        sim.put("/api/v1/hosts/h2", json!({"pathOperation": 1, "iSCSINames": [iqn]})).await.error(400, code);
    }
    sim.put("/api/v1/hosts/h2", json!({"pathOperation": 1, "iSCSINames": ["iqn.2026-12.org.example:h2"]}))
        .await
        .ok(200);
    assert_eq!(sim.get("/api/v1/hosts/h2").await.json["iSCSIPaths"][0]["name"], "iqn.2026-12.org.example:h2");
    sim.stop().await;
}
