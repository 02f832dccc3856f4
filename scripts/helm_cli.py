"""Helm, built once under .tools/helm from the version pinned in scripts/helm/ (go.mod and
go.sum), with the machine's Go and the Go module proxy; and the custom resource schemas the
chart's KEDA and Prometheus Operator objects are checked against.

    python scripts/helm_cli.py            # build helm when missing; print the binary
    python scripts/helm_cli.py crds       # fetch the pinned CRDs; print where they are

``make helm`` runs the first; the chart's tests run both. go.sum pins every module helm is
built from; the CRDs come from the KEDA and Prometheus Operator modules, each checked
against the hash pinned below.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINNED = ROOT / "scripts" / "helm"
TARGET = ROOT / ".tools" / "helm"
BINARY = TARGET / "bin" / "helm"
FILES = ("go.mod", "go.sum")
INSTALL_TIMEOUT_S = 1800

# module@version -> (its go.sum hash, the CRD files the chart's objects are checked against)
CRD_MODULES = {
    "github.com/kedacore/keda/v2@v2.19.0": (
        "h1:IP3iMTwr9HkaAwPtLnhngPv74LghMf7ubLrsGLQo52M=",
        (
            "config/crd/bases/keda.sh_scaledobjects.yaml",
            "config/crd/bases/keda.sh_triggerauthentications.yaml",
        ),
    ),
    "github.com/prometheus-operator/prometheus-operator@v0.85.0": (
        "h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=",
        ("example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",),
    ),
}


class HelmMissingError(RuntimeError):
    pass


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise HelmMissingError("go is not on PATH; install Go 1.26 or later")
    return go


def _run(command: list[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=INSTALL_TIMEOUT_S,
            env={**os.environ, "GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"},
        )
    except subprocess.TimeoutExpired as exc:
        raise HelmMissingError(f"`{' '.join(command)}` took over {INSTALL_TIMEOUT_S} s") from exc


def installed() -> bool:
    """helm is there, built from the go.sum pinned now."""
    return BINARY.exists() and all(
        (TARGET / name).exists() and (TARGET / name).read_bytes() == (PINNED / name).read_bytes()
        for name in FILES
    )


def install() -> Path:
    """helm's binary, built first when missing or pinned differently."""
    if installed():
        return BINARY
    go = _go()
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(PINNED / name, TARGET / name)
    done = _run(
        [go, "build", "-trimpath", "-o", str(BINARY), "helm.sh/helm/v4/cmd/helm"], cwd=TARGET
    )
    if done.returncode != 0 or not BINARY.exists():
        (TARGET / "go.sum").unlink(missing_ok=True)
        tail = "\n".join(done.stderr.strip().splitlines()[-20:])
        raise HelmMissingError(f"building helm in {TARGET} failed ({done.returncode}):\n{tail}")
    return BINARY


def crds() -> list[Path]:
    """The pinned CRD files, from the Go module cache (downloaded when missing)."""
    go = _go()
    TARGET.mkdir(parents=True, exist_ok=True)
    found: list[Path] = []
    for module, (expected, files) in CRD_MODULES.items():
        done = _run([go, "mod", "download", "-json", module], cwd=TARGET)
        try:
            info = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise HelmMissingError(f"`go mod download {module}` failed:\n{done.stderr}") from None
        if "Dir" not in info:
            raise HelmMissingError(f"`go mod download {module}` failed: {info.get('Error')}")
        if info.get("Sum") != expected:
            raise HelmMissingError(f"{module} has hash {info.get('Sum')}, pinned {expected}")
        found.extend(Path(info["Dir"]) / name for name in files)
    return found


def main() -> None:
    try:
        if sys.argv[1:] == ["crds"]:
            for path in crds():
                print(path)
        else:
            print(install())
    except HelmMissingError as exc:
        sys.exit(f"helm_cli: {exc}")


if __name__ == "__main__":
    main()
