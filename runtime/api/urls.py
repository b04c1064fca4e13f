"""The policy export under /api/v1/."""

from django.urls import path

from runtime.api import views

urlpatterns = [
    path("agents/<slug:slug>/policy", views.PolicyView.as_view(), name="api-agent-policy"),
]
