from django.urls import path

from approvals import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("agents/", views.agent_list, name="agent-list"),
    path("agents/new/", views.agent_new, name="agent-new"),
    path("agents/<slug:slug>/", views.agent_detail, name="agent-detail"),
    path("agents/<slug:slug>/edit/", views.agent_edit, name="agent-edit"),
    path("agents/<slug:slug>/suspend/", views.agent_suspend, name="agent-suspend"),
    path("agents/<slug:slug>/findings/<int:pk>/", views.finding_handle, name="finding-handle"),
    path("agents/<slug:slug>/packages/new/", views.package_new, name="package-new"),
    path("agents/<slug:slug>/packages/upload/", views.package_upload, name="package-upload"),
    path("agents/<slug:slug>/v<int:version>/", views.package_detail, name="package-detail"),
    path("agents/<slug:slug>/v<int:version>/edit/", views.package_edit, name="package-edit"),
    path(
        "agents/<slug:slug>/v<int:version>/submit/",
        views.package_submit_view,
        name="package-submit",
    ),
    path("agents/<slug:slug>/v<int:version>/clone/", views.package_clone, name="package-clone"),
    path(
        "agents/<slug:slug>/v<int:version>/decide/<slug:dimension>/",
        views.package_decide,
        name="package-decide",
    ),
    path("audit/", views.audit_log, name="audit-log"),
]
