"""The Job Status Manager: the whole transition table, conditional writes, history."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from support import minimal_spec

from autovid.aws.jobs import JobsTable
from autovid.core.clock import parse_iso
from autovid.core.config import Limits, Settings
from autovid.core.errors import InvalidTransitionError, JobNotFoundError
from autovid.jobs.records import JobError, JobOutput, JobStatus, new_job_record
from autovid.jobs.transitions import ALLOWED_TRANSITIONS, ClaimFor, JobStatusManager, OnlyFrom, is_allowed
from autovid.spec import parse_spec

S = JobStatus
EXPECTED_ALLOWED = {
    (S.SUBMITTED, S.PROCESSING),
    (S.PROCESSING, S.RETRYING),
    (S.RETRYING, S.PROCESSING),
    (S.PROCESSING, S.COMPLETED),
    (S.PROCESSING, S.FAILED),
    (S.RETRYING, S.FAILED),
    (S.FAILED, S.RETRYING),
    (S.SUBMITTED, S.FAILED),  # the job could not be queued
    (S.SUBMITTED, S.CANCELLED),
    (S.PROCESSING, S.CANCELLED),
    (S.RETRYING, S.CANCELLED),
}
ALL_PAIRS = list(itertools.product(S, S))


@pytest.fixture
def manager(aws: dict) -> JobStatusManager:
    return JobStatusManager(JobsTable(Settings().jobs_table))


def job_in(manager: JobStatusManager, status: JobStatus) -> str:
    """A stored job whose status is ``status`` (written directly, bypassing the rules)."""
    record = new_job_record(parse_spec(minimal_spec(), Limits()), ttl_seconds=3600)
    record["status"] = status.value
    manager.table.create(record)
    return record["jobId"]


def test_the_table_is_exactly_the_documented_one() -> None:
    assert {(a, b) for a, b in ALL_PAIRS if is_allowed(a, b)} == EXPECTED_ALLOWED
    assert ALLOWED_TRANSITIONS[S.SUBMITTED] == frozenset()


@pytest.mark.parametrize(("current", "new"), sorted(EXPECTED_ALLOWED), ids=lambda s: s.value)
def test_allowed_change_succeeds_and_appends_history(manager: JobStatusManager, current: S, new: S) -> None:
    job_id = job_in(manager, current)
    record = manager.transition(job_id, new, reason="because")
    assert record["status"] == new.value
    assert record["statusHistory"][-1]["status"] == new.value
    assert record["statusHistory"][-1]["reason"] == "because"
    assert record["updatedAt"] == record["statusHistory"][-1]["at"]
    assert len(record["statusHistory"]) == 2


@pytest.mark.parametrize(("current", "new"), [p for p in ALL_PAIRS if p not in EXPECTED_ALLOWED], ids=lambda s: s.value)
def test_refused_change_raises_and_leaves_the_record_unchanged(manager: JobStatusManager, current: S, new: S) -> None:
    job_id = job_in(manager, current)
    before = manager.get(job_id)
    with pytest.raises(InvalidTransitionError) as caught:
        manager.transition(job_id, new, reason="late update")
    assert (caught.value.current, caught.value.new) == (current.value, new.value)
    assert manager.get(job_id) == before


def test_processing_write_onto_a_completed_job_is_refused(manager: JobStatusManager) -> None:
    job_id = job_in(manager, S.PROCESSING)
    manager.mark_completed(job_id, JobOutput(s3Uri="s3://b/k.mp4", size=10, duration=1.0))
    with pytest.raises(InvalidTransitionError, match="completed -> processing"):
        manager.mark_processing(job_id)
    assert manager.get(job_id)["status"] == "completed"


def test_unknown_job_is_reported(manager: JobStatusManager) -> None:
    with pytest.raises(JobNotFoundError):
        manager.transition("8c1f7d52-3f5e-4a53-9d0e-1b2a3c4d5e6f", S.PROCESSING, reason="x")


def test_completion_sets_completed_at_and_processing_time(manager: JobStatusManager) -> None:
    job_id = job_in(manager, S.PROCESSING)
    submitted = parse_iso(manager.get(job_id)["submittedAt"])
    done = submitted + timedelta(seconds=12.3456)
    output = JobOutput(
        url="https://x", urlExpiresAt="2030-01-01T00:00:00Z", s3Uri="s3://b/o.mp4", duration=6.5, size=1234
    )
    record = manager.mark_completed(job_id, output, now=done)
    assert record["processingTime"] == 12.35
    assert parse_iso(record["completedAt"]) == done.replace(microsecond=(done.microsecond // 1000) * 1000)
    assert record["output"] == output.model_dump()
    assert [h["status"] for h in record["statusHistory"]] == ["submitted", "completed"]


def test_failure_records_a_typed_error(manager: JobStatusManager) -> None:
    job_id = job_in(manager, S.PROCESSING)
    record = manager.mark_failed(
        job_id, JobError(type="AssetNotFoundError", message="asset 'music' not found", state="ValidateJob")
    )
    assert record["error"] == {
        "type": "AssetNotFoundError",
        "message": "asset 'music' not found",
        "state": "ValidateJob",
    }
    assert record["statusHistory"][-1]["reason"].startswith("AssetNotFoundError: asset 'music'")


def test_a_full_life_keeps_every_step_in_order(manager: JobStatusManager) -> None:
    job_id = job_in(manager, S.SUBMITTED)
    manager.mark_processing(job_id)
    manager.mark_retrying(job_id, reason="render timed out", fields={"attempt": 1})
    manager.mark_processing(job_id)
    manager.mark_completed(job_id, JobOutput())
    record = manager.get(job_id)
    assert [h["status"] for h in record["statusHistory"]] == [
        "submitted",
        "processing",
        "retrying",
        "processing",
        "completed",
    ]
    assert record["attempt"] == 1


def test_retrying_after_a_failure_needs_a_redrive(manager: JobStatusManager) -> None:
    job_id = job_in(manager, S.FAILED)
    with pytest.raises(InvalidTransitionError):
        manager.mark_retrying(job_id, reason="a late transient error")
    assert manager.get(job_id)["status"] == "failed"
    arn = "arn:aws:states:us-east-1:123456789012:execution:VideoJob:run-1"
    record = manager.mark_redriven(job_id, execution_arn=arn, redrive_count=1)
    assert record["status"] == "retrying" and record["redriveCount"] == 1
    assert (record["statusHistory"][-1]["reason"], record["statusHistory"][-1]["redriveCount"]) == ("redrive", 1)


def test_a_redrive_is_counted_once(manager: JobStatusManager) -> None:
    """The same redrive (or an older one) cannot take a failed job back a second time."""
    arn = "arn:aws:states:us-east-1:123456789012:execution:VideoJob:run-1"
    job_id = job_in(manager, S.FAILED)
    manager.mark_redriven(job_id, execution_arn=arn, redrive_count=1)
    manager.mark_processing(job_id, guards=[ClaimFor(arn)])
    manager.mark_failed(job_id, JobError(type="RenderFailedError", message="again", state="RenderVideo"))
    for stale in (1, 0):
        with pytest.raises(InvalidTransitionError):
            manager.mark_redriven(job_id, execution_arn=arn, redrive_count=stale)
    assert manager.get(job_id)["status"] == "failed"
    record = manager.mark_redriven(job_id, execution_arn=arn, redrive_count=2)
    assert (record["status"], record["redriveCount"]) == ("retrying", 2)


def test_a_narrowed_transition_can_never_widen_the_table(manager: JobStatusManager) -> None:
    job_id = job_in(manager, S.COMPLETED)
    with pytest.raises(ValueError, match="not in the transition table"):
        manager.transition(job_id, S.RETRYING, reason="x", guards=[OnlyFrom(frozenset({S.COMPLETED}))])
    assert manager.get(job_id)["status"] == "completed"


def test_only_active_jobs_carry_the_sparse_index_key(manager: JobStatusManager) -> None:
    job_id = job_in(manager, S.SUBMITTED)
    assert "activeStatus" not in manager.get(job_id)
    assert manager.mark_processing(job_id)["activeStatus"] == "processing"
    assert manager.mark_retrying(job_id, reason="blip")["activeStatus"] == "retrying"
    manager.mark_processing(job_id)
    failed = manager.mark_failed(job_id, JobError(type="X", message="y", state="RenderVideo"))
    assert "activeStatus" not in failed, "a finished job leaves ActiveJobsIndex"
