from django.urls import path

from approvals import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("agents/<slug:slug>/", views.agent_detail, name="agent-detail"),
    path("agents/<slug:slug>/v<int:version>/", views.package_detail, name="package-detail"),
]
