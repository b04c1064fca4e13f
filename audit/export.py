"""Streaming exports of the audit trail (CSV, JSON Lines) with the chain hashes of their range.

A time range is resolved to the range of sequence numbers it covers, bounded by the
head of the chain when the export starts, so the export is one contiguous stretch of
the chain however many events are appended meanwhile. `ExportRange` carries what a
verifier needs to check it is complete: the first and last seq, the hash before the
first event and the hash of the last. Unfiltered, the rows link from `prev_hash` to
`last_hash` with none missing; filtered by agent, actor or action, every row still
carries its own `prev_hash` and `hash`, and completeness is checked against the
unfiltered export of the same range.

On PostgreSQL the rows come from `COPY (SELECT ...) TO STDOUT`, passed through in
large chunks without being parsed: memory stays constant and the rate stays near
COPY's own.

A CSV export is opened in spreadsheets, which run a cell that starts with
`=`, `+`, `-`, `@`, a tab or a carriage return as a formula (OWASP, "CSV
Injection"). Usernames, slugs and request ids come from outside and may start
so: a username `+E3` would show another row's actor. So a CSV cell that starts
with one of these, or with the apostrophe itself, starts with one apostrophe
more (`CELL_ESCAPE`), which spreadsheets read as "text". Removing one leading
apostrophe from every cell that has one gives back the stored value, so each
row still re-hashes; JSON Lines carries the values as stored.

A CSV export starts with a UTF-8 byte order mark (`CSV_BOM`): without it Excel
reads a CSV in the machine's legacy code page, and a username, a comment or an
agent's name outside ASCII shows garbled. Python reads the file with
`encoding="utf-8-sig"`, which drops the mark. JSON Lines has none: it is for
programs, and JSON text carries no byte order mark (RFC 8259).
"""

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Max, Min, Q

from audit.chain import GENESIS_HASH, STORED_COLUMNS, format_time
from audit.models import AuditEvent

CSV = "csv"
JSONL = "jsonl"
FORMATS = {CSV: "text/csv; charset=utf-8", JSONL: "application/x-ndjson; charset=utf-8"}
CHUNK_BYTES = 256 * 1024
CSV_BOM = codecs.BOM_UTF8

# Exported columns: the hashed fields (time in its hashed form), then the links.
EXPORT_COLUMNS = STORED_COLUMNS

# What a spreadsheet takes for the start of a formula, and what a CSV cell starting
# with one of them (or with the escape itself, so the escape can be undone) gets first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CELL_ESCAPE = "'"
# The columns whose text comes from outside: a username (from single sign-on too), an
# agent's slug, the request id a client sent. No other cell can start so: numbers, the
# time, hex hashes, JSON objects (`audit_record` takes dicts), ids of rows, the app's
# own words, and token labels ("token:<prefix> (<name>)"). Testing these three
# alone keeps COPY's rate.
ESCAPED_COLUMNS = ("actor_label", "agent_slug", "request_id")


def csv_cell(value: str) -> str:
    """Return a text value as its CSV cell: with `CELL_ESCAPE` first if it could start a formula."""
    if value.startswith((*FORMULA_STARTS, CELL_ESCAPE)):
        return CELL_ESCAPE + value
    return value


@dataclass(frozen=True)
class ExportFilter:
    since: datetime | None = None
    until: datetime | None = None
    agent: str = ""
    actor: str = ""
    action: str = ""

    @property
    def narrows(self) -> bool:
        """Whether rows are left out inside the seq range (completeness needs the whole range)."""
        return bool(self.agent or self.actor or self.action)

    @classmethod
    def from_cleaned(cls, data: dict) -> "ExportFilter":
        return cls(
            **{
                name: data.get(name) or cls.__dataclass_fields__[name].default
                for name in ("since", "until", "agent", "actor", "action")
            }
        )


@dataclass
class ExportRange:
    first_seq: int | None
    last_seq: int | None
    prev_hash: str
    last_hash: str
    events: int
    filtered: bool
    filters: dict = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        """Return the range as response headers."""
        return {
            "X-Audit-First-Seq": "" if self.first_seq is None else str(self.first_seq),
            "X-Audit-Last-Seq": "" if self.last_seq is None else str(self.last_seq),
            "X-Audit-Prev-Hash": self.prev_hash,
            "X-Audit-Last-Hash": self.last_hash,
            "X-Audit-Range-Events": str(self.events),
            "X-Audit-Filtered": "true" if self.filtered else "false",
        }

    def trailer(self) -> dict:
        """Return the range as the last line of a JSON Lines export."""
        return {"type": "countersign.audit.range", **asdict(self)}


def export_range(flt: ExportFilter) -> ExportRange:
    """Resolve the filter's time range to the seq range it covers, up to today's head."""
    filters = {
        name: (format_time(value) if isinstance(value, datetime) else value)
        for name, value in asdict(flt).items()
        if value
    }
    events = AuditEvent.objects.all()
    head = events.aggregate(head=Max("seq"))["head"]
    bounds = events.filter(seq__lte=head or 0)
    first = (
        bounds.filter(created_at__gte=flt.since).aggregate(s=Min("seq"))["s"]
        if flt.since
        else (1 if head else None)
    )
    last = (
        bounds.filter(created_at__lt=flt.until).aggregate(s=Max("seq"))["s"] if flt.until else head
    )
    if first is None or last is None or first > last:
        return ExportRange(None, None, GENESIS_HASH, GENESIS_HASH, 0, flt.narrows, filters)
    hashes = dict(events.filter(seq__in=[first, last]).values_list("seq", "hash"))
    prev = events.filter(seq=first).values_list("prev_hash", flat=True).first()
    return ExportRange(
        first_seq=first,
        last_seq=last,
        prev_hash=prev or GENESIS_HASH,
        last_hash=hashes.get(last, ""),
        events=last - first + 1,
        filtered=flt.narrows,
        filters=filters,
    )


def export_stream(flt: ExportFilter, fmt: str) -> tuple[ExportRange, Iterator[bytes]]:
    """Return the export's range and an iterator of its bytes (to stream to a client)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}.")
    rng = export_range(flt)
    if connection.vendor == "postgresql":
        chunks = _copy_chunks(rng, flt, fmt)
    else:
        chunks = _python_chunks(rng, flt, fmt)
    if fmt == JSONL:
        chunks = _with_trailer(chunks, rng)
    else:
        chunks = _with_bom(chunks)
    return rng, chunks


def _with_trailer(chunks: Iterator[bytes], rng: ExportRange) -> Iterator[bytes]:
    yield from chunks
    yield (json.dumps(rng.trailer(), separators=(",", ":")) + "\n").encode()


def _with_bom(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield CSV_BOM
    yield from chunks


# --- PostgreSQL: COPY passed straight through --------------------------------------

_TIME = "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
# `csv_cell` in SQL: the code of the first character (`ascii`, no substring made) is
# compared with those of the starts.
_STARTS = ", ".join(str(ord(c)) for c in (*FORMULA_STARTS, CELL_ESCAPE))
_ESCAPE = "'" + CELL_ESCAPE.replace("'", "''") + "'"
_ESCAPED = f"CASE WHEN ascii({{0}}) IN ({_STARTS}) THEN {_ESCAPE} || {{0}} ELSE {{0}} END AS {{0}}"
_CSV_SELECT = ", ".join(
    {
        "created_at": f"{_TIME} AS created_at",
        "before": "before::text AS before",
        "after": "after::text AS after",
        "data": "data::text AS data",
        **{name: _ESCAPED.format(name) for name in ESCAPED_COLUMNS},
    }.get(name, name)
    for name in EXPORT_COLUMNS
)
_JSON_SELECT = "json_build_object({})::text".format(
    ", ".join(f"'{name}', " + (_TIME if name == "created_at" else name) for name in EXPORT_COLUMNS)
)


def _copy_query(rng: ExportRange, flt: ExportFilter, fmt: str):
    from psycopg import sql

    where = [
        sql.SQL("seq BETWEEN {} AND {}").format(
            sql.Literal(rng.first_seq), sql.Literal(rng.last_seq)
        )
    ]
    if flt.agent:
        where.append(sql.SQL("agent_slug = {}").format(sql.Literal(flt.agent)))
    if flt.actor:
        where.append(
            sql.SQL("(actor_label = {0} OR actor_id = {0})").format(sql.Literal(flt.actor))
        )
    if flt.action:
        where.append(sql.SQL("action = {}").format(sql.Literal(flt.action)))
    if fmt == CSV:
        columns, options = _CSV_SELECT, "FORMAT csv, HEADER"
    else:
        # One JSON text per line: CSV format with quote and delimiter characters JSON
        # never leaves unescaped, so each value passes through as it is.
        columns, options = _JSON_SELECT, "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'"
    return sql.SQL(
        "COPY (SELECT {} FROM audit_auditevent WHERE {} ORDER BY seq) TO STDOUT WITH ({})"
    ).format(sql.SQL(columns), sql.SQL(" AND ").join(where), sql.SQL(options))


def _copy_chunks(rng: ExportRange, flt: ExportFilter, fmt: str) -> Iterator[bytes]:
    if rng.first_seq is None:
        if fmt == CSV:
            yield (",".join(EXPORT_COLUMNS) + "\n").encode()
        return
    query = _copy_query(rng, flt, fmt)
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        with cursor.copy(query) as copy:
            parts, size, limit = [], 0, CHUNK_BYTES
            append = parts.append
            for data in copy:
                append(data)
                size += len(data)
                if size >= limit:
                    yield b"".join(parts)
                    parts.clear()
                    size = 0
            if parts:
                yield b"".join(parts)


# --- Other databases (the SQLite embedded default): the same bytes, built in Python ---


def _python_rows(rng: ExportRange, flt: ExportFilter) -> Iterator[tuple]:
    events = AuditEvent.objects.filter(seq__range=(rng.first_seq, rng.last_seq))
    if flt.agent:
        events = events.filter(agent_slug=flt.agent)
    if flt.actor:
        events = events.filter(Q(actor_label=flt.actor) | Q(actor_id=flt.actor))
    if flt.action:
        events = events.filter(action=flt.action)
    for row in events.order_by("seq").values_list(*EXPORT_COLUMNS).iterator(chunk_size=2000):
        yield (row[0], format_time(row[1]), *row[2:])


def _python_chunks(rng: ExportRange, flt: ExportFilter, fmt: str) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == CSV:
        writer.writerow(EXPORT_COLUMNS)
    if rng.first_seq is not None:
        json_at = {EXPORT_COLUMNS.index(name) for name in ("before", "after", "data")}
        text_at = {EXPORT_COLUMNS.index(name) for name in ESCAPED_COLUMNS}
        for row in _python_rows(rng, flt):
            if fmt == CSV:
                writer.writerow(
                    json.dumps(v, ensure_ascii=False)
                    if i in json_at
                    else csv_cell(v)
                    if i in text_at and v
                    else ("" if v is None else v)
                    for i, v in enumerate(row)
                )
            else:
                buffer.write(
                    json.dumps(dict(zip(EXPORT_COLUMNS, row, strict=True)), ensure_ascii=False)
                    + "\n"
                )
            if buffer.tell() >= CHUNK_BYTES:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()
