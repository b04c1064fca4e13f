from django.apps import AppConfig


class SignoffsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "signoffs"
