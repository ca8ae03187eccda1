"""What the design card's stack costs before sendwatch does any work of its own.

Run by bench/benchmark.py (unless ``--no-floor``) against the same site in the same run,
once per step below, each in a fresh process measured like the tools:

- ``start-up``: Python importing the libraries a check needs (httpx, httpcore, lxml,
  SQLAlchemy, pydantic) and nothing else.
- ``httpx``: those imports, then every page fetched with a bare ``httpx.AsyncClient`` (its
  default transport, ``--concurrency`` requests at a time, bodies read and dropped).
- ``fetcher``: the same with sendwatch's Fetcher (monitor/sources/fetch.py): per-host gate, size
  cap, retries, redirects checked one by one.
- ``parse``: the Fetcher's pass, then lxml (libxml2) parsing every body, as extraction's
  first step does. The figure printed for it is the parse alone (CPU after the fetch).

``python bench/floor.py STEP URL_FILE CONCURRENCY`` (one URL a line) prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _bare_httpx(urls: list[str], concurrency: int) -> list[bytes]:
    import httpx

    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency * 4)) as client:
        async def one(url: str) -> bytes:
            async with gate:
                response = await client.get(url)
                response.raise_for_status()
                return response.content

        return await asyncio.gather(*(one(u) for u in urls))


async def _fetcher(urls: list[str], concurrency: int) -> list[bytes]:
    from config.settings import FetchSettings
    from monitor.sources.fetch import Fetcher

    settings = FetchSettings(contact="bench@example.org", per_host_concurrency=concurrency, per_host_delay=0)
    async with Fetcher(settings) as fetcher:
        responses = await asyncio.gather(*(fetcher.get(u) for u in urls))
    return [r.body for r in responses]


def main() -> None:
    step, url_file, concurrency = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    import httpcore  # noqa: F401
    import httpx  # noqa: F401
    import lxml.etree
    import pydantic  # noqa: F401
    import sqlalchemy.orm  # noqa: F401

    urls = url_file.read_text(encoding="utf-8").split()
    out: dict = {"step": step}
    if step == "httpx":
        bodies = asyncio.run(_bare_httpx(urls, concurrency))
    elif step in ("fetcher", "parse"):
        bodies = asyncio.run(_fetcher(urls, concurrency))
    else:
        bodies = []
    out["bytes"] = sum(map(len, bodies))
    if step == "parse":
        parser = lxml.etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True,
                                       no_network=True, huge_tree=True)
        before = _cpu()
        for body in bodies:
            lxml.etree.fromstring(body, parser)
        out["parse_cpu"] = _cpu() - before
    print(json.dumps(out))


if __name__ == "__main__":
    main()
