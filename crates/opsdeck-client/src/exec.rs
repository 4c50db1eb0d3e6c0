//! `opsdeck exec`: runs a command as a monitored cron job. A start ping with a fresh run
//! id goes out while the command starts (never before it); the command's stdout and
//! stderr pass through as they come and their last bytes are kept; when it ends, a ping
//! with its exit status and that output tail closes the run, and [`run`] returns the
//! command's exit status for the wrapper to exit with. The pings carry `source=exec`, so
//! opsdeck records the runs as exec's, not as plain pings.
//!
//! opsdeck being down must not cost the job anything: each ping gives up within its
//! [`RetryPolicy`] budget with a warning on stderr, and once the start ping found opsdeck
//! unreachable the finish ping gets a single short try. SIGINT and SIGTERM are passed on
//! to the command, and the wrapper waits for it to end so the finish ping still goes out.

use std::ffi::OsString;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::ping::{Delivered, PingFailure, Pinger, RetryPolicy, Signal, Source};
use crate::tail::OutputTail;

/// How much output the finish ping carries at most, as healthchecks.io keeps by default.
pub const TAIL_BYTES: usize = 10_000;

/// How long output may still arrive after the command ended, from programs it started
/// that hold its stdout open.
const DRAIN: Duration = Duration::from_secs(2);

/// The single try of a finish ping once opsdeck was found unreachable.
const LAST_TRY: Duration = Duration::from_secs(1);

/// What to run and whom to tell.
#[derive(Debug)]
pub struct Exec {
    /// The program and its arguments; must not be empty.
    pub command: Vec<OsString>,
    /// `None` runs the command without pings (opsdeck not configured).
    pub pinger: Option<Pinger>,
    /// The most output bytes the finish ping carries (opsdeck's `Ping-Body-Limit` may
    /// lower it).
    pub tail_bytes: usize,
}

/// Runs the command and reports it; returns its exit status (128 + signal when a
/// signal ended it, 127 when it could not be found, 126 when it could not be run).
pub async fn run(mut exec: Exec) -> u8 {
    // Whoever built the pinger, these runs are exec's: opsdeck records them as such.
    exec.pinger = exec.pinger.map(|pinger| pinger.source(Source::Exec));
    let rid = Uuid::new_v4();
    let tail = Arc::new(Mutex::new(OutputTail::new(exec.tail_bytes)));
    let start = exec.pinger.clone().map(|pinger| {
        tokio::spawn(async move {
            let sent = pinger.send(Signal::Start, Some(rid), Vec::new()).await;
            if let Err(failure) = &sent {
                warn(&format!(
                    "start ping for {} not sent: {failure}; the command runs anyway",
                    pinger.slug()
                ));
            }
            sent
        })
    });
    // Before the child exists, so no signal can slip past the forwarding.
    let forwarder = Forwarder::install();
    let code = match spawn(&exec.command) {
        Ok(child) => supervise(child, forwarder, &tail).await,
        Err((code, message)) => {
            eprintln!("opsdeck exec: {message}");
            lock(&tail).push(message.as_bytes());
            code
        }
    };
    if let (Some(pinger), Some(start)) = (exec.pinger, start) {
        let started = start.await.unwrap_or_else(|e| {
            Err(PingFailure::Unreachable(format!(
                "start ping task failed: {e}"
            )))
        });
        let body = |limit: Option<usize>| {
            let limit = limit.map_or(exec.tail_bytes, |l| l.min(exec.tail_bytes));
            lock(&tail).body(limit)
        };
        let (policy, body) = match started {
            Ok(Delivered { body_limit, .. }) => (pinger.policy(), body(body_limit)),
            // The same key and slug will be refused again; the start said why.
            Err(PingFailure::Refused { .. }) => return code,
            Err(PingFailure::Unreachable(_)) => (RetryPolicy::once(LAST_TRY), body(None)),
        };
        let finish = pinger.send_with(Signal::Exit(code), Some(rid), body, policy);
        if let Err(failure) = finish.await {
            warn(&format!(
                "finish ping for {} (exit status {code}) not sent: {failure}",
                pinger.slug()
            ));
        }
    }
    code
}

fn warn(message: &str) {
    eprintln!("opsdeck exec: warning: {message}");
}

fn lock(tail: &Mutex<OutputTail>) -> std::sync::MutexGuard<'_, OutputTail> {
    // A panic while pushing bytes leaves a usable buffer; keep reporting.
    tail.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the command with piped output, or says why not with the shell's exit status.
fn spawn(command: &[OsString]) -> Result<Child, (u8, String)> {
    let Some((program, args)) = command.split_first() else {
        return Err((127, "no command given: put it after --".to_owned()));
    };
    Command::new(program)
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            let code = match error.kind() {
                std::io::ErrorKind::NotFound => 127,
                _ => 126,
            };
            let shown = program.to_string_lossy();
            (code, format!("cannot run {shown}: {error}"))
        })
}

/// Passes the output through, waits for the end (forwarding signals) and returns the
/// exit status.
async fn supervise(mut child: Child, forwarder: Forwarder, tail: &Arc<Mutex<OutputTail>>) -> u8 {
    let copies: Vec<JoinHandle<()>> = [
        child
            .stdout
            .take()
            .map(|out| tee(out, tokio::io::stdout(), tail.clone())),
        child
            .stderr
            .take()
            .map(|err| tee(err, tokio::io::stderr(), tail.clone())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let status = forwarder.wait(&mut child).await;
    for mut copy in copies {
        if tokio::time::timeout(DRAIN, &mut copy).await.is_err() {
            copy.abort();
        }
    }
    match status {
        Ok(status) => exit_code(status),
        Err(error) => {
            warn(&format!("lost track of the command: {error}"));
            1
        }
    }
}

/// Copies `from` to `to` as it arrives and into the tail. A closed `to` (the reader of
/// our stdout went away) stops the copying, not the reading, so the command never
/// blocks on a full pipe.
fn tee<R, W>(mut from: R, mut to: W, tail: Arc<Mutex<OutputTail>>) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 8 * 1024];
        let mut writable = true;
        loop {
            let n = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = &buffer[..n];
            if writable {
                writable = to.write_all(chunk).await.is_ok() && to.flush().await.is_ok();
            }
            lock(&tail).push(chunk);
        }
    })
}

#[cfg(unix)]
fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(255),
        (None, None) => 1,
    }
}

#[cfg(not(unix))]
fn exit_code(status: ExitStatus) -> u8 {
    status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .unwrap_or(1)
}

/// Passes SIGINT and SIGTERM on to the command. Handling them also keeps the wrapper
/// alive until the command ends, so the finish ping still goes out.
#[cfg(unix)]
struct Forwarder {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Forwarder {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn wait(mut self, child: &mut Child) -> std::io::Result<ExitStatus> {
        use rustix::process::{Pid, Signal as Sig, kill_process};

        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw);
        loop {
            let forward = tokio::select! {
                status = child.wait() => return status,
                Some(()) = next(&mut self.interrupt) => Sig::INT,
                Some(()) = next(&mut self.terminate) => Sig::TERM,
            };
            if let Some(pid) = pid {
                // The child may have just exited; `wait` above reports that.
                let _ = kill_process(pid, forward);
            }
        }
    }
}

#[cfg(unix)]
async fn next(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
struct Forwarder;

#[cfg(not(unix))]
impl Forwarder {
    fn install() -> Self {
        Forwarder
    }

    async fn wait(self, child: &mut Child) -> std::io::Result<ExitStatus> {
        child.wait().await
    }
}
