//! The `aegis` binary as a user runs it: in a directory of its own, with an environment of
//! exactly the given variables (and `PATH`), stdout and stderr captured.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use aegis::store::testing::TempDir;

/// The `aegis` binary with arguments, run in `dir`, with only `PATH` and `env` set.
pub fn command<K, V>(dir: &Path, args: &[&str], env: impl IntoIterator<Item = (K, V)>) -> Command
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aegis"));
    cmd.current_dir(dir).args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env);
    cmd
}

/// Runs `aegis` in `dir` and waits for it.
pub fn run_in<K, V>(dir: &Path, args: &[&str], env: impl IntoIterator<Item = (K, V)>) -> Output
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    command(dir, args, env).output().expect("run aegis")
}

/// Runs `aegis` in a fresh empty directory and waits for it (blocking the thread).
pub fn run<K, V>(args: &[&str], env: impl IntoIterator<Item = (K, V)>) -> Output
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let dir = TempDir::new("aegis-it-cli").unwrap();
    run_in(&dir.0, args, env)
}

/// Runs `aegis` in a fresh empty directory without blocking the runtime.
pub async fn run_async<K, V>(args: &[&str], env: impl IntoIterator<Item = (K, V)>) -> Output
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let dir = TempDir::new("aegis-it-cli").unwrap();
    let mut cmd = tokio::process::Command::from(command(&dir.0, args, env));
    cmd.output().await.expect("run aegis")
}

/// Stdout followed by stderr.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
