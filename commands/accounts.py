"""`python app.py user add NAME --role R` and `python app.py token add NAME --role R`.

They write the files named by AUTH_USERS_FILE and AUTH_TOKENS_FILE (or `--file`). A password
is asked without echo (or read from standard input with `--password-stdin`, for scripts); a
new token is printed once, as the last line on stdout, and only its hash is kept.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from settings import ROLES, SettingsError, load_settings

# auth.credentials (werkzeug) is imported by the run functions only: the parser is built for
# every sub-command, and `python app.py digest` should not pay for the web stack.


def add_user_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user, or set an existing user's password/role")
    add.add_argument("name", help="the user name typed at /login")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of asking")
    add.add_argument("--file", type=Path, help="users file (default: AUTH_USERS_FILE)")


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an API token (printed once) under a name")
    add.add_argument("name", help="what the token is for, e.g. grafana or ci")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--file", type=Path, help="tokens file (default: AUTH_TOKENS_FILE)")


def _target(explicit: Path | None, setting: str) -> Path:
    if explicit is not None:
        return explicit
    settings = load_settings()
    path = getattr(settings, setting.lower())
    if path is None:
        raise SettingsError(f"{setting}: not set (or pass --file PATH)")
    return path


def _read_password(from_stdin: bool) -> str:
    from auth.credentials import CredentialsError

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise CredentialsError("the two passwords differ")
    return first


def run_user(args: argparse.Namespace) -> int:
    from auth.credentials import CredentialsError, add_user

    try:
        path = _target(args.file, "AUTH_USERS_FILE")
        created = add_user(path, args.name, _read_password(args.password_stdin), args.role)
    except (SettingsError, CredentialsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verb = "added" if created else "updated"
    print(f"{verb} user {args.name} ({args.role}) in {path}", file=sys.stderr)
    return 0


def run_token(args: argparse.Namespace) -> int:
    from auth.credentials import CredentialsError, add_token

    try:
        path = _target(args.file, "AUTH_TOKENS_FILE")
        token = add_token(path, args.name, args.role)
    except (SettingsError, CredentialsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"token {args.name} ({args.role}) stored as a hash in {path}; it is shown only "
          "this once:", file=sys.stderr)
    print(token)
    return 0
