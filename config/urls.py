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
