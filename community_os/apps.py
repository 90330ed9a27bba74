from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class CommunityOSConfig(AppConfig):
    name = "community_os"
    verbose_name = "CommunityOS"

    def ready(self) -> None:
        # Our periodic tasks (heartbeat, housekeeping) are registered in every process, as the
        # other apps' are through the modules that enqueue them.
        from . import tasks  # noqa: F401

        # kombu's filesystem transport expects its folders to exist, in the web process
        # (which sends) as much as in the worker (which receives).
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            for key in ("data_folder_in", "processed_folder", "control_folder"):
                Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key])).mkdir(
                    parents=True, exist_ok=True
                )
