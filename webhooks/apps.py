from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The receivers of segments' ledger, members and imports; the tasks the beat schedule
        # names, registered whenever the app loads.
        from . import signals, tasks  # noqa: F401
