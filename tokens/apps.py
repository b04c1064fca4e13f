from django.apps import AppConfig
from django.urls import register_converter

from tokens.prefix import TokenPrefixConverter


class TokensConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tokens"

    def ready(self):
        # Registered once, here, before any URLconf naming it is read.
        register_converter(TokenPrefixConverter, "token_prefix")
