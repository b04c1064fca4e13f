"""Streaming CSV / JSON Lines exports: filters, chain range, permissions, and the verify API."""

import base64
import codecs
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from audit.actors import Actor
from audit.chain import GENESIS_HASH
from audit.context import request_id_var
from audit.export import CSV, EXPORT_COLUMNS, ExportFilter, _python_chunks, export_range
from audit.models import AuditEvent
from audit.services import audit_record
from audit.verify import EDITED, chain_verify
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def record_day(day: int, actor_label: str, action: str, agent: str, **extra) -> None:
    with mock.patch("audit.services.timezone.now", return_value=T0 + timedelta(days=day)):
        with transaction.atomic():
            audit_record(
                actor=Actor(type="user", id=str(100 + day), label=actor_label),
                action=action,
                agent_slug=agent,
                package_version=day or None,
                before={"state": "draft"},
                after={"z": 1, "a": [1, {"y": "é", "x": None}]},
                data={"comment": 'says "hi", then\nleaves \\ a backslash', **extra},
            )


@pytest.fixture
def trail(db):
    """Ten events over ten days: two agents, two actors, two actions."""
    for day in range(10):
        record_day(
            day,
            actor_label="iam1" if day % 2 else "pam1",
            action="signoff.decided" if day % 3 else "package.submitted",
            agent="alpha" if day < 5 else "beta",
        )


@pytest.fixture
def reader(client, staff):
    client.force_login(staff)
    return client


# What a spreadsheet needs first to read a CSV as UTF-8.
CSV_BOM = codecs.BOM_UTF8


def raw(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def body(response) -> str:
    """Return an export's text as a reader of it gets it: a CSV's byte order mark dropped."""
    return raw(response).decode("utf-8-sig")


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def stored(cell: str) -> str:
    """Return the stored value of a CSV cell: one leading apostrophe less (the guide's rule)."""
    return cell[1:] if cell.startswith("'") else cell


def as_tuple(row: dict) -> tuple:
    """Return a CSV row as the verifier's row tuple."""
    values = [stored(row[name]) for name in EXPORT_COLUMNS]
    values[0] = int(values[0])
    values[10] = int(values[10]) if values[10] else None
    return tuple(values)


def test_csv_export_is_the_whole_verifiable_chain(reader, trail):
    response = reader.get("/api/v1/audit/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(body(response))
    assert [int(r["seq"]) for r in rows] == list(range(1, 11))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    # JSON columns are JSON text, not Python reprs.
    assert json.loads(rows[0]["after"]) == {"z": 1, "a": [1, {"y": "é", "x": None}]}
    assert json.loads(rows[0]["data"])["comment"] == 'says "hi", then\nleaves \\ a backslash'
    assert rows[3]["created_at"] == "2026-01-04T12:00:00.000000Z"
    assert response["X-Audit-First-Seq"] == "1" and response["X-Audit-Last-Seq"] == "10"
    assert response["X-Audit-Prev-Hash"] == GENESIS_HASH
    assert response["X-Audit-Last-Hash"] == AuditEvent.objects.get(seq=10).hash
    assert response["X-Audit-Filtered"] == "false"
    # Everything a verifier needs is in the file and its headers.
    result = chain_verify(
        [as_tuple(r) for r in rows], checkpoints=[(10, response["X-Audit-Last-Hash"])]
    )
    assert result.ok, result


# Values from outside that a spreadsheet would run as formulas: a username `+E3` shows
# the actor of another row, `=HYPERLINK(...)` a link; the apostrophe is escaped too, so
# removing one gives every value back.
FORMULAS = ["+E3", "-A1", "@E3", '=HYPERLINK("https://x.example")', "\tx", "\rx", "'q", "''q"]
TEXT_COLUMNS = ("actor_label", "agent_slug", "request_id")


def record_everywhere(values: list[str]) -> None:
    """Record one event per value, the value in every column of text from outside."""
    for value in values:
        token = request_id_var.set(value)
        try:
            with transaction.atomic():
                audit_record(
                    actor=Actor(type="token", id="7", label=value, token_label="token:ab (=x)"),
                    action="user.renamed",
                    agent_slug=value,
                    data={"user": value},
                )
        finally:
            request_id_var.reset(token)


def assert_escaped(text: str, values: list[str]) -> None:
    rows = csv_rows(text)
    cells = [[row[name] for name in TEXT_COLUMNS] for row in rows]
    assert cells == [[f"'{value}"] * len(TEXT_COLUMNS) for value in values]
    assert [json.loads(row["data"])["user"] for row in rows] == values
    assert {(row["actor_id"], row["token_label"]) for row in rows} == {("7", "token:ab (=x)")}
    assert chain_verify([as_tuple(row) for row in rows]).ok


def test_csv_cells_never_start_a_formula_and_give_the_values_back(reader):
    record_everywhere(FORMULAS)
    assert_escaped(body(reader.get("/api/v1/audit/export.csv")), FORMULAS)


def test_the_embedded_databases_csv_escapes_the_same_cells(db):
    # Python's csv writer leaves a lone carriage return unquoted; identifiers refuse
    # control characters, so no stored value holds one.
    values = [value for value in FORMULAS if "\r" not in value]
    record_everywhere(values)
    flt = ExportFilter()
    assert_escaped(b"".join(_python_chunks(export_range(flt), flt, CSV)).decode(), values)


def test_time_range_is_a_contiguous_verifiable_stretch(reader, trail):
    response = reader.get(
        "/api/v1/audit/export.csv",
        {"since": "2026-01-03T00:00:00Z", "until": "2026-01-07T12:00:00Z"},
    )
    rows = csv_rows(body(response))
    assert [int(r["seq"]) for r in rows] == [3, 4, 5, 6]
    assert response["X-Audit-First-Seq"] == "3" and response["X-Audit-Last-Seq"] == "6"
    assert response["X-Audit-Prev-Hash"] == AuditEvent.objects.get(seq=2).hash
    result = chain_verify(
        [as_tuple(r) for r in rows],
        start_seq=3,
        start_prev=response["X-Audit-Prev-Hash"],
        checkpoints=[(6, response["X-Audit-Last-Hash"])],
    )
    assert result.ok, result
    # One row dropped from the file is caught against the headers.
    assert not chain_verify(
        [as_tuple(r) for r in rows[:2] + rows[3:]],
        start_seq=3,
        start_prev=response["X-Audit-Prev-Hash"],
    ).ok


@pytest.mark.parametrize(
    ("params", "seqs"),
    [
        ({"agent": "beta"}, [6, 7, 8, 9, 10]),
        ({"actor": "iam1"}, [2, 4, 6, 8, 10]),
        ({"actor": "103"}, [4]),
        ({"action": "package.submitted"}, [1, 4, 7, 10]),
        ({"agent": "alpha", "action": "signoff.decided"}, [2, 3, 5]),
        ({"agent": "nobody"}, []),
    ],
)
def test_filters(reader, trail, params, seqs):
    response = reader.get("/api/v1/audit/export.csv", params)
    assert [int(r["seq"]) for r in csv_rows(body(response))] == seqs
    assert response["X-Audit-Filtered"] == "true"
    assert response["X-Audit-Range-Events"] == "10"


def test_jsonl_export_ends_with_the_chain_range(reader, trail):
    response = reader.get("/api/v1/audit/export.jsonl", {"since": "2026-01-08T00:00:00Z"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in body(response).splitlines()]
    events, trailer = lines[:-1], lines[-1]
    assert [e["seq"] for e in events] == [8, 9, 10]
    assert events[0]["after"] == {"z": 1, "a": [1, {"y": "é", "x": None}]}
    assert trailer["type"] == "countersign.audit.range"
    assert (trailer["first_seq"], trailer["last_seq"], trailer["events"]) == (8, 10, 3)
    assert trailer["prev_hash"] == AuditEvent.objects.get(seq=7).hash
    assert trailer["last_hash"] == events[-1]["hash"]
    rows = [tuple(e[name] for name in EXPORT_COLUMNS) for e in events]
    assert chain_verify(rows, start_seq=8, start_prev=trailer["prev_hash"]).ok


def test_empty_trail_exports_a_header_only(reader):
    response = reader.get("/api/v1/audit/export.csv")
    assert body(response).strip() == ",".join(EXPORT_COLUMNS)
    response = reader.get("/api/v1/audit/export.jsonl")
    trailer = json.loads(body(response))
    assert (trailer["first_seq"], trailer["events"]) == (None, 0)


def test_a_csv_export_starts_with_a_byte_order_mark_and_json_lines_with_none(reader, tmp_path):
    """Excel reads a CSV without the mark in a legacy code page: non-ASCII text is garbled."""
    with transaction.atomic():
        audit_record(actor=Actor.system("Zoë Müller"), action="user.renamed", data={"to": "Zoë"})

    csv_bytes = raw(reader.get("/api/v1/audit/export.csv"))
    jsonl_bytes = raw(reader.get("/api/v1/audit/export.jsonl"))

    assert csv_bytes.startswith(CSV_BOM) and not csv_bytes[len(CSV_BOM) :].startswith(CSV_BOM)
    (row,) = csv_rows(csv_bytes.decode("utf-8-sig"))
    assert row["actor_label"] == "Zoë Müller"
    assert jsonl_bytes.startswith(b"{")
    path = tmp_path / "trail.csv"
    call_command("audit", "export", "-o", str(path))
    assert path.read_bytes() == csv_bytes


def test_an_empty_csv_export_starts_with_a_byte_order_mark(reader):
    assert raw(reader.get("/api/v1/audit/export.csv")) == (
        CSV_BOM + ",".join(EXPORT_COLUMNS).encode() + b"\n"
    )


def test_bad_filter_is_one_error_shape(reader):
    response = reader.get("/api/v1/audit/export.csv", {"since": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "since" in response.json()["error"]["fields"]


@pytest.mark.parametrize("url", ["/api/v1/audit/export.csv", "/api/v1/audit/events"])
def test_a_time_in_any_offset_python_reads_filters_as_the_same_instant(reader, trail, url):
    # PostgreSQL refuses offsets past ±15:59; this one reached it as sent and answered 500.
    far = reader.get(url, {"since": "2026-01-08T15:00:00-21:00"})  # 2026-01-09T12:00Z
    utc = reader.get(url, {"since": "2026-01-09T12:00:00Z"})
    naive = reader.get(url, {"since": "2026-01-09T12:00:00"})  # documented as read in UTC
    assert far.status_code == utc.status_code == naive.status_code == 200
    far, utc, naive = (body(r) if r.streaming else r.content.decode() for r in (far, utc, naive))
    assert far == utc == naive and "beta" in far and "alpha" not in far


def test_a_time_utc_cannot_hold_is_a_field_error(reader, trail):
    response = reader.get("/api/v1/audit/events", {"until": "9999-12-31T23:00:00-05:00"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "until": ["Must fall within the years 1 to 9999 in UTC."]
    }


def test_browser_download(client, trail):
    assert client.get("/audit/export.csv").status_code == 302
    client.force_login(UserFactory(username="officer", groups=["compliance-officer"]))
    response = client.get("/audit/export.jsonl", {"agent": "alpha"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert len(body(response).splitlines()) == 6
    client.force_login(UserFactory(username="product", groups=["product-owner"]))
    assert client.get("/audit/export.csv").status_code == 403


@pytest.mark.parametrize(
    ("groups", "is_staff", "expected"),
    [
        ([], True, 200),
        (["compliance"], False, 200),
        (["compliance-officer"], False, 200),
        (["product-owner"], False, 403),
        (["security"], False, 403),
    ],
)
@pytest.mark.parametrize(
    "url", ["/api/v1/audit/events", "/api/v1/audit/export.csv", "/api/v1/audit/verify"]
)
def test_who_reads_the_audit_trail(client, groups, is_staff, expected, url):
    client.force_login(UserFactory(username="someone", groups=groups, is_staff=is_staff))
    assert client.get(url).status_code == expected


def test_anonymous_is_refused(client):
    assert client.get("/api/v1/audit/export.csv").status_code in (401, 403)


@pytest.mark.parametrize(("scopes", "expected"), [(["audit:read"], 200), (["gate:check"], 403)])
def test_tokens_need_the_audit_read_scope(client, trail, scopes, expected):
    from tokens.services import token_create

    user = UserFactory(username="exporter", groups=["compliance-officer"])
    _, secret = token_create(actor=Actor.system("tests"), user=user, name="ci", scopes=scopes)
    response = client.get("/api/v1/audit/export.jsonl", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == expected
    if expected == 200:
        # The token's own creation is the eleventh event.
        assert json.loads(body(response).splitlines()[-1])["last_seq"] == 11


def test_event_list_filters_and_pages(reader, trail):
    response = reader.get("/api/v1/audit/events", {"agent": "alpha", "limit": 2})
    assert response.status_code == 200
    page = response.json()
    assert [e["seq"] for e in page["results"]] == [5, 4]
    assert page["results"][0]["hash"] == AuditEvent.objects.get(seq=5).hash
    following = reader.get(page["next"]).json()
    assert [e["seq"] for e in following["results"]] == [3, 2]


def cursor_of(text: str) -> str:
    """Return a cursor as DRF encodes one: the base64 of its query string."""
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "position",
    ["abc", "1.5", "%00", "9" * 5000, "99999999999999999999", ""],
    ids=["letters", "fraction", "nul", "past-the-int-limit", "past-bigint", "empty"],
)
def test_a_cursor_naming_no_position_is_the_invalid_cursor_404(reader, trail, position):
    garbage = reader.get("/api/v1/audit/events", {"cursor": "not-a-cursor"})
    assert garbage.status_code == 404
    assert garbage.json()["error"]["message"] == "Invalid cursor"
    response = reader.get("/api/v1/audit/events", {"cursor": cursor_of(f"p={position}")})
    assert (response.status_code, response.json()) == (404, garbage.json())


def test_a_cursor_drf_made_still_pages(reader, trail):
    response = reader.get("/api/v1/audit/events", {"cursor": cursor_of("p=4"), "limit": 2})
    assert response.status_code == 200
    assert [e["seq"] for e in response.json()["results"]] == [3, 2]


def test_event_list_query_count_does_not_grow(reader, trail, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert len(reader.get("/api/v1/audit/events").json()["results"]) == 10
    for day in range(10, 40):
        record_day(day, "iam1", "signoff.decided", "alpha")
    with django_assert_max_num_queries(6):
        assert len(reader.get("/api/v1/audit/events").json()["results"]) == 40


def test_verify_endpoint_reports_the_break(reader, trail):
    assert reader.get("/api/v1/audit/verify").json()["ok"] is True
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'mallory' WHERE seq = 7")
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    result = reader.get("/api/v1/audit/verify").json()
    assert (result["ok"], result["broken_seq"], result["reason"]) == (False, 7, EDITED)


def test_checkpoints_and_public_key_endpoints(reader, trail):
    from audit import signing
    from audit.checkpoints import checkpoint_create, checkpoint_signature_valid

    checkpoint_create(actor=Actor.system("tests"))
    documents = reader.get("/api/v1/audit/checkpoints").json()
    assert [d["seq"] for d in documents] == [10]
    assert checkpoint_signature_valid(documents[0])
    key = reader.get("/api/v1/audit/public-key").json()
    assert key["fingerprint"] == signing.fingerprint() == documents[0]["public_key_fingerprint"]
