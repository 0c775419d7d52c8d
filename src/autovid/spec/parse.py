"""Validating a decoded JSON body into a :class:`JobSpec`.

``parse_spec(raw, limits)`` returns a :class:`JobSpec` or raises :class:`InvalidSpecError` listing
every problem at once, each with its field path (``timeline[3].data.assetId``).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from autovid.core.config import Limits
from autovid.core.errors import FieldError, InvalidSpecError
from autovid.spec.models import JobSpec
from autovid.spec.stored_numbers import UNSTORABLE_NUMBER, unstorable_numbers


def format_path(loc: tuple[int | str, ...]) -> str:
    """('timeline', 3, 'tts', 'data', 'assetId') -> 'timeline[3].data.assetId'."""
    parts = [
        part
        for i, part in enumerate(loc)
        # pydantic inserts the discriminator tag after the event index; users never wrote it.
        if not (part in ("tts", "audio") and i >= 2 and loc[i - 2] == "timeline" and isinstance(loc[i - 1], int))
    ]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "":
            out += '[""]'  # an empty key, which a dotted path cannot show
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "is required"
    if kind == "union_tag_invalid":
        return f"unknown event type {error.get('input', {}).get('type')!r}: expected 'tts' or 'audio'"
    if kind == "union_tag_not_found":
        return "is missing 'type': expected 'tts' or 'audio'"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def _cross_field_errors(raw: dict[str, Any]) -> list[FieldError]:
    """Asset ids are unique; playlist ids and assetIds name audio assets. Tolerates bad structure."""
    errors: list[FieldError] = []
    assets = raw.get("assets") if isinstance(raw.get("assets"), dict) else {}
    video = assets.get("video") if isinstance(assets.get("video"), dict) else {}
    audio = assets.get("audio") if isinstance(assets.get("audio"), list) else []

    seen: dict[str, str] = {}
    if isinstance(video.get("id"), str):
        seen[video["id"]] = "assets.video.id"
    audio_ids: set[str] = set()
    for i, asset in enumerate(audio):
        asset_id = asset.get("id") if isinstance(asset, dict) else None
        if not isinstance(asset_id, str):
            continue
        if asset_id in seen:
            errors.append(
                FieldError(f"assets.audio[{i}].id", f"duplicate asset id {asset_id!r} (also {seen[asset_id]})")
            )
        else:
            seen[asset_id] = f"assets.audio[{i}].id"
        audio_ids.add(asset_id)

    music = raw.get("backgroundMusic")
    if isinstance(music, dict) and isinstance(music.get("playlist"), list):
        for i, asset_id in enumerate(music["playlist"]):
            if isinstance(asset_id, str) and asset_id not in audio_ids:
                errors.append(FieldError(f"backgroundMusic.playlist[{i}]", f"unknown audio asset {asset_id!r}"))

    timeline = raw.get("timeline")
    if isinstance(timeline, list):
        for i, event in enumerate(timeline):
            if not (isinstance(event, dict) and event.get("type") == "audio" and isinstance(event.get("data"), dict)):
                continue
            asset_id = event["data"].get("assetId")
            if isinstance(asset_id, str) and asset_id not in audio_ids:
                errors.append(FieldError(f"timeline[{i}].data.assetId", f"unknown audio asset {asset_id!r}"))
    return errors


def _limit_errors(raw: dict[str, Any], limits: Limits) -> list[FieldError]:
    errors: list[FieldError] = []
    timeline = raw.get("timeline")
    if isinstance(timeline, list):
        if len(timeline) > limits.max_timeline_events:
            errors.append(
                FieldError("timeline", f"has {len(timeline)} events; the limit is {limits.max_timeline_events}")
            )
        else:
            for i, event in enumerate(timeline):
                data = event.get("data") if isinstance(event, dict) else None
                text = data.get("text") if isinstance(data, dict) else None
                if isinstance(text, str) and len(text) > limits.max_tts_chars:
                    errors.append(
                        FieldError(
                            f"timeline[{i}].data.text",
                            f"has {len(text)} characters; the limit is {limits.max_tts_chars}",
                        )
                    )
    music = raw.get("backgroundMusic")
    if isinstance(music, dict) and isinstance(music.get("playlist"), list):
        if len(music["playlist"]) > limits.max_playlist_items:
            errors.append(
                FieldError(
                    "backgroundMusic.playlist",
                    f"has {len(music['playlist'])} items; the limit is {limits.max_playlist_items}",
                )
            )
    return errors


def parse_spec(raw: Any, limits: Limits) -> JobSpec:
    """Validate a decoded JSON body against the deployment's ``limits``. Raises InvalidSpecError
    with every field error."""
    if not isinstance(raw, dict):
        raise InvalidSpecError([FieldError("body", "the job spec must be a JSON object")])
    errors = _limit_errors(raw, limits)
    if any(e.field == "timeline" for e in errors):
        # 10,000 events would produce 10,000 errors; the count is the one that matters.
        raise InvalidSpecError(errors)
    spec: JobSpec | None = None
    try:
        spec = JobSpec.model_validate(raw, context=limits)
    except ValidationError as exc:
        errors.extend(FieldError(format_path(e["loc"]), _message(e)) for e in exc.errors())
    errors.extend(_cross_field_errors(raw))
    if spec is not None:
        errors.extend(
            FieldError(format_path(path), UNSTORABLE_NUMBER) for path in unstorable_numbers(spec.to_json_dict())
        )
    if errors or spec is None:
        raise InvalidSpecError(sorted(set(errors), key=lambda e: (e.field, e.message)))
    return spec
