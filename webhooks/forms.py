"""The endpoint form of Settings > Webhooks. It checks the shape of the input; the services
check the rest (the URL's addresses, the segments) and their errors land on the same fields."""

from __future__ import annotations

from typing import Any

from django import forms

from members.models import Community
from segments.models import Segment

from .models import DESCRIPTION_MAX_LENGTH, URL_MAX_LENGTH, Event


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=URL_MAX_LENGTH,
        help_text="Where the events are POSTed, e.g. https://example.org/hooks/communityos. "
        "Only public addresses: private networks and this server are refused.",
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(
        label="Description", max_length=DESCRIPTION_MAX_LENGTH, required=False
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(value, f"{value} — {label}") for value, label in Event.choices],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event to send."},
    )
    segments = forms.ModelMultipleChoiceField(
        label="Only these segments",
        queryset=Segment.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="For the segment events; none ticked: every segment.",
    )

    def __init__(self, *args: Any, community: Community, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "endpoint-%s")
        super().__init__(*args, **kwargs)
        segments = self.fields["segments"]
        assert isinstance(segments, forms.ModelMultipleChoiceField)  # noqa: S101 (for mypy)
        segments.queryset = Segment.objects.for_community(community).order_by("name")


class EndpointEditForm(EndpointForm):
    enabled = forms.BooleanField(
        label="Enabled", required=False, help_text="Switched off, nothing is sent to it."
    )
