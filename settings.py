"""One typed settings object, read once from the environment (and an optional `.env` file).

Every setting is declared as data in `SETTINGS` (name, default, parser, help) so the README
table can be checked against it by a test, and so a bad value produces one line naming the
variable instead of a traceback deep inside the app.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///data/slowquery.db"
ROLES = ("viewer", "operator")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and what is expected."""


def _parse_number(kind: type, low: float, high: float) -> Callable[[str], Any]:
    """A parser for a number of `kind` (int or float) within [low, high]."""
    expected = "a whole number" if kind is int else "a number"

    def parse(raw: str) -> Any:
        try:
            value = kind(raw.strip())
        except ValueError:
            raise ValueError(f"expected {expected}, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"expected a number from {low} to {high}, got {value}")
        return value

    return parse


def _parse_int(low: int, high: int) -> Callable[[str], int]:
    return _parse_number(int, low, high)


def _parse_float(low: float, high: float) -> Callable[[str], float]:
    return _parse_number(float, low, high)


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_database_url(raw: str) -> str:
    value = raw.strip()
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return value
    if value.startswith(("mongodb://", "mongodb+srv://")):
        return value
    raise ValueError(
        "expected sqlite:///path/to/file.db or mongodb://host:port/dbname "
        f"(got something starting with {value[:10]!r})"
    )


def _parse_names(raw: str) -> frozenset[str]:
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def _parse_text(raw: str) -> str:
    return raw.strip()


def _parse_optional_path(raw: str) -> Path | None:
    value = raw.strip()
    return Path(value) if value else None


def _parse_url(raw: str) -> str:
    value = raw.strip()
    if value and not value.startswith(("http://", "https://")):
        # quote only the scheme: a URL may carry credentials (http://user:secret@host)
        raise ValueError(f"expected an http:// or https:// URL, got {value.split(':')[0]!r}...")
    return value


def _parse_role(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ROLES:
        raise ValueError(f"expected one of {', '.join(ROLES)}, got {raw.strip()[:20]!r}")
    return value


def _parse_networks(raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Addresses or CIDR ranges, comma-separated (`10.0.0.5, 10.1.0.0/16`)."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"expected IP addresses or CIDR ranges, got {item[:40]!r}") from None
    return tuple(networks)


def _parse_lower_names(raw: str) -> frozenset[str]:
    return frozenset(name.lower() for name in _parse_names(raw))


_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")


def _parse_origins(raw: str) -> tuple[str, ...]:
    """Comma-separated `https://host[:port]` origins; they go into a CSP header as written,
    so nothing else (no path, `*`, quote or `;`) is let through."""
    origins = []
    for item in (part.strip().lower().rstrip("/") for part in raw.split(",")):
        if not item:
            continue
        if not _ORIGIN.match(item):
            raise ValueError(f"expected origins such as https://wiki.example.com, "
                             f"got {item[:60]!r}")
        origins.append(item)
    return tuple(origins)


def _parse_monthly_at(raw: str) -> str:
    from analysis.schedule import parse_monthly_at  # checked here, used by the job

    spec = parse_monthly_at(raw)
    return spec.text() if spec else ""


def _parse_daily_at(raw: str) -> str:
    from analysis.schedule import parse_daily_at  # checked here, used by the job

    spec = parse_daily_at(raw)
    return spec.text() if spec else ""


def _parse_processes(raw: str) -> int:
    """`auto` (one per CPU, at most 4) or a number of processes, 0 for none."""
    value = raw.strip().lower()
    if value == "auto":
        return max(1, min(4, os.cpu_count() or 1))
    return _parse_int(0, 64)(value)


def _parse_secret_key(raw: str) -> str:
    value = raw.strip()
    if value and len(value) < 16:
        raise ValueError("expected at least 16 characters")
    return value


@dataclass(frozen=True)
class SettingSpec:
    """One environment variable: its name, default (as text), parser and a line of help."""

    env: str
    attr: str
    default: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False
    empty_is_off: bool = False  # set but empty means "off", not "the default"


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("DATABASE_URL", "database_url", DEFAULT_DATABASE_URL, _parse_database_url,
                "Where results are stored: `sqlite:///path.db` (embedded default) or "
                "`mongodb://host:port/dbname`."),
    SettingSpec("AWS_REGION", "aws_region", "", _parse_text,
                "The one AWS region whose RDS instances are discovered (falls back to "
                "`AWS_DEFAULT_REGION`). Empty: AWS discovery is off."),
    SettingSpec("AWS_ENDPOINT_URL", "aws_endpoint_url", "", _parse_url,
                "Send AWS API calls to this endpoint instead of AWS (a local emulator such "
                "as moto for tests and demos)."),
    SettingSpec("MYSQL_USER", "mysql_user", "", _parse_text,
                "The monitoring account used to read the processlist and run EXPLAIN "
                "(needs only SELECT and PROCESS)."),
    SettingSpec("MYSQL_PASSWORD", "mysql_password", "", _parse_text,
                "Password of the monitoring account. Never shown on a page or in a log.",
                secret=True),
    SettingSpec("STATIC_INSTANCES_FILE", "static_instances_file", "", _parse_optional_path,
                "JSON file listing MySQL instances that are not on RDS (self-managed)."),
    SettingSpec("INVENTORY_REFRESH_MINUTES", "inventory_refresh_minutes", "15",
                _parse_int(0, 24 * 60),
                "How often the instance inventory is refreshed; 0 turns the schedule off."),
    SettingSpec("SCHEDULER_ENABLED", "scheduler_enabled", "true", _parse_bool,
                "Run background jobs (inventory refresh) in this process."),
    SettingSpec("SCHEDULER_LEASE_SECONDS", "scheduler_lease_seconds", "30",
                _parse_float(5, 3600),
                "How long the scheduler's lease lasts: after a crash another process takes "
                "the jobs over within this time (a clean shutdown hands them over at once)."),
    SettingSpec("COLLECTION_MAX_RUNS", "collection_max_runs", "2", _parse_int(1, 20),
                "Collection runs allowed at once; more are refused with 429."),
    SettingSpec("COLLECT_MONTHLY_AT", "collect_monthly_at", "1 02:00", _parse_monthly_at,
                "Day and UTC time (`DAY HH:MM`, day 1-28) each month's collection of the "
                "previous month starts on its own; empty turns it off. A process that was "
                "down then catches up when it leads again.", empty_is_off=True),
    SettingSpec("COLLECT_DAILY_AT", "collect_daily_at", "", _parse_daily_at,
                "UTC time (`HH:MM`) from which yesterday is collected into its month every "
                "night (the 1st's goes into the month before); missed nights are caught up, "
                "and on the first night the month so far. A month built from days equals the "
                "month collected at once. Empty: off.", empty_is_off=True),
    SettingSpec("COLLECTION_READERS", "collection_readers", "16", _parse_int(1, 256),
                "CloudWatch Logs requests in flight at once, shared by every run (the "
                "per-API rates below bound them further)."),
    SettingSpec("COLLECTION_SLICES", "collection_slices", "8", _parse_int(1, 1000),
                "At most this many time slices per log stream, read concurrently; used when "
                "a run has fewer instances than `COLLECTION_READERS`."),
    SettingSpec("COLLECTION_PARSE_PROCESSES", "collection_parse_processes", "auto",
                _parse_processes,
                "Processes parsing slow-log events during a collection (`auto`: one per CPU, "
                "at most 4; `0`: one thread of the app's process)."),
    SettingSpec("CLOUDWATCH_GET_LOG_EVENTS_PER_SECOND", "cloudwatch_get_log_events_per_second",
                "25", _parse_float(0.1, 10000),
                "GetLogEvents requests per second this process sends (AWS quota: 25 per "
                "account and Region; lower it when other tools share the account)."),
    SettingSpec("CLOUDWATCH_FILTER_LOG_EVENTS_PER_SECOND",
                "cloudwatch_filter_log_events_per_second", "5", _parse_float(0.1, 10000),
                "FilterLogEvents requests per second (AWS quota: 5 per account and Region); "
                "the fallback when GetLogEvents is not allowed."),
    SettingSpec("CLOUDWATCH_DESCRIBE_LOG_STREAMS_PER_SECOND",
                "cloudwatch_describe_log_streams_per_second", "5", _parse_float(0.1, 10000),
                "DescribeLogStreams requests per second (one or a few per instance and run)."),
    SettingSpec("REGRESSION_RATIO", "regression_ratio", "1.5", _parse_float(1.01, 100),
                "Month over month: a statement regressed (or improved) when its time per call "
                "or p95 grew (or shrank) at least this many times."),
    SettingSpec("REGRESSION_MIN_CALLS", "regression_min_calls", "10", _parse_int(1, 10**9),
                "Month over month: calls needed in both months before a statement can count "
                "as regressed or improved."),
    SettingSpec("AWS_TIMEOUT_SECONDS", "aws_timeout_seconds", "10", _parse_float(0.5, 300),
                "Connect and read timeout of each AWS API call."),
    SettingSpec("AWS_MAX_ATTEMPTS", "aws_max_attempts", "5", _parse_int(1, 20),
                "Attempts per AWS API call (adaptive retry mode backs off on throttling)."),
    SettingSpec("WS_PING_SECONDS", "ws_ping_seconds", "30", _parse_float(1, 3600),
                "Interval of the WebSocket keep-alive pings sent by the server."),
    SettingSpec("REALTIME_INTERVAL_SECONDS", "realtime_interval_seconds", "1",
                _parse_float(0.2, 600),
                "How often real-time targets' processlists are polled."),
    SettingSpec("REALTIME_MIN_SECONDS", "realtime_min_seconds", "2", _parse_float(0, 86400),
                "A statement running at least this long is recorded (once per execution)."),
    SettingSpec("REALTIME_SKIP_USERS", "realtime_skip_users", "", _parse_names,
                "Comma-separated users whose statements are never recorded (rdsadmin, "
                "event_scheduler and system user always are skipped)."),
    SettingSpec("REALTIME_SKIP_SCHEMAS", "realtime_skip_schemas", "", _parse_names,
                "Comma-separated schemas whose statements are never recorded."),
    SettingSpec("EXPLAIN_TIMEOUT_SECONDS", "explain_timeout_seconds", "5",
                _parse_float(0.5, 120),
                "Longest time an EXPLAIN may take before it is killed."),
    SettingSpec("HOST", "host", "127.0.0.1", _parse_text,
                "Address the dashboard listens on (`python app.py`)."),
    SettingSpec("PORT", "port", "8050", _parse_int(1, 65535),
                "Port the dashboard listens on (`python app.py`)."),
    SettingSpec("AUTH_USERS_FILE", "auth_users_file", "", _parse_optional_path,
                "JSON file of users who sign in at `/login` (`python app.py user add`). "
                "Needs `SECRET_KEY`."),
    SettingSpec("AUTH_TOKENS_FILE", "auth_tokens_file", "", _parse_optional_path,
                "JSON file of API tokens' hashes (`python app.py token add`), used as "
                "`Authorization: Bearer <token>`."),
    SettingSpec("AUTH_PROXY_HEADER", "auth_proxy_header", "", _parse_text,
                "Header carrying the signed-in user from a reverse proxy (oauth2-proxy: "
                "`X-Forwarded-User`); trusted only from `AUTH_TRUSTED_PROXIES`."),
    SettingSpec("AUTH_TRUSTED_PROXIES", "auth_trusted_proxies", "", _parse_networks,
                "Comma-separated addresses or CIDR ranges of the proxies whose user header "
                "is believed."),
    SettingSpec("AUTH_PROXY_ROLE", "auth_proxy_role", "viewer", _parse_role,
                "Role of a user signed in by the proxy (`viewer` or `operator`)."),
    SettingSpec("AUTH_PROXY_ROLE_HEADER", "auth_proxy_role_header", "", _parse_text,
                "Optional header from the proxy with the user's role (`viewer`/`operator`); "
                "overrides `AUTH_PROXY_ROLE`."),
    SettingSpec("AUTH_DISABLED", "auth_disabled", "false", _parse_bool,
                "Serve without sign-in on a non-loopback address, on purpose (a banner on "
                "every page says so)."),
    SettingSpec("SECRET_KEY", "secret_key", "", _parse_secret_key,
                "Signs the session cookie (16+ characters; the same in every worker). "
                "Required with `AUTH_USERS_FILE`.", secret=True),
    SettingSpec("ALLOWED_HOSTS", "allowed_hosts", "", _parse_lower_names,
                "Comma-separated host names the dashboard answers to (`Host` header); "
                "default: the loopback names and the bind address. Others get 400."),
    SettingSpec("ALLOWED_ORIGINS", "allowed_origins", "", _parse_lower_names,
                "Extra origins (`https://wiki.example.com`) allowed to open the WebSocket "
                "and send state-changing requests; the dashboard's own is always allowed."),
    SettingSpec("MAX_REQUEST_BYTES", "max_request_bytes", "2097152",
                _parse_int(1024, 1024**3),
                "Largest request body accepted; a larger one gets 413."),
    SettingSpec("EMBED_FRAME_ANCESTORS", "embed_frame_ancestors", "", _parse_origins,
                "Comma-separated origins (`https://wiki.example.com`) whose pages may show "
                "`/embed/` charts in an iframe; empty: the dashboard's own pages only."),
    SettingSpec("EMBED_LINK_DAYS", "embed_link_days", "0", _parse_int(0, 3650),
                "Days an operator's signed embed link stays valid (it shows one chart "
                "without sign-in, masked and read-only); 0: no signed links, an iframe needs "
                "the viewer's session. Needs `SECRET_KEY`."),
    SettingSpec("PNG_BROWSER", "png_browser", "", _parse_optional_path,
                "Chromium used to draw PNG chart exports (kaleido); empty: `BROWSER_PATH`, "
                "else `chromium` or `google-chrome` on the `PATH`."),
)


@dataclass(frozen=True)
class Settings:
    """Everything the app is configured with; built once and handed to every subsystem."""

    database_url: str = DEFAULT_DATABASE_URL
    aws_region: str = ""
    aws_endpoint_url: str = ""
    mysql_user: str = ""
    mysql_password: str = field(default="", repr=False)
    static_instances_file: Path | None = None
    inventory_refresh_minutes: int = 15
    scheduler_enabled: bool = True
    scheduler_lease_seconds: float = 30.0
    collection_max_runs: int = 2
    collection_readers: int = 16
    collection_slices: int = 8
    collection_parse_processes: int = 0
    cloudwatch_get_log_events_per_second: float = 25.0
    cloudwatch_filter_log_events_per_second: float = 5.0
    cloudwatch_describe_log_streams_per_second: float = 5.0
    collect_monthly_at: str = "1 02:00"
    collect_daily_at: str = ""
    regression_ratio: float = 1.5
    regression_min_calls: int = 10
    aws_timeout_seconds: float = 10.0
    aws_max_attempts: int = 5
    ws_ping_seconds: float = 30.0
    realtime_interval_seconds: float = 1.0
    realtime_min_seconds: float = 2.0
    realtime_skip_users: frozenset[str] = frozenset()
    realtime_skip_schemas: frozenset[str] = frozenset()
    explain_timeout_seconds: float = 5.0
    host: str = "127.0.0.1"
    port: int = 8050
    auth_users_file: Path | None = None
    auth_tokens_file: Path | None = None
    auth_proxy_header: str = ""
    auth_trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    auth_proxy_role: str = "viewer"
    auth_proxy_role_header: str = ""
    auth_disabled: bool = False
    secret_key: str = field(default="", repr=False)
    allowed_hosts: frozenset[str] = frozenset()
    allowed_origins: frozenset[str] = frozenset()
    max_request_bytes: int = 2 * 1024 * 1024
    embed_frame_ancestors: tuple[str, ...] = ()
    embed_link_days: int = 0
    png_browser: Path | None = None
    demo: bool = False

    @property
    def store_kind(self) -> str:
        return "mongodb" if self.database_url.startswith("mongodb") else "sqlite"

    @property
    def aws_configured(self) -> bool:
        return bool(self.aws_region)

    @property
    def auth_configured(self) -> bool:
        """Is any way of signing in set up (users, tokens or a trusted proxy)?"""
        return bool(self.auth_users_file or self.auth_tokens_file or self.auth_proxy_header)


def check_consistency(settings: Settings) -> None:
    """Settings that are only wrong together; raise `SettingsError` naming them."""
    if settings.auth_users_file and not settings.secret_key:
        raise SettingsError("SECRET_KEY: required when AUTH_USERS_FILE is set (it signs the "
                            "session cookie; the same value in every worker)")
    if settings.embed_link_days and not settings.secret_key:
        raise SettingsError("SECRET_KEY: required when EMBED_LINK_DAYS is set (it signs the "
                            "embed links)")
    if settings.auth_proxy_header and not settings.auth_trusted_proxies:
        raise SettingsError("AUTH_TRUSTED_PROXIES: required when AUTH_PROXY_HEADER is set "
                            "(the header is believed only from these addresses)")


def _read_dotenv(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines; the environment wins over the file so deploys can override it."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = Path(".env")
) -> Settings:
    """Build `Settings` from the environment; raise `SettingsError` naming the bad variable."""
    source: dict[str, str] = {}
    if dotenv_path is not None:
        source.update(_read_dotenv(dotenv_path))
    source.update(os.environ if environ is None else environ)
    if not source.get("AWS_REGION") and source.get("AWS_DEFAULT_REGION"):
        source["AWS_REGION"] = source["AWS_DEFAULT_REGION"]

    values: dict[str, Any] = {}
    for spec in SETTINGS:
        raw = source.get(spec.env)
        if raw is None or (raw.strip() == "" and not spec.empty_is_off):
            raw = spec.default
        try:
            values[spec.attr] = spec.parse(raw)
        except ValueError as exc:
            reason = "invalid value" if spec.secret else str(exc)
            raise SettingsError(f"{spec.env}: {reason}") from None
    settings = Settings(**values)
    check_consistency(settings)
    return settings


def documented_names() -> set[str]:
    """The names a README must document (used by the documentation test)."""
    return {spec.env for spec in SETTINGS}


assert {s.attr for s in SETTINGS} <= {f.name for f in fields(Settings)}
