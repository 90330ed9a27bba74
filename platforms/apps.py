from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    """Importers of the platforms communities live on (README "Platforms"): above members and
    engagement, whose import services they use; below segments, which they never import."""

    name = "platforms"

    def ready(self) -> None:
        # Each module registers its importer on the Imports page, in the order of its tabs.
        from . import slack  # noqa: F401
