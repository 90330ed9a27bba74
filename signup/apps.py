from django.apps import AppConfig


class SignupConfig(AppConfig):
    name = "signup"
    verbose_name = "Join page"

    def ready(self) -> None:
        # The beat schedule names its sweep: registered whenever the app loads, not only once
        # a worker's autodiscovery has imported the module.
        from . import tasks  # noqa: F401
