from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Email notifications"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (connects the receivers, registers checks)
