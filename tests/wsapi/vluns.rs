//! VLUN templates and active VLUNs (spec §8).

use serde_json::json;

use super::support::{Sim, volume};

// Goal: VLUNs follow spec §8: Location parsed by the client, templates plus derived active
// VLUNs, queries, the error table, and deletes. Method: export to a host, a matched set and a
// port, read the list, delete, and check a host read through the LUN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports() {
    let sim = Sim::start().await;
    volume(&sim, "C", "V1").await;
    volume(&sim, "C", "V2").await;
    sim.post("/api/v1/hosts", json!({"name": "H1", "FCWWNs": ["1000000000000001"]})).await.ok(201);
    sim.post("/api/v1/hosts", json!({"name": "H2"})).await.ok(201);

    let created = sim.post("/api/v1/vluns", json!({"volumeName": "V1", "lun": 0, "hostname": "H1"})).await;
    created.ok(201);
    assert_eq!(created.location.as_deref(), Some("/api/v1/vluns/V1,0,H1"));
    let port = json!({"node": 0, "slot": 1, "cardPort": 1});
    let matched =
        sim.post("/api/v1/vluns", json!({"volumeName": "V2", "lun": 3, "hostname": "H1", "portPos": port})).await;
    assert_eq!(matched.location.as_deref(), Some("/api/v1/vluns/V2,3,H1,0:1:1"));
    let auto = sim
        .post(
            "/api/v1/vluns",
            json!({"volumeName": "V2", "lun": 0, "autoLun": true, "maxAutoLun": 0, "hostname": "H2"}),
        )
        .await;
    assert_eq!(auto.location.as_deref(), Some("/api/v1/vluns/V2,0,H2"));
    let port_only = sim.post("/api/v1/vluns", json!({"volumeName": "V1", "lun": 7, "portPos": port})).await;
    assert_eq!(port_only.location.as_deref(), Some("/api/v1/vluns/V1,7,,0:1:1"));

    let host_vluns = sim.get("/api/v1/vluns?query=%22hostname%20EQ%20H1%22").await;
    let members = host_vluns.json["members"].as_array().unwrap();
    assert!(members.iter().any(|v| v["active"] == false && v["volumeName"] == "V1" && v["type"] == 3));
    assert!(members.iter().any(|v| v["active"] == true && v["remoteName"] == "1000000000000001"));
    assert!(members.iter().filter(|v| v["active"] == true && v["volumeName"] == "V2").all(|v| v["portPos"] == port));
    let none = sim.get("/api/v1/vluns?query=%22volumeName%20EQ%20NOPE%22").await;
    assert_eq!(none.json, json!({"total": 0, "members": []}));

    let errors = [
        (json!({"volumeName": "V1", "lun": 1, "hostname": "H1", "portPos": {"badNode": 1}}), 400, 12),
        (json!({"lun": 1, "hostname": "H1"}), 400, 40),
        (json!({"volumeName": "V1", "lun": 1}), 400, 920),
        (json!({"volumeName": "V1", "lun": 100000, "hostname": "H1"}), 400, 28),
        (json!({"volumeName": "V1", "lun": 1, "portPos": {"node": 1}}), 400, 55),
        (json!({"volumeName": "NOPE", "lun": 1, "hostname": "H1"}), 404, 23),
        (json!({"volumeName": "V1", "lun": 1, "hostname": "NOPE"}), 404, 17),
        (json!({"volumeName": "V1", "lun": 1, "portPos": {"node": 7, "slot": 7, "cardPort": 7}}), 404, 20),
        (json!({"volumeName": "V1", "lun": 1, "portPos": {"node": 0, "slot": 3, "cardPort": 1}}), 400, 21),
        (json!({"volumeName": "V2", "lun": 0, "hostname": "H1"}), 409, 18),
    ];
    let before = sim.digest().await;
    for (body, status, code) in errors {
        sim.post("/api/v1/vluns", body).await.error(status, code);
    }
    assert_eq!(sim.digest().await, before);

    // The host sees the volume's bytes through its LUN.
    let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"lun0");
    sim.put("/sim/v1/volumes/V1/data", json!({"offset": 0, "data": data})).await.ok(200);
    let seen = sim.model(|s| s.host_read(s.primary(), "H1", 0, 0, 4).unwrap()).await;
    assert_eq!(seen, b"lun0");

    let exported = sim.delete("/api/v1/hosts/H1").await;
    exported.error(409, 26);
    assert_eq!(exported.json["desc"], "has exported VLUN");
    sim.delete("/api/v1/vluns/V1,0,H1,8:8:8").await.error(400, 55);
    sim.delete("/api/v1/vluns/V1,0").await.error(400, 40);
    sim.delete("/api/v1/vluns/V1,0,NOPE").await.error(404, 17);
    sim.delete("/api/v1/vluns/NOPE,0,H1").await.error(404, 19);
    sim.delete("/api/v1/vluns/V1,0,H1").await.ok(200);
    sim.delete("/api/v1/vluns/V1,0,H1").await.error(404, 19);
    sim.delete("/api/v1/vluns/V2,3,H1,0:1:1").await.ok(200);
    sim.delete("/api/v1/vluns/V1,7,,0:1:1").await.ok(200);
    sim.delete("/api/v1/hosts/H1").await.ok(200);
    assert_eq!(sim.model(|s| s.array(s.primary()).vluns().count()).await, 1);
    sim.stop().await;
}

// Goal: `?noVcn=` on DELETE /vluns takes only true or false (spec §8.5), refused otherwise with
// 400/39 like every other boolean, before anything is deleted. Regression: the black-box
// review (finding 9) got 200 for `?noVcn=maybe`. Method: delete one template with a bad,
// then a good value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_checks_no_vcn() {
    let sim = Sim::start().await;
    volume(&sim, "C", "V1").await;
    sim.post("/api/v1/hosts", json!({"name": "H1"})).await.ok(201);
    sim.post("/api/v1/vluns", json!({"volumeName": "V1", "lun": 0, "hostname": "H1"})).await.ok(201);
    sim.delete("/api/v1/vluns/V1,0,H1?noVcn=maybe").await.error(400, 39);
    sim.delete("/api/v1/vluns/V1,0,H1?noVcn=true").await.ok(200);
    sim.delete("/api/v1/vluns/V1,0,H1?noVcn=false").await.error(404, 19);
    sim.stop().await;
}
