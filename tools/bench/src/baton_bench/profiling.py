"""Sampling the services with py-spy during a phase (``--profile``), and reading the samples."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path


def start_profilers(
    pids: dict[str, int], seconds: float, *, skip: Sequence[str], out: Path
) -> list[subprocess.Popen[bytes]]:
    """One py-spy per process (but those in ``skip``), writing collapsed stacks to
    ``out/<name>.txt`` for ``seconds``."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy (uv sync --group bench installs it)")
    out.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(  # noqa: S603 - py-spy on our own processes
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(out / f"{name}.txt"),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
        if name not in skip
    ]


def hottest(profile: Path, top: int = 12) -> list[tuple[str, float]]:
    """The functions most often on top of the stack (self time), as shares of the samples."""
    counts: dict[str, int] = {}
    total = 0
    for line in profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frame = stack.rsplit(";", 1)[-1]
        counts[frame] = counts.get(frame, 0) + int(count)
        total += int(count)
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:top]
    return [(frame, n / max(1, total)) for frame, n in ranked]
