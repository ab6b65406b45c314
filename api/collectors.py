"""`GET /api/collectors`: the sources this app can read, which are configured, and their jobs.

An operator setting up a deployment asks "what will it read, and what is missing?": each
collector answers with what it reads and, when not configured, the one thing to set.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.params import query_args
from collectors.registry import statuses
from jobs.registry import jobs_for, scheduled_jobs
from services import current_services

blueprint = Blueprint("collectors", __name__)


@blueprint.get("/api/collectors")
def list_collectors():
    query_args()
    settings = current_services().settings
    running = {job.name: seconds for job, seconds in jobs_for(settings)}
    jobs = [{"name": job.name, "reads": list(job.reads),
             "every_seconds": running.get(job.name),
             "scheduled": job.name in running and settings.scheduler_enabled}
            for job in scheduled_jobs()]
    return jsonify({"collectors": statuses(settings), "jobs": jobs})
