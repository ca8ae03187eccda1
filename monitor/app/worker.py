"""One worker process of a ``WorkerPool`` (``monitor/app/pool.py``): runs the jobs it is sent.

Started as ``python -m monitor.app.worker MODULE...``: it imports the modules named (so the
first job does not pay for them), then reads jobs from its standard input, one at a time,
and writes each one's outcome to its standard output (after a first message, ``ready``,
once its imports are done). A job is a pickled
``(function, args, kwargs)``; its outcome a pickled ``(True, value)`` or ``(False,
exception)``. Each message is preceded by its length (4 bytes, big-endian).

Kept to the standard library and to what the jobs import: a worker costs what its
imports cost, and it imports nothing of the fetching, the record or the command line.

It ignores SIGINT and SIGTERM: Ctrl-C in a terminal and systemd's stop reach every process
of the group, and the pool that owns it decides when it ends (by closing its input, after
the checks in flight). When the owner dies, the input closes as well, so no worker outlives
it by more than the job it is running.
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.util
import os
import pickle
import signal
import struct
import sys
from typing import BinaryIO

LENGTH = struct.Struct(">I")
READY = b"ready"
PIPE_SIZE_SET = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_SIZE = 1 << 20


def frame(payload: bytes) -> bytes:
    return LENGTH.pack(len(payload)) + payload


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    if not data:
        return None
    while len(data) < size:  # a pipe may hand a long message over in parts
        more = stream.read(size - len(data))
        if not more:
            return None
        data += more
    return data


def _outcome(job: bytes) -> bytes:
    try:
        function, args, kwargs = pickle.loads(job)
        result = (True, function(*args, **kwargs))
    except Exception as exc:
        result = (False, exc)
    try:
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        if not result[0]:
            pickle.loads(payload)  # an exception that cannot be rebuilt on the other side is sent as words
        return payload
    except Exception as exc:
        shown = result[1] if not result[0] else exc
        return pickle.dumps((False, RuntimeError(f"{type(shown).__name__}: {shown}")))


# Packages whose __init__ a worker does not run: ``config``'s imports the settings schema and
# pydantic (half a worker's start-up time and memory) for the one class the core's errors
# need from it, ``config.errors``. Its modules import as usual when something asks for them.
UNINITIALISED = ("config",)


def _skip_init(package: str) -> None:
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations is not None:
        sys.modules[package] = importlib.util.module_from_spec(spec)  # its __path__, not its code


def main(modules: list[str]) -> int:
    for package in UNINITIALISED:
        _skip_init(package)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for pipe in (0, 1):
        try:  # a page (tens of KB) in one write, not in 4 KB pieces, each a wake-up on both sides
            fcntl.fcntl(pipe, PIPE_SIZE_SET, PIPE_SIZE)
        except (OSError, AttributeError):
            pass  # not Linux, or the system's pipe-max-size is lower: the default works, a little slower
    jobs = sys.stdin.buffer
    # The outcomes get a descriptor of their own; anything a job prints goes to stderr
    # instead of into the middle of a message.
    outcomes = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    for module in modules:
        importlib.import_module(module)
    outcomes.write(frame(READY))  # before any job: the pool knows a failure from here on is the job's
    outcomes.flush()
    while True:
        head = _read_exactly(jobs, LENGTH.size)
        if head is None:
            return 0  # the pool closed our input: done
        job = _read_exactly(jobs, LENGTH.unpack(head)[0])
        if job is None:
            return 0
        outcomes.write(frame(_outcome(job)))
        outcomes.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
