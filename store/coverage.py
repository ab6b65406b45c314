"""Cached slow-log coverage: RDS's answer per instance (an hour is fresh enough: log settings
change rarely, and pages must not call AWS for every instance on every load) and the last
report, which the Instances page and the Overview read without calling AWS at all."""

from __future__ import annotations

from typing import Any

from store.backend import Backend, FindQuery

AWS = "coverage_aws"
REPORTS = "coverage_reports"
INDEXES = ()


class CoverageRepository:
    """Per instance: what RDS answered (with when), and the last coverage report."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def aws_answer(self, instance_id: str) -> dict[str, Any] | None:
        doc = self._backend.get(AWS, instance_id)
        if doc is not None:
            doc.pop("_id", None)
        return doc

    def save_aws_answer(self, instance_id: str, answer: dict[str, Any]) -> None:
        self._backend.put(AWS, instance_id, answer)

    def save_report(self, instance_id: str, report: dict[str, Any]) -> None:
        self._backend.put(REPORTS, instance_id, report)

    def reports(self) -> dict[str, dict[str, Any]]:
        """Every instance's last report, by instance id."""
        docs = self._backend.find(REPORTS, FindQuery())
        return {doc.pop("_id"): doc for doc in docs}
