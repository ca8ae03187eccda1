"""How long to wait before trying something again that failed: exponential backoff.

One rule for every retry sendwatch makes: a source read again within a check, a failed
source checked again by the service, an email sent again by the outbox.
"""

from __future__ import annotations


def backoff(first: float, failures: int, cap: float | None = None) -> float:
    """The wait after ``failures`` failures in a row (1 or more): ``first``, doubling with
    each further failure, never more than ``cap``."""
    if failures < 1:
        raise ValueError(f"backoff after {failures} failures: expected 1 or more")
    # 2**62 seconds is already beyond any cap; a long run of failures must not overflow a float.
    wait = first * 2.0 ** min(failures - 1, 62)
    return wait if cap is None else min(wait, cap)


def not_before(wait: float, retry_after: float | None, cap: float | None = None) -> float:
    """The wait before the next try: the backoff's ``wait``, or longer when the server
    asked for more (Retry-After), within ``cap``."""
    wait = max(wait, retry_after or 0.0)
    return wait if cap is None else min(wait, cap)
