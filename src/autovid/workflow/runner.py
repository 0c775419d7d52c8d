"""The workflow's four steps and the status bookkeeping around them.

The state machine lets a failing step fail the execution (no Catch to a Fail state), so a
redrive re-runs exactly the step that failed. Status changes around a step are made here:

* at the start, the job is brought back to ``processing``: from ``retrying`` (a retry), from
  ``failed`` (a redrive: ``failed -> retrying -> processing``), or through ``retrying`` when the
  previous attempt died without a word (crash, timeout). A ``failed`` job is taken back only by
  a redrive, known by the execution's ``RedriveCount`` being higher than the job's
  ``redriveCount``; a step of a run the job has moved past (stopped and not redriven, or
  redriven again since) changes nothing, and neither do its failures;
* a ``TransientError`` marks ``retrying`` with the attempt and the last error;
* a ``PermanentError`` or a bug marks ``failed`` with ``{type, message, state}``.

Errors leave the step as ``TransientError`` or ``PermanentError`` (the names the state
machine's Retry matches); the specific class stays in the message and on the job record.
When Step Functions stops retrying, or a failure never reaches this code (a timeout, a
crash), the execution fails and the status-sync function marks the job failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from autovid.aws.jobs import JobsTable
from autovid.config import Settings
from autovid.errors import AutoVidError, InvalidTransitionError, PermanentError, TransientError
from autovid.records import JobError, JobStatus
from autovid.spec import JobSpec, parse_spec
from autovid.status import JobStatusManager

log = logging.getLogger(__name__)

VALIDATE, RENDER, UPLOAD, FINALIZE = "ValidateJob", "RenderVideo", "UploadOutput", "FinalizeJob"

T = TypeVar("T", bound=BaseModel | dict)


class ExecutionContext(BaseModel):
    """The parts of the context object's ``$$.Execution`` a step uses."""

    model_config = ConfigDict(extra="ignore")

    redrive_count: int = Field(default=0, alias="RedriveCount")


class StepInput(BaseModel):
    """What every step receives from the state machine."""

    model_config = ConfigDict(extra="allow")

    job_id: str = Field(alias="jobId")
    execution_arn: str = Field(alias="executionArn")
    retry_count: int = Field(default=0, alias="retryCount")
    # $$.Execution; None in the input of an execution started by a definition older than that.
    execution: ExecutionContext | None = None

    @property
    def redrive_count(self) -> int | None:
        """How many times this step's execution has been redriven; None when unknown."""
        return self.execution.redrive_count if self.execution else None


class JobOwnedElsewhereError(PermanentError):
    """Another execution owns this job (a duplicate delivery); this one must not touch it."""


class JobAlreadyFinishedError(PermanentError):
    """The job is already completed; the step has nothing to do."""


class StaleRunError(PermanentError):
    """A step of a run the job has moved past: its execution stopped (the job failed) and was not
    redriven since, or was redriven again after this run. It must not touch the job."""


def error_of(exc: BaseException, state: str) -> JobError:
    """What the user sees on the job: the specific error type, and the asset and field it concerns."""
    if isinstance(exc, AutoVidError):
        message = exc.message
        if exc.asset_id and f"'{exc.asset_id}'" not in message:
            where = f" ({exc.field})" if exc.field else ""
            message = f"asset '{exc.asset_id}'{where}: {message}"
        return JobError(type=type(exc).__name__, message=message, state=state)
    return JobError(type="InternalError", message=f"{state} failed unexpectedly ({type(exc).__name__})", state=state)


class StepRunner:
    """Runs one step for one job, with the bookkeeping described in the module docstring."""

    def __init__(self, state: str, step_input: StepInput, settings: Settings | None = None):
        self.state = state
        self.input = step_input
        self.settings = settings or Settings.from_env()
        self.jobs = JobStatusManager(JobsTable(self.settings.jobs_table))

    def run(self, work: Callable[[dict[str, Any]], T]) -> T:
        try:
            return work(self._claim())
        except TransientError as exc:
            # Whether Step Functions retries again is its decision (its RetryCount also counts Lambda
            # service retries); when it gives up, the execution fails and SyncJobStatus marks the job failed.
            self._record_failure(exc, final=False)
            raise TransientError(f"{type(exc).__name__}: {error_of(exc, self.state).message}") from exc
        except PermanentError as exc:
            if not isinstance(exc, JobOwnedElsewhereError | JobAlreadyFinishedError | StaleRunError):
                self._record_failure(exc, final=True)
            raise PermanentError(f"{type(exc).__name__}: {error_of(exc, self.state).message}") from exc
        except Exception as exc:
            self._record_failure(exc, final=True)
            raise

    def _claim(self) -> dict[str, Any]:
        job_id = self.input.job_id
        record = self.jobs.get(job_id)
        owner = record.get("executionArn")
        if owner and owner != self.input.execution_arn:
            raise JobOwnedElsewhereError(f"job {job_id} is handled by {owner}")
        status = JobStatus(record["status"])
        if status is JobStatus.COMPLETED:
            if self.state == FINALIZE:
                return record
            raise JobAlreadyFinishedError(f"job {job_id} is already completed")
        arn = self.input.execution_arn
        run, recorded_redrives = self.input.redrive_count, int(record.get("redriveCount") or 0)
        if run is not None and run < recorded_redrives:
            raise StaleRunError(f"job {job_id} is on redrive {recorded_redrives} of {arn}; this step is of run {run}")
        if status is JobStatus.FAILED:
            if run is not None and run == recorded_redrives:
                raise StaleRunError(f"job {job_id} failed and {arn} was not redriven since (redrive count {run})")
            # Without $$.Execution (an execution started before steps received it), count it here.
            redrive = run if run is not None else recorded_redrives + 1
            try:
                self.jobs.mark_redriven(job_id, execution_arn=arn, redrive_count=redrive)
            except InvalidTransitionError:
                # The status-sync function recorded this redrive's start since the read: go on.
                record = self.jobs.get(job_id)
                recorded = int(record.get("redriveCount") or 0)
                if recorded > redrive:
                    raise StaleRunError(
                        f"job {job_id} was redriven again ({recorded}) as run {redrive} began"
                    ) from None
                if record["status"] != JobStatus.RETRYING or recorded != redrive:
                    raise
            status = JobStatus.RETRYING
        elif status is JobStatus.PROCESSING and self.input.retry_count > 0:
            # The previous attempt ended without recording anything (a crash or a timeout).
            self.jobs.mark_retrying(
                job_id,
                reason=f"{self.state} attempt {self.input.retry_count} ended without a result",
                fields={"attempts": self.input.retry_count},
                claim_for=arn,
                from_redrive=run,
            )
            status = JobStatus.RETRYING
        if status is JobStatus.RETRYING:
            # lastError belongs to the attempt that failed; a new attempt starts without one.
            fields: dict[str, Any] = {"lastError": None}
            if run is not None and run > recorded_redrives:
                # A redrive that found the job still retrying (the failure event had not arrived):
                # recording the count makes that late event recognisably older than this run.
                fields["redriveCount"] = run
            record = self.jobs.mark_processing(
                job_id,
                reason=f"{self.state} attempt {self.input.retry_count + 1}",
                fields=fields,
                claim_for=arn,
                from_redrive=run,
            )
        self.jobs.record_progress(job_id, arn, state=self.state, percent=None, from_redrive=run)
        return record

    def _record_failure(self, exc: BaseException, *, final: bool) -> None:
        error = error_of(exc, self.state)
        log.warning("step failed", extra={"jobId": self.input.job_id, "state": self.state, "error": error.model_dump()})
        try:
            # A run the job has moved past (redriven since) records nothing: from_redrive.
            if final:
                self.jobs.mark_failed(
                    self.input.job_id,
                    error,
                    claim_for=self.input.execution_arn,
                    from_redrive=self.input.redrive_count,
                )
            else:
                self.jobs.mark_retrying(
                    self.input.job_id,
                    reason=f"{error.type}: {error.message}"[:500],
                    fields={"attempts": self.input.retry_count + 1, "lastError": error.model_dump()},
                    claim_for=self.input.execution_arn,
                    from_redrive=self.input.redrive_count,
                )
        except AutoVidError:
            # The status-sync function records the failure when the execution fails.
            log.exception("could not record the step failure", extra={"jobId": self.input.job_id})


def stored_spec(record: dict[str, Any]) -> JobSpec:
    """The spec from the record (never from the execution input), validated again."""
    return parse_spec(record["spec"])


def work_prefix(job_id: str) -> str:
    """Where a job's intermediate files live in the managed bucket."""
    return f"work/{job_id}/"
