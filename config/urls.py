from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config import benchviews
from config.health import healthz

urlpatterns = [
    path("api/v1/", include("config.api_urls")),  # first: it holds the release gate
    path("healthz", healthz, name="healthz"),
    path("audit/", include("audit.urls")),
    path("", include("web.urls")),  # before the admin: it holds the admin's rate-limited sign-in
    path("admin/", admin.site.urls),
]

if settings.BENCH_VIEWS:
    urlpatterns += [
        path("bench/ping", benchviews.ping),
        path("bench/one-query/<int:pk>", benchviews.one_query),
    ]
