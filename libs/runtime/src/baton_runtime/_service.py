"""What every service process shares: logging, health and metrics routes, serving."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
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
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from ._consumer import KeyedConsumer
from ._errors import RefusedError
from ._kafka import ensure_topics
from ._mongo import Document
from ._settings import KafkaSettings

Check = Callable[[], Awaitable[None]]
log = logging.getLogger(__name__)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Kafka client chatter at INFO drowns the service's own lines.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def kafka_check(broker: KafkaBroker) -> Check:
    async def check() -> None:
        if not await broker.ping(timeout=3.0):
            raise ConnectionError("Kafka did not answer")

    return check


def mongo_check(db: AsyncDatabase[Document]) -> Check:
    async def check() -> None:
        await db.command("ping")

    return check


def health_router(checks: Mapping[str, Check]) -> APIRouter:
    """``/health/live`` (the process runs) and ``/health/ready`` (its dependencies answer)."""
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    async def run_checks() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=5.0)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failing: {type(exc).__name__}: {exc}"[:300]
        ready = all(v == "ok" for v in results.values())
        body = {"status": "ready" if ready else "not_ready", "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503)

    router.add_api_route("/health/ready", run_checks, methods=["GET"])
    router.add_api_route("/health", run_checks, methods=["GET"])
    return router


def metrics_router(registry: CollectorRegistry = REGISTRY) -> APIRouter:
    router = APIRouter(tags=["metrics"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Run ``app`` until SIGTERM/SIGINT; uvicorn then runs the app's shutdown (lifespan).

    What exists by now (the imported libraries, the composed app) lives as long as the
    process, so it is frozen out of the garbage collector's reach: otherwise every full
    collection walks all of it again, a pause that shows in the latency tail (decision 9).

    The event loop is uvloop's and HTTP is parsed by httptools: a service's time goes mostly
    to many small socket reads and writes (Kafka, MongoDB, HTTP), which both do in C."""
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        timeout_graceful_shutdown=20,
    )


class ApiError(RefusedError):
    """A refusal raised by an HTTP layer itself, e.g. ``ApiError(401, "invalid_token", ...)``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, status=status, code=code)


def install_error_handlers(app: FastAPI) -> None:
    """Uniform 4xx bodies: ``{"detail": "<one readable sentence>", "code": "<machine code>"}``."""

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RefusedError)
        return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=exc.status)

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for error in exc.errors():
            location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            problems.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
        return JSONResponse(
            {"detail": "; ".join(problems) or "invalid request", "code": "invalid_request"},
            status_code=422,
        )

    app.add_exception_handler(RefusedError, refused)
    app.add_exception_handler(RequestValidationError, invalid_request)


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
) -> FastAPI:
    """A service's FastAPI app with the lifecycle every service shares.

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
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.gather(*(consumer.stop() for consumer in consumers))
            await broker.stop()
            for step in on_stop:
                await step()
            await mongo.close()

    app = FastAPI(title=title, summary=summary, lifespan=lifespan)
    app.state.consumers = tuple(consumers)
    install_error_handlers(app)
    app.include_router(health_router({"kafka": kafka_check(broker), "mongodb": mongo_check(db)}))
    app.include_router(metrics_router())
    return app
