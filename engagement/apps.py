from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "engagement"

    def ready(self) -> None:
        from . import signals  # noqa: F401
        from .imports import ACTIVITIES  # noqa: F401  (registers it on the Imports page)
        from .table import register_score_columns

        register_score_columns()
