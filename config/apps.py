"""The project's own app: it holds no models, only the deployment checks it registers."""

from django.apps import AppConfig

from config import checks  # noqa: F401 - registers the deployment checks


class CountersignConfig(AppConfig):
    name = "config"
    verbose_name = "Countersign"
