//! `serve --scenario`: the arrays a scenario leaves, served over the WSAPI.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use simulator::wsapi::{ArrayListener, ClockMode, ServerConfig};

use super::support::Sim;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

// Goal: a client sees exactly the state the scenario's steps left — the backup copies, the
// Remote Copy group, the bytes of a copy — and a control-API reset returns to that state rather
// than to empty arrays. Method: run the periodic-backup fixture with the harness, serve its
// simulation, compare the WSAPI's view and bytes with the world's, mutate, reset, compare digests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_is_served_as_its_last_step_left_it() {
    let scenario = harness::scenario::load(&fixture("backup-periodic.toml")).expect("the fixture loads");
    let (report, world) =
        harness::runner::run_keeping_world(&scenario, harness::runner::RunOptions::default()).expect("it runs");
    assert!(report.passed(), "{report:?}");
    let sim = world.sim;
    let primary = sim.primary();
    let copies: Vec<String> =
        sim.array(primary).volumes().filter(|v| v.is_virtual_copy()).map(|v| v.name.clone()).collect();
    let backup_copy = copies.iter().find(|n| n.starts_with("db1.edb.d")).expect("a backup copy of db1.edb").clone();
    let expected_bytes = sim.read(primary, &backup_copy, 0, 64 * 1024).expect("the copy reads");
    assert!(expected_bytes.iter().any(|b| *b != 0), "the copy holds the database's bytes");
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let arrays = sim.arrays().map(|a| ArrayListener { config: a.config().clone(), listen }).collect();
    let config =
        ServerConfig { clock_mode: ClockMode::Manual, arrays, preload: Some(sim.clone()), ..ServerConfig::ephemeral() };
    let server = Sim::start_with(config).await;
    let start_digest = server.digest().await;

    let volumes = server.get("/api/v1/volumes").await;
    volumes.ok(200);
    let names: Vec<&str> =
        volumes.json["members"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    for copy in &copies {
        assert!(names.contains(&copy.as_str()), "{copy} missing from {names:?}");
    }
    let group = server.get("/api/v1/remotecopygroups/rcg").await;
    group.ok(200);
    assert_eq!(group.json["targets"][0]["mode"], 2, "periodic: {:?}", group.json);

    let read = server.get(&format!("/sim/v1/volumes/{backup_copy}/data?offset=0&length=65536")).await;
    read.ok(200);
    let served = base64::engine::general_purpose::STANDARD.decode(read.json["data"].as_str().unwrap()).unwrap();
    assert_eq!(served, expected_bytes);

    server.delete(&format!("/api/v1/volumes/{backup_copy}")).await.ok(200);
    assert_ne!(server.digest().await, start_digest);
    server.post("/sim/v1/reset", serde_json::json!({})).await.ok(200);
    assert_eq!(server.digest().await, start_digest, "a reset returns to the scenario's state");
    assert_eq!(server.get(&format!("/api/v1/volumes/{backup_copy}")).await.status, 200);
    server.stop().await;
}

// Goal: the CLI refuses what it cannot serve with one clear line and a non-zero exit — a
// scenario that fails its expectations, a file that does not parse — and names the file.
// Method: run the real binary on a scenario whose `expect` fails and on a bad key.
#[test]
fn serve_refuses_a_failing_or_broken_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let failing = dir.path().join("failing.toml");
    std::fs::write(
        &failing,
        "[scenario]\nname = \"failing\"\nseed = 1\n\n[[cpg]]\narray = \"SIM-A\"\nname = \"FC\"\n\n\
         [exchange]\nserver = \"MBX01\"\n\n[[database]]\nname = \"DB1\"\ncpg = \"FC\"\n\n\
         [backup_servers]\nlocal = \"BKP\"\n\n\
         [[step]]\nexpect = { database = \"DB1\", local_entries = 3 }\n",
    )
    .unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[scenario]\nname = \"broken\"\nsed = 1\n").unwrap();
    for (path, needle) in [(&failing, "expectation(s) failed"), (&broken, "sed")] {
        let output = Command::new(env!("CARGO_BIN_EXE_storeserv-sim"))
            .args(["serve", "--primary-listen", "127.0.0.1:0", "--backup-listen", "127.0.0.1:0", "--scenario"])
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .expect("storeserv-sim runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{} was served", path.display());
        assert!(stderr.contains(needle) && stderr.contains(&*path.to_string_lossy()), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
}

// Goal: a scenario may end with an array crashed (the seed workflow loses its primary); serving
// it must not panic, the surviving array serves the failed-over group, the crashed one shows its
// state but refuses changes (503, ARRAY_OFFLINE 945, as documented), and a reset returns there.
// Method: preload the seed-workflow fixture's end state and query both arrays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_that_ends_with_a_crashed_array_is_served() {
    let scenario = harness::scenario::load(&fixture("seed-workflow.toml")).expect("the fixture loads");
    let (report, world) =
        harness::runner::run_keeping_world(&scenario, harness::runner::RunOptions::default()).expect("it runs");
    assert!(report.passed());
    let sim = world.sim;
    assert!(!sim.array(sim.primary()).is_online(), "the fixture ends with the primary lost");
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let arrays = sim.arrays().map(|a| ArrayListener { config: a.config().clone(), listen }).collect();
    let config =
        ServerConfig { clock_mode: ClockMode::Manual, arrays, preload: Some(sim), ..ServerConfig::ephemeral() };
    let server = Sim::start_with(config).await;
    let start = server.digest().await;
    let group = server.get_on(1, "/api/v1/remotecopygroups/rcg.r20001").await;
    group.ok(200);
    assert_eq!(group.json["targets"][0]["roleReversed"], true, "{:?}", group.json);
    server.get("/api/v1/volumes/db1.edb").await.ok(200);
    server.post("/api/v1/cpgs", serde_json::json!({"name": "NEW"})).await.error(503, 945);
    server.post("/sim/v1/reset", serde_json::json!({})).await.ok(200);
    assert_eq!(server.digest().await, start);
    server.stop().await;
}
