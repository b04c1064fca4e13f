"""Everything under /api/v1/: each app's API urls are included here."""

from django.urls import include, path

urlpatterns = [
    path("", include("tokens.api.urls")),
    path("", include("agents.api.urls")),
    path("", include("signoffs.api.urls")),
    path("", include("approvals.api.urls")),
    path("", include("audit.api.urls")),
]
