//! The fixtures of WSAPI spec §17 that are model objects: CPG `UserCPG` in domain
//! `UNIT_TEST_DOMAIN` on every array (the domain itself, the ports, the licences and a finished
//! system task come with every [`crate::ArrayConfig`]; users are server configuration).

use crate::{CpgSpec, Simulation};

/// Name of the fixture CPG the client's tune test expects.
pub const USER_CPG: &str = "UserCPG";

/// Domain of the fixture CPG.
pub const TEST_DOMAIN: &str = "UNIT_TEST_DOMAIN";

/// Adds the fixtures to every array that has the test domain and lacks the CPG.
pub fn apply_fixtures(sim: &mut Simulation) {
    let ids: Vec<_> = sim.array_ids().collect();
    for id in ids {
        let array = sim.array(id);
        // An offline array (a preloaded scenario may leave one crashed) gets none: it refuses
        // every operation, and the fixtures are a convenience, not part of the model.
        if !array.is_online() || !array.has_domain(TEST_DOMAIN) || array.cpg(USER_CPG).is_ok() {
            continue;
        }
        let spec = CpgSpec { name: USER_CPG.to_owned(), domain: Some(TEST_DOMAIN.to_owned()), ..CpgSpec::default() };
        // Cannot fail: the name is valid, the domain exists and the CPG does not.
        let created = sim.array_mut(id).create_cpg(spec);
        assert!(created.is_ok(), "fixture CPG: {created:?}");
    }
}
