from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    """Importers of the platforms communities live on (README "Platforms"): above members and
    engagement, whose import services they use; below segments, which they never import."""

    name = "platforms"

    def ready(self) -> None:
        from members.imports import register

        from . import discord, discourse, events, slack

        for platform in (slack, discord, discourse, events):  # the Imports page's tab order
            register(platform.IMPORTER)
