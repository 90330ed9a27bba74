"""The built wheel runs the app: built from the repository, installed with its locked
dependencies into a fresh venv, migrated, served by gunicorn from that venv (DEBUG off), away
from the checkout, it answers the login page and a static file.

About 30 s with pip's cache warm; every step has its own timeout. It needs the package index
(the build's setuptools, the locked dependencies) and the venv module: without them it skips,
which fails under COMMUNITYOS_STRICT_SKIPS=1 (tests/conftest.py), as in CI.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.support import (
    ROOT,
    Browser,
    Service,
    answers,
    base_environment,
    free_port,
    run,
    static_url,
    wait_until,
)

pytestmark = pytest.mark.deploy

# The files a build reads: what git knows of (tracked or not ignored), less the tests and the
# benchmarks, copied so that the build's own files (build/, *.egg-info) stay out of the checkout.
NOT_BUILT = ("tests/", "bench/", ".git/")


def _source_copy(target: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("needs git to list the repository's files")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if name.startswith(NOT_BUILT) or not source.is_file():  # deleted, not yet staged
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    return target


def _require_the_index(tmp_path: Path, env: dict[str, str]) -> None:
    """Skip (never pass silently) when pip cannot reach the package index."""
    if importlib.util.find_spec("ensurepip") is None:
        pytest.skip("needs the venv module with ensurepip")
    download = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
    probe = subprocess.run(  # noqa: S603 (our interpreter, fixed arguments)
        [*download, "--dest", str(tmp_path / "probe"), "setuptools>=77"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"pip cannot reach the package index: {probe.stderr.strip()[-500:]}")


def test_the_built_wheel_serves_the_login_page_and_static_files(tmp_path):
    env = base_environment()
    _require_the_index(tmp_path, env)

    source = _source_copy(tmp_path / "source")
    dist = tmp_path / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), "."],
        env=env,
        cwd=source,
        timeout=300,
    )
    (wheel,) = dist.glob("communityos-*.whl")

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], env=env, cwd=tmp_path, timeout=120)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet"]
    requirements = ROOT / "requirements" / "base.txt"
    run([*pip, "--require-hashes", "-r", str(requirements)], env=env, cwd=tmp_path, timeout=600)
    run([*pip, "--no-deps", str(wheel)], env=env, cwd=tmp_path, timeout=120)

    # Production settings, and nothing of the checkout: the working directory is elsewhere and
    # the package is imported from the venv's site-packages.
    site = tmp_path / "site"
    app_env = {
        **env,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{site / 'db.sqlite3'}",
        "STATIC_ROOT": str(site / "static"),
        "MEDIA_ROOT": str(site / "media"),
    }
    site.mkdir()
    located = run(
        [python, "-c", "import community_os, segments; print(community_os.__file__)"],
        env=app_env,
        cwd=site,
        timeout=60,
    ).stdout.strip()
    assert Path(located).is_relative_to(venv), located

    communityos = str(venv / "bin" / "communityos")  # the console script: manage.py installed
    run([communityos, "migrate", "--noinput"], env=app_env, cwd=site, timeout=180)
    collected = run([communityos, "collectstatic", "--noinput"], env=app_env, cwd=site, timeout=120)
    assert "static files copied" in collected.stdout, collected.stdout
    assert (site / "static" / "staticfiles.json").is_file()  # the manifest whitenoise reads

    port = free_port()
    gunicorn = [str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    gunicorn.append("--no-control-socket")  # not the user's shared ~/.gunicorn/gunicorn.ctl
    gunicorn.append("community_os.wsgi")
    web = Service("gunicorn", gunicorn, env=app_env, cwd=site, logs=tmp_path)
    try:
        browser = Browser(f"http://127.0.0.1:{port}", https=False)
        wait_until(lambda: answers(browser, "/login/"), 30, "gunicorn", check=web.check_alive)

        login = browser.get("/login/")
        assert login.status == 200, login.text[:3000]
        assert '<form method="post"' in login.text
        for field in ('name="username"', 'name="password"', 'name="csrfmiddlewaretoken"'):
            assert field in login.text
        assert login.form_value("csrfmiddlewaretoken")

        stylesheet = static_url(login, ".css")
        assert stylesheet != "/static/css/app.css", "DEBUG off links the manifest's hashed name"
        css = browser.get(stylesheet)
        assert css.status == 200, css.text[:500]
        assert css.headers["Content-Type"].startswith("text/css")
        assert "max-age=315360000" in css.headers["Cache-Control"]  # whitenoise, hashed name
        assert css.text == (ROOT / "community_os" / "static" / "css" / "app.css").read_text()
        script = browser.get(static_url(login, ".js"))
        assert script.status == 200
        assert "javascript" in script.headers["Content-Type"]
    finally:
        web.stop()


def test_templates_and_static_files_live_in_packages():
    """A template or static file at the repository's root would be in no wheel (and, with the
    settings reading community_os/templates and app static folders, in no page either)."""
    for folder in ("templates", "static"):
        assert not (ROOT / folder).exists(), (
            f"{folder}/ at the repository root is not package data: "
            f"its files belong in community_os/{folder}/ (pyproject.toml [tool.setuptools])"
        )
