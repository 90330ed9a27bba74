import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.management.reporting import score_and_report
from engagement.stackexchange import StackExchangeError, import_stackexchange
from members.models import Community


class Command(BaseCommand):
    help = (
        "Import a Stack Exchange data dump folder (Users.xml, Posts.xml, Comments.xml, "
        "Votes.xml): users as members, posts, comments and votes as activities. Importing the "
        "same dump again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The community's slug")
        parser.add_argument("directory", type=Path, help="The dump folder of one site")
        parser.add_argument(
            "--no-score",
            action="store_true",
            help="Do not score the community after the import (the periodic scoring will).",
        )

    def handle(self, *args, slug: str, directory: Path, no_score: bool, **options) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        started = time.monotonic()
        try:
            report = import_stackexchange(community=community, directory=directory)
        except OSError as exc:
            raise CommandError(f"Cannot read {directory}: {exc}. Nothing was imported.") from None
        except StackExchangeError as exc:
            raise CommandError(f"{exc} Nothing was imported.") from None
        self.stdout.write(f"{report.summary()} ({time.monotonic() - started:.1f} s)")
        if not no_score:
            score_and_report(self, community)
