"""The Celery app, configured from Django settings (namespace CELERY)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "community_os.settings")

app = Celery("community_os")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Their Celery signal receivers, in every process that loads the app: logging through
# settings.LOGGING with request and task ids, and beat's heartbeat.
from . import health, logs  # noqa: E402, F401
