"""Each checklist item declares the manifest fields it covers, checked when the file loads.

Every manifest field is covered by an item of some dimension's current
checklist, so no field can change without a reviewer re-reading it.
"""

import pytest
from django.core.management import call_command

from approvals.checklists import checklists_load
from approvals.manifest import FIELD_CLASSES
from audit.actors import Actor
from audit.models import AuditEvent
from signoffs.models import Checklist, Dimension
from signoffs.services import ChecklistFileError, covers_expand

pytestmark = pytest.mark.django_db


def test_every_manifest_field_is_covered_by_an_item_of_a_current_checklist(checklists):
    covered = {}
    for dimension in Dimension.values:
        checklist = Checklist.objects.filter(dimension=dimension, is_active=True).get()
        for item in checklist.items.all():
            assert item.covers, f"{item.code} covers no field"
            for path in item.covers:
                covered.setdefault(path, []).append(item.code)
    assert set(covered) <= set(FIELD_CLASSES)
    assert sorted(set(FIELD_CLASSES) - set(covered)) == []


def test_a_section_and_a_wildcard_name_their_fields():
    fields = tuple(FIELD_CLASSES)
    assert covers_expand("kill_switch", fields) == [
        "kill_switch.procedure",
        "kill_switch.owner",
        "kill_switch.max_minutes_to_revoke",
        "kill_switch.webhook",
        "kill_switch.last_tested",
    ]
    access = covers_expand("scope.*[].access", fields)
    assert access == [
        f"scope.{key}[].access"
        for key in ("actions", "tools", "datasets", "endpoints", "external_apis")
    ]
    assert covers_expand("credentials.jit", fields) == ["credentials.jit"]
    assert covers_expand("kill", fields) == []  # a prefix of a name is not a section
    assert covers_expand("", fields) == []


BAD = """
- dimension: iam
  version: 9
  title: Broken
  items:
    - code: X-1
      text: "Fine."
      covers: ["identity.workload_id"]
    - code: X-2
      text: "Names a field the manifest lacks."
      covers: ["identity.workloadid"]
"""


def test_an_unknown_field_path_stops_the_load_and_loads_nothing(db, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BAD)
    with pytest.raises(ChecklistFileError) as error:
        checklists_load(actor=Actor.system("tests"), path=path)
    message = str(error.value)
    assert "broken.yaml" in message and "X-2" in message and "'identity.workloadid'" in message
    assert not Checklist.objects.filter(version=9).exists()
    assert not AuditEvent.objects.filter(action="checklist.loaded").exists()


def test_covers_must_be_a_list(db, tmp_path):
    path = tmp_path / "scalar.yaml"
    path.write_text(BAD.replace('["identity.workloadid"]', '"identity.workload_id"'))
    with pytest.raises(ChecklistFileError, match="X-2: covers must be a list"):
        checklists_load(actor=Actor.system("tests"), path=path)


def test_the_command_loads_the_shipped_checklists_with_their_coverage(db, capsys):
    call_command("load_checklists")
    assert "checklist version(s) loaded" in capsys.readouterr().out
    item = Checklist.objects.get(dimension="pam", is_active=True).items.get(code="PAM-4")
    assert item.covers == ["credentials.jit", "credentials.max_ttl_seconds"]
