"""The credentials file `crieur auth` writes: locate it, read an account's table, update it atomically (0600)."""

from __future__ import annotations

import math
import os
import re
import secrets
import stat
import sys
import tomllib
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Iterator

from bot.errors import BadInput

__all__ = ["CredentialsFileError", "default_path", "dumps", "read_file", "read_table", "update_table"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_HEADER = "# Crieur credentials, written by `crieur auth`. Keep this file private (mode 0600).\n"
_POSIX = sys.platform != "win32"


class CredentialsFileError(BadInput):
    """The credentials file is missing, unreadable, too open, not TOML, or cannot be written.

    Messages name the file and never contain a value from it.
    """


def default_path() -> Path:
    """`$CRIEUR_CREDENTIALS`, else `credentials.toml` in the user config dir (what `credentials: file` reads)."""
    # One definition of the location: the campaign loader's, which `credentials: file` resolves through.
    from bot.campaign import default_credentials_path

    return default_credentials_path()


def read_file(path: Path) -> dict[str, Any]:
    """The whole file as parsed TOML; `{}` when it does not exist.

    :raises CredentialsFileError: readable by group or others, unreadable, or not valid TOML
    """
    try:
        _check_private(path)
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError:
        raise CredentialsFileError(f"credentials file {path} is not valid TOML") from None
    except OSError as exc:
        raise CredentialsFileError(f"credentials file {path}: {exc.strerror}") from None


def read_table(path: Path, table: str) -> dict[str, str]:
    """The `[table]` of the file as strings; `{}` when the file or the table does not exist.

    :raises CredentialsFileError: as `read_file`, or `table` is not a table
    """
    section = read_file(path).get(table, {})
    if not isinstance(section, dict):
        raise CredentialsFileError(f"credentials file {path}: {table} is not a table")
    return {str(k): str(v) for k, v in section.items() if not isinstance(v, dict)}


def update_table(path: Path, table: str, values: Mapping[str, str], *,
                 remove: Iterable[str] = ()) -> Path:
    """Set `values` in `[table]` (other keys and tables kept), drop the keys in `remove`; return the path.

    The file is rewritten whole and atomically: a new file opened 0600 from the start (never
    readable by others, not even for an instant) in the same directory, fsynced, then renamed over
    the old one. A missing directory is created 0700. A symlinked file is updated at its target.
    Comments of a hand-edited file are not kept. Concurrent updates are serialised by a lock file.

    :raises CredentialsFileError: the existing file is readable by others or not TOML (it is left
        untouched), or it cannot be written
    """
    path = Path(path).expanduser()
    if path.is_symlink():
        path = path.resolve()
    _make_private_dir(path.parent)
    with _locked(path):
        data = read_file(path)
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise CredentialsFileError(f"credentials file {path}: {table} is not a table")
        dropped = set(remove)
        section = {k: v for k, v in section.items() if k not in dropped}
        section.update({str(k): str(v) for k, v in values.items()})
        data[table] = section
        _atomic_write(path, dumps(data))
    return path


def dumps(data: Mapping[str, Any]) -> str:
    """TOML text for `data`: top-level scalars, then one `[table]` per mapping (one level deep).

    Strings are written as basic strings with every control character escaped, so any value
    (quotes, backslashes, newlines, non-ASCII) reads back identical with `tomllib`.

    :raises CredentialsFileError: a value TOML cannot hold here (a table nested in a table)
    """
    lines = [_HEADER]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    for key, value in data.items():
        if not isinstance(value, dict):
            lines.append(f"{_key(key)} = {_value(value, key)}\n")
    for name, table in tables:
        lines.append(f"\n[{_key(name)}]\n")
        for key, value in table.items():
            if isinstance(value, dict):
                raise CredentialsFileError(f"credentials file: [{name}].{key} is a nested table; "
                                           "crieur writes flat tables only")
            lines.append(f"{_key(key)} = {_value(value, f'{name}.{key}')}\n")
    return "".join(lines)


# --- TOML writing ---------------------------------------------------------------------------


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _value(value: Any, where: str) -> str:
    # Values come back from tomllib when the file is rewritten, so every scalar type it yields
    # must round-trip; crieur itself writes strings only.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    raise CredentialsFileError(f"credentials file: {where}: cannot write a {type(value).__name__} value")


# --- files ----------------------------------------------------------------------------------


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode  # FileNotFoundError is the caller's business
    if _POSIX and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsFileError(f"credentials file {path} is readable by other users; run: chmod 600 {path}")


def _make_private_dir(directory: Path) -> None:
    if directory.is_dir():
        return  # an existing directory (~/.config) is the user's: leave its mode alone
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        directory.mkdir(mode=0o700)
    except FileExistsError:
        pass  # created meanwhile by another process
    except OSError as exc:
        raise CredentialsFileError(f"cannot create {directory}: {exc.strerror}") from None


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = _open_private_temp(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise CredentialsFileError(f"cannot write credentials file {path}: {exc.strerror}") from None
        raise
    if _POSIX:  # make the rename itself durable
        try:
            dir_fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)


def _open_private_temp(path: Path) -> tuple[int, str]:
    # 0600 at creation (O_EXCL, so never an existing file): there is no instant at which the
    # secrets sit in a file others could open. The umask can only remove bits, not add them.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise CredentialsFileError(f"cannot write in {path.parent}: {exc.strerror}") from None
        if _POSIX:
            os.fchmod(fd, 0o600)
        return fd, tmp
    raise CredentialsFileError(f"cannot create a temporary file in {path.parent}")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside `path` (POSIX), so two `crieur auth` runs cannot lose each other's table."""
    if not _POSIX:
        yield
        return
    import fcntl

    lock_path = path.parent / f".{path.name}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise CredentialsFileError(f"cannot lock {lock_path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
