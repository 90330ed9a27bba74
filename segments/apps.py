from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        from . import signals  # noqa: F401
