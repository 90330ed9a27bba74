"""The Imports page and its jobs (README "Imports"): upload, check, map, confirm, follow.

An upload answers at once with a redirect to its job's page; the job is checked and imported by
a worker (members/jobs.py) while the page polls its progress region.
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from . import jobs
from .access import CommunityRequest, community_view, get_import_job_for_request
from .csv_import import ImportFileError
from .forms import ImportForm, MappingForm
from .imports import Importer, get_importer, importers
from .mapping import ImportOptions, Preview
from .models import ImportJob

HISTORY_SHOWN = 50


@community_view
@require_http_methods(["GET", "HEAD", "POST"])
def imports(request: CommunityRequest) -> HttpResponse:
    """Explain an importer; managers upload a file, which becomes an import job.

    The importers are those registered in members/imports.py (members, and the activities that
    engagement registers); `?importer=<slug>` picks one, members by default.
    """
    importer = _importer(request.GET.get("importer") or "members")
    form = ImportForm(importer=importer)
    refused = ""
    if request.method == "POST" and _too_big(request):
        refused = _too_big_message()
    elif request.method == "POST":
        form = ImportForm(request.POST, request.FILES, importer=importer)
        if form.is_valid():
            try:
                job = jobs.job_create(
                    community=request.community,
                    importer=importer,
                    upload=form.cleaned_data["file"],
                    by=request.user,
                    options=ImportOptions(encoding=form.cleaned_data.get("encoding") or "utf-8"),
                )
            except ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect(job)
    history = ImportJob.objects.for_community(request.community).select_related("uploaded_by")
    return render(
        request,
        "members/imports.html",
        {
            "form": form,
            "refused": refused,
            "importer": importer,
            "importers": importers(),
            "columns": importer.columns.items(),
            "history": history[:HISTORY_SHOWN],
            "max_megabytes": settings.IMPORT_MAX_FILE_BYTES // 1_048_576,
        },
    )


@community_view
@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def import_job(request: CommunityRequest, pk: int) -> HttpResponse:
    """A job's page: its progress while it runs, then what the check found with the mapping to
    change or confirm, or what the import did."""
    job = get_import_job_for_request(request, pk)
    if request.htmx and request.htmx.target == "import-job-status" and request.method != "POST":
        if not job.is_running:
            return HttpResponseClientRefresh()  # the page shows more once it has finished
        return render(request, "members/import_job.html#import-job-status", {"job": job})
    importer = _importer(job.importer)
    preview, preview_error, form = None, "", None
    if (
        importer.preview is not None
        and job.file
        and job.status in (ImportJob.Status.READY, ImportJob.Status.FAILED)
    ):
        try:
            preview = jobs.job_preview(job)
        except ImportFileError as exc:
            preview_error = str(exc)
        except OSError:
            preview_error = "The uploaded file cannot be read any more; upload it again."
    if preview is not None:
        form = _mapping_form(job, importer, preview, request.POST or None)
    if request.method == "POST":
        response = _act(request, job, importer, form, preview)
        if response is not None:
            return response
    return render(
        request,
        "members/import_job.html",
        {
            "job": job,
            "importer": importer,
            "preview": preview,
            "preview_error": preview_error,
            "form": form,
        },
    )


@community_view
@require_GET
def import_job_report(request: CommunityRequest, pk: int) -> StreamingHttpResponse:
    """The job's whole report, line by line, as CSV."""
    job = get_import_job_for_request(request, pk)
    response = StreamingHttpResponse(jobs.report_lines(job), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response


def _act(
    request: CommunityRequest,
    job: ImportJob,
    importer: Importer,
    form: MappingForm | None,
    preview: Preview | None,
) -> HttpResponse | None:
    """Do what the job page's buttons ask; a response, or None to show the page again."""
    action = request.POST.get("action")
    try:
        if action == "cancel":
            jobs.job_cancel(job)
            messages.success(request, "The import was cancelled; nothing was imported.")
            return redirect("members:imports", request.community.slug)
        if importer.export is not None:
            return _act_on_export(request, job, action)
        if action not in ("check", "import") or form is None or preview is None:
            raise jobs.ImportJobError("This import cannot be changed any more.")
        if not form.is_valid():
            return None
        options, skip_invalid = form.options(), form.cleaned_data["skip_invalid"]
        checked = replace(ImportOptions.from_json(job.options), mapping=preview.mapping)
        if action == "import" and (
            options != checked
            or skip_invalid != job.skip_invalid
            or job.status != ImportJob.Status.READY
        ):
            # Changed choices are checked first: the counts shown must be the import's.
            jobs.job_set_options(job, options=options, skip_invalid=skip_invalid)
            messages.info(request, "Your new choices are being checked; confirm again after.")
        elif action == "import":
            jobs.job_confirm(job)
        else:
            jobs.job_set_options(job, options=options, skip_invalid=skip_invalid)
    except jobs.ImportJobError as exc:
        messages.error(request, str(exc))
    return redirect(job)


def _act_on_export(request: CommunityRequest, job: ImportJob, action: str | None) -> HttpResponse:
    """An export has no mapping: import what the check found, or check it again with invalid
    entries skipped or not."""
    skip_invalid = request.POST.get("skip_invalid") == "on"
    if action == "import" and skip_invalid == job.skip_invalid:
        jobs.job_confirm(job)
    elif action in ("check", "import"):
        jobs.job_set_options(
            job, options=ImportOptions.from_json(job.options), skip_invalid=skip_invalid
        )
        if action == "import":
            messages.info(request, "Your new choice is being checked; confirm again after.")
    else:
        raise jobs.ImportJobError("This import cannot be changed any more.")
    return redirect(job)


def _mapping_form(job: ImportJob, importer: Importer, preview, data) -> MappingForm:
    options = ImportOptions.from_json(job.options)
    return MappingForm(
        data,
        importer=importer,
        preview=preview,
        initial={
            "date_format": options.date_format,
            "blank": options.blank,
            "encoding": options.encoding,
            "event": options.event,
            "event_date": options.event_date,
            "skip_invalid": job.skip_invalid,
        },
    )


def _importer(slug: str) -> Importer:
    importer = get_importer(slug)
    if importer is None:
        raise Http404("No such importer.")
    return importer


def _too_big(request: CommunityRequest) -> bool:
    """Whether the request announces a body past the upload limit (refused unread)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.IMPORT_MAX_FILE_BYTES + 65_536  # room for the form's other fields


def _too_big_message() -> str:
    return (
        f"The file is larger than {settings.IMPORT_MAX_FILE_BYTES // 1_048_576:,} MB, the most "
        "an import may be. Split it into smaller files."
    )
