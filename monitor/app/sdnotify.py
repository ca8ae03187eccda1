"""Telling systemd how the service is doing (sd_notify), without a library for it.

With ``Type=notify`` systemd counts the service as started only once it says READY=1,
which ``serve`` says after its signal handlers are in place: until then systemd neither
reports the start as done nor sends the reload that would otherwise reach a process not
yet listening for it. Outside systemd (no NOTIFY_SOCKET) nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("sendwatch.service")


def sd_notify(state: str, env: Mapping[str, str] = os.environ) -> bool:
    """Send ``state`` (such as "READY=1") to systemd; False when there is no one to tell.
    A failure is logged, never raised: the service runs the same without it."""
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("cannot tell systemd %r at %s: %s", state.split("\n")[0], env.get("NOTIFY_SOCKET"), exc)
        return False
    return True
