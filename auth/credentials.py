"""The users file and the tokens file: reading, checking and adding entries.

Both are JSON lists kept by `python app.py user add` / `token add`. Only hashes are stored:
passwords with werkzeug's scrypt (salted, memory-hard), tokens with SHA-256 (a token is 32
random bytes, so a fast hash is enough and lets a request be checked in microseconds).
Files are re-read when they change on disk, so a user added or removed takes effect in
every running worker without a restart.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from settings import ROLES

TOKEN_PREFIX = "sqd_"
MIN_PASSWORD_CHARS = 10

@functools.cache
def _dummy_hash() -> str:
    """Checked when the user name is unknown, so an unknown name takes as long as a wrong
    password. Made on first use: scrypt costs ~0.1 s and 32 MB, which no start-up should pay."""
    return generate_password_hash("not-a-real-password", method="scrypt")


class CredentialsError(ValueError):
    """A credentials file or a new entry is unusable; the message names the file or field."""


@dataclass(frozen=True)
class Account:
    """One entry of a users or tokens file (never carries the secret itself)."""

    name: str
    role: str
    secret_hash: str


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _read_entries(path: Path, name_key: str, hash_key: str) -> list[Account]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CredentialsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CredentialsError(f"{path}: not a readable JSON file ({type(exc).__name__})") \
            from None
    if not isinstance(raw, list):
        raise CredentialsError(f"{path}: expected a JSON list of entries")
    accounts = []
    for number, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise CredentialsError(f"{path}: entry {number} is not an object")
        name, role, secret_hash = entry.get(name_key), entry.get("role"), entry.get(hash_key)
        if not isinstance(name, str) or not name:
            raise CredentialsError(f"{path}: entry {number} has no {name_key}")
        if role not in ROLES:
            raise CredentialsError(f"{path}: entry {number} ({name}): role must be "
                                   f"{' or '.join(ROLES)}")
        if not isinstance(secret_hash, str) or not secret_hash:
            raise CredentialsError(f"{path}: entry {number} ({name}) has no {hash_key}")
        accounts.append(Account(name, role, secret_hash))
    return accounts


class CredentialFile:
    """A users or tokens file, re-read when its modification time or size changes."""

    def __init__(self, path: Path, name_key: str, hash_key: str) -> None:
        self.path = path
        self._name_key = name_key
        self._hash_key = hash_key
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._accounts: list[Account] = []

    def accounts(self) -> list[Account]:
        try:
            stat = self.path.stat()
        except OSError:
            raise CredentialsError(f"{self.path}: no such file") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._accounts = _read_entries(self.path, self._name_key, self._hash_key)
                self._stamp = stamp
            return self._accounts


class UsersFile(CredentialFile):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "username", "password_hash")

    def find(self, username: str) -> Account | None:
        return next((a for a in self.accounts() if a.name == username), None)

    def verify(self, username: str, password: str) -> Account | None:
        """The account if the password is right; None otherwise (same time either way)."""
        account = self.find(username)
        if account is None:
            check_password_hash(_dummy_hash(), password)
            return None
        return account if check_password_hash(account.secret_hash, password) else None


class TokensFile(CredentialFile):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "name", "token_hash")

    def verify(self, token: str) -> Account | None:
        wanted = hash_token(token)
        match = None
        for account in self.accounts():
            if hmac.compare_digest(account.secret_hash, wanted):
                match = account
        return match


def _write_json_list(path: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the file atomically, readable by its owner only (it holds hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(entries, out, indent=2)
            out.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _existing(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    raw = json.loads(path.read_text(encoding="utf-8") or "[]")
    if not isinstance(raw, list):
        raise CredentialsError(f"{path}: expected a JSON list of entries")
    return raw


def _check_new(name: str, role: str) -> None:
    if role not in ROLES:
        raise CredentialsError(f"role must be {' or '.join(ROLES)}")
    if not name or len(name) > 100 or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise CredentialsError("the name must be 1 to 100 printable characters, no spaces")


def add_user(path: Path, username: str, password: str, role: str) -> bool:
    """Add or replace a user; True when the user is new."""
    _check_new(username, role)
    if len(password) < MIN_PASSWORD_CHARS:
        raise CredentialsError(f"the password must have at least {MIN_PASSWORD_CHARS} "
                               "characters")
    entries = [e for e in _existing(path) if e.get("username") != username]
    replaced = len(entries) != len(_existing(path))
    entries.append({"username": username, "role": role,
                    "password_hash": generate_password_hash(password, method="scrypt")})
    _write_json_list(path, entries)
    return not replaced


def add_token(path: Path, name: str, role: str) -> str:
    """Store a new token's hash under `name` (replacing one of that name); return the token."""
    _check_new(name, role)
    token = new_token()
    entries = [e for e in _existing(path) if e.get("name") != name]
    entries.append({"name": name, "role": role, "token_hash": hash_token(token)})
    _write_json_list(path, entries)
    return token
