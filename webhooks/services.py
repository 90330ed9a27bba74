"""Writes on webhooks: the settings screens call these (and an API can), never the models.

Endpoints: `endpoint_create`, `endpoint_update`, `endpoint_rotate_secret`, `endpoint_delete`.
Deliveries: `outbox_add` (from the receivers in webhooks/signals.py), `outbox_expand`,
`delivery_attempt`, `delivery_resend`, and `sweep` (beat, every minute). Each takes keyword
arguments and raises WebhookError with a message fit to show the admin, naming its field.

Times: `now` can be passed (tests drive the retry schedule with it); the signature's timestamp
is always the wall clock of the attempt, as receivers check it against theirs.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from standardwebhooks import Webhook

from community_os.enqueue import after_commit, send_or_fall_back
from members.locks import import_lock
from members.models import Community, ImportJob, Member
from segments.models import Change, MembershipChange, Segment

from . import transport
from .models import (
    ATTEMPTS_LOGGED,
    DESCRIPTION_MAX_LENGTH,
    RESPONSE_EXCERPT_BYTES,
    SEGMENT_EVENTS,
    Delivery,
    Endpoint,
    Event,
    MemberFeed,
    Outbox,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # changes (or members) in one delivery
RETRY_FOR = timedelta(hours=24)
FIRST_RETRY_SECONDS = 5
MAX_RETRY_SECONDS = 8 * 3600
# An attempt in flight holds its delivery this long (well above the 5 s request): a worker
# that dies meanwhile leaves it due again once this passes, for the sweep.
ATTEMPT_LEASE = timedelta(minutes=2)
# A retry due sooner than this is enqueued with a countdown; later ones wait for the sweep.
COUNTDOWN_LIMIT_SECONDS = 600
# Outbox rows the on-commit task has not expanded after this long are the sweep's.
OUTBOX_GRACE = timedelta(seconds=30)
SWEEP_LIMIT = 1_000
MAX_SEGMENTS = 100


class WebhookError(ValueError):
    """Input an endpoint cannot take; `field` names the form field it belongs to."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- Endpoints ----------------------------------------------------------------------------------


def new_secret() -> str:
    """A signing secret in the Standard Webhooks format: whsec_ and 32 random bytes, base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def clean_url(url: str) -> str:
    """The URL, checked as every delivery checks it (resolved, public addresses only)."""
    try:
        transport.check_url(url)
    except transport.UnsafeURL as error:
        raise WebhookError(str(error), field="url") from None
    return url.strip()


def clean_events(events: Iterable[str]) -> list[str]:
    chosen = set(events or ())
    if unknown := sorted(str(event) for event in chosen - set(Event.values)):
        raise WebhookError(
            f"Unknown event {unknown[0][:60]!r}; the events are {', '.join(Event.values)}.",
            field="events",
        )
    if not chosen:
        raise WebhookError("Choose at least one event to send.", field="events")
    return [event for event in Event.values if event in chosen]


def clean_segments(community: Community, segments: Iterable[Segment | int]) -> list[Segment]:
    ids = sorted({s.pk if isinstance(s, Segment) else int(s) for s in segments or ()})
    if len(ids) > MAX_SEGMENTS:
        raise WebhookError(f"Choose at most {MAX_SEGMENTS} segments.", field="segments")
    found = list(Segment.objects.for_community(community).filter(pk__in=ids))
    if missing := sorted(set(ids) - {segment.pk for segment in found}):
        raise WebhookError(
            f"Segment #{missing[0]} is not a segment of this community.", field="segments"
        )
    return found


def _clean_description(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > DESCRIPTION_MAX_LENGTH:
        raise WebhookError(
            f"A description has at most {DESCRIPTION_MAX_LENGTH} characters.", field="description"
        )
    if "\x00" in text:
        raise WebhookError("A description cannot contain a NUL character.", field="description")
    return text


def endpoint_create(
    *,
    community: Community,
    url: str,
    events: Iterable[str],
    segments: Iterable[Segment | int] = (),
    description: str = "",
    by=None,
) -> Endpoint:
    """A new, enabled endpoint with a new secret (`endpoint.secret`: show it once)."""
    url = clean_url(url)
    events = clean_events(events)
    chosen = clean_segments(community, segments)
    with transaction.atomic():
        endpoint = Endpoint.objects.create(
            community=community,
            url=url,
            events=events,
            description=_clean_description(description),
            secret=new_secret(),
            created_by=by,
        )
        endpoint.segments.set(chosen)
        if Event.MEMBER_CREATED in events:
            _start_member_feed(community)
    return endpoint


EDITABLE = ("url", "events", "segments", "description", "enabled")


def endpoint_update(*, endpoint: Endpoint, now: datetime | None = None, **changes: Any) -> Endpoint:
    """Change any of EDITABLE. Switching an endpoint on again sends its waiting deliveries now,
    each with a new 24 hours of retries."""
    if unknown := sorted(set(changes) - set(EDITABLE)):
        raise TypeError(f"endpoint_update() cannot change {', '.join(unknown)}")
    now = now or timezone.now()
    community = endpoint.community
    fields: list[str] = []
    if "url" in changes and changes["url"].strip() != endpoint.url:
        endpoint.url = clean_url(changes["url"])
        fields.append("url")
    if "events" in changes:
        endpoint.events = clean_events(changes["events"])
        fields.append("events")
    if "description" in changes:
        endpoint.description = _clean_description(changes["description"])
        fields.append("description")
    chosen = clean_segments(community, changes["segments"]) if "segments" in changes else None
    switched_on = False
    if "enabled" in changes and bool(changes["enabled"]) != endpoint.enabled:
        endpoint.enabled = bool(changes["enabled"])
        switched_on = endpoint.enabled
        if switched_on:
            endpoint.disabled_at, endpoint.disabled_reason = None, ""
        else:
            endpoint.disabled_at, endpoint.disabled_reason = now, ""
        fields += ["enabled", "disabled_at", "disabled_reason"]
    with transaction.atomic():
        if fields:
            endpoint.save(update_fields=[*fields, "updated_at"])
        if chosen is not None:
            endpoint.segments.set(chosen)
        if endpoint.wants(Event.MEMBER_CREATED) and ("events" in changes or switched_on):
            _start_member_feed(community)
        if switched_on:
            waiting = Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING)
            waiting.update(next_attempt_at=now, give_up_at=now + RETRY_FOR)
            ids = list(waiting.values_list("pk", flat=True)[:SWEEP_LIMIT])
            _attempt_later(ids)
    return endpoint


def endpoint_rotate_secret(*, endpoint: Endpoint, now: datetime | None = None) -> Endpoint:
    """A new secret (show it once); the old one still signs for 24 hours, alongside."""
    now = now or timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + timedelta(hours=24)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete the endpoint and its delivery log; nothing more is sent to it."""
    endpoint.delete()


def _start_member_feed(community: Community) -> None:
    """member.created announces members above the feed's mark: start it at the community's
    newest member, under the import lock that every writer of members takes (members/locks.py),
    so no import in flight is half counted."""
    import_lock(community.pk)
    newest = Member.objects.filter(community=community).aggregate(top=Max("pk"))["top"] or 0
    feed, created = MemberFeed.objects.select_for_update().get_or_create(
        community=community, defaults={"seen_up_to": newest}
    )
    if not created and feed.seen_up_to < newest:
        feed.seen_up_to = newest
        feed.save(update_fields=["seen_up_to"])


# --- The outbox ---------------------------------------------------------------------------------


def outbox_add(*, community_id: int, kind: str, data: dict[str, Any]) -> Outbox:
    """Record something to deliver in the current transaction; it is expanded once it commits
    (or by the sweep, if that enqueueing is lost)."""
    row = Outbox.objects.create(community_id=community_id, kind=kind, data=data)
    row_id = row.pk

    def send() -> None:
        from .tasks import expand_outbox

        expand_outbox.delay(row_id)

    after_commit(send, fallback=lambda: None, what=f"webhook outbox #{row_id}")
    return row


def outbox_expand(outbox_id: int, *, now: datetime | None = None) -> list[int]:
    """Turn an outbox row into deliveries, one per endpoint and per BATCH_SIZE items, and
    enqueue their first attempts; the new deliveries' ids. A row already expanded: []."""
    now = now or timezone.now()
    with transaction.atomic():
        row = Outbox.objects.select_for_update().filter(pk=outbox_id).first()
        if row is None:
            return []
        community = Community.objects.filter(pk=row.community_id).first()
        deliveries: list[Delivery] = []
        if community is not None:
            if row.kind == Outbox.Kind.LEDGER:
                deliveries = _ledger_deliveries(community, row.data, now)
            elif row.kind == Outbox.Kind.MEMBERS:
                deliveries = _member_deliveries(community, row.data, now)
            elif row.kind == Outbox.Kind.IMPORT:
                deliveries = _import_deliveries(community, row.data, now)
        Delivery.objects.bulk_create(deliveries, batch_size=200)  # sets their ids
        row.delete()
        ids = [delivery.pk for delivery in deliveries]
        _attempt_later(ids)
    return ids


def _delivery(endpoint: Endpoint, event: str, data: dict[str, Any], now: datetime, **extra):
    message_id = f"msg_{uuid.uuid4().hex}"
    envelope = {
        "type": event,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "community": {"id": endpoint.community_id, "slug": endpoint.community.slug},
        "data": data,
    }
    return Delivery(
        community_id=endpoint.community_id,
        endpoint=endpoint,
        message_id=message_id,
        event=event,
        body=json.dumps(envelope, ensure_ascii=False, separators=(",", ":")),
        created_at=now,
        next_attempt_at=now,
        give_up_at=now + RETRY_FOR,
        **extra,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _reason(change: str, via: str, rule_version: int | None) -> str:
    entered = change == Change.ENTERED
    if via == "rule":
        words = "matches the rule" if entered else "no longer matches the rule"
        return f"{words} (version {rule_version})" if rule_version else words
    verb = "added" if entered else "removed"
    return {"manual": f"{verb} by hand", "import": f"{verb} by an import"}.get(
        via, f"{verb} through the {via}"
    )


def _ledger_deliveries(community: Community, data: dict, now: datetime) -> list[Delivery]:
    endpoints = Endpoint.objects.filter(community=community).wanting(*SEGMENT_EVENTS)
    if not endpoints:
        return []
    chosen = {e.pk: set(e.segments.values_list("pk", flat=True)) for e in endpoints}
    rows = (
        MembershipChange.objects.filter(
            community_id=community.pk,
            segment_id__in=data["segment_ids"],
            pk__gt=data["after_id"],
            pk__lte=data["up_to_id"],
        )
        .order_by("pk")
        .values_list(
            "pk",
            "segment_id",
            "segment__name",
            "member_id",
            "member__email",
            "member__name",
            "change",
            "via",
            "rule_version",
            "at",
        )
    )
    batches: dict[tuple[int, str], list[dict]] = {}
    deliveries: list[Delivery] = []
    by_pk = {e.pk: e for e in endpoints}

    def flush(key: tuple[int, str]) -> None:
        changes = batches.pop(key)
        endpoint_id, event = key
        deliveries.append(
            _delivery(
                by_pk[endpoint_id],
                event,
                {"changes": changes},
                now,
                item_count=len(changes),
                first_change_id=changes[0]["id"],
                last_change_id=changes[-1]["id"],
            )
        )

    for (
        pk,
        segment_id,
        segment_name,
        member_id,
        email,
        name,
        change,
        via,
        version,
        at,
    ) in rows.iterator(chunk_size=2_000):
        event: str = Event.MEMBER_ENTERED if change == Change.ENTERED else Event.MEMBER_LEFT
        item = {
            "id": pk,
            "segment": {"id": segment_id, "name": segment_name},
            "member": {"id": member_id, "email": email, "name": name},
            "change": change,
            "via": via,
            "reason": _reason(change, via, version),
            "rule_version": version,
            "at": _iso(at),
        }
        for endpoint in endpoints:
            if event not in endpoint.events:
                continue
            if chosen[endpoint.pk] and segment_id not in chosen[endpoint.pk]:
                continue
            key = (endpoint.pk, event)
            batches.setdefault(key, []).append(item)
            if len(batches[key]) >= BATCH_SIZE:
                flush(key)
    for key in sorted(batches):
        flush(key)
    return deliveries


def _member_deliveries(community: Community, data: dict, now: datetime) -> list[Delivery]:
    endpoints = Endpoint.objects.filter(community=community).wanting(Event.MEMBER_CREATED)
    if not endpoints:
        return []
    ids = sorted(int(pk) for pk in data["member_ids"])
    members = []
    for start in range(0, len(ids), BATCH_SIZE):
        members += list(
            Member.objects.filter(community=community, pk__in=ids[start : start + BATCH_SIZE])
            .order_by("pk")
            .values("id", "email", "name", "created_at")
        )
    deliveries = []
    for start in range(0, len(members), BATCH_SIZE):
        chunk = [
            {**member, "created_at": _iso(member["created_at"])}
            for member in members[start : start + BATCH_SIZE]
        ]
        for endpoint in endpoints:
            deliveries.append(
                _delivery(
                    endpoint, Event.MEMBER_CREATED, {"members": chunk}, now, item_count=len(chunk)
                )
            )
    return deliveries


def _import_deliveries(community: Community, data: dict, now: datetime) -> list[Delivery]:
    endpoints = Endpoint.objects.filter(community=community).wanting(Event.IMPORT_FINISHED)
    job = ImportJob.objects.filter(community=community, pk=data["job_id"]).first()
    if not endpoints or job is None:
        return []
    about = {
        "id": job.pk,
        "importer": job.importer,
        "file_name": job.file_name,
        "status": job.status,
        "imported": job.confirmed,  # False: only checked, nothing was to be written
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "skipped": job.skipped,
        "invalid": job.invalid,
        "message": job.message,
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }
    return [
        _delivery(endpoint, Event.IMPORT_FINISHED, {"import": about}, now, item_count=1)
        for endpoint in endpoints
    ]


# --- Attempts -----------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 5 s, 20 s, 80 s, 5 min, 21 min, 85 min,
    5.7 h, then 8 h: exponential, capped; a delivery's last try is at its 24-hour mark."""
    seconds = FIRST_RETRY_SECONDS * 4 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, MAX_RETRY_SECONDS))


def signed_headers(delivery: Delivery, endpoint: Endpoint, sent_at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one signature per current secret, space-separated."""
    body = delivery.body.encode()
    signatures = [
        Webhook(secret).sign(delivery.message_id, sent_at, body)
        for secret in endpoint.signing_secrets(sent_at)
    ]
    return {
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(math.floor(sent_at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def delivery_attempt(delivery_id: int, *, now: datetime | None = None) -> Delivery | None:
    """Send the delivery once if it is due, and store the result and the next attempt's time.
    None when it was not sent (delivered already, not due, taken by another worker, its
    endpoint switched off). Safe to call twice: the attempt is claimed first."""
    now = now or timezone.now()
    delivery = Delivery.objects.select_related("endpoint__community").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return None
    endpoint = delivery.endpoint
    if not endpoint.enabled or delivery.next_attempt_at is None or delivery.next_attempt_at > now:
        return None
    attempts = delivery.attempts + 1
    claimed = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.PENDING, attempts=delivery.attempts
    ).update(attempts=attempts, next_attempt_at=now + ATTEMPT_LEASE, last_attempt_at=now)
    if not claimed:
        return None
    sent_at = timezone.now()
    response = transport.post(
        endpoint.url, delivery.body.encode(), signed_headers(delivery, endpoint, sent_at)
    )
    return _record(delivery, endpoint, response, attempts, now)


def _record(
    delivery: Delivery,
    endpoint: Endpoint,
    response: transport.Response,
    attempts: int,
    now: datetime,
) -> Delivery:
    error = response.error
    if response.status is not None and not response.ok:
        error = f"HTTP {response.status}" + (
            " (redirects are not followed)" if 300 <= response.status < 400 else ""
        )
    delivery.attempts = attempts
    delivery.last_attempt_at = now
    delivery.last_status_code = response.status
    delivery.last_duration_ms = response.duration_ms
    delivery.last_response = response.excerpt[:RESPONSE_EXCERPT_BYTES]
    delivery.last_error = error[:500]
    delivery.log = [*delivery.log, [_iso(now), response.status, response.duration_ms, error]][
        -ATTEMPTS_LOGGED:
    ]
    gave_up = False
    if response.ok:
        delivery.status = Delivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    else:
        following = now + retry_delay(attempts)
        if following > delivery.give_up_at and now < delivery.give_up_at:
            following = delivery.give_up_at  # the last try, at the 24-hour mark
        if following > delivery.give_up_at:
            delivery.status = Delivery.Status.FAILED
            delivery.next_attempt_at = None
            gave_up = True
        else:
            delivery.next_attempt_at = following
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=delivery.status,
            attempts=attempts,
            last_attempt_at=now,
            last_status_code=delivery.last_status_code,
            last_duration_ms=delivery.last_duration_ms,
            last_response=delivery.last_response,
            last_error=delivery.last_error,
            log=delivery.log,
            delivered_at=delivery.delivered_at,
            next_attempt_at=delivery.next_attempt_at,
        )
        if gave_up:
            _disable_for_failures(endpoint, delivery, now)
        elif delivery.next_attempt_at is not None:
            wait = (delivery.next_attempt_at - now).total_seconds()
            if wait <= COUNTDOWN_LIMIT_SECONDS:
                _attempt_later([delivery.pk], countdown=wait)
    return delivery


def _disable_for_failures(endpoint: Endpoint, delivery: Delivery, now: datetime) -> None:
    reason = (
        f"Switched off on {now:%Y-%m-%d at %H:%M} UTC: a delivery failed for "
        f"{RETRY_FOR.total_seconds() / 3600:g} hours ({delivery.attempts} attempts; the last "
        f"one: {delivery.last_error or 'no answer'}). Fix the receiver, then switch the "
        "endpoint on: its waiting deliveries are sent then, and failed ones can be sent again."
    )
    Endpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_at=now, disabled_reason=reason, updated_at=now
    )
    logger.warning("Webhook endpoint %s switched off: %s", endpoint.pk, reason)


def delivery_resend(*, delivery: Delivery, now: datetime | None = None) -> Delivery:
    """Send the delivery again now, same webhook-id and body (receivers deduplicate by it),
    with a new 24 hours of retries."""
    now = now or timezone.now()
    if not Endpoint.objects.filter(pk=delivery.endpoint_id, enabled=True).exists():
        raise WebhookError("Switch the endpoint on first: nothing is sent to it while it is off.")
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.PENDING, next_attempt_at=now, give_up_at=now + RETRY_FOR
        )
        _attempt_later([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def _attempt_later(delivery_ids: Sequence[int], *, countdown: float | None = None) -> None:
    """Enqueue an attempt of each delivery once this transaction commits. If the broker is
    down they are due all the same, and the sweep sends them."""
    ids = list(delivery_ids)
    if not ids:
        return

    def send() -> None:
        from .tasks import attempt_delivery

        for pk in ids:
            options: dict[str, Any] = {"expires": 3600}
            if countdown:
                options["countdown"] = max(0.0, countdown)
            attempt_delivery.apply_async((pk,), **options)

    after_commit(send, fallback=lambda: None, what=f"webhook deliveries {ids[:10]}")


# --- The sweep ----------------------------------------------------------------------------------


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """What beat does every minute: expand outbox rows left behind, enqueue the attempts that
    are due (a lost task, a restarted worker, a retry hours away), and delete log entries older
    than WEBHOOK_LOG_DAYS. The counts of each."""
    now = now or timezone.now()
    left = list(
        Outbox.objects.filter(created_at__lt=now - OUTBOX_GRACE)
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    for pk in left:
        outbox_expand(pk, now=now)
    due = list(
        Delivery.objects.due(now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )

    def send() -> None:
        from .tasks import attempt_delivery

        for pk in due:
            # Not started within the minute: the next sweep sends it again.
            attempt_delivery.apply_async((pk,), expires=55)

    send_or_fall_back(send, fallback=lambda: None, what=f"{len(due)} due webhook deliveries")
    keep_after = now - timedelta(days=settings.WEBHOOK_LOG_DAYS)
    pruned, _ = (
        Delivery.objects.exclude(status=Delivery.Status.PENDING)
        .filter(created_at__lt=keep_after)
        .delete()
    )
    return {"expanded": len(left), "due": len(due), "pruned": pruned}


__all__ = [
    "WebhookError",
    "delivery_attempt",
    "delivery_resend",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_rotate_secret",
    "endpoint_update",
    "outbox_add",
    "outbox_expand",
    "sweep",
]
