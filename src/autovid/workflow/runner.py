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
from autovid.core.config import Config, Limits
from autovid.core.errors import AutoVidError, InvalidTransitionError, PermanentError, TransientError
from autovid.jobs.records import JobError, JobStatus
from autovid.jobs.transitions import JobStatusManager, run_guards
from autovid.spec import JobSpec, parse_spec

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


class JobCancelledError(PermanentError):
    """The job was cancelled: a step leaves it alone, as it would a finished job, and removes
    what it wrote for it."""


class StaleRunError(PermanentError):
    """A step of a run the job has moved past: its execution stopped (the job failed) and was not
    redriven since, or was redriven again after this run. It must not touch the job."""


#: Errors saying the step must not touch the job: nothing is recorded for them.
LEAVE_THE_JOB_ALONE = (JobOwnedElsewhereError, JobAlreadyFinishedError, StaleRunError, JobCancelledError)


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

    def __init__(self, state: str, step_input: StepInput, config: Config):
        self.state = state
        self.input = step_input
        self.config = config
        self.settings = config.settings
        self.jobs = JobStatusManager(JobsTable(self.settings.jobs_table))
        # Every write of this run: it claims the job, and a run the job has moved past changes nothing.
        self.guards = run_guards(step_input.execution_arn, step_input.redrive_count)

    def run(self, work: Callable[[dict[str, Any]], T]) -> T:
        try:
            return work(self._claim())
        except TransientError as exc:
            # Whether Step Functions retries again is its decision (its RetryCount also counts Lambda
            # service retries); when it gives up, the execution fails and SyncJobStatus marks the job failed.
            self._record_failure(exc, final=False)
            raise TransientError(f"{type(exc).__name__}: {error_of(exc, self.state).message}") from exc
        except PermanentError as exc:
            if not isinstance(exc, LEAVE_THE_JOB_ALONE):
                self._record_failure(exc, final=True)
            raise PermanentError(f"{type(exc).__name__}: {error_of(exc, self.state).message}") from exc
        except Exception as exc:
            self._record_failure(exc, final=True)
            raise

    def _claim(self) -> dict[str, Any]:
        """The job's record, brought to ``processing`` for this run (see the module docstring)."""
        record = self.jobs.get(self.input.job_id)
        status = self._check_may_run(record)
        if status is JobStatus.COMPLETED:
            return record  # FinalizeJob again, after the job was completed
        recorded_redrives = int(record.get("redriveCount") or 0)
        if status is JobStatus.FAILED:
            status = self._take_back_after_redrive(recorded_redrives)
        elif status is JobStatus.PROCESSING and self.input.retry_count > 0:
            status = self._note_silent_failure()
        if status is JobStatus.RETRYING:
            record = self._resume(recorded_redrives)
        self.jobs.record_progress(
            self.input.job_id,
            self.input.execution_arn,
            state=self.state,
            percent=None,
            redrive_count=self.input.redrive_count,
        )
        return record

    def _check_may_run(self, record: dict[str, Any]) -> JobStatus:
        """The job's status, or the error saying why this step must leave the job alone."""
        job_id, arn = self.input.job_id, self.input.execution_arn
        owner = record.get("executionArn")
        if owner and owner != arn:
            raise JobOwnedElsewhereError(f"job {job_id} is handled by {owner}")
        status = JobStatus(record["status"])
        if status is JobStatus.CANCELLED:
            raise JobCancelledError(f"job {job_id} was cancelled")
        if status is JobStatus.COMPLETED:
            if self.state != FINALIZE:
                raise JobAlreadyFinishedError(f"job {job_id} is already completed")
            return status
        run, recorded = self.input.redrive_count, int(record.get("redriveCount") or 0)
        if run is not None and run < recorded:
            raise StaleRunError(f"job {job_id} is on redrive {recorded} of {arn}; this step is of run {run}")
        if status is JobStatus.FAILED and run is not None and run == recorded:
            raise StaleRunError(f"job {job_id} failed and {arn} was not redriven since (redrive count {run})")
        return status

    def check_not_cancelled(self, remove_written: Callable[[], None]) -> None:
        """After the step wrote a file for the job: if the job was cancelled meanwhile (the cancel
        may have cleaned up before the file appeared), ``remove_written`` and raise JobCancelledError."""
        record = self.jobs.table.get(self.input.job_id)
        if record is not None and record.get("status") != JobStatus.CANCELLED:
            return
        remove_written()
        raise JobCancelledError(f"job {self.input.job_id} was cancelled while {self.state} ran")

    def _take_back_after_redrive(self, recorded: int) -> JobStatus:
        """``failed -> retrying``: this step's execution was redriven since the job failed."""
        job_id, arn = self.input.job_id, self.input.execution_arn
        # Without $$.Execution (an execution started before steps received it), count it here.
        redrive = self.input.redrive_count if self.input.redrive_count is not None else recorded + 1
        try:
            self.jobs.mark_redriven(job_id, execution_arn=arn, redrive_count=redrive)
        except InvalidTransitionError:
            # The status-sync function recorded this redrive's start since the read: go on.
            record = self.jobs.get(job_id)
            recorded = int(record.get("redriveCount") or 0)
            if recorded > redrive:
                raise StaleRunError(f"job {job_id} was redriven again ({recorded}) as run {redrive} began") from None
            if record["status"] != JobStatus.RETRYING or recorded != redrive:
                raise
        return JobStatus.RETRYING

    def _note_silent_failure(self) -> JobStatus:
        """The previous attempt ended without recording anything (a crash or a timeout)."""
        self.jobs.mark_retrying(
            self.input.job_id,
            reason=f"{self.state} attempt {self.input.retry_count} ended without a result",
            fields={"attempts": self.input.retry_count},
            guards=self.guards,
        )
        return JobStatus.RETRYING

    def _resume(self, recorded_redrives: int) -> dict[str, Any]:
        """``retrying -> processing`` for this attempt."""
        # lastError belongs to the attempt that failed; a new attempt starts without one.
        fields: dict[str, Any] = {"lastError": None}
        run = self.input.redrive_count
        if run is not None and run > recorded_redrives:
            # A redrive that found the job still retrying (the failure event had not arrived):
            # recording the count makes that late event recognisably older than this run.
            fields["redriveCount"] = run
        return self.jobs.mark_processing(
            self.input.job_id,
            reason=f"{self.state} attempt {self.input.retry_count + 1}",
            fields=fields,
            guards=self.guards,
        )

    def _record_failure(self, exc: BaseException, *, final: bool) -> None:
        error = error_of(exc, self.state)
        log.warning("step failed", extra={"jobId": self.input.job_id, "state": self.state, "error": error.model_dump()})
        try:
            if final:
                self.jobs.mark_failed(self.input.job_id, error, guards=self.guards)
            else:
                self.jobs.mark_retrying(
                    self.input.job_id,
                    reason=f"{error.type}: {error.message}"[:500],
                    fields={"attempts": self.input.retry_count + 1, "lastError": error.model_dump()},
                    guards=self.guards,
                )
        except AutoVidError:
            # The status-sync function records the failure when the execution fails.
            log.exception("could not record the step failure", extra={"jobId": self.input.job_id})


def stored_spec(record: dict[str, Any], limits: Limits) -> JobSpec:
    """The spec from the record (never from the execution input), validated again."""
    return parse_spec(record["spec"], limits)
