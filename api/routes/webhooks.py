"""Webhook endpoints through their services (webhooks/services.py): the same checks as the
Settings page (the SSRF guard included) and the same messages, each naming its field. As on
that page, only an admin's session or a write token manages them, since an endpoint's URL
often holds the receiving service's credential."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from members.access import role_for
from members.models import Role
from webhooks import services
from webhooks.models import Endpoint, Event

from ..problems import InputError
from ..schemas import Id
from .common import access

router = Router(tags=["webhook endpoints"])

Events = list[str]


class EndpointIn(Schema):
    url: str = Field(description="Where deliveries are POSTed: http(s), a public address.")
    events: Events = Field(description=f"One or more of {', '.join(Event.values)}.")
    segments: list[Id] = Field(
        default_factory=list, description="Only changes of these segments (empty: all)."
    )
    description: str = ""


class EndpointPatch(Schema):
    url: str | None = None
    events: Events | None = None
    segments: list[Id] | None = None
    description: str | None = None
    enabled: bool | None = None


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    events: list[str]
    segments: list[int]
    enabled: bool
    disabled_reason: str
    created_at: datetime


class NewEndpointOut(EndpointOut):
    secret: str = Field(description="The signing secret (whsec_…): shown this once.")


def _endpoint_out(endpoint: Endpoint) -> dict:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "segments": sorted(endpoint.segments.values_list("pk", flat=True)),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
    }


def _managing(request: HttpRequest):
    """The caller's access, once it may manage endpoints."""
    found = access(request)
    if found.token is None and role_for(found.user, found.community) != Role.ADMIN:
        raise HttpError(403, "Only a community admin manages webhook endpoints.")
    return found


def _get(request: HttpRequest, endpoint_id: int) -> Endpoint:
    community = _managing(request).community
    endpoint = Endpoint.objects.for_community(community).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


@contextmanager
def _refused_as_input() -> Iterator[None]:
    try:
        yield
    except services.WebhookError as exc:
        raise InputError(exc.field or "url", str(exc)) from None


@router.get("/webhook-endpoints", response=list[EndpointOut], summary="List webhook endpoints")
def list_endpoints(request: HttpRequest):
    community = _managing(request).community
    endpoints = Endpoint.objects.for_community(community).prefetch_related("segments")
    return [_endpoint_out(endpoint) for endpoint in endpoints.order_by("pk")]


@router.post(
    "/webhook-endpoints",
    response={201: NewEndpointOut},
    summary="Create a webhook endpoint",
)
def create_endpoint(request: HttpRequest, payload: EndpointIn):
    """A new, enabled endpoint; the answer holds its signing secret, shown this once."""
    caller = _managing(request)
    with _refused_as_input():
        endpoint = services.endpoint_create(
            community=caller.community,
            url=payload.url,
            events=payload.events,
            segments=payload.segments,
            description=payload.description,
            by=caller.user,
        )
    return Status(201, {**_endpoint_out(endpoint), "secret": endpoint.secret})


@router.get(
    "/webhook-endpoints/{endpoint_id}", response=EndpointOut, summary="Get a webhook endpoint"
)
def get_endpoint(request: HttpRequest, endpoint_id: Id):
    return _endpoint_out(_get(request, endpoint_id))


@router.patch(
    "/webhook-endpoints/{endpoint_id}", response=EndpointOut, summary="Change a webhook endpoint"
)
def update_endpoint(request: HttpRequest, endpoint_id: Id, payload: EndpointPatch):
    """Changes the fields given; switching an endpoint on again sends what waited for it."""
    endpoint = _get(request, endpoint_id)
    changes = payload.model_dump(exclude_none=True)
    with _refused_as_input():
        endpoint = services.endpoint_update(endpoint=endpoint, **changes)
    return _endpoint_out(endpoint)


@router.delete(
    "/webhook-endpoints/{endpoint_id}", response={204: None}, summary="Delete a webhook endpoint"
)
def delete_endpoint(request: HttpRequest, endpoint_id: Id):
    """Deletes the endpoint and its delivery log: nothing more is sent to it."""
    services.endpoint_delete(endpoint=_get(request, endpoint_id))
    return HttpResponse(status=204)
