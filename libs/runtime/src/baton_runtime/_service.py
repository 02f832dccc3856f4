"""What every service process shares: health routes, the HTTP app, serving."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from typing import Any, Literal

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from ._consumer import GRACE_SECONDS, KeyedConsumer
from ._docs import docs_router
from ._exposure import install_metrics, metrics_listener, served_app
from ._http_errors import error_body, install_error_handlers
from ._http_guard import BodyLimit, SecurityHeaders
from ._http_metrics import RequestMetrics
from ._kafka import ensure_topics
from ._mongo import Document
from ._openapi import install_openapi, operation_id
from ._settings import HttpSettings, KafkaSettings
from ._tracing import tracing_on

Check = Callable[[], Awaitable[None]]
log = logging.getLogger(__name__)


def kafka_check(broker: KafkaBroker) -> Check:
    async def check() -> None:
        if not await broker.ping(timeout=3.0):
            raise ConnectionError("Kafka did not answer")

    return check


def mongo_check(db: AsyncDatabase[Document]) -> Check:
    async def check() -> None:
        await db.command("ping")

    return check


class Readiness(BaseModel):
    """What ``/health/ready`` answers: each dependency ``ok`` or ``down``; when one is down
    (503), also the error body's ``detail`` and ``code``."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, Literal["ok", "down"]]
    detail: str | None = None
    code: str | None = None


def health_router(checks: Mapping[str, Check]) -> APIRouter:
    """``/health/live`` (the process runs) and ``/health/ready`` (its dependencies answer)."""
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def health_live() -> dict[str, str]:
        return {"status": "ok"}

    async def run_checks() -> JSONResponse:
        results: dict[str, Literal["ok", "down"]] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=5.0)
                results[name] = "ok"
            except Exception as exc:
                # The answer names what is down; why (hosts, driver messages) goes to the log.
                log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
                results[name] = "down"
        down = [name for name, result in results.items() if result != "ok"]
        if not down:
            ready = Readiness(status="ready", checks=results)
            return JSONResponse(ready.model_dump(exclude_none=True))
        failing = Readiness(
            status="not_ready",
            checks=results,
            **error_body(f"not ready: {', '.join(down)} down", "not_ready"),
        )
        return JSONResponse(failing.model_dump(), status_code=503)

    for path, name in (("/health/ready", "health_ready"), ("/health", "health")):
        router.add_api_route(
            path,
            run_checks,
            methods=["GET"],
            name=name,
            response_model=Readiness,
            responses={503: {"model": Readiness, "description": "A dependency is down"}},
        )
    return router


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which tells the app when it begins to shut down: before it waits
    (up to its graceful limit) for the responses in progress, it calls ``on_drain``, so
    that long-lived responses (event streams) end at once rather than hold it up."""

    def __init__(self, config: uvicorn.Config, on_drain: Iterable[Callable[[], object]]) -> None:
        super().__init__(config)
        self._on_drain = tuple(on_drain)

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        for drain in self._on_drain:
            try:
                drain()
            except Exception:
                log.exception("a drain step failed; shutting down anyway")
        await super().shutdown(sockets)


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Run ``app`` until SIGTERM/SIGINT; uvicorn then runs the app's shutdown (lifespan).
    With a metrics port (``HTTP_METRICS_PORT``) the same server listens on both ports.
    Callables in ``app.state.on_drain`` run as the shutdown begins (:class:`DrainingServer`).

    What exists by now (the imported libraries, the composed app) lives as long as the
    process, so it is frozen out of the garbage collector's reach: otherwise every full
    collection walks all of it again, a pause that shows in the latency tail (decision 9).

    The event loop is uvloop's and HTTP is parsed by httptools: a service's time goes mostly
    to many small socket reads and writes (Kafka, MongoDB, HTTP), which both do in C."""
    listeners = [(host, port), *metrics_listener(app, host)]
    config = uvicorn.Config(
        served_app(app),
        loop="uvloop",
        http="httptools",
        log_config=None,
        timeout_graceful_shutdown=20,
    )
    sockets = [uvicorn.Config(app, host=h, port=p).bind_socket() for h, p in listeners]
    gc.collect()
    gc.freeze()
    DrainingServer(config, getattr(app.state, "on_drain", ())).run(sockets=sockets)


BACKGROUND_STOP_S = 10.0
CONSUMERS_STOP_S = GRACE_SECONDS + 30.0
"""The records in progress get their grace period; committing and leaving the group get the
rest."""
BROKER_STOP_S = 30.0


async def _bounded(work: Awaitable[object], seconds: float, what: str) -> None:
    """Await ``work`` for at most ``seconds``; past that, give up on it, saying so."""
    try:
        await asyncio.wait_for(work, timeout=seconds)
    except TimeoutError:
        log.error("shutdown: %s still stopping after %.0f s; going on without them", what, seconds)


def every(
    interval_s: float,
    step: Callable[[], Awaitable[object]],
    *,
    what: str,
    at_start: bool = False,
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A background loop for ``service_app``: run ``step`` every ``interval_s`` (with
    ``at_start``, also once right away); a failing round is logged and the next one tries
    again."""

    async def loop() -> None:
        if at_start:
            await run_step()
        while True:
            await asyncio.sleep(interval_s)
            await run_step()

    async def run_step() -> None:
        try:
            await step()
        except Exception:
            log.exception("%s failed; retrying next interval", what)

    return loop


async def report_consumer_lag(
    consumers: Sequence[KeyedConsumer], *, interval_s: float = 5.0
) -> None:
    """Publish each consumer's lag every ``interval_s`` until cancelled."""
    while True:
        for consumer in consumers:
            try:
                await consumer.measure_lag()
            except Exception:
                log.debug("lag measurement of %s failed", consumer.topic, exc_info=True)
        await asyncio.sleep(interval_s)


def service_app(
    *,
    title: str,
    broker: KafkaBroker,
    mongo: AsyncMongoClient[Document],
    db: AsyncDatabase[Document],
    kafka: KafkaSettings,
    topics: Iterable[str],
    consumers: Sequence[KeyedConsumer] = (),
    on_start: Sequence[Callable[[], Awaitable[None]]] = (),
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
    summary: str | None = None,
    http: HttpSettings | None = None,
    service: str = "baton",
) -> FastAPI:
    """A service's FastAPI app with the lifecycle every service shares.

    Its HTTP side (``http``, else ``HTTP_*`` from the environment): request bodies up to a
    limit, errors in one shape, ``nosniff`` and ``no-store`` on every answer, the OpenAPI
    UI from packaged assets, ``/metrics`` as configured, readable operation ids, and each
    request counted and timed under ``service`` by its route; with tracing on, each request
    (but probes, scrapes and static pages) is a server span.

    Start-up: ``on_start`` steps (indexes), topics, the broker (the producer), the
    ``consumers`` (all joining their groups at once, so a group settles in one rebalance),
    then ``background`` loops. Shutdown in reverse: loops are cancelled, consumers stop
    (records in progress finish or are left uncommitted for the next owner of their
    partition), the broker stops, the ``on_stop`` steps run (clients the handlers used),
    then MongoDB closes.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for step in on_start:
            await step()
        await ensure_topics(kafka, topics)
        await broker.start()
        await asyncio.gather(*(consumer.start() for consumer in consumers))
        tasks = [asyncio.create_task(loop()) for loop in background]
        tasks.append(asyncio.create_task(report_consumer_lag(consumers)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await _bounded(
                asyncio.gather(*tasks, return_exceptions=True),
                BACKGROUND_STOP_S,
                "background loops",
            )
            # A shutdown that hangs (a broker that stops answering) must still end: the
            # group then rebalances without this member, and its records are redone.
            await _bounded(
                asyncio.gather(*(consumer.stop() for consumer in consumers)),
                CONSUMERS_STOP_S,
                "consumers",
            )
            await _bounded(broker.stop(), BROKER_STOP_S, "the producer")
            for step in on_stop:
                await step()
            await mongo.close()

    http = http or HttpSettings()
    app = FastAPI(
        title=title,
        summary=summary,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.consumers = tuple(consumers)
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(BodyLimit, max_bytes=http.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    # Outermost, so it times and counts refusals by the other middleware too.
    app.add_middleware(RequestMetrics, service=service)
    app.include_router(health_router({"kafka": kafka_check(broker), "mongodb": mongo_check(db)}))
    app.include_router(docs_router(title))
    install_metrics(app, http)
    if tracing_on():
        from ._tracing_setup import instrument_app

        instrument_app(app)
    return app
