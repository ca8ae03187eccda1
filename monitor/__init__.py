"""sendwatch's code: ``core`` (pure), ``sources`` (fetching and the source kinds) and
``app`` (check, the service, the CLI); see ARCHITECTURE.md."""

import sys

# httpx imports its own command-line client (httpx._main) with itself, and that loads rich
# and pygments when they are installed: 45 ms and 6 MB of every sendwatch start, for a
# program sendwatch never runs. Marked unavailable here, before anything imports httpx,
# httpx defines its stub for it instead; the rest of httpx is unchanged. (Set only if
# nothing has imported it yet: a host program that did keeps what it has.)
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
