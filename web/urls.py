"""The pages' URLs, sign-in included."""

from django.urls import path

from identity.oidc import ProviderLogoutView
from web.views import (
    agents,
    audit,
    comments,
    dashboard,
    delegation,
    emergency,
    package_list,
    packages,
    staff,
    tokens,
    usage,
)
from web.views.login import LoginView, step_up

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("login/again/", step_up, name="step-up"),
    path("logout/", ProviderLogoutView.as_view(), name="logout"),
    path("", dashboard.dashboard, name="dashboard"),
    path("agents/", agents.agent_list, name="agent-list"),
    path("packages/", package_list.package_list, name="package-list"),
    path("agents/new/", agents.agent_new, name="agent-new"),
    path("agents/<slug:slug>/", agents.agent_detail, name="agent-detail"),
    path("agents/<slug:slug>/edit/", agents.agent_edit, name="agent-edit"),
    path("agents/<slug:slug>/suspend/", agents.agent_suspend, name="agent-suspend"),
    path("agents/<slug:slug>/narrow/", usage.agent_narrow, name="agent-narrow"),
    path("agents/<slug:slug>/retire/", emergency.agent_retire_view, name="agent-retire"),
    path("agents/<slug:slug>/reviewers/", staff.agent_reviewers, name="agent-reviewers"),
    path(
        "agents/<slug:slug>/reviewers/unassign/",
        staff.agent_reviewer_unassign,
        name="agent-reviewer-unassign",
    ),
    path(
        "agents/<slug:slug>/reviewers/reassign/",
        delegation.signoff_reassign_view,
        name="agent-signoff-reassign",
    ),
    path("me/absence/", delegation.my_absence, name="my-absence"),
    path("me/absence/<int:pk>/end/", delegation.absence_end, name="absence-end"),
    path("agents/<slug:slug>/findings/<int:pk>/", agents.finding_handle, name="finding-handle"),
    path("agents/<slug:slug>/packages/new/", packages.package_new, name="package-new"),
    path("agents/<slug:slug>/packages/upload/", packages.package_upload, name="package-upload"),
    path("agents/<slug:slug>/v<int:version>/", packages.package_detail, name="package-detail"),
    path("agents/<slug:slug>/v<int:version>/edit/", packages.package_edit, name="package-edit"),
    path(
        "agents/<slug:slug>/v<int:version>/submit/",
        packages.package_submit_view,
        name="package-submit",
    ),
    path(
        "agents/<slug:slug>/v<int:version>/comments/",
        comments.package_comment,
        name="package-comment",
    ),
    path(
        "agents/<slug:slug>/v<int:version>/comments/earlier/",
        comments.package_comments_earlier,
        name="package-comments-earlier",
    ),
    path("agents/<slug:slug>/v<int:version>/clone/", packages.package_clone, name="package-clone"),
    path(
        "agents/<slug:slug>/v<int:version>/decide/<slug:dimension>/",
        packages.package_decide,
        name="package-decide",
    ),
    path(
        "agents/<slug:slug>/v<int:version>/emergency/",
        emergency.package_emergency,
        name="package-emergency",
    ),
    path(
        "agents/<slug:slug>/v<int:version>/emergency/approve/<slug:dimension>/",
        emergency.package_emergency_approve,
        name="package-emergency-approve",
    ),
    path("audit/", audit.audit_log, name="audit-log"),
    path("audit/verify/", audit.audit_verify_start, name="audit-verify"),
    path("audit/verify/<int:pk>/", audit.audit_verification, name="audit-verification"),
    path("tokens/", tokens.token_list, name="token-list"),
    path("staff/users/", staff.user_list, name="staff-users"),
    path("staff/left-behind/", staff.left_behind_list, name="staff-left-behind"),
    path("staff/users/<int:pk>/", staff.user_edit, name="staff-user-edit"),
    path("tokens/<token_prefix:prefix>/revoke/", tokens.token_revoke_view, name="token-revoke"),
]
