"""A Step Functions execution drawn as an SVG graph, like the console's graph view.

:func:`render_svg` draws the top-level states of an Amazon States Language definition top to
bottom (a Sugiyama layered layout from ``grandalf``; edges follow its routes through dummy
vertices, and edge labels are vertices of their own so they get room of their own). Every state
box is filled with the colour of its outcome in one execution, as computed by :func:`state_runs`
from the execution's history events (``get_execution_history(...)["events"]``, oldest first).

Outcome rules, per top-level state, over all events up to and including the drawn attempt (a
redriven execution's history holds its attempts one after the other, separated by
``ExecutionRedriven`` events; a state's outcome comes from the latest attempt that entered it):

* ``not_reached``: never entered;
* ``succeeded``: its last entry exited after a successful task (or it is not a task), in one
  task attempt;
* ``retried``: like succeeded, but it took more than one task attempt;
* ``caught``: its last entry exited although its last task attempt failed (a Catch moved on);
* ``failed``: its last entry did not exit and that attempt of the execution ended
  (ExecutionFailed, ExecutionTimedOut, ExecutionAborted), or it is a Fail state that was entered;
* ``running``: entered, not exited, and that attempt of the execution has not ended.

A Map or Parallel state is one node: while it runs, the states inside its branches are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout, VertexViewer

from sam_emulator.stepfunctions.history_events import (
    ATTEMPT_FAILURES,
    ATTEMPT_STARTS,
    ATTEMPT_SUCCESSES,
    CONTAINER_TYPES,
    event_details,
    ordered,
)

OUTCOMES = ("succeeded", "failed", "caught", "retried", "running", "not_reached")

# Box fill per outcome (console-like); _TEXT and _STROKE keep every fill readable.
COLOURS: dict[str, str] = {
    "succeeded": "#b7e4c2",
    "failed": "#d13212",
    "caught": "#f5a46b",
    "retried": "#f7d56e",
    "running": "#0972d3",
    "not_reached": "#eceff1",
}
_TEXT = {
    "succeeded": "#0b2e13",
    "failed": "#ffffff",
    "caught": "#3d1a00",
    "retried": "#3b2c00",
    "running": "#ffffff",
    "not_reached": "#5f6b7a",
}
_STROKE = {
    "succeeded": "#2ea44f",
    "failed": "#8c1d0b",
    "caught": "#c45500",
    "retried": "#b08800",
    "running": "#033160",
    "not_reached": "#a7b1b7",
}
_LEGEND = {
    "succeeded": "Succeeded",
    "failed": "Failed",
    "caught": "Caught",
    "retried": "Retried",
    "running": "In progress",
    "not_reached": "Not reached",
}
_REDRIVEN = "#d13212"
_EDGE = "#545b64"
_MARKER = "#545b64"
_FONT = "Helvetica, Arial, 'DejaVu Sans', sans-serif"

# Keys of the Start and End markers in the edges' data-from / data-to.
START = "__start__"
END = "__end__"


@dataclass(frozen=True)
class StateRun:
    """One top-level state's outcome in the drawn attempt of an execution."""

    name: str
    outcome: str  # one of OUTCOMES
    attempts: int  # task attempts (scheduled events) in the entry drawn, 0 if not a task
    error: str | None  # the last error seen in that entry (or the execution's, for the state that failed)
    failed_before_redrive: bool  # failed in an earlier attempt of the execution, then redriven


# --------------------------------------------------------------------------- history


_STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Map", "Parallel")
_BLOCK_SUCCEEDED = {"MapStateSucceeded", "ParallelStateSucceeded", "MapRunSucceeded"}
_BLOCK_FAILED = {
    "MapStateFailed",
    "MapStateAborted",
    "ParallelStateFailed",
    "ParallelStateAborted",
    "MapRunFailed",
    "MapRunAborted",
}
_EXECUTION_FAILED = {"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}


@dataclass
class _Entry:
    """The last entry of one state in one attempt of the execution."""

    exited: bool = False
    scheduled: int = 0
    last_failed: bool = False
    error: str | None = None


@dataclass
class _Attempt:
    """One attempt of the execution: the first run, or a redrive."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    end: str | None = None  # "succeeded" / "failed" once it ended
    error: str | None = None  # the execution's error, if it failed


def _state_event(kind: str) -> tuple[str, str] | None:
    """("Task", "entered") for "TaskStateEntered", and so on; None for other events."""
    for suffix, what in (("StateEntered", "entered"), ("StateExited", "exited")):
        if kind.endswith(suffix) and kind[: -len(suffix)] in _STATE_TYPES:
            return kind[: -len(suffix)], what
    return None


def execution_attempts(events: Iterable[Mapping[str, Any]]) -> int:
    """How many attempts the history holds: 1 + the number of ExecutionRedriven events."""
    return 1 + sum(1 for event in events if event.get("type") == "ExecutionRedriven")


def _parse(states: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> list[_Attempt]:
    attempts = [_Attempt()]
    current: _Entry | None = None  # the top-level state entered and not yet exited
    current_name = ""
    block = ""  # "Map" or "Parallel" while current is one: the states in its branches are skipped
    nested: list[tuple[str, str]] = []  # (type, name) of the Map/Parallel states open inside it
    for event in ordered(events):
        kind = str(event.get("type", ""))
        attempt = attempts[-1]
        if kind == "ExecutionRedriven":
            if attempt.end is None:
                attempt.end = "failed"  # only a failed (or timed out, aborted) execution is redriven
            attempts.append(_Attempt())
            current, block, nested = None, "", []
            continue
        if kind == "ExecutionSucceeded":
            attempt.end = "succeeded"
            continue
        if kind in _EXECUTION_FAILED:
            attempt.end = "failed"
            attempt.error = event_details(event).get("error") or attempt.error
            continue
        state_event = _state_event(kind)
        name = str(event_details(event).get("name", "")) if state_event else ""
        if current is not None and block:  # inside a top-level Map or Parallel
            if state_event is None:
                if kind in _BLOCK_FAILED:
                    current.last_failed = True
                    current.error = event_details(event).get("error") or current.error
                elif kind in _BLOCK_SUCCEEDED:
                    current.last_failed = False
                continue
            state_type, what = state_event
            opened = (state_type, name)
            if what == "exited" and state_type == block and name == current_name and opened not in nested:
                current.exited = True
                current, block = None, ""
            elif state_type in CONTAINER_TYPES and what == "entered":
                nested.append(opened)
            elif state_type in CONTAINER_TYPES and opened in nested:
                del nested[len(nested) - 1 - nested[::-1].index(opened)]
            continue
        if state_event is not None:
            state_type, what = state_event
            if what == "entered":
                if name in states:
                    current, current_name = _Entry(), name
                    attempt.entries[name] = current
                    block, nested = (state_type if state_type in CONTAINER_TYPES else ""), []
                else:
                    current = None
            elif current is not None and name == current_name:
                current.exited = True
                current = None
            continue
        if current is None:
            continue
        if kind in ATTEMPT_STARTS:
            current.scheduled += 1
            current.last_failed = False
        elif kind in ATTEMPT_SUCCESSES:
            current.last_failed = False
        elif kind in ATTEMPT_FAILURES:
            current.last_failed = True
            current.error = event_details(event).get("error") or current.error
    return attempts


def _outcome(entry: _Entry, attempt: _Attempt, state_type: str) -> str:
    if state_type == "Fail":
        return "failed"
    if entry.exited:
        if entry.last_failed:
            return "caught"
        return "retried" if entry.scheduled > 1 else "succeeded"
    if attempt.end == "failed":
        return "failed"
    if attempt.end == "succeeded":  # a Succeed state need not exit before the execution ends
        return "succeeded"
    return "running"


def state_runs(
    definition: Mapping[str, Any], events: Sequence[Mapping[str, Any]], attempt: int | None = None
) -> dict[str, StateRun]:
    """Each top-level state's outcome in attempt ``attempt`` (1-based; None: the latest one)."""
    states: Mapping[str, Any] = definition.get("States", {})
    attempts = _parse(states, events)
    if attempt is None:
        attempt = len(attempts)
    if not 1 <= attempt <= len(attempts):
        raise ValueError(f"attempt {attempt} out of range: the history holds {len(attempts)} attempt(s)")
    runs: dict[str, StateRun] = {}
    for name, state in states.items():
        state_type = str(state.get("Type", ""))
        run = StateRun(name, "not_reached", 0, None, False)
        failed_before = False
        for index, drawn in enumerate(attempts[:attempt]):
            entry = drawn.entries.get(name)
            if entry is None:
                continue  # not entered in this attempt: the earlier outcome carries over
            outcome = _outcome(entry, drawn, state_type)
            error = entry.error
            if outcome == "failed" and error is None:
                error = state.get("Error") if state_type == "Fail" else None
                error = error or drawn.error
            if outcome == "failed" and index < attempt - 1:
                failed_before = True
            run = StateRun(name, outcome, entry.scheduled, error, False)
        runs[name] = StateRun(run.name, run.outcome, run.attempts, run.error, failed_before)
    return runs


# --------------------------------------------------------------------------- text


def _char_width(char: str) -> float:
    """Rough advance of one character, in em (DejaVu Sans-like, the widest usual fallback)."""
    if char in "iIjl.,:;|!'`":
        return 0.32
    if char in ' ()[]{}-/\\"ftr':
        return 0.42
    if char in "mwMW@%":
        return 0.95
    if char.isupper():
        return 0.72
    return 0.62


def _text_width(text: str, size: float, bold: bool = False) -> float:
    return sum(_char_width(char) for char in text) * size * (1.07 if bold else 1.0)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrap(text: str, width: int = 32, lines: int = 3) -> list[str]:
    """Greedy word wrap; a word longer than a line breaks after a dot (or anywhere)."""
    pieces: list[tuple[str, str]] = []  # (joiner to the previous piece, piece)
    for word in text.split():
        joiner = " "
        while len(word) > width:
            cut = word.rfind(".", 0, width) + 1 or width
            pieces.append((joiner, word[:cut]))
            word, joiner = word[cut:], ""
        if word:
            pieces.append((joiner, word))
    out: list[str] = []
    for joiner, piece in pieces:
        if out and len(out[-1]) + len(joiner) + len(piece) <= width:
            out[-1] += joiner + piece
        else:
            out.append(piece)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = _clip(out[-1], width - 1) + "…"
    return out or [""]


def _short_path(path: str) -> str:
    """A JSONPath's last step or two ("$.claim.record.Item.status.S" -> "status.S")."""
    parts = [part for part in path.replace("$$.", "").replace("$", "").split(".") if part]
    if not parts:
        return path or "$"
    if len(parts) > 1 and len(parts[-1]) <= 2:
        return ".".join(parts[-2:])
    return parts[-1]


_OPERATORS = {"Equals": "==", "LessThan": "<", "GreaterThan": ">", "LessThanEquals": "<=", "GreaterThanEquals": ">="}


def _rule_text(rule: Mapping[str, Any]) -> str:
    """A short form of a Choice rule: "jobId present", "status.S == "failed" & ..."."""
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"]).removeprefix("{%").removesuffix("%}").strip()
    if "And" in rule:
        return " & ".join(_rule_text(sub) for sub in rule["And"])
    if "Or" in rule:
        return " | ".join(_rule_text(sub) for sub in rule["Or"])
    if "Not" in rule:
        return "not " + _rule_text(rule["Not"])
    variable = _short_path(str(rule.get("Variable", "")))
    for key, value in rule.items():
        if key == "IsPresent":
            return f"{variable} {'present' if value else 'absent'}"
        if key == "IsNull":
            return f"{variable} {'is null' if value else 'not null'}"
        if key.startswith("Is") and key[2:] in ("String", "Numeric", "Boolean", "Timestamp"):
            return f"{variable} {'is' if value else 'not'} {key[2:].lower()}"
        base = key.removesuffix("Path")
        if base == "StringMatches":
            return f"{variable} ~ {json.dumps(value)}"
        for prefix in ("String", "Numeric", "Boolean", "Timestamp"):
            if base.startswith(prefix) and base[len(prefix) :] in _OPERATORS:
                shown = _short_path(str(value)) if key.endswith("Path") else json.dumps(value)
                return f"{variable} {_OPERATORS[base[len(prefix) :]]} {shown}"
    return variable if rule.get("Variable") else "choice"


# --------------------------------------------------------------------------- graph


@dataclass
class _Transition:
    source: str
    target: str
    kind: str  # start, next, choice, default, catch, end
    label: list[str]  # label lines, empty for none
    tooltip: str = ""


def _transitions(definition: Mapping[str, Any]) -> list[_Transition]:
    states: Mapping[str, Any] = definition.get("States", {})
    out: list[_Transition] = []
    if definition.get("StartAt") in states:
        out.append(_Transition(START, definition["StartAt"], "start", []))
    for name, state in states.items():
        state_type = state.get("Type")
        if state_type == "Choice":
            for rule in state.get("Choices", []):
                text = _rule_text(rule) or "choice"
                out.append(_Transition(name, rule.get("Next", ""), "choice", _wrap(text), text))
            if "Default" in state:
                out.append(_Transition(name, state["Default"], "default", ["default"]))
        elif state.get("Next"):
            out.append(_Transition(name, state["Next"], "next", []))
        if state.get("End") or state_type in ("Succeed", "Fail"):
            out.append(_Transition(name, END, "end", []))
        for catcher in state.get("Catch", []):
            text = "catch: " + ", ".join(catcher.get("ErrorEquals", []))
            out.append(_Transition(name, catcher.get("Next", ""), "catch", _wrap(text), text))
    known = set(states) | {START, END}
    return [t for t in out if t.target in known]


def _back_transitions(keys: Sequence[str], transitions: Sequence[_Transition]) -> set[int]:
    """Transitions that close a cycle (a depth-first search from Start, in definition order)."""
    outgoing: dict[str, list[int]] = {key: [] for key in keys}
    for index, transition in enumerate(transitions):
        outgoing[transition.source].append(index)
    back: set[int] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in keys:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(outgoing[root]))]
        while stack:
            node, edges = stack[-1]
            index = next(edges, None)
            if index is None:
                state[node] = 2
                stack.pop()
                continue
            target = transitions[index].target
            if state.get(target) == 1:
                back.add(index)
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(outgoing[target])))
    return back


@dataclass
class _Box:
    """A laid-out vertex: a state, the Start/End marker or an edge label; x, y is its centre."""

    key: str
    kind: str  # state, start, end, label
    w: float
    h: float
    reserve: float = 0.0  # room kept free on either side (for self-loops, the redriven badge)
    x: float = 0.0
    y: float = 0.0
    rank: int = 0
    component: int = 0


@dataclass
class _Layout:
    boxes: dict[str, _Box]
    # per transition: the waypoints (x, rank, "dummy" or "label") between its ends, from grandalf
    waypoints: dict[int, list[tuple[float, int, str]]]
    bands: dict[tuple[int, int], tuple[float, float]]  # (component, rank) -> (top, bottom)
    width: float
    height: float

    def shift(self, dx: float, dy: float) -> None:
        """Moves the whole drawing by (dx, dy)."""
        for box in self.boxes.values():
            box.x, box.y = box.x + dx, box.y + dy
        for index, points in self.waypoints.items():
            self.waypoints[index] = [(x + dx, rank, kind) for x, rank, kind in points]
        self.bands = {key: (top + dy, bottom + dy) for key, (top, bottom) in self.bands.items()}


_XSPACE = 34.0
_YSPACE = 34.0


def _layout(boxes: dict[str, _Box], transitions: Sequence[_Transition], back: set[int]) -> _Layout:
    """Sugiyama layout (grandalf) of the boxes; labelled transitions go through their label box."""
    vertices: dict[str, Vertex] = {}
    for key, box in boxes.items():
        vertex = Vertex(key)
        vertex.view = VertexViewer(w=box.w + 2 * box.reserve, h=box.h)  # the box stays centred
        vertices[key] = vertex
    chains: dict[int, list[str]] = {}
    edges: list[Edge] = []
    edge_of: dict[tuple[int, int], Edge] = {}
    inverted: list[Edge] = []
    for index, transition in enumerate(transitions):
        if transition.source == transition.target:
            continue  # self-loops are drawn beside their state
        label = f"label:{index}"
        chain = [transition.source, *([label] if label in boxes else []), transition.target]
        chains[index] = chain
        for step, (a, b) in enumerate(zip(chain, chain[1:], strict=False)):
            edge = Edge(vertices[a], vertices[b])
            edges.append(edge)
            edge_of[index, step] = edge
            if index in back:
                inverted.append(edge)
    graph = Graph(list(vertices.values()), edges)
    order = {key: position for position, key in enumerate(boxes)}
    components = sorted(graph.C, key=lambda core: min(order[v.data] for v in core.sV))
    bands: dict[tuple[int, int], tuple[float, float]] = {}
    layout_of: dict[int, SugiyamaLayout] = {}  # id(edge) -> the layout of its component
    offset = 0.0
    height = 0.0
    for number, core in enumerate(components):
        layout = SugiyamaLayout(core)
        layout.xspace, layout.yspace = _XSPACE, _YSPACE
        layout.dw, layout.dh = 14.0, 12.0  # long edges' dummy vertices: narrow
        ids = {id(edge) for edge in core.sE}
        flipped = [edge for edge in inverted if id(edge) in ids]
        flipped_ids = {id(edge) for edge in flipped}
        heads = {id(edge.v[0] if id(edge) in flipped_ids else edge.v[1]) for edge in core.sE}
        roots = [vertex for vertex in core.sV if id(vertex) not in heads]
        layout.init_all(roots=roots, inverted_edges=flipped)
        layout.draw(3)
        _separate(layout)
        xs = [v.view.xy[0] - v.view.w / 2 for layer in layout.layers for v in layer]
        xe = [v.view.xy[0] + v.view.w / 2 for layer in layout.layers for v in layer]
        left, right = min(xs), max(xe)
        for rank, layer in enumerate(layout.layers):
            centre = layer[0].view.xy[1]
            half = max(v.view.h for v in layer) / 2
            bands[number, rank] = (centre - half, centre + half)
            height = max(height, centre + half)
            for vertex in layer:
                x, y = vertex.view.xy
                vertex.view.xy = (x - left + offset, y)
                if isinstance(vertex, Vertex):
                    box = boxes[vertex.data]
                    box.x = x - left + offset
                    box.y, box.rank, box.component = y, rank, number
        layout_of.update(dict.fromkeys(ids, layout))
        offset += right - left + 2 * _XSPACE
    waypoints: dict[int, list[tuple[float, int, str]]] = {}
    for index, chain in chains.items():
        points: list[tuple[float, int, str]] = []
        for step in range(len(chain) - 1):
            edge = edge_of[index, step]
            layout = layout_of[id(edge)]
            ctrl = layout.ctrls.get(edge, {})
            r0, r1 = layout.grx[edge.v[0]].rank, layout.grx[edge.v[1]].rank
            ranks = range(r0 + 1, r1) if r0 < r1 else range(r0 - 1, r1, -1)
            points.extend((ctrl[rank].view.xy[0], rank, "dummy") for rank in ranks)
            if step < len(chain) - 2:
                label = boxes[chain[step + 1]]
                points.append((label.x - label.w / 2 + 3, label.rank, "label"))
        waypoints[index] = points
    return _Layout(boxes, waypoints, bands, max(offset - 2 * _XSPACE, 0.0), height)


def _separate(layout: SugiyamaLayout) -> None:
    """Brandes-Köpf's averaged coordinates may bring neighbours too close: push them apart."""
    for layer in layout.layers:
        previous = None
        for vertex in sorted(layer, key=lambda v: layout.grx[v].pos):
            if previous is not None:
                least = previous.view.xy[0] + (previous.view.w + vertex.view.w) / 2 + _XSPACE / 2
                if vertex.view.xy[0] < least:
                    vertex.view.xy = (least, vertex.view.xy[1])
            previous = vertex


# --------------------------------------------------------------------------- SVG


_BOX_H = 46.0
_NAME_SIZE = 13.0
_SUB_SIZE = 11.0
_LABEL_SIZE = 10.5
_LABEL_LINE = 13.0
_BADGE_W = 64.0
_MARGIN = 24.0


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _a(value: object) -> str:
    return escape(str(value), {'"': "&quot;"})


def _subtitle(state: Mapping[str, Any], run: StateRun) -> str:
    parts = [str(state.get("Type", "?"))]
    if run.attempts > 1:
        parts.append(f"{run.attempts} attempts")
    if run.error:
        parts.append(_clip(run.error, 28))
    return " · ".join(parts)


def _boxes(
    states: Mapping[str, Any], runs: Mapping[str, StateRun], transitions: Sequence[_Transition]
) -> dict[str, _Box]:
    """Start, the states in definition order, End, then one box per edge label."""
    boxes: dict[str, _Box] = {START: _Box(START, "start", 64, 28)}
    for name, state in states.items():
        run = runs[name]
        width = _text_width(name, _NAME_SIZE, bold=True)
        width = max(width, _text_width(_subtitle(state, run), _SUB_SIZE), 92.0) + 28
        if state.get("Type") == "Choice":
            width += 24  # the pointed ends
        elif state.get("Type") in ("Succeed", "Fail"):
            width += 20  # the round ends
        boxes[name] = _Box(name, "state", round(width), _BOX_H)
        if run.failed_before_redrive:
            boxes[name].reserve = _BADGE_W
    boxes[END] = _Box(END, "end", 64, 28)
    loops: dict[str, list[str]] = {}
    for index, transition in enumerate(transitions):
        if transition.source == transition.target:
            loops.setdefault(transition.source, []).extend(transition.label or ["next"])
        elif transition.label:
            width = max(_text_width(line, _LABEL_SIZE) for line in transition.label) + 16
            height = len(transition.label) * _LABEL_LINE + 4
            boxes[f"label:{index}"] = _Box(f"label:{index}", "label", round(width), height)
    for name, lines in loops.items():
        reach = 22 + 8 * (len(lines) - 1) + max(_text_width(line, _LABEL_SIZE) for line in lines)
        boxes[name].reserve = max(boxes[name].reserve, reach)
    return boxes


def _legend(width: float, top: float) -> tuple[list[str], float]:
    """The colour legend in rows that fit ``width``, and its height."""
    items = [(outcome, _LEGEND[outcome]) for outcome in OUTCOMES]
    items += [("redriven", "Failed before redrive"), ("catch", "Catch")]
    out = ['<g class="legend">']
    x, y = _MARGIN, top
    for key, text in items:
        item_width = 22 + _text_width(text, _SUB_SIZE) + 14
        if x > _MARGIN and x + item_width > width - _MARGIN:
            x, y = _MARGIN, y + 22
        at = f'x="{_n(x)}" y="{_n(y)}" width="16" height="14" rx="3"'
        if key in COLOURS:
            out.append(
                f'<rect class="legend-swatch" data-outcome="{key}" {at} fill="{COLOURS[key]}" stroke="{_STROKE[key]}"/>'
            )
        elif key == "redriven":
            out.append(
                f'<rect class="legend-swatch" data-outcome="redriven" {at} fill="#ffffff" stroke="{_REDRIVEN}" '
                'stroke-width="1.5" stroke-dasharray="3 2"/>'
            )
        else:
            out.append(
                f'<line class="legend-swatch" data-outcome="catch" x1="{_n(x)}" y1="{_n(y + 7)}" x2="{_n(x + 16)}" '
                f'y2="{_n(y + 7)}" stroke="{_EDGE}" stroke-width="1.5" stroke-dasharray="5 3"/>'
            )
        out.append(
            f'<text x="{_n(x + 22)}" y="{_n(y + 11)}" font-size="{_n(_SUB_SIZE)}" fill="#16191f">{escape(text)}</text>'
        )
        x += item_width
    out.append("</g>")
    return out, y + 14 - top


def _port_span(box: _Box, state_type: str) -> float:
    """How much of a box's top or bottom side edges may attach to."""
    if box.kind != "state":
        return box.w * 0.4
    if state_type == "Choice":
        return (box.w - 48) * 0.8  # the flat part
    if state_type in ("Succeed", "Fail"):
        return box.w - box.h - 10  # between the round ends
    return box.w * 0.6


def _ports(
    layout: _Layout, transitions: Sequence[_Transition], back: set[int], states: Mapping[str, Any]
) -> dict[tuple[int, int], float]:
    """(transition, 0 for its start / 1 for its end) -> x where it attaches to its box.

    The edges leaving or entering one side of a box are spread along it, in the order of the
    waypoints they come from or go to, so that they do not cross there.
    """
    sides: dict[tuple[str, bool], list[tuple[float, int, int]]] = {}
    for index, points in layout.waypoints.items():
        transition = transitions[index]
        down = index not in back
        source, target = layout.boxes[transition.source], layout.boxes[transition.target]
        first = points[0][0] if points else target.x
        last = points[-1][0] if points else source.x
        sides.setdefault((transition.source, down), []).append((first, index, 0))  # bottom side when down
        sides.setdefault((transition.target, not down), []).append((last, index, 1))
    ports: dict[tuple[int, int], float] = {}
    for (key, _side), items in sides.items():
        box = layout.boxes[key]
        span = _port_span(box, str(states.get(key, {}).get("Type", "")))
        step = min(18.0, span / (len(items) - 1)) if len(items) > 1 else 0.0
        for position, (_, index, end) in enumerate(sorted(items)):
            ports[index, end] = box.x + (position - (len(items) - 1) / 2) * step
    return ports


def _edge(
    layout: _Layout,
    transition: _Transition,
    points: Sequence[tuple[float, int, str]],
    start: float,
    end: float,
    down: bool,
) -> list[str]:
    """One transition: its path along grandalf's waypoints, the arrowhead and the label.

    The path runs straight down (up for a transition that closes a cycle) through every layer
    it crosses and bends only in the free space between layers, so it never cuts a box.
    """
    source, target = layout.boxes[transition.source], layout.boxes[transition.target]
    sign = 1 if down else -1

    def band(rank: int) -> tuple[float, float]:  # (where the path enters, where it leaves) the layer
        top, bottom = layout.bands[source.component, rank]
        return (top, bottom) if down else (bottom, top)

    y0 = source.y + sign * source.h / 2
    x, y = start, band(source.rank)[1]
    path = [f"M {_n(start)} {_n(y0)}"] + ([f"L {_n(x)} {_n(y)}"] if abs(y - y0) > 0.05 else [])
    stops = [(px, rank) for px, rank, _ in points] + [(end, target.rank)]
    for position, (next_x, rank) in enumerate(stops):
        entry, leave = band(rank)
        middle = (y + entry) / 2
        path.append(f"C {_n(x)} {_n(middle)} {_n(next_x)} {_n(middle)} {_n(next_x)} {_n(entry)}")
        x, y = next_x, entry
        if position < len(stops) - 1:
            path.append(f"L {_n(x)} {_n(leave)}")
            y = leave
    tip = target.y - sign * target.h / 2
    if abs(tip - y) > 0.05:
        path.append(f"L {_n(x)} {_n(tip)}")
    dashed = ' stroke-dasharray="6 4"' if transition.kind == "catch" else ""
    tooltip = f"<title>{escape(transition.tooltip)}</title>" if transition.tooltip else ""
    out = [
        f'<path {_edge_attributes(transition)} d="{" ".join(path)}" fill="none" stroke="{_EDGE}" '
        f'stroke-width="1.5"{dashed}>{tooltip}</path>',
        _arrowhead(x, tip, 0.0, float(sign)),
    ]
    return out


def render_svg(definition: Mapping[str, Any], runs: Mapping[str, StateRun], title: str) -> str:
    """The definition's top-level states as an SVG document, each filled by its outcome in ``runs``."""
    states: Mapping[str, Any] = definition.get("States", {})
    runs = {name: runs.get(name) or StateRun(name, "not_reached", 0, None, False) for name in states}
    transitions = _transitions(definition)
    boxes = _boxes(states, runs, transitions)
    back = _back_transitions([START, *states, END], transitions)
    layout = _layout(boxes, transitions, back)

    # Title, legend, then the graph, centred.
    width = max(layout.width, _text_width(title, 15, bold=True), 380.0) + 2 * _MARGIN
    legend, legend_height = _legend(width, _MARGIN + 14)
    graph_top = _MARGIN + 14 + legend_height + 28
    graph_left = (width - layout.width) / 2
    height = graph_top + layout.height + _MARGIN
    layout.shift(graph_left, graph_top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="{_a(_FONT)}">',
        f"<title>{escape(title)}</title>",
        f'<rect class="background" x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>',
        f'<text class="title" x="{_n(_MARGIN)}" y="{_n(_MARGIN + 4)}" font-size="15" font-weight="bold" '
        f'fill="#16191f">{escape(title)}</text>',
        *legend,
    ]

    # Edges first, so that the boxes are drawn over their ends.
    out.append('<g class="edges">')
    ports = _ports(layout, transitions, back, states)
    for index, points in layout.waypoints.items():
        transition = transitions[index]
        out.extend(_edge(layout, transition, points, ports[index, 0], ports[index, 1], index not in back))
        for x, _rank, kind in points:
            if kind == "label":
                label = boxes[f"label:{index}"]
                out.append(_label(transition.label, x + 7, label.y, label.w - 10))
    loops: dict[str, list[_Transition]] = {}
    for transition in transitions:
        if transition.source == transition.target:
            loops.setdefault(transition.source, []).append(transition)
    for name, looping in loops.items():
        out.extend(_self_loops(boxes[name], looping))
    out.append("</g>")

    out.append('<g class="states">')
    for key, text in ((START, "Start"), (END, "End")):
        box = boxes[key]
        out.append(
            f'<rect class="marker {text.lower()}" x="{_n(box.x - box.w / 2)}" y="{_n(box.y - box.h / 2)}" '
            f'width="{_n(box.w)}" height="{_n(box.h)}" rx="{_n(box.h / 2)}" fill="{_MARKER}"/>'
        )
        out.append(_centred_text(box.x, box.y + 4, text, 12, "#ffffff", bold=True))
    for name, state in states.items():
        out.extend(_state(boxes[name], state, runs[name], badge_left=name in loops))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _edge_attributes(transition: _Transition) -> str:
    return (
        f'class="edge {transition.kind}" data-from="{_a(transition.source)}" '
        f'data-to="{_a(transition.target)}" data-kind="{transition.kind}"'
    )


def _arrowhead(x: float, y: float, dx: float, dy: float) -> str:
    """A filled triangle with its tip at (x, y), pointing along (dx, dy) (a unit vector)."""
    length, half = 9.0, 4.5
    bx, by = x - dx * length, y - dy * length
    px, py = -dy * half, dx * half
    points = f"{_n(x)},{_n(y)} {_n(bx + px)},{_n(by + py)} {_n(bx - px)},{_n(by - py)}"
    return f'<polygon class="arrowhead" points="{points}" fill="{_EDGE}"/>'


def _label(lines: Sequence[str], x: float, y: float, width: float) -> str:
    """Edge label lines left-aligned at x, centred on y, on a white backing."""
    height = len(lines) * _LABEL_LINE
    top = y - height / 2
    parts = [
        f'<g class="edge-label"><rect x="{_n(x - 2)}" y="{_n(top)}" width="{_n(width)}" height="{_n(height + 1)}" '
        f'fill="#ffffff" fill-opacity="0.85"/>'
    ]
    for number, line in enumerate(lines):
        parts.append(
            f'<text x="{_n(x)}" y="{_n(top + (number + 1) * _LABEL_LINE - 3)}" font-size="{_n(_LABEL_SIZE)}" '
            f'fill="#414d5c">{escape(line)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _self_loops(box: _Box, transitions: Sequence[_Transition]) -> list[str]:
    """Loops out of a box's right side and back into it, with their labels beside them."""
    out = []
    right = box.x + box.w / 2
    y0, y1 = box.y - box.h / 4, box.y + box.h / 4
    lines: list[str] = []
    for number, transition in enumerate(transitions):
        reach = 16 + 8 * number
        curve = f"M {_n(right)} {_n(y0)} C {_n(right + reach)} {_n(y0)} {_n(right + reach)} {_n(y1)}"
        dashed = ' stroke-dasharray="6 4"' if transition.kind == "catch" else ""
        out.append(
            f'<path {_edge_attributes(transition)} d="{curve} {_n(right)} {_n(y1)}" '
            f'fill="none" stroke="{_EDGE}" stroke-width="1.5"{dashed}/>'
        )
        out.append(_arrowhead(right, y1, -1.0, 0.0))
        lines.extend(transition.label or ["next"])
    x = right + 16 + 8 * (len(transitions) - 1) + 6
    out.append(_label(lines, x, box.y, max(_text_width(line, _LABEL_SIZE) for line in lines) + 4))
    return out


def _centred_text(x: float, y: float, text: str, size: float, colour: str, bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}"{weight} fill="{colour}" '
        f'text-anchor="middle">{escape(text)}</text>'
    )


def _state(box: _Box, state: Mapping[str, Any], run: StateRun, badge_left: bool = False) -> list[str]:
    """A state's shape (the one element carrying data-state), its text and the redrive marks."""
    state_type = str(state.get("Type", ""))
    outcome = run.outcome if run.outcome in COLOURS else "not_reached"
    fill, stroke, text = COLOURS[outcome], _STROKE[outcome], _TEXT[outcome]
    left, top, right, bottom = box.x - box.w / 2, box.y - box.h / 2, box.x + box.w / 2, box.y + box.h / 2
    tooltip = f"{run.name} ({state_type}): {outcome.replace('_', ' ')}"
    if run.attempts:
        tooltip += f", {run.attempts} attempt{'s' if run.attempts != 1 else ''}"
    if run.error:
        tooltip += f", error {run.error}"
    if run.failed_before_redrive:
        tooltip += ", failed before the redrive"
    common = (
        f'class="state {outcome}" data-state="{_a(run.name)}" data-type="{_a(state_type)}" fill="{fill}" '
        f'stroke="{stroke}"'
    )
    out = ['<g class="state-box">']
    if run.failed_before_redrive:
        out.append(
            f'<rect class="redriven-border" x="{_n(left - 5)}" y="{_n(top - 5)}" width="{_n(box.w + 10)}" '
            f'height="{_n(box.h + 10)}" rx="12" fill="none" stroke="{_REDRIVEN}" stroke-width="2" '
            f'stroke-dasharray="5 3"/>'
        )
    if state_type == "Choice":
        point = 22.0
        corners = [
            (left, box.y),
            (left + point, top),
            (right - point, top),
            (right, box.y),
            (right - point, bottom),
            (left + point, bottom),
        ]
        points = " ".join(f"{_n(x)},{_n(y)}" for x, y in corners)
        out.append(f'<polygon {common} stroke-width="1.5" points="{points}"><title>{escape(tooltip)}</title></polygon>')
    else:
        terminal = state_type in ("Succeed", "Fail")  # a stadium with a heavier outline
        radius = box.h / 2 if terminal else 8.0
        out.append(
            f'<rect {common} stroke-width="{"2.5" if terminal else "1.5"}" x="{_n(left)}" y="{_n(top)}" '
            f'width="{_n(box.w)}" height="{_n(box.h)}" rx="{_n(radius)}"><title>{escape(tooltip)}</title></rect>'
        )
    out.append(_centred_text(box.x, box.y - 3, run.name, _NAME_SIZE, text, bold=True))
    out.append(_centred_text(box.x, box.y + 13, _subtitle(state, run), _SUB_SIZE, text))
    if run.failed_before_redrive:
        # Astride the dashed border, on the side a self-loop does not use.
        bx = left + 4 - _BADGE_W if badge_left else right - 4
        by = box.y - 9
        out.append(
            f'<g class="redriven-badge"><rect x="{_n(bx)}" y="{_n(by)}" width="{_n(_BADGE_W)}" height="18" rx="9" '
            f'fill="{_REDRIVEN}" stroke="#ffffff" stroke-width="1.5"/>'
            + _centred_text(bx + _BADGE_W / 2, by + 13, "redriven", 10.5, "#ffffff", bold=True)
            + "</g>"
        )
    out.append("</g>")
    return out
