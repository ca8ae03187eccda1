"""Find, read and validate the configuration; explain what is wrong in one message.

Which file: ``--config PATH``, else ``$SENDWATCH_CONFIG``, else ``./sendwatch.toml``,
else the watchlist shipped inside the package (so a fresh install runs as it is).
Environment variables win over the file for deployment settings
(``SENDWATCH_DATABASE_URL``, ``SENDWATCH_DATA_DIR``), and are the only home of secrets.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from config.errors import ConfigError
from config.settings import Settings, SourceSettings

DEFAULT_FILENAME = "sendwatch.toml"
EMBEDDED = "watchlist.toml"


class KindRules(Protocol):
    """What the loader needs of a source kind to check a source of it. The kinds live above
    config (monitor.sources), so whoever loads settings hands them in."""

    discovers: bool

    def read_options(self, source: SourceSettings) -> object: ...


def embedded_watchlist_text() -> str:
    return resources.files("config").joinpath(EMBEDDED).read_text(encoding="utf-8")


def config_path(explicit: str | os.PathLike | None, env: Mapping[str, str]) -> Path | None:
    """The file to read, or None for the embedded watchlist."""
    if explicit:
        return Path(explicit)
    if env.get("SENDWATCH_CONFIG"):
        return Path(env["SENDWATCH_CONFIG"])
    local = Path(DEFAULT_FILENAME)
    return local if local.exists() else None


def load_settings(
    explicit: str | os.PathLike | None = None, env: Mapping[str, str] | None = None, *,
    kinds: Mapping[str, KindRules],
) -> Settings:
    """The settings from ``explicit``, else where ``config_path`` finds them; each source
    checked against its kind in ``kinds`` (``monitor.sources.KINDS``)."""
    env = os.environ if env is None else env
    path = config_path(explicit, env)
    if path is None:
        return parse_settings(embedded_watchlist_text(), origin=f"<embedded {EMBEDDED}>", env=env, kinds=kinds)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}") from None
    return parse_settings(text, origin=str(path), env=env, base_dir=path.parent, kinds=kinds)


def parse_settings(
    text: str,
    *,
    origin: str,
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    kinds: Mapping[str, KindRules],
) -> Settings:
    env = os.environ if env is None else env
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_explain_toml(origin, text, exc)) from None

    raw = dict(raw)
    # The file says [[source]] and [[commitment]], one table each; the schema holds lists.
    raw["sources"] = raw.pop("source", raw.get("sources", []))
    raw["commitments"] = raw.pop("commitment", raw.get("commitments", []))
    raw["recipients"] = raw.pop("recipient", raw.get("recipients", []))
    raw["operators"] = raw.pop("operator", raw.get("operators", []))
    try:
        settings = Settings.model_validate({**raw, "origin": origin})
    except ValidationError as exc:
        raise ConfigError(_explain(origin, raw, exc)) from None

    _check_kinds(origin, settings, kinds)
    _check_references(origin, settings)
    return _apply_environment(settings, env, base_dir)


_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)")
_KEY_VALUE = re.compile(r"""^\s*([\w.-]+|"[^"]*")\s*=\s*([^#]*)""")
_DATE_LIKE = re.compile(r"^\d+[-/.]\d+")


def _explain_toml(origin: str, text: str, exc: tomllib.TOMLDecodeError) -> str:
    """The parser's words, except for a mistyped date: TOML dates are bare, and the parser
    stops on ``2020-7-23`` with "Expected newline", which says nothing about dates."""
    found = _TOML_AT.search(str(exc))
    lines = text.splitlines()
    if found and 0 < int(found.group(1)) <= len(lines):
        line_no = int(found.group(1))
        pair = _KEY_VALUE.match(lines[line_no - 1])
        if pair and _DATE_LIKE.match(pair.group(2).strip()):
            key, value = pair.group(1).strip('"'), pair.group(2).strip()
            return (f"{origin}, line {line_no}, field {key!r}: {value!r} is not a date; "
                    "write it as YYYY-MM-DD without quotes, such as 2020-07-23")
    return f"{origin}: not valid TOML: {exc}"


def _check_references(origin: str, settings: Settings) -> None:
    """A source or recipient naming a commitment that does not exist is a typo to catch now,
    not a subscription that silently never fires."""
    known = {c.id for c in settings.commitments}
    # (table, index, what names the entry, the commitments it names)
    entries = [("sources", index, source.id, source.commitments) for index, source in enumerate(settings.sources)]
    entries += [("recipients", index, recipient.email, recipient.commitments)
                for index, recipient in enumerate(settings.recipients)]
    for table, index, name, commitments in entries:
        wanted = [c for c in commitments if c != "all" or table == "sources"]
        unknown = [c for c in wanted if c not in known]
        if unknown:
            listed = ", ".join(sorted(known)) or "none are defined"
            raise ConfigError(f"{origin}: {table[:-1]} {name!r} ({table}[{index}]), "
                              f"field 'commitments': unknown commitment {unknown[0]!r} "
                              f"(known: {listed})")


def _check_kinds(origin: str, settings: Settings, kinds: Mapping[str, KindRules]) -> None:
    for index, source in enumerate(settings.sources):
        where = f"{origin}: source {source.id!r} (sources[{index}])"
        kind = kinds.get(source.kind)
        if kind is None:
            known = ", ".join(sorted(kinds))
            raise ConfigError(f"{where}, field 'kind': unknown kind {source.kind!r}; known kinds: {known}")
        if source.expected and kind.discovers:
            raise ConfigError(f"{where}, field 'expected': a {source.kind} source lists documents as they come; "
                              "only a page or govuk-content source is one page that can be expected to appear")
        try:
            kind.read_options(source)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or "?"
            raise ConfigError(f"{where}, field {field!r}: {reason(error)}") from None
        except ValueError as exc:  # the URL's query, read into the options
            raise ConfigError(f"{where}, field 'url': {exc}") from None


def _apply_environment(settings: Settings, env: Mapping[str, str], base_dir: Path | None) -> Settings:
    data_dir = env.get("SENDWATCH_DATA_DIR") or settings.data_dir
    if data_dir is None:
        xdg = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        data_dir = Path(xdg) / "sendwatch"
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_absolute() and base_dir is not None:
        data_dir = base_dir / data_dir
    database_url = env.get("SENDWATCH_DATABASE_URL") or settings.database_url
    if not database_url:
        database_url = f"sqlite:///{data_dir.resolve() / 'sendwatch.db'}"
    else:
        where = "SENDWATCH_DATABASE_URL" if env.get("SENDWATCH_DATABASE_URL") else "field 'database_url'"
        _check_database_url(database_url, f"{settings.origin}, {where}")
    email = settings.email
    if not email.maildir.is_absolute():
        email = email.model_copy(update={"maildir": data_dir / email.maildir})
    # A container listens on 0.0.0.0 without needing a config file of its own.
    web: dict[str, str | int] = {}
    if env.get("SENDWATCH_WEB_HOST"):
        web["host"] = env["SENDWATCH_WEB_HOST"]
    if env.get("SENDWATCH_WEB_PORT"):
        port = env["SENDWATCH_WEB_PORT"]
        if not port.isdigit() or int(port) > 65535:
            raise ConfigError(f"SENDWATCH_WEB_PORT={port!r} is not a port number")
        web["port"] = int(port)
    secret = env.get("SENDWATCH_SECRET_KEY") or None
    if secret is not None and len(secret) < MIN_SECRET:
        raise ConfigError(f"SENDWATCH_SECRET_KEY is {len(secret)} characters long; it signs every link in the "
                          f"emails and needs at least {MIN_SECRET} (python3 -c 'import secrets; "
                          "print(secrets.token_urlsafe(32))' makes one)")
    password_hash = env.get("SENDWATCH_OPERATOR_PASSWORD_HASH") or None
    if password_hash is not None and not password_hash.startswith("$argon2"):
        raise ConfigError("SENDWATCH_OPERATOR_PASSWORD_HASH is not an Argon2 hash: make one with "
                          "sendwatch operator-password")
    return settings.model_copy(update={"data_dir": data_dir, "database_url": database_url, "email": email,
                                       "web": settings.web.model_copy(update=web), "secret_key": secret,
                                       "operator_password_hash": password_hash})


MIN_SECRET = 32


def _check_database_url(url: str, where: str) -> None:
    """A URL SQLAlchemy cannot use, or whose driver is not installed, is a config error now
    rather than a traceback on first use."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect().import_dbapi()
    except ArgumentError:
        raise ConfigError(f"{where}: {url!r} is not a database URL such as "
                          "'sqlite:///sendwatch.db' or 'postgresql+psycopg://user@host/db'") from None
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"{where}: cannot use {make_url(url).drivername!r}: {exc} "
                          "(for PostgreSQL: pip install 'sendwatch[postgres]')") from None


def _explain(origin: str, raw: Mapping[str, Any], exc: ValidationError) -> str:
    """One message naming the file, the source (by id) and the field."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = origin
    if len(loc) >= 2 and loc[0] in ("sources", "commitments", "recipients", "operators") and isinstance(loc[1], int):
        index, table = loc[1], loc[0]
        entries = raw.get(table) or []
        entry_id = entries[index].get("id") if index < len(entries) and isinstance(entries[index], dict) else None
        noun = table[:-1]
        where += f": {noun} {entry_id!r} ({table}[{index}])" if entry_id else f": {table}[{index}]"
        loc = loc[2:]
    field = ".".join(str(p) for p in loc)
    more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    if field:
        return f"{where}, field {field!r}: {reason(error)}{more}"
    return f"{where}: {reason(error)}{more}"


def reason(error: Mapping[str, Any]) -> str:
    """One pydantic error in words for a person (what the config error messages say)."""
    kind = error.get("type", "")
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known setting (misspelt?)"
    message = str(error.get("msg", "invalid"))
    if kind in ("literal_error", "enum"):  # a choice field: "must be 'each', 'daily' or 'weekly'"
        message = f"must be {error.get('ctx', {}).get('expected', 'one of the choices')}"
    # pydantic prefixes messages of custom validators; the user needs only the reason.
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    if "input" in error and kind not in ("value_error",) and not isinstance(error["input"], dict | list):
        message += f" (got {error['input']!r})"
    return message
