"""DSNs: read from the file a config names, parsed as URLs, never printed.

A DSN is a SQLAlchemy-style URL (``postgresql://…``, ``mysql+pymysql://…``,
``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``). Errors name the DSN
*file*, never its text, because the text holds the password. ``str()`` of a :class:`Dsn`
is the redacted form.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from targetsync_core.errors import ConfigError, read_user_file


@dataclass(frozen=True)
class Dsn:
    scheme: str           # dialect, without the driver part
    driver: str
    username: str | None
    password: str | None = field(repr=False)
    host: str | None
    port: int | None
    database: str         # path for sqlite, database name otherwise
    query: str
    source: str           # where it came from, for messages: the DSN file's path
    #: a cloud credentials file the config names (``gcpCredfile``), for the adapter to read
    credentials_file: str | None = None

    def __str__(self) -> str:
        return f"<{self.scheme} DSN from {self.source}>"

    __repr__ = __str__


def read_dsn_file(path: str, key: str) -> Dsn:
    """Read and parse the DSN in ``path``; a relative sqlite path is taken relative to the
    DSN file's folder, so a run directory can be moved as a whole."""
    p = Path(path)
    text = read_user_file(p, f"{key}: DSN file")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) != 1:
        raise ConfigError(f"{key}: DSN file {path} must hold exactly one URL")
    return remember_secret(parse_dsn(lines[0].strip(), source=str(path), base=p.parent))


ENCODE_HINT = ("percent-encode '/', '@', ':', '?' and '#' in the user name and password "
               "(%2F %40 %3A %3F %23)")


def parse_dsn(url: str, source: str = "<dsn>", base: Path | None = None) -> Dsn:
    """The DSN ``url`` from file ``source``, or ConfigError naming only the file: where a
    password holds a character that ends the authority (``/``, ``?``, ``#``), the URL's
    parts are not what they seem (its host would be the user name, its path the rest of
    the password), so no part of it is ever quoted."""
    bad = ConfigError(f"the DSN in {source} is not a valid URL: {ENCODE_HINT}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise bad from None
    scheme, _, driver = parts.scheme.partition("+")
    if not scheme or "://" not in url:
        raise ConfigError(f"the DSN in {source} is not a URL of the form dialect[+driver]://…")
    if scheme == "sqlite":
        return _sqlite(url, parts, source, base)
    if "@" in parts.path + parts.query + parts.fragment or (parts.fragment and not parts.netloc.count("@")):
        raise bad   # an '@' after the authority: the password held '/', '?' or '#'
    return Dsn(scheme.lower(), driver, unquote(parts.username) if parts.username else None,
               unquote(parts.password) if parts.password else None, parts.hostname, port,
               unquote(parts.path.lstrip("/")), parts.query, source)


def _sqlite(url: str, parts, source: str, base: Path | None) -> Dsn:
    # sqlite:///rel.db → path "rel.db"; sqlite:////abs.db → "/abs.db" (SQLAlchemy's form)
    rest = url.split("://", 1)[1]
    if not rest.startswith("/") or rest == "/":
        raise ConfigError(f"DSN in {source}: a sqlite URL is sqlite:///relative.db or sqlite:////absolute.db")
    path = unquote(rest[1:].split("?", 1)[0])
    if not Path(path).is_absolute() and base is not None:
        path = str(base / path)
    return Dsn("sqlite", parts.scheme.partition("+")[2], None, None, None, None, path, parts.query, source)


# Every password read from a DSN file is remembered here so that the command line and the
# log handlers can scrub it from any text that reaches a user (a driver's error message
# may quote its connection string).
_SECRETS: set[str] = set()


def remember_secret(dsn: Dsn) -> Dsn:
    if dsn.password:
        _SECRETS.add(dsn.password)
    return dsn


def remember(secret: str | None) -> None:
    """Scrub ``secret`` (a token, a key read from a file) from any text shown from now on."""
    if secret:
        _SECRETS.add(secret)


def scrub(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
