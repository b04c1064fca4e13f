from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("config.api_urls")),  # first: it holds the release gate
    path("audit/", include("audit.urls")),
    path("", include("web.urls")),
    path("admin/", admin.site.urls),
]
