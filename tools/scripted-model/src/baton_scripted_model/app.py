"""The HTTP server: the OpenAI Chat Completions surface plus an admin API for tests."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .conversation import Conversation, Decision, Failure, Stall, Text, ToolCalls
from .latency import LognormalLatency
from .protocol import (
    ChatCompletionRequest,
    completion_body,
    error_body,
    error_type_for,
    prompt_text,
    tool_call_body,
)
from .rules import Rule, Script, ScriptError, parse_rules
from .scriptfile import load_script_file
from .settings import ScriptedModelSettings
from .shop import DemoShop, shop_routes
from .streaming import DONE, sse, stream_chunks

log = logging.getLogger(__name__)


def _error(
    status: int,
    message: str,
    *,
    type_: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    headers = {"Retry-After": "0"} if status in (429, 503) else None
    return JSONResponse(
        error_body(message, type_=type_ or error_type_for(status), code=code, param=param),
        status_code=status,
        headers=headers,
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


class CallLog:
    """The most recent requests, what answered them and how."""

    def __init__(self, size: int) -> None:
        self._records: deque[dict[str, Any]] = deque(maxlen=size)
        self._seq = 0

    def record(self, request: Any, *, model: str | None, rule: str | None) -> dict[str, Any]:
        self._seq += 1
        entry: dict[str, Any] = {
            "seq": self._seq,
            "received_at": datetime.now(UTC).isoformat(),
            "model": model,
            "rule": rule,
            "delay_ms": 0,
            "outcome": None,
            "status": None,
            "request": request,
            "response": None,
        }
        self._records.append(entry)
        return entry

    def find(
        self, *, contains: str | None, rule: str | None, limit: int | None
    ) -> list[dict[str, Any]]:
        found = list(self._records)
        if rule is not None:
            found = [entry for entry in found if entry["rule"] == rule]
        if contains is not None:
            needle = contains.casefold()
            found = [
                entry
                for entry in found
                if any(needle in text.casefold() for text in _strings(entry["request"]))
            ]
        return found[-limit:] if limit else found

    def clear(self) -> None:
        self._records.clear()

    def __len__(self) -> int:
        return len(self._records)


def _finish(entry: dict[str, Any], outcome: str, status: int, body: Any) -> None:
    entry.update(outcome=outcome, status=status, response=body)


async def _client_gone_within(request: Request, seconds: float) -> bool:
    """Wait up to ``seconds``; True as soon as the client disconnects.

    The body has been read, so the next message the server hands the app is the disconnect:
    waiting for it costs nothing while the request is held, where polling for it would take
    CPU from whatever shares the machine, for every request held at once."""
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({gone}, timeout=seconds)
    finally:
        gone.cancel()
    return bool(done) and gone.result()


async def _disconnected(request: Request) -> bool:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    return True


def create_app(
    settings: ScriptedModelSettings | None = None,
    script: Sequence[Rule | Mapping[str, Any]] | None = None,
) -> FastAPI:
    """The server, with the rules of ``settings.script`` (a file) and then of ``script``."""
    settings = settings or ScriptedModelSettings()
    rules: list[Rule] = []
    if settings.script is not None:
        rules.extend(load_script_file(settings.script))
    if script:
        rules.extend(parse_rules(list(script)))
    engine = Script(rules)
    calls = CallLog(settings.call_log_size)
    drawn = (
        LognormalLatency(
            settings.latency_median_ms, settings.latency_p99_ms, seed=settings.latency_seed
        )
        if settings.latency_median_ms is not None and settings.latency_p99_ms is not None
        else None
    )

    def latency_ms(decision: Decision) -> float:
        """The server's latency for this call (fixed plus drawn), unless its rule fixes one."""
        if decision.latency_ms is not None:
            return decision.latency_ms
        return settings.latency_ms + (drawn.sample_ms() if drawn is not None else 0.0)

    app = FastAPI(
        title="baton-scripted-model",
        description="An OpenAI-compatible model that answers from scripted rules.",
        version="0.1.0",
    )
    app.state.script = engine
    app.state.calls = calls
    # The demo's outside world lives here too, so `make run` needs no further server.
    app.include_router(shop_routes(DemoShop()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        return _error(400, problems or "invalid request")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "rules": len(engine), "calls": len(calls)}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [_model(name) for name in settings.models]}

    @app.get("/v1/models/{model:path}")
    async def get_model(model: str) -> dict[str, Any]:
        return _model(model)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        try:
            raw = await request.json()
        except ValueError:
            entry = calls.record(None, model=None, rule=None)
            return _refuse(entry, "The request body is not valid JSON.")
        entry = calls.record(raw, model=_model_name(raw), rule=None)
        try:
            chat = ChatCompletionRequest.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            return _refuse(entry, f"Invalid chat completion request: {problems}")
        entry["stream"] = bool(chat.stream)
        decision = engine.decide(Conversation.from_request(chat))
        entry["rule"] = decision.rule
        log.info("%s answered by %s", chat.model, decision.rule)
        entry["delay_ms"] = round(latency_ms(decision) + decision.delay_ms)
        delay = entry["delay_ms"] / 1000
        if delay and await _client_gone_within(request, delay):
            _finish(entry, "disconnected", 499, None)
            return _error(499, "client closed the request")
        return await _answer(request, entry, chat, decision)

    def _refuse(
        entry: dict[str, Any], message: str, *, param: str | None = None, code: str | None = None
    ) -> JSONResponse:
        response = _error(400, message, param=param, code=code)
        _finish(entry, "invalid_request", 400, error_body(message, type_=error_type_for(400)))
        return response

    async def _answer(
        request: Request, entry: dict[str, Any], chat: ChatCompletionRequest, decision: Decision
    ) -> Response:
        outcome = decision.outcome
        if isinstance(outcome, Stall):
            entry["outcome"] = "timeout"
            if await _client_gone_within(request, settings.timeout_seconds):
                _finish(entry, "timeout", 499, None)
                return _error(499, "client closed the request")
            message = f"scripted timeout: no answer within {settings.timeout_seconds:g} s"
            _finish(entry, "timeout", 504, error_body(message, type_="timeout"))
            return _error(504, message, type_="timeout")
        if isinstance(outcome, Failure):
            body = error_body(outcome.message, type_=outcome.type, code=outcome.code)
            _finish(entry, "error", outcome.status, body)
            return _error(outcome.status, outcome.message, type_=outcome.type, code=outcome.code)
        prompt = prompt_text(chat)
        if isinstance(outcome, ToolCalls):
            tool_calls = [tool_call_body(c.id, c.name, c.arguments) for c in outcome.calls]
            body = completion_body(
                model=chat.model, prompt=prompt, content=None, tool_calls=tool_calls
            )
            kind = "tool_calls"
        else:
            assert isinstance(outcome, Text)
            body = completion_body(model=chat.model, prompt=prompt, content=outcome.content)
            kind = "content"
        if chat.stream:
            rate = decision.tokens_per_s
            return _streamed(
                entry,
                kind,
                body,
                tokens_per_s=settings.stream_tokens_per_s if rate is None else rate,
                include_usage=chat.include_usage,
            )
        _finish(entry, kind, 200, body)
        return JSONResponse(body)

    @app.get("/_script")
    async def show_script() -> dict[str, Any]:
        return {"rules": engine.describe()}

    @app.post("/_script")
    async def add_rules(request: Request) -> JSONResponse:
        parsed = await _rules_from(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        total = engine.add(parsed)
        return JSONResponse({"added": len(parsed), "rules": total})

    @app.put("/_script")
    async def replace_rules(request: Request) -> JSONResponse:
        parsed = await _rules_from(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        return JSONResponse({"rules": engine.replace(parsed)})

    @app.delete("/_script")
    async def reset_rules() -> dict[str, Any]:
        engine.reset()
        return {"rules": 0}

    @app.get("/_calls")
    async def list_calls(
        contains: str | None = None,
        rule: str | None = None,
        limit: int | None = Query(default=None, ge=1),
    ) -> dict[str, Any]:
        return {"calls": calls.find(contains=contains, rule=rule, limit=limit)}

    @app.delete("/_calls")
    async def clear_calls() -> dict[str, Any]:
        calls.clear()
        return {"calls": 0}

    return app


def _streamed(
    entry: dict[str, Any],
    kind: str,
    body: dict[str, Any],
    *,
    tokens_per_s: float,
    include_usage: bool,
) -> StreamingResponse:
    """``body`` as server-sent chunks at ``tokens_per_s``; the call log shows the whole
    answer once the last chunk is out (``disconnected`` if the client left before)."""
    timed = stream_chunks(body, tokens_per_s=tokens_per_s, include_usage=include_usage)
    entry["tokens_per_s"] = tokens_per_s

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        entry["outcome"] = "streaming"
        try:
            for item in timed:
                wait = started + item.at_s - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                yield sse(item.chunk)
            yield DONE
        except BaseException:
            _finish(entry, "disconnected", 499, None)
            raise
        _finish(entry, kind, 200, body)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _rules_from(request: Request) -> list[Rule] | JSONResponse:
    try:
        data = await request.json()
    except ValueError:
        return _error(400, "The request body is not valid JSON.")
    try:
        return parse_rules(data)
    except ScriptError as exc:
        return _error(400, str(exc))


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": int(time.time()), "owned_by": "baton"}


def _model_name(raw: Any) -> str | None:
    model = raw.get("model") if isinstance(raw, Mapping) else None
    return model if isinstance(model, str) else None
