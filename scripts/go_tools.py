"""Go programs the tests need, built once under .tools/<name>/bin from the versions pinned in
scripts/<name>/ (a go.mod naming them as tools, and its go.sum), with the machine's Go and
the Go module proxy. go.sum pins every module they are built from.

    python scripts/go_tools.py helm          # build when missing; print the binaries
    python scripts/go_tools.py prometheus
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("go.mod", "go.sum")
BUILD_TIMEOUT_S = 1800


class ToolMissingError(RuntimeError):
    pass


@dataclass(frozen=True)
class GoTool:
    name: str
    packages: tuple[str, ...]
    """The main packages to build; each binary is named after its package's last part."""

    @property
    def pinned(self) -> Path:
        return ROOT / "scripts" / self.name

    @property
    def target(self) -> Path:
        return ROOT / ".tools" / self.name

    def binary(self, package: str) -> Path:
        return self.target / "bin" / package.rsplit("/", 1)[-1]

    def installed(self) -> bool:
        """Every binary is there, built from the go.sum pinned now."""
        return all(self.binary(p).exists() for p in self.packages) and all(
            (self.target / f).exists()
            and (self.target / f).read_bytes() == (self.pinned / f).read_bytes()
            for f in FILES
        )

    def install(self) -> list[Path]:
        """The binaries, built first when missing or pinned differently."""
        binaries = [self.binary(p) for p in self.packages]
        if self.installed():
            return binaries
        self.target.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(self.pinned / name, self.target / name)
        (self.target / "bin").mkdir(exist_ok=True)
        done = go(
            ["build", "-trimpath", "-o", str(self.target / "bin"), *self.packages], self.target
        )
        if done.returncode != 0 or not all(b.exists() for b in binaries):
            (self.target / "go.sum").unlink(missing_ok=True)
            tail = "\n".join(done.stderr.strip().splitlines()[-20:])
            raise ToolMissingError(f"building {self.name} in {self.target} failed:\n{tail}")
        return binaries


def go(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``go args`` in ``cwd``, its go.mod read-only: only what go.sum pins is used."""
    binary = shutil.which("go")
    if binary is None:
        raise ToolMissingError("go is not on PATH; install Go 1.26 or later")
    try:
        return subprocess.run(
            [binary, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=BUILD_TIMEOUT_S,
            env={**os.environ, "GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"},
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolMissingError(f"`go {' '.join(args)}` took over {BUILD_TIMEOUT_S} s") from exc


TOOLS = {
    "helm": GoTool("helm", ("helm.sh/helm/v4/cmd/helm",)),
    # Prometheus v3.5.0 (module v0.305.0), the version compose runs.
    "prometheus": GoTool(
        "prometheus",
        (
            "github.com/prometheus/prometheus/cmd/prometheus",
            "github.com/prometheus/prometheus/cmd/promtool",
        ),
    ),
}


def main() -> None:
    try:
        for path in TOOLS[sys.argv[1]].install():
            print(path)
    except (IndexError, KeyError):
        sys.exit(f"usage: go_tools.py {{{','.join(TOOLS)}}}")
    except ToolMissingError as exc:
        sys.exit(f"go_tools: {exc}")


if __name__ == "__main__":
    main()
