//! The node's side: start one executor process per task, send the request, read the answer, enforce the
//! wall-clock deadline.

use std::{ffi::OsString, os::unix::process::ExitStatusExt, path::PathBuf, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    process::{Child, Command},
};

use crate::{
    Error, Request, Response, Result,
    error::Exit,
    protocol::{self, decode, encode},
};

/// How to start the executor process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
}

impl Default for Config {
    /// This very binary with the hidden `executor` subcommand (how the `ocean` binary serves it).
    fn default() -> Self {
        // On Linux the kernel's link to the running binary, if its path cannot be read.
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        Self { program, args: vec!["executor".into()] }
    }
}

impl Config {
    /// `program` with no arguments (e.g. the crate's own `ocean-executor` binary).
    pub fn program(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), args: Vec::new() }
    }
}

/// Starts executor processes.
#[derive(Clone, Debug, Default)]
pub struct Executor {
    config: Config,
}

impl Executor {
    /// An executor that starts `config`'s program.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// Runs `request` in a new executor process and returns its answer. `deadline` bounds everything the
    /// process does (starting, compiling, running): past it the process is killed and the task fails with
    /// [`Error::Timeout`].
    ///
    /// Cancel-safety: dropping the future kills the process (`kill_on_drop`).
    pub async fn run(&self, request: &Request, deadline: Duration) -> Result<Response> {
        let frame = encode(request)?;
        let mut child = Command::new(&self.config.program)
            .args(&self.config.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Its logs join the node's.
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| Error::Spawn { program: self.config.program.clone(), source })?;
        match tokio::time::timeout(deadline, exchange(&mut child, &frame)).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::warn!(target: "ocean::executor", ?deadline, pid = child.id(), "deadline passed; killing the executor process");
                // Already gone is fine: either way it is not running any more.
                let _ = child.kill().await;
                Err(Error::Timeout(deadline))
            }
        }
    }
}

/// Sends the request, reads the answer, and reaps the process.
async fn exchange(child: &mut Child, frame: &[u8]) -> Result<Response> {
    let mut stdin = child.stdin.take().ok_or_else(|| Error::Protocol("no stdin pipe".into()))?;
    let mut stdout = child.stdout.take().ok_or_else(|| Error::Protocol("no stdout pipe".into()))?;
    // A child that died at once closes its stdin: that is a crash, reported from its exit status below.
    let sent = async {
        stdin.write_all(frame).await?;
        stdin.shutdown().await
    }
    .await;
    drop(stdin);
    let answer = match sent {
        Ok(()) => read_answer(&mut stdout).await,
        Err(e) => Err(Error::Io(e)),
    };
    let status = child.wait().await?;
    if !status.success() {
        // Whatever it said (usually nothing, or a torn frame), a process that died is the story.
        return Err(Error::Crashed { exit: Exit { signal: status.signal(), code: status.code() } });
    }
    answer
}

async fn read_answer(stdout: &mut tokio::process::ChildStdout) -> Result<Response> {
    let mut header = [0u8; 4];
    stdout.read_exact(&mut header).await?;
    let mut body = vec![0u8; protocol::frame_len(header)?];
    stdout.read_exact(&mut body).await?;
    decode(&body)
}
