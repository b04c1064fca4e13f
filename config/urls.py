from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from approvals.views import LoginView, login_rate_limited
from config import benchviews
from config.health import healthz

urlpatterns = [
    path("api/v1/", include("config.api_urls")),  # first: it holds the release gate
    path("healthz", healthz, name="healthz"),
    # The admin's sign-in is rate-limited like the site's.
    path("admin/login/", login_rate_limited(admin.site.login)),
    path("admin/", admin.site.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", include("audit.urls")),
    path("", include("approvals.urls")),
]

if settings.BENCH_VIEWS:
    urlpatterns += [
        path("bench/ping", benchviews.ping),
        path("bench/one-query/<int:pk>", benchviews.one_query),
    ]
