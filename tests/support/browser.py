"""Headless Chromium for the page tests: Debian's ``chromium`` driven by Playwright, each
page watched for console errors and failed requests, checked with axe-core, and
photographed into one folder that the test run names at its end."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("QJ_CHROMIUM", "/usr/bin/chromium")
#: Where the screenshots go (``make test`` prints it at the end).
SCREENSHOTS = ROOT / "build" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: Without the background-networking switches Chromium calls Google's hosts at start, and
#: the closed network refuses each call.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: What a page may take to show what a test waits for, on a busy machine.
PATIENCE_MS = 30_000

__all__ = [
    "AXE",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DESKTOP",
    "PATIENCE_MS",
    "PHONE",
    "SCREENSHOTS",
    "PageGuard",
    "accessibility_violations",
    "screenshot",
]


@dataclass
class PageGuard:
    """Every console error, uncaught exception and failed request of one page, so that a
    test can fail on them; a test that stops the server on purpose allows the failures it
    causes, for as long as it causes them."""

    page: Page
    problems: list[str] = field(default_factory=list)
    _allowed: list[Callable[[str], bool]] = field(default_factory=list)

    def watch(self) -> PageGuard:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self._add(f"uncaught: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)
        return self

    def _add(self, problem: str) -> None:
        if not any(allowed(problem) for allowed in self._allowed):
            self.problems.append(problem)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            self._add(f"console {message.type}: {message.text} ({message.location})")

    def _failed(self, request: Request) -> None:
        failure = request.failure or "failed"
        # A stream the page closes itself (navigating away, a restart it recovers from)
        # ends as aborted: not a failed request.
        if "ERR_ABORTED" in failure:
            return
        self._add(f"request failed: {request.method} {request.url}: {failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self._add(f"response {response.status}: {response.request.method} {response.url}")

    @contextmanager
    def allowing(self, problem: Callable[[str], bool]) -> Iterator[None]:
        """Problems ``problem`` matches are expected inside the block."""
        self._allowed.append(problem)
        try:
            yield
        finally:
            self._allowed.remove(problem)

    def check(self) -> None:
        assert not self.problems, "the page had problems:\n" + "\n".join(self.problems)


def accessibility_violations(page: Page, *, include: str | None = None) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page (or inside ``include``).

    axe is evaluated through the debugging protocol, which the page's Content Security
    Policy does not govern, so the page is checked with its real policy on."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    context = include or "document"
    results: dict[str, Any] = page.evaluate(
        f"""async () => await axe.run({"document" if include is None else repr(context)},
            {{resultTypes: ['violations']}})"""
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [node["target"] for node in v["nodes"]][:5],
        }
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Page, name: str) -> Path:
    """Save the page's picture as ``<name>.png`` in :data:`SCREENSHOTS`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def launch(playwright: Any) -> Browser:
    browser: Browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    return browser
