"""Settings: defaults, parsing, one clear line per bad value, and every one documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from settings import DEFAULT_DATABASE_URL, SETTINGS, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_need_no_environment() -> None:
    settings = load_settings({}, dotenv_path=None)
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.store_kind == "sqlite"
    assert (settings.host, settings.port) == ("127.0.0.1", 8050)
    assert settings.aws_configured is False


def test_values_are_parsed_and_typed(tmp_path: Path) -> None:
    settings = load_settings({
        "DATABASE_URL": "mongodb://db:27017/slow", "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://localhost:5000", "PORT": "9000",
        "INVENTORY_REFRESH_MINUTES": "0", "STATIC_INSTANCES_FILE": str(tmp_path / "s.json"),
        "SCHEDULER_ENABLED": "no",
    }, dotenv_path=None)
    assert settings.store_kind == "mongodb"
    assert settings.aws_region == "eu-west-1"
    assert settings.port == 9000
    assert settings.inventory_refresh_minutes == 0
    assert settings.static_instances_file == tmp_path / "s.json"
    assert settings.scheduler_enabled is False


@pytest.mark.parametrize(("name", "value", "message"), [
    ("PORT", "eighty", "PORT: expected a whole number, got 'eighty'"),
    ("PORT", "70000", "PORT: expected a number from 1 to 65535, got 70000"),
    ("DATABASE_URL", "postgres://x", "DATABASE_URL: expected sqlite:///"),
    ("INVENTORY_REFRESH_MINUTES", "-5", "INVENTORY_REFRESH_MINUTES: expected a number from 0"),
    ("AWS_ENDPOINT_URL", "localhost:5000", "AWS_ENDPOINT_URL: expected an http:// or https://"),
    ("SCHEDULER_ENABLED", "maybe", "SCHEDULER_ENABLED: expected true or false"),
])
def test_a_bad_value_names_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value}, dotenv_path=None)
    assert str(caught.value).startswith(message)


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=9100\nHOST=0.0.0.0\n")
    settings = load_settings({"PORT": "9200"}, dotenv_path=dotenv)
    assert (settings.host, settings.port) == ("0.0.0.0", 9200)


def test_password_never_appears_in_repr() -> None:
    settings = load_settings({"MYSQL_PASSWORD": "hunter2-secret"}, dotenv_path=None)
    assert settings.mysql_password == "hunter2-secret"
    assert "hunter2" not in repr(settings)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    table_names = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert table_names == {spec.env for spec in SETTINGS}


def test_command_line_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PORT": "nope"}, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: PORT: expected a whole number, got 'nope'"
