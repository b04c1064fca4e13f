from django.urls import path

from approvals.api import (
    agents,
    comments,
    delegation,
    emergency,
    evidence,
    packages,
    usage,
    views,
)

PACKAGE = "agents/<slug:slug>/packages/<int:version>"
FINDING = "agents/<slug:slug>/findings/<int:pk>"

urlpatterns = [
    # First: every deploy's check resolves its path, and each pattern tried before costs it.
    path("gate/check", views.GateCheckView.as_view(), name="api-gate-check"),
    path("packages", packages.PackageListView.as_view(), name="api-packages"),
    path(
        "agents/<slug:slug>/packages",
        views.PackageListCreateView.as_view(),
        name="api-package-list",
    ),
    path(PACKAGE, views.PackageDetailView.as_view(), name="api-package-detail"),
    path(
        f"{PACKAGE}/evidence",
        evidence.PackageEvidenceView.as_view(),
        name="api-package-evidence",
    ),
    path(
        f"{PACKAGE}/comments",
        comments.PackageCommentListCreateView.as_view(),
        name="api-package-comments",
    ),
    path(f"{PACKAGE}/submit", views.PackageSubmitView.as_view(), name="api-package-submit"),
    path(f"{PACKAGE}/emergency", emergency.EmergencyView.as_view(), name="api-emergency"),
    path(
        f"{PACKAGE}/emergency/approvals",
        emergency.EmergencyApproveView.as_view(),
        name="api-emergency-approve",
    ),
    path(
        "agents/<slug:slug>/packages/<int:a>/diff/<int:b>",
        views.PackageDiffView.as_view(),
        name="api-package-diff",
    ),
    path(
        f"{PACKAGE}/signoffs/<slug:dimension>/decisions",
        views.DecisionCreateView.as_view(),
        name="api-decision-create",
    ),
    path(
        f"{PACKAGE}/signoffs/<slug:dimension>/reassign",
        delegation.SignOffReassignView.as_view(),
        name="api-signoff-reassign",
    ),
    path("agents/<slug:slug>/findings", views.FindingListView.as_view(), name="api-finding-list"),
    path(FINDING, views.FindingDetailView.as_view(), name="api-finding-detail"),
    path(
        f"{FINDING}/acknowledge",
        views.FindingAcknowledgeView.as_view(),
        name="api-finding-acknowledge",
    ),
    path(f"{FINDING}/resolve", views.FindingResolveView.as_view(), name="api-finding-resolve"),
    path("agents/<slug:slug>", agents.AgentDetailView.as_view(), name="api-agent-detail"),
    path("agents/<slug:slug>/suspend", views.AgentSuspendView.as_view(), name="api-agent-suspend"),
    path("agents/<slug:slug>/usage", usage.AgentUsageView.as_view(), name="api-agent-usage"),
    path("agents/<slug:slug>/narrow", usage.AgentNarrowView.as_view(), name="api-agent-narrow"),
    path("agents/<slug:slug>/retire", emergency.AgentRetireView.as_view(), name="api-agent-retire"),
    path("schema/manifest.json", views.ManifestSchemaView.as_view(), name="api-manifest-schema"),
]
