"""The app's URLs plus the benchmark's reference views; the root URLconf when BENCH_VIEWS is on."""

from django.urls import include, path

from bench import views
from config.urls import handler400, handler403, handler404, handler500  # noqa: F401

urlpatterns = [
    path("bench/ping", views.ping),
    path("bench/one-query/<int:pk>", views.one_query),
    path("", include("config.urls")),
]
