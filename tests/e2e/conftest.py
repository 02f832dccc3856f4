"""Fixtures of the browser tests (the agent console, the web chat): one Debian Chromium per
session, one browser per test module, a fresh profile per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from tests.support.browser import WAIT_MS, ChromiumMissingError, ensure_chromium, launched

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
async def chromium() -> Path:
    try:
        return await ensure_chromium()
    except ChromiumMissingError as exc:
        pytest.fail(f"the browser tests need Chromium: {exc}", pytrace=False)


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with launched(chromium) as running:
        yield running


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh profile per test: its own sessionStorage, so its own sign-in. An uncaught
    script error on any of its pages fails the test."""
    opened = await browser.new_context(viewport={"width": 1360, "height": 900})
    opened.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    opened.on("page", lambda page: page.on("pageerror", lambda error: errors.append(str(error))))
    yield opened
    await opened.close()
    assert errors == []
