"""The project's own app (it holds no models, only the deployment checks it registers), and
Django's admin on the project's site."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps

from config import checks  # noqa: F401 - registers the deployment checks


class CountersignConfig(AppConfig):
    default = True
    name = "config"
    verbose_name = "Countersign"


class CountersignAdminConfig(admin_apps.AdminConfig):
    """Django's admin, its default site `config.admin.AdminSite`."""

    default = False
    default_site = "config.admin.AdminSite"
