"""Gunicorn settings for CommunityOS behind a reverse proxy on the same machine (deploy/nginx.conf).

Installed as /etc/communityos/gunicorn.conf.py and started by communityos-web.service:
`gunicorn --config /etc/communityos/gunicorn.conf.py community_os.wsgi`. The environment file
(/etc/communityos/communityos.env) can set GUNICORN_BIND, WEB_CONCURRENCY and WEB_THREADS.
"""

import os

# Only the proxy talks to gunicorn: it listens on the loopback interface.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Threaded workers: a thread waits on the database or streams a CSV export without holding a
# whole process, and the master's timeout below watches each process, not each request. Every
# thread holds its own database connection (CONN_MAX_AGE), so workers x threads, plus the Celery
# processes, must stay below PostgreSQL's max_connections (100 by default). The CPUs counted are
# the ones this process may run on (a container's or systemd's CPU set), not the machine's.
_cpus = len(os.sched_getaffinity(0))
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or _cpus + 1)
threads = int(os.environ.get("WEB_THREADS") or 4)

# What a request may take is bounded by the app itself: every statement of a request runs under
# WEB_STATEMENT_TIMEOUT (8 s), "Count all" and each statement of an export under 30 s, and an
# upload of an import file (IMPORT_MAX_FILE_BYTES, 200 MB) is received whole by the proxy before
# gunicorn sees it (nginx buffers request bodies), then copied to MEDIA_ROOT at disk speed, as a
# worker imports it later. So this is a watchdog for a process that stopped answering, with room
# above those limits: a worker silent for 120 s is killed and replaced.
timeout = 120
# A restart (systemctl restart / reload) lets requests in flight finish for this long;
# communityos-web.service's TimeoutStopSec is above it.
graceful_timeout = 60
# The proxy keeps connections to gunicorn open between requests.
keepalive = 5

# Forwarded headers: trusted from the proxy only (the same machine). The proxy sets
# X-Forwarded-Proto (Django reads it when HTTPS=true: SECURE_PROXY_SSL_HEADER) and
# X-Forwarded-For (login throttling reads it with AXES_IPWARE_PROXY_COUNT=1). Gunicorn listens on
# 127.0.0.1 only, so no other client can send them. Set FORWARDED_ALLOW_IPS to the proxy's address
# when it runs on another machine (and bind gunicorn to an address that machine reaches).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# Logs go to the journal (stdout / stderr of the unit).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "communityos-web"
# gunicornc's control socket (worker status, adding or removing workers at run time), in the
# unit's RuntimeDirectory rather than the default under $HOME, which every gunicorn of the user
# would share.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "/run/communityos/gunicorn.ctl")
