"""run_graph: state outcomes from an execution history, and the SVG graph coloured by them."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from local_runtime.fixture_paths import FIXTURES

from autovid_cli.run_graph import (
    COLOURS,
    END,
    OUTCOMES,
    START,
    StateRun,
    execution_attempts,
    render_svg,
    state_runs,
)

# The local engine's real output, shared with the timeline's tests: failed (RenderVideo failed 4
# times), running (stopped while FinalizeJob ran) and redriven (failed, ExecutionRedriven, then
# RenderVideo .. FinalizeJob succeeding). They are drawn on the project's own state machine.
HISTORIES = FIXTURES / "run_history"
STATE_MACHINE = FIXTURES.parent.parent.parent / "statemachine" / "video_job.asl.json"
SVG = "{http://www.w3.org/2000/svg}"


def load(name: str) -> Any:
    return json.loads((HISTORIES / f"{name}_history.json").read_text())


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads(STATE_MACHINE.read_text())


@pytest.fixture(scope="module")
def failed() -> list[dict[str, Any]]:
    return load("failed")


@pytest.fixture(scope="module")
def redriven() -> list[dict[str, Any]]:
    return load("redriven")


def outcomes(runs: dict[str, StateRun]) -> dict[str, str]:
    return {name: run.outcome for name, run in runs.items()}


# --------------------------------------------------------------------------- tiny histories


class History:
    """Builds a history by hand: ids, previousEventIds and timestamps filled in."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.add("ExecutionStarted", executionStartedEventDetails={"input": "{}"})

    def add(self, kind: str, **details: Any) -> History:
        number = len(self.events) + 1
        self.events.append(
            {
                "timestamp": datetime(2026, 1, 1, 12, 0, number),
                "type": kind,
                "id": number,
                "previousEventId": number - 1,
                **details,
            }
        )
        return self

    def enter(self, state_type: str, name: str) -> History:
        return self.add(f"{state_type}StateEntered", stateEnteredEventDetails={"name": name, "input": "{}"})

    def exit(self, state_type: str, name: str) -> History:
        return self.add(f"{state_type}StateExited", stateExitedEventDetails={"name": name, "output": "{}"})

    def task_fails(self, error: str, lambda_arn: bool = False) -> History:
        if lambda_arn:
            self.add("LambdaFunctionScheduled", lambdaFunctionScheduledEventDetails={"resource": "arn"})
            return self.add("LambdaFunctionFailed", lambdaFunctionFailedEventDetails={"error": error, "cause": "x"})
        self.add("TaskScheduled", taskScheduledEventDetails={"resource": "invoke"})
        self.add("TaskStarted", taskStartedEventDetails={"resource": "invoke"})
        return self.add("TaskFailed", taskFailedEventDetails={"error": error, "cause": "x"})

    def task_succeeds(self, lambda_arn: bool = False) -> History:
        if lambda_arn:
            self.add("LambdaFunctionScheduled", lambdaFunctionScheduledEventDetails={"resource": "arn"})
            return self.add("LambdaFunctionSucceeded", lambdaFunctionSucceededEventDetails={"output": "{}"})
        self.add("TaskScheduled", taskScheduledEventDetails={"resource": "invoke"})
        self.add("TaskStarted", taskStartedEventDetails={"resource": "invoke"})
        return self.add("TaskSucceeded", taskSucceededEventDetails={"output": "{}"})


LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:work"
TINY = {
    "StartAt": "Work",
    "States": {
        "Work": {
            "Type": "Task",
            "Resource": LAMBDA,
            "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["Broken", "States.Timeout"], "Next": "Recover"}],
            "Next": "Done",
        },
        "Recover": {"Type": "Pass", "Next": "GiveUp"},
        "GiveUp": {"Type": "Fail", "Error": "Recovered.Failure", "Cause": "caught and gave up"},
        "Done": {"Type": "Succeed"},
    },
}


# --------------------------------------------------------------------------- outcomes


def test_failed_history(definition, failed):
    runs = state_runs(definition, failed)

    assert execution_attempts(failed) == 1
    assert set(runs) == set(definition["States"])
    assert runs["RenderVideo"] == StateRun("RenderVideo", "failed", 4, "TransientError", False)
    assert runs["ValidateJob"] == StateRun("ValidateJob", "succeeded", 1, None, False)
    assert outcomes(runs) == {
        "ReadJobId": "succeeded",
        "UnwrapPipeBatch": "succeeded",
        "MarkProcessing": "succeeded",
        "ReadClaim": "not_reached",
        "CheckClaim": "not_reached",
        "AlreadyHandled": "not_reached",
        "ValidateJob": "succeeded",
        "RenderVideo": "failed",
        "UploadOutput": "not_reached",
        "FinalizeJob": "not_reached",
    }
    assert runs["ReadJobId"].attempts == 0  # not a task
    assert runs["UploadOutput"] == StateRun("UploadOutput", "not_reached", 0, None, False)


def test_redriven_history_latest_attempt(definition, failed, redriven):
    assert execution_attempts(redriven) == 2
    runs = state_runs(definition, redriven)

    assert runs == state_runs(definition, redriven, attempt=2)
    assert runs["RenderVideo"] == StateRun("RenderVideo", "succeeded", 1, None, True)
    assert runs["FinalizeJob"] == StateRun("FinalizeJob", "succeeded", 1, None, False)
    assert runs["ValidateJob"] == StateRun("ValidateJob", "succeeded", 1, None, False)  # from attempt 1
    assert runs["UploadOutput"].outcome == "succeeded"
    assert [name for name, run in runs.items() if run.failed_before_redrive] == ["RenderVideo"]
    assert {name for name, run in runs.items() if run.outcome == "not_reached"} == {
        "ReadClaim",
        "CheckClaim",
        "AlreadyHandled",
    }


def test_first_attempt_of_a_redriven_history_is_the_failed_picture(definition, failed, redriven):
    assert state_runs(definition, redriven, attempt=1) == state_runs(definition, failed)


@pytest.mark.parametrize("attempt", [0, 3, -1])
def test_attempt_out_of_range(definition, redriven, attempt):
    with pytest.raises(ValueError, match="attempt"):
        state_runs(definition, redriven, attempt=attempt)


def test_redrive_in_progress(definition, redriven):
    # Cut just after the redriven RenderVideo was scheduled again: it runs, and was redriven.
    cut = next(i for i, event in enumerate(redriven) if event["type"] == "ExecutionRedriven") + 3
    runs = state_runs(definition, redriven[:cut])
    assert runs["RenderVideo"] == StateRun("RenderVideo", "running", 1, None, True)
    assert runs["UploadOutput"].outcome == "not_reached"
    # ... and a redrive that has not reached it yet still shows the failure, marked as redriven.
    runs = state_runs(definition, redriven[: cut - 2])
    assert runs["RenderVideo"] == StateRun("RenderVideo", "failed", 4, "TransientError", True)


def test_running_history(definition):
    # The local engine's history of a run caught while FinalizeJob was executing.
    runs = state_runs(definition, load("running"))
    assert runs["FinalizeJob"] == StateRun("FinalizeJob", "running", 1, None, False)
    assert runs["UploadOutput"].outcome == runs["RenderVideo"].outcome == "succeeded"


def test_datetime_timestamps_and_any_order(definition, redriven):
    converted = copy.deepcopy(redriven)
    for event in converted:
        event["timestamp"] = datetime.fromisoformat(event["timestamp"])
    assert state_runs(definition, converted) == state_runs(definition, redriven)
    assert state_runs(definition, list(reversed(converted)), attempt=1) == state_runs(definition, redriven, attempt=1)


def test_retried_task():
    history = History().enter("Task", "Work").task_fails("Flaky", lambda_arn=True).task_succeeds(lambda_arn=True)
    history.exit("Task", "Work").enter("Succeed", "Done").exit("Succeed", "Done").add("ExecutionSucceeded")
    runs = state_runs(TINY, history.events)
    assert runs["Work"] == StateRun("Work", "retried", 2, "Flaky", False)
    assert runs["Done"] == StateRun("Done", "succeeded", 0, None, False)
    assert runs["Recover"].outcome == runs["GiveUp"].outcome == "not_reached"


def test_caught_task_and_fail_state():
    history = History().enter("Task", "Work").task_fails("Flaky").task_fails("Broken").exit("Task", "Work")
    history.enter("Pass", "Recover").exit("Pass", "Recover").enter("Fail", "GiveUp")
    history.add("ExecutionFailed", executionFailedEventDetails={"error": "Recovered.Failure", "cause": "x"})
    runs = state_runs(TINY, history.events)
    assert runs["Work"] == StateRun("Work", "caught", 2, "Broken", False)
    assert runs["Recover"].outcome == "succeeded"
    assert runs["GiveUp"] == StateRun("GiveUp", "failed", 0, "Recovered.Failure", False)
    assert runs["Done"].outcome == "not_reached"


def test_timed_out_task_is_failed_and_a_running_one_is_running():
    history = History().enter("Task", "Work").add("TaskScheduled", taskScheduledEventDetails={})
    assert state_runs(TINY, history.events)["Work"].outcome == "running"
    history.add("TaskTimedOut", taskTimedOutEventDetails={"error": "States.Timeout"})
    history.add("ExecutionTimedOut", executionTimedOutEventDetails={})
    assert state_runs(TINY, history.events)["Work"] == StateRun("Work", "failed", 1, "States.Timeout", False)


def test_a_state_failing_without_a_task_error_takes_the_executions():
    definition = {"StartAt": "Shape", "States": {"Shape": {"Type": "Pass", "End": True}}}
    history = History().enter("Pass", "Shape")
    history.add("ExecutionFailed", executionFailedEventDetails={"error": "States.Runtime", "cause": "bad path"})
    assert state_runs(definition, history.events)["Shape"] == StateRun("Shape", "failed", 0, "States.Runtime", False)


NESTED = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "Notify",
                "States": {
                    "Notify": {"Type": "Task", "Resource": LAMBDA, "Next": "Inner"},
                    "Inner": {"Type": "Parallel", "Branches": [], "End": True},
                },
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Notify"}],
            "Next": "Notify",
        },
        "Notify": {"Type": "Task", "Resource": LAMBDA, "End": True},
    },
}


def test_states_inside_a_map_are_not_top_level_states():
    history = History().enter("Map", "Fan").add("MapStateStarted", mapStateStartedEventDetails={"length": 2})
    for _ in range(2):  # two iterations, each running the inner Notify (failing twice) and Parallel
        history.add("MapIterationStarted", mapIterationStartedEventDetails={"name": "Fan"})
        history.enter("Task", "Notify").task_fails("Flaky").task_succeeds().exit("Task", "Notify")
        history.enter("Parallel", "Inner").enter("Task", "Fan").exit("Task", "Fan").exit("Parallel", "Inner")
        history.enter("Map", "Fan").exit("Map", "Fan")  # a nested Map may even share the name
    history.add("MapStateSucceeded").exit("Map", "Fan")
    runs = state_runs(NESTED, history.events)
    assert runs["Fan"] == StateRun("Fan", "succeeded", 0, None, False)
    assert runs["Notify"].outcome == "not_reached"

    history.enter("Task", "Notify")
    assert state_runs(NESTED, history.events)["Notify"] == StateRun("Notify", "running", 0, None, False)


def test_a_caught_map():
    history = History().enter("Map", "Fan").add("MapStateStarted")
    history.enter("Task", "Notify").task_fails("Broken").add("MapStateFailed").exit("Map", "Fan")
    history.enter("Task", "Notify").task_succeeds().exit("Task", "Notify").add("ExecutionSucceeded")
    runs = state_runs(NESTED, history.events)
    assert runs["Fan"].outcome == "caught"
    assert runs["Notify"] == StateRun("Notify", "succeeded", 1, None, False)


# --------------------------------------------------------------------------- SVG


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def shapes(root: ET.Element) -> dict[str, ET.Element]:
    found: dict[str, list[ET.Element]] = {}
    for element in root.iter():
        if "data-state" in element.attrib:
            found.setdefault(element.attrib["data-state"], []).append(element)
    assert all(len(elements) == 1 for elements in found.values()), found
    return {name: elements[0] for name, elements in found.items()}


def bbox(element: ET.Element) -> tuple[float, float, float, float]:
    if element.tag == f"{SVG}polygon":
        points = [tuple(map(float, pair.split(","))) for pair in element.attrib["points"].split()]
        xs, ys = [x for x, _ in points], [y for _, y in points]
        return min(xs), min(ys), max(xs), max(ys)
    x, y = float(element.attrib["x"]), float(element.attrib["y"])
    return x, y, x + float(element.attrib["width"]), y + float(element.attrib["height"])


def path_points(d: str, step: float = 0.05) -> list[tuple[float, float]]:
    """Points along an SVG path made of M, L and C commands."""
    tokens = re.findall(r"[MLC]|-?[\d.]+", d)
    points: list[tuple[float, float]] = []
    position = 0
    while position < len(tokens):
        command = tokens[position]
        count = 6 if command == "C" else 2
        numbers = [float(token) for token in tokens[position + 1 : position + 1 + count]]
        position += 1 + count
        if command == "M":
            points.append((numbers[0], numbers[1]))
            continue
        x0, y0 = points[-1]
        controls = [(x0, y0), (numbers[0], numbers[1])] + (
            [(numbers[2], numbers[3]), (numbers[4], numbers[5])] if command == "C" else []
        )
        for i in range(1, int(1 / step) + 1):
            t = i * step
            if command == "L":
                points.append((x0 + (numbers[0] - x0) * t, y0 + (numbers[1] - y0) * t))
            else:
                (ax, ay), (bx, by), (cx, cy), (dx, dy) = controls
                u = 1 - t
                points.append(
                    (
                        u**3 * ax + 3 * u * u * t * bx + 3 * u * t * t * cx + t**3 * dx,
                        u**3 * ay + 3 * u * u * t * by + 3 * u * t * t * cy + t**3 * dy,
                    )
                )
    return points


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


VIDEO_JOB_EDGES = Counter(
    [
        (START, "ReadJobId", "start"),
        ("ReadJobId", "UnwrapPipeBatch", "choice"),
        ("ReadJobId", "MarkProcessing", "default"),
        ("UnwrapPipeBatch", "MarkProcessing", "next"),
        ("MarkProcessing", "ValidateJob", "next"),
        ("MarkProcessing", "ReadClaim", "catch"),
        ("ReadClaim", "CheckClaim", "next"),
        ("CheckClaim", "AlreadyHandled", "choice"),
        ("CheckClaim", "ValidateJob", "choice"),
        ("CheckClaim", "ValidateJob", "choice"),
        ("CheckClaim", "AlreadyHandled", "default"),
        ("AlreadyHandled", END, "end"),
        ("ValidateJob", "RenderVideo", "next"),
        ("RenderVideo", "UploadOutput", "next"),
        ("UploadOutput", "FinalizeJob", "next"),
        ("FinalizeJob", END, "end"),
    ]
)


def edges(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}path") if "edge" in e.attrib.get("class", "").split()]


def check_geometry(root: ET.Element) -> None:
    """No two boxes overlap, and no edge runs through a box."""
    boxes = {name: bbox(element) for name, element in shapes(root).items()}
    for marker in root.iter(f"{SVG}rect"):
        if "marker" in marker.attrib.get("class", "").split():
            boxes[marker.attrib["class"]] = bbox(marker)
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"{a} overlaps {b}"
    for edge in edges(root):
        for x, y in path_points(edge.attrib["d"]):
            for name, (x0, y0, x1, y1) in boxes.items():
                inside = x0 + 2 < x < x1 - 2 and y0 + 2 < y < y1 - 2
                assert not inside, f"edge {edge.attrib['data-from']} -> {edge.attrib['data-to']} crosses {name}"


def test_svg_of_the_failed_history(definition, failed):
    runs = state_runs(definition, failed)
    root = parse(render_svg(definition, runs, "VideoJob: failed"))
    found = shapes(root)

    assert set(found) == set(definition["States"])
    for name, element in found.items():
        assert element.attrib["class"].split() == ["state", runs[name].outcome]
        assert element.attrib["fill"] == COLOURS[runs[name].outcome]
    assert found["RenderVideo"].attrib["fill"] == COLOURS["failed"]
    assert found["ValidateJob"].attrib["fill"] == COLOURS["succeeded"]
    assert found["UploadOutput"].attrib["fill"] == COLOURS["not_reached"]
    assert found["ReadJobId"].tag == found["CheckClaim"].tag == f"{SVG}polygon"  # Choice states
    assert found["ValidateJob"].tag == f"{SVG}rect"
    assert float(found["AlreadyHandled"].attrib["rx"]) > float(found["ValidateJob"].attrib["rx"])  # Succeed

    drawn = Counter((e.attrib["data-from"], e.attrib["data-to"], e.attrib["data-kind"]) for e in edges(root))
    assert drawn == VIDEO_JOB_EDGES
    assert len([p for p in root.iter(f"{SVG}polygon") if p.attrib.get("class") == "arrowhead"]) == drawn.total()
    for edge in edges(root):
        assert ("stroke-dasharray" in edge.attrib) == (edge.attrib["data-kind"] == "catch")
    assert not [e for e in root.iter() if "redriven" in e.attrib.get("class", "")]

    texts = [e.text for e in root.iter(f"{SVG}text")]
    assert texts[0] == "VideoJob: failed"
    assert {"Start", "End", "default", "jobId present", "catch: DynamoDB."} <= set(texts)
    assert "Task · 4 attempts · TransientError" in texts
    check_geometry(root)


def test_svg_of_the_redriven_history(definition, redriven):
    root = parse(render_svg(definition, state_runs(definition, redriven), "VideoJob: attempt 2"))
    found = shapes(root)
    assert found["RenderVideo"].attrib["fill"] == COLOURS["succeeded"]
    assert found["FinalizeJob"].attrib["class"] == "state succeeded"

    # The redriven state is marked (border and badge), in its own group; nothing else is.
    groups = [g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "state-box"]
    marked = {
        shape.attrib["data-state"]
        for g in groups
        for shape in g
        if "data-state" in shape.attrib and any("redriven" in e.attrib.get("class", "") for e in g.iter())
    }
    assert marked == {"RenderVideo"}
    assert "redriven" in [e.text for e in root.iter(f"{SVG}text")]
    check_geometry(root)


def test_text_is_readable_on_every_fill(definition):
    for outcome in OUTCOMES:
        runs = {name: StateRun(name, outcome, 0, None, False) for name in definition["States"]}
        root = parse(render_svg(definition, runs, outcome))
        for group in (g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "state-box"):
            shape = next(e for e in group if "data-state" in e.attrib)
            text = next(e for e in group if e.tag == f"{SVG}text")
            assert contrast(shape.attrib["fill"], text.attrib["fill"]) >= 4.5, outcome


def test_legend_shows_every_outcome(definition, failed):
    root = parse(render_svg(definition, state_runs(definition, failed), "t"))
    swatches = {
        e.attrib["data-outcome"]: e.attrib.get("fill") for e in root.iter() if e.attrib.get("class") == "legend-swatch"
    }
    assert {outcome: swatches[outcome] for outcome in OUTCOMES} == COLOURS
    assert {"redriven", "catch"} <= set(swatches)


LOOPS = {
    "StartAt": "Submit",
    "States": {
        "Submit": {"Type": "Task", "Resource": LAMBDA, "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Poll"},
        "Poll": {
            "Type": "Task",
            "Resource": LAMBDA,
            "Catch": [{"ErrorEquals": ["Busy"], "Next": "Poll"}],
            "Next": "Done?",
        },
        "Done?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.status", "StringEquals": "DONE", "Next": "Finish"},
                {
                    "And": [
                        {"Variable": "$.n", "NumericGreaterThan": 3},
                        {"Not": {"Variable": "$.x", "IsPresent": True}},
                    ],
                    "Next": "Stop",
                },
            ],
            "Default": "Wait",
        },
        "Finish": {"Type": "Pass", "End": True},
        "Stop": {"Type": "Fail", "Error": "TooSlow"},
        "Orphan & <Co>": {"Type": "Pass", "Next": "Finish"},
    },
}


def test_svg_with_cycles_self_loops_and_awkward_names():
    history = History().enter("Task", "Submit").task_succeeds().exit("Task", "Submit")
    history.enter("Wait", "Wait").exit("Wait", "Wait").enter("Task", "Poll").task_fails("Busy").exit("Task", "Poll")
    history.enter("Task", "Poll")
    runs = state_runs(LOOPS, history.events)
    assert runs["Poll"] == StateRun("Poll", "running", 0, None, False)
    svg = render_svg(LOOPS, runs, 'Loops & "quotes" <ok>')
    assert svg == render_svg(LOOPS, runs, 'Loops & "quotes" <ok>')  # deterministic
    root = parse(svg)

    found = shapes(root)
    assert set(found) == set(LOOPS["States"])
    assert found["Poll"].attrib["fill"] == COLOURS["running"]
    assert found["Stop"].attrib["class"] == "state not_reached"
    drawn = Counter((e.attrib["data-from"], e.attrib["data-to"], e.attrib["data-kind"]) for e in edges(root))
    assert drawn == Counter(
        [
            (START, "Submit", "start"),
            ("Submit", "Wait", "next"),
            ("Wait", "Poll", "next"),
            ("Poll", "Done?", "next"),
            ("Poll", "Poll", "catch"),
            ("Done?", "Finish", "choice"),
            ("Done?", "Stop", "choice"),
            ("Done?", "Wait", "default"),
            ("Finish", END, "end"),
            ("Stop", END, "end"),
            ("Orphan & <Co>", "Finish", "next"),
        ]
    )
    texts = [e.text for e in root.iter(f"{SVG}text")]
    assert 'Loops & "quotes" <ok>' in texts
    assert 'status == "DONE"' in texts
    assert "n > 3 & not x present" in texts
    check_geometry(root)


def test_svg_of_an_empty_definition():
    root = parse(render_svg({"StartAt": "Nowhere", "States": {}}, {}, "empty"))
    assert shapes(root) == {}
    assert edges(root) == []
