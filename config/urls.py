from django.contrib import admin
from django.urls import include, path

from config.health import healthz

urlpatterns = [
    path("api/v1/", include("config.api_urls")),  # first: it holds the release gate
    path("healthz", healthz, name="healthz"),
    path("audit/", include("audit.urls")),
    path("", include("web.urls")),  # before the admin: it holds the admin's rate-limited sign-in
    path("admin/", admin.site.urls),
]

# Under /api/ these answer in the API's error shape; elsewhere, Django's pages.
handler400 = "config.handlers.bad_request"
handler403 = "config.handlers.permission_denied"
handler404 = "config.handlers.page_not_found"
handler500 = "config.handlers.server_error"
