"""The emails of CommunityOS (README "Email and the team") and what decides who gets them.

- Review reminders: a manual segment that became due for review mails its owner (who created
  it) and its watchers, once per due date (`SentEmail` remembers the key).
- Digests: a watcher gets who entered and left the segment since the last digest, daily or
  weekly (Mondays), at DIGEST_HOUR in the community's time zone; nothing when nothing changed.
- Import results: the uploader of a job that ended (done or failed), once per end.
- Password reset: through Django's token generator, rate limited per address and per client,
  sent by a worker so that the answer takes as long for an unknown address as for a known one.

Nobody is mailed about a community they no longer have a role in, and every kind can be
turned off (`OptOut`). The clock is a parameter (`now`) everywhere, so the tests set it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from community_os.enqueue import after_commit, send_or_fall_back
from members.access import role_for
from members.imports import get_importer
from members.models import Community, ImportJob
from segments.models import Change, MembershipChange, Segment

from . import mail
from .models import USER_KINDS, EmailKind, Frequency, OptOut, ResetRequest, SentEmail, Watch

logger = logging.getLogger(__name__)

DIGEST_HOUR = 8  # local time of the community
DIGEST_WEEKDAY = 0  # weekly digests: Mondays
DIGEST_NAMES_SHOWN = 50  # per list (entered, left); the rest is a count and a link
RESET_WINDOW = timedelta(hours=1)


class NotificationError(Exception):
    """A request the notifications cannot follow; `field` names the form field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def may_receive(user, community: Community) -> bool:
    """An active user with an address who still has a role in the community."""
    return bool(user is not None and user.is_active and user.email and role_for(user, community))


def _send_once(*, user, kind: str, key: str, now: datetime, send: Callable[[], object]) -> bool:
    """Record `key` for the user and send, in one transaction: a mail that could not be sent
    leaves no record (the next run tries again); a key already recorded sends nothing."""
    if SentEmail.objects.filter(user=user, key=key).exists():
        return False
    with transaction.atomic():
        try:
            with transaction.atomic():
                SentEmail.objects.create(user=user, kind=kind, key=key, sent_at=now)
        except IntegrityError:  # another run recorded it meanwhile
            return False
        send()
    return True


def _local(moment: datetime, community: Community) -> datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(community.timezone))


# --- Review reminders ---------------------------------------------------------------------------


def review_recipients(segment: Segment) -> list:
    """The segment's owner and its watchers who may still see it, each once."""
    candidates = [segment.created_by] if segment.created_by else []
    candidates += [
        watch.user for watch in Watch.objects.filter(segment=segment).select_related("user")
    ]
    found: dict[int, object] = {}
    for user in candidates:
        if user is not None and user.pk not in found and may_receive(user, segment.community):
            found[user.pk] = user
    return list(found.values())


def review_key(segment: Segment, due: datetime) -> str:
    return f"review:{segment.pk}:{due.astimezone(UTC).isoformat()}"


def review_reminders_send(*, now: datetime | None = None) -> int:
    """Mail every manual segment's owner and watchers once its review is due (once per due
    date: marking it reviewed makes the next due date, and its own email). How many mails."""
    now = now or timezone.now()
    segments = (
        Segment.objects.manual()
        .filter(review_every_days__isnull=False)
        .select_related("community", "created_by")
        .order_by("pk")
    )
    sent = 0
    for segment in segments.iterator(chunk_size=200):
        due = segment.review_due_at()
        if due is None or due > now:
            continue
        key = review_key(segment, due)
        for user in review_recipients(segment):
            if mail.opted_out(kind=EmailKind.REVIEW_DUE, user=user):
                continue
            sent += _send_once(
                user=user,
                kind=EmailKind.REVIEW_DUE,
                key=key,
                now=now,
                send=partial(_mail_review, segment, user=user, due=due),
            )
    return sent


def _mail_review(segment: Segment, *, user, due: datetime) -> None:
    community = segment.community
    with timezone.override(community.timezone):
        mail.send(
            kind=EmailKind.REVIEW_DUE,
            template="review_due",
            to=user.email,
            user=user,
            context={
                "user": user,
                "segment": segment,
                "community": community,
                "due": _local(due, community),
                "owner": user.pk == segment.created_by_id,
                "link": mail.absolute(segment.get_absolute_url()),
            },
        )


# --- Watches and digests ------------------------------------------------------------------------


def watch_set(*, segment: Segment, user, frequency: str, now: datetime | None = None) -> Watch:
    """Watch the segment (or change how often its digest comes). Its first digest covers what
    happens from now on."""
    if frequency not in Frequency.values:
        raise NotificationError("Choose daily or weekly.", field="frequency")
    now = now or timezone.now()
    watch, _created = Watch.objects.update_or_create(
        segment=segment,
        user=user,
        defaults={"frequency": frequency},
        create_defaults={
            "frequency": frequency,
            "community": segment.community,
            "created_at": now,
            "digest_since": now,
        },
    )
    return watch


def watch_stop(*, segment: Segment, user) -> None:
    Watch.objects.filter(segment=segment, user=user).delete()


def digest_boundary(*, frequency: str, tz: str, now: datetime) -> datetime:
    """The latest digest time at or before `now`: DIGEST_HOUR local time today (or yesterday,
    before that hour), or on the latest DIGEST_WEEKDAY for weekly digests. In UTC."""
    zone = zoneinfo.ZoneInfo(tz)
    local = now.astimezone(zone)
    day = local.date()
    step = timedelta(days=1)
    if frequency == Frequency.WEEKLY:
        day -= timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
        step = timedelta(days=7)
    boundary = datetime.combine(day, time(DIGEST_HOUR), tzinfo=zone)
    if boundary > local:
        boundary = datetime.combine(day - step, time(DIGEST_HOUR), tzinfo=zone)
    return boundary.astimezone(UTC)


@dataclass(frozen=True)
class Digest:
    entered: list[MembershipChange]
    left: list[MembershipChange]
    entered_count: int
    left_count: int

    @property
    def empty(self) -> bool:
        return not (self.entered_count or self.left_count)


def digest_for(segment: Segment, *, since: datetime, until: datetime) -> Digest:
    """Who entered and left the segment in [since, until), from the ledger."""
    changes = MembershipChange.objects.filter(segment=segment, at__gte=since, at__lt=until)
    counts: dict[str, int] = {Change.ENTERED: 0, Change.LEFT: 0}
    for change, count in _counts(changes):
        counts[change] = count
    shown = {
        kind: list(
            changes.filter(change=kind)
            .select_related("member__community")
            .order_by("at", "pk")[:DIGEST_NAMES_SHOWN]
        )
        if counts[kind]
        else []
        for kind in (Change.ENTERED, Change.LEFT)
    }
    return Digest(
        entered=shown[Change.ENTERED],
        left=shown[Change.LEFT],
        entered_count=counts[Change.ENTERED],
        left_count=counts[Change.LEFT],
    )


def _counts(changes) -> list[tuple[str, int]]:
    by_change = changes.order_by().values("change").annotate(n=Count("pk"))
    return list(by_change.values_list("change", "n"))


def digests_send(*, now: datetime | None = None) -> int:
    """Send every digest that is due at `now` (in each community's time zone). A run that
    comes late (the worker was down) still sends this morning's; a digest is never sent twice
    for one window. How many mails."""
    now = now or timezone.now()
    sent = 0
    communities = Community.objects.filter(pk__in=Watch.objects.values("community_id"))
    for community in communities:
        for frequency in Frequency.values:
            until = digest_boundary(frequency=frequency, tz=community.timezone, now=now)
            due = Watch.objects.for_community(community).filter(
                frequency=frequency, digest_since__lt=until
            )
            for watch_id in due.values_list("pk", flat=True):
                sent += digest_send(watch_id=watch_id, until=until)
    return sent


def digest_send(*, watch_id: int, until: datetime) -> bool:
    """The digest of one watch for the window ending at `until`, which it then moves past.
    Whether a mail went out (not when nothing changed, the kind is off, or the user may no
    longer see the community). A mail that fails rolls the window back for the next run."""
    with transaction.atomic():
        locked = (
            Watch.objects.select_for_update().filter(pk=watch_id, digest_since__lt=until).first()
        )
        if locked is None:
            return False
        watch = Watch.objects.select_related("segment__community", "user").get(pk=watch_id)
        since = watch.digest_since
        Watch.objects.filter(pk=watch_id).update(digest_since=until)
        user, segment = watch.user, watch.segment
        if not may_receive(user, segment.community):
            return False
        if mail.opted_out(kind=EmailKind.DIGEST, user=user):
            return False
        digest = digest_for(segment, since=since, until=until)
        if digest.empty:
            return False
        community = segment.community
        with timezone.override(community.timezone):
            mail.send(
                kind=EmailKind.DIGEST,
                template="digest",
                to=user.email,
                user=user,
                context={
                    "user": user,
                    "segment": segment,
                    "community": community,
                    "watch": watch,
                    "digest": digest,
                    "since": _local(since, community),
                    "until": _local(until, community),
                    "entered_more": digest.entered_count - len(digest.entered),
                    "left_more": digest.left_count - len(digest.left),
                    "link": mail.absolute(segment.get_absolute_url()),
                    "absolute": mail.absolute,
                },
            )
    return True


# --- Import results -----------------------------------------------------------------------------


def import_notice_send(*, job_id: int) -> bool:
    """Mail the uploader of a job that ended (done or failed) its counts and a link, once per
    end (a job checked again with other choices ends again). Whether a mail went out."""
    job = ImportJob.objects.select_related("community", "uploaded_by").filter(pk=job_id).first()
    if job is None or job.status not in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        return False
    user = job.uploaded_by
    if not may_receive(user, job.community) or job.finished_at is None:
        return False
    if mail.opted_out(kind=EmailKind.IMPORT, user=user):
        return False
    key = f"import:{job.pk}:{job.finished_at.astimezone(UTC).isoformat()}"
    return _send_once(
        user=user,
        kind=EmailKind.IMPORT,
        key=key,
        now=timezone.now(),
        send=lambda: _mail_import(job, user=user),
    )


def _mail_import(job: ImportJob, *, user) -> None:
    importer = get_importer(job.importer)
    with timezone.override(job.community.timezone):
        mail.send(
            kind=EmailKind.IMPORT,
            template="import_finished",
            to=user.email,
            user=user,
            context={
                "user": user,
                "job": job,
                "community": job.community,
                "importer": importer.title if importer else job.importer,
                "done": job.status == ImportJob.Status.DONE,
                "counts": [
                    ("Created", job.created),
                    ("Updated", job.updated),
                    ("Unchanged", job.unchanged),
                    ("Skipped", job.skipped),
                    ("Invalid", job.invalid),
                ],
                "details": job.details,
                "link": mail.absolute(job.get_absolute_url()),
            },
        )


def import_notice_after_commit(job_id: int) -> None:
    """Once the job's end commits, mail the uploader from here: the job's own worker (or the
    sweep's), already in the background. A mail server that fails hands the mail to a task,
    which retries with backoff."""
    if not ImportJob.objects.filter(pk=job_id, uploaded_by__isnull=False).exists():
        return  # a command's job: nobody to mail

    def send() -> None:
        try:
            import_notice_send(job_id=job_id)
        except Exception:  # SMTP, socket: the job is done all the same
            logger.exception("The email of import job %s failed; a task retries it.", job_id)
            from .tasks import send_import_notice

            send_or_fall_back(
                lambda: send_import_notice.apply_async((job_id,), countdown=60),
                fallback=lambda: None,
                what=f"the email of import job {job_id}",
            )

    transaction.on_commit(send)


# --- Password reset -----------------------------------------------------------------------------


def _keyed(value: str) -> str:
    key = f"notifications.reset:{settings.SECRET_KEY}".encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def password_reset_request(*, email: str, ip: str | None, now: datetime | None = None) -> bool:
    """Ask for a reset link to be mailed to `email`'s accounts. Unless the address or the
    client asked too often lately (PASSWORD_RESET_EMAIL_LIMIT, PASSWORD_RESET_IP_LIMIT an
    hour), the mail is sent by a worker. The caller answers alike in every case; whether the
    request went on is returned for the tests and the log."""
    now = now or timezone.now()
    email_hash, client_hash = _keyed(email.strip().lower()), _keyed(ip or "unknown")
    recent = ResetRequest.objects.filter(created_at__gte=now - RESET_WINDOW)
    if (
        recent.filter(email_hash=email_hash).count() >= settings.PASSWORD_RESET_EMAIL_LIMIT
        or recent.filter(client_hash=client_hash).count() >= settings.PASSWORD_RESET_IP_LIMIT
    ):
        logger.info("A password reset over its rate limit was dropped.")
        return False
    ResetRequest.objects.create(email_hash=email_hash, client_hash=client_hash, created_at=now)

    def send() -> None:
        from .tasks import send_password_reset

        send_password_reset.delay(email)

    after_commit(
        send,
        fallback=lambda: password_reset_send(email=email),
        what="a password reset email",
    )
    return True


def password_reset_send(*, email: str) -> int:
    """Mail a reset link to every active account of `email` with a password (Django's own
    choice of accounts, PasswordResetForm.get_users). How many mails."""
    sent = 0
    for user in PasswordResetForm().get_users(email):
        if mail.opted_out(kind=EmailKind.PASSWORD_RESET, user=user):
            continue
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        link = mail.absolute(reverse("notifications:password_reset_confirm", args=[uid, token]))
        mail.send(
            kind=EmailKind.PASSWORD_RESET,
            template="password_reset",
            to=user.email,
            user=user,
            context={
                "user": user,
                "link": link,
                "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
            },
        )
        sent += 1
    return sent


def reset_requests_sweep(*, now: datetime | None = None) -> int:
    """Delete the rate limit's records once they no longer count."""
    cutoff = (now or timezone.now()) - RESET_WINDOW
    count, _ = ResetRequest.objects.filter(created_at__lt=cutoff).delete()
    return count


# --- Turning emails off -------------------------------------------------------------------------


def opt_out(*, kind: str, user=None, email: str = "") -> None:
    """Turn one kind of email off for the user (or, for invitations, the address)."""
    if kind not in EmailKind.values:
        raise NotificationError(f"There is no kind of email called {kind!r}.", field="kind")
    if user is not None:
        exists = OptOut.objects.filter(user=user, kind=kind)
    else:
        exists = OptOut.objects.filter(email__iexact=email, kind=kind)
    if exists.exists():
        return
    try:
        with transaction.atomic():
            OptOut.objects.create(user=user, email="" if user else email.lower(), kind=kind)
    except IntegrityError:  # the same click, twice at once
        pass


def preferences_save(*, user, enabled: set[str]) -> None:
    """The kinds of email the user wants; the others are turned off."""
    for kind in USER_KINDS:
        if kind in enabled:
            OptOut.objects.filter(user=user, kind=kind).delete()
        else:
            opt_out(kind=kind, user=user)


def unsubscribe(*, token: str) -> str:
    """Follow a one-click unsubscribe: the kind of email (its label) that is now off. Raises
    mail.BadToken for a link that is not ours (or whose user is gone)."""
    kind, user_id, email = mail.read_unsubscribe_token(token)
    if user_id is not None:
        user = get_user_model()._default_manager.filter(pk=user_id).first()
        if user is None:
            raise mail.BadToken("This unsubscribe link is not valid any more.")
        opt_out(kind=kind, user=user)
    else:
        opt_out(kind=kind, email=email)
    return EmailKind(kind).label
