"""Settings > Webhooks: the community's endpoints, each with its delivery log.

Only admins see these pages (403 for the community's other roles: an endpoint's URL often
carries a credential of the receiving service, and the log shows what was sent); outsiders get
404 as everywhere. A new endpoint's secret, and a rotated one, is shown once, on the page that
answers the POST: it is never put in a URL, a cookie or a message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from members.access import CommunityRequest, community_view, has_role
from members.models import Role

from . import services
from .access import get_delivery_for_request, get_endpoint_for_request
from .forms import EndpointEditForm, EndpointForm
from .models import Delivery, Endpoint

LOG_PAGE_SIZE = 25


def admins_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @community_view(write_role=Role.ADMIN)
    @wraps(view)
    def wrapper(request: CommunityRequest, *args, **kwargs) -> HttpResponse:
        if not has_role(request.role, Role.ADMIN):
            raise PermissionDenied(
                "Only the community's admins can see its webhooks: their URLs may carry "
                "credentials."
            )
        return view(request, *args, **kwargs)

    return wrapper


def _apply_error(form: EndpointForm, error: services.WebhookError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error))


@admins_only
def webhook_settings(request: CommunityRequest) -> HttpResponse:
    """The endpoints, and the form that adds one (its secret is shown once, on the answer)."""
    community = request.community
    form = EndpointForm(community=community)
    if request.method == "POST":
        form = EndpointForm(request.POST, community=community)
        if form.is_valid():
            try:
                endpoint = services.endpoint_create(
                    community=community,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    segments=form.cleaned_data["segments"],
                    description=form.cleaned_data["description"],
                    by=request.user,
                )
            except services.WebhookError as error:
                _apply_error(form, error)
            else:
                return _endpoint_page(request, endpoint, new_secret=endpoint.secret)
    endpoints = list(Endpoint.objects.for_community(community).prefetch_related("segments"))
    last: dict[int, Delivery] = {}
    for delivery in Delivery.objects.filter(endpoint__in=endpoints).order_by(
        "endpoint_id", "-created_at", "-pk"
    ):
        last.setdefault(delivery.endpoint_id, delivery)
    rows = [(endpoint, last.get(endpoint.pk)) for endpoint in endpoints]
    return render(request, "webhooks/settings.html", {"form": form, "rows": rows})


@admins_only
def endpoint_detail(request: CommunityRequest, pk: int) -> HttpResponse:
    """One endpoint: its settings (edit, switch on or off, rotate the secret, delete) and its
    delivery log."""
    endpoint = get_endpoint_for_request(request, pk)
    if request.method != "POST":
        return _endpoint_page(request, endpoint)
    action = request.POST.get("action", "save")
    if action == "rotate":
        services.endpoint_rotate_secret(endpoint=endpoint)
        return _endpoint_page(request, endpoint, new_secret=endpoint.secret)
    if action == "delete":
        if request.POST.get("confirm") != "on":
            messages.error(request, "Tick “Delete this endpoint” to confirm; nothing was deleted.")
            return redirect(endpoint)
        services.endpoint_delete(endpoint=endpoint)
        messages.success(request, f"The endpoint {endpoint.url} is deleted.")
        return redirect("webhooks:settings", slug=request.community.slug)
    if action in ("enable", "disable"):
        services.endpoint_update(endpoint=endpoint, enabled=action == "enable")
        messages.success(
            request,
            "The endpoint is on: waiting deliveries are being sent."
            if endpoint.enabled
            else "The endpoint is off: nothing is sent to it until it is switched on.",
        )
        return redirect(endpoint)
    form = EndpointEditForm(request.POST, community=request.community)
    if form.is_valid():
        try:
            services.endpoint_update(endpoint=endpoint, **form.cleaned_data)
        except services.WebhookError as error:
            _apply_error(form, error)
        else:
            messages.success(request, "The endpoint is saved.")
            return redirect(endpoint)
    endpoint.refresh_from_db()
    return _endpoint_page(request, endpoint, form=form)


@admins_only
@require_POST
def resend(request: CommunityRequest, pk: int, delivery_pk: int) -> HttpResponse:
    """ "Send again": the same delivery (same webhook-id and body), now."""
    endpoint = get_endpoint_for_request(request, pk)
    delivery = get_delivery_for_request(request, endpoint, delivery_pk)
    try:
        services.delivery_resend(delivery=delivery)
    except services.WebhookError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Delivery {delivery.message_id} is being sent again.")
    return redirect(endpoint)


def _endpoint_page(
    request: CommunityRequest,
    endpoint: Endpoint,
    *,
    form: EndpointEditForm | None = None,
    new_secret: str = "",
) -> HttpResponse:
    if form is None:
        form = EndpointEditForm(
            community=request.community,
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "events": endpoint.events,
                "segments": list(endpoint.segments.all()),
                "enabled": endpoint.enabled,
            },
        )
    deliveries = Delivery.objects.for_endpoint(endpoint).defer("body")
    page = Paginator(deliveries, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "endpoint": endpoint,
        "form": form,
        "new_secret": new_secret,
        "page": page,
    }
    return render(request, "webhooks/endpoint.html", context)
