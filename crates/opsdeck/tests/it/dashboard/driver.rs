//! A real headless Chromium for the dashboard tests: `chromedriver` started on a free port
//! in a process group of its own (so the browsers it starts go with it), a fresh profile
//! directory, and a WebDriver session through fantoccini. Without chromedriver the browser
//! tests say loudly that they did not run, and fail on CI (`CI=true`), which installs it.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::support::app::TestApp;
use crate::support::wait_for_async;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

const CHROMIUM_ARGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// Where screenshots go: `OPSDECK_TEST_ARTIFACTS`, else `test-artifacts` in the target
/// directory (`CARGO_TARGET_DIR`, else found from this test binary's own path).
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("OPSDECK_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("test-artifacts"));
    std::fs::create_dir_all(&dir).expect("create the test artifacts directory");
    dir
}

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // The binary runs from `<target>/<profile>/deps/`.
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// A running chromedriver; stopped, with every browser it started, when dropped.
pub struct Driver {
    child: Child,
    port: u16,
    profiles: Vec<PathBuf>,
}

impl Driver {
    /// Starts chromedriver, or returns `None` after a banner when it is not installed
    /// (panics instead on CI, where it must be).
    pub async fn start(test: &str) -> Option<Driver> {
        if !Path::new(CHROMEDRIVER).exists() {
            let message = format!(
                "{CHROMEDRIVER} is missing: install Debian's `chromium chromium-driver` to run the browser tests"
            );
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{message}");
            }
            eprintln!(
                "\n{bar}\n!! DID NOT RUN: {test}\n!! {message}\n{bar}\n",
                bar = "!".repeat(78)
            );
            return None;
        }
        let port = free_port();
        let log = artifacts_dir().join(format!("chromedriver-{test}.log"));
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver");
        let driver = Driver {
            child,
            port,
            profiles: Vec::new(),
        };
        let status = format!("http://127.0.0.1:{port}/status");
        let http = reqwest::Client::new();
        wait_for_async(Duration::from_secs(30), "chromedriver to answer", || {
            let request = http.get(&status).send();
            async move {
                let body: serde_json::Value = request.await.ok()?.json().await.ok()?;
                (body["value"]["ready"] == true).then_some(())
            }
        })
        .await;
        Some(driver)
    }

    /// A new browser session with a fresh profile (no cookies shared between sessions).
    pub async fn session(&mut self) -> Client {
        // fantoccini's connector builds a rustls configuration even for plain HTTP.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let profile =
            std::env::temp_dir().join(format!("opsdeck-chromium-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).expect("create the browser profile directory");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push("--window-size=1280,900".to_owned());
        self.profiles.push(profile);
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        ClientBuilder::rustls()
            .expect("TLS connector")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("start a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browsers of any session not closed (a test
        // that panicked halfway).
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for profile in &self.profiles {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Saves a PNG of what the browser shows now, and says where.
pub async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client.screenshot().await.expect("take a screenshot");
    let path = artifacts_dir().join(format!("dashboard-{name}.png"));
    std::fs::write(&path, png).expect("write the screenshot");
    eprintln!("screenshot: {}", path.display());
    path
}

/// Long enough for a 1 s probe and a 5 s refresh on a busy two-core machine.
pub const WITHIN: Duration = Duration::from_secs(30);

pub async fn path_of(browser: &Client) -> String {
    let url = browser.current_url().await.expect("current url");
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Signs in through the login page that `start` redirects to.
pub async fn sign_in(browser: &Client, app: &TestApp, token: &str, start: &str) {
    browser
        .goto(&app.url(start))
        .await
        .expect("open the dashboard");
    let at = path_of(browser).await;
    assert!(
        at.starts_with("/login?next="),
        "sent to the login page: {at}"
    );
    browser
        .find(Locator::Css("input[name=token]"))
        .await
        .expect("the token field")
        .send_keys(token)
        .await
        .expect("type the token");
    browser
        .find(Locator::Css("form[action='/login'] button[type=submit]"))
        .await
        .expect("the sign-in button")
        .click()
        .await
        .expect("sign in");
    let back = start.to_owned();
    let b = browser.clone();
    wait_for_async(WITHIN, "to land back where we started", move || {
        let (b, back) = (b.clone(), back.clone());
        async move { (path_of(&b).await == back).then_some(()) }
    })
    .await;
}

/// Waits until `selector` shows `needle`, polling the page as it is (no reload); saves the
/// page and a screenshot before failing.
pub async fn wait_for_text(browser: &Client, selector: &str, needle: &str) {
    let deadline = Instant::now() + WITHIN;
    while Instant::now() < deadline {
        if let Ok(element) = browser.find(Locator::Css(selector)).await
            && element.text().await.is_ok_and(|t| t.contains(needle))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(browser, "timeout-text").await;
    let path = artifacts_dir().join("dashboard-timeout-text.html");
    std::fs::write(&path, browser.source().await.unwrap_or_default()).unwrap();
    panic!(
        "{selector} did not show {needle:?} within {WITHIN:?}; page at {}",
        path.display()
    );
}
