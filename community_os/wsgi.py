import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "community_os.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, their modules and URL patterns) lives as long as the
# process: take it out of the garbage collector's sight. Otherwise every full collection, one
# every 25 pages or so, walks it all and stalls that page by about 50 ms; with it frozen, 100
# pages of the table at a million members took 2.8 s instead of 3.2 (bench/README.md).
gc.freeze()
