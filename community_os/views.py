import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer and the worker and beat heartbeats are
    fresh; 503 otherwise, with what is wrong. Never a 500."""
    try:
        checks = health.checks()
    except Exception:
        logger.exception("Health check failed.")
        return _logged(JsonResponse({"status": "error"}, status=503))
    healthy = all(check.ok for check in checks)
    body: dict[str, object] = {"status": "ok" if healthy else "error"}
    for check in checks:
        body[check.name] = check.status
    for check in checks:
        if check.name in (health.WORKER, health.BEAT):
            body[f"{check.name}_age_seconds"] = None if check.age is None else round(check.age)
    body["stale_after_seconds"] = settings.HEALTH_STALE_SECONDS
    if healthy:
        return JsonResponse(body)
    logger.warning(
        "Health check: %s.",
        ", ".join(f"{check.name} {check.status}" for check in checks if not check.ok),
    )
    return _logged(JsonResponse(body, status=503))


def _logged(response: JsonResponse) -> JsonResponse:
    """Tell Django a 503 of ours is logged already: instead of its "Service Unavailable" error
    on every probe (a load balancer asks every few seconds), our one warning, which is no
    error for Sentry either."""
    response._has_been_logged = True  # type: ignore[attr-defined]  # read by django.utils.log
    return response


@never_cache
@login_required
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    """The same checks for staff, with the queues and the periodic jobs (404 for others)."""
    if not request.user.is_staff:
        raise Http404
    checks = health.checks()
    broker = next(check for check in checks if check.name == "broker")
    queues: list[tuple[str, int]] = []
    queues_error = ""
    if broker.ok:
        try:
            queues = health.queue_lengths()
        except Exception:
            logger.warning("Status page: could not read the queue lengths.", exc_info=True)
            queues_error = "The broker did not answer."
    else:
        queues_error = "The broker is unavailable."
    periodic = [
        {
            "name": name,
            "task": entry["task"],
            "every": entry["schedule"],
            "expires": timedelta(seconds=entry.get("options", {}).get("expires", 0)),
        }
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    ]
    return render(
        request,
        "status.html",
        {
            "checks": checks,
            "healthy": all(check.ok for check in checks),
            "queues": queues,
            "queues_error": queues_error,
            "periodic": periodic,
            "stale_after": settings.HEALTH_STALE_SECONDS,
            "now": timezone.now(),
        },
    )
