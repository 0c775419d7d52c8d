"""Generated bodies thrown at submit: valid specs are accepted (202); near-valid specs and garbage
never cause a 5xx, and every 4xx detail names a field path and a reason.

``COUNTS`` records, per class, how many bodies were generated and how submit answered; the
summary is printed when the module ends (``pytest -s``) and each test checks its own count.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FakeLambdaContext, api_event, load_handler_module, minimal_spec

Submit = Callable[..., dict]  # (body, content_type="application/json") -> proxy response

# (class, "generated" | "2xx" | "4xx" | "5xx") -> count, over the whole module.
COUNTS: Counter[tuple[str, str]] = Counter()
CLASSES = ("valid", "near-valid", "garbage")
EXAMPLES = {"valid": 400, "near-valid": 450, "garbage": 300}  # 1,150 in all

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# --- valid specs (what spec.py accepts) --------------------------------------------------------

asset_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}", fullmatch=True)
UNKNOWN_ID = "unknown-asset-000000"  # a valid id longer than any generated one, so never declared
unit = st.sampled_from([0, 0.0, 0.5, 1, 1.0]) | st.floats(min_value=1e-6, max_value=1.0)
seconds = st.just(0) | st.integers(0, 600) | st.floats(min_value=1e-6, max_value=600.0)
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,11}(\.[a-z][a-z0-9-]{0,11}){1,3}", fullmatch=True).filter(
    lambda host: not host.endswith("localhost")
) | st.sampled_from(["8.8.8.8", "1.1.1.1", "[2606:4700:4700::1111]", "cdn.example.com:8443"])
url_paths = st.text(alphabet=string.ascii_letters + string.digits + "-._~/%", max_size=30)
https_urls = st.builds(lambda host, path: f"https://{host}/{path}", hosts, url_paths)
buckets = st.from_regex(r"[a-z0-9][a-z0-9.-]{2,20}", fullmatch=True)
keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda k: k.strip("/"))
sources = st.builds(lambda bucket, key: f"s3://{bucket}/{key}", buckets, keys) | https_urls
filenames = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"), min_size=1, max_size=40
).filter(lambda name: ".." not in name and name.strip() not in ("", "."))
bitrates = st.from_regex(r"[1-9][0-9]{0,5}(\.[0-9]{1,3})?[kKmM]?", fullmatch=True)
metadata_values = (
    st.text(max_size=20)
    | st.booleans()
    | st.integers(-(10**18), 10**18)
    | st.just(0.0)
    | st.floats(min_value=1e-6, max_value=1e9)
    | st.floats(min_value=-1e9, max_value=-1e-6)
)


def maybe(draw: st.DrawFn, target: dict, key: str, strategy: st.SearchStrategy[Any]) -> None:
    """Set ``target[key]`` from ``strategy``, or leave the default."""
    if draw(st.booleans()):
        target[key] = draw(strategy)


@st.composite
def tts_events(draw: st.DrawFn) -> dict:
    data: dict[str, Any] = {"text": draw(st.text(min_size=1, max_size=120).filter(str.strip))}
    maybe(draw, data, "provider", st.sampled_from(["aws-polly", "espeak-ng"]))
    if draw(st.booleans()):
        config: dict[str, Any] = {}
        maybe(draw, config, "voiceId", st.text(min_size=1, max_size=64))
        maybe(draw, config, "engine", st.sampled_from(["standard", "neural", "long-form", "generative"]))
        maybe(draw, config, "languageCode", st.from_regex(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}", fullmatch=True))
        maybe(draw, config, "textType", st.sampled_from(["text", "ssml"]))
        data["providerConfig"] = config
    maybe(draw, data, "volume", unit)
    maybe(draw, data, "duckingLevel", unit | st.none())
    maybe(draw, data, "duckingFadeDuration", seconds)
    return {"type": "tts", "start": draw(seconds), "data": data}


@st.composite
def audio_events(draw: st.DrawFn, audio_ids: list[str]) -> dict:
    data: dict[str, Any] = {"assetId": draw(st.sampled_from(audio_ids))}
    maybe(draw, data, "volume", unit)
    maybe(draw, data, "duckingLevel", unit | st.none())
    maybe(draw, data, "duckingFadeDuration", seconds)
    return {"type": "audio", "start": draw(seconds), "data": data}


@st.composite
def valid_specs(draw: st.DrawFn) -> dict:
    """Varied, valid: timelines of tts and audio events, playlists, encodings, destinations..."""
    video_id = draw(asset_ids)
    audio_ids = draw(st.lists(asset_ids.filter(lambda i: i != video_id), unique=True, max_size=5))
    video: dict[str, Any] = {"id": video_id, "source": draw(sources)}
    maybe(draw, video, "volume", unit)
    spec: dict[str, Any] = {
        "assets": {"video": video, "audio": [{"id": i, "source": draw(sources)} for i in audio_ids]},
        "output": {"filename": draw(filenames)},
    }
    events = tts_events() | audio_events(audio_ids) if audio_ids else tts_events()
    maybe(draw, spec, "timeline", st.lists(events, max_size=12))
    if audio_ids and draw(st.booleans()):
        music: dict[str, Any] = {"playlist": draw(st.lists(st.sampled_from(audio_ids), min_size=1, max_size=6))}
        maybe(draw, music, "loop", st.booleans())
        maybe(draw, music, "volume", unit)
        maybe(draw, music, "crossfadeDuration", st.just(0) | st.floats(min_value=1e-3, max_value=10.0))
        spec["backgroundMusic"] = music
    if draw(st.booleans()):
        encoding: dict[str, Any] = {}
        maybe(draw, encoding, "preset", st.sampled_from(["ultrafast", "fast", "medium", "slow", "veryslow"]))
        maybe(draw, encoding, "bitrate", bitrates)
        maybe(draw, encoding, "audio_bitrate", bitrates)
        maybe(draw, encoding, "fps", st.integers(1, 120) | st.floats(min_value=0.5, max_value=120.0))
        spec["output"]["encoding"] = encoding
    maybe(
        draw,
        spec["output"],
        "destination",
        st.builds(  # where this deployment may write: the managed bucket's outputs/
            lambda parts, slash: f"s3://{MANAGED_BUCKET}/outputs/{'/'.join(parts)}{slash}",
            st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True), max_size=3),
            st.sampled_from(["", "/"]),
        ),
    )
    if draw(st.booleans()):
        info: dict[str, Any] = {}
        maybe(draw, info, "projectId", st.text(min_size=1, max_size=30))
        maybe(draw, info, "title", st.text(max_size=40))
        maybe(draw, info, "tags", st.lists(st.text(min_size=1, max_size=10), max_size=5))
        spec["jobInfo"] = info
    if draw(st.booleans()):
        webhook: dict[str, Any] = {"url": draw(https_urls)}
        maybe(draw, webhook, "method", st.sampled_from(["POST", "PUT"]))
        header_names = st.from_regex(r"X-[A-Za-z0-9-]{1,10}", fullmatch=True)  # tokens the service does not set
        header_values = st.from_regex(r"[ -~]{0,20}", fullmatch=True)  # printable ASCII
        maybe(draw, webhook, "headers", st.dictionaries(header_names, header_values, max_size=4))
        maybe(draw, webhook, "metadata", st.dictionaries(st.text(max_size=10), metadata_values, max_size=4))
        spec["notifications"] = {"webhook": webhook}
    maybe(draw, spec, "$schema", st.text(max_size=30))
    return spec


# --- near-valid specs ----------------------------------------------------------------------------

MANAGED_BUCKET = "auto-vid-s3-bucket-test-123456789012"  # tests/conftest.py's S3_BUCKET_NAME
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
SPEC_PATHS = [
    ("assets",),
    ("assets", "video"),
    ("assets", "video", "source"),
    ("assets", "video", "volume"),
    ("assets", "audio"),
    ("backgroundMusic",),
    ("backgroundMusic", "playlist"),
    ("backgroundMusic", "crossfadeDuration"),
    ("timeline",),
    ("output",),
    ("output", "filename"),
    ("output", "destination"),
    ("output", "encoding"),
    ("jobInfo",),
    ("notifications",),
]


def set_at(spec: dict, path: tuple[str | int, ...], value: Any) -> dict:
    target: Any = spec
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(target, dict) else target[key]
    target[path[-1]] = value
    return spec


@st.composite
def replaced_parts(draw: st.DrawFn) -> dict:
    """A valid spec (minimal or generated) with one part replaced by random JSON."""
    spec = draw(st.just(minimal_spec()) | valid_specs())
    return set_at(spec, draw(st.sampled_from(SPEC_PATHS)), draw(json_values))


@st.composite
def mutated_events(draw: st.DrawFn) -> dict:
    spec = minimal_spec()
    event = spec["timeline"][draw(st.integers(0, 1))]
    event[draw(st.sampled_from(["start", "type", "data"]))] = draw(json_values)
    return spec


def appended(spec: dict, section: tuple[str, ...], item: Any) -> tuple[dict, int]:
    """Append ``item`` to the list at ``section``; returns the spec and the item's index."""
    target: Any = spec
    for key in section[:-1]:
        target = target[key]
    items = target.setdefault(section[-1], [])
    items.append(item)
    return spec, len(items) - 1


@st.composite
def broken_specs(draw: st.DrawFn) -> tuple[dict, str]:
    """A valid spec with one known fault; returns it and the field path the 400 must name."""
    spec = draw(valid_specs())
    fault = draw(st.integers(0, 11))
    if fault == 0:
        bad = ["http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", "https://localhost/x.mp4"]
        bad += ["https://[::1]/x.mp4", "https://10.0.0.1/x", "ftp://host/x", "s3://bucket", "s3://bucket/", ""]
        spec["assets"]["video"]["source"] = draw(st.sampled_from(bad))
        return spec, "assets.video.source"
    if fault == 1:
        spec["output"]["filename"] = draw(st.sampled_from(["../../x.mp4", "a/b.mp4", "..", "", ".", "x\x07.mp4"]))
        return spec, "output.filename"
    if fault == 2:
        spec["assets"]["video"]["volume"] = draw(st.sampled_from([-0.5, -1e-9, 1.01, "NaN", "Infinity", 1e200]))
        return spec, "assets.video.volume"
    if fault == 3:
        start = draw(st.sampled_from([-1, -1e-9, "NaN", 1e200, 1e-200, None, "soon"]))
        spec, i = appended(spec, ("timeline",), {"type": "tts", "start": start, "data": {"text": "hi"}})
        return spec, f"timeline[{i}].start"
    if fault == 4:
        spec, i = appended(spec, ("timeline",), {"type": "tts", "start": 0, "data": {"text": "a" * 3001}})
        return spec, f"timeline[{i}].data.text"
    if fault == 5:
        spec, i = appended(spec, ("timeline",), {"type": "audio", "start": 0, "data": {"assetId": UNKNOWN_ID}})
        return spec, f"timeline[{i}].data.assetId"
    if fault == 6:
        video_id = spec["assets"]["video"]["id"]
        spec, i = appended(spec, ("assets", "audio"), {"id": video_id, "source": "s3://bucket/dup.mp3"})
        return spec, f"assets.audio[{i}].id"
    if fault == 7:
        spec["backgroundMusic"] = {"playlist": [UNKNOWN_ID]}
        return spec, "backgroundMusic.playlist[0]"
    if fault == 8:
        spec["output"]["destination"] = draw(st.sampled_from(["s3://b/outputs/../work/", "/tmp/out/", "s3:///x"]))
        return spec, "output.destination"
    if fault == 9:
        field, value = draw(st.sampled_from([("fps", 0), ("fps", 121), ("preset", "insane"), ("bitrate", "fast")]))
        spec["output"]["encoding"] = {field: value}
        return spec, f"output.encoding.{field}"
    if fault == 10:
        spec["notifications"] = {"webhook": {"url": draw(st.sampled_from(["ftp://x/y", "http://x/y", "x"]))}}
        return spec, "notifications.webhook.url"
    unknown = draw(st.sampled_from(["extra", "Assets", "timeLine"]))
    spec[unknown] = draw(st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.just({}))
    return spec, unknown


# --- garbage -------------------------------------------------------------------------------------

garbage_bodies = (
    json_values.map(json.dumps)
    | st.dictionaries(
        st.sampled_from(["assets", "timeline", "output", "backgroundMusic"]) | st.text(), json_values
    ).map(json.dumps)
    | st.text(max_size=200)
    | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
)
content_types = st.sampled_from(["application/json", "application/problem+json", "text/plain", None])


# --- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary() -> Iterator[None]:
    yield
    lines = [
        f"  {cls:<10} generated {COUNTS[cls, 'generated']:>5}: 2xx {COUNTS[cls, '2xx']:>5}, "
        f"4xx {COUNTS[cls, '4xx']:>5}, 5xx {COUNTS[cls, '5xx']:>3}"
        for cls in CLASSES
    ]
    total = sum(COUNTS[cls, "generated"] for cls in CLASSES)
    print("\nsubmit fuzz:\n" + "\n".join(lines) + f"\n  total      generated {total:>5}")


@pytest.fixture
def submit(aws: dict) -> Submit:
    module = load_handler_module("submit_job")

    def call(body: str, content_type: str | None = "application/json") -> dict:
        headers = {"Content-Type": content_type} if content_type else {}
        return module.handler(api_event("POST", "/jobs", body=body, headers=headers), FakeLambdaContext())

    return call


def answered(cls: str, response: dict) -> dict:
    """Count the answer; never a 5xx, and a 4xx names a field and a reason in every detail."""
    status = response["statusCode"]
    COUNTS[cls, "generated"] += 1
    COUNTS[cls, f"{status // 100}xx"] += 1
    assert status < 500, response["body"]
    payload = json.loads(response["body"])
    if status >= 400:
        assert payload["details"], payload
        for detail in payload["details"]:
            assert set(detail) == {"field", "message"}, detail
            assert isinstance(detail["field"], str) and detail["field"], payload
            assert isinstance(detail["message"], str) and detail["message"], payload
    else:
        assert status == 202, payload
    return payload


def test_valid_specs_are_accepted(submit: Submit) -> None:
    @settings(FUZZ, max_examples=EXAMPLES["valid"])
    @given(spec=valid_specs())
    def check(spec: dict) -> None:
        payload = answered("valid", submit(json.dumps(spec)))
        assert payload.get("status") == "submitted", payload

    check()
    assert COUNTS["valid", "generated"] >= 350


def test_near_valid_specs_are_answered_4xx_or_202_never_5xx(submit: Submit) -> None:
    @settings(FUZZ, max_examples=EXAMPLES["near-valid"])
    @given(case=broken_specs() | replaced_parts().map(lambda s: (s, None)) | mutated_events().map(lambda s: (s, None)))
    def check(case: tuple[dict, str | None]) -> None:
        spec, faulty_field = case
        payload = answered("near-valid", submit(json.dumps(spec)))
        if faulty_field is not None:  # a known fault: a 400 that names it
            assert faulty_field in {d["field"] for d in payload.get("details", [])}, (faulty_field, payload)

    check()
    assert COUNTS["near-valid", "generated"] >= 400


def test_garbage_is_answered_4xx_never_5xx(submit: Submit) -> None:
    @settings(FUZZ, max_examples=EXAMPLES["garbage"])
    @given(body=garbage_bodies, content_type=content_types)
    def check(body: str, content_type: str | None) -> None:
        answered("garbage", submit(body, content_type))

    check()
    assert COUNTS["garbage", "generated"] >= 250
