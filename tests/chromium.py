"""Drive headless Chromium over the DevTools protocol through a pipe (no websocket library).

``chromium --remote-debugging-pipe`` reads DevTools commands from file
descriptor 3 and writes replies and events to descriptor 4, each message a
JSON object ended by a NUL byte. That is all a test needs to open a report,
record every network request the page makes (``Network.requestWillBeSent``),
inspect its images, and take a screenshot. Used by the browser tests and by
``docs/screenshots.py``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: The flags the issue asks for, plus the pipe and a private profile.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--remote-debugging-pipe", "--hide-scrollbars",
         "--mute-audio", "--no-default-browser-check"]  # fmt: skip


def available() -> bool:
    return Path(CHROMIUM).exists()


class DevToolsError(RuntimeError):
    pass


def _high_pipe() -> tuple[int, int]:
    """A pipe whose descriptors are >= 10 (close-on-exec), so mapping them onto 3 and 4 cannot collide."""
    low = os.pipe()
    try:
        return fcntl.fcntl(low[0], fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(low[1], fcntl.F_DUPFD_CLOEXEC, 10)
    finally:
        os.close(low[0])
        os.close(low[1])


class Chromium:
    """A headless Chromium with one page, driven over the DevTools pipe.

    >>> with Chromium() as browser:                         # doctest: +SKIP
    ...     page = browser.open("file:///tmp/report.html")
    ...     page["images"], browser.requests
    """

    def __init__(self, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="dynamics-chromium-")
        to_child_r, to_child_w = _high_pipe()
        from_child_r, from_child_w = _high_pipe()

        def wire() -> None:
            # In the child before exec: dup2 makes 3 and 4 inheritable; every other descriptor Python
            # opened is close-on-exec (PEP 446), so close_fds is not needed (and pass_fds cannot name
            # descriptors that only exist after this function has run).
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=wire,  # noqa: PLW1509 - single-threaded test helper
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._w, self._r = to_child_w, from_child_r
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.session: str | None = None

    # -- protocol ---------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DevToolsError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise DevToolsError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self.events.append(message)
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True) -> dict[str, Any]:
        """Send one command and wait for its reply (events meanwhile are recorded)."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise DevToolsError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_event(self, method: str, *, since: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events[since:]:
                if event["method"] == method:
                    return event
            since = len(self.events)
            self._read_message(deadline)

    # -- page -------------------------------------------------------------------------------
    def start(self, *, width: int = 1280, height: int = 900, mobile: bool = False, scale: float = 1.0) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Page.enable")
        self.send("Network.enable")
        self.send("Runtime.enable")
        self.viewport(width=width, height=height, mobile=mobile, scale=scale)

    def viewport(self, *, width: int, height: int, mobile: bool = False, scale: float = 1.0) -> None:
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})

    def open(self, url: str) -> dict[str, Any]:
        """Load ``url``, wait for its load event, and describe the page (``requests`` starts afresh)."""
        self.requests = []
        mark = len(self.events)
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", since=mark)
        return self.describe()

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise DevToolsError(str(result["exceptionDetails"]))
        return result["result"].get("value")

    def describe(self) -> dict[str, Any]:
        """Images (natural size, complete), page widths, and scripts (the test page must have none)."""
        return self.evaluate(
            "({images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, "
            "naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, width: i.getBoundingClientRect().width})),"
            " scripts: document.scripts.length, scrollWidth: document.documentElement.scrollWidth,"
            " innerWidth: window.innerWidth, height: document.documentElement.scrollHeight,"
            " title: document.title})"
        )

    def screenshot(self, path: str | Path, *, full_page: bool = False, top: float = 0.0, height: float | None = None,
                   max_height: int = 16000) -> Path:
        """Save a PNG of the viewport, of the whole page (up to ``max_height`` CSS pixels), or of the band
        of the page from ``top`` that is ``height`` pixels tall."""
        params: dict[str, Any] = {"format": "png"}
        if full_page or top or height:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            tall = size["height"] - top if height is None else min(height, size["height"] - top)
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": top, "width": size["width"], "height": min(tall, max_height), "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def top_of(self, selector: str) -> float:
        """Page y of the first element matching a CSS selector."""
        return float(self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            "return e ? e.getBoundingClientRect().top + window.scrollY : 0; })()"))

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", session=False)
                except (DevToolsError, OSError):
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        finally:
            for fd in (self._w, self._r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
