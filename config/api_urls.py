"""Everything under /api/v1/: each app's API urls are included here."""

from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView

from config.handlers import api_not_found_response


@csrf_exempt
def api_not_found(request, rest=""):
    """Answer an unknown API path in the API's error shape rather than an HTML page."""
    return api_not_found_response()


urlpatterns = [
    path("", include("approvals.api.urls")),  # first: it holds the release gate
    path("", include("agents.api.urls")),
    path("", include("runtime.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("tokens.api.urls")),
    path("", include("signoffs.api.urls")),
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    # Swagger UI over the schema: a page of the app, so it gets the app's
    # Content-Security-Policy and X-Frame-Options; its assets come from static/docs/.
    path("docs/", TemplateView.as_view(template_name="api/docs.html"), name="api-docs"),
    # Last: anything else under /api/v1/ is a JSON 404.
    re_path(r"^(?P<rest>[\s\S]*)\Z", api_not_found),
]
