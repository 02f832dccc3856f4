"""The web chat's files as ingest serves them: a fixed list, under a strict content policy,
and never with a key in them."""

from __future__ import annotations

import importlib.util
import re
import sys
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from baton_ingest.app import create_app
from baton_ingest.chat.router import STATIC
from baton_runtime import SHARED_PAGES, KafkaSettings, MongoSettings
from tests.support.pipeline import service_settings

KEY = "bgw_not-a-real-key-0123456789"
RUN_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "run.py"
FILES = [*STATIC.iterdir(), *SHARED_PAGES.iterdir()]
"""The page's own files and those every packaged page shares."""
ASSETS = sorted((p for p in FILES if p.name != "index.html"), key=lambda p: p.name)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # The whole app, with the middleware every response passes; nothing here needs Kafka or
    # MongoDB, so the app is not started.
    app = create_app(
        service_settings(KafkaSettings(), MongoSettings(), "http://model.test")["ingest"]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
        yield client


def assert_strict(response: httpx.Response) -> None:
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_page_is_served_at_chat_with_a_strict_content_policy(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/chat")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_strict(response)
    # Nothing inline for the policy to allow: scripts and styles are files of their own.
    page = response.text
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="chat/app.js">']
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)


@pytest.mark.parametrize("asset", ASSETS, ids=lambda p: p.name)
async def test_each_file_is_served_with_its_type_and_the_same_policy(
    http: httpx.AsyncClient, asset: Path
) -> None:
    name = asset.name
    response = await http.get(f"/chat/{name}")

    assert response.status_code == 200
    expected = {".js": "text/javascript", ".css": "text/css"}[name[name.rindex(".") :]]
    assert response.headers["content-type"] == f"{expected}; charset=utf-8"
    assert_strict(response)
    assert response.content == asset.read_bytes()


async def test_only_the_chats_own_files_are_served(http: httpx.AsyncClient) -> None:
    for path in ("/chat/router.py", "/chat/__init__.py", "/chat/..%2Frouter.py", "/chat/nope.js"):
        response = await http.get(path)
        assert response.status_code == 404, path
    missing = await http.get("/chat/router.py")
    assert missing.json()["code"] == "not_found"


async def test_the_page_never_holds_a_key(http: httpx.AsyncClient) -> None:
    """The page is the same file for everyone: a key sent along, in a header or in the
    query, is never written into it. The key reaches the page in the URL's fragment, which
    the browser keeps to itself."""
    packaged = (STATIC / "index.html").read_bytes()
    for response in (
        await http.get("/chat", headers={"Authorization": f"Bearer {KEY}"}),
        await http.get("/chat", params={"key": KEY}),
    ):
        assert response.content == packaged
        assert KEY not in response.text
    for path in FILES:
        assert "bgw_" not in path.read_text(), path.name


def test_the_scripts_build_the_page_from_text_never_from_html() -> None:
    for path in (p for p in FILES if p.suffix == ".js"):
        script = path.read_text()
        for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert unsafe not in script, (path.name, unsafe)


def test_make_run_links_to_the_chat_with_the_key_in_the_fragment_only() -> None:
    spec = importlib.util.spec_from_file_location("baton_run_script", RUN_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = run  # its dataclasses look their module up while defined
    spec.loader.exec_module(run)
    key = "bgw_a+b/c=d-e_f"

    link = urllib.parse.urlsplit(run.chat_url(key))

    assert (link.path, link.query) == ("/chat", "")
    assert urllib.parse.parse_qs(link.fragment) == {"key": [key]}
