from django.db import migrations

from engagement.models import DEFAULT_KINDS


def add_default_kinds(apps, schema_editor):
    Community = apps.get_model("members", "Community")
    ActivityKind = apps.get_model("engagement", "ActivityKind")
    for community in Community.objects.all():
        existing = set(
            ActivityKind.objects.filter(community=community).values_list("slug", flat=True)
        )
        ActivityKind.objects.bulk_create(
            ActivityKind(
                community=community,
                slug=kind.slug,
                label=kind.label,
                weight=kind.weight,
                daily_cap=kind.daily_cap,
                initiated=kind.initiated,
            )
            for kind in DEFAULT_KINDS
            if kind.slug not in existing
        )


class Migration(migrations.Migration):
    dependencies = [("engagement", "0001_initial"), ("members", "0001_initial")]

    operations = [migrations.RunPython(add_default_kinds, migrations.RunPython.noop)]
