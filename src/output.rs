//! Where the CLI's output goes: standard output as a fallible writer, and the checks a verb
//! makes on its output files before its long work, so that a bad path fails in a second rather
//! than after a campaign (and never after a report that says PASS).
//!
//! `writeln!(out, ...)` on [`Stdout`] returns a [`StdoutError`] where `println!` would panic (a
//! closed pipe, a full disk). `main` ends the program quietly when the error is a closed pipe
//! and prints one error line otherwise. Each write is flushed, so a line is out (or its error
//! known) before the next step of a long campaign begins.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Standard output. `write!`/`writeln!` call [`Stdout::write_fmt`], which returns a
/// [`StdoutError`] instead of an `io::Error` so that `main` can tell it from other I/O errors.
#[derive(Debug)]
pub struct Stdout(io::Stdout);

impl Stdout {
    /// The process's standard output.
    pub fn new() -> Stdout {
        Stdout(io::stdout())
    }

    /// Writes `text` and flushes it (what `write!` and `writeln!` expand to).
    ///
    /// Errors: the write or the flush failed.
    pub fn write_fmt(&mut self, text: fmt::Arguments<'_>) -> Result<(), StdoutError> {
        let mut lock = self.0.lock();
        lock.write_fmt(text).and_then(|()| lock.flush()).map_err(StdoutError)
    }
}

/// A write to standard output failed.
#[derive(Debug)]
pub struct StdoutError(io::Error);

impl StdoutError {
    /// Whether the reader closed the pipe (`... | head -1`): the end of the program, not an error
    /// to report.
    pub fn is_closed(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cause is the source (`main` prints the chain), so it is not repeated here.
        f.write_str("writing to standard output")
    }
}

impl std::error::Error for StdoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Refuses, before a verb's long work, an output file (`outputs`: each flag and its path, if
/// given) that would overwrite the scenario file or another output (whatever the spelling of
/// the paths), and one that cannot be written ([`check_writable_file`]). `run` checks its
/// `--timeline` and `--trace` here, `serve` its `--ready-file`.
///
/// Errors: one line naming the flag, the path and the reason.
pub fn check_outputs(scenario: Option<&Path>, outputs: &[(&str, Option<&Path>)]) -> anyhow::Result<()> {
    let scenario = scenario.map(resolved);
    let mut earlier: Vec<(&str, &Path, PathBuf)> = Vec::new();
    for &(flag, path) in outputs {
        let Some(path) = path else { continue };
        let resolved = resolved(path);
        if scenario.as_ref() == Some(&resolved) {
            bail!("{flag} {}: that is the scenario file, which the output would replace", path.display());
        }
        if let Some((other_flag, other, _)) = earlier.iter().find(|(.., other)| *other == resolved) {
            bail!(
                "{flag} {}: the same file as {other_flag} {}; give each output its own file",
                path.display(),
                other.display()
            );
        }
        check_writable_file(flag, path)?;
        earlier.push((flag, path, resolved));
    }
    Ok(())
}

/// Checks, before a verb's long work, that the output file `path` (given as `flag`) can be
/// written: an existing regular file is opened for writing (not truncated), a missing one is
/// created and removed again. Leaves the file system as it found it.
///
/// Errors: one line naming the flag, the path and the cause.
pub fn check_writable_file(flag: &str, path: &Path) -> anyhow::Result<()> {
    let cannot = || format!("{flag} {}: cannot be written", path.display());
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => bail!("{flag} {}: is a directory", path.display()),
        Ok(_) => {
            OpenOptions::new().write(true).open(path).with_context(cannot)?;
        }
        Err(_) => {
            OpenOptions::new().write(true).create_new(true).open(path).with_context(cannot)?;
            std::fs::remove_file(path).with_context(cannot)?;
        }
    }
    Ok(())
}

/// Checks, before a verb's long work, that files can be written into the directory `dir`
/// (given as `flag`) without creating anything: a probe file is created and removed in `dir`,
/// or, when `dir` does not exist yet, in its deepest existing ancestor (where creating it
/// needs the same permission). So a verb that writes nothing (a `check` with no violation)
/// leaves nothing behind; the verb creates the directory when it writes.
///
/// Errors: one line naming the flag, the path and the cause.
pub fn check_writable_dir(flag: &str, dir: &Path) -> anyhow::Result<()> {
    // `ancestors` ends with "" for a relative path (the current directory) and "/" for an
    // absolute one; only a deleted current directory leaves none existing (refused below).
    let existing = dir
        .ancestors()
        .map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d })
        .find(|d| d.exists())
        .unwrap_or(Path::new("."));
    if !existing.is_dir() {
        bail!("{flag} {}: {} is not a directory", dir.display(), existing.display());
    }
    let probe = existing.join(format!(".storeserv-sim-probe-{}", std::process::id()));
    let cannot = || format!("{flag} {}: cannot write into {}", dir.display(), existing.display());
    OpenOptions::new().write(true).create_new(true).open(&probe).with_context(cannot)?;
    std::fs::remove_file(&probe).with_context(cannot)
}

/// `path` in a form two spellings of one file share: canonical (absolute, no `.`, `..` or
/// symbolic links) if it exists, else its parent's canonical form joined with its name, else
/// as given. Hard links are not recognised.
pub fn resolved(path: &Path) -> PathBuf {
    if let Ok(canonical) = path.canonicalize() {
        return canonical;
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return path.to_path_buf();
    };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    parent.canonicalize().map_or_else(|_| path.to_path_buf(), |parent| parent.join(name))
}
