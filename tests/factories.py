from datetime import UTC

import factory
from django.contrib.auth import get_user_model

from members.models import Community, CommunityRole, Identity, Member, Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class CommunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Community
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Community {n}")
    slug = factory.Sequence(lambda n: f"community-{n}")


class CommunityRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommunityRole

    user = factory.SubFactory(UserFactory)
    community = factory.SubFactory(CommunityFactory)
    role = Role.MANAGER


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    community = factory.SubFactory(CommunityFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"member{n}@example.org")
    company_name = factory.Faker("company")
    job_title = factory.Faker("job")
    city = factory.Faker("city")
    country = factory.Faker("country")
    joined_at = factory.Faker("date_time_between", start_date="-3y", end_date="-1d", tzinfo=UTC)

    @factory.lazy_attribute
    def location(self) -> str:
        return f"{self.city}, {self.country}"


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    member = factory.SubFactory(MemberFactory)
    community = factory.SelfAttribute("member.community")
    source = "csv"
    external_id = factory.Sequence(lambda n: f"ext-{n}")


class ActivityFactory(factory.django.DjangoModelFactory):
    """An activity of a default kind (`kind_slug`), by default a message."""

    class Meta:
        model = "engagement.Activity"
        exclude = ["kind_slug"]

    member = factory.SubFactory(MemberFactory)
    community = factory.SelfAttribute("member.community")
    kind_slug = "message"
    kind = factory.LazyAttribute(lambda a: a.community.activity_kinds.get(slug=a.kind_slug))
    occurred_at = factory.Faker("date_time_between", start_date="-1y", end_date="now", tzinfo=UTC)
    source = "test"


class SegmentFactory(factory.django.DjangoModelFactory):
    """A manual segment (give `kind` and `rule` for a smart one; segments.services.segment_create
    also refreshes it, which this does not)."""

    class Meta:
        model = "segments.Segment"

    community = factory.SubFactory(CommunityFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = "manual"
