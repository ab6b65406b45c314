"""The fleet the tests seed into moto (shared with the demo: demo/fleet.py)."""

from demo.fleet import EXPECTED, FLEET, PASSWORD, seed_rds

__all__ = ["EXPECTED", "FLEET", "PASSWORD", "seed_rds"]
