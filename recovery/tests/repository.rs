//! The backup servers' repository: atomic replace, crash points, idempotence (spec §7.8
//! invariant 42), and a child process killed with SIGKILL in a loop of commits.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use recovery::repository::{
    Applied, BackupKind, CommitPoint, CopyRecord, Entry, EntryKey, EntryState, MemoryDisk, MountRecord, PolicyFields,
    REPOSITORY_FILE, RemoteCopyMode, Repository, RepositoryError, Site, TEMP_PREFIX, VolumeRole,
};

use crate::common::proptest_config;

fn entry(n: u32) -> Entry {
    let backup_id = format!("2026010100{:04}", n);
    Entry {
        key: EntryKey { server: "MBX01".into(), database: "DB1".into(), backup_id: backup_id.as_str().into() },
        state: EntryState::Complete,
        snapshot_set_id: format!("00000000-0000-0000-0000-{n:012x}"),
        created_at_unix_secs: 1_767_225_600 + i64::from(n),
        created_at_nanos: u64::from(n) * 1_000_000_000,
        vss_window: None,
        integrity_checked: true,
        backup_kind: BackupKind::Full,
        mode: RemoteCopyMode::None,
        site: Site::Local,
        copies: vec![
            CopyRecord {
                array: "SIM-A".into(),
                role: VolumeRole::Database,
                source_volume: "db1".into(),
                copy_volume: format!("db1.{n}").into(),
            },
            CopyRecord {
                array: "SIM-A".into(),
                role: VolumeRole::Log,
                source_volume: "db1.log".into(),
                copy_volume: format!("db1.log.{n}").into(),
            },
        ],
        retained_on_primary: Vec::new(),
        policy: PolicyFields { expiration_hours: Some(24), retention_hours: None },
        mounted: None,
    }
}

/// Serialises the repository tests: a child spawned by the SIGKILL test briefly inherits (until
/// it execs) the lock file descriptors of repositories open in other threads, which would make a
/// concurrent reopen see the directory as locked.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn open(dir: &Path) -> Repository {
    Repository::open(dir, "BKP-A", Site::Local).unwrap()
}

fn stray_temp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(TEMP_PREFIX))
        .count()
}

#[test]
fn entries_survive_reopen_and_operations_are_idempotent() {
    let _serial = serial();
    // Goal: invariant 42: adding or removing twice changes nothing the second time; what was
    // committed is what a reopen loads. Method: operate, retry, reopen, compare.
    let dir = tempfile::tempdir().unwrap();
    let mut repository = open(dir.path());
    assert_eq!(repository.add(entry(1)).unwrap(), Applied::Committed);
    assert_eq!(repository.add(entry(1)).unwrap(), Applied::AlreadyDone);
    assert_eq!(repository.add(entry(2)).unwrap(), Applied::Committed);
    let mut other = entry(2);
    other.copies.pop();
    assert!(matches!(repository.add(other), Err(RepositoryError::Conflict(_))));
    let key = entry(1).key;
    let mount = MountRecord { host: "bkp-a".into(), array: "SIM-A".into(), exported_volumes: vec!["db1.1".into()] };
    assert_eq!(repository.set_mounted(&key, Some(mount.clone())).unwrap(), Applied::Committed);
    assert_eq!(repository.set_mounted(&key, Some(mount)).unwrap(), Applied::AlreadyDone);
    assert!(matches!(repository.remove(&key), Err(RepositoryError::Mounted(_))), "invariant 38");
    repository.set_mounted(&key, None).unwrap();
    assert_eq!(repository.remove(&key).unwrap(), Applied::Committed);
    assert_eq!(repository.remove(&key).unwrap(), Applied::AlreadyDone);
    let key2 = entry(2).key;
    let policy = PolicyFields { expiration_hours: Some(48), retention_hours: Some(12) };
    assert_eq!(repository.set_policy(&key2, policy).unwrap(), Applied::Committed);
    assert_eq!(repository.set_policy(&key2, policy).unwrap(), Applied::AlreadyDone);
    let retained = entry(2).copies;
    assert_eq!(repository.set_retained_on_primary(&key2, retained.clone()).unwrap(), Applied::Committed);
    assert!(matches!(repository.set_policy(&entry(9).key, policy), Err(RepositoryError::NotFound(_))));
    let generation = repository.generation();
    let entries = repository.entries().clone();
    assert_eq!(entries[&key2].retained_on_primary, retained);
    assert_eq!(entries[&key2].policy, policy);
    assert!(matches!(Repository::open(dir.path(), "BKP-A", Site::Local), Err(RepositoryError::Locked(_))));
    drop(repository);
    let reopened = open(dir.path());
    assert_eq!(reopened.entries(), &entries);
    assert_eq!(reopened.generation(), generation);
    assert_eq!(entries.len(), 1);
}

#[test]
fn a_crash_at_each_commit_point_leaves_the_last_committed_state() {
    let _serial = serial();
    // Goal: stopping the engine at each commit point and reloading gives the previous state
    // before the rename and the new one after it, never a torn file; a failed commit poisons
    // the handle; stray temporary files are ignored and removed. Method: crash hook per point.
    for point in CommitPoint::ALL {
        let dir = tempfile::tempdir().unwrap();
        let mut repository = open(dir.path());
        repository.add(entry(1)).unwrap();
        repository.crash_at(Some(point));
        let error = repository.add(entry(2)).unwrap_err();
        assert!(matches!(error, RepositoryError::InjectedCrash(p) if p == point));
        assert!(matches!(repository.add(entry(3)), Err(RepositoryError::Poisoned)));
        drop(repository);
        let strays = stray_temp_files(dir.path());
        assert_eq!(strays, usize::from(!point.new_state_visible()), "{point:?}");
        let reopened = open(dir.path());
        let expected: Vec<u32> = if point.new_state_visible() { vec![1, 2] } else { vec![1] };
        let keys: Vec<EntryKey> = expected.iter().map(|n| entry(*n).key).collect();
        assert_eq!(reopened.entries().keys().cloned().collect::<Vec<_>>(), keys, "{point:?}");
        assert_eq!(stray_temp_files(dir.path()), 0);
        assert_eq!(reopened.stats().stray_temp_files_removed, strays as u64);
    }
}

#[test]
fn foreign_and_damaged_files_are_refused() {
    let _serial = serial();
    // Goal: a directory holding another server's repository, or a damaged file, is refused with
    // a typed error instead of being read as empty.
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).add(entry(1)).unwrap();
    assert!(matches!(Repository::open(dir.path(), "BKP-B", Site::Remote), Err(RepositoryError::WrongServer { .. })));
    let path = dir.path().join(REPOSITORY_FILE);
    let text = std::fs::read_to_string(&path).unwrap().replace("db1.log.1", "db1.log.X");
    std::fs::write(&path, text).unwrap();
    assert!(matches!(Repository::open(dir.path(), "BKP-A", Site::Local), Err(RepositoryError::Corrupt { .. })));
    std::fs::write(&path, b"{\"format\": ").unwrap();
    assert!(matches!(Repository::open(dir.path(), "BKP-A", Site::Local), Err(RepositoryError::Corrupt { .. })));
}

#[derive(Debug, Clone)]
enum Op {
    Add(u32),
    Remove(u32),
    Mount(u32),
    Unmount(u32),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u32..6).prop_map(Op::Add),
        2 => (0u32..6).prop_map(Op::Remove),
        1 => (0u32..6).prop_map(Op::Mount),
        1 => (0u32..6).prop_map(Op::Unmount),
    ]
}

/// Runs `op` on `repository`.
fn apply(repository: &mut Repository, op: &Op) -> Result<Applied, RepositoryError> {
    let key = |n: &u32| entry(*n).key;
    match op {
        Op::Add(n) => repository.add(entry(*n)),
        Op::Remove(n) => repository.remove(&key(n)),
        Op::Mount(n) => repository.set_mounted(
            &key(n),
            Some(MountRecord { host: "bkp".into(), array: "SIM-A".into(), exported_volumes: Vec::new() }),
        ),
        Op::Unmount(n) => repository.set_mounted(&key(n), None),
    }
}

/// The reference: applies `op` to the model; `None` when the repository must refuse it.
fn reference_apply(model: &BTreeMap<EntryKey, Entry>, op: &Op) -> Option<BTreeMap<EntryKey, Entry>> {
    let mut next = model.clone();
    let mount = MountRecord { host: "bkp".into(), array: "SIM-A".into(), exported_volumes: Vec::new() };
    match op {
        Op::Add(n) => match next.get(&entry(*n).key) {
            // Same key, other content (it was mounted since): a conflict, not a retry.
            Some(existing) if *existing != entry(*n) => return None,
            _ => {
                next.insert(entry(*n).key, entry(*n));
            }
        },
        Op::Remove(n) => match next.get(&entry(*n).key) {
            Some(e) if e.mounted.is_some() => return None,
            _ => {
                next.remove(&entry(*n).key);
            }
        },
        Op::Mount(n) | Op::Unmount(n) => {
            let e = next.get_mut(&entry(*n).key)?;
            e.mounted = matches!(op, Op::Mount(_)).then_some(mount);
        }
    }
    Some(next)
}

proptest! {
    #![proptest_config(proptest_config(32, "tests/proptest-regressions/repository.txt"))]

    /// Goal: invariant 42: after any sequence of operations with crashes injected at random
    /// commit points, reloading gives exactly the last committed state (no lost, no duplicate
    /// entry). Method: run each op against the repository and a reference map; on an injected
    /// crash, reopen and compare with the state the commit point implies.
    #[test]
    fn reload_equals_last_committed_state(
        steps in prop::collection::vec((op_strategy(), prop::option::weighted(0.3, 0usize..4)), 1..30)
    ) {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let mut repository = open(dir.path());
        let mut model: BTreeMap<EntryKey, Entry> = BTreeMap::new();
        for (op, crash) in steps {
            let point = crash.map(|i| CommitPoint::ALL[i]);
            repository.crash_at(point);
            let result = apply(&mut repository, &op);
            let next = reference_apply(&model, &op);
            match (result, next) {
                (Ok(applied), Some(next)) => {
                    prop_assert_eq!(applied == Applied::AlreadyDone, next == model);
                    model = next;
                }
                (Err(RepositoryError::InjectedCrash(p)), Some(next)) => {
                    drop(repository);
                    repository = open(dir.path());
                    if p.new_state_visible() {
                        model = next;
                    }
                }
                (Err(RepositoryError::Mounted(_) | RepositoryError::NotFound(_) | RepositoryError::Conflict(_)), None) => {}
                (result, next) => prop_assert!(false, "{:?}: {:?} vs reference {:?}", op, result, next.is_some()),
            }
            prop_assert_eq!(&plain(repository.entries()), &model);
        }
        drop(repository);
        let reopened = open(dir.path());
        prop_assert_eq!(&plain(reopened.entries()), &model);
    }
}

proptest! {
    #![proptest_config(proptest_config(32, "tests/proptest-regressions/repository_memory.txt"))]

    /// Goal: an in-memory repository behaves as the reference too, with and without crash
    /// points (without one it changes its catalogue in place instead of copying it), and a
    /// refused or already-done operation changes neither the entries nor the generation.
    /// Method: as above on a `MemoryDisk`, reopening after each crash; the generation must count
    /// exactly the committed operations and equal the reopened handle's.
    #[test]
    fn memory_repository_equals_reference(
        steps in prop::collection::vec((op_strategy(), prop::option::weighted(0.2, 0usize..4)), 1..30)
    ) {
        let disk = MemoryDisk::new();
        let open = || Repository::open_memory(&disk, "BKP-A", Site::Local).unwrap();
        let mut repository = open();
        let mut model: BTreeMap<EntryKey, Entry> = BTreeMap::new();
        for (op, crash) in steps {
            let point = crash.map(|i| CommitPoint::ALL[i]);
            repository.crash_at(point);
            let before = repository.generation();
            let result = apply(&mut repository, &op);
            let next = reference_apply(&model, &op);
            match (result, next) {
                (Ok(applied), Some(next)) => {
                    prop_assert_eq!(applied == Applied::AlreadyDone, next == model);
                    prop_assert_eq!(repository.generation(), before + u64::from(applied == Applied::Committed));
                    model = next;
                }
                (Err(RepositoryError::InjectedCrash(p)), Some(next)) => {
                    drop(repository);
                    repository = open();
                    if p.new_state_visible() {
                        model = next;
                    }
                }
                (Err(RepositoryError::Mounted(_) | RepositoryError::NotFound(_) | RepositoryError::Conflict(_)), None) => {
                    prop_assert_eq!(repository.generation(), before);
                }
                (result, next) => prop_assert!(false, "{:?}: {:?} vs reference {:?}", op, result, next.is_some()),
            }
            prop_assert_eq!(&plain(repository.entries()), &model);
        }
        let generation = repository.generation();
        drop(repository);
        let reopened = open();
        prop_assert_eq!(reopened.generation(), generation);
        prop_assert_eq!(&plain(reopened.entries()), &model);
    }
}

/// Set in the child process: the repository directory it commits to.
const CHILD_DIR_VAR: &str = "RECOVERY_REPOSITORY_CHILD_DIR";
/// Bound on the child's commits, so an orphaned child ends by itself.
const CHILD_MAX_COMMITS: u32 = 100_000;

/// Not a test on its own: the body the SIGKILL test runs in a child process (this same test
/// binary, re-executed with `CHILD_DIR_VAR` set). Without the variable it returns at once.
#[test]
fn repository_child_process() {
    let Ok(dir) = std::env::var(CHILD_DIR_VAR) else { return };
    let mut repository = Repository::open(Path::new(&dir), "BKP-A", Site::Local).unwrap();
    let start = repository.entries().keys().filter_map(|k| k.backup_id.parse::<u64>().ok()).max().map_or(0, |m| m + 1);
    // A predecessor killed between an add and its removal left one entry below the window;
    // remove it now, or it would stay forever (this loop only removes `n - 20`) and the next
    // such kill would leave a hole in the kept entries, which the parent rightly rejects.
    let leftovers: Vec<EntryKey> = repository
        .entries()
        .keys()
        .filter(|key| key.backup_id.parse::<u64>().is_ok_and(|id| id + 20 < start))
        .cloned()
        .collect();
    for key in leftovers {
        repository.remove(&key).unwrap();
    }
    for i in 0..CHILD_MAX_COMMITS {
        let n = start + u64::from(i);
        let mut e = entry(0);
        e.key.backup_id = n.to_string().into();
        repository.add(e).unwrap();
        // Removing old entries too keeps the file small and exercises both operations.
        if n >= 20 {
            let mut old = entry(0).key;
            old.backup_id = (n - 20).to_string().into();
            repository.remove(&old).unwrap();
        }
        // Reported only once the commit (and the removal) returned: these must survive a kill.
        println!("committed {n}");
    }
}

#[test]
fn sigkill_in_a_loop_of_commits_loses_nothing_committed() {
    let _serial = serial();
    // Goal: a backup server killed (SIGKILL) at arbitrary points of its commits never loses a
    // reported commit and never leaves a torn file. Method: re-execute this test binary as a
    // child that commits in a loop and reports each commit on stdout; kill it after a varying
    // number of reports; reopen and check every reported entry (of the last 20) is present.
    // The first child starts from a directory left by a kill between an add and its removal.
    let dir = tempfile::tempdir().unwrap();
    // Start as a child killed between its add of 20 and its removal of 0 would have left the
    // directory: 21 entries, one below the window, which the next child must clean up.
    {
        let mut repository = open(dir.path());
        for n in 0..=20u64 {
            let mut e = entry(0);
            e.key.backup_id = n.to_string().into();
            repository.add(e).unwrap();
        }
    }
    let exe = std::env::current_exe().unwrap();
    for round in 0..12u64 {
        let mut child = Command::new(&exe)
            .args(["repository::repository_child_process", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reported = Vec::new();
        let wanted = 5 + round * 7;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("committed ") {
                reported.push(n.parse::<u64>().unwrap());
                if reported.len() as u64 >= wanted {
                    break;
                }
            }
        }
        // Child::kill sends SIGKILL on Unix: no destructor, no flush, mid-commit or not.
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!reported.is_empty(), "round {round}: the child reported no commit");
        let repository = open(dir.path());
        let mut present: Vec<u64> = repository.entries().keys().map(|k| k.backup_id.parse().unwrap()).collect();
        present.sort_unstable();
        // The child may have run ahead of the last report the parent read (its output waits in
        // the pipe) before the kill: it then also removed, legitimately, entries below its own
        // newest minus 20. What it can never do is lose a commit it made: the newest entry is at
        // least the last reported one, every reported entry it could not yet have removed is
        // there, and the entries form one unbroken run ending at the newest.
        let last = *reported.last().unwrap();
        let top = *present.iter().max().unwrap_or_else(|| panic!("round {round}: every entry lost"));
        assert!(top >= last, "round {round}: committed {last} lost; present {present:?}");
        for n in reported.iter().filter(|n| **n + 20 > top) {
            assert!(present.contains(n), "round {round}: committed {n} lost; present {present:?}");
        }
        let oldest = present[0];
        assert_eq!(present, (oldest..=top).collect::<Vec<_>>(), "round {round}: a hole in the kept entries");
        assert!(present.len() <= 21, "round {round}: at most one unreported commit beyond the window");
    }
}

/// The catalogue's entries as values, to compare with a model that holds them by value.
fn plain(entries: &recovery::repository::Catalogue) -> BTreeMap<EntryKey, Entry> {
    entries.iter().map(|(key, entry)| (key.clone(), (**entry).clone())).collect()
}

proptest! {
    #![proptest_config(proptest_config(64, "tests/proptest-regressions/repository_entries_of.txt"))]

    /// Goal: `entries_of` (a range of the catalogue) lists exactly the entries of one server and
    /// database, oldest backup id first, whatever else the catalogue holds: names that are
    /// prefixes of each other, differ in case, or sort between the two fields.
    /// Method: random keys over such names in a memory repository; each query is compared with
    /// a filter over all entries.
    #[test]
    fn entries_of_lists_exactly_one_database(
        keys in prop::collection::btree_set((0usize..5, 0usize..5, 0u32..6), 0..40),
        server in 0usize..5,
        database in 0usize..5,
    ) {
        const SERVERS: [&str; 5] = ["MBX", "MBX0", "MBX01", "mbx01", "MBX01-very-long-registered-name"];
        const DATABASES: [&str; 5] = ["", "DB", "DB1", "DB10", "DB1 "];
        let disk = MemoryDisk::new();
        let mut repository = Repository::open_memory(&disk, "BKP-A", Site::Local).unwrap();
        for &(s, d, n) in &keys {
            let mut e = entry(n);
            e.key.server = SERVERS[s].into();
            e.key.database = DATABASES[d].into();
            repository.add(e).unwrap();
        }
        let (server, database) = (SERVERS[server], DATABASES[database]);
        let listed: Vec<&EntryKey> = repository.entries_of(server, database).map(|e| &e.key).collect();
        let expected: Vec<&EntryKey> = repository
            .entries()
            .keys()
            .filter(|k| k.server == server && k.database == database)
            .collect();
        prop_assert_eq!(listed, expected);
    }
}

proptest! {
    #![proptest_config(proptest_config(256, "tests/proptest-regressions/repository_backup_id.txt"))]

    /// Goal: a backup id is the calendar time of its instant as `YYYYMMDDhhmmss`, exactly as
    /// `format!` writes the six padded fields (`backup_id_at` writes the digits itself), for any
    /// epoch and instant: years of one to four digits, and a year before 0 with its sign.
    /// Method: random epochs across the calendar's whole range and random instants; each id is
    /// compared with the `format!` of `Simulation::calendar` at that instant.
    #[test]
    fn a_backup_id_is_the_padded_calendar_time(
        epoch in prop_oneof![
            -377_705_116_800i64..253_402_300_000,
            -62_200_000_000i64..-62_000_000_000,
            1_700_000_000i64..1_900_000_000,
        ],
        secs in prop_oneof![0u64..100_000, 0u64..10_000_000_000],
    ) {
        let sim = simulator::Simulation::builder().epoch_unix_secs(epoch).build().unwrap();
        let at = simulator::Instant::from_secs(secs);
        let t = sim.calendar(at);
        let expected =
            format!("{:04}{:02}{:02}{:02}{:02}{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second());
        let id = recovery::repository::backup_id_at(&sim, at);
        prop_assert_eq!(id.as_str(), expected.as_str());
    }
}
