"""Settings parsing: strict environment helpers, and the settings module under real env."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from opsportal import env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("YES", True), ("1", True), ("off", False), ("0", False), ("", False)],
)
def test_get_bool_accepts_known_spellings(raw, expected):
    assert env.get_bool("X", default=not expected, environ={"X": raw}) is expected


def test_get_bool_refuses_unknown_value():
    with pytest.raises(ImproperlyConfigured, match="not a boolean"):
        env.get_bool("DEBUG", default=False, environ={"DEBUG": "ture"})


def test_get_bool_default_when_unset():
    assert env.get_bool("X", default=True, environ={}) is True


def test_get_int_refuses_garbage_and_below_minimum():
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env.get_int("N", 1, environ={"N": "ten"})
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env.get_int("N", 1, minimum=0, environ={"N": "-5"})
    assert env.get_int("N", 7, environ={"N": " 42 "}) == 42


def test_get_list_splits_and_strips():
    assert env.get_list("H", [], environ={"H": "a.example.com, b.example.com,,"}) == [
        "a.example.com",
        "b.example.com",
    ]
    assert env.get_list("H", ["x"], environ={}) == ["x"]


def test_file_variant_reads_secret_from_file(tmp_path):
    secret_file = tmp_path / "key"
    secret_file.write_text("s3cr3t\n")
    assert env.get_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret_file)}) == "s3cr3t"


def test_file_variant_and_value_together_is_an_error(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env.get_str("SECRET_KEY", environ={"SECRET_KEY": "a", "SECRET_KEY_FILE": "/nonexistent"})


def test_unreadable_secret_file_is_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env.get_str("SECRET_KEY", environ={"SECRET_KEY_FILE": "/nonexistent/key"})


def _run_manage(args, extra_env, tmp_path):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    clean.update({"VAR_DIR": str(tmp_path), **extra_env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def _production_env():
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "ops.example.com",
        "SITE_URL": "https://ops.example.com",
        "DATABASE_URL": "postgres://opsportal@db.example.com:5432/opsportal",
    }


def test_check_deploy_with_production_env_reports_no_issues(tmp_path):
    result = _run_manage(["check", "--deploy"], _production_env(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path):
    prod = _production_env()
    del prod["SECRET_KEY"]
    result = _run_manage(["check"], prod, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off" in result.stderr


def test_debug_generates_a_dev_key_once_into_var(tmp_path):
    first = _run_manage(
        ["shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)"],
        {"DEBUG": "true"},
        tmp_path,
    )
    second = _run_manage(
        ["shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)"],
        {"DEBUG": "true"},
        tmp_path,
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == second.stdout.strip().splitlines()[-1]
    assert (tmp_path / "dev_secret_key").read_text().strip() == first.stdout.strip().splitlines()[-1]


def test_bad_boolean_in_environment_stops_startup(tmp_path):
    result = _run_manage(["check"], {"DEBUG": "maybe"}, tmp_path)
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_bad_site_url_is_a_system_check_error(tmp_path):
    result = _run_manage(["check"], {"DEBUG": "true", "SITE_URL": "ops.example.com"}, tmp_path)
    assert result.returncode != 0
    assert "opsportal.E001" in result.stderr


def test_redis_url_must_be_a_redis_url(tmp_path):
    result = _run_manage(["check"], {"DEBUG": "true", "REDIS_URL": "http://localhost:6379"}, tmp_path)
    assert result.returncode != 0
    assert "REDIS_URL must be a redis://" in result.stderr


def test_database_url_selects_engine(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    pg = _run_manage(
        ["shell", "-c", code], {"DEBUG": "true", "DATABASE_URL": "postgres://u@h:5432/d"}, tmp_path
    )
    lite = _run_manage(["shell", "-c", code], {"DEBUG": "true", "DATABASE_URL": ""}, tmp_path)
    assert pg.stdout.strip().endswith("django.db.backends.postgresql")
    assert lite.stdout.strip().endswith("django.db.backends.sqlite3")
