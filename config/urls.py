from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("config.api_urls")),  # first: it holds the release gate
    path("", include("runtime.urls")),  # AuthZEN: /access/v1/ and its discovery document
    path("audit/", include("audit.urls")),
    path("oidc/", include("identity.urls")),
    path("", include("web.urls")),
    path("admin/", admin.site.urls),
]

# Under /api/ these answer in the API's error shape; elsewhere, Django's pages.
handler400 = "config.handlers.bad_request"
handler403 = "config.handlers.permission_denied"
handler404 = "config.handlers.page_not_found"
handler500 = "config.handlers.server_error"
