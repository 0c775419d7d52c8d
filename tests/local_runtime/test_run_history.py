"""A Step Functions execution history becomes a console-like timeline: states, retries, catches, redrives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from local_runtime.fixture_paths import FIXTURES

from autovid_cli.run_history import WIDTH, TimelineRow, format_timeline, timeline

HISTORIES = FIXTURES / "run_history"
START = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def load(name: str) -> list[dict[str, Any]]:
    """A history recorded from the local engine, big input/output/parameters strings dropped."""
    return json.loads((HISTORIES / f"{name}.json").read_text())


def history(*events: tuple[float, str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Events from (seconds after START, type, details) triples, with ids and ISO "Z" timestamps."""
    built = []
    for index, (at, etype, details) in enumerate(events, start=1):
        if etype.endswith("StateEntered"):
            key = "stateEnteredEventDetails"
        elif etype.endswith("StateExited"):
            key = "stateExitedEventDetails"
        else:
            key = etype[0].lower() + etype[1:] + "EventDetails"
        stamp = (START + timedelta(seconds=at)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        built.append({"id": index, "previousEventId": index - 1, "timestamp": stamp, "type": etype, key: details})
    return built


def task_visit(name: str, at: float, *outcomes: tuple[float, str, dict[str, Any]]) -> list[tuple]:
    """Entered, one Scheduled/Started/<outcome> per attempt, exited after the last outcome."""
    events: list[tuple] = [(at, "TaskStateEntered", {"name": name})]
    for end, outcome, details in outcomes:
        events += [(at, "TaskScheduled", {}), (at, "TaskStarted", {}), (end, outcome, details)]
        at = end
    return [*events, (at, "TaskStateExited", {"name": name})]


def rows_of(rows: list[TimelineRow], kind: str, state: str | None = None) -> list[TimelineRow]:
    return [row for row in rows if row.kind == kind and (state is None or row.state == state)]


def event_time(events: list[dict[str, Any]], etype: str, name: str) -> datetime:
    key = "stateEnteredEventDetails" if etype.endswith("Entered") else "stateExitedEventDetails"
    event = next(e for e in events if e["type"] == etype and e[key]["name"] == name)
    return datetime.fromisoformat(event["timestamp"])


# The recorded failed run: RenderVideo fails four times with TransientError, Retry gives up.


def test_failed_history_shows_each_retry_the_final_failure_and_the_execution_failure() -> None:
    events = load("failed_history")
    rows = timeline(events)

    assert rows[0].kind == "execution" and rows[0].text == "execution started" and rows[0].offset == 0
    retries = rows_of(rows, "retry")
    assert len(retries) == 3
    assert [row.state for row in retries] == ["RenderVideo"] * 3
    assert [row.text.split(" of ")[0] for row in retries] == ["retry 1", "retry 2", "retry 3"]
    assert all("TransientError" in row.text and "asset host down" in row.text for row in retries)
    assert retries[0].text == "retry 1 of RenderVideo after TransientError: asset host down"

    (task_failed,) = rows_of(rows, "task-failed")
    assert task_failed.state == "RenderVideo"
    assert task_failed.text == "RenderVideo failed: TransientError: asset host down"
    (render,) = rows_of(rows, "state", "RenderVideo")
    assert render.result == "failed"
    assert "4 attempts" in render.text

    (validate,) = rows_of(rows, "state", "ValidateJob")
    expected = event_time(events, "TaskStateExited", "ValidateJob") - event_time(
        events, "TaskStateEntered", "ValidateJob"
    )
    assert validate.duration == pytest.approx(expected.total_seconds())
    assert validate.result == "succeeded"
    assert validate.offset == pytest.approx(0.066)

    last = rows[-1]
    assert last.kind == "execution" and last.state is None and last.result == "failed"
    assert last.text == "execution failed: TransientError: asset host down"
    assert last.duration == pytest.approx(0.724)
    assert render.duration == pytest.approx(last.offset - render.offset)  # open until the execution failed

    assert [row.offset for row in rows] == sorted(row.offset for row in rows)
    assert [row.state for row in rows_of(rows, "state")] == [
        "ReadJobId",
        "UnwrapPipeBatch",
        "MarkProcessing",
        "ValidateJob",
        "RenderVideo",
    ]
    assert {row.attempt for row in rows} == {1}
    assert not rows_of(rows, "catch") and not rows_of(rows, "redrive")


def test_rows_for_one_state_follow_its_state_row_in_event_order() -> None:
    rows = timeline(load("failed_history"))
    kinds = [row.kind for row in rows if row.state == "RenderVideo"]
    assert kinds == ["state", "retry", "retry", "retry", "task-failed"]


# The failed run redriven: RenderVideo runs again and succeeds, the earlier states are not rerun.


def test_redriven_history_has_one_boundary_and_only_the_failed_state_onwards_after_it() -> None:
    rows = timeline(load("redriven_history"))

    (redrive,) = rows_of(rows, "redrive")
    assert redrive.text == "redrive 1" and redrive.state is None
    at = rows.index(redrive)
    failure = next(i for i, row in enumerate(rows) if row.kind == "execution" and row.result == "failed")
    render_visits = [i for i, row in enumerate(rows) if row.kind == "state" and row.state == "RenderVideo"]
    assert len(render_visits) == 2
    assert failure < at < render_visits[1]
    assert rows[render_visits[1]].result == "succeeded"
    assert rows[render_visits[1]].offset > redrive.offset > rows[failure].offset

    assert all(row.attempt == 1 for row in rows[:at])
    assert all(row.attempt == 2 for row in rows[at:])
    assert len(rows_of(rows, "state", "ValidateJob")) == 1
    assert [row.state for row in rows_of(rows, "state")[5:]] == ["RenderVideo", "UploadOutput", "FinalizeJob"]
    assert len(rows_of(rows, "retry")) == 3  # all from before the redrive

    last = rows[-1]
    assert last.kind == "execution" and last.result == "succeeded" and last.text == "execution succeeded"
    assert last.duration == pytest.approx(last.offset)


def test_the_redrive_row_carries_the_events_redrive_count() -> None:
    events = load("redriven_history")
    redriven = next(e for e in events if e["type"] == "ExecutionRedriven")
    redriven["executionRedrivenEventDetails"]["redriveCount"] = 3  # a history that starts mid-way
    (redrive,) = rows_of(timeline(events), "redrive")
    assert redrive.text == "redrive 3" and redrive.attempt == 2


def test_timestamps_may_be_datetimes_or_iso_strings_in_any_form_and_events_in_reverse_order() -> None:
    events = load("redriven_history")
    expected = timeline(events)

    as_datetimes = [{**e, "timestamp": datetime.fromisoformat(e["timestamp"])} for e in events]
    as_zulu = [
        {**e, "timestamp": datetime.fromisoformat(e["timestamp"]).isoformat().replace("+00:00", "Z")} for e in events
    ]
    assert as_zulu[0]["timestamp"] == "2026-11-28T21:06:57.133000Z"
    assert timeline(as_datetimes) == expected
    assert timeline(as_zulu) == expected
    assert timeline(list(reversed(events))) == expected  # get_execution_history(reverseOrder=True)


def test_a_state_still_running_lasts_until_now() -> None:
    events = load("running_history")  # fetched while FinalizeJob was still running
    entered = event_time(events, "TaskStateEntered", "FinalizeJob")
    rows = timeline(events, now=entered + timedelta(seconds=2.5))

    last = rows[-1]
    assert last.kind == "state" and last.state == "FinalizeJob" and last.result == "running"
    assert last.duration == pytest.approx(2.5)
    assert not [row for row in rows if row.kind == "execution" and row.result != "started"]
    assert timeline(events)[-1].duration > 2.5  # without now: the current time, long after the recording


# Hand-built histories: Catch, direct Lambda ARNs, Map and Parallel, the ways an execution ends.


def test_a_caught_failure_gives_a_catch_row_naming_the_next_state() -> None:
    events = history(
        (0.0, "ExecutionStarted", {}),
        *task_visit(
            "MarkProcessing",
            0.001,
            (
                0.040,
                "TaskFailed",
                {"error": "DynamoDB.ConditionalCheckFailedException", "cause": "The conditional request failed"},
            ),
        ),
        *task_visit("ReadClaim", 0.042, (0.060, "TaskSucceeded", {})),
        (0.061, "ChoiceStateEntered", {"name": "CheckClaim"}),
        (0.061, "ChoiceStateExited", {"name": "CheckClaim"}),
        (0.062, "SucceedStateEntered", {"name": "AlreadyHandled"}),
        (0.062, "SucceedStateExited", {"name": "AlreadyHandled"}),
        (0.063, "ExecutionSucceeded", {}),
    )
    rows = timeline(events)

    (mark,) = rows_of(rows, "state", "MarkProcessing")
    assert mark.result == "caught" and mark.duration == pytest.approx(0.039)
    (failed,) = rows_of(rows, "task-failed")
    assert (
        failed.text == "MarkProcessing failed: DynamoDB.ConditionalCheckFailedException: The conditional request failed"
    )
    (catch,) = rows_of(rows, "catch")
    assert catch.state == "MarkProcessing"
    assert catch.text == "MarkProcessing caught DynamoDB.ConditionalCheckFailedException → ReadClaim"
    assert catch.offset == pytest.approx(0.040)
    assert rows.index(failed) < rows.index(catch) < rows.index(rows_of(rows, "state", "ReadClaim")[0])
    assert not rows_of(rows, "retry")
    assert [row.result for row in rows_of(rows, "state")] == ["caught", "succeeded", "succeeded", "succeeded"]
    assert rows[-1].result == "succeeded"


def test_direct_lambda_attempts_and_timeouts_count_as_retries() -> None:
    events = history(
        (0.0, "ExecutionStarted", {}),
        (0.0, "TaskStateEntered", {"name": "Render"}),
        (0.0, "LambdaFunctionScheduled", {"resource": "arn:aws:lambda:us-east-1:123456789012:function:render"}),
        (0.0, "LambdaFunctionStarted", {}),
        (3.0, "LambdaFunctionTimedOut", {"error": "States.Timeout", "cause": ""}),
        (5.0, "LambdaFunctionScheduled", {}),
        (5.0, "LambdaFunctionStarted", {}),
        (6.5, "LambdaFunctionSucceeded", {"output": "{}"}),
        (6.5, "TaskStateExited", {"name": "Render"}),
        (6.5, "ExecutionSucceeded", {}),
    )
    rows = timeline(events)

    (retry,) = rows_of(rows, "retry")
    assert retry.text == "retry 1 of Render after States.Timeout" and retry.duration == pytest.approx(3.0)
    (render,) = rows_of(rows, "state", "Render")
    assert render.result == "succeeded" and render.text == "Task Render succeeded (2 attempts)"
    assert not rows_of(rows, "task-failed") and not rows_of(rows, "catch")


def test_states_nested_in_a_map_are_not_taken_for_top_level_states() -> None:
    nested = []
    for index, at in enumerate((0.010, 0.020)):
        nested += [
            (at, "MapIterationStarted", {"name": "RenderClips", "index": index}),
            *task_visit(
                "RenderClip",
                at,
                (at + 0.002, "TaskFailed", {"error": "TransientError", "cause": "busy"}),
                (at + 0.005, "TaskSucceeded", {}),
            ),
            (at + 0.006, "MapIterationSucceeded", {"name": "RenderClips", "index": index}),
        ]
    events = history(
        (0.0, "ExecutionStarted", {}),
        (0.001, "MapStateEntered", {"name": "RenderClips"}),
        (0.001, "MapStateStarted", {"length": 2}),
        *nested,
        (0.030, "MapStateSucceeded", {}),
        (0.031, "MapStateExited", {"name": "RenderClips"}),
        (0.031, "PassStateEntered", {"name": "Done"}),
        (0.032, "PassStateExited", {"name": "Done"}),
        (0.032, "ExecutionSucceeded", {}),
    )
    rows = timeline(events)

    assert [(row.state, row.result) for row in rows_of(rows, "state")] == [
        ("RenderClips", "succeeded"),
        ("Done", "succeeded"),
    ]
    (clips,) = rows_of(rows, "state", "RenderClips")
    assert clips.duration == pytest.approx(0.030)
    assert clips.text == "Map RenderClips succeeded (2 iterations; 2 nested task failures)"
    assert not [row for row in rows if row.state == "RenderClip"]
    assert not rows_of(rows, "retry") and not rows_of(rows, "catch")


def test_a_failed_parallel_caught_by_its_catch() -> None:
    events = history(
        (0.0, "ExecutionStarted", {}),
        (0.001, "ParallelStateEntered", {"name": "Fan"}),
        (0.001, "ParallelStateStarted", {}),
        *task_visit("Left", 0.002, (0.004, "TaskSucceeded", {})),
        (0.002, "TaskStateEntered", {"name": "Right"}),
        (0.002, "TaskScheduled", {}),
        (0.005, "TaskFailed", {"error": "Boom", "cause": '{"errorMessage": "right side broke"}'}),
        (0.006, "ParallelStateFailed", {}),
        (0.007, "ParallelStateExited", {"name": "Fan"}),
        (0.008, "FailStateEntered", {"name": "Failed"}),
        (0.009, "ExecutionFailed", {"error": "Boom", "cause": "fan failed"}),
    )
    rows = timeline(events)

    assert [(row.state, row.result) for row in rows_of(rows, "state")] == [("Fan", "caught"), ("Failed", "failed")]
    (catch,) = rows_of(rows, "catch")
    assert catch.text == "Fan caught Boom → Failed"
    assert rows[-1].text == "execution failed: Boom: fan failed"
    assert not [row for row in rows if row.state in ("Left", "Right")]


def test_a_redrive_that_continues_inside_the_failed_state_resumes_it() -> None:
    events = history(
        (0.0, "ExecutionStarted", {}),
        (0.0, "TaskStateEntered", {"name": "Render"}),
        (0.0, "TaskScheduled", {}),
        (1.0, "TaskFailed", {"error": "TransientError", "cause": "down"}),
        (1.0, "ExecutionFailed", {"error": "TransientError", "cause": "down"}),
        (9.0, "ExecutionRedriven", {"redriveCount": 1}),
        (9.0, "TaskScheduled", {}),
        (9.5, "TaskSucceeded", {}),
        (9.5, "TaskStateExited", {"name": "Render"}),
        (9.5, "ExecutionSucceeded", {}),
    )
    rows = timeline(events)

    first, second = rows_of(rows, "state", "Render")
    assert (first.result, first.attempt) == ("failed", 1)
    assert (second.result, second.attempt, second.offset) == ("succeeded", 2, 9.0)
    assert second.text == "Task Render succeeded (resumed after redrive)"
    assert [row.kind for row in rows] == [
        "execution",
        "state",
        "task-failed",
        "execution",
        "redrive",
        "state",
        "execution",
    ]


@pytest.mark.parametrize(
    ("end", "details", "text"),
    [
        ("ExecutionTimedOut", {"error": "States.Timeout", "cause": ""}, "execution timed out: States.Timeout"),
        ("ExecutionAborted", {}, "execution aborted"),
    ],
)
def test_an_execution_that_times_out_or_is_aborted(end: str, details: dict[str, Any], text: str) -> None:
    events = history(
        (0.0, "ExecutionStarted", {}),
        (0.0, "WaitStateEntered", {"name": "Pause"}),
        (90.0, end, details),
    )
    rows = timeline(events)
    outcome = text.split(":")[0].removeprefix("execution ")
    assert [(row.kind, row.result) for row in rows] == [
        ("execution", "started"),
        ("state", outcome),
        ("execution", outcome),
    ]
    assert rows[1].duration == 90.0 and rows[-1].duration == 90.0 and rows[-1].text == text


def test_messages_come_from_json_causes_or_the_cause_text_cut_short() -> None:
    long_cause = "Traceback (most recent call last):\n" + "  frame\n" * 40 + "RuntimeError: deep down"
    events = history(
        (0.0, "ExecutionStarted", {}),
        (0.0, "TaskStateEntered", {"name": "Render"}),
        (0.0, "TaskScheduled", {}),
        (1.0, "TaskFailed", {"error": "RuntimeError", "cause": long_cause}),
        (1.0, "ExecutionFailed", {"error": "RuntimeError", "cause": json.dumps({"errorMessage": "x" * 300})}),
    )
    rows = timeline(events)

    (failed,) = rows_of(rows, "task-failed")
    message = failed.text.removeprefix("Render failed: RuntimeError: ")
    assert message.startswith("Traceback (most recent call last): frame frame")
    assert len(message) == 120 and message.endswith("…") and "\n" not in message
    assert rows[-1].text == "execution failed: RuntimeError: " + "x" * 119 + "…"


# format_timeline: a fixed-width plain-text table.


def test_format_timeline_renders_a_table_with_the_redrive_as_a_separator_line() -> None:
    rows = timeline(load("redriven_history"))
    text = format_timeline(rows, title="VideoJob execution b2c09410 (redriven once)")
    lines = text.splitlines()

    assert text.endswith("\n")
    assert lines[0] == "VideoJob execution b2c09410 (redriven once)"
    assert lines[1].split() == ["offset", "result", "state", "duration", "event"]
    assert len(lines) == 2 + len(rows)
    separator = lines[2 + rows.index(rows_of(rows, "redrive")[0])]
    assert separator.startswith("── redrive 1 at +1m16.2s ─")
    assert set(separator.removeprefix("── redrive 1 at +1m16.2s ")) == {"─"}
    assert len(separator) == WIDTH
    assert all(len(line) <= WIDTH for line in lines)
    assert all(line == line.rstrip() for line in lines)
    assert "\x1b" not in text

    assert " +0.191s  failed       RenderVideo        533 ms  Task RenderVideo failed (4 attempts)" in lines
    assert any(line.startswith("+1m16.2s  succeeded    RenderVideo        132 ms  ") for line in lines)
    assert lines[-1].startswith("+1m16.5s  succeeded ") and lines[-1].endswith("1m16s  execution succeeded")


def test_format_timeline_cuts_long_texts_and_names_to_the_width() -> None:
    long_text = "retry 1 of " + "VeryLongStateName" * 4 + " after TransientError: " + "the asset host is down " * 8
    rows = [
        TimelineRow(0.0, "execution", None, "execution started", None, 1, "started"),
        TimelineRow(0.5, "retry", "VeryLongStateName" * 4, long_text, 0.012, 1),
        TimelineRow(1.0, "redrive", None, "redrive 1", None, 2),
        TimelineRow(125.0, "execution", None, "execution succeeded", 125.0, 2, "succeeded"),
    ]
    for width in (WIDTH, 80):
        lines = format_timeline(rows, title="t" * 200, width=width).splitlines()
        assert all(len(line) <= width for line in lines)
        assert all(line == line.rstrip() for line in lines)
        assert lines[0].endswith("…") and len(lines[0]) == width
        assert lines[3].endswith("…") and "VeryLongStateName" in lines[3] and "12 ms" in lines[3]
        assert len(lines[4]) == width and lines[4].startswith("── redrive 1 at +1.000s ")
        assert lines[5].startswith("+2m05.0s") and "2m05s" in lines[5]
    assert timeline([]) == []
    assert format_timeline([]).split() == ["offset", "result", "state", "duration", "event"]  # the header alone


@pytest.mark.parametrize(
    ("seconds", "offset", "duration"),
    [
        (0.0, "+0.000s", "0 ms"),
        (0.012, "+0.012s", "12 ms"),
        (0.133, "+0.133s", "133 ms"),
        (0.9996, "+1.000s", "1.00 s"),
        (1.27, "+1.270s", "1.27 s"),
        (59.9996, "+1m00.0s", "1m00s"),
        (62.5, "+1m02.5s", "1m02s"),
        (125.0, "+2m05.0s", "2m05s"),
        (3725.0, "+1h02m05s", "1h02m"),
    ],
)
def test_offsets_and_durations_are_short_and_readable(seconds: float, offset: str, duration: str) -> None:
    rows = [TimelineRow(seconds, "state", "S", "Pass S succeeded", seconds, 1, "succeeded")]
    line = format_timeline(rows).splitlines()[1]
    assert line.split()[0] == offset
    assert f"  {duration}  Pass S succeeded" in line
