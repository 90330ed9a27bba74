import pytest

SITE = "https://community.example.org"


@pytest.fixture(autouse=True)
def _site_url(settings):
    """Links in emails start with SITE_URL: a production-like one, so tests see https links."""
    settings.SITE_URL = SITE
