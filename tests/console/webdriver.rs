//! A small WebDriver (W3C) client for the console tests: starts
//! `chromedriver` on a free port and drives headless Chromium through it,
//! plain JSON over HTTP with reqwest.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// W3C's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Which browser a session drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Chromium through chromedriver.
    Chromium,
    /// Firefox through geckodriver.
    Firefox,
}

/// A browser binary and its WebDriver server.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) kind: Kind,
    pub(crate) binary: String,
    pub(crate) driver: String,
}

/// The first of `names` on PATH, or the path in `var`.
fn on_path(var: &str, names: &[&str]) -> Option<String> {
    if let Ok(p) = std::env::var(var) {
        return Some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

/// Where the browser and its driver are: Chromium from Debian's
/// `chromium` and `chromium-driver` packages (or `SEALQ_CHROMIUM` /
/// `SEALQ_CHROMEDRIVER`); Firefox from `firefox-esr` with geckodriver
/// (`cargo install geckodriver`; or `SEALQ_FIREFOX` / `SEALQ_GECKODRIVER`).
pub(crate) fn find_browser(kind: Kind) -> Result<Found, String> {
    let (binary, driver) = match kind {
        Kind::Chromium => (
            on_path(
                "SEALQ_CHROMIUM",
                &["chromium", "chromium-browser", "google-chrome"],
            )
            .ok_or("no chromium on PATH (Debian: apt-get install chromium chromium-driver)")?,
            on_path("SEALQ_CHROMEDRIVER", &["chromedriver"])
                .ok_or("no chromedriver on PATH (Debian: apt-get install chromium-driver)")?,
        ),
        Kind::Firefox => (
            on_path("SEALQ_FIREFOX", &["firefox-esr", "firefox"])
                .ok_or("no firefox on PATH (Debian: apt-get install firefox-esr)")?,
            on_path("SEALQ_GECKODRIVER", &["geckodriver"])
                .ok_or("no geckodriver on PATH (cargo install --locked geckodriver)")?,
        ),
    };
    Ok(Found { kind, binary, driver })
}

/// A running chromedriver and one browser session; both end on drop.
pub(crate) struct Browser {
    kind: Kind,
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
    /// Where the driver's output goes (Firefox prints the page's console
    /// there).
    output: std::path::PathBuf,
    /// How much of `output` [`Self::page_errors`] has read.
    read: std::sync::atomic::AtomicUsize,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_file(&self.output);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `width`×`height`
    /// window.
    pub(crate) async fn start(found: &Found, width: u32, height: u32) -> Result<Self, String> {
        let port = free_port();
        let output = std::env::temp_dir().join(format!("sealq-webdriver-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&output).map_err(|e| format!("{}: {e}", output.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&found.driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", found.driver))?;
        let mut b = Self {
            kind: found.kind,
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            driver: child,
            output,
            read: std::sync::atomic::AtomicUsize::new(0),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(v) = b.call("GET", "/status", None).await
                && v["ready"] == true
            {
                break;
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not become ready in 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = match found.kind {
            Kind::Chromium => json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": found.binary,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             format!("--window-size={width},{height}"), "--hide-scrollbars"],
                },
                "goog:loggingPrefs": {"browser": "ALL"},
            }}}),
            Kind::Firefox => json!({"capabilities": {"alwaysMatch": {
                "browserName": "firefox",
                "moz:firefoxOptions": {
                    "binary": found.binary,
                    "args": ["-headless"],
                    // The page's console (and its errors) go to the driver's output.
                    "prefs": {"devtools.console.stdout.content": true},
                },
            }}}),
        };
        let v = b.call("POST", "/session", Some(caps)).await?;
        b.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session: {v}"))?
            .to_owned();
        if found.kind == Kind::Firefox {
            // Headless Firefox takes its window size from WebDriver.
            b.session(
                "POST",
                "/window/rect",
                Some(json!({ "width": width, "height": height })),
            )
            .await?;
        }
        Ok(b)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let resp = req.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {}", v["value"]));
        }
        Ok(v.get("value").cloned().unwrap_or(v))
    }

    async fn session(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Which browser this is.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// Opens `url`.
    pub(crate) async fn goto(&self, url: &str) -> Result<(), String> {
        self.session("POST", "/url", Some(json!({ "url": url })))
            .await
            .map(drop)
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub(crate) async fn js(&self, script: &str) -> Result<Value, String> {
        self.session(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// The element `css` selects (an error when none does).
    pub(crate) async fn find(&self, css: &str) -> Result<String, String> {
        let v = self
            .session(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        v[ELEMENT]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no element {css}: {v}"))
    }

    /// Clicks the element `css` selects, as a user would.
    pub(crate) async fn click(&self, css: &str) -> Result<(), String> {
        let el = self.find(css).await?;
        self.session("POST", &format!("/element/{el}/click"), None)
            .await
            .map(drop)
    }

    /// Replaces the value of the input `css` selects by typing `text`.
    pub(crate) async fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let el = self.find(css).await?;
        self.session("POST", &format!("/element/{el}/clear"), None)
            .await?;
        self.keys(css, text).await
    }

    /// Sends keys to the element `css` selects (e.g. "\u{E007}" for Enter).
    pub(crate) async fn keys(&self, css: &str, text: &str) -> Result<(), String> {
        let el = self.find(css).await?;
        self.session(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await
        .map(drop)
    }

    /// Waits (up to 10 s) until `script` returns a truthy value; that value.
    pub(crate) async fn wait_for(&self, what: &str, script: &str) -> Result<Value, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.js(script).await?;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(v);
            }
            if Instant::now() > deadline {
                let status = self
                    .js("return document.getElementById('status').textContent")
                    .await
                    .unwrap_or_default();
                return Err(format!("timed out waiting for {what} (status line: {status})"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the viewport.
    pub(crate) async fn screenshot(&self) -> Result<Vec<u8>, String> {
        let v = self.session("GET", "/screenshot", None).await?;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| format!("screenshot: {e}"))
    }

    /// Errors the page reported since the last call: uncaught exceptions
    /// (both browsers) and failed loads (Chromium's log at SEVERE; Firefox
    /// prints its `JavaScript error` lines to the driver's output).
    pub(crate) async fn page_errors(&self) -> Result<Vec<String>, String> {
        match self.kind {
            Kind::Chromium => Ok(self
                .console_log()
                .await?
                .into_iter()
                .filter(|(level, _)| level == "SEVERE")
                .map(|(_, m)| m)
                .collect()),
            Kind::Firefox => {
                let all = std::fs::read_to_string(&self.output).unwrap_or_default();
                let from = self
                    .read
                    .swap(all.len(), std::sync::atomic::Ordering::Relaxed)
                    .min(all.len());
                let out = &all[from..];
                // Only the page's own errors: Firefox prints its internal
                // ones there too.
                Ok(out
                    .lines()
                    .filter(|l| l.contains("JavaScript error") && l.contains("/_sealq/"))
                    .map(str::to_owned)
                    .collect())
            }
        }
    }

    /// The browser console's entries since the last call (level, message).
    async fn console_log(&self) -> Result<Vec<(String, String)>, String> {
        let v = self
            .session("POST", "/se/log", Some(json!({ "type": "browser" })))
            .await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_owned(),
                            e["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Ends the session (the driver stops on drop).
    pub(crate) async fn quit(self) {
        let _ = self.session("DELETE", "", None).await;
    }
}
