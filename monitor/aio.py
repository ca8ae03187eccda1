"""The event loop sendwatch's commands run on.

uvloop (libuv under asyncio's API) where it is installed, which pyproject.toml does on
Linux and macOS; asyncio's own loop elsewhere. Measured with bench/benchmark.py's site
(1,000 GETs of 50 KB pages through the Fetcher, ten at a time, best of six), on two
occasions: 1.08 and 1.02 s of CPU on asyncio's loop, 0.91 and 0.98 s on uvloop. Nothing
in sendwatch depends on which loop it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["run"]


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on uvloop when it is there."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
