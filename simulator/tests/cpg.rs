//! CPG modification ([`simulator::ArrayMut::modify_cpg`]): every setting at once, removals, and a
//! rename the CPG's volumes follow. Refusals are in `errors` and `remote_copy::refusals`.

use simulator::{CpgChanges, CpgSpec, ErrorCode, LdLayout};

use crate::support::{CPG, thin, world};

// Goal: a modify applies every change it carries, records one trace line, and a rename keeps
// the CPG's id, so its volumes keep it as user and snapshot CPG under the new name and the old
// name is free again; the removals clear what the settings set; `set_cpg_growth_limit` is a
// modify of the growth limit. Method: modify the fixture CPG of a volume, read the model back.
#[test]
fn a_modify_applies_every_change_and_a_rename_keeps_the_volumes() {
    let (mut sim, a) = world();
    thin(&mut sim, a, "v");
    let id = sim.array(a).cpg(CPG).unwrap().id;
    let layout = LdLayout {
        raid_type: Some(3),
        set_size: Some(4),
        ha: Some(2),
        chunklet_pos_pref: Some(1),
        disk_types: vec![None],
    };
    let changes = CpgChanges {
        new_name: Some("renamed".into()),
        growth_increment_mib: Some(1024),
        growth_limit_mib: Some(4096),
        used_ld_warning_alert_mib: Some(2048),
        ld_layout: Some(layout.clone()),
        ..CpgChanges::default()
    };
    sim.array_mut(a).modify_cpg(CPG, changes).unwrap();
    let cpg = sim.array(a).cpg("renamed").unwrap();
    assert_eq!(
        (cpg.id, cpg.growth_increment_mib, cpg.growth_limit_mib, cpg.used_ld_warning_alert_mib, &cpg.ld_layout),
        (id, 1024, Some(4096), Some(2048), &layout)
    );
    assert_eq!(sim.array(a).cpg(CPG).unwrap_err().code, ErrorCode::NON_EXISTENT_CPG);
    let volume = sim.array(a).volume("v").unwrap();
    assert_eq!((volume.user_cpg(), volume.snap_cpg()), (Some(id), Some(id)));
    let line = sim.trace().lines().last().unwrap();
    assert_eq!(
        (line.kind, line.text.as_str()),
        (
            "cpg",
            "SIM-A: modify cpg FC_r6 -> renamed: growth increment 1024 MiB, growth limit 4096 MiB, used-LD warning \
             2048 MiB, layout LdLayout { raid_type: Some(3), set_size: Some(4), ha: Some(2), chunklet_pos_pref: \
             Some(1), disk_types: [None] }"
        )
    );
    let fresh = sim.array_mut(a).create_cpg(CpgSpec { name: CPG.into(), ..CpgSpec::default() }).unwrap();
    assert_ne!(fresh, id);

    let removals = CpgChanges {
        disable_auto_grow: true,
        remove_growth_limit: true,
        remove_warning_alert: true,
        ..CpgChanges::default()
    };
    sim.array_mut(a).modify_cpg("renamed", removals).unwrap();
    let cpg = sim.array(a).cpg("renamed").unwrap();
    assert_eq!(
        (cpg.growth_increment_mib, cpg.growth_limit_mib, cpg.used_ld_warning_alert_mib, &cpg.ld_layout),
        (0, None, None, &layout)
    );
    sim.array_mut(a).set_cpg_growth_limit("renamed", Some(7)).unwrap();
    assert_eq!(sim.array(a).cpg("renamed").unwrap().growth_limit_mib, Some(7));
    let unchanged = sim.array(a).cpg("renamed").unwrap().clone();
    sim.array_mut(a).modify_cpg("renamed", CpgChanges::default()).unwrap();
    assert_eq!(sim.array(a).cpg("renamed").unwrap(), &unchanged);
    assert!(simulator::invariants::check_all(&sim).is_empty());
}
