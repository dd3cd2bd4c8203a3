//! Resident memory of a 1 TiB thin volume with 1 GiB written (issue 2 memory target: ≤ 1.2 GiB).
//!
//! Run: `cargo run --release --example thin_memory`.
//! Method: read `VmRSS` (resident now) and `VmHWM` (resident peak) from `/proc/self/status`
//! before building the simulation and after writing 1 GiB of pseudo-random data in 1 MiB writes
//! to a thin volume of 1 TiB; the whole process is measured (binary, allocator, model, the one
//! reused 1 MiB write buffer). Exits with status 1 if either figure exceeds 1.2 GiB.
//! Linux only (it reads procfs); this is an I/O edge, not part of the model.

use simulator::{CpgSpec, Simulation, VolumeSpec};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const LIMIT: u64 = GIB + GIB / 5;

/// `VmRSS` and `VmHWM` of this process, in bytes.
fn resident() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("this measurement needs Linux procfs");
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in status"));
        let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number of kB");
        kib * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn main() {
    let (rss_before, _) = resident();
    let mut sim = Simulation::new(1);
    let a = sim.primary();
    sim.array_mut(a).create_cpg(CpgSpec { name: "cpg".into(), ..CpgSpec::default() }).unwrap();
    sim.array_mut(a).create_volume(VolumeSpec::thin("big", "cpg", 1024 * 1024)).unwrap();
    let mut chunk = vec![0u8; MIB as usize];
    // Spread the 1 GiB over the whole 1 TiB: 1 MiB at the start of every 1 GiB.
    for i in 0..1024u64 {
        sim.prng().fill(&mut chunk);
        sim.write(a, "big", i * GIB, &chunk).unwrap();
    }
    let volume = sim.array(a).volume("big").unwrap();
    assert_eq!(volume.size_bytes(), 1 << 40);
    let written = volume.pages().page_count() * simulator::PAGE_SIZE as u64;
    assert_eq!(written, GIB);
    let (rss, hwm) = resident();
    println!("volume: 1 TiB thin, {:.0} MiB written in 1 MiB writes", mib(written));
    println!("VmRSS before: {:.1} MiB", mib(rss_before));
    println!("VmRSS after:  {:.1} MiB ({:.3} GiB)", mib(rss), rss as f64 / GIB as f64);
    println!("VmHWM (peak): {:.1} MiB ({:.3} GiB)", mib(hwm), hwm as f64 / GIB as f64);
    println!("overhead over the data: {:.1} MiB", mib(rss.saturating_sub(written)));
    if rss.max(hwm) > LIMIT {
        println!("FAIL: more than 1.2 GiB resident");
        std::process::exit(1);
    }
    println!("ok: at most 1.2 GiB resident");
}
