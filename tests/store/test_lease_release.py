"""Leases handed over at once: release by the owner, never by anyone else; who holds one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store import Store


def test_the_owner_releases_and_another_takes_it_at_once(store: Store) -> None:
    assert store.flags.acquire_lease("scheduler", "p1", 60)
    assert store.flags.lease_holder("scheduler") == "p1"
    assert not store.flags.acquire_lease("scheduler", "p2", 60)

    assert store.flags.release_lease("scheduler", "p1") is True
    assert store.flags.lease_holder("scheduler") is None
    assert store.flags.acquire_lease("scheduler", "p2", 60)
    assert store.flags.lease_holder("scheduler") == "p2"


def test_only_the_owner_can_release(store: Store) -> None:
    assert store.flags.acquire_lease("scheduler", "p1", 60)
    assert store.flags.release_lease("scheduler", "p2") is False
    assert store.flags.lease_holder("scheduler") == "p1"
    assert store.flags.release_lease("other", "p1") is False  # never taken


def test_an_expired_lease_has_no_holder(store: Store) -> None:
    now = datetime.now(UTC)
    assert store.flags.acquire_lease("scheduler", "p1", 10, now=now)
    assert store.flags.lease_holder("scheduler", now=now + timedelta(seconds=9)) == "p1"
    assert store.flags.lease_holder("scheduler", now=now + timedelta(seconds=11)) is None
    # a late release by the dead owner must not free a lease someone else took since
    assert store.flags.acquire_lease("scheduler", "p2", 10, now=now + timedelta(seconds=11))
    assert store.flags.release_lease("scheduler", "p1") is False
    assert store.flags.lease_holder("scheduler", now=now + timedelta(seconds=12)) == "p2"
