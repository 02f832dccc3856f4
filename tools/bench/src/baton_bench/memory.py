"""How much memory each service needed at most."""

from __future__ import annotations

from pathlib import Path

from baton_testkit import System


def peak_memory_mb(system: System) -> dict[str, float]:
    """Each service's peak resident memory so far (VmHWM), in MB."""
    peaks = {}
    for name, program in system.programs.items():
        for process in program.processes:
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
            except FileNotFoundError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[name] = int(line.split()[1]) / 1024
    return peaks
