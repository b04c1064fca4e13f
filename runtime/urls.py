"""The AuthZEN endpoints at the paths the specification gives them."""

from django.urls import path

from runtime.api import views

urlpatterns = [
    path(
        ".well-known/authzen-configuration",
        views.DiscoveryView.as_view(),
        name="authzen-configuration",
    ),
    path("access/v1/evaluation", views.EvaluationView.as_view(), name="authzen-evaluation"),
    path("access/v1/evaluations", views.EvaluationsView.as_view(), name="authzen-evaluations"),
]
