"""The app's URLs plus the benchmark's reference views; the root URLconf when BENCH_VIEWS is on."""

from django.urls import include, path

from bench import views

urlpatterns = [
    path("bench/ping", views.ping),
    path("bench/one-query/<int:pk>", views.one_query),
    path("", include("config.urls")),
]
