"""Run commands and measure each one: the launcher behind bench/benchmark.py.

Why a separate, small process: on Linux a child's peak RSS (``ru_maxrss``) starts from the
high-water mark of the memory it was forked from, so a command started by the benchmark
itself (which holds the rendered site) would report the benchmark's RSS, not its own. Started
from this tiny process instead, each command's figure is its own.

Protocol: one JSON object per line on stdin, ``{"cmd", "env", "cwd", "timeout", "stdout",
"stderr"}`` (the last two are file paths for the command's output); one JSON line back on
stdout per command: ``{"wall", "cpu", "maxrss_kb", "exit"}``. It ends at end of input.
"""

import json
import os
import subprocess
import sys
import threading
import time


def measure(job: dict) -> dict:
    with open(job["stdout"], "wb") as out, open(job["stderr"], "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(job["cmd"], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=job["env"], cwd=job["cwd"])
        killer = threading.Timer(job["timeout"], proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # the rusage of that child alone
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss,
            "exit": proc.returncode}


def main() -> None:
    for line in sys.stdin:
        print(json.dumps(measure(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
