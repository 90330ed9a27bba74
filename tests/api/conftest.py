"""Fixtures of the API tests: tokens of acme (the `community` fixture) and of globex, and a
client that sends one."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from api.models import Scope
from api.tokens import token_create


class ApiClient:
    """The test client with a bearer token; JSON in, the response back."""

    def __init__(self, secret: str | None = None, **headers: str) -> None:
        self.client = Client()
        self.headers = dict(headers)
        if secret:
            self.headers["Authorization"] = f"Bearer {secret}"

    def request(self, method: str, path: str, body=None, *, query=None, **headers):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        kwargs: dict = {"headers": {**self.headers, **headers}}
        if body is not None:
            kwargs["data"] = body if isinstance(body, (bytes, str)) else json.dumps(body)
            kwargs["content_type"] = "application/json"
        if query:
            kwargs["QUERY_STRING"] = "&".join(f"{k}={v}" for k, v in query.items())
        return getattr(self.client, method.lower())(url, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path, body=None, **kwargs):
        return self.request("DELETE", path, body, **kwargs)


@pytest.fixture
def write_token(community):
    return token_create(community=community, name="CRM sync", scope=Scope.WRITE)


@pytest.fixture
def read_token(community):
    return token_create(community=community, name="Dashboard", scope=Scope.READ)


@pytest.fixture
def api(write_token) -> ApiClient:
    return ApiClient(write_token.secret)


@pytest.fixture
def reader(read_token) -> ApiClient:
    return ApiClient(read_token.secret)


@pytest.fixture
def outsider(other_community) -> ApiClient:
    """A write token of globex: acme's objects are not there for it."""
    return ApiClient(token_create(community=other_community, name="Theirs", scope="write").secret)
