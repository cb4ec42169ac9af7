"""Turn finished :class:`ActiveTrace` objects (raw tuples) into store rows.

Runs in the recorder's thread, off the request path, but still in the
application's process and under its GIL, so the cost per span is kept to a few
dict lookups: a call stack is resolved (file, line, function) and serialised
once per call site, a statement is normalised once per text, and both are
written to the store once per connection, the spans referring to them by id.
"""

from __future__ import annotations

import os
from types import CodeType
from typing import Any

from perfdoctor import store
from perfdoctor.callsite import RawFrame, line_of
from perfdoctor.capture import orm_catalogs
from perfdoctor.capture.context import ActiveTrace
from perfdoctor.capture.graphql import trace_name
from perfdoctor.capture.privacy import hash_digest
from perfdoctor.capture.response import BodySummary
from perfdoctor.fingerprint import normalize
from perfdoctor.model import Location
from perfdoctor.store import layout
from perfdoctor.triggers import describe

_MAX_CACHED = 50_000
# Lists shared by the spans of a path live for a trace (joined with its anchor's
# outside) or the process: recent ones suffice, and a list met once costs its memory.
_MAX_STACK_LISTS = 4_096
# No value a span holds: the span before the first.
_NOTHING: Any = object()


def location(code: CodeType, offset: int) -> Location:
    # co_qualname from Python 3.11; the bare name before.
    function = getattr(code, "co_qualname", code.co_name)
    return Location(os.path.abspath(code.co_filename), line_of(code, offset), function)


def _equal(extra: Any, last: Any) -> bool:
    # Each query of a loop has a dict of its own holding an equal trigger (the
    # same class or template, field and source): the same shape as the query
    # before.  A value whose ``==`` fails is taken as different.
    try:
        return bool(extra == last)
    except Exception:
        return False


def _by_value(extra: dict[str, Any] | None) -> tuple[Any, ...] | None:
    return None if extra is None else tuple(extra.items())


def _statement_text(sql: Any) -> str:
    if isinstance(sql, bytes):
        return sql.decode("utf-8", "replace")
    return sql if isinstance(sql, str) else str(sql)


class Encoder:
    """Builds :class:`perfdoctor.store.Batch` rows; one per recorder (per process)."""

    def __init__(self) -> None:
        # (code id, offset) pairs of a call site -> (stack id, frames JSON, the
        # frames: their code objects held, so that the ids are not reused).
        # Keyed by identity: a code object's own hash covers its constants,
        # nested code objects included (a module's code hashes every function in
        # it), and it is computed again on every call: tens of µs for one stack.
        self._stacks: dict[tuple[int, ...], tuple[str, str, list[RawFrame]]] = {}
        # id of a frames list -> that list, and its entry in _stacks: the hot path
        # hands every span of a remembered call path the same list
        # (perfdoctor.callsite).  Two dicts, not a tuple per list: most lists are
        # a request's own, and a tuple holding one would stay in the collector's
        # view (the recorder takes the lists themselves out of it).
        self._stack_lists: dict[int, list[RawFrame]] = {}
        self._stack_found: dict[int, tuple[str, str, list[RawFrame]]] = {}
        # statement text as issued -> (fingerprint, normalised statement)
        self._statements: dict[str, tuple[str, str]] = {}
        # a span's attributes (as items) -> their JSON
        self._extras: dict[tuple[Any, ...], str] = {}
        # Python hash of a query's parameters -> its keyed digest, as a span's row
        # holds it after the times: ',"<hex>"'
        self._digests: dict[int, str] = {}
        # ids the current store connection has committed: not sent again
        self.written_stacks: set[str] = set()
        self.written_statements: set[str] = set()
        self.written_catalogs: set[str] = set()
        # the batch the ORM catalogs were last looked up for, and their ids:
        # one look-up per batch, not per trace
        self._orm_batch: store.Batch | None = None
        self._orm_ids: list[str] = []

    def forget_written(self) -> None:
        """The connection changed (or a write failed): send everything again."""
        self.written_stacks.clear()
        self.written_statements.clear()
        self.written_catalogs.clear()

    def written_refs(self) -> store.Batch:
        """The stacks, statements and catalogs this connection wrote (as far as the
        caches still hold them): to write again after retention swept some away."""
        refs = store.Batch()
        for stack_id, text, _frames in self._stacks.values():
            if stack_id in self.written_stacks:
                refs.stacks[stack_id] = text
        for fingerprint, statement in self._statements.values():
            if fingerprint in self.written_statements:
                refs.statements[fingerprint] = statement
        for catalog_id, text in orm_catalogs.current():
            if catalog_id in self.written_catalogs:
                refs.orm_catalogs[catalog_id] = text
        return refs

    def committed(self, batch: store.Batch) -> None:
        self.written_stacks.update(batch.stacks)
        self.written_statements.update(batch.statements)
        self.written_catalogs.update(batch.orm_catalogs)
        self._orm_batch = None

    def _orm(self, batch: store.Batch) -> list[str]:
        if batch is not self._orm_batch:
            self._orm_batch = batch
            self._orm_ids = []
            for catalog_id, text in orm_catalogs.current():
                self._orm_ids.append(catalog_id)
                if catalog_id not in self.written_catalogs:
                    batch.orm_catalogs[catalog_id] = text
        return self._orm_ids

    def _stack(self, frames: list[RawFrame], batch: store.Batch) -> str | None:
        if not frames:
            return None
        found = self._stack_found.get(id(frames))
        if found is None or self._stack_lists.get(id(frames)) is not frames:
            key = tuple([id(code) for code, _ in frames] + [offset for _, offset in frames])
            found = self._stacks.get(key)
            if found is None:
                if len(self._stacks) >= _MAX_CACHED:
                    self._stacks.clear()
                text = store.stack_json(location(code, offset) for code, offset in frames)
                found = self._stacks[key] = (store.content_id(text), text, frames)
            if len(self._stack_lists) >= _MAX_STACK_LISTS:
                self._stack_lists.clear()
                self._stack_found.clear()
            self._stack_lists[id(frames)] = frames
            self._stack_found[id(frames)] = found
        stack_id = found[0]
        if stack_id not in self.written_stacks:
            batch.stacks[stack_id] = found[1]
        return stack_id

    def _extra_text(self, extra: dict[str, Any]) -> str | None:
        """A span's attributes as stored, once per distinct value: a serializer's
        or template's loop gives every row's query the same trigger, and a page's
        cache reads of one key have the same attributes."""
        key: tuple[Any, ...] | None = tuple(extra.items())
        try:
            found = self._extras.get(key)  # type: ignore[arg-type]
        except Exception:  # unhashable (a list, a template object) or uncomparable values
            key = found = None
        if found is None:
            if "trigger" in extra:
                extra = {**extra, "trigger": describe(extra["trigger"])}
            found = layout.attrs_json(extra) or ""
            if key is not None:
                if len(self._extras) >= _MAX_CACHED:
                    self._extras.clear()
                self._extras[key] = found
        return found or None

    def _fingerprint(self, sql: Any, batch: store.Batch) -> str:
        if type(sql) is not str:
            # bytes, or a driver's composed-statement object (perhaps unhashable)
            sql = _statement_text(sql)
        found = self._statements.get(sql)
        if found is None:
            if len(self._statements) >= _MAX_CACHED:
                self._statements.clear()
            norm = normalize(sql)
            found = self._statements[sql] = (norm.fingerprint, norm.statement)
        fingerprint = found[0]
        if fingerprint not in self.written_statements:
            batch.statements[fingerprint] = found[1]
        return fingerprint

    def add(self, active: ActiveTrace, batch: store.Batch) -> None:
        """Encode ``active`` into ``batch``: its trace row, and the stacks, statements
        and catalogs it refers to that this connection has not written."""
        end = active.finished if active.finished is not None else active.start
        attrs = dict(active.attrs)
        cpu_ms = attrs.pop("cpu_ms", None)
        if active.dropped:
            attrs["dropped_spans"] = active.dropped
        orm_ids = self._orm(batch)
        if orm_ids:
            attrs["orm"] = orm_ids
        response = attrs.get("response")
        if type(response) is BodySummary:
            # Digested and parsed here, off the request's thread (see BodyMeter).
            attrs["response"] = response.facts()
        for key, value in attrs.items():
            if type(value) is float:  # response_ms: µs are plenty, 17 digits are not
                attrs[key] = round(value, 3)
        table = layout.SpanTable()
        shape_of = table.shape
        rows: list[str] = []
        append_row = rows.append
        attrs_json = layout.attrs_json
        stack_of = self._stack
        fingerprint_of = self._fingerprint
        digests = self._digests
        extra_text_of = self._extra_text
        # Per trace, a db span's row prefix ("[shape,") by what decides its shape:
        # its frames list (by identity: the trace's spans hold them, so no id is
        # reused within this call), attributes (by value), text, connection,
        # framework and system.  The spans of a loop resolve their shape once; the
        # span just before is checked first, without building a key.
        prefixes: dict[tuple[Any, ...], str] = {}
        last_frames: Any = _NOTHING
        last_sql = last_conn = last_extra = last_framework = last_system = _NOTHING
        prefix = ""
        for raw in active.spans:
            kind = raw[0]
            if kind == "db":
                (
                    _,
                    start,
                    duration,
                    frames,
                    framework,
                    system,
                    sql,
                    pkey,
                    params,
                    nrows,
                    conn,
                    extra,
                ) = raw
                if (
                    frames is last_frames
                    and conn == last_conn
                    and type(sql) is str
                    and sql == last_sql
                    and framework is last_framework
                    and system is last_system
                    and params is None
                    and (extra is last_extra or _equal(extra, last_extra))
                ):
                    pass  # the same shape as the span before
                elif params is None and type(sql) is str:
                    # Attributes by value: a loop's queries each have a dict of
                    # their own, and a loop of two or three queries a row meets
                    # each shape again only after the others.
                    shape_key: tuple[Any, ...] = (
                        id(frames), sql, conn, _by_value(extra), framework, system
                    )
                    try:
                        found = prefixes.get(shape_key)
                    except Exception:  # an unhashable or uncomparable template object
                        shape_key = (id(frames), sql, conn, id(extra), framework, system)
                        found = prefixes.get(shape_key)
                    if found is None:
                        shape = shape_of(
                            kind,
                            framework,
                            system,
                            fingerprint_of(sql, batch),
                            conn,
                            stack_of(frames, batch),
                            extra_text_of(extra) if extra is not None else None,
                        )
                        found = prefixes[shape_key] = f"[{shape},"
                    prefix = found
                    last_frames, last_extra, last_conn = frames, extra, conn
                    last_sql, last_framework, last_system = sql, framework, system
                else:
                    extra_text = None
                    if params is not None:
                        extra = {**(extra or {}), "params": repr(params)}
                        if "trigger" in extra:
                            extra = {**extra, "trigger": describe(extra["trigger"])}
                        extra_text = attrs_json(extra)
                    elif extra is not None:
                        extra_text = extra_text_of(extra)
                    shape = shape_of(
                        kind,
                        framework,
                        system,
                        fingerprint_of(sql, batch),
                        conn,
                        stack_of(frames, batch),
                        extra_text,
                    )
                    prefix = f"[{shape},"
                    last_frames = _NOTHING
                if type(nrows) is list:  # a cursor's running count of fetched rows
                    nrows = nrows[0]
                # The same parameters come back again and again (the same ids, the
                # same page): a keyed digest is worth computing once per value.
                # Kept as the row has it: ',"<hex>"'.
                digest = digests.get(pkey)
                if digest is None:
                    if pkey is None:
                        digest = ",null"
                    else:
                        if len(digests) >= _MAX_CACHED:
                            digests.clear()
                        digest = digests[pkey] = f',"{hash_digest(pkey)}"'
                start_us = round(start * 1e6)
                duration_us = round((start + duration) * 1e6) - start_us
                # The row as SpanTable.add would store it (trailing nulls left out).
                if type(nrows) is int:
                    append_row(f"{prefix}{start_us},{duration_us}{digest},{nrows}]")
                elif nrows is None:
                    if pkey is None:
                        append_row(f"{prefix}{start_us},{duration_us}]")
                    else:
                        append_row(f"{prefix}{start_us},{duration_us}{digest}]")
                else:  # a driver's odd count (a float, a bool): as JSON has it
                    rest = [start_us, duration_us, None if pkey is None else digest[2:-1], nrows]
                    append_row(prefix + layout.dumps(rest)[1:])
            else:
                extra = raw[5] if len(raw) > 5 and isinstance(raw[5], dict) else {}
                # The span's ``system`` (redis, requests...) travels in its attrs
                # from the hot path and is stored in its own column.
                system = extra.pop("system", None) if "system" in extra else None
                # ``db.connect`` spans carry their connection the same way.
                conn_id = extra.pop("connection_id", None) if "connection_id" in extra else None
                start_us = round(raw[1] * 1e6)
                stack_id, text = stack_of(raw[3], batch), extra_text_of(extra)
                shape = shape_of(kind, raw[4], system, None, conn_id, stack_id, text)
                append_row(f"[{shape},{start_us},{round((raw[1] + raw[2]) * 1e6) - start_us}]")
        batch.traces.append(
            (
                active.id,
                # A GraphQL request is named by its operation too: one endpoint, many.
                trace_name(active.name, attrs) if active.kind == "http" else active.name,
                active.kind,
                active.started_at,
                (end - active.start) * 1000.0,
                active.status,
                os.getpid(),
                cpu_ms,
                attrs_json(attrs) or "{}",
                table.json_of(rows),
            )
        )
