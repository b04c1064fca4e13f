from django.urls import path

from approvals.api import agents, delegation, evidence, views

PACKAGE = "agents/<slug:slug>/packages/<int:version>"
FINDING = "agents/<slug:slug>/findings/<int:pk>"

urlpatterns = [
    # First: every deploy's check resolves its path, and each pattern tried before costs it.
    path("gate/check", views.GateCheckView.as_view(), name="api-gate-check"),
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
    path(f"{PACKAGE}/submit", views.PackageSubmitView.as_view(), name="api-package-submit"),
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
    path("schema/manifest.json", views.ManifestSchemaView.as_view(), name="api-manifest-schema"),
]
