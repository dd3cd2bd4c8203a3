//! The real-client suite: pytest with the real python-3parclient against `storeserv-sim serve`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Waits (bounded) for the server's ready file and returns its JSON.
fn wait_ready(path: &Path, server: &mut std::process::Child) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    // Bounded by the deadline: polls an external process's file, the only signal it gives.
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text).expect("the ready file is JSON");
        }
        if let Some(status) = server.try_wait().expect("the server can be polled") {
            panic!("storeserv-sim serve exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.kill();
    panic!("storeserv-sim serve wrote no ready file within 20 s");
}

// Goal: an unmodified python-3parclient works against the simulator end to end (login/logout,
// CPGs, volumes, grow, rename, snapshots, promote, physical copy + task, volume sets + set
// snapshot, hosts, VLUNs, ports, metadata, and Remote Copy across the two arrays: create group,
// add volume with auto-created secondary, start, write, sync, check the secondary's bytes, stop,
// failover on the backup, restore). Method: start the real binary on port 0 with a ready
// file, run tests/python with the venv made by tests/python/setup.sh, require success, then stop
// the server with SIGTERM and require a clean exit.
#[test]
fn python_3parclient_suite_passes() {
    let venv = root().join("tests/python/.venv/bin/pytest");
    assert!(
        venv.exists(),
        "the Python client suite needs its virtual environment: run tests/python/setup.sh (missing {})",
        venv.display()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ready = dir.path().join("ready.json");
    let mut server = Command::new(env!("CARGO_BIN_EXE_storeserv-sim"))
        .args(["serve", "--primary-listen", "127.0.0.1:0", "--backup-listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .stdout(Stdio::null())
        .spawn()
        .expect("storeserv-sim starts");
    let urls = wait_ready(&ready, &mut server);
    let output = Command::new(&venv)
        .args(["-q", "-p", "no:cacheprovider"])
        .arg(root().join("tests/python"))
        .env("SIM_PRIMARY_URL", urls["primary"]["apiUrl"].as_str().unwrap())
        .env("SIM_BACKUP_URL", urls["backup"]["apiUrl"].as_str().unwrap())
        .env("SIM_USER", "3paradm")
        .env("SIM_PASSWORD", "3pardata")
        .output()
        .expect("pytest runs");
    let terminated = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill runs");
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.try_wait().expect("the server can be polled") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = server.kill();
            let _ = server.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let report = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "pytest failed:\n{report}");
    assert!(status.is_some_and(|s| s.success()), "the server did not stop cleanly on SIGTERM: {status:?}");
}
