"""Browser tests: Debian's Chromium, driven by Playwright, against the real running app.

One stack for the session (private redis-server, one solo Celery worker on the test model,
uvicorn serving the API and `frontend/`), built from the service tests' process helpers.
Every page records console errors, uncaught exceptions and Content-Security-Policy violations; a
test fails on any it did not declare (the only ones a test may declare are the browser's "Failed to
load resource" lines for error answers it provoked on purpose).
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data
from PIL import Image

from tests.service.stack import Api, RedisServer, Worker, model_dir_for_tests, stack_env

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Small limits keep the error tests cheap; steps small for this CPU (the same for either solver).
MAX_UPLOAD_BYTES = 2_000_000
DEFAULT_STEPS = 10
#: Inversion steps of the page's encodes (the server's default; the page does not send any).
ENCODE_STEPS = 12
#: Generous: the CPU is shared with a training job.
JOB_TIMEOUT_MS = 180_000
#: Reports every CSP violation of every document the page loads (most also reach the console as
#: errors, not all: this names the directive and what was blocked).
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', (e) => window.reportCspViolation(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'an inline source'}`
  + ` at ${e.sourceFile}:${e.lineNumber}`));"""


@dataclass
class App:
    url: str
    logs: Path


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: run `bash scripts/setup.sh` (it apt-installs chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def app(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The whole product on a free port: redis-server, Celery worker, uvicorn + frontend."""
    model_dir = model_dir_for_tests()
    logs = tmp_path_factory.mktemp("browser-logs")
    server = RedisServer(logs).start()
    worker = Worker(stack_env(server.url(), model_dir), logs, "browser").start()
    api = Api(
        stack_env(server.url(), model_dir, default_steps=DEFAULT_STEPS, default_encode_steps=ENCODE_STEPS,
                  dpm_steps=DEFAULT_STEPS, dpm_encode_steps=ENCODE_STEPS, max_upload_bytes=MAX_UPLOAD_BYTES),
        logs,
    ).start()
    try:
        api.wait_ready()
        worker.wait_ready(server.client())
        yield App(api.url, logs)
    finally:
        api.stop()
        worker.stop()
        server.stop()


@pytest.fixture(scope="session")
def app_without_worker(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """Redis and the API but no worker: the queue is down (healthz 503, jobs refused)."""
    model_dir = model_dir_for_tests()
    logs = tmp_path_factory.mktemp("browser-logs-down")
    server = RedisServer(logs).start()
    api = Api(stack_env(server.url(), model_dir, retry_after_seconds=7), logs, name="api-down").start()
    try:
        api.wait_ready()
        yield App(api.url, logs)
    finally:
        api.stop()
        server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=JOB_TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Console:
    """Console errors and page errors of one page, and the HTTP errors a test provoked."""

    errors: list[str] = field(default_factory=list)
    allowed: list[tuple[int, str]] = field(default_factory=list)

    def allow_http_error(self, status: int, path: str) -> None:
        """Accept Chromium's "Failed to load resource ... status of `status`" for a URL ending in `path`."""
        self.allowed.append((status, path))

    def on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        text, url = message.text, (message.location or {}).get("url", "")
        match = re.match(r"Failed to load resource: the server responded with a status of (\d+)", text)
        if match and any(int(match[1]) == s and url.split("?")[0].endswith(p) for s, p in self.allowed):
            return
        self.errors.append(f"console error: {text} ({url})")

    def on_page_error(self, error: Any) -> None:
        self.errors.append(f"page error: {error}")

    def on_csp_violation(self, text: str) -> None:
        self.errors.append(f"CSP violation: {text}")


@pytest.fixture
def console() -> Console:
    return Console()


def _watched_page(browser: Any, console: Console, request: pytest.FixtureRequest, artifacts: Path,
                  **context_options: Any) -> Iterator[Any]:
    """A fresh page in its own context (its own cache and localStorage); fails the test on
    unexpected console errors, page errors and CSP violations."""
    context = browser.new_context(accept_downloads=True, **context_options)
    page = context.new_page()
    page.set_default_timeout(JOB_TIMEOUT_MS)
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    page.expose_function("reportCspViolation", console.on_csp_violation)
    page.add_init_script(CSP_LISTENER)
    try:
        yield page
        page.wait_for_timeout(300)  # late errors (a stray request, a failed image) still count
        assert console.errors == [], "\n".join(console.errors)
    finally:
        name = re.sub(r"[^\w-]+", "_", request.node.name)
        page.screenshot(path=str(artifacts / f"{name}-final.png"), full_page=True)
        context.close()


@pytest.fixture
def page(browser: Any, console: Console, request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Any]:
    """A fresh desktop-sized page."""
    yield from _watched_page(browser, console, request, artifacts, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser: Any, console: Console, request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Any]:
    """A fresh page as on a phone: 390 × 844, touch, a coarse pointer."""
    yield from _watched_page(browser, console, request, artifacts, viewport={"width": 390, "height": 844},
                             is_mobile=True, has_touch=True)


# ----------------------------------------------------------------------------- photos
def save_jpeg(image: Image.Image, path: Path) -> Path:
    image.save(path, format="JPEG", quality=90)
    return path


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files a user might pick: the astronaut, a second face, two faces, no face, not a photo."""
    root = tmp_path_factory.mktemp("photos")
    astronaut = Image.fromarray(skimage.data.astronaut())
    second = astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT).convert("L").convert("RGB")
    pair = Image.new("RGB", (1024, 512))
    pair.paste(astronaut, (0, 0))
    pair.paste(second, (512, 0))
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    big = Image.fromarray(rng.integers(0, 256, (1100, 1100, 3), dtype=np.uint8))  # ~3.6 MB as PNG
    buffer = io.BytesIO()
    big.save(buffer, format="PNG", compress_level=0)
    (root / "huge.png").write_bytes(buffer.getvalue())
    (root / "notes.txt").write_text("not a photo\n")
    # Over the byte limit and not a picture any browser can read: refused before it is sent.
    garbage = rng.integers(0, 256, MAX_UPLOAD_BYTES + 100_000, dtype=np.uint8)
    (root / "garbage.jpg").write_bytes(garbage.tobytes())
    return {
        "astronaut": save_jpeg(astronaut, root / "astronaut.jpg"),
        "second": save_jpeg(second, root / "second.jpg"),
        "pair": save_jpeg(pair, root / "two-faces.jpg"),
        "noise": save_jpeg(noise, root / "noise.jpg"),
        "huge": root / "huge.png",
        "text": root / "notes.txt",
        "garbage": root / "garbage.jpg",
        "phone": phone_photo(astronaut, rng, root / "phone-photo.jpg"),
    }


#: The upright size of `phone_photo`: portrait, the face in the top part, plain grey below.
PHONE_PHOTO_SIZE = (1800, 2400)
#: EXIF Orientation "rotate 90° clockwise to display" (what phones write for a portrait shot).
EXIF_ROTATE_CW = 6


def phone_photo(face: Image.Image, rng: np.random.Generator, path: Path) -> Path:
    """A photo as a phone sends it: 4.3 megapixels of grainy detail (well over 2 MB as JPEG) stored
    sideways, with an EXIF tag saying how to turn it upright."""
    upright = Image.new("RGB", PHONE_PHOTO_SIZE, (128, 128, 128))
    upright.paste(face.resize((PHONE_PHOTO_SIZE[0],) * 2, Image.Resampling.LANCZOS), (0, 0))
    grain = rng.normal(0, 12, (PHONE_PHOTO_SIZE[1], PHONE_PHOTO_SIZE[0], 3))
    upright = Image.fromarray(np.clip(np.asarray(upright, dtype=np.float64) + grain, 0, 255).astype(np.uint8))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise: tag 6 turns it back
    exif = Image.Exif()
    exif[0x0112] = EXIF_ROTATE_CW
    stored.save(path, format="JPEG", quality=95, exif=exif.tobytes())
    assert path.stat().st_size > MAX_UPLOAD_BYTES, path.stat().st_size
    return path


class Timer:
    """Wall times of user steps, written to artifacts/browser/timings.txt at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []

    def measure(self, label: str) -> _Span:
        return _Span(self, label)


class _Span:
    def __init__(self, timer: Timer, label: str) -> None:
        self.timer, self.label = timer, label

    def __enter__(self) -> _Span:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.timer.rows.append((self.label, time.monotonic() - self.start))


@pytest.fixture(scope="session")
def timer(artifacts: Path) -> Iterator[Timer]:
    t = Timer()
    yield t
    if t.rows:
        text = "".join(f"{label}: {seconds:.1f} s\n" for label, seconds in t.rows)
        (artifacts / "timings.txt").write_text(text)
        print("\nbrowser step timings:\n" + text)
