//! The real `opsdeck` binary as a child process: started with an environment, its stderr
//! (JSON log lines) collected, its listening address read from the `listening` event.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::wait_for;

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_opsdeck")
}

/// A base command with a clean environment: only what the test passes, plus PATH and HOME.
pub fn command(args: &[&str], env: &BTreeMap<String, String>) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args).env_clear().kill_on_drop(true);
    for key in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(key) {
            cmd.env(key, v);
        }
    }
    cmd.envs(env);
    cmd
}

pub struct ServerProcess {
    pub child: Child,
    pub addr: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `opsdeck serve` on an ephemeral port and waits for it to listen.
    pub async fn start(env: &BTreeMap<String, String>) -> Self {
        let mut env = env.clone();
        env.entry("OPSDECK_LISTEN".into())
            .or_insert_with(|| "127.0.0.1:0".into());
        env.entry("OPSDECK_LOG_FORMAT".into())
            .or_insert_with(|| "json".into());
        // Unless the test is about the key file, none is written into the working directory.
        if !env.contains_key("OPSDECK_AUDIT__CHECKPOINT_KEY_FILE") {
            env.entry("OPSDECK_AUDIT__CHECKPOINT_KEY".into())
                .or_insert_with(|| super::app::CHECKPOINT_KEY.into());
        }
        Self::from_command(command(&["serve"], &env)).await
    }

    /// Starts a prepared `opsdeck serve` command that logs JSON, and waits for it to listen.
    pub async fn from_command(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn opsdeck serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr piped");
        {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lock().unwrap().push(line);
                }
            });
        }
        let addr = wait_for(Duration::from_secs(30), "opsdeck to listen", || {
            let log = log.lock().unwrap();
            log.iter().find_map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).ok()?;
                (v["message"] == "listening").then(|| v["address"].as_str().map(str::to_owned))?
            })
        })
        .await;
        Self { child, addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> i32 {
        self.child.id().expect("running child") as i32
    }

    /// Sends a signal with the `kill` utility (no libc binding needed in tests).
    pub async fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .expect("opsdeck did not exit in time")
            .expect("wait for opsdeck")
    }
}
