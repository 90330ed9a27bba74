"""Isolation on every URL (docs/architecture.md "Tenancy", SECURITY.md, issue "Trust"): the matrix
of URL patterns and roles.

Every URL pattern the resolver knows is either a community URL in COMMUNITY_URLS (tested for
every role, with a GET and a POST) or listed in OUTSIDE_COMMUNITIES with the reason it is not
a community page. A new URL pattern in neither makes `test_every_url_pattern_is_in_the_matrix`
fail, so a page cannot skip the isolation checks.

Roles, all on the community "acme" whose objects fill the URL:
- anonymous: sent to the login page;
- otto, manager of "globex" only: 404 for everything, never 403 and never data;
- victor, viewer: reads work (editing dialogs excepted: 403), every write is 403;
- alice, manager, and amy, admin: allowed (admin-only writes are 403 for alice).
And alice, a manager of acme, asking for acme's URL with another community's object gets 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from members.models import ROLE_RANK, ImportJob, Invitation, Role
from segments.models import Segment
from tests.factories import CommunityRoleFactory, MemberFactory, UserFactory
from webhooks.models import Delivery, Endpoint
from webhooks.services import RETRY_FOR, new_secret


@dataclass(frozen=True)
class Objects:
    member: int
    smart: int
    manual: int
    second_member: int = 0  # another member of the same community (the merge screen's pair)
    import_job: int = 0
    endpoint: int = 0  # a webhook endpoint, and one of its deliveries
    delivery: int = 0
    team_role: int = 0  # a teammate's role (Settings > Team), and an invitation
    invitation: int = 0


@dataclass(frozen=True)
class Spec:
    """How a community URL behaves. `kwargs` fills the URL from a community's objects."""

    kwargs: Callable[[Objects], dict] = lambda o: {}
    get: bool = True  # GET is served (else 405 for those who may see the page)
    post: bool = False  # POST is a write
    viewer_get: int = 200  # what a viewer's GET answers (403: an editing dialog)
    write_role: Role = Role.MANAGER
    read_role: Role = Role.VIEWER  # the community's roles below it get 403, reads included


SEGMENT = lambda o: {"pk": o.smart}  # noqa: E731
MANUAL = lambda o: {"pk": o.manual}  # noqa: E731

COMMUNITY_URLS: dict[str, Spec] = {
    "members:list": Spec(),
    "members:detail": Spec(kwargs=lambda o: {"pk": o.member}),
    "members:imports": Spec(post=True),
    "members:import_job": Spec(kwargs=lambda o: {"pk": o.import_job}, post=True),
    "members:import_job_report": Spec(kwargs=lambda o: {"pk": o.import_job}),
    "members:duplicates": Spec(),
    # A POST without the confirmation merges nothing (400); viewers cannot open the screen.
    "members:merge": Spec(
        kwargs=lambda o: {"kept": o.member, "other": o.second_member}, post=True, viewer_get=403
    ),
    "engagement:dashboard": Spec(),
    "engagement:kinds": Spec(post=True, write_role=Role.ADMIN),
    "segments:list": Spec(),
    "segments:new": Spec(post=True, viewer_get=403),
    "segments:preview": Spec(get=False, post=True),
    "segments:sidebar": Spec(),
    "segments:detail": Spec(kwargs=SEGMENT),
    "segments:edit": Spec(kwargs=SEGMENT, post=True, viewer_get=403),
    "segments:delete": Spec(kwargs=SEGMENT, post=True, viewer_get=403),
    "segments:pin": Spec(kwargs=SEGMENT, get=False, post=True),
    "segments:move": Spec(kwargs=SEGMENT, get=False, post=True),
    "segments:reviewed": Spec(kwargs=MANUAL, get=False, post=True),
    "segments:export": Spec(kwargs=SEGMENT),
    "segments:add": Spec(kwargs=MANUAL, get=False, post=True),
    "segments:remove": Spec(kwargs=MANUAL, get=False, post=True),
    "segments:member": Spec(kwargs=lambda o: {"member_pk": o.member}, post=True),
    "signup:settings": Spec(post=True, write_role=Role.ADMIN),
    # Admins only, reads included: an endpoint's URL may carry the receiver's credential.
    "webhooks:settings": Spec(post=True, write_role=Role.ADMIN, read_role=Role.ADMIN),
    "webhooks:endpoint": Spec(
        kwargs=lambda o: {"pk": o.endpoint}, post=True, write_role=Role.ADMIN, read_role=Role.ADMIN
    ),
    "webhooks:resend": Spec(
        kwargs=lambda o: {"pk": o.endpoint, "delivery_pk": o.delivery},
        get=False,
        post=True,
        write_role=Role.ADMIN,
        read_role=Role.ADMIN,
    ),
    "api:tokens": Spec(post=True, write_role=Role.ADMIN),
    "members:team": Spec(post=True, write_role=Role.ADMIN),
    "members:team_role": Spec(
        kwargs=lambda o: {"pk": o.team_role}, get=False, post=True, write_role=Role.ADMIN
    ),
    "members:team_remove": Spec(
        kwargs=lambda o: {"pk": o.team_role}, get=False, post=True, write_role=Role.ADMIN
    ),
    "members:team_revoke": Spec(
        kwargs=lambda o: {"pk": o.invitation}, get=False, post=True, write_role=Role.ADMIN
    ),
    # Watching is the user's own choice, not a change to the community: viewers too.
    "notifications:watch": Spec(kwargs=SEGMENT, get=False, post=True, write_role=Role.VIEWER),
}

API_REASON = "a REST API operation (tests/api/test_tenancy.py, tests/api/test_auth.py)"

# Not community pages; each has its own tests (tests/test_site.py, tests/members/...).
OUTSIDE_COMMUNITIES = {
    "home": "sends a logged-in user to their community, or lets them choose",
    "healthz": "public health check for load balancers; shows no data",
    "status": "staff only, 404 for everyone else (tests/ops/test_health.py)",
    "login": "public",
    "logout": "ends the session",
    "admin": "Django admin: staff only, across communities (every admin URL)",
    "signup:join": "the public join page of a community that published one (tests/signup)",
    "signup:sent": "the public join page's answer after a signup (tests/signup)",
    "signup:confirm": "the public confirmation of an emailed link (tests/signup)",
    "invitation_accept": "an invitation's emailed link: the signed token is the key "
    "(tests/members/test_team.py)",
    "notifications:preferences": "the logged-in user's own email settings (tests/notifications)",
    "notifications:unsubscribe": "an email's one-click unsubscribe: the signed token is the key",
    "notifications:password_reset": "public: the same answer for every address",
    "notifications:password_reset_done": "public, no data",
    "notifications:password_reset_confirm": "public: Django's reset token is the key",
    "notifications:password_reset_complete": "public, no data",
    # The REST API: the community comes from the token (or X-Community for a session), not
    # the URL; tests/api/test_tenancy.py runs every operation of its schema with another
    # community's token and ids (404), and tests/api/test_auth.py the roles and scopes.
    "api-v1:openapi-json": "the REST API's OpenAPI schema: public, no data",
    "api-v1:openapi-view": "the REST API's docs (Swagger UI): public, no data",
    "api:not_found": "any other path under /api/v1/: a 404 problem document",
    "api-v1:add_activities": API_REASON,
    "api-v1:add_segment_members": API_REASON,
    "api-v1:api-root": API_REASON,
    "api-v1:create_segment": API_REASON,
    "api-v1:delete_segment": API_REASON,
    "api-v1:get_import_job": API_REASON,
    "api-v1:get_member_by_id": API_REASON,
    "api-v1:get_segment_by_id": API_REASON,
    "api-v1:list_members": API_REASON,
    "api-v1:list_membership_changes": API_REASON,
    "api-v1:list_segment_members": API_REASON,
    "api-v1:list_segments": API_REASON,
    "api-v1:remove_segment_members": API_REASON,
    "api-v1:update_segment": API_REASON,
    "api-v1:upsert_member": API_REASON,
    "api-v1:list_endpoints": API_REASON,
    "api-v1:create_endpoint": API_REASON,
    "api-v1:get_endpoint": API_REASON,
    "api-v1:update_endpoint": API_REASON,
    "api-v1:delete_endpoint": API_REASON,
}


def _patterns(patterns, namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                yield "admin"
                continue
            yield from _patterns(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}:{pattern.name}" if namespace else str(pattern.name)


def test_every_url_pattern_is_in_the_matrix():
    names = set(_patterns(get_resolver().url_patterns))
    uncovered = names - set(COMMUNITY_URLS) - set(OUTSIDE_COMMUNITIES)
    assert not uncovered, f"URL patterns missing from the isolation matrix: {sorted(uncovered)}"
    stale = (set(COMMUNITY_URLS) | set(OUTSIDE_COMMUNITIES)) - names
    assert not stale, f"the matrix lists URL patterns that no longer exist: {sorted(stale)}"


def _objects(community) -> Objects:
    member = MemberFactory(community=community)
    second = MemberFactory(community=community)
    smart = Segment.objects.create(
        community=community, name="Smart", kind="smart", rule={"all": []}
    )
    manual = Segment.objects.create(community=community, name="Manual", kind="manual")
    job = ImportJob.objects.create(
        community=community, importer="members", file_name="members.csv", status="ready"
    )
    endpoint = Endpoint.objects.create(
        community=community,
        url="https://hooks.example.org/in",
        events=["member.created"],
        secret=new_secret(),
    )
    now = timezone.now()
    delivery = Delivery.objects.create(
        community=community,
        endpoint=endpoint,
        message_id=f"msg_{community.slug}",
        event="member.created",
        body="{}",
        created_at=now,
        next_attempt_at=now + RETRY_FOR,  # not due: a POST below must not reach the network
        give_up_at=now + RETRY_FOR,
    )
    teammate = UserFactory(username=f"teammate-{community.slug}")
    team_role = CommunityRoleFactory(user=teammate, community=community, role=Role.VIEWER)
    invitation = Invitation.objects.create(
        community=community,
        email=f"invited@{community.slug}.example.org",
        role=Role.VIEWER,
        nonce="isolation",
        expires_at=now + timedelta(days=7),
    )
    return Objects(
        team_role=team_role.pk,
        invitation=invitation.pk,
        member=member.pk,
        smart=smart.pk,
        manual=manual.pk,
        second_member=second.pk,
        import_job=job.pk,
        endpoint=endpoint.pk,
        delivery=delivery.pk,
    )


@pytest.fixture
def acme_objects(community):
    return _objects(community)


@pytest.fixture
def globex_objects(other_community):
    return _objects(other_community)


def _url(name: str, community, objects: Objects) -> str:
    return reverse(name, kwargs={"slug": community.slug, **COMMUNITY_URLS[name].kwargs(objects)})


def _client_for(client, role: str, community, other_community):
    if role == "anonymous":
        return client
    user = UserFactory(username=role)
    if role == "outsider":
        CommunityRoleFactory(user=user, community=other_community, role=Role.MANAGER)
    else:
        CommunityRoleFactory(user=user, community=community, role=Role(role))
    client.force_login(user)
    return client


ROLES = ["anonymous", "outsider", "viewer", "manager", "admin"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(COMMUNITY_URLS))
def test_isolation_matrix(client, community, other_community, acme_objects, name, role):
    spec = COMMUNITY_URLS[name]
    url = _url(name, community, acme_objects)
    client = _client_for(client, role, community, other_community)
    got = client.get(url)
    posted = client.post(url, {})

    if role == "anonymous":
        for response in (got, posted):
            assert response.status_code == 302, (name, response.status_code)
            assert response["Location"].startswith(reverse("login")), name
        return
    if role == "outsider":
        assert (got.status_code, posted.status_code) == (404, 404), name
        return
    if ROLE_RANK[Role(role)] < ROLE_RANK[spec.read_role]:
        assert (got.status_code, posted.status_code) == (403, 403), (name, role)
        return

    may_write = ROLE_RANK[Role(role)] >= ROLE_RANK[spec.write_role]
    if not spec.get:
        assert got.status_code == 405, (name, role, got.status_code)
    elif role == "viewer":
        assert got.status_code == spec.viewer_get, (name, role, got.status_code)
    else:
        assert got.status_code == 200, (name, role, got.status_code)

    if not spec.post:
        # A read-only page: nobody can write through it; viewers meet the write check first.
        expected = (403,) if role == "viewer" else (405,)
        assert posted.status_code in expected, (name, role, posted.status_code)
    elif may_write:
        assert posted.status_code not in (403, 404), (name, role, posted.status_code)
        assert posted.status_code < 500, (name, role, posted.status_code)
    else:
        assert posted.status_code == 403, (name, role, posted.status_code)


@pytest.mark.parametrize(
    "name", sorted(n for n, spec in COMMUNITY_URLS.items() if spec.kwargs(Objects(1, 1, 1)))
)
def test_objects_of_another_community_are_404_under_this_community(
    client, alice, amy, community, acme_objects, globex_objects, name
):
    """alice manages acme (amy is its admin, for the admins' pages); globex's member or segment
    put into an acme URL is not found. (A method the view does not serve is refused with 405
    before any lookup.)"""
    spec = COMMUNITY_URLS[name]
    client.force_login(amy if Role.ADMIN in (spec.read_role, spec.write_role) else alice)
    alice_client = client
    url = _url(name, community, globex_objects)
    assert alice_client.get(url).status_code == (404 if spec.get else 405), name
    assert alice_client.post(url, {}).status_code == (404 if spec.post else 405), name
    assert Segment.objects.filter(pk=globex_objects.smart).exists()
    assert Segment.objects.filter(pk=globex_objects.manual).exists()


def test_another_communitys_url_is_404_for_a_manager_of_this_one(
    alice_client, community, other_community, globex_objects
):
    for name in COMMUNITY_URLS:
        url = _url(name, other_community, globex_objects)
        assert alice_client.get(url).status_code == 404, name
        assert alice_client.post(url, {}).status_code == 404, name
