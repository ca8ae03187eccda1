"""Pages that break the process reading them, for tests/test_workers.py.

``extract_page`` stands in for ``monitor.core.extract.extract_page`` during a test: a
worker process unpickles it by name (this module) and runs it. On a page holding one of
the markers it does what a parser bug would do to its process; on any other page it is
the real extraction.
"""

import os
import resource
import signal
import time

from monitor.core.extract import extract_page as real_extract_page

CRASH = b"<!-- crash the reader -->"  # the process dies of a segmentation fault
HANG = b"<!-- hang the reader -->"  # the process never answers


def extract_page(body: bytes, charset, *, url: str, selector=None):
    if CRASH in body:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file left behind
        os.kill(os.getpid(), signal.SIGSEGV)
    if HANG in body:
        while True:
            time.sleep(60)
    return real_extract_page(body, charset, url=url, selector=selector)
