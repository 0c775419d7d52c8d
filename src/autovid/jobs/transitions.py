"""The Job Status Manager: every status change of a job goes through this module.

Each change is one conditional UpdateItem that checks the transition table, sets the new
status and appends ``{status, at, reason}`` to ``statusHistory`` in the same write. A late
or duplicated update can therefore never move a job backwards or out of a terminal status.

A change may carry named guards, each adding its condition to that same write: ``ClaimFor`` (the
execution owns the job), ``OnlyFrom`` (fewer source statuses), ``NotClaimedSince`` (no run took
the job back after a moment), ``NewRedrive`` (a redrive newer than the recorded one) and
``NotRedrivenPast`` (the writing run is not older than the job's last redrive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autovid.aws.jobs import ConditionFailed, JobsTable
from autovid.core.clock import iso, parse_iso, utc_now
from autovid.core.errors import InvalidTransitionError, JobNotFoundError
from autovid.jobs.records import JobError, JobOutput, JobStatus

S = JobStatus

# new status <- the statuses it may be entered from
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.PROCESSING: frozenset({S.SUBMITTED, S.RETRYING}),
    S.RETRYING: frozenset({S.PROCESSING, S.FAILED}),  # failed -> retrying is a redrive
    S.COMPLETED: frozenset({S.PROCESSING}),
    # submitted -> failed: the job could not be queued, so no step will ever pick it up.
    S.FAILED: frozenset({S.SUBMITTED, S.PROCESSING, S.RETRYING}),
    # POST /jobs/{jobId}/cancel. Nothing leaves cancelled: a step still running writes nothing.
    S.CANCELLED: frozenset({S.SUBMITTED, S.PROCESSING, S.RETRYING}),
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


@dataclass
class _UpdateBuilder:
    """The parts of one UpdateItem, which each guard adds to."""

    new: JobStatus
    sources: frozenset[JobStatus]
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    assignments: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    history_extra: dict[str, Any] = field(default_factory=dict)


class Guard:
    """A named condition on a status change, checked in the same conditional write."""

    def apply(self, update: _UpdateBuilder) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class ClaimFor(Guard):
    """Record ``execution_arn`` as the job's owner; refused when another execution owns the job."""

    execution_arn: str

    def apply(self, update: _UpdateBuilder) -> None:
        update.names["#owner"] = "executionArn"
        update.values[":owner"] = self.execution_arn
        update.assignments.append("#owner = :owner")
        update.conditions.append("(attribute_not_exists(#owner) OR #owner = :owner)")


@dataclass(frozen=True)
class OnlyFrom(Guard):
    """Narrow the statuses the change may start from (never widen the transition table)."""

    statuses: frozenset[JobStatus]

    def apply(self, update: _UpdateBuilder) -> None:
        if not self.statuses <= update.sources:
            outside = sorted(s.value for s in self.statuses - update.sources)
            raise ValueError(f"{outside} -> {update.new.value} is not in the transition table")
        update.sources = self.statuses


@dataclass(frozen=True)
class NotClaimedSince(Guard):
    """Refused when a run set the job ``processing`` after ``at`` (an ISO time): news that arrives
    after a redrive already took the job back."""

    at: str

    def apply(self, update: _UpdateBuilder) -> None:
        update.values[":since"] = self.at
        update.values[":claimed"] = S.PROCESSING.value
        update.conditions.append("(#status <> :claimed OR #updatedAt <= :since)")


@dataclass(frozen=True)
class NewRedrive(Guard):
    """Record the execution's ``redrive_count`` (also on the history entry); refused unless it is
    higher than the one the job records."""

    redrive_count: int

    def apply(self, update: _UpdateBuilder) -> None:
        update.names["#redrives"] = "redriveCount"
        update.values[":redrives"] = self.redrive_count
        update.assignments.append("#redrives = :redrives")
        update.conditions.append("(attribute_not_exists(#redrives) OR #redrives < :redrives)")
        update.history_extra["redriveCount"] = self.redrive_count


@dataclass(frozen=True)
class NotRedrivenPast(Guard):
    """A write from the run with redrive count ``run`` is not stale: refused when the job records a
    later redrive."""

    run: int

    def apply(self, update: _UpdateBuilder) -> None:
        update.names["#redrives"] = "redriveCount"
        update.values[":run"] = self.run
        update.conditions.append("(attribute_not_exists(#redrives) OR #redrives <= :run)")


def run_guards(execution_arn: str, redrive_count: int | None) -> tuple[Guard, ...]:
    """The guards for a write made by a step of one run of an execution: the execution claims the
    job, and a run the job has moved past (redriven since) changes nothing. An unknown redrive count
    (an execution started before steps received it) leaves out the second."""
    if redrive_count is None:
        return (ClaimFor(execution_arn),)
    return (ClaimFor(execution_arn), NotRedrivenPast(redrive_count))


def transition_update(
    new: JobStatus,
    *,
    at: str,
    reason: str,
    fields: dict[str, Any] | None = None,
    guards: Sequence[Guard] = (),
) -> ConditionalUpdate:
    """The UpdateItem parameters for a change to ``new`` under ``guards``; the state machine's
    MarkProcessing is checked against this."""
    update = _UpdateBuilder(new=new, sources=ALLOWED_TRANSITIONS[new])
    update.names.update({"#status": "status", "#updatedAt": "updatedAt", "#statusHistory": "statusHistory"})
    update.values.update({":new": new.value, ":at": at, ":empty": []})
    update.assignments += [
        "#status = :new",
        "#updatedAt = :at",
        "#statusHistory = list_append(if_not_exists(#statusHistory, :empty), :entry)",
    ]
    update.names["#active"] = ACTIVE_STATUS_ATTRIBUTE
    removals = []
    if new in ACTIVE_STATUSES:
        update.assignments.append("#active = :new")  # in the sparse index ReconcileJobs reads
    else:
        removals.append("#active")
    for i, (name, value) in enumerate((fields or {}).items()):
        update.names[f"#f{i}"] = name
        update.values[f":f{i}"] = value
        update.assignments.append(f"#f{i} = :f{i}")
    for guard in guards:
        guard.apply(update)
    update.values[":entry"] = [{"status": new.value, "at": at, "reason": reason, **update.history_extra}]
    sources = sorted(update.sources)
    for i, source in enumerate(sources):
        update.values[f":from{i}"] = source.value
    allowed = ", ".join(f":from{i}" for i in range(len(sources)))
    condition = " AND ".join([f"attribute_exists(jobId) AND #status IN ({allowed})", *update.conditions])
    return ConditionalUpdate(
        update_expression="SET " + ", ".join(update.assignments) + "".join(f" REMOVE {r}" for r in removals),
        condition_expression=condition,
        names=update.names,
        values=update.values,
    )


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
        guards: Sequence[Guard] = (),
    ) -> dict[str, Any]:
        """Apply one allowed change under ``guards``; raises InvalidTransitionError (record
        unchanged) otherwise."""
        if not ALLOWED_TRANSITIONS[new]:
            raise InvalidTransitionError(job_id, self.get(job_id).get("status"), new.value)
        update = transition_update(new, at=iso(now or utc_now()), reason=reason, fields=fields, guards=guards)
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
        guards: Sequence[Guard] = (),
    ) -> dict[str, Any]:
        return self.transition(job_id, S.PROCESSING, reason=reason, fields=fields, guards=guards)

    def record_progress(
        self, job_id: str, execution_arn: str, *, state: str, percent: int | None, redrive_count: int | None = None
    ) -> bool:
        """Show which step runs and how far the render is; not a status change. Written only
        while the job is processing for this execution (and, given its ``redrive_count``, not for
        a run of it the job has moved past); returns whether it was written."""
        condition = "#status = :processing AND #owner = :owner"
        names = {"#progress": "progress", "#status": "status", "#owner": "executionArn"}
        values: dict[str, Any] = {
            ":progress": {"state": state, "percent": percent, "at": iso(utc_now())},
            ":processing": S.PROCESSING.value,
            ":owner": execution_arn,
        }
        if redrive_count is not None:
            not_stale = _UpdateBuilder(new=S.PROCESSING, sources=frozenset(), names=names, values=values)
            NotRedrivenPast(redrive_count).apply(not_stale)
            condition = " AND ".join([condition, *not_stale.conditions])
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
        guards: Sequence[Guard] = (),
    ) -> dict[str, Any]:
        """A transient failure that will be tried again: only from ``processing``. Once the job is
        ``failed`` (its execution stopped), only a redrive brings it back."""
        guards = (OnlyFrom(frozenset({S.PROCESSING})), *guards)
        return self.transition(job_id, S.RETRYING, reason=reason, fields=fields, guards=guards)

    def mark_redriven(self, job_id: str, *, execution_arn: str, redrive_count: int) -> dict[str, Any]:
        """``failed -> retrying``: the job's own execution was redriven, for the ``redrive_count``-th
        time. Refused unless that is more redrives than the job records."""
        guards = (ClaimFor(execution_arn), OnlyFrom(frozenset({S.FAILED})), NewRedrive(redrive_count))
        return self.transition(job_id, S.RETRYING, reason="redrive", guards=guards)

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

    def mark_cancelled(self, job_id: str, *, now: datetime | None = None) -> dict[str, Any]:
        """``submitted | processing | retrying -> cancelled``; raises InvalidTransitionError from any
        other status (the record unchanged)."""
        return self.transition(job_id, S.CANCELLED, reason="cancelled", now=now, fields={"progress": None})

    def mark_failed(
        self,
        job_id: str,
        error: JobError,
        *,
        now: datetime | None = None,
        guards: Sequence[Guard] = (),
    ) -> dict[str, Any]:
        return self.transition(
            job_id,
            S.FAILED,
            reason=f"{error.type}: {error.message}"[:500],
            now=now,
            fields={"error": error.model_dump(), "progress": None},
            guards=guards,
        )
