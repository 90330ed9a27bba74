from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        from . import signals  # noqa: F401
        from .table import register_segment_pills

        register_segment_pills()
