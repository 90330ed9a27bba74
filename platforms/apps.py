from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    """Importers of the platforms communities live on (README "Platforms"): above members and
    engagement, whose import services they use; below segments, which they never import."""

    name = "platforms"

    def ready(self) -> None:
        from . import imports  # noqa: F401  (registers the importers on the Imports page)
