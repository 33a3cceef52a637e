"""The web UI in a real browser: `aimdb serve` on a seeded SQLite + FAISS database, and
Debian's Chromium driven by Playwright. Screenshots of every page go to
`target/ui-screenshots` (or `AIMDB_SCREENSHOTS`)."""

import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
from playwright.sync_api import sync_playwright

from seed import Api, seed

ROOT = pathlib.Path(__file__).resolve().parents[4]
SCREENSHOTS = pathlib.Path(os.environ.get("AIMDB_SCREENSHOTS", ROOT / "target" / "ui-screenshots"))
# As the machine's own probe starts it: no sandbox (root), and nothing that calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def unavailable(message: str):
    """Skips a test whose tool is missing; under `CI=true` that is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def aimdb_bin() -> str:
    path = os.environ.get("AIMDB_BIN", str(ROOT / "target" / "debug" / "aimdb"))
    if not os.path.exists(path):
        unavailable(f"no aimdb binary at {path} (cargo build -p aimdb-cli)")
    return path


class Server:
    """`aimdb serve` on a fresh directory; `env` adds to its environment (tokens)."""

    def __init__(self, env: dict | None = None):
        self.dir = tempfile.mkdtemp(prefix="aimdb-ui-")
        pathlib.Path(self.dir, "aimdb.yaml").write_text("backend: faiss\ndb_path: ./aimdb.db\nindex_path: ./index\n")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AIMDB_SERVER_")}
        environment.pop("AIMDB_DATABASE_URL", None)
        environment.update(env or {})
        self.process = subprocess.Popen(
            [aimdb_bin(), "--config", "aimdb.yaml", "serve", "--bind", "127.0.0.1:0"],
            cwd=self.dir, env=environment, stderr=subprocess.PIPE, text=True)
        self.url = None
        self.log = []
        deadline = time.monotonic() + 300
        while self.url is None:
            line = self.process.stderr.readline()
            if not line or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("aimdb serve did not start:\n" + "".join(self.log))
            self.log.append(line)
            if " on http://" in line:
                self.url = line.split(" on ", 1)[1].split()[0]
        # Keep reading its log so the pipe never fills.
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    server = Server()
    started = time.monotonic()
    server.ids = seed(Api(server.url))
    print(f"\nseeded {server.url} in {time.monotonic() - started:.1f} s")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    executable = os.environ.get("AIMDB_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(executable):
        unavailable(f"no Chromium at {executable} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page whose console errors, uncaught exceptions and failed requests are kept."""

    def __init__(self, page, base: str):
        self.page = page
        self.base = base
        self.problems = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def open(self, fragment: str = "/"):
        self.page.goto(f"{self.base}/#{fragment}")

    def screenshot(self, name: str):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def watched_page(chromium, base: str, **context):
    browser_context = chromium.new_context(**context)
    page = browser_context.new_page()
    page.set_default_timeout(20_000)
    return browser_context, Watched(page, base)


@pytest.fixture
def ui(chromium, server):
    """A laptop-sized page on the seeded server; the test fails on any console error or
    failed request."""
    context, watched = watched_page(chromium, server.url, viewport={"width": 1366, "height": 860})
    yield watched
    context.close()
    assert not watched.problems, "\n".join(watched.problems)


@pytest.fixture
def phone(chromium, server):
    context, watched = watched_page(chromium, server.url, viewport={"width": 390, "height": 844},
                                    device_scale_factor=2, is_mobile=True, has_touch=True)
    yield watched
    context.close()
    assert not watched.problems, "\n".join(watched.problems)
