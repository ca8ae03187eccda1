"""Run commands and measure each one: the launcher behind bench/benchmark.py.

Why a separate, small process: on Linux a child's peak RSS (``ru_maxrss``) starts from the
high-water mark of the memory it was forked from, so a command started by the benchmark
itself (which holds the rendered site) would report the benchmark's RSS, not its own. Started
from this tiny process instead, each command's figure is its own.

A command may start processes of its own (sendwatch's worker processes), and all of them
are counted:

- CPU: ``os.wait4`` on the command gives its own CPU time plus that of every descendant it
  waited for (the kernel adds a reaped child's times, and its children's, to its parent's).
  A descendant that outlives the command would escape that count, so this process makes
  itself the "child subreaper" (``prctl(PR_SET_CHILD_SUBREAPER)``): such an orphan becomes
  its child, is waited for here (killed after ``ORPHAN_WAIT`` s) and its CPU added; how many
  there were is reported as ``orphans`` (0 for a tool that cleans up after itself).
- Memory: ``ru_maxrss`` is the peak of the largest single process, not of them together.
  So while the command runs, every process of its tree is sampled every ``SAMPLE_EVERY`` s
  from /proc: ``rss_sum_kb`` is the highest sum of their RSS at one instant (shared pages
  counted in each process), ``pss_sum_kb`` the highest sum of their PSS (shared pages split
  between the processes sharing them), and ``hwm_sum_kb`` the sum of each process's own
  peak (``VmHWM`` as last seen; the command's from ``ru_maxrss``): an upper bound, reached
  only if every process peaked at the same time. A child between fork and exec is still a
  copy of its parent and is not counted apart from it. For a command of one process ``hwm_sum_kb`` is its
  ``ru_maxrss``; ``processes`` counts the processes seen.

Protocol: one JSON object per line on stdin, ``{"cmd", "env", "cwd", "timeout", "stdout",
"stderr"}`` (the last two are file paths for the command's output); one JSON line back on
stdout per command: ``{"wall", "cpu", "own_cpu", "maxrss_kb", "hwm_sum_kb", "rss_sum_kb",
"pss_sum_kb", "processes", "orphans", "exit"}``; ``own_cpu`` is the command's process alone,
without its children (read from /proc while it is a zombie, before it is waited for). It ends at end of input.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time

SAMPLE_EVERY = 0.05  # seconds
ORPHAN_WAIT = 10.0  # seconds an orphan of the command gets to end on its own
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return found


def tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo.extend(children(pid))
    return seen


def status_kb(pid: int, *fields: str) -> dict[str, int]:
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in fields:
                    values[name] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return values


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def cmdline(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


def not_yet_itself(pid: int) -> bool:
    """Between fork (or vfork) and exec a child is a copy of its parent (its memory
    figures are the parent's, its command line too): counted in its parent until it has
    exec'd. (A child that forks and never execs would be missed: no tool measured does.)"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parent = int(f.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return True
    return cmdline(pid) == cmdline(parent)


class Sampler(threading.Thread):
    """The memory of this process's descendants (the command's tree), until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.hwm: dict[int, int] = {}  # pid -> its VmHWM when last seen
        self.rss_sum = self.pss_sum = 0

    def run(self) -> None:
        me = os.getpid()
        while not self.stopped.wait(SAMPLE_EVERY):
            rss = pss = 0
            for pid in tree(me)[1:]:
                if not_yet_itself(pid):
                    continue
                found = status_kb(pid, "VmRSS", "VmHWM")
                if "VmHWM" not in found:
                    continue  # gone meanwhile, or a zombie
                # The latest, not the highest: a process that execs starts a new high-water mark.
                self.hwm[pid] = found["VmHWM"]
                rss += found.get("VmRSS", 0)
                pss += pss_kb(pid)
            self.rss_sum, self.pss_sum = max(self.rss_sum, rss), max(self.pss_sum, pss)


def own_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of the process alone (not its children), from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


def reap_orphans() -> tuple[int, float]:
    """Wait for the processes the command left behind (they are ours now); their count and CPU."""
    count, cpu = 0, 0.0
    deadline = time.monotonic() + ORPHAN_WAIT
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return count, cpu
        if pid:
            count += 1
            cpu += usage.ru_utime + usage.ru_stime
            continue
        if time.monotonic() > deadline:
            for orphan in children(os.getpid()):
                try:
                    os.kill(orphan, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.01)


def measure(job: dict) -> dict:
    with open(job["stdout"], "wb") as out, open(job["stderr"], "wb") as err:
        sampler = Sampler()
        start = time.perf_counter()
        proc = subprocess.Popen(job["cmd"], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=job["env"], cwd=job["cwd"])
        sampler.start()
        killer = threading.Timer(job["timeout"], proc.kill)
        killer.start()
        try:
            # Ended, but not waited for yet: as a zombie its own CPU time is still apart from its children's.
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
            own_cpu = own_cpu_seconds(proc.pid)
            _, status, usage = os.wait4(proc.pid, 0)  # its rusage, with that of the children it waited for
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        orphans, orphan_cpu = reap_orphans()
        sampler.stopped.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.hwm[proc.pid] = usage.ru_maxrss  # exact for the command itself
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime + orphan_cpu, "own_cpu": own_cpu,
            "maxrss_kb": usage.ru_maxrss,
            "hwm_sum_kb": sum(sampler.hwm.values()), "rss_sum_kb": sampler.rss_sum, "pss_sum_kb": sampler.pss_sum,
            "processes": len(sampler.hwm), "orphans": orphans, "exit": proc.returncode}


def main() -> None:
    if not become_subreaper():
        print("measure.py: cannot become a child subreaper; processes a command leaves behind go uncounted",
              file=sys.stderr)
    for line in sys.stdin:
        print(json.dumps(measure(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
