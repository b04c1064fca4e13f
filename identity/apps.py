from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Sign-in and single sign-on"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from identity import checks  # noqa: F401  (registers the configuration checks)
        from identity.sessions import sign_in_remember

        user_logged_in.connect(sign_in_remember, dispatch_uid="identity.sign_in_remember")
