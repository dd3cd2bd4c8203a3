//! The `run` and `check` verbs as a user calls them (and `serve`'s standard output): exit codes,
//! output, files.

use std::process::{Command, Output, Stdio};

fn storeserv_sim(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_storeserv-sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// Goal: a passing scenario exits 0 and says PASS; --json prints a JSON report; --timeline writes
// an SVG. Method: run the seed workflow three ways.
#[test]
fn run_prints_a_report_json_and_a_timeline() {
    let (ok, out, err) = storeserv_sim(&["run", "fixtures/backup-no-remote-copy.toml"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("result: PASS"), "{out}");
    let (ok, out, _) = storeserv_sim(&["run", "fixtures/backup-no-remote-copy.toml", "--json"]);
    assert!(ok);
    let json: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(json["violations"], 0);
    assert_eq!(json["steps"].as_array().map(Vec::len), Some(7));
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("t.svg");
    let (ok, out, err) = storeserv_sim(&["run", "fixtures/seed-workflow.toml", "--timeline", svg.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{text}");
    for lane in ["array SIM-A", "array SIM-B", "Remote Copy links", "local backup server", "remote backup server"] {
        assert!(text.contains(lane), "lane {lane} missing");
    }
    assert!(text.contains("VSS freeze"), "freeze windows drawn");
    let trace = dir.path().join("trace.txt");
    let (ok, out, err) = storeserv_sim(&["run", "fixtures/backup-periodic.toml", "--trace", trace.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.starts_with("#0 "), "{text}");
    for event in ["start seed=3", "exchange freeze", "sync of rcg", "backup MBX01/DB1/"] {
        assert!(text.contains(event), "event {event} missing from the trace:\n{text}");
    }
}

// Goal: a failed expectation exits non-zero with one error line; a bad file names file, line
// and key. Method: write two small scenarios into a temporary directory.
#[test]
fn run_fails_on_failed_expectations_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let failing = dir.path().join("failing.toml");
    std::fs::write(
        &failing,
        "[scenario]\nname = \"f\"\n[[cpg]]\narray = \"SIM-A\"\nname = \"FC\"\n[exchange]\nserver = \"MBX01\"\n[[database]]\nname = \"DB1\"\ncpg = \"FC\"\n[backup_servers]\nlocal = \"BKP\"\n[[step]]\nexpect = { database = \"DB1\", local_entries = 1 }\n",
    )
    .unwrap();
    let (ok, out, err) = storeserv_sim(&["run", failing.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("result: FAIL"), "{out}");
    assert!(out.contains("local entries: expected 1, found 0"), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[scenario]\nname = \"b\"\n\n[[step]]\nadvanse = \"5m\"\n").unwrap();
    let (ok, _, err) = storeserv_sim(&["run", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.toml:5:1: `advanse`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

// Goal: check runs a campaign, prints a summary, and shards split it. Method: a small campaign
// whole and in two shards; the shards' step counts add up to the whole.
#[test]
fn check_runs_and_shards() {
    let (ok, out, err) = storeserv_sim(&["check", "--steps", "400", "--seed", "5", "--faults", "none", "--quiet"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("summary: 400 steps, 2 cases"), "{out}");
    assert!(out.contains("0 violation(s)"), "{out}");
    let (ok1, out1, _) =
        storeserv_sim(&["check", "--steps", "400", "--seed", "5", "--faults", "none", "--quiet", "--shard", "1/2"]);
    let (ok2, out2, _) = storeserv_sim(&[
        "check", "--steps", "400", "--seed", "5", "--faults", "none", "--quiet", "--shard", "2/2", "--jobs", "2",
    ]);
    assert!(ok1 && ok2);
    assert!(out1.contains("summary: 200 steps, 1 cases"), "{out1}");
    assert!(out2.contains("summary: 200 steps, 1 cases"), "{out2}");
    let (ok, _, err) = storeserv_sim(&["check", "--shard", "3/2"]);
    assert!(!ok && err.contains("--shard"), "{err}");
}

/// The one line the CLI prints for an error, checked for its shape; returns it.
fn one_error_line(stderr: &str) -> &str {
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("storeserv-sim: error: "), "{stderr}");
    stderr.trim_end()
}

/// Runs the binary with `stdout` as its standard output (stderr captured).
fn storeserv_sim_to(args: &[&str], stdout: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storeserv-sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs")
}

// Goal (review finding 1): an unusable `check --out` is refused before the campaign runs, in one
// error line. Method: a directory that cannot be created (under /proc) and a regular file as
// `--out`; neither run may print the campaign's summary.
#[test]
fn check_refuses_an_unusable_out_before_the_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    for out in ["/proc/storeserv-sim-out", file.to_str().unwrap()] {
        let (ok, stdout, stderr) =
            storeserv_sim(&["check", "--steps", "200", "--seed", "5", "--faults", "none", "--quiet", "--out", out]);
        assert!(!ok, "{stdout}");
        assert!(!stdout.contains("summary:"), "the campaign ran: {stdout}");
        let line = one_error_line(&stderr);
        assert!(line.contains("--out") && line.contains(out), "{line}");
    }
}

// Goal: a `check` that finds no violation writes nothing, so the writability check of `--out`
// before the campaign leaves no directory behind, while an unusable `--out` below a missing
// directory still fails before the campaign (and leaves nothing either). Regression: the check
// created `--out` (and its missing parents) for good, so every clean run left them behind.
// Method: clean campaigns with `--out` two levels below an empty directory, directly and through
// `..`; then one with `--out` below a regular file.
#[test]
fn check_without_a_violation_leaves_no_out_directory() {
    let check = |out: &std::path::Path| {
        let clean = ["check", "--steps", "200", "--seed", "5", "--faults", "none", "--quiet", "--out"];
        storeserv_sim(&[&clean[..], &[out.to_str().unwrap()]].concat())
    };
    let dir = tempfile::tempdir().unwrap();
    // Also through a `..` below a missing directory (regression: removing the directories the
    // check had made failed on `new/..`, so that run stopped before the campaign).
    for out in [dir.path().join("new").join("out"), dir.path().join("new").join("..").join("out")] {
        let (ok, stdout, stderr) = check(&out);
        assert!(ok, "{}: {stdout}{stderr}", out.display());
        assert!(stdout.contains("0 violation(s)"), "{stdout}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let (ok, stdout, stderr) = check(&file.join("out"));
    assert!(!ok, "{stdout}");
    assert!(!stdout.contains("summary:"), "the campaign ran: {stdout}");
    let line = one_error_line(&stderr);
    assert!(line.contains("--out"), "{line}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["a-file"], "left behind: {left:?}");
}

// Goal (review finding 2): a `--steps-per-case` too large to run is one error line naming the
// bound, never a panic ("capacity overflow") or an abort (a failed allocation).
// Method: u64::MAX, 10^11 (the two values of the review) and one past the bound.
#[test]
fn check_bounds_steps_per_case() {
    for value in ["18446744073709551615", "100000000000", "100001"] {
        let (ok, stdout, stderr) = storeserv_sim(&["check", "--steps", "1", "--steps-per-case", value, "--quiet"]);
        assert!(!ok, "{stdout}");
        let line = one_error_line(&stderr);
        assert!(line.contains("--steps-per-case") && line.contains("100000"), "{line}");
    }
}

// Goal (review finding 4): `--jobs` starts no more threads than the shard has cases, and an
// absurd value is refused. Method: 1,000 jobs for 2 cases (the header reports the 2 threads
// used), then 100,000 jobs (above the bound).
#[test]
fn check_caps_and_bounds_jobs() {
    let (ok, stdout, stderr) =
        storeserv_sim(&["check", "--steps", "400", "--seed", "5", "--faults", "none", "--quiet", "--jobs", "1000"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("in 2 cases of 200") && stdout.contains(", 2 job(s)"), "{stdout}");
    assert!(stdout.contains("summary: 400 steps, 2 cases"), "{stdout}");
    let (ok, stdout, stderr) = storeserv_sim(&["check", "--steps", "400", "--quiet", "--jobs", "100000"]);
    assert!(!ok, "{stdout}");
    assert!(one_error_line(&stderr).contains("--jobs"), "{stderr}");
}

// Goal (review finding 5): a closed standard output ends every verb quietly (nothing on stderr,
// status 141 as for a program a shell saw killed by SIGPIPE), and a full one (/dev/full) is one
// error line and a non-zero status; never a panic. Method: give the binary the write end of a
// pipe whose read end is already closed, then /dev/full, for `check`, `run` and `serve`
// (`serve` fails at its first line, before waiting for a signal).
#[test]
fn a_closed_or_full_stdout_is_not_a_panic() {
    let verbs: [&[&str]; 3] = [
        &["check", "--steps", "200", "--seed", "5", "--faults", "none", "--quiet"],
        &["run", "fixtures/backup-no-remote-copy.toml"],
        &["serve", "--primary-listen", "127.0.0.1:0", "--backup-listen", "127.0.0.1:0"],
    ];
    for args in verbs {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = storeserv_sim_to(args, writer.into());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let output = storeserv_sim_to(args, full.into());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(one_error_line(&stderr).contains("writing to standard output"), "{args:?}: {stderr}");
    }
}

// Goal (review finding 6): `check` refuses a campaign of no steps and an empty fault list (the
// word `none` asks for no faults), and its help says how steps become cases. Method: each bad
// value gives one error line naming its flag; `--help` mentions the rounding; `--steps 1` reports
// the 200 steps it runs.
#[test]
fn check_refuses_zero_steps_and_empty_fault_lists() {
    for (flag, value) in [("--steps", "0"), ("--faults", ""), ("--faults", ",,"), ("--faults", "link,")] {
        let (ok, stdout, stderr) = storeserv_sim(&["check", flag, value, "--quiet"]);
        assert!(!ok, "{flag} {value:?}: {stdout}");
        assert!(one_error_line(&stderr).contains(flag), "{stderr}");
    }
    let (ok, stdout, _) = storeserv_sim(&["check", "--help"]);
    assert!(ok);
    assert!(stdout.contains("rounded up to whole cases"), "{stdout}");
    let (ok, stdout, stderr) = storeserv_sim(&["check", "--steps", "1", "--seed", "5", "--faults", "none", "--quiet"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("200 steps in 1 cases of 200"), "{stdout}");
}

// Goal (review finding 7): `run` never writes an output over its scenario or over its other
// output, whatever the spelling of the path. Method: a copy of a fixture in a temporary
// directory, with `--timeline`/`--trace` naming it or each other; the scenario is unchanged and
// nothing is written.
#[test]
fn run_refuses_outputs_that_overwrite_the_input_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::copy("fixtures/backup-no-remote-copy.toml", &scenario).unwrap();
    let original = std::fs::read_to_string(&scenario).unwrap();
    let same = dir.path().join(".").join("s.toml");
    let svg = dir.path().join("t.svg");
    let svg_again = dir.path().join("..").join(dir.path().file_name().unwrap()).join("t.svg");
    let runs: [Vec<&str>; 3] = [
        vec!["--timeline", scenario.to_str().unwrap()],
        vec!["--trace", same.to_str().unwrap()],
        vec!["--timeline", svg.to_str().unwrap(), "--trace", svg_again.to_str().unwrap()],
    ];
    for outputs in runs {
        let mut args = vec!["run", scenario.to_str().unwrap()];
        args.extend(&outputs);
        let (ok, stdout, stderr) = storeserv_sim(&args);
        assert!(!ok, "{outputs:?}: {stdout}");
        assert!(stdout.is_empty(), "{outputs:?}: {stdout}");
        assert!(one_error_line(&stderr).contains(outputs[0]), "{stderr}");
        assert_eq!(std::fs::read_to_string(&scenario).unwrap(), original, "{outputs:?}");
        assert!(!svg.exists(), "{outputs:?}");
    }
}

// Goal (review finding 7): an unwritable `--timeline` or `--trace` fails before the run, so no
// report says PASS before an error, and no output is half written. Method: a path under /proc and
// a directory, each as either output, and a good timeline with a bad trace.
#[test]
fn run_refuses_unwritable_outputs_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("t.svg");
    let directory = dir.path().to_str().unwrap();
    let runs: [Vec<&str>; 5] = [
        vec!["--timeline", "/proc/storeserv-sim.svg"],
        vec!["--trace", "/proc/storeserv-sim.txt"],
        vec!["--timeline", directory],
        vec!["--trace", directory],
        vec!["--trace", directory, "--timeline", svg.to_str().unwrap()],
    ];
    for outputs in runs {
        let mut args = vec!["run", "fixtures/backup-no-remote-copy.toml"];
        args.extend(&outputs);
        let (ok, stdout, stderr) = storeserv_sim(&args);
        assert!(!ok, "{outputs:?}: {stdout}");
        assert!(!stdout.contains("result: PASS"), "{outputs:?}: {stdout}");
        let line = one_error_line(&stderr);
        assert!(line.contains(outputs[0]) && line.contains(outputs[1]), "{line}");
        assert!(!svg.exists(), "{outputs:?}");
    }
}

// Goal: a command line that does not parse is one error line like every other error (clap's
// message and tip, the usage, where to read more) with clap's status 2, while help and version
// stay clap's own. Regression: clap printed three to six lines. Method: a bad value, an unknown
// verb, a missing argument, a misspelt flag; then a bare `storeserv-sim` and `--version`.
#[test]
fn usage_errors_are_one_line() {
    for (args, expected) in [
        (&["run", "--seed", "abc", "x.toml"][..], "invalid value 'abc' for '--seed <SEED>'"),
        (&["frob"][..], "unrecognized subcommand 'frob' (usage: storeserv-sim <COMMAND>; see --help)"),
        (&["run"][..], "required arguments were not provided: <SCENARIO> (usage: storeserv-sim run <SCENARIO>"),
        (
            &["run", "--sed", "3", "x.toml"][..],
            "unexpected argument '--sed' found; tip: a similar argument exists: '--seed'",
        ),
    ] {
        let output = storeserv_sim_to(args, Stdio::piped());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let line = one_error_line(&stderr);
        assert!(line.contains(expected), "{args:?}: {line}");
    }
    let bare = storeserv_sim_to(&[], Stdio::piped());
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("Commands:"), "the help, as clap shows it");
    let version = storeserv_sim_to(&["--version"], Stdio::piped());
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("storeserv-sim "));
}

// Goal (review finding 9): a negative number for a numeric flag is reported as an invalid value
// of that flag, not as an unexpected argument. Method: `--steps -5` and `run --seed -1`.
#[test]
fn negative_numbers_are_invalid_values() {
    let (ok, _, stderr) = storeserv_sim(&["check", "--steps", "-5"]);
    assert!(!ok);
    assert!(stderr.contains("invalid value '-5' for '--steps"), "{stderr}");
    let (ok, _, stderr) = storeserv_sim(&["run", "fixtures/backup-no-remote-copy.toml", "--seed", "-1"]);
    assert!(!ok);
    assert!(stderr.contains("invalid value '-1' for '--seed"), "{stderr}");
}

// Goal: `serve`'s numeric flags treat a negative number as they do in `run` and `check`: an
// invalid value of that flag (or, for `--clock-scale`, a value out of its range), not an
// "unexpected argument '-1'" that hides which flag was wrong. Regression: only `run` and `check`
// allowed negative numbers as values. Method: each flag with a negative value; `serve` must
// stop before listening (so the default ports are never bound).
#[test]
fn serve_negative_numbers_are_invalid_values() {
    for flag in ["--seed", "--session-idle-secs", "--online-copy-ms"] {
        let (ok, stdout, stderr) = storeserv_sim(&["serve", flag, "-1"]);
        assert!(!ok, "{flag}: {stdout}");
        assert!(stderr.contains(&format!("invalid value '-1' for '{flag}")), "{flag}: {stderr}");
    }
    let (ok, stdout, stderr) = storeserv_sim(&["serve", "--clock-scale", "-1"]);
    assert!(!ok, "{stdout}");
    assert!(one_error_line(&stderr).contains("--clock-scale must be in (0, 1e6], got -1"), "{stderr}");
}

// Goal: `serve` on an address already in use is one error line naming the address, with the
// operating system's reason once. Regression: the bind error's text repeated its own cause
// ("Address already in use (os error 98): Address already in use (os error 98)"). Method: hold
// a listener on a free port and give its address to each of the two listeners in turn.
#[test]
fn serve_on_an_address_in_use_says_so_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for args in [
        ["serve", "--primary-listen", addr.as_str(), "--backup-listen", "127.0.0.1:0"],
        ["serve", "--primary-listen", "127.0.0.1:0", "--backup-listen", addr.as_str()],
    ] {
        let (ok, stdout, stderr) = storeserv_sim(&args);
        assert!(!ok, "{args:?}: {stdout}");
        let line = one_error_line(&stderr);
        assert!(line.contains(&format!("cannot listen on {addr}")), "{line}");
        assert_eq!(line.matches("os error").count(), 1, "the cause once: {line}");
    }
}

// Goal: `serve` checks its ready file before it runs the scenario or listens, as `run` checks its
// output files: an unwritable one, or the scenario file itself, is one error line and nothing on
// standard output (no listener URLs for a server that is about to stop), and the scenario is
// left unchanged. Regression: the URLs were printed, then the write failed; a ready file naming
// the scenario replaced it. Method: a ready file below a missing directory, below a regular
// file, and equal to a copy of a fixture given as `--scenario` (spelled two ways).
#[test]
fn serve_checks_its_ready_file_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let listen = ["--primary-listen", "127.0.0.1:0", "--backup-listen", "127.0.0.1:0"];
    for ready in [dir.path().join("missing").join("r.json"), file.join("r.json")] {
        let ready = ready.to_str().unwrap();
        let (ok, stdout, stderr) = storeserv_sim(&[&["serve", "--ready-file", ready][..], &listen].concat());
        assert!(!ok, "{ready}: {stdout}");
        assert!(stdout.is_empty(), "{ready}: {stdout}");
        let line = one_error_line(&stderr);
        assert!(line.contains("--ready-file") && line.contains(ready), "{line}");
    }
    let scenario = dir.path().join("s.toml");
    let text = std::fs::read_to_string("fixtures/backup-no-remote-copy.toml").unwrap();
    std::fs::write(&scenario, &text).unwrap();
    let other_spelling = dir.path().join(".").join("s.toml");
    for ready in [&scenario, &other_spelling] {
        let args = ["serve", "--scenario", scenario.to_str().unwrap(), "--ready-file", ready.to_str().unwrap()];
        let (ok, stdout, stderr) = storeserv_sim(&[&args[..], &listen].concat());
        assert!(!ok, "{stdout}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(one_error_line(&stderr).contains("that is the scenario file"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&scenario).unwrap(), text, "the scenario was replaced");
    }
}

/// The replay command of a banner in `stdout`: the words after `cargo run ... --`.
#[cfg(feature = "defects")]
fn replay_command(stdout: &str) -> Vec<String> {
    let line = stdout.lines().find(|l| l.starts_with("replay:")).unwrap_or_else(|| panic!("no replay line: {stdout}"));
    let (_, command) = line.split_once(" -- ").unwrap_or_else(|| panic!("{line}"));
    command.split_whitespace().map(str::to_owned).collect()
}

// Goal (review finding 1): when the failure file cannot be written at the end, the banner (the
// violation, the minimal steps, the case seed) is still printed. Method: the review's defect
// campaign with `--out` a writable directory in which the failure file's name is taken by a
// directory (case 0 of seed 1 is the one that breaks).
#[cfg(feature = "defects")]
#[test]
fn check_prints_the_banner_when_the_failure_file_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("check-1-case0.toml");
    std::fs::create_dir(&taken).unwrap();
    let out = dir.path().to_str().unwrap();
    let args = ["check", "--defect", "copy_outside_freeze", "--steps", "2000", "--seed", "1", "--quiet", "--out", out];
    let (ok, stdout, stderr) = storeserv_sim(&args);
    assert!(!ok, "{stdout}");
    for part in ["VIOLATION  copies_inside_freeze", "case seed", "minimal steps", "replay:"] {
        assert!(stdout.contains(part), "{part} missing: {stdout}");
    }
    let line = one_error_line(&stderr);
    assert!(line.contains("writing") && line.contains(taken.to_str().unwrap()), "{line}");
}

// Goal: a violation is shrunk and written to its file even when standard output is full or its
// reader has gone (the banner cannot be shown), and the error line names the file. Method: the
// review's defect campaign with standard output on /dev/full.
#[cfg(feature = "defects")]
#[test]
fn check_writes_the_failure_file_when_stdout_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let args = ["check", "--defect", "copy_outside_freeze", "--steps", "2000", "--seed", "1", "--quiet", "--out", out];
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    // The first line (the campaign's header) already fails: nothing runs, one error line.
    let output = storeserv_sim_to(&args, full.into());
    assert_eq!(output.status.code(), Some(1));
    assert!(one_error_line(&String::from_utf8_lossy(&output.stderr)).contains("writing to standard output"));
    // A reader that goes after the header: the campaign runs, finds the violation and writes it.
    let (mut reader, writer) = std::io::pipe().unwrap();
    let output = std::thread::scope(|scope| {
        let child = scope.spawn(move || storeserv_sim_to(&args, writer.into()));
        let mut header = [0u8; 6];
        std::io::Read::read_exact(&mut reader, &mut header).unwrap();
        assert_eq!(&header, b"check:");
        drop(reader);
        child.join().unwrap()
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let line = one_error_line(&stderr);
    let file = dir.path().join("check-1-case0.toml");
    assert!(line.contains("copies_inside_freeze") && line.contains(file.to_str().unwrap()), "{line}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("--defect copy_outside_freeze"), "{text}");
}

// Goal (review finding 8): a defect campaign's replay command names the defect, and so
// reproduces the violation; without `--defect` the same file passes. Method: run the review's
// defect campaign, then the banner's command with and without its `--defect`.
#[cfg(feature = "defects")]
#[test]
fn check_banner_replays_a_defect() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let args = ["check", "--defect", "copy_outside_freeze", "--steps", "2000", "--seed", "1", "--quiet", "--out", out];
    let (ok, stdout, _) = storeserv_sim(&args);
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("replay:  cargo run --release --features defects -- run "), "{stdout}");
    let replay = replay_command(&stdout);
    assert_eq!(replay[replay.len() - 2..], ["--defect", "copy_outside_freeze"], "{replay:?}");
    let replay: Vec<&str> = replay.iter().map(String::as_str).collect();
    let (ok, stdout, _) = storeserv_sim(&replay);
    assert!(!ok && stdout.contains("copies_inside_freeze"), "{stdout}");
    let (ok, stdout, stderr) = storeserv_sim(&replay[..replay.len() - 2]);
    assert!(ok, "without the defect: {stdout}{stderr}");
}
