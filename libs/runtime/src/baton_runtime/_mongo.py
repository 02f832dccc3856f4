"""MongoDB wiring through PyMongo's native async API."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from ._settings import MongoSettings

Document = dict[str, Any]
T = TypeVar("T")

log = logging.getLogger(__name__)

MONGO_COMMANDS = Counter(
    "baton_mongo_commands_total",
    "MongoDB commands sent, by command name and outcome (ok, failed).",
    ["service", "command", "outcome"],
)
MONGO_COMMAND_SECONDS = Histogram(
    "baton_mongo_command_seconds",
    "Round trip of one MongoDB command, by command name.",
    ["service", "command"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
# The driver's own handshakes and heartbeats are not the service's work.
_UNCOUNTED = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions"})


class CommandMetrics(monitoring.CommandListener):
    """Counts and times every command a client sends, for ``/metrics``."""

    def __init__(self, service: str) -> None:
        self._service = service

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._record(event.command_name, "ok", event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._record(event.command_name, "failed", event.duration_micros)

    def _record(self, command: str, outcome: str, duration_micros: int) -> None:
        if command in _UNCOUNTED:
            return
        MONGO_COMMANDS.labels(self._service, command, outcome).inc()
        MONGO_COMMAND_SECONDS.labels(self._service, command).observe(duration_micros / 1e6)


def connect_mongo(settings: MongoSettings, *, app_name: str) -> AsyncMongoClient[Document]:
    """A client for ``settings``. PyMongo connects lazily, on the first operation."""
    options: dict[str, Any] = {
        "appname": app_name,
        "serverSelectionTimeoutMS": settings.server_selection_timeout_ms,
        # Without it a server that never answers holds the caller for ever; with it the
        # command fails as a NetworkTimeout, an infrastructure error that the runner retries.
        "socketTimeoutMS": settings.socket_timeout_ms or None,
        "tz_aware": True,
        "event_listeners": [CommandMetrics(app_name)],
    }
    if settings.tls_ca_file is not None:
        options["tlsCAFile"] = str(settings.tls_ca_file)
    return AsyncMongoClient(settings.url.get_secret_value(), **options)


def database(
    client: AsyncMongoClient[Document], settings: MongoSettings
) -> AsyncDatabase[Document]:
    return client[settings.database]


async def insert_once(collection: Any, document: Document) -> bool:
    """Insert ``document`` unless its ``_id`` (or another unique key) exists; True if new.

    Ids derive from the triggering event, so a replayed event finds its own earlier write.
    """
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


_DUPLICATE_KEY = 11000


async def insert_each(
    collection: AsyncCollection[Document], documents: Sequence[Document]
) -> list[WriteError | None]:
    """Insert ``documents`` in one command, each on its own: a document that breaks a unique
    index gets its :class:`DuplicateKeyError` (another write error, its :class:`WriteError`)
    and the others are inserted. None for each document inserted."""
    if not documents:
        return []
    if len(documents) == 1:
        try:
            await collection.insert_one(documents[0])
        except DuplicateKeyError as exc:
            return [exc]
        return [None]
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        if exc.details.get("writeConcernErrors"):
            raise
        results: list[WriteError | None] = [None] * len(documents)
        for error in exc.details.get("writeErrors", []):
            kind = DuplicateKeyError if error.get("code") == _DUPLICATE_KEY else WriteError
            results[error["index"]] = kind(error.get("errmsg", ""), error.get("code"), error)
        return results
    return [None] * len(documents)


async def find_by_ids(
    collection: AsyncCollection[Document],
    ids: Sequence[str],
    *,
    projection: Document | None = None,
) -> list[Document | None]:
    """The documents with these ``_id`` values, in their order (None where there is none),
    in one command."""
    distinct = list(dict.fromkeys(ids))
    query = {"_id": {"$in": distinct}} if len(distinct) > 1 else {"_id": distinct[0]}
    found = {doc["_id"]: doc async for doc in collection.find(query, projection=projection)}
    return [found.get(key) for key in ids]


UNREADABLE_DOCUMENTS = Counter(
    "baton_unreadable_documents_total",
    "Documents a reader (a sweep, a gauge refresh) could not read and left out, each "
    "counted the first time the process met it.",
    ["reader", "kind"],
)


class Unreadable:
    """The documents one reader (a sweep, a gauge refresh) could not read as a ``kind``:
    written by hand, or by another version. Each is left out, so that it does not stop the
    reader for all the others, and is logged at ERROR and counted once, not at every round.
    """

    def __init__(self, *, reader: str, kind: str) -> None:
        self._reader = reader
        self._kind = kind
        self._met: set[Any] = set()
        self._counter = UNREADABLE_DOCUMENTS.labels(reader, kind)

    @property
    def count(self) -> int:
        """How many unreadable documents were met so far (and are, as far as it knows, still
        there): a reader that takes the first N documents takes this many more."""
        return len(self._met)

    def parse(self, docs: Sequence[Document], parse: Callable[[Document], T]) -> list[T]:
        """``parse`` of each of ``docs`` that it can read."""
        parsed = []
        for doc in docs:
            try:
                parsed.append(parse(doc))
            except (KeyError, TypeError, ValueError):
                self._met_unreadable(doc)
            else:
                if self._met:  # mended since: reported again if it breaks again
                    self._met.discard(_hashable(doc.get("_id")))
        return parsed

    def _met_unreadable(self, doc: Document) -> None:
        key = _hashable(doc.get("_id"))
        if key in self._met:
            return
        self._met.add(key)
        self._counter.inc()
        log.error(
            "%s: skipping %r, not a %s it can read (reported once)",
            self._reader,
            doc.get("_id"),
            self._kind,
            exc_info=True,
        )


def _hashable(value: Any) -> Any:
    """``value``, or its repr where it cannot be a set member (an ``_id`` may be a document)."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value
