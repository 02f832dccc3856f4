"""Helm, built once under .tools/helm from the version pinned in scripts/helm/ (see
go_tools.py); and the custom resource schemas the chart's KEDA and Prometheus Operator
objects are checked against.

    python scripts/helm_cli.py            # build helm when missing; print the binary
    python scripts/helm_cli.py crds       # fetch the pinned CRDs; print where they are

``make helm`` runs the first; the chart's tests run both. The CRDs come from the KEDA and
Prometheus Operator modules, each checked against the hash pinned below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from go_tools import TOOLS, ToolMissingError, go

HELM = TOOLS["helm"]

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

HelmMissingError = ToolMissingError


def install() -> Path:
    """helm's binary, built first when missing or pinned differently."""
    binaries: list[Path] = HELM.install()
    return binaries[0]


def crds() -> list[Path]:
    """The pinned CRD files, from the Go module cache (downloaded when missing)."""
    HELM.target.mkdir(parents=True, exist_ok=True)
    found: list[Path] = []
    for module, (expected, files) in CRD_MODULES.items():
        done = go(["mod", "download", "-json", module], HELM.target)
        try:
            info = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise ToolMissingError(f"`go mod download {module}` failed:\n{done.stderr}") from None
        if "Dir" not in info:
            raise ToolMissingError(f"`go mod download {module}` failed: {info.get('Error')}")
        if info.get("Sum") != expected:
            raise ToolMissingError(f"{module} has hash {info.get('Sum')}, pinned {expected}")
        found.extend(Path(info["Dir"]) / name for name in files)
    return found


def main() -> None:
    try:
        if sys.argv[1:] == ["crds"]:
            for path in crds():
                print(path)
        else:
            print(install())
    except ToolMissingError as exc:
        sys.exit(f"helm_cli: {exc}")


if __name__ == "__main__":
    main()
