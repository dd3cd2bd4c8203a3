fn main() {
    let path = std::env::args().nth(1).unwrap();
    let scenario = harness::scenario::load(std::path::Path::new(&path)).unwrap();
    let (_report, world) = harness::runner::run_keeping_world(&scenario, Default::default()).unwrap();
    for line in world.sim.trace().lines() {
        println!("{line}");
    }
}
