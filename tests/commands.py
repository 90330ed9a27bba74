"""Running management commands in tests."""

from io import StringIO
from unittest import mock

from django.core.management import get_commands, load_command_class


def run_from_argv(*argv):
    """Run a command as `manage.py` does; return its exit status, stdout and stderr."""
    out, err = StringIO(), StringIO()
    status = 0
    # manage.py closes the connections afterwards; the test still needs its transaction.
    with (
        mock.patch("django.core.management.base.connections.close_all"),
        mock.patch("sys.stdout", out),
        mock.patch("sys.stderr", err),
    ):
        command = load_command_class(get_commands()[argv[0]], argv[0])
        try:
            command.run_from_argv(["manage.py", *argv])
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()
