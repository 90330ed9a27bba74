from django.db.models.signals import post_save
from django.dispatch import receiver

from members.models import Community

from .models import ActivityKind


@receiver(post_save, sender=Community, dispatch_uid="engagement_default_kinds")
def give_new_community_default_kinds(sender, instance: Community, created: bool, **kwargs) -> None:
    if created:
        ActivityKind.objects.create_defaults(instance)
