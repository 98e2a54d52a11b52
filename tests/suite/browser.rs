//! The HTML report in a real browser: Debian's headless Chromium opens it
//! from `file://`, logs no console error or exception, the flamegraph zooms
//! on a click, and a screenshot is taken.
//!
//! Chromium is driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: JSON messages separated by NUL bytes on file
//! descriptors 3 and 4), so no driver or WebSocket client is needed. When
//! Chromium is missing, the test installs Debian's `chromium` package (as
//! root); where it cannot, it says so on stderr and skips.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::common::fixture;
use super::common::run::{REPORT_BOUND, heapcost};

fn find_chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Chromium, installed from Debian when missing and possible.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = find_chromium() {
        return Some(p);
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root && Path::new("/usr/bin/apt-get").exists() {
        eprintln!("browser test: installing Debian's chromium package (apt-get)...");
        let ok = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
            ])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("browser test: apt-get install chromium failed");
        }
    }
    find_chromium()
}

/// A Chromium process driven over the DevTools pipe.
struct Browser {
    child: Child,
    to: std::fs::File,
    from: Receiver<Value>,
    next: u64,
    session: Option<String>,
    events: Vec<Value>,
    _profile: TempDir,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe(2) writes.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe: {}", std::io::Error::last_os_error());
    // SAFETY: pipe(2) succeeded, so both descriptors are open and ours.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    fn launch(chromium: &Path) -> Browser {
        use std::os::fd::AsRawFd;
        let profile = TempDir::new().unwrap();
        let (to_chrome_r, to_chrome_w) = pipe();
        let (from_chrome_r, from_chrome_w) = pipe();
        let (r3, w4) = (to_chrome_r.as_raw_fd(), from_chrome_w.as_raw_fd());
        let mut cmd = Command::new(chromium);
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--remote-debugging-pipe",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(r3, 3) < 0 || libc::dup2(w4, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start chromium");
        drop(to_chrome_r);
        drop(from_chrome_w);
        let (tx, rx) = channel();
        let reader = std::fs::File::from(from_chrome_r);
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            let mut buf = Vec::new();
            while r.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        Browser {
            child,
            to: std::fs::File::from(to_chrome_w),
            from: rx,
            next: 0,
            session: None,
            events: Vec::new(),
            _profile: profile,
        }
    }

    /// Sends a command (to the attached page when there is one) and waits
    /// for its answer, keeping the events that arrive meanwhile.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer from chromium to {method}"));
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Waits for an event of the page.
    fn wait_for(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("chromium never sent {method}"));
            let hit = v["method"] == method;
            self.events.push(v);
            if hit {
                return;
            }
        }
    }

    fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": js, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    /// Console errors, uncaught exceptions and error log entries so far.
    fn errors(&mut self) -> Vec<String> {
        // Let pending events arrive.
        while let Ok(v) = self.from.recv_timeout(Duration::from_millis(300)) {
            self.events.push(v);
        }
        self.events
            .iter()
            .filter_map(|e| match e["method"].as_str()? {
                "Runtime.exceptionThrown" => Some(e["params"]["exceptionDetails"].to_string()),
                "Runtime.consoleAPICalled" if e["params"]["type"] == "error" => {
                    Some(e["params"]["args"].to_string())
                }
                "Log.entryAdded" if e["params"]["entry"]["level"] == "error" => {
                    Some(e["params"]["entry"].to_string())
                }
                _ => None,
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Center of the frame whose title starts with `prefix` in the flamegraph
/// iframe `id`, in page coordinates, and its width; scrolls it into view.
fn frame_js(id: &str, prefix: &str) -> String {
    format!(
        r#"(() => {{
  const f = document.getElementById({id:?});
  f.scrollIntoView();
  const d = f.contentDocument;
  const g = [...d.querySelectorAll('#frames g')].find(g => {{
    const t = g.querySelector('title'); return t && t.textContent.startsWith({prefix:?});
  }});
  if (!g) return null;
  const r = g.querySelector('rect').getBoundingClientRect();
  const o = f.getBoundingClientRect();
  return {{ x: o.left + r.left + r.width / 2, y: o.top + r.top + r.height / 2, width: r.width,
           unzoomHidden: d.getElementById('unzoom').classList.contains('hide') }};
}})()"#
    )
}

/// Writes the report of mini-envoy's dumps 1 to 3 against dump 2 as `html`.
fn write_report(html: &Path) {
    let mini = |n: u32| fixture(&format!("mini-envoy/mini-envoy.000{n}.heap"));
    let out = heapcost()
        .timeout(REPORT_BOUND)
        .arg("report")
        .arg("-b")
        .arg(fixture("mini-envoy/mini-envoy"))
        .arg("--symbols-path")
        .arg(fixture("mini-envoy"))
        .arg("--base")
        .arg(mini(2))
        .args([mini(1), mini(2), mini(3)])
        .arg("-o")
        .arg(html)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Chromium with `html` loaded in a 1400x1000 page, its console and log
/// recorded.
fn open(chromium: &Path, html: &Path) -> Browser {
    let mut b = Browser::launch(chromium);
    let target = b.call("Target.createTarget", json!({ "url": "about:blank" }));
    let attached = b.call(
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    );
    b.session = attached["sessionId"].as_str().map(String::from);
    for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
        b.call(domain, json!({}));
    }
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false }),
    );
    let url = format!("file://{}", html.display());
    b.call("Page.navigate", json!({ "url": url }));
    b.wait_for("Page.loadEventFired");
    b
}

/// Clicks sendBodyChunk: inferno zooms (the frame fills the width, the
/// "Reset Zoom" button appears).
fn click_zooms(b: &mut Browser) {
    let prefix = "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk";
    let before = b.eval(&frame_js("flame", prefix));
    assert!(
        before.is_object(),
        "no sendBodyChunk frame in the flamegraph"
    );
    assert_eq!(before["unzoomHidden"], json!(true));
    let (x, y) = (before["x"].as_f64().unwrap(), before["y"].as_f64().unwrap());
    for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
        b.call(
            "Input.dispatchMouseEvent",
            json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
        );
    }
    let after = b.eval(&frame_js("flame", prefix));
    assert_eq!(after["unzoomHidden"], json!(false), "zoom did not happen");
    let (w0, w1) = (
        before["width"].as_f64().unwrap(),
        after["width"].as_f64().unwrap(),
    );
    assert!(w1 > w0 * 1.5 && w1 > 1000.0, "frame width {w0} -> {w1}");
}

/// Saves a PNG screenshot of the page under the build's temporary files.
fn screenshot(b: &mut Browser) {
    let shot = b.call("Page.captureScreenshot", json!({ "format": "png" }));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-zoomed.png");
    std::fs::write(&path, &png).unwrap();
    eprintln!("browser test: screenshot at {}", path.display());
}

#[test]
fn report_opens_in_chromium_without_errors_and_the_flamegraph_zooms() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED report_opens_in_chromium...: no Chromium here and it cannot be installed \
(needs root and apt-get); install Debian's chromium package to run it"
        );
        return;
    };
    let dir = TempDir::new().unwrap();
    let html = dir.path().join("report.html");
    write_report(&html);
    let mut b = open(&chromium, &html);

    // The page is what we wrote: the owner table and both flamegraphs.
    assert_eq!(
        b.eval("document.querySelectorAll('#owners tr').length > 5"),
        json!(true)
    );
    assert_eq!(
        b.eval("!!document.getElementById('diff-flame').contentDocument.getElementById('frames')"),
        json!(true)
    );
    click_zooms(&mut b);
    screenshot(&mut b);

    let errors = b.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}
