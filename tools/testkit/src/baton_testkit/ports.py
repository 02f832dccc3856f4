"""Free loopback ports for the processes the kit starts."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999): a client retrying a port in that range
# while its server restarts can be handed that same port as its source and connect to
# itself, which then keeps the restarted server from binding.
_PORTS = range(20000, 32000)


def free_port() -> int:
    """A free loopback port outside the ephemeral range (see ``_PORTS``)."""
    for _ in range(200):
        port = random.choice(_PORTS)  # noqa: S311 - a port, not a secret
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {_PORTS.start}-{_PORTS.stop - 1}")
