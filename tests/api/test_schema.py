"""The schema and the docs; and a client written from the schema alone, which pages through
a segment and gets exactly the members of the segment's CSV export."""

from __future__ import annotations

import csv
import io
import json
import re

from django.test import Client
from django.urls import reverse

from api.api import api as rest_api
from segments import services
from segments.refresh import refresh_segment
from tests.factories import IdentityFactory, MemberFactory


def test_the_schema_is_served_and_is_the_one_tests_use(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served["openapi"].startswith("3.")
    assert served == json.loads(json.dumps(rest_api.get_openapi_schema(path_params={})))
    schemes = served["components"]["securitySchemes"]
    assert schemes["TokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["TokenAuth"]["description"],
    }
    assert (
        schemes["SessionAuth"]["in"] == "header" and schemes["SessionAuth"]["name"] == "X-Community"
    )
    for path, operations in served["paths"].items():
        for method, operation in operations.items():
            for code in ("401", "404", "422", "429"):
                content = operation["responses"][code]["content"]
                assert list(content) == ["application/problem+json"], (path, method, code)


def test_the_docs_are_served_from_the_package_under_the_csp(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    for attributes, _body in scripts:
        # Only files of this site, and a JSON data block (which a browser does not run).
        assert 'src="/static/' in attributes or ('type="application/json"' in attributes), (
            attributes
        )
    assert "cdn" not in html.lower() and "https://" not in html
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()  # a file response: its file is closed with it


def test_other_paths_and_methods_are_problem_documents(api):
    for response in (api.get("/api/v1/nope"), api.get("/api/v1/"), api.request("PUT", "members")):
        assert response["Content-Type"] == "application/problem+json"
        assert response.status_code in (404, 405)
    assert api.request("PUT", "members")["Allow"]


class SchemaClient:
    """Knows the API only from its OpenAPI document: finds the operation that lists a
    segment's members by its path template and parameters, and follows `next` cursors."""

    def __init__(self, http: Client, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}
        self.schema = http.get("/api/v1/openapi.json").json()

    def _operation(self, method: str, template: re.Pattern) -> tuple[str, dict]:
        for path, operations in self.schema["paths"].items():
            if template.fullmatch(path) and method in operations:
                return path, operations[method]
        raise LookupError(template.pattern)

    def segment_members(self, segment_id: int, page_size: int) -> list[dict]:
        path, operation = self._operation("get", re.compile(r".*/segments/\{(\w+)\}/members"))
        (id_name,) = re.findall(r"\{(\w+)\}", path)
        names = {p["name"] for p in operation["parameters"]}
        assert {"cursor", "limit"} <= names
        page_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert page_schema["$ref"].endswith("SegmentMemberPage")
        url = path.replace("{" + id_name + "}", str(segment_id))
        found, cursor = [], None
        while True:
            query = {"limit": page_size, **({"cursor": cursor} if cursor else {})}
            body = self.http.get(url, query, headers=self.headers).json()
            found += body["items"]
            cursor = body["next"]
            if cursor is None:
                return found


def test_a_schema_client_pages_through_the_export(client, alice, community, write_token):
    members = [
        MemberFactory(community=community, company_name="Acme", name=f"Person {n}")
        for n in range(23)
    ]
    for member in members[::3]:
        IdentityFactory(member=member, source="slack")
    MemberFactory(community=community, company_name="Globex")
    segment = services.segment_create(
        community=community,
        name="Acme people",
        kind="smart",
        rule={"all": [{"field": "company_name", "op": "is", "value": "acme"}]},
    )
    refresh_segment(segment.pk)

    paged = SchemaClient(Client(), write_token.secret).segment_members(segment.pk, page_size=5)

    client.force_login(alice)
    export = client.get(reverse("segments:export", args=["acme", segment.pk]))
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))

    def key(name, email, identities):
        return (name, email, identities)

    exported = sorted(key(r["name"], r["email"], r["external_ids"]) for r in rows)
    via_api = sorted(
        key(
            m["name"],
            m["email"],
            "; ".join(f"{i['source']}:{i['external_id']}" for i in m["identities"]),
        )
        for m in paged
    )
    assert len(exported) == 23
    assert via_api == exported
    assert len({m["id"] for m in paged}) == len(paged) == 23
