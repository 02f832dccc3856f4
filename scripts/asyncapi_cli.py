"""The AsyncAPI CLI, installed once under .tools/asyncapi from the versions pinned in
scripts/asyncapi/ (package.json and its lock), with npm.

    python scripts/asyncapi_cli.py                # install when missing; print the binary
    python scripts/asyncapi_cli.py validate FILE  # `asyncapi validate FILE`

``make asyncapi-cli`` runs the first; the contracts test runs both. The CLI's usage
analytics stay off: its settings file lives under .tools/asyncapi, not in the home
directory, and says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINNED = ROOT / "scripts" / "asyncapi"
TARGET = ROOT / ".tools" / "asyncapi"
BINARY = TARGET / "node_modules" / ".bin" / "asyncapi"
ANALYTICS = TARGET / "analytics.json"
INSTALL_TIMEOUT_S = 900
FILES = ("package.json", "package-lock.json")


class CliMissingError(RuntimeError):
    pass


def installed() -> bool:
    """The pinned CLI is there: its binary, installed from the lock file we pin now."""
    return BINARY.exists() and all(
        (TARGET / name).exists() and (TARGET / name).read_bytes() == (PINNED / name).read_bytes()
        for name in FILES
    )


def install() -> Path:
    """The CLI's binary, installed with ``npm ci`` first when missing or out of date."""
    if installed():
        return BINARY
    npm = shutil.which("npm")
    if npm is None:
        raise CliMissingError("npm is not on PATH; install Node.js (20 or later) and npm")
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(PINNED / name, TARGET / name)
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=TARGET,
            capture_output=True,
            text=True,
            check=False,
            timeout=INSTALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise CliMissingError(f"`npm ci` did not finish within {INSTALL_TIMEOUT_S} s") from exc
    if done.returncode != 0 or not BINARY.exists():
        tail = "\n".join(f"{done.stdout}\n{done.stderr}".strip().splitlines()[-20:])
        (TARGET / "package-lock.json").unlink(missing_ok=True)
        raise CliMissingError(f"`npm ci` in {TARGET} failed ({done.returncode}):\n{tail}")
    return BINARY


def environment() -> dict[str, str]:
    """The CLI's environment: analytics off, no node-config chatter."""
    if not ANALYTICS.exists():
        ANALYTICS.write_text(
            json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": ""})
        )
    return {
        **os.environ,
        "ASYNCAPI_METRICS_CONFIG_PATH": str(ANALYTICS),
        "SUPPRESS_NO_CONFIG_WARNING": "1",
    }


def validate(document: Path) -> subprocess.CompletedProcess[str]:
    """``asyncapi validate document``: exit status 0 when the document is valid."""
    return subprocess.run(
        [str(install()), "validate", str(document), "--fail-severity", "warn"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=environment(),
    )


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["validate"] and len(argv) == 2:
            done = validate(Path(argv[1]))
            print(done.stdout, done.stderr, sep="\n")
            return done.returncode
        if argv:
            print(__doc__, file=sys.stderr)
            return 2
        print(install())
    except CliMissingError as exc:
        print(f"the AsyncAPI CLI cannot be installed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
