"""Run the playground in a real Streamlit server and drive it with the system Chromium.

The project's own browser fixture (written from the team's reference helper, not importing it):

* :func:`run_streamlit` starts ``python serve.py`` (``streamlit run app.py``) headless on a free
  127.0.0.1 port, without file watcher or usage statistics, in its own process group,
  waits for ``/_stcore/health`` and kills the whole group afterwards;
* :func:`checkpoint_folder` makes a temporary checkpoint folder holding a copy of the
  shipped ``checkpoints/default.pt`` (what a first start sees), for ``SEQ2SEQ_CHECKPOINT_DIR``;
* :func:`chromium_context` launches Chromium (Debian's ``/usr/bin/chromium``, not a
  ``playwright install`` download) with a fresh throw-away profile;
* small page helpers (open a view, wait for Streamlit to finish a rerun, fill a text field).

Used by ``tests/browser`` and ``bench/ui_bench.py``.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.service.workspaces import workspaces_root

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "serve.py"     # the README's command: streamlit run app.py, the engine imported first
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "default.pt"

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# Root in a box without outside network: no sandbox, nothing that phones home.
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
VIEWPORT = {"width": 1400, "height": 1000}
# Every wait of the helpers below is a hang guard, not a speed check (speed is bench/'s):
# on a busy 2-core machine a view can take a minute to open, so the guards are minutes.
HANG_GUARD_MS = 180_000

# view -> (URL path, title text as the page's st.title shows it)
VIEWS = {
    "home": ("/", "seq2seq playground"),
    "home-link": ("/Home", "seq2seq playground"),   # pages/8_🔁_Home.py sends /Home to the home page
    "train": ("/Train", "Train"),
    "masking": ("/Masking", "Masking"),
    "decode": ("/Decode", "Decode"),
    "bleu": ("/BLEU", "BLEU"),
}
NAV_LABELS = ("Home", "Train", "Masking", "Decode", "BLEU")


def all_views() -> dict[str, tuple[str, str]]:
    """VIEWS plus any other page in pages/ (legacy naming `N_<icon>_<Label>.py` -> `/<Label>`)."""
    views = dict(VIEWS)
    known = {path for path, _ in VIEWS.values()}
    for file in sorted((ROOT / "pages").glob("*.py"), key=lambda p: p.name):
        label = re.sub(r"^\d+_", "", file.stem).split("_")[-1]
        if f"/{label}" not in known:
            views[label.lower()] = (f"/{label}", label)
    return views


# -- availability ------------------------------------------------------------------------------
def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM_PATH")
    if env:
        return env if os.path.isfile(env) and os.access(env, os.X_OK) else None
    for path in CHROMIUM_CANDIDATES:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_missing_reason() -> str | None:
    """Why no browser test can run here (playwright or Chromium missing), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package 'playwright' is not installed (pip install playwright)"
    if find_chromium() is None:
        return "no Chromium binary (apt-get install chromium, or set CHROMIUM_PATH)"
    return None


# -- server ------------------------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class StreamlitServer:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path
    checkpoint_dir: Path
    health_seconds: float = 0.0

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url}/_stcore/health did not answer 200 within {timeout:.0f}s")


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def checkpoint_folder() -> Iterator[Path]:
    """A temporary checkpoint folder with a copy of the shipped default.pt (a first start)."""
    folder = Path(tempfile.mkdtemp(prefix="seq2seq-ckpt-"))
    try:
        if DEFAULT_CHECKPOINT.is_file():
            shutil.copy2(DEFAULT_CHECKPOINT, folder / "default.pt")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def run_streamlit(checkpoint_dir: Path, *, env: Mapping[str, str] | None = None,
                  extra_args: Sequence[str] = (), startup_timeout: float = 180.0) -> Iterator[StreamlitServer]:
    """The README's `python serve.py` (`streamlit run app.py`, the engine imported first) on a free
    port with `SEQ2SEQ_CHECKPOINT_DIR=checkpoint_dir`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, str(SERVE),
           "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *extra_args]
    full_env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONUNBUFFERED": "1",
                "SEQ2SEQ_CHECKPOINT_DIR": str(checkpoint_dir), **(env or {})}
    log_fd, log_name = tempfile.mkstemp(prefix="streamlit-", suffix=".log")
    t0 = time.monotonic()
    with os.fdopen(log_fd, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = StreamlitServer(url, port, proc, Path(log_name), Path(checkpoint_dir))
    try:
        try:
            _wait_healthy(url, proc, startup_timeout)
        except BaseException:
            sys.stderr.write(f"--- streamlit log ---\n{server.log()[-4000:]}\n")
            raise
        server.health_seconds = time.monotonic() - t0
        yield server
    finally:
        _stop_group(proc)
        with contextlib.suppress(OSError):
            server.log_path.unlink()


def saved_run(checkpoint_dir: Path, name: str) -> Path | None:
    """The checkpoint a browser saved (trained, continued, imported) as `name.pt`: it lies in that
    browser's workspace, `<checkpoint folder>/workspaces/<id>/` (core.service.workspaces); None
    while no browser has saved one."""
    found = sorted(workspaces_root(checkpoint_dir).glob(f"*/{name}.pt"))
    assert len(found) <= 1, f"{name}.pt saved by more than one browser: {found}"
    return found[0] if found else None


def cache_computations(url: str, cache: str) -> int:
    """How often one st.cache_* function actually ran on the server at `url`, from Streamlit's
    /_stcore/metrics. (Its "miss" lookups also count the sessions that waited for another one's
    computation.)"""
    with urllib.request.urlopen(url + "/_stcore/metrics", timeout=10) as resp:
        text = resp.read().decode()
    m = re.search(r'cache_compute_duration_seconds_count\{cache="' + re.escape(cache)
                  + r'"[^}]*trigger="miss"\} (\d+)', text)
    if not m:
        raise LookupError(f"no cache metric for {cache} in /_stcore/metrics")
    return int(m.group(1))


# Installed in every page before the app's scripts: counts finished Streamlit runs (to wait for
# a rerun), records every document.title and every <img> that failed to load (script injection).
WATCH_SCRIPT = """
(() => {
  window.__st_runs = 0; window.__titles = []; window.__img_errors = [];
  window.addEventListener('error', (e) => {
    const t = e.target;
    if (t && t.tagName === 'IMG') window.__img_errors.push(t.getAttribute('src'));
  }, true);

  // Finished script runs, counted from the server's messages: the DOM's script-state attribute
  // can skip 'running' entirely when a busy browser batches two React updates into one render.
  // ForwardMsg field 6 (script_finished) is a varint enum; 2 = finished early for a rerun.
  const varint = (b, i) => { let v = 0, s = 0, c;
    do { c = b[i++]; v += (c & 0x7f) * 2 ** s; s += 7; } while (c & 0x80); return [v, i]; };
  const finishStatus = (b) => {
    let i = 0;
    while (i < b.length) {
      let tag; [tag, i] = varint(b, i);
      const field = Math.floor(tag / 8), wire = tag % 8;
      if (wire === 0) { let v; [v, i] = varint(b, i); if (field === 6) return v; }
      else if (wire === 2) { let n; [n, i] = varint(b, i); i += n; }
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return null;
    }
    return null;
  };
  const NativeWebSocket = window.WebSocket;
  class CountingWebSocket extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {    // added before Streamlit's own listener
        if (!(e.data instanceof ArrayBuffer)) return;
        const status = finishStatus(new Uint8Array(e.data));
        if (status !== null && status !== 2) window.__st_runs++;
      });
    }
  }
  window.WebSocket = CountingWebSocket;

  const hook = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) { setTimeout(hook, 20); return; }
    let title = document.title;
    new MutationObserver(() => {
      if (document.title !== title) { title = document.title; window.__titles.push(title); }
    }).observe(document.documentElement, {subtree: true, childList: true, characterData: true});
  };
  hook();
})();
"""


# -- browser -----------------------------------------------------------------------------------
@contextlib.contextmanager
def chromium_context(*, viewport: Mapping[str, int] | None = None, default_timeout_ms: float = HANG_GUARD_MS):
    """A Playwright BrowserContext on the system Chromium with a fresh profile.

    Each page (tab) of the context is its own Streamlit session.
    """
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    if exe is None:
        raise RuntimeError(browser_missing_reason() or "no chromium")
    profile = tempfile.mkdtemp(prefix="pw-chromium-profile-")
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(profile, executable_path=exe, headless=True,
                                                        args=list(CHROMIUM_ARGS),
                                                        viewport=dict(viewport or VIEWPORT))
            ctx.set_default_timeout(default_timeout_ms)
            ctx.add_init_script(WATCH_SCRIPT)
            try:
                yield ctx
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@contextlib.contextmanager
def separate_browsers(count: int, *, viewport: Mapping[str, int] | None = None,
                      default_timeout_ms: float = HANG_GUARD_MS):
    """`count` BrowserContexts of one Chromium that share nothing (cookies, storage): as many
    students' browsers on one machine; each page of one is a tab of that browser."""
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    if exe is None:
        raise RuntimeError(browser_missing_reason() or "no chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=exe, headless=True, args=list(CHROMIUM_ARGS))
        try:
            contexts = [chromium.new_context(viewport=dict(viewport or VIEWPORT)) for _ in range(count)]
            for ctx in contexts:
                ctx.set_default_timeout(default_timeout_ms)
                ctx.add_init_script(WATCH_SCRIPT)
            yield contexts
        finally:
            chromium.close()


def first_page(ctx):
    return ctx.pages[0] if ctx.pages else ctx.new_page()


# -- page helpers ------------------------------------------------------------------------------
def title(page):
    """The view's st.title (an h1 inside the main block)."""
    return page.locator('[data-testid="stMain"] h1').first


IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stSkeleton"]');
}"""


def wait_idle(page, timeout_ms: float = HANG_GUARD_MS) -> None:
    """Wait until the script is not running and every element has been drawn (no skeletons)."""
    page.wait_for_function(IDLE_JS, timeout=timeout_ms, polling=50)


def settle(page) -> None:
    """Two animation frames: the messages received so far are processed and rendered."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def runs(page) -> int:
    """Finished script and fragment runs of this page so far (counted by WATCH_SCRIPT)."""
    return page.evaluate("window.__st_runs || 0")


def rerun(page, action, timeout_ms: float = HANG_GUARD_MS) -> None:
    """Do `action()` (something that makes Streamlit rerun), then wait for that rerun to finish."""
    before = runs(page)
    action()
    page.wait_for_function(f"(window.__st_runs || 0) > {before}", timeout=timeout_ms, polling=50)
    settle(page)
    wait_idle(page, timeout_ms)


def open_view(page, base_url: str, view: str, timeout_ms: float = HANG_GUARD_MS) -> None:
    """Go to a view by URL and wait for its title and the end of the first run."""
    path, text = all_views()[view]
    page.goto(base_url + path)
    title(page).filter(has_text=re.compile(re.escape(text), re.I)).wait_for(timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def text_input(page, label: str):
    """The <input>/<textarea> of the text widget whose label is `label`."""
    return page.get_by_label(label, exact=True)


def set_text(page, label: str, value: str, timeout_ms: float = HANG_GUARD_MS) -> None:
    """Type into a text (or number) input and submit it with Enter, waiting for the rerun."""
    box = text_input(page, label)
    if box.input_value() == str(value):
        return                      # unchanged: Streamlit would not rerun
    box.fill(str(value))
    rerun(page, lambda: box.press("Enter"), timeout_ms)


def choose(page, label: str, option: str, timeout_ms: float = HANG_GUARD_MS) -> None:
    """Pick `option` in the selectbox labelled `label`."""
    page.get_by_label(label, exact=True).click()
    rerun(page, lambda: page.get_by_role("option", name=option, exact=True).click(), timeout_ms)


def main_title(page) -> str:
    return title(page).inner_text()


def sidebar_nav(page) -> list[str]:
    """The labels of the sidebar's page links (icons dropped)."""
    return [a.inner_text().split("\n")[-1].strip()
            for a in page.locator('[data-testid="stSidebar"] .st-key-nav a').all()]


def plot_points(page, key: str) -> int:
    """The last x of the first trace of the plotly chart drawn with `key` (0 when not drawn yet):
    for a thinned live curve, the last step it shows."""
    css = "st-key-" + key.replace(".", "-")
    return page.evaluate(
        """(css) => { const gd = document.querySelector('.' + css + ' .js-plotly-plot');
                      const x = gd && gd.data && gd.data.length ? (gd.data[0].x || []) : [];
                      return x.length ? Number(x[x.length - 1]) : 0; }""", css)


def injection_evidence(page) -> dict:
    """What an injected `<img src=x onerror=...>` would leave behind on this page."""
    return page.evaluate("""() => ({
        title: document.title, titles: window.__titles || [],
        img_x: document.querySelectorAll('img[src="x"]').length,
        img_onerror: document.querySelectorAll('img[onerror]').length,
        img_errors: (window.__img_errors || []).filter(s => s === 'x'),
    })""")


def exceptions(page) -> int:
    return page.locator('[data-testid="stException"]').count()
