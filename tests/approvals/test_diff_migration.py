"""The data migration diffs stored packages again, so each change carries its class."""

import copy
import importlib

import pytest
from django.apps import apps

from approvals.models import ApprovalPackage

pytestmark = pytest.mark.django_db

migration = importlib.import_module("approvals.migrations.0004_package_diff_change_classes")


def test_stored_diffs_are_grouped_by_class_again(workflow, agent):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["kill_switch"]["owner"] = "someone-else"
    submitted = workflow.submit(agent, doc)
    doc["justification"] = "Reworded."
    draft = workflow.create(agent, doc)
    expected = {p.pk: p.diff for p in (first, submitted, draft)}
    assert expected[submitted.pk]["commitments"] and expected[draft.pk]["narrative"]
    old_shape = {"expansions": [], "narrowings": [], "neutral": [], "is_expansion": False}
    ApprovalPackage.objects.filter(pk__in=expected).update(diff=old_shape)
    migration.rediff(apps, None)
    assert {p.pk: p.diff for p in ApprovalPackage.objects.filter(pk__in=expected)} == expected
