"""A real headless Chromium for the browser tests (the agent console, the web chat):
Debian's package, driven by Playwright. The fixtures are in tests/e2e/conftest.py.

Playwright's own browser downloads are not used (and not reachable from our machines):
the Python package's driver talks to the system's ``/usr/bin/chromium``, which is
installed with apt when it is missing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .queue import AgentClient

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# How long a page may take to show what a test expects: the pipeline's work included.
WAIT_MS = 30_000
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class ChromiumMissingError(RuntimeError):
    pass


async def _run(*command: str, timeout: float) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"{' '.join(command)} did not finish within {timeout:.0f} s"
    return process.returncode or 0, output.decode(errors="replace")


async def ensure_chromium() -> Path:
    """The path of Debian's Chromium, installed with apt-get first if it is missing.

    Runs as asyncio subprocesses: the pipeline's services share this event loop and must
    keep serving (and heartbeating to Kafka) while apt works.
    """
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        raise ChromiumMissingError(
            f"{CHROMIUM} is missing and installing it needs root: "
            "run `sudo apt-get update && sudo apt-get install -y chromium`"
        )
    if shutil.which("apt-get") is None:
        raise ChromiumMissingError(f"{CHROMIUM} is missing and there is no apt-get to install it")
    for command in (
        ("apt-get", "update"),
        ("apt-get", "install", "-y", "--no-install-recommends", "chromium"),
    ):
        code, output = await _run(*command, timeout=600)
        if code != 0:
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise ChromiumMissingError(
                f"`{' '.join(command)}` failed ({code}) installing Chromium:\n{tail}"
            )
    if not CHROMIUM.exists():
        raise ChromiumMissingError(f"apt-get installed chromium, but {CHROMIUM} is not there")
    return CHROMIUM


@asynccontextmanager
async def launched(executable: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, name: str, *, folder: str = "console") -> Path:
    """Save the whole page as ``test-artifacts/<folder>/<name>.png``."""
    directory = ARTIFACTS / folder
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def signed_in(context: BrowserContext, pipeline: Pipeline, agent: AgentClient) -> Page:
    """A new page of the agent console, signed in with ``agent``'s token."""
    page = await context.new_page()
    await page.goto(f"{pipeline.urls['human-queue']}/console")
    await page.get_by_label("Agent token").fill(agent.token)
    await page.get_by_label("Agent token").press("Enter")
    await expect(page.locator("#who")).to_contain_text(agent.name)
    return page


# WCAG 2 contrast of every visible text against the first opaque background behind it.
_CONTRAST_JS = """
() => {
  const rgba = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const channel = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const color = rgba(getComputedStyle(e).backgroundColor);
      if (color.length === 3 || color[3] >= 0.99) return color.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  for (const element of document.body.querySelectorAll("*")) {
    const text = [...element.childNodes]
      .filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => n.textContent.trim())
      .join(" ")
      .trim();
    if (!text || element.getClientRects().length === 0) continue;
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || element.closest(".visually-hidden")) continue;
    const fg = luminance(rgba(style.color));
    const bg = luminance(background(element));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) failures.push({ text: text.slice(0, 60), color: style.color, ratio });
  }
  return failures;
}
"""


async def contrast_failures(page: Page) -> list[dict[str, Any]]:
    """Texts on the page whose contrast is below 4.5:1 (WCAG AA for normal text)."""
    failures: list[dict[str, Any]] = await page.evaluate(_CONTRAST_JS)
    return failures
