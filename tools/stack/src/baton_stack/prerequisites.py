"""The programs the stack needs on this machine: Java to run the servers, Maven to install
them. Missing ones are reported together, each with how to install it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path

MIN_JAVA = 17


def java_executable() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def maven_executable() -> str | None:
    return shutil.which("mvn")


def java_major_version(version_output: str) -> int | None:
    """The major version in ``java -version`` output ("1.8.0_392" is 8, "17.0.15" is 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    return int(match.group(2) or 0) if match.group(1) == "1" else int(match.group(1))


def _java_problem() -> str | None:
    java = java_executable()
    if java is None:
        return "not found"
    try:
        result = subprocess.run(  # noqa: S603 - the JDK found above
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {java}: {exc}"
    major = java_major_version(result.stderr + result.stdout)
    if major is None:
        return f"cannot tell the version of {java}"
    return None if major >= MIN_JAVA else f"{java} is Java {major}"


def _maven_problem() -> str | None:
    return None if maven_executable() else "not found"


class Tool(Enum):
    JAVA = "java"
    MAVEN = "mvn"


_HINTS = {
    Tool.JAVA: f"install a JDK {MIN_JAVA}+ (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless; "
    "macOS: brew install openjdk@17) or set JAVA_HOME",
    Tool.MAVEN: "install Apache Maven 3.6+ (Debian/Ubuntu: apt-get install maven; "
    "macOS: brew install maven)",
}
_CHECKS: dict[Tool, Callable[[], str | None]] = {
    Tool.JAVA: _java_problem,
    Tool.MAVEN: _maven_problem,
}


def tool_problems(tools: Iterable[Tool]) -> list[str]:
    problems = []
    for tool in sorted(set(tools), key=lambda t: t.value):
        problem = _CHECKS[tool]()
        if problem:
            problems.append(f"{tool.value}: {problem}; {_HINTS[tool]}")
    return problems
