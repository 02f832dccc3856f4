"""mongo-java-server with its H2 MVStore backend (one file), from its Maven Central jars on the
installed Java, started through ``BatonMongoServer.java`` beside this module."""

from __future__ import annotations

from pathlib import Path

from . import probes
from .logs import say
from .maven import install_jars, jars_installed
from .prerequisites import Tool, java_executable
from .processes import Signature
from .service import Service
from .settings import HOST, Settings

NAME = "mongo-java-server"
VERSION = "1.47.0"
SLF4J_SIMPLE_VERSION = "2.0.17"
# How long mongo-java-server may hold acknowledged writes before they reach its file (ms),
# like MongoDB's journal commit interval.
COMMIT_MS = 100
LAUNCHER = Path(__file__).with_name("BatonMongoServer.java")


def home(settings: Settings) -> Path:
    return settings.stack_dir / f"{NAME}-{VERSION}"


def store(settings: Settings) -> Path:
    # "-v2": the launcher stores documents as BSON and orders index entries by value; the
    # earlier launcher's store (baton.mv.db) cannot be read with it.
    return settings.data_dir / NAME / "baton-v2.mv.db"


def install(settings: Settings) -> None:
    install_jars(
        home(settings),
        settings.logs_dir / f"{NAME}-install.log",
        name=NAME,
        what=f"mongo-java-server {VERSION} (H2 backend)",
        deps=[
            ("de.bwaldvogel", "mongo-java-server-h2-backend", VERSION),
            ("org.slf4j", "slf4j-simple", SLF4J_SIMPLE_VERSION),
        ],
        version=VERSION,
    )


def argv(settings: Settings) -> list[str]:
    return [
        java_executable() or "java",
        "-Xms256m",
        # Room for H2's garbage: it writes pages copy-on-write, so each change re-encodes a
        # page of documents. ZGC hands back memory it has not used for five minutes.
        "-Xmx3g",
        # ZGC collects while the server runs: a stop-the-world collection would show directly
        # in the pipeline's tail latency.
        "-XX:+UseZGC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-cp",
        f"{home(settings) / 'libs'}/*",
        # Java 11+ runs a single source file directly: nothing to compile at install time.
        str(LAUNCHER),
        str(store(settings)),
        HOST,
        str(settings.mongo_port),
        str(COMMIT_MS),
    ]


def prepare(settings: Settings) -> list[str]:
    path = store(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    earlier = path.with_name("baton.mv.db")
    if earlier.exists():
        say(f"removing {earlier}: a store of the earlier launcher, which this one cannot read")
        earlier.unlink()
    return argv(settings)


def service(settings: Settings) -> Service:
    return Service(
        name=NAME,
        settings=settings,
        ports={settings.mongo_port: "BATON_MONGO_PORT"},
        address=settings.mongodb_url,
        # The launcher's file name, not its path: a server started from another checkout of
        # the launcher on this stack's data is still this stack's server.
        signature=Signature("java", f"{LAUNCHER.name} {store(settings)}"),
        probe=lambda: probes.mongo(settings.mongodb_url),
        is_installed=lambda: jars_installed(home(settings), VERSION),
        install=lambda: install(settings),
        launch_argv=lambda: prepare(settings),
        install_tools=frozenset({Tool.MAVEN}),
        run_tools=frozenset({Tool.JAVA}),
    )
