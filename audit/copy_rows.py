"""Read the stored chain out of PostgreSQL with COPY and hash its rows fast.

Verifying a long chain costs what building each event's canonical content costs,
not SHA-256. So on PostgreSQL the verifier reads the rows through `COPY ... TO
STDOUT` in its text format, the cheapest way out of the server, and fills one
bytes template per row instead of going through the ORM and
`audit.chain.event_hash`. This is the chain's one fast encoder: a property test
(tests/audit/test_event_hash.py) holds it to `event_hash` over stored events
with every kind of value.

From a COPY row to the canonical content:

- COPY's text format escapes the backslash, the tab, the newline and carriage
  return, and \\b \\f \\v, so a row's fields split on raw tabs.
- A string with nothing JSON escapes is its own JSON body and goes into the
  template as it comes. A row with a byte to escape in any string has each
  string unescaped from COPY and encoded by `canonical_json`.
- The text of a JSON column is parsed and encoded by `canonical_json` once per
  distinct text: audit payloads repeat (states, gate decisions).
- The server writes the time in its hashed form (`audit.chain.format_time`).
"""

import hashlib
import json
import re
from collections.abc import Callable, Iterator

from django.db import connection

from audit.chain import canonical_json

# seq first and prev_hash and hash last, as `audit.verify.chain_verify` reads
# rows. Before the strings come the fields whose COPY text may hold a backslash
# of its own (NULL is \N, JSON text has its escapes), so that from the first
# string on only a string to escape holds one.
COLUMNS = (
    "seq",  # 0
    "package_version",  # 1
    "after",  # 2
    "before",  # 3
    "data",  # 4
    "action",  # 5: the strings, from here ...
    "actor_id",
    "actor_label",
    "actor_type",
    "agent_slug",
    "request_id",
    "target_id",
    "target_type",
    "token_label",  # 13: ... to here
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",  # 14
    "prev_hash",  # 15
    "hash",  # 16
)
_STRINGS = range(5, 14)

# prev_hash, a newline, and the canonical content: the hashed fields in key order.
_TEMPLATE = (
    b'%s\n{"action":"%s","actor_id":"%s","actor_label":"%s","actor_type":"%s",'
    b'"after":%s,"agent_slug":"%s","before":%s,"created_at":"%s","data":%s,'
    b'"package_version":%s,"request_id":"%s","seq":%s,"target_id":"%s",'
    b'"target_type":"%s","token_label":"%s"}'
)

NULL = b"\\N"
# A byte JSON escapes, or the backslash of a COPY escape (a tab in a value
# arrives as a backslash and a t: a raw tab only separates fields).
_NEEDS_ESCAPE = re.compile(rb'[\x00-\x08\x0a-\x1f"\\]')
_COPY_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_COPY_CODES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def _copy_unescape(field: bytes) -> bytes:
    """Return the value of a field as COPY TO writes it in its text format."""
    return _COPY_ESCAPE.sub(lambda match: _COPY_CODES.get(match[1], match[1]), field)


def _json_string_body(field: bytes) -> bytes:
    """Return a COPY string field as it stands between the quotes of its JSON encoding.

    NULL stays `\\N`, which no JSON encoding produces, so a NULL where an event
    had a string never matches its hash.
    """
    if field == NULL:
        return field
    return canonical_json(_copy_unescape(field).decode())[1:-1].encode()


def copy_rows(first_seq: int | None = None, last_seq: int | None = None) -> Iterator[list]:
    """Yield the stored events in seq order as lists of `COLUMNS` bytes, strings JSON-escaped.

    Each string field comes as it stands between the quotes of its JSON
    encoding. Close the generator when leaving early: an open COPY holds the
    connection.
    """
    from psycopg import sql

    # No bound given: the whole range of a bigint.
    widest = 2**63 - 1
    query = sql.SQL(
        "COPY (SELECT {} FROM audit_auditevent WHERE seq BETWEEN {} AND {} ORDER BY seq) TO STDOUT"
    ).format(
        sql.SQL(", ".join(COLUMNS)),
        sql.Literal(first_seq if first_seq is not None else -widest),
        sql.Literal(last_seq if last_seq is not None else widest),
    )
    search = _NEEDS_ESCAPE.search
    with connection.cursor() as wrapper, wrapper.cursor.copy(query) as copy:
        # The rows libpq has already received are taken from it one by one,
        # without psycopg's generator around each; when none is waiting, psycopg
        # waits for the next. At the end (-1) the results closing the COPY are
        # read here, since libpq has handed them over instead of a row.
        pgconn = wrapper.cursor.connection.pgconn
        take = pgconn.get_copy_data
        while True:
            nbytes, data = take(1)
            if nbytes == 0:
                data = copy.read()
                if not data:
                    return
            elif nbytes < 0:
                _copy_end(pgconn)
                return
            line = bytes(data[:-1])
            fields = line.split(b"\t")
            # The strings start after the five fields before them and their tabs.
            strings_at = (
                len(fields[0])
                + len(fields[1])
                + len(fields[2])
                + len(fields[3])
                + len(fields[4])
                + 5
            )
            if search(line, strings_at):
                for index in _STRINGS:
                    fields[index] = _json_string_body(fields[index])
            yield fields


def _copy_end(pgconn) -> None:
    """Read the results that close a COPY TO whose last row libpq has handed over."""
    from psycopg import errors, pq

    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise errors.error_from_result(result, encoding="utf-8")


def copy_row_hasher(cache_size: int = 8192) -> Callable[[bytes, list], bytes]:
    """Return a function hashing a `copy_rows` row after a prev_hash, both as ASCII bytes.

    The function returns the event's hash as ASCII bytes; it equals
    `audit.chain.event_hash` of the stored event.
    """

    # JSON column text -> canonical JSON bytes, for the texts that repeat; a
    # lookup is inlined in `hash_row`, a miss goes through `canonical`.
    known: dict[bytes, bytes] = {}
    cached = known.get

    def canonical(text: bytes) -> bytes:
        if len(known) >= cache_size:
            known.clear()
        value = None if text == NULL else json.loads(_copy_unescape(text).decode())
        found = known[text] = canonical_json(value).encode()
        return found

    sha256 = hashlib.sha256
    template = _TEMPLATE

    def hash_row(prev_hash: bytes, p: list) -> bytes:
        content = template % (
            prev_hash,
            p[5],  # action
            p[6],  # actor_id
            p[7],  # actor_label
            p[8],  # actor_type
            cached(p[2]) or canonical(p[2]),  # after
            p[9],  # agent_slug
            cached(p[3]) or canonical(p[3]),  # before
            p[14],  # created_at
            cached(p[4]) or canonical(p[4]),  # data
            b"null" if p[1] == NULL else p[1],  # package_version
            p[10],  # request_id
            p[0],  # seq
            p[11],  # target_id
            p[12],  # target_type
            p[13],  # token_label
        )
        return sha256(content).hexdigest().encode()

    return hash_row
