//! Load: many concurrent clients, zero errors, a final state that matches the answers.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;

use super::support::Sim;

/// Concurrent clients.
const CLIENTS: usize = 64;

// Goal: 64 concurrent clients issuing mixed requests for a bounded time get no error, and the
// final model holds exactly what their answers said. Method: each client owns a volume and
// loops (bounded by time and by a request cap) over reads, snapshot creation, metadata updates,
// list queries and snapshot deletion, keeping its own expected snapshot set; afterwards the
// model's snapshots and metadata are compared with those sets. Duration: 2 s, or
// SIM_WSAPI_LOAD_SECS seconds for a longer opt-in run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_agree_with_the_model() {
    let seconds: u64 = std::env::var("SIM_WSAPI_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let sim = std::sync::Arc::new(Sim::start().await);
    sim.post("/api/v1/cpgs", json!({"name": "C"})).await.ok(201);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let sim = sim.clone();
        clients.push(tokio::spawn(async move {
            let volume = format!("L{client}");
            let body = json!({"name": volume, "cpg": "C", "sizeMiB": 256, "tpvv": true, "snapCPG": "C"});
            sim.post("/api/v1/volumes", body).await.ok(201);
            let mut snapshots = BTreeSet::new();
            let mut last_value = None;
            let mut requests = 0u32;
            // Bounded by the deadline and by a request cap.
            for step in 0u32..100_000 {
                if Instant::now() >= deadline {
                    break;
                }
                requests += 1;
                match step % 5 {
                    0 => {
                        let got = sim.get(&format!("/api/v1/volumes/{volume}")).await;
                        got.ok(200);
                        assert_eq!(got.json["name"], volume);
                    }
                    1 => {
                        let name = format!("{volume}-s{step}");
                        let body = json!({"action": "createSnapshot", "parameters": {"name": name, "readOnly": true}});
                        sim.post(&format!("/api/v1/volumes/{volume}"), body).await.ok(201);
                        snapshots.insert(name);
                    }
                    2 => {
                        let value = step.to_string();
                        let path = format!("/api/v1/volumes/{volume}/objectKeyValues");
                        if last_value.is_none() {
                            sim.post(&path, json!({"key": "step", "value": value})).await.ok(201);
                        } else {
                            sim.put(&format!("{path}/step"), json!({"value": value})).await.ok(200);
                        }
                        last_value = Some(value);
                    }
                    3 => {
                        let query = sim.get(&format!("/api/v1/volumes?query=%22copyOf%20EQ%20{volume}%22")).await;
                        query.ok(200);
                        assert_eq!(query.json["total"].as_u64().unwrap() as usize, snapshots.len());
                    }
                    _ => {
                        if let Some(oldest) = snapshots.pop_first() {
                            sim.delete(&format!("/api/v1/volumes/{oldest}")).await.ok(200);
                        }
                    }
                }
            }
            (volume, snapshots, last_value, requests)
        }));
    }
    let mut total = 0;
    for client in clients {
        let (volume, snapshots, last_value, requests) = client.await.expect("no client failed");
        total += requests;
        let (actual, value) = sim
            .model({
                let volume = volume.clone();
                move |s| {
                    let array = s.array(s.primary());
                    let base = array.volume(&volume).unwrap().id;
                    let copies: BTreeSet<String> =
                        array.volumes().filter(|v| v.copy_of() == Some(base)).map(|v| v.name.clone()).collect();
                    let value = array.volume(&volume).unwrap().metadata.get("step").map(|kv| kv.value.clone());
                    (copies, value)
                }
            })
            .await;
        assert_eq!(actual, snapshots, "{volume}");
        assert_eq!(value, last_value, "{volume}");
    }
    assert!(total >= CLIENTS as u32);
    match std::sync::Arc::try_unwrap(sim) {
        Ok(sim) => sim.stop().await,
        Err(_) => panic!("every client finished"),
    }
}
