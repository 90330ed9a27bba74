"""Import jobs (README "Imports"): every upload, and every run of an import command, is an
`ImportJob` that reads its file through one of the importers of members/imports.py.

An upload is saved with Django's storage API and checked in the background (`job_check`: every
row read, matched and counted, then rolled back), so the manager sees what the import would do
before anything is written; confirming (`job_confirm`) imports it in the background. The
request never waits for the file. A command runs the same `job_execute` in its own process.

The Celery task only takes the job's id and claims it by moving it out of "queued" with one
UPDATE, so a task delivered twice runs once. Imports into one community are serialized by the
importers' own lock (members/locks.py): a second job waits for the first, it never fails.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from community_os.enqueue import after_commit, send_or_fall_back

from .csv_import import ImportFileError
from .imports import Importer, get_importer
from .mapping import ImportOptions, Preview
from .models import Community, ImportJob
from .reports import ImportReport
from .signals import follow_up_here, import_finished

logger = logging.getLogger(__name__)

Status = ImportJob.Status


class ImportJobError(Exception):
    """The job cannot do what was asked in its present state; the message says why."""


def job_create(
    *, community: Community, importer: Importer, upload: UploadedFile, by, options: ImportOptions
) -> ImportJob:
    """Keep the upload and queue its check. Raises ImportFileError when the file cannot be read
    as the importer's kind at all (its header), so nothing is kept for a file that cannot work."""
    size = upload.size or 0
    if size > settings.IMPORT_MAX_FILE_BYTES:
        raise ImportFileError(
            f"The file is {size / 1_048_576:,.1f} MB; an import may be at most "
            f"{settings.IMPORT_MAX_FILE_BYTES / 1_048_576:,.0f} MB."
        )
    if importer.preview is not None:  # a table's header reads (an export is checked later)
        upload.seek(0)
        importer.preview(community=community, file=upload, options=options)
    upload.seek(0)
    job = ImportJob(
        community=community,
        importer=importer.slug,
        file_name=(upload.name or "upload")[:255],
        file_size=size,
        uploaded_by=by,
        options=options.as_json(),
    )
    job.file.save(_stored_name(job.file_name), upload, save=False)
    job.save()
    _enqueue(job)
    return job


def job_preview(job: ImportJob) -> Preview:
    """The start of the job's file as its import would read it (ImportFileError if it cannot).
    Only for an importer of tables: an export has no mapping to preview."""
    importer = _importer(job)
    if importer.preview is None:
        raise ImportJobError("An export has no mapping to preview.")
    with job.file.open("rb") as file:
        return importer.preview(
            community=job.community, file=file, options=ImportOptions.from_json(job.options)
        )


def job_set_options(job: ImportJob, *, options: ImportOptions, skip_invalid: bool) -> ImportJob:
    """New choices for a job that waits for confirmation: it is checked again with them."""
    with transaction.atomic():
        job = _locked(job, Status.READY, Status.FAILED)
        if not job.file:
            raise ImportJobError("The file of this import is no longer kept; upload it again.")
        job.options = options.as_json()
        job.skip_invalid = skip_invalid
        _reset(job)
        job.save()
        _enqueue(job)
    return job


def job_confirm(job: ImportJob) -> ImportJob:
    """Import a checked job (its check found what it would do)."""
    with transaction.atomic():
        job = _locked(job, Status.READY)
        if not job.can_import:
            raise ImportJobError(
                f"{job.invalid:,} invalid row{'' if job.invalid == 1 else 's'}: nothing would be "
                "imported. Fix the file, or choose to skip invalid rows and check again."
            )
        job.confirmed = True
        _reset(job)
        job.save()
        _enqueue(job)
    return job


def job_cancel(job: ImportJob) -> ImportJob:
    """Drop a job that waits for confirmation (or a queued one): nothing is imported."""
    with transaction.atomic():
        job = _locked(job, Status.READY, Status.QUEUED, Status.FAILED)
        job.status = Status.CANCELLED
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
        _delete_files(job)
    return job


def job_run(job_id: int) -> None:
    """What the Celery task does: claim the queued job, then check or import its file."""
    job = ImportJob.objects.filter(pk=job_id).select_related("community").first()
    if job is None:
        return
    step = Status.IMPORTING if job.confirmed else Status.VALIDATING
    claimed = ImportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=step, started_at=timezone.now(), bytes_read=0, rows_read=0
    )
    if not claimed:
        return  # delivered twice, or cancelled meanwhile
    job.refresh_from_db()
    try:
        with job.file.open("rb") as file:
            job_execute(job, file)
    except OSError as exc:
        _fail(job, f"The uploaded file cannot be read any more ({exc.strerror or exc}).")


def job_execute(
    job: ImportJob,
    file: IO[bytes] | Path,
    *,
    on_progress: Callable[[ImportJob], object] | None = None,
    follow_up: bool = True,
) -> ImportReport | None:
    """Check or import `file` for the job (status validating or importing), recording progress,
    counts and the report on it. `file` is a path only for an importer of folders (a
    platform's unpacked export, given to a command). The report, or None if the file could
    not be read.

    `follow_up`: after an import that wrote something, call the importer's `after_import`
    (the activities importer enqueues a rescore; a command that scores at once does not)."""
    importer = _importer(job)

    def progress(rows_read: int, bytes_read: int | None = None) -> None:
        """`bytes_read`: how far the file is read, when the importer knows better than the
        file's position (a zip is read entry by entry)."""
        if bytes_read is None:
            bytes_read = _position(file, job.file_size)
        job.rows_read, job.bytes_read = rows_read, min(bytes_read, job.file_size or bytes_read)
        ImportJob.objects.filter(pk=job.pk).update(
            rows_read=job.rows_read, bytes_read=job.bytes_read
        )
        if on_progress is not None:
            on_progress(job)

    # An export's messages name the entries inside it after the manager's own file.
    named = {"label": job.file_name} if importer.export is not None else {}
    here = follow_up_here.set(True)
    try:
        report = importer.run(
            community=job.community,
            file=file,
            skip_invalid=job.skip_invalid,
            options=ImportOptions.from_json(job.options),
            progress=progress,
            dry_run=not job.confirmed,
            **named,
        )
        if follow_up and job.confirmed and importer.after_import and not report.rolled_back:
            importer.after_import(job.community)
    except ImportFileError as exc:
        _fail(job, str(exc))
        return None
    except Exception:
        logger.exception("Import job %s failed", job.pk)
        _fail(job, "The import stopped on an unexpected error; nothing was written.")
        raise
    finally:
        follow_up_here.reset(here)
    _finish(job, report)
    return report


def job_for_command(
    *, community: Community, importer: Importer, file_name: str, size: int
) -> ImportJob:
    """The job of an import command: recorded in the history, run in the command's process."""
    return ImportJob.objects.create(
        community=community,
        importer=importer.slug,
        file_name=file_name[:255],
        file_size=size,
        confirmed=True,
        status=Status.IMPORTING,
        started_at=timezone.now(),
    )


def sweep_jobs(now=None) -> tuple[int, int, int]:
    """Enqueue the jobs whose task could not be enqueued; fail the jobs whose worker died (no
    task runs longer than IMPORT_TASK_TIME_LIMIT); delete files past their retention. Returns
    (jobs enqueued, jobs failed, jobs whose files were deleted)."""
    now = now or timezone.now()
    waiting = list(
        ImportJob.objects.filter(status=Status.QUEUED, waiting_for_broker=True).values_list(
            "pk", flat=True
        )
    )
    enqueued = 0
    for job_id in waiting:
        ImportJob.objects.filter(pk=job_id).update(waiting_for_broker=False)
        enqueued += _send(job_id)
    keep_until = now - timedelta(days=settings.IMPORT_FILE_RETENTION_DAYS)
    expired = (
        ImportJob.objects.exclude(status__in=ImportJob.RUNNING)
        .exclude(file="", report="")
        .filter(
            Q(finished_at__lt=keep_until) | Q(finished_at__isnull=True, created_at__lt=keep_until)
        )
    )
    deleted = 0
    for job in expired.iterator():
        _delete_files(job)
        deleted += 1
    stale = now - timedelta(seconds=settings.IMPORT_TASK_TIME_LIMIT + 300)
    failed = 0
    for job in ImportJob.objects.filter(
        status__in=[Status.VALIDATING, Status.IMPORTING], started_at__lt=stale
    ):
        _fail(
            job,
            "The import stopped before it finished (its worker was restarted); nothing was "
            "written. Upload the file again.",
        )
        failed += 1
    return enqueued, failed, deleted


def report_lines(job: ImportJob) -> Iterable[str]:
    """The job's whole report as CSV lines (line, kind, message), from storage if kept."""
    if job.report:
        with job.report.open("rb") as stored:
            text = io.TextIOWrapper(stored, encoding="utf-8", newline="")
            yield from text
        return
    yield _report_csv(job.problems).decode()


# The job's steps ---------------------------------------------------------------------------


def _enqueue(job: ImportJob) -> None:
    job_id = job.pk
    after_commit(
        lambda: _task().delay(job_id),
        fallback=lambda: ImportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
            waiting_for_broker=True
        ),
        what=f"import job {job_id}",
    )


def _send(job_id: int) -> bool:
    """Enqueue the job's task now; if the broker fails, mark the job as waiting for it."""
    return send_or_fall_back(
        lambda: _task().delay(job_id),
        fallback=lambda: ImportJob.objects.filter(pk=job_id).update(waiting_for_broker=True),
        what=f"import job {job_id}",
    )


def _task():
    from .tasks import run_import_job  # the task module imports this one

    return run_import_job


def _locked(job: ImportJob, *allowed: str) -> ImportJob:
    locked = ImportJob.objects.select_for_update().filter(pk=job.pk).first()
    if locked is None:
        raise ImportJobError("This import no longer exists.")
    if locked.status not in allowed:
        raise ImportJobError(f"This import is {locked.get_status_display().lower()} already.")
    return locked


def _reset(job: ImportJob) -> None:
    job.status = Status.QUEUED
    job.started_at = job.finished_at = None
    job.bytes_read = job.rows_read = 0
    job.created = job.updated = job.unchanged = job.skipped = job.invalid = 0
    job.rolled_back = False
    job.problems = []
    job.details = []
    job.message = ""
    job.waiting_for_broker = False
    if job.report:
        job.report.delete(save=False)


def _finish(job: ImportJob, report: ImportReport) -> None:
    job.rows_read = job.rows_total = report.rows_read
    job.bytes_read = job.file_size
    for name in ("created", "updated", "unchanged", "skipped", "invalid"):
        setattr(job, name, getattr(report, name))
    job.rolled_back = report.rolled_back and job.confirmed
    problems = _problems(report)
    job.problems = problems[: ImportJob.REPORT_ROWS_SHOWN]
    job.details = [[label, count] for label, count in report.details]
    if len(problems) > ImportJob.REPORT_ROWS_SHOWN:
        job.report.save(f"{job.pk}-report.csv", ContentFile(_report_csv(problems)), save=False)
    job.finished_at = timezone.now()
    if not job.confirmed:
        job.status = Status.READY
    elif report.rolled_back:
        job.status = Status.FAILED
        job.message = (
            f"Nothing was imported: {report.invalid:,} invalid row"
            f"{'' if report.invalid == 1 else 's'}. Fix the file and upload it again, or "
            "choose to skip invalid rows."
        )
    else:
        job.status = Status.DONE
    job.save()
    if job.status != Status.READY:
        import_finished.send(sender=ImportJob, job_id=job.pk)


def _fail(job: ImportJob, message: str) -> None:
    job.status = Status.FAILED
    job.message = message
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "message", "finished_at"])
    import_finished.send(sender=ImportJob, job_id=job.pk)


def _problems(report: ImportReport) -> list[list]:
    entries = [[e.line, "invalid", e.message] for e in report.errors]
    entries += [[e.line, "skipped", e.message] for e in report.skips]
    return sorted(entries, key=lambda entry: entry[0])


def _report_csv(problems: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["line", "problem", "message"])
    writer.writerows(problems)
    return buffer.getvalue().encode()


def _delete_files(job: ImportJob) -> None:
    for stored in (job.file, job.report):
        if stored:
            stored.delete(save=False)
    job.save(update_fields=["file", "report"])


def _importer(job: ImportJob) -> Importer:
    importer = get_importer(job.importer)
    if importer is None:
        raise ImportJobError(f"No importer {job.importer!r} is installed.")
    return importer


def _position(file: IO[bytes] | Path, size: int) -> int:
    if isinstance(file, Path):
        return 0
    try:
        return min(size, file.tell()) if size else file.tell()
    except (OSError, ValueError):
        return 0


def _stored_name(file_name: str) -> str:
    """A storage name that keeps the extension and nothing a path could misread."""
    _stem, dot, extension = file_name.rpartition(".")
    extension = "".join(c for c in extension.lower() if c.isascii() and c.isalnum())[:8]
    return f"upload.{extension}" if dot and extension else "upload"


__all__ = [
    "ImportJobError",
    "job_cancel",
    "job_confirm",
    "job_create",
    "job_execute",
    "job_for_command",
    "job_preview",
    "job_run",
    "job_set_options",
    "report_lines",
    "sweep_jobs",
]
