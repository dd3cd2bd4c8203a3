//! WSAPI throughput on loopback, side by side with a bare hyper "hello JSON" server measured in
//! the same run (issue 6): `GET /volumes/<name>` and snapshot creation with 1 and 32 concurrent
//! keep-alive connections, then a fixed-length latency pass that prints requests/s and p99.
//! The bare server gets exactly the requests the WSAPI gets (same path, session header and body,
//! built by the same client code): `bare_hello` is `get_volume`'s GET, `bare_post` is
//! `create_snapshot`'s POST, whose body it reads; GETs compare with `bare_hello`, snapshot
//! creation with `bare_post`. (Until 2026-12-02 the bare requests were `GET /hello` and a POST of
//! a fixed body of the same size, without the session header: the client then built and the
//! bare server parsed less per request than for the WSAPI cases, which counted against the
//! WSAPI in the ratio; docs/benchmarks.md gives figures of both.) Both servers wrap their connections in the same
//! `AbsorbSelfWakes` adapter (a hyper request body wakes its own connection task, which tokio
//! otherwise turns into a hop to another worker on every POST).
//!
//! Group `wsapi`, ids `bare_hello/<c>`, `bare_post/<c>`, `get_volume/<c>`, `create_snapshot/<c>`;
//! criterion's time per iteration is the time per request, so requests/s = 1 / time.
//! Snapshot runs reset the array (outside the measured time) before its 65,535 volume ids run out.
//! Run: `cargo bench --bench wsapi` (figures go to docs/benchmarks.md, section WSAPI); only the
//! 2-second pass: `cargo bench --bench wsapi -- none`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use simulator::ArrayConfig;
use simulator::wsapi::self_wake::AbsorbSelfWakes;
use simulator::wsapi::{ArrayListener, ClockMode, Server, ServerConfig};
use tokio::net::{TcpListener, TcpStream};

const CONNECTIONS: [usize; 2] = [1, 32];

/// Base volumes snapshot creation rotates over (500 copies each at most).
const BASES: u64 = 2048;

/// Snapshots created between two resets of the array: volume ids are 1..=65,535 per array
/// (WSAPI), so a long run resets the model (`POST /sim/v1/reset`) and recreates the bases,
/// outside the measured time.
const SNAPSHOTS_PER_RESET: u64 = 60_000 - BASES;

/// What one request does.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Bare,
    BarePost,
    GetVolume,
    CreateSnapshot,
}

struct Target {
    addr: SocketAddr,
    key: String,
    counter: Arc<AtomicU64>,
}

/// Snapshots created since the last reset of the WSAPI array.
static CREATED: AtomicU64 = AtomicU64::new(0);

async fn bare_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request: Request<hyper::body::Incoming>| async {
                    // Read the body as the WSAPI does, so POST baselines compare like with like.
                    let _ = request.into_body().collect().await;
                    let body = serde_json::to_vec(&serde_json::json!({"hello": "world"})).unwrap();
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("Content-Type", "application/json")
                            .header("Server", "bare")
                            .body(Full::new(Bytes::from(body)))
                            .unwrap(),
                    )
                });
                // The same adapter as the WSAPI listener (see `simulator::wsapi::self_wake`): without
                // it hyper's body channel makes every POST yield its connection task to another
                // worker in about half of the processes, and the baseline measures that instead.
                let connection =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let _ = AbsorbSelfWakes::new(connection).await;
            });
        }
    });
    addr
}

/// Creates CPG `C` and the base volumes `B`, `B1`, … on the WSAPI array.
async fn populate(addr: SocketAddr, key: &str) {
    let mut sender = connect(addr).await;
    let cpg = serde_json::json!({"name": "C"}).to_string();
    assert_eq!(send(&mut sender, "POST", "/api/v1/cpgs", Some(cpg), Some(key)).await.0, 201);
    for base in 0..BASES {
        let name = if base == 0 { "B".to_owned() } else { format!("B{base}") };
        let body = serde_json::json!({"name": name, "cpg": "C", "sizeMiB": 1024, "tpvv": true, "snapCPG": "C"});
        assert_eq!(send(&mut sender, "POST", "/api/v1/volumes", Some(body.to_string()), Some(key)).await.0, 201);
    }
}

/// Resets the WSAPI array and recreates the bases when `coming` more snapshots would run out of
/// volume ids.
async fn make_room(target: &Target, coming: u64) {
    if CREATED.load(Ordering::Relaxed) + coming <= SNAPSHOTS_PER_RESET {
        return;
    }
    let mut sender = connect(target.addr).await;
    assert_eq!(send(&mut sender, "POST", "/sim/v1/reset", None, Some(&target.key)).await.0, 200);
    populate(target.addr, &target.key).await;
    CREATED.store(0, Ordering::Relaxed);
}

async fn wsapi_server() -> (Server, String) {
    let mut config = ArrayConfig::primary();
    // Snapshot creation runs a few hundred thousand times: it rotates over BASES volumes (keeping
    // the default 500 copies per base) and the per-array volume count limit is lifted.
    config.limits.max_volumes = u32::MAX;
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let server_config = ServerConfig {
        arrays: vec![ArrayListener { config, listen }],
        clock_mode: ClockMode::Manual,
        ..ServerConfig::default()
    };
    let server = Server::start(server_config).await.unwrap();
    let addr = server.local_addr(0);
    let mut sender = connect(addr).await;
    let login = serde_json::json!({"user": "3paradm", "password": "3pardata"}).to_string();
    let (_, body) = send(&mut sender, "POST", "/api/v1/credentials", Some(login), None).await;
    let key = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["key"].as_str().unwrap().to_owned();
    populate(addr, &key).await;
    CREATED.store(0, Ordering::Relaxed);
    (server, key)
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    sender
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    method: &str,
    path: &str,
    body: Option<String>,
    key: Option<&str>,
) -> (u16, Bytes) {
    sender.ready().await.unwrap();
    let mut request = Request::builder().method(method).uri(path).header("Host", "bench");
    if let Some(key) = key {
        request = request.header("X-Hp3Par-Wsapi-Sessionkey", key);
    }
    if body.is_some() {
        request = request.header("Content-Type", "application/json");
    }
    let request = request.body(Full::new(Bytes::from(body.unwrap_or_default()))).unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

/// Sends one request. The bare server gets exactly the request its WSAPI counterpart gets (same
/// path, session header and body, built by the same client code), so the comparison measures
/// the servers alone: `bare_hello` the `get_volume` GET, `bare_post` the `create_snapshot` POST.
async fn one(sender: &mut SendRequest<Full<Bytes>>, kind: Kind, target: &Target) {
    let (status, _) = match kind {
        Kind::Bare | Kind::GetVolume => send(sender, "GET", "/api/v1/volumes/B", None, Some(&target.key)).await,
        Kind::BarePost | Kind::CreateSnapshot => {
            let n = target.counter.fetch_add(1, Ordering::Relaxed);
            let base = n % BASES;
            let path = if base == 0 { "/api/v1/volumes/B".to_owned() } else { format!("/api/v1/volumes/B{base}") };
            let body = format!(r#"{{"action":"createSnapshot","parameters":{{"name":"s{n}","readOnly":true}}}}"#);
            send(sender, "POST", &path, Some(body), Some(&target.key)).await
        }
    };
    assert!(status < 300, "{kind:?} answered {status}");
}

/// Sends `total` requests over `connections` keep-alive connections; returns the time spent
/// sending and each latency. Snapshot runs go in chunks, with resets in between (not timed).
async fn drive(target: Arc<Target>, kind: Kind, connections: usize, total: u64) -> (Duration, Vec<Duration>) {
    if !matches!(kind, Kind::CreateSnapshot) {
        return drive_chunk(target, kind, connections, total).await;
    }
    let (mut elapsed, mut latencies) = (Duration::ZERO, Vec::new());
    let mut left = total;
    while left > 0 {
        let chunk = left.min(SNAPSHOTS_PER_RESET / 2);
        make_room(&target, chunk).await;
        let (time, mut more) = drive_chunk(target.clone(), kind, connections, chunk).await;
        CREATED.fetch_add(chunk, Ordering::Relaxed);
        elapsed += time;
        latencies.append(&mut more);
        left -= chunk;
    }
    (elapsed, latencies)
}

async fn drive_chunk(target: Arc<Target>, kind: Kind, connections: usize, total: u64) -> (Duration, Vec<Duration>) {
    let mut senders = Vec::new();
    for _ in 0..connections {
        senders.push(connect(target.addr).await);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (index, mut sender) in senders.into_iter().enumerate() {
        let share = total / connections as u64 + u64::from((index as u64) < total % connections as u64);
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share as usize);
            for _ in 0..share {
                let sent = Instant::now();
                one(&mut sender, kind, &target).await;
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    (start.elapsed(), latencies)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn targets(rt: &tokio::runtime::Runtime) -> (Server, Arc<Target>, Arc<Target>) {
    rt.block_on(async {
        let bare = bare_server().await;
        let (server, key) = wsapi_server().await;
        let wsapi = server.local_addr(0);
        let counter = Arc::new(AtomicU64::new(0));
        // The bare server ignores the session key; it gets the same one so its requests are the
        // WSAPI's byte for byte.
        let bare = Arc::new(Target { addr: bare, key: key.clone(), counter: counter.clone() });
        let wsapi = Arc::new(Target { addr: wsapi, key, counter });
        (server, bare, wsapi)
    })
}

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let (server, bare, wsapi) = targets(&rt);
    let mut group = c.benchmark_group("wsapi");
    group.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));
    for connections in CONNECTIONS {
        for (name, kind, target) in [
            ("bare_hello", Kind::Bare, &bare),
            ("bare_post", Kind::BarePost, &bare),
            ("get_volume", Kind::GetVolume, &wsapi),
            ("create_snapshot", Kind::CreateSnapshot, &wsapi),
        ] {
            group.bench_with_input(BenchmarkId::new(name, connections), &connections, |b, &connections| {
                b.iter_custom(|iters| rt.block_on(drive(target.clone(), kind, connections, iters)).0);
            });
        }
    }
    group.finish();
    rt.block_on(server.shutdown());
}

/// Rounds of the latency pass; each round runs every case for about `ROUND_MILLIS`.
const ROUNDS: usize = 10;
const ROUND_MILLIS: f64 = 200.0;

/// A fixed-length pass (2 s per case) printing requests/s, the ratio to the bare server and
/// p50/p99. The cases are interleaved (ten rounds of 200 ms per case) so that the load other
/// processes put on this shared machine falls on the bare and the WSAPI cases alike.
fn latency_report() {
    let rt = runtime();
    let (server, bare, wsapi) = targets(&rt);
    let only = std::env::var("WSAPI_BENCH_ONLY").ok();
    println!("\nWSAPI latency pass (2 s per case in {ROUNDS} interleaved rounds, loopback, same process):");
    let cases = [
        ("bare_hello", Kind::Bare, &bare),
        ("bare_post", Kind::BarePost, &bare),
        ("get_volume", Kind::GetVolume, &wsapi),
        ("create_snapshot", Kind::CreateSnapshot, &wsapi),
    ];
    for connections in CONNECTIONS {
        // Calibrate: a short run sizes each case's round.
        let skipped = |name: &str| only.as_deref().is_some_and(|o| !name.starts_with(o) && !name.starts_with("bare"));
        let per_round: Vec<u64> = cases
            .iter()
            .map(|(name, kind, target)| {
                if skipped(name) {
                    return 0;
                }
                let (elapsed, _) = rt.block_on(drive((*target).clone(), *kind, connections, 2000));
                ((2000.0 / elapsed.as_secs_f64()) * ROUND_MILLIS / 1000.0).max(50.0) as u64
            })
            .collect();
        let mut elapsed = vec![Duration::ZERO; cases.len()];
        let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
        for _ in 0..ROUNDS {
            for (index, (name, kind, target)) in cases.iter().enumerate() {
                if skipped(name) {
                    continue;
                }
                let (time, mut more) = rt.block_on(drive((*target).clone(), *kind, connections, per_round[index]));
                elapsed[index] += time;
                latencies[index].append(&mut more);
            }
        }
        let rps: Vec<f64> = (0..cases.len())
            .map(|i| latencies[i].len() as f64 / elapsed[i].as_secs_f64().max(f64::MIN_POSITIVE))
            .collect();
        for (index, (name, kind, _)) in cases.iter().enumerate() {
            if latencies[index].is_empty() {
                continue;
            }
            latencies[index].sort();
            // GETs compare with the bare GET, POSTs with the bare POST of a same-size body.
            let (baseline, against) = match kind {
                Kind::Bare | Kind::GetVolume => (rps[0], "bare_hello"),
                Kind::BarePost | Kind::CreateSnapshot => (rps[1], "bare_post"),
            };
            let sorted = &latencies[index];
            let p50 = sorted[sorted.len() / 2];
            let p99 = sorted[sorted.len() * 99 / 100];
            println!(
                "{name:>16}/{connections:<2} {:>9.0} req/s  {:>5.1}% of {against:<10}  p50 {:>7.1} us  p99 {:>7.1} us",
                rps[index],
                100.0 * rps[index] / baseline,
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
        }
    }
    rt.block_on(server.shutdown());
}

criterion_group!(benches, throughput);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    latency_report();
}
