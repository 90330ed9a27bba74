"""Import jobs (members/jobs.py): how far a job got, its counts and the first lines of its
report."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from ninja import Router

from members.models import ImportJob

from ..schemas import Id, ImportJobOut
from .common import access

router = Router(tags=["import jobs"])


@router.get("/import-jobs/{job_id}", response=ImportJobOut, summary="Get an import job")
def get_import_job(request: HttpRequest, job_id: Id):
    job = ImportJob.objects.for_community(access(request).community).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such import job.")
    return {
        "id": job.pk,
        "importer": job.importer,
        "file_name": job.file_name,
        "file_size": job.file_size,
        "status": job.status,
        "status_label": job.get_status_display(),
        "confirmed": job.confirmed,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "rows_read": job.rows_read,
        "rows_total": job.rows_total,
        "percent": job.percent,
        "counts": {
            "created": job.created,
            "updated": job.updated,
            "unchanged": job.unchanged,
            "skipped": job.skipped,
            "invalid": job.invalid,
        },
        "rolled_back": job.rolled_back,
        "details": [
            {"label": str(label), "count": int(count)}
            for label, count in (job.details if isinstance(job.details, list) else [])
        ],
        "report": [
            {"line": int(line), "kind": str(kind), "message": str(message)}
            for line, kind, message in (job.problems if isinstance(job.problems, list) else [])
        ],
        "message": job.message,
    }
