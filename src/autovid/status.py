"""The Job Status Manager: every status change of a job goes through this module.

Each change is one conditional UpdateItem that checks the transition table, sets the new
status and appends ``{status, at, reason}`` to ``statusHistory`` in the same write. A late
or duplicated update can therefore never move a job backwards or out of a terminal status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autovid.aws.jobs import ConditionFailed, JobsTable
from autovid.errors import InvalidTransitionError, JobNotFoundError
from autovid.records import JobError, JobOutput, JobStatus, iso, parse_iso, utc_now

S = JobStatus

# new status <- the statuses it may be entered from
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.PROCESSING: frozenset({S.SUBMITTED, S.RETRYING}),
    S.RETRYING: frozenset({S.PROCESSING, S.FAILED}),  # failed -> retrying is a redrive
    S.COMPLETED: frozenset({S.PROCESSING}),
    # submitted -> failed: the job could not be queued, so no step will ever pick it up.
    S.FAILED: frozenset({S.SUBMITTED, S.PROCESSING, S.RETRYING}),
    S.SUBMITTED: frozenset(),
}


#: While a job is in one of these, ``activeStatus`` repeats its status, which puts it in the
#: table's sparse ``ActiveJobsIndex`` (keyed on activeStatus and updatedAt) for ReconcileJobs.
ACTIVE_STATUSES = frozenset({S.PROCESSING, S.RETRYING})
ACTIVE_STATUS_ATTRIBUTE = "activeStatus"


def is_allowed(current: JobStatus, new: JobStatus) -> bool:
    return current in ALLOWED_TRANSITIONS[new]


@dataclass(frozen=True)
class ConditionalUpdate:
    update_expression: str
    condition_expression: str
    names: dict[str, str]
    values: dict[str, Any]


def transition_update(
    new: JobStatus,
    *,
    at: str,
    reason: str,
    fields: dict[str, Any] | None = None,
    claim_for: str | None = None,
    not_claimed_since: str | None = None,
    only_from: frozenset[JobStatus] | None = None,
    redrive_count: int | None = None,
    from_redrive: int | None = None,
) -> ConditionalUpdate:
    """The UpdateItem parameters for a change to ``new``; the state machine's MarkProcessing is
    checked against this. ``claim_for`` records an execution ARN as the job's owner and refuses
    the change when another execution already owns the job. ``not_claimed_since`` (an ISO time)
    refuses it when a run set the job ``processing`` after that moment: news that arrives after a
    redrive already took the job back. ``redrive_count`` records the execution's redrive count and
    refuses the change unless it is higher than the one the job records. ``from_redrive`` is the
    redrive count of the run making the change: refused when the job records a later redrive.
    ``only_from`` narrows the statuses the change may start from (never widens them)."""
    allowed_sources = ALLOWED_TRANSITIONS[new]
    if only_from is not None and not only_from <= allowed_sources:
        raise ValueError(f"{sorted(only_from - allowed_sources)} -> {new.value} is not in the transition table")
    sources = sorted(only_from if only_from is not None else allowed_sources)
    names = {"#status": "status", "#updatedAt": "updatedAt", "#statusHistory": "statusHistory"}
    values: dict[str, Any] = {
        ":new": new.value,
        ":at": at,
        ":entry": [_history_entry(new, at, reason, redrive_count)],
        ":empty": [],
    }
    assignments = [
        "#status = :new",
        "#updatedAt = :at",
        "#statusHistory = list_append(if_not_exists(#statusHistory, :empty), :entry)",
    ]
    names["#active"] = ACTIVE_STATUS_ATTRIBUTE
    removals = []
    if new in ACTIVE_STATUSES:
        assignments.append("#active = :new")  # in the sparse index ReconcileJobs reads
    else:
        removals.append("#active")
    for i, (field, value) in enumerate((fields or {}).items()):
        names[f"#f{i}"] = field
        values[f":f{i}"] = value
        assignments.append(f"#f{i} = :f{i}")
    for i, source in enumerate(sources):
        values[f":from{i}"] = source.value
    allowed = ", ".join(f":from{i}" for i in range(len(sources)))
    condition = f"attribute_exists(jobId) AND #status IN ({allowed})"
    if claim_for is not None:
        names["#owner"] = "executionArn"
        values[":owner"] = claim_for
        assignments.append("#owner = :owner")
        condition += " AND (attribute_not_exists(#owner) OR #owner = :owner)"
    if redrive_count is not None:
        names["#redrives"] = "redriveCount"
        values[":redrives"] = redrive_count
        assignments.append("#redrives = :redrives")
        condition += " AND (attribute_not_exists(#redrives) OR #redrives < :redrives)"
    if from_redrive is not None:
        condition += _not_redriven_past(from_redrive, names, values)
    if not_claimed_since is not None:
        values[":since"] = not_claimed_since
        values[":claimed"] = S.PROCESSING.value
        condition += " AND (#status <> :claimed OR #updatedAt <= :since)"
    return ConditionalUpdate(
        update_expression="SET " + ", ".join(assignments) + ("".join(f" REMOVE {r}" for r in removals)),
        condition_expression=condition,
        names=names,
        values=values,
    )


def _history_entry(new: JobStatus, at: str, reason: str, redrive_count: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": new.value, "at": at, "reason": reason}
    if redrive_count is not None:
        entry["redriveCount"] = redrive_count
    return entry


def _not_redriven_past(run: int, names: dict[str, str], values: dict[str, Any]) -> str:
    """The condition that a write from a run with redrive count ``run`` is not stale: the job
    records no later redrive. Adds its names and values."""
    names["#redrives"], values[":run"] = "redriveCount", run
    return " AND (attribute_not_exists(#redrives) OR #redrives <= :run)"


class JobStatusManager:
    def __init__(self, table: JobsTable):
        self.table = table

    def get(self, job_id: str) -> dict[str, Any]:
        record = self.table.get(job_id)
        if record is None:
            raise JobNotFoundError(f"job {job_id} not found")
        return record

    def transition(
        self,
        job_id: str,
        new: JobStatus,
        *,
        reason: str,
        fields: dict[str, Any] | None = None,
        now: datetime | None = None,
        claim_for: str | None = None,
        not_claimed_since: str | None = None,
        only_from: frozenset[JobStatus] | None = None,
        redrive_count: int | None = None,
        from_redrive: int | None = None,
    ) -> dict[str, Any]:
        """Apply one allowed change; raises InvalidTransitionError (record unchanged) otherwise."""
        if not ALLOWED_TRANSITIONS[new]:
            raise InvalidTransitionError(job_id, self.get(job_id).get("status"), new.value)
        update = transition_update(
            new,
            at=iso(now or utc_now()),
            reason=reason,
            fields=fields,
            claim_for=claim_for,
            not_claimed_since=not_claimed_since,
            only_from=only_from,
            redrive_count=redrive_count,
            from_redrive=from_redrive,
        )
        try:
            return self.table.update(
                job_id,
                update_expression=update.update_expression,
                condition_expression=update.condition_expression,
                names=update.names,
                values=update.values,
            )
        except ConditionFailed as refused:
            if refused.current is None:
                raise JobNotFoundError(f"job {job_id} not found") from None
            raise InvalidTransitionError(job_id, refused.current.get("status"), new.value) from None

    def mark_processing(
        self,
        job_id: str,
        *,
        reason: str = "processing started",
        fields: dict[str, Any] | None = None,
        claim_for: str | None = None,
        from_redrive: int | None = None,
    ) -> dict[str, Any]:
        return self.transition(
            job_id, S.PROCESSING, reason=reason, fields=fields, claim_for=claim_for, from_redrive=from_redrive
        )

    def record_progress(
        self, job_id: str, execution_arn: str, *, state: str, percent: int | None, from_redrive: int | None = None
    ) -> bool:
        """Show which step runs and how far the render is; not a status change. Written only
        while the job is processing for this execution (and, given ``from_redrive``, not for a run
        of it the job has moved past); returns whether it was written."""
        condition = "#status = :processing AND #owner = :owner"
        names = {"#progress": "progress", "#status": "status", "#owner": "executionArn"}
        values: dict[str, Any] = {
            ":progress": {"state": state, "percent": percent, "at": iso(utc_now())},
            ":processing": S.PROCESSING.value,
            ":owner": execution_arn,
        }
        if from_redrive is not None:
            condition += _not_redriven_past(from_redrive, names, values)
        try:
            self.table.update(
                job_id,
                update_expression="SET #progress = :progress",
                condition_expression=condition,
                names=names,
                values=values,
            )
        except ConditionFailed:
            return False
        return True

    def record_notification_attempt(self, job_id: str, attempt: dict[str, Any]) -> None:
        """Append one webhook delivery attempt to ``notifications.attempts``; not a status change
        (the job's status, whatever it is, stays)."""
        names = {"#notifications": "notifications", "#attempts": "attempts"}
        try:
            self.table.update(
                job_id,
                update_expression="SET #notifications.#attempts = list_append(#notifications.#attempts, :attempt)",
                condition_expression="attribute_exists(#notifications.#attempts)",
                names=names,
                values={":attempt": [attempt]},
            )
            return
        except ConditionFailed as refused:
            if refused.current is None:
                raise JobNotFoundError(f"job {job_id} not found") from None
        try:  # a record from before attempts were kept
            self.table.update(
                job_id,
                update_expression="SET #notifications = :notifications",
                condition_expression="attribute_exists(jobId) AND attribute_not_exists(#notifications)",
                names={"#notifications": "notifications"},
                values={":notifications": {"attempts": [attempt]}},
            )
        except ConditionFailed:  # created meanwhile by a concurrent attempt: append after all
            self.record_notification_attempt(job_id, attempt)

    def mark_retrying(
        self,
        job_id: str,
        *,
        reason: str,
        fields: dict[str, Any] | None = None,
        claim_for: str | None = None,
        from_redrive: int | None = None,
    ) -> dict[str, Any]:
        """A transient failure that will be tried again: only from ``processing``. Once the job is
        ``failed`` (its execution stopped), only a redrive brings it back."""
        return self.transition(
            job_id,
            S.RETRYING,
            reason=reason,
            fields=fields,
            claim_for=claim_for,
            only_from=frozenset({S.PROCESSING}),
            from_redrive=from_redrive,
        )

    def mark_redriven(self, job_id: str, *, execution_arn: str, redrive_count: int) -> dict[str, Any]:
        """``failed -> retrying``: the job's own execution was redriven, for the ``redrive_count``-th
        time. Refused unless that is more redrives than the job records."""
        return self.transition(
            job_id,
            S.RETRYING,
            reason="redrive",
            claim_for=execution_arn,
            only_from=frozenset({S.FAILED}),
            redrive_count=redrive_count,
        )

    def mark_completed(self, job_id: str, output: JobOutput, *, now: datetime | None = None) -> dict[str, Any]:
        now = now or utc_now()
        record = self.get(job_id)
        started = parse_iso(record["submittedAt"])
        return self.transition(
            job_id,
            S.COMPLETED,
            reason="completed",
            now=now,
            fields={
                "output": output.model_dump(),
                "completedAt": iso(now),
                "processingTime": round((now - started).total_seconds(), 2),
                "error": None,
                "progress": None,  # progress describes a running job
            },
        )

    def mark_failed(
        self,
        job_id: str,
        error: JobError,
        *,
        now: datetime | None = None,
        not_claimed_since: str | None = None,
        claim_for: str | None = None,
        from_redrive: int | None = None,
    ) -> dict[str, Any]:
        return self.transition(
            job_id,
            S.FAILED,
            reason=f"{error.type}: {error.message}"[:500],
            now=now,
            fields={"error": error.model_dump(), "progress": None},
            not_claimed_since=not_claimed_since,
            claim_for=claim_for,
            from_redrive=from_redrive,
        )
