"""Job specs that name local files: each local source is swapped for where it was put."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


def resolve_local_sources(raw: dict[str, Any], resolve: Callable[[str], str]) -> tuple[dict[str, Any], str | None]:
    """Rewrite every non-URL source with ``resolve`` (for example an upload that returns an
    ``s3://`` URI). A local ``output.destination`` is removed and returned, so the caller can
    download the result there; an ``s3://`` destination is left alone."""
    spec = dict(raw)
    assets = dict(spec.get("assets") or {})
    if isinstance(assets.get("video"), dict):
        video = dict(assets["video"])
        video["source"] = _resolved(video.get("source"), resolve)
        assets["video"] = video
    if isinstance(assets.get("audio"), list):
        assets["audio"] = [
            {**a, "source": _resolved(a.get("source"), resolve)} if isinstance(a, dict) else a for a in assets["audio"]
        ]
    spec["assets"] = assets
    local_destination = None
    output = spec.get("output")
    if isinstance(output, dict) and isinstance(output.get("destination"), str):
        if not urlsplit(output["destination"]).scheme:
            output = dict(output)
            local_destination = output.pop("destination")
            spec["output"] = output
    return spec, local_destination


def _resolved(source: Any, resolve: Callable[[str], str]) -> Any:
    if isinstance(source, str) and not urlsplit(source).scheme:
        return resolve(source)
    return source
