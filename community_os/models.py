from django.db import models


class Heartbeat(models.Model):
    """When beat last sent the heartbeat task ("beat") and when a worker last ran it ("worker").

    One row per name, overwritten every HEALTH_HEARTBEAT_SECONDS; `/healthz` reads their ages
    (community_os/health.py). In the database rather than a cache, so that every process sees
    the same rows with the default setup (SQLite, no Redis) as much as in production.
    """

    name = models.CharField(primary_key=True, max_length=20)
    at = models.DateTimeField()
    # Who wrote it: the worker's node name or beat's host, for the status page.
    detail = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
