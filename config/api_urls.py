"""Everything under /api/v1/: each app's API urls are included here."""

from django.conf import settings
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", include("tokens.api.urls")),
    path("", include("agents.api.urls")),
    path("", include("signoffs.api.urls")),
    path("", include("approvals.api.urls")),
    path("", include("audit.api.urls")),
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    path(
        "docs/",
        RedirectView.as_view(url=f"/{settings.STATIC_URL.strip('/')}/docs/index.html"),
        name="api-docs",
    ),
]
