"""Traces set aside when the store cannot take them in time: plain files beside the store.

A process whose store is held by another one (a long report, a backup, a second
writer) or out of space does not wait: what it cannot store goes to a file in
``<store>-spool/``, and the next writer or reading command adds those files to
the store (``store.merge_spool``).  Plain file I/O only, no SQLite: the spool
must work when the store does not.

Each file is written under a temporary name and renamed when complete, so a
merger never reads half of one, and each carries its writer's pid and a counter,
so processes never share one.  Its trace count is in its name: a file that
cannot be read is still counted as lost.  A ``.lost`` file records traces that
could not be stored at all (their count and why), for ``report`` to show.

Runs inside the user's app: standard library only.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

SUFFIX = "-spool"
BATCH = ".batch"
LOST = ".lost"
_FORMAT = 1
_counter = itertools.count()


def folder(store: Path) -> Path:
    return Path(str(store) + SUFFIX)


def files(store: Path) -> list[Path]:
    """Complete spool files of ``store``, oldest first; none when there is no spool."""
    try:
        names = os.listdir(folder(store))
    except OSError:
        return []
    found = [name for name in names if name.endswith((BATCH, LOST))]
    return [folder(store) / name for name in sorted(found, key=_written_at)]


def count(file: Path) -> int:
    """How many traces ``file`` holds (batch) or records as lost, read from its name."""
    try:
        return int(file.name.split(".")[0].rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def is_batch(file: Path) -> bool:
    return file.name.endswith(BATCH)


def set_aside(store: Path, schema: int, traces: int, fields: dict[str, Any]) -> Path:
    """Write a batch's fields (lists of row tuples, dicts of texts) to a new spool file."""
    encoded = {name: _encode(value) for name, value in fields.items()}
    return _write(store, BATCH, traces, {"format": _FORMAT, "schema": schema, "fields": encoded})


def record_lost(store: Path, traces: int, reason: str) -> Path:
    return _write(store, LOST, traces, {"format": _FORMAT, "reason": reason})


def read_batch(file: Path) -> tuple[int, dict[str, Any]]:
    """A batch file's schema version and fields; ``ValueError`` when it is not one."""
    data = _read(file)
    fields = data.get("fields")
    if not isinstance(fields, dict):
        raise ValueError(f"{file.name} holds no batch")
    return int(data.get("schema", 0)), {name: _decode(value) for name, value in fields.items()}


def read_lost(file: Path) -> str:
    return str(_read(file).get("reason", "unknown"))


def discard(file: Path) -> None:
    try:
        file.unlink()
    except FileNotFoundError:  # another merger took it first
        pass


def tidy(store: Path) -> None:
    """Remove the spool folder once it is empty."""
    try:
        folder(store).rmdir()
    except OSError:  # not empty, or gone
        pass


def remove(store: Path) -> None:
    shutil.rmtree(folder(store), ignore_errors=True)


def _written_at(name: str) -> tuple[int, str]:
    parts = name.split("-")
    try:
        return int(parts[1]), name
    except (IndexError, ValueError):
        return 0, name


def _write(store: Path, suffix: str, traces: int, data: dict[str, Any]) -> Path:
    target_dir = folder(store)
    target_dir.mkdir(parents=True, exist_ok=True)
    name = f"{os.getpid()}-{time.time_ns()}-{next(_counter)}-{traces}{suffix}"
    target = target_dir / name
    partial = target_dir / f".{name}.partial"
    text = json.dumps(data, separators=(",", ":"))
    try:
        try:
            partial.write_text(text, encoding="utf-8")
        except FileNotFoundError:  # a merger removed the emptied folder just now
            target_dir.mkdir(parents=True, exist_ok=True)
            partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except BaseException:
        try:
            partial.unlink()
        except OSError:
            pass
        raise
    return target


def _read(file: Path) -> dict[str, Any]:
    with open(file, encoding="utf-8") as source:
        data = json.load(source)
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"{file.name} is not a spool file perfdoctor can read")
    return data


# Row values are text, numbers and None, and may be bytes (a compressed column):
# bytes go as {"b": base64}, which no other value looks like.
def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _encode_value(item) for key, item in value.items()}
    return [[_encode_value(item) for item in row] for row in value]


def _encode_value(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _decode_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tuple(_decode_value(item) for item in row) for row in value]
    raise ValueError("a spooled field is neither rows nor a table")


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        return base64.b64decode(value["b"])
    return value
