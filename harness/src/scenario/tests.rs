use super::*;

const SETUP: &str = r#"
[scenario]
name = "t"

[[cpg]]
array = "SIM-A"
name = "FC"

[[cpg]]
array = "SIM-B"
name = "FC"

[exchange]
server = "MBX01"

[[database]]
name = "DB1"
cpg = "FC"

[[rc_group]]
name = "rcg"
mode = "periodic"
databases = ["DB1"]
target_cpg = "FC"

[backup_servers]
local = "BKP-A"
remote = "BKP-B"
"#;

fn error_of(extra: &str) -> ScenarioError {
    parse("f.toml", &format!("{SETUP}{extra}")).unwrap_err()
}

fn line_of(needle: &str, extra: &str) -> usize {
    SETUP.matches('\n').count() + extra[..extra.find(needle).unwrap()].matches('\n').count() + 1
}

// Goal: a valid file loads, with its steps validated in order and the defaults applied.
#[test]
fn a_valid_scenario_loads() {
    let extra = "[[step]]\nwrite = { database = \"DB1\", transactions = 3 }\n[[step]]\nbackup = { database = \"DB1\" }\noutcome = \"ok\"\n";
    let scenario = parse("f.toml", &format!("{SETUP}{extra}")).unwrap();
    assert_eq!(scenario.steps.len(), 2);
    assert_eq!(scenario.steps[0].action, Action::Transactions { database: "DB1".into(), count: 3 });
    assert!(matches!(&scenario.steps[1].action, Action::Backup(plan) if plan.backup_type == BackupType::Full));
    assert_eq!(scenario.steps[1].expectation, Expectation::Ok);
}

// Goal: unknown keys, bad values and dangling names are errors naming the file, the line of the
// key and the key. Method: one bad line appended per case; the expected line is computed from
// the text.
#[test]
fn errors_name_file_line_and_key() {
    let cases = [
        ("[[step]]\nwrite = { database = \"DB1\", transactons = 3 }\n", "transactons", "transactons"),
        ("[[step]]\nbackup = { database = \"DB9\" }\n", "backup", "step[0].backup.database"),
        ("[[step]]\nadvance = \"5 parsecs\"\n", "advance", "advance"),
        ("[[step]]\nadvance = \"5m\"\nsync = { group = \"rcg\" }\n", "advance", "step[0].advance"),
        ("[[fault]]\nkind = \"link_down\"\n", "[[fault]]", "fault[0].at"),
        (
            "[[step]]\nbackup = { database = \"DB1\", fault = { at = \"nowhere\", kind = \"fail\" } }\n",
            "backup",
            "step[0].backup.fault.at",
        ),
        ("[[step]]\nmount = { database = \"DB1\", site = \"moon\" }\n", "mount", "step[0].mount.site"),
        ("[[step]]\n", "[[step]]", "step[0]"),
        ("[bogus]\nx = 1\n", "[bogus]", "bogus"),
    ];
    for (extra, needle, key) in cases {
        let error = error_of(extra);
        assert_eq!(error.file, "f.toml", "{extra}");
        assert_eq!(error.key, key, "{extra}: {error}");
        assert_eq!(error.line, line_of(needle, extra), "{extra}: {error}");
    }
}

// Goal: a scenario written back with `to_toml` loads again to the same steps (replay files).
#[test]
fn written_scenarios_load_back_to_the_same_steps() {
    let extra = "[[fault]]\nkind = \"partition\"\nat = \"90s\"\nduration = \"40s\"\n[[step]]\nbackup = { database = \"DB1\", vss_fault = { at = \"commit_snapshots\", delay = \"11s\" } }\nerror_contains = \"TIMEOUT\"\n[[step]]\nadvance = \"1500ms\"\n";
    let scenario = parse("f.toml", &format!("{SETUP}{extra}")).unwrap();
    let steps: Vec<StepToml> = scenario.steps.iter().map(|s| s.toml.clone()).collect();
    let text = scenario.to_toml(99, &steps);
    let again = parse("again.toml", &text).unwrap();
    assert_eq!(again.seed, 99);
    assert_eq!(again.steps, scenario.steps);
    assert_eq!(again.fault_plan, scenario.fault_plan);
}

/// The setup of the review's repros (`B.toml`), without `[backup_servers]`, so that a case can
/// give its own.
pub(crate) const B_HEAD: &str = r#"[scenario]
name = "x"
seed = 1
[[cpg]]
array = "SIM-A"
name = "C"
[[cpg]]
array = "SIM-B"
name = "C"
[exchange]
server = "MBX"
[[database]]
name = "DB1"
cpg = "C"
[[rc_group]]
name = "g"
mode = "periodic"
databases = ["DB1"]
target_cpg = "C"
"#;

const B_SERVERS: &str = "[backup_servers]\nlocal = \"L\"\nremote = \"R\"\n";

/// Loads `B_HEAD + extra` and returns its error, asserting it names `key` on the line of the
/// first occurrence of `needle` in `extra` (the file, line and key the docs promise).
fn check_load_error(extra: &str, needle: &str, key: &str) -> ScenarioError {
    let text = format!("{B_HEAD}{extra}");
    let error = match parse("f.toml", &text) {
        Ok(_) => panic!("loaded, expected an error on `{key}`:\n{extra}"),
        Err(error) => error,
    };
    let line = B_HEAD.matches('\n').count()
        + extra[..extra.find(needle).unwrap_or_else(|| panic!("no `{needle}` in {extra}"))].matches('\n').count()
        + 1;
    assert_eq!((error.key.as_str(), error.line), (key, line), "{extra}\n{error}");
    assert_eq!(error.file, "f.toml");
    error
}

fn b_loads(extra: &str) -> Scenario {
    parse("f.toml", &format!("{B_HEAD}{extra}")).unwrap_or_else(|e| panic!("{e}\n{extra}"))
}

// Goal: workload values the model cannot run are load-time errors (review finding 1): huge
// update counts allocated gigabytes, and the documented byte maximum overflowed a log generation
// at run time. Method: the repro values, then the largest values that still fit, for both
// layouts.
#[test]
fn a_workload_transaction_must_fit_a_log_generation() {
    let s = B_SERVERS;
    let e =
        check_load_error(&format!("{s}[workload]\nupdates_max = 4294967295\n"), "updates_max", "workload.updates_max");
    assert!(e.message.contains("holds 15872"), "{e}");
    check_load_error(
        &format!("{s}[workload]\nupdates_min = 10000000\nupdates_max = 10000000\n"),
        "updates_max",
        "workload.updates_max",
    );
    check_load_error(
        &format!("{s}[workload]\nbytes_min = 4076\nbytes_max = 4076\n"),
        "bytes_max",
        "workload.bytes_max",
    );
    // The documented byte maximum fits three to a generation: 3 × (16 + 4076) ≤ 15872.
    b_loads(&format!("{s}[workload]\nupdates_max = 3\nbytes_max = 4076\n"));
    // 15872 / (16 + 8) = 661 updates of 8 bytes fit a small layout's generation, 662 do not.
    b_loads(&format!("{s}[workload]\nupdates_max = 661\nbytes_min = 8\nbytes_max = 8\n"));
    check_load_error(
        &format!("{s}[workload]\nupdates_max = 662\nbytes_min = 8\nbytes_max = 8\n"),
        "updates_max",
        "workload.updates_max",
    );
    // A standard layout's 1 MiB generations hold more.
    let standard = B_HEAD.replace("cpg = \"C\"\n[[rc_group]]", "cpg = \"C\"\nlayout = \"standard\"\n[[rc_group]]");
    let text = format!("{standard}{s}[workload]\nupdates_max = 662\nbytes_min = 8\nbytes_max = 8\n");
    parse("f.toml", &text).unwrap_or_else(|e| panic!("{e}"));
}

// Goal: `[links] count` has a documented maximum (review finding 2: 4294967295 aborted on
// allocation); the bandwidth too (its bytes per second overflowed). Method: the bounds and one
// past them.
#[test]
fn links_count_and_bandwidth_are_bounded() {
    let s = B_SERVERS;
    for count in ["0", "9", "100000000", "4294967295"] {
        check_load_error(&format!("{s}[links]\ncount = {count}\n"), "count", "links.count");
    }
    b_loads(&format!("{s}[links]\ncount = {LINKS_MAX}\n"));
    check_load_error(
        &format!("{s}[links]\nbandwidth_mbit_per_sec = 18446744073709551\n"),
        "bandwidth",
        "links.bandwidth_mbit_per_sec",
    );
}

// Goal: advances past the virtual clock's limit are refused at load time (review finding 3:
// the clock saturated and later backups reported false violations). Method: one advance too
// long, two that add up to too long, a planned fault too late; then one that fits.
#[test]
fn advances_past_the_clock_are_refused() {
    let s = B_SERVERS;
    check_load_error(&format!("{s}[[step]]\nadvance = \"2777777h\"\n"), "advance", "step[0].advance");
    let two = format!("{s}[[step]]\nadvance = \"1388888h\"\n[[step]]\nadvance = \"1388889h\"\n");
    let e = check_load_error(&two, "advance = \"1388889h\"", "step[1].advance");
    assert!(e.message.contains("add up to"), "{e}");
    check_load_error(
        &format!("{s}[[fault]]\nkind = \"link_down\"\nat = \"2777777h\"\n[[step]]\nadvance = \"1s\"\n"),
        "at =",
        "fault[0].at",
    );
    b_loads(&format!("{s}[[step]]\nadvance = \"1388888h\"\n"));
}

// Goal: a second `[[policy]]` for a database is refused, not silently replacing the first
// (review finding 5).
#[test]
fn a_database_has_one_policy() {
    let extra = format!(
        "{B_SERVERS}[[policy]]\ndatabase = \"DB1\"\nmax_copies = 2\n[[policy]]\ndatabase = \"DB1\"\nexpiration_hours = 5\n"
    );
    let e = check_load_error(&extra, "database = \"DB1\"\nexpiration", "policy[1].database");
    assert!(e.message.contains("policy[0]"), "{e}");
}

// Goal: keys a step does not take are refused (review finding 6: `wait` on failover and
// rc_stop was accepted and ignored). Method: each, then the steps that do take `wait`.
#[test]
fn wait_belongs_to_steps_that_wait() {
    let s = B_SERVERS;
    check_load_error(
        &format!("{s}[[step]]\nfailover = {{ group = \"g\", wait = false }}\n"),
        "failover",
        "step[0].failover.wait",
    );
    check_load_error(
        &format!("{s}[[step]]\nrc_stop = {{ group = \"g\", wait = true }}\n"),
        "rc_stop",
        "step[0].rc_stop.wait",
    );
    for action in ["recover", "rc_restore", "rc_start"] {
        b_loads(&format!("{s}[[step]]\n{action} = {{ group = \"g\", wait = false }}\n"));
    }
}

// Goal: hosts a step names, or its default host, must be declared (review finding 7: an
// undeclared one failed only at run time, and without `outcome` the run passed). Method: an
// undeclared host, the undeclared defaults, then declared ones and the Exchange server's host.
#[test]
fn hosts_must_be_declared() {
    let s = B_SERVERS;
    let e = check_load_error(
        &format!("{s}[[step]]\nmount = {{ database = \"DB1\", host = \"nohost\" }}\n"),
        "mount",
        "step[0].mount.host",
    );
    assert!(e.message.contains("no host `nohost`"), "{e}");
    let e =
        check_load_error(&format!("{s}[[step]]\nmount = {{ database = \"DB1\" }}\n"), "mount", "step[0].mount.host");
    assert!(e.message.contains("`backup-host` (the default"), "{e}");
    check_load_error(
        &format!("{s}[[step]]\nrestore = {{ database = \"DB1\", kind = \"file_copy\" }}\n"),
        "restore",
        "step[0].restore.host",
    );
    check_load_error(
        &format!("{s}[[step]]\nrestore = {{ database = \"DB1\", kind = \"database_from_remote\" }}\n"),
        "restore",
        "step[0].restore.host",
    );
    let hosts =
        "[[host]]\narray = \"SIM-A\"\nname = \"backup-host\"\n[[host]]\narray = \"SIM-B\"\nname = \"standby-host\"\n";
    b_loads(&format!(
        "{hosts}{s}[[step]]\nmount = {{ database = \"DB1\" }}\n[[step]]\nrestore = {{ database = \"DB1\", kind = \"database_from_remote\" }}\n[[step]]\nmount = {{ database = \"DB1\", host = \"mbx\" }}\n"
    ));
}

// Goal: an `expect` that asserts nothing is refused, naming the key that checks nothing by
// itself (review finding 8).
#[test]
fn an_expect_must_check_something() {
    let s = B_SERVERS;
    check_load_error(&format!("{s}[[step]]\nexpect = {{}}\n"), "expect", "step[0].expect");
    check_load_error(
        &format!("{s}[[step]]\nexpect = {{ database = \"DB1\", site = \"remote\" }}\n"),
        "expect",
        "step[0].expect.site",
    );
    check_load_error(&format!("{s}[[step]]\nexpect = {{ database = \"DB1\" }}\n"), "expect", "step[0].expect.database");
    check_load_error(&format!("{s}[[step]]\nexpect = {{ array = \"SIM-B\" }}\n"), "expect", "step[0].expect.array");
    check_load_error(&format!("{s}[[step]]\nexpect = {{ group = \"g\" }}\n"), "expect", "step[0].expect.group");
    b_loads(&format!(
        "{s}[[step]]\nexpect = {{ array = \"SIM-B\", array_online = true }}\n[[step]]\nexpect = {{ database = \"DB1\", site = \"remote\", recoverable = true }}\n[[step]]\nexpect = {{ group = \"g\", array = \"SIM-B\", role = \"Secondary\" }}\n"
    ));
}

// Goal: empty names are load-time errors, consistently (review finding 9: `local = ""` was
// replaced by a default, `remote = ""` refused at setup, `local_repository = ""` created a lock
// file in the current directory before failing).
#[test]
fn empty_names_are_refused() {
    let cases = [
        ("[backup_servers]\nlocal = \"\"\n", "local", "backup_servers.local"),
        ("[backup_servers]\nlocal = \"L\"\nremote = \"\"\n", "remote", "backup_servers.remote"),
        (
            "[backup_servers]\nlocal = \"L\"\nlocal_repository = \"\"\n",
            "local_repository",
            "backup_servers.local_repository",
        ),
        (
            "[backup_servers]\nlocal = \"L\"\nremote = \"R\"\nremote_repository = \" \"\n",
            "remote_repository",
            "backup_servers.remote_repository",
        ),
        (&format!("{B_SERVERS}[[host]]\narray = \"SIM-A\"\nname = \"\"\n"), "name = \"\"", "host[0].name"),
        (
            &format!("{B_SERVERS}[[volume]]\narray = \"SIM-A\"\nname = \"\"\ncpg = \"C\"\nsize_mib = 1\n"),
            "name = \"\"",
            "volume[0].name",
        ),
    ];
    for (extra, needle, key) in cases {
        check_load_error(extra, needle, key);
    }
    // Names in the shared head: replace one at a time.
    let heads = [
        ("name = \"C\"\n[[cpg]]", "name = \"\"\n[[cpg]]", "cpg[0].name"),
        ("name = \"DB1\"", "name = \"\"", "database[0].name"),
        ("name = \"g\"", "name = \"\"", "rc_group[0].name"),
        ("server = \"MBX\"", "server = \"\"", "exchange.server"),
    ];
    for (from, to, key) in heads {
        let text = format!("{}{B_SERVERS}", B_HEAD.replacen(from, to, 1));
        let error = parse("f.toml", &text).expect_err(key);
        assert_eq!(error.key, key, "{error}");
    }
    let text = format!("[[array]]\nname = \"\"\n{}", B_HEAD.replace("SIM-A", "").replace("SIM-B", "X"));
    assert_eq!(parse("f.toml", &text).expect_err("array").key, "array[0].name");
}

// Goal: the common setup mistakes are load-time errors with file, line and key (review finding
// 10: they were setup errors naming neither). Method: one per mistake, at its line.
#[test]
fn setup_mistakes_are_load_time_errors() {
    let s = B_SERVERS;
    check_load_error("[[cpg]]\narray = \"SIM-A\"\nname = \"C\"\n", "name", "cpg[2].name");
    let host = "[[host]]\narray = \"SIM-A\"\nname = \"h\"\n";
    check_load_error(&format!("{host}{}", host.replace("\"h\"", "\"h\" # twice")), "# twice", "host[1].name");
    let volume = "[[volume]]\narray = \"SIM-A\"\ncpg = \"C\"\nsize_mib = 1024\nname = \"v\"\n";
    check_load_error(&format!("{volume}{}", volume.replace("\"v\"", "\"v\" # twice")), "# twice", "volume[1].name");
    // A plain volume named like a database's default volume: the error is on the database.
    let text = B_HEAD.replace(
        "[exchange]",
        "[[volume]]\narray = \"SIM-A\"\nname = \"db1.edb\"\ncpg = \"C\"\nsize_mib = 1024\n[exchange]",
    );
    let error = parse("f.toml", &format!("{text}{s}")).unwrap_err();
    assert_eq!(error.key, "database[0].name", "{error}");
    // One database in two groups.
    let second = "[[rc_group]]\nname = \"g2\"\nmode = \"synchronous\"\ndatabases = [\"DB1\"]\ntarget_cpg = \"C\"\n";
    check_load_error(&format!("{second}{s}"), "databases", "rc_group[1].databases[0]");
    // Duplicate system ids, explicit or by position.
    let arrays = "[[array]]\nname = \"A\"\n[[array]]\nname = \"B\"\nsystem_id = 20001\n";
    let error = parse("f.toml", &format!("[scenario]\nname = \"x\"\n{arrays}")).unwrap_err();
    assert_eq!((error.key.as_str(), error.line), ("array[1].system_id", 7), "{error}");
    // Sizes.
    for size in ["0", "16777217"] {
        let v = format!("[[volume]]\narray = \"SIM-A\"\nname = \"v\"\ncpg = \"C\"\nsize_mib = {size}\n");
        check_load_error(&v, "size_mib", "volume[0].size_mib");
    }
    // A period past 366 days by a fraction of a second.
    let text = B_HEAD.replace("mode = \"periodic\"", "mode = \"periodic\"\nperiod = \"31622400.9s\"");
    assert_eq!(parse("f.toml", &format!("{text}{s}")).unwrap_err().key, "rc_group[0].period");
    let text = B_HEAD.replace("mode = \"periodic\"", "mode = \"periodic\"\nperiod = \"31622400s\"");
    parse("f.toml", &format!("{text}{s}")).unwrap_or_else(|e| panic!("{e}"));
}

// Goal: a duplicate TOML key is named in the error (review finding 10: it said
// `(document)`).
#[test]
fn a_duplicate_key_is_named() {
    b_loads(&format!("{B_SERVERS}[[step]]\nadvance = \"2s\"\n"));
    let e = check_load_error(
        &format!("{B_SERVERS}[[step]]\nadvance = \"1s\"\nadvance = \"2s\"\n"),
        "advance = \"2s\"",
        "advance",
    );
    assert!(e.message.contains("duplicate key"), "{e}");
    let e = check_load_error(&format!("{B_SERVERS}[links]\ncount = 2\ncount = 3\n"), "count = 3", "count");
    assert!(e.message.contains("duplicate key"), "{e}");
}

// Goal: a step label with a control character is refused: it would break the report's
// one-line-per-step layout (review finding 11).
#[test]
fn a_label_has_no_control_characters() {
    check_load_error(&format!("{B_SERVERS}[[step]]\nlabel = \"a\\nb\"\nadvance = \"1s\"\n"), "label", "step[0].label");
    b_loads(&format!("{B_SERVERS}[[step]]\nlabel = \"a b — ü\"\nadvance = \"1s\"\n"));
}

// Goal: the snapshot-space steps load to their actions (absolute limit, headroom, removal,
// policy) and refuse what cannot mean anything: both limits at once, a CPG not declared on that
// array, an undeclared array or database, a missing `stale_ss`. Each error names its key's line.
#[test]
fn snapshot_space_steps_load_and_refuse_bad_keys() {
    let extra = "[[step]]\ncpg_growth_limit = { array = \"SIM-A\", cpg = \"FC\", mib = 64 }\n\
                 [[step]]\ncpg_growth_limit = { array = \"SIM-B\", cpg = \"FC\", headroom_mib = 0 }\n\
                 [[step]]\ncpg_growth_limit = { array = \"SIM-A\", cpg = \"FC\" }\n\
                 [[step]]\nsnapshot_policy = { database = \"DB1\", stale_ss = false }\n";
    let scenario = parse("f.toml", &format!("{SETUP}{extra}")).unwrap();
    let limit = |array: &str, limit| Action::CpgGrowthLimit { array: array.into(), cpg: "FC".into(), limit };
    assert_eq!(scenario.steps[0].action, limit("SIM-A", GrowthLimit::Mib(64)));
    assert_eq!(scenario.steps[1].action, limit("SIM-B", GrowthLimit::Headroom(0)));
    assert_eq!(scenario.steps[2].action, limit("SIM-A", GrowthLimit::None));
    assert_eq!(scenario.steps[3].action, Action::SnapshotPolicy { database: "DB1".into(), stale_ss: false });
    let cases = [
        (
            "[[step]]\ncpg_growth_limit = { array = \"SIM-A\", cpg = \"FC\", mib = 1, headroom_mib = 1 }\n",
            "step[0].cpg_growth_limit.headroom_mib",
            "not both",
        ),
        (
            "[[step]]\ncpg_growth_limit = { array = \"SIM-A\", cpg = \"NOPE\" }\n",
            "step[0].cpg_growth_limit.cpg",
            "no CPG",
        ),
        (
            "[[step]]\ncpg_growth_limit = { array = \"SIM-C\", cpg = \"FC\" }\n",
            "step[0].cpg_growth_limit.array",
            "no array",
        ),
        (
            "[[step]]\nsnapshot_policy = { database = \"DB9\", stale_ss = true }\n",
            "step[0].snapshot_policy.database",
            "no database",
        ),
    ];
    for (extra, key, message) in cases {
        let error = error_of(extra);
        assert_eq!(error.key, key, "{extra}: {error}");
        assert!(error.message.contains(message), "{extra}: {error}");
        assert_eq!(error.line, SETUP.matches('\n').count() + 2, "{extra}: {error}");
    }
    let error = error_of("[[step]]\nsnapshot_policy = { database = \"DB1\" }\n");
    assert!(error.message.contains("stale_ss"), "{error}");
}

// Goal: a database's `snap_cpg` must be a CPG of the primary array (a CPG of that name on the
// backup array only is not enough), and names the key's line.
#[test]
fn a_database_snapshot_cpg_must_be_on_the_primary() {
    let text = SETUP.replace("name = \"DB1\"\ncpg = \"FC\"\n", "name = \"DB1\"\ncpg = \"FC\"\nsnap_cpg = \"SNAP\"\n");
    let error = parse("f.toml", &text).unwrap_err();
    assert_eq!(error.key, "database[0].snap_cpg", "{error}");
    assert!(error.message.contains("no CPG `SNAP` on the primary array"), "{error}");
    assert_eq!(error.line, text[..text.find("snap_cpg").unwrap()].matches('\n').count() + 1);
    let with_b = text.replace(
        "[[cpg]]\narray = \"SIM-B\"\nname = \"FC\"\n",
        "[[cpg]]\narray = \"SIM-B\"\nname = \"FC\"\n[[cpg]]\narray = \"SIM-B\"\nname = \"SNAP\"\n",
    );
    assert!(parse("f.toml", &with_b).is_err());
    let with_a = text.replace(
        "[[cpg]]\narray = \"SIM-A\"\nname = \"FC\"\n",
        "[[cpg]]\narray = \"SIM-A\"\nname = \"FC\"\n[[cpg]]\narray = \"SIM-A\"\nname = \"SNAP\"\n",
    );
    parse("f.toml", &with_a).unwrap();
}
