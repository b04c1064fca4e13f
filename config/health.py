"""Liveness for load balancers and compose: the database answers.

A middleware placed first answers the health path, ahead of host validation and
the HTTPS redirect: a health check calls the container by its own address over
plain HTTP, a Host that ALLOWED_HOSTS need not list. It answers that one path
and nothing else, and says no more than "ok" or "unavailable".
"""

from django.db import connection
from django.http import JsonResponse

HEALTH_PATH = "/healthz"


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


class HealthCheckMiddleware:
    """Answer `HEALTH_PATH` before any other middleware sees the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == HEALTH_PATH:
            return healthz(request)
        return self.get_response(request)
