"""Lookups of webhook objects for a request (outsiders get 404, members/access.py)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from members.access import CommunityRequest

from .models import Delivery, Endpoint


def get_endpoint_for_request(request: CommunityRequest, pk: int) -> Endpoint:
    endpoints = Endpoint.objects.for_community(request.community).select_related("community")
    return get_object_or_404(endpoints, pk=pk)


def get_delivery_for_request(request: CommunityRequest, endpoint: Endpoint, pk: int) -> Delivery:
    return get_object_or_404(Delivery.objects.for_endpoint(endpoint), pk=pk)
