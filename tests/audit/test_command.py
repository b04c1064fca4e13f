"""`manage.py audit verify|checkpoint|export` and their exit statuses."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit.actors import Actor
from audit.models import Checkpoint
from audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(db):
    with transaction.atomic():
        for i in range(4):
            audit_record(actor=Actor.system("tests"), action="test.event", data={"i": i})


def tamper(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute(statement)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


def test_verify_exits_zero_on_a_whole_chain(events, capsys):
    call_command("audit", "verify", "--json")
    result = json.loads(capsys.readouterr().out)
    assert (result["ok"], result["events"]) == (True, 4)


def test_verify_exits_one_at_the_first_break(events, capsys):
    tamper("DELETE FROM audit_auditevent WHERE seq = 2")
    with pytest.raises(SystemExit) as exit_:
        call_command("audit", "verify")
    assert exit_.value.code == 1
    assert "BROKEN at seq 2 (deleted)" in capsys.readouterr().err


def test_checkpoint_exported_outside_catches_a_cut_tail(events, tmp_path, capsys):
    path = tmp_path / "checkpoint.json"
    call_command("audit", "checkpoint", "--export", str(path))
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(path.read_text())
    assert printed["seq"] == 4 and Checkpoint.objects.count() == 1
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_checkpoint DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM audit_checkpoint")
        cursor.execute("ALTER TABLE audit_checkpoint ENABLE TRIGGER USER")
    tamper("DELETE FROM audit_auditevent WHERE seq = 4")
    call_command("audit", "verify")
    with pytest.raises(SystemExit) as exit_:
        call_command("audit", "verify", "--checkpoint", str(path))
    assert exit_.value.code == 1
    assert "(truncated)" in capsys.readouterr().err


def test_unreadable_checkpoint_file_is_a_usage_error(events, tmp_path):
    with pytest.raises(CommandError) as error:
        call_command("audit", "verify", "--checkpoint", str(tmp_path / "missing.json"))
    assert error.value.returncode == 2


@pytest.mark.parametrize(
    "seq", ["1e400", "-1e400", "NaN", "1.5", "4.0", '"4"', "true", "0", "-4", "null", str(2**63)]
)
def test_checkpoint_with_a_seq_no_event_can_have_is_a_usage_error(events, tmp_path, seq):
    exported = tmp_path / "checkpoint.json"
    call_command("audit", "checkpoint", "--export", str(exported), stdout=StringIO())
    path = tmp_path / "changed.json"
    path.write_text(exported.read_text().replace('"seq": 4,', f'"seq": {seq},'))
    assert path.read_text() != exported.read_text()
    with pytest.raises(CommandError) as error:
        call_command("audit", "verify", "--checkpoint", str(path))
    assert error.value.returncode == 2
    assert str(error.value) == (
        f"Checkpoint {path}: seq {json.loads(seq)!r} is not a whole number from 1 to {2**63 - 1}."
    )


def unwritable(tmp_path, where):
    (tmp_path / "file").write_text("")
    return {
        "missing directory": (tmp_path / "missing" / "out", "No such file or directory"),
        "a directory": (tmp_path, "Is a directory"),
        "beneath a file": (tmp_path / "file" / "out", "Not a directory"),
    }[where]


@pytest.mark.parametrize("where", ["missing directory", "a directory", "beneath a file"])
def test_checkpoint_export_to_a_path_it_cannot_write_is_a_usage_error(events, tmp_path, where):
    path, why = unwritable(tmp_path, where)
    with pytest.raises(CommandError) as error:
        call_command("audit", "checkpoint", "--export", str(path))
    assert error.value.returncode == 2
    assert str(error.value) == f"--export: cannot write {path}: {why}."
    assert not Checkpoint.objects.exists()


@pytest.mark.parametrize("where", ["missing directory", "a directory", "beneath a file"])
def test_export_to_a_path_it_cannot_write_is_a_usage_error(events, tmp_path, where):
    path, why = unwritable(tmp_path, where)
    with pytest.raises(CommandError) as error:
        call_command("audit", "export", "-o", str(path))
    assert error.value.returncode == 2
    assert str(error.value) == f"--output: cannot write {path}: {why}."


def test_checkpoint_of_an_empty_trail_signs_nothing(db, capsys):
    call_command("audit", "checkpoint")
    assert "empty" in capsys.readouterr().err
    assert not Checkpoint.objects.exists()


def test_export_writes_the_file_and_reports_the_range(events, tmp_path, capsys):
    path = tmp_path / "trail.jsonl"
    call_command("audit", "export", "--format", "jsonl", "--since", "2000-01-01", "-o", str(path))
    lines = path.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines[:-1]] == [1, 2, 3, 4]
    assert json.loads(capsys.readouterr().err)["last_seq"] == 4


def test_export_rejects_a_bad_time(events):
    with pytest.raises(CommandError) as error:
        call_command("audit", "export", "--since", "soon")
    assert error.value.returncode == 2


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("2026-02-30T00:00", "Must be an ISO 8601 date-time."),
        ("9999-12-31T23:00-05:00", "Must fall within the years 1 to 9999 in UTC."),
    ],
)
def test_export_names_what_is_wrong_with_a_time(events, since, message):
    with pytest.raises(CommandError) as error:
        call_command("audit", "export", "--since", since)
    assert error.value.returncode == 2
    assert str(error.value) == f"--since: {message}"


def test_export_reads_any_offset_python_reads(events, tmp_path):
    path = tmp_path / "trail.jsonl"
    call_command(
        "audit", "export", "--format", "jsonl", "--since", "2000-01-01T00:00-21:00", "-o", str(path)
    )
    assert len(path.read_text().splitlines()) == 5


def test_checkpoint_task_is_idempotent(events):
    from audit.tasks import audit_checkpoint

    assert audit_checkpoint.apply().get() == 4
    assert audit_checkpoint.apply().get() == 4
    assert Checkpoint.objects.count() == 1


def test_beat_schedule_names_the_real_task():
    from audit.tasks import audit_checkpoint
    from config.schedule import SCHEDULE

    entry = SCHEDULE["audit-checkpoint"]
    assert entry["task"] == audit_checkpoint.name
    assert audit_checkpoint.soft_time_limit < audit_checkpoint.time_limit


@pytest.mark.parametrize(("signed", "words"), [(1, "1 checkpoint,"), (2, "2 checkpoints,")])
def test_verify_counts_the_checkpoints_in_words(events, capsys, signed, words):
    for i in range(signed):
        audit_record(actor=Actor.system("tests"), action="test.event", data={"after": i})
        call_command("audit", "checkpoint")
    capsys.readouterr()
    call_command("audit", "verify")
    assert words in capsys.readouterr().out.splitlines()[0]
