"""Installing jars from Maven Central: Maven resolves the given artifacts and everything they
need at runtime into ``<home>/libs``, refusing a download whose checksum does not match."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from .errors import StackError
from .logs import run_logged, say, with_log_tail
from .prerequisites import maven_executable

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

# groupId, artifactId, version
Artifact = tuple[str, str, str]


def runtime_pom(name: str, deps: Sequence[Artifact]) -> str:
    """A POM whose only content is ``deps``, for ``dependency:copy-dependencies``."""
    dep_xml = "".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>\n"
        for g, a, v in deps
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>local.baton.stack</groupId>\n"
        f"  <artifactId>{name}</artifactId>\n"
        "  <version>1</version>\n"
        "  <packaging>pom</packaging>\n"
        f"  <dependencies>\n{dep_xml}  </dependencies>\n"
        "</project>\n"
    )


def jars_installed(home: Path, version: str) -> bool:
    """Whether :func:`install_jars` completed ``version`` into ``home``."""
    marker = home / ".installed"
    return marker.is_file() and marker.read_text().strip() == version


def install_jars(
    home: Path, log: Path, *, name: str, what: str, deps: Sequence[Artifact], version: str
) -> None:
    """Resolve ``deps`` into ``home/libs``; ``home/.installed`` records ``version`` once the
    install is complete, so an interrupted one is redone."""
    home.mkdir(parents=True, exist_ok=True)
    pom = home / "pom.xml"
    pom.write_text(runtime_pom(f"{name}-runtime", deps))
    partial = home / "libs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    say(f"{name}: resolving the {what} jars with Maven (first run only), log: {log}")
    run_logged(
        [
            maven_executable() or "mvn",
            "-q",
            "-B",
            # Maven's default only warns about a checksum that does not match.
            "--strict-checksums",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ],
        log,
        cwd=home,
        what=f"resolving the {what} jars with Maven",
    )
    missing = [f"{a}-{v}.jar" for _, a, v in deps if not (partial / f"{a}-{v}.jar").is_file()]
    if missing:
        raise StackError(
            with_log_tail(f"Maven finished but {', '.join(missing)} is missing", {log: 0})
        )
    shutil.rmtree(home / "libs", ignore_errors=True)
    partial.rename(home / "libs")
    (home / ".installed").write_text(f"{version}\n")
