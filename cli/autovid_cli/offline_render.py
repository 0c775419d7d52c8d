"""Rendering a spec whose sources are local files, offline, with the product's render engine.

Sources are paths relative to the spec file. The spec is validated like an API submission, with
each local path standing in for an upload (an ``s3://`` URI that :class:`LocalFileFetcher` maps
back to the file), and the result is moved to ``-o``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autovid.core.config import Limits, RenderSettings
from autovid.core.errors import AssetNotFoundError, AutoVidError, InvalidSpecError
from autovid.render.engine import render
from autovid.render.fetch import AssetFetcher
from autovid.spec import parse_spec
from autovid_cli.local_sources import resolve_local_sources

if TYPE_CHECKING:
    from autovid_cli.render_start import VideoMeasure

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class LocalFileFetcher(AssetFetcher):
    """An asset fetcher that serves the stand-in URIs of local files from the files themselves
    (no copy), and fetches any other source as the service does."""

    def __init__(self, parent_dir: Path, local_files: dict[str, Path], **options: Any):
        super().__init__(parent_dir, **options)
        self.local_files = dict(local_files)

    def fetch(self, source: str, *, asset_id: str | None = None) -> Path:
        path = self.local_files.get(source)
        if path is None:
            return super().fetch(source, asset_id=asset_id)
        if not path.is_file():
            raise AssetNotFoundError(f"{path} does not exist", asset_id=asset_id)
        return path


def run_from_args(args: argparse.Namespace, video_measure: VideoMeasure | None = None) -> int:
    return render_command(
        args.spec,
        args.output,
        progress=not (args.no_progress or args.json),
        tts_provider=args.tts_provider,
        as_json=args.json,
        video_measure=video_measure,
    )


def render_command(
    spec_path: str,
    output: str,
    progress: bool = True,
    tts_provider: str | None = None,
    *,
    as_json: bool = False,
    video_measure: VideoMeasure | None = None,
) -> int:
    """Render and return a process exit code (0 ok, 1 render failed, 2 invalid spec or input).

    ``video_measure``, started by the caller before the engine was imported, gives the video's
    length, so the render does not list its packets a second time."""
    spec_file = Path(spec_path)
    try:
        raw = json.loads(spec_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return _report_error(f"cannot read {spec_path}: {exc}", [], as_json, EXIT_INVALID)
    local_files: dict[str, Path] = {}
    try:
        rewritten = local_sources_as_uris(raw, spec_file.parent, local_files)
        limits = Limits()
        spec = parse_spec(rewritten, limits)
    except InvalidSpecError as exc:
        return _report_error("invalid job spec", [e.as_dict() for e in exc.errors], as_json, EXIT_INVALID)

    overrides: dict[str, Any] = {"TTS_PROVIDER": tts_provider} if tts_provider else {}
    settings = RenderSettings(**overrides)
    out = Path(output).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    bar = _progress_bar() if progress else None
    try:
        with (
            tempfile.TemporaryDirectory(prefix=".autovid-render-", dir=out.parent) as workdir,
            LocalFileFetcher(
                Path(workdir), local_files, settings=settings, max_bytes=limits.max_asset_bytes
            ) as fetcher,
        ):
            video_duration = video_measure.duration() if video_measure is not None else None
            result = render(
                spec, workdir, bar.update_to if bar else None, fetcher=fetcher, video_duration=video_duration
            )
            os.replace(result.output_path, out)
    except InvalidSpecError as exc:
        return _report_error("invalid job spec", [e.as_dict() for e in exc.errors], as_json, EXIT_INVALID)
    except AutoVidError as exc:
        code = EXIT_FAILED
        details = [{"field": exc.field, "message": exc.message, "assetId": exc.asset_id}]
        where = ", ".join(x for x in (exc.field, exc.asset_id and f"asset {exc.asset_id}") if x)
        return _report_error(f"{exc}" + (f" ({where})" if where and not as_json else ""), details, as_json, code)
    finally:
        if bar:
            bar.close()
    if as_json:
        print(json.dumps({"output": str(out), "duration": result.duration, "size": result.size_bytes,
                          "videoCopied": result.video_copied}))  # fmt: skip
    else:
        print(f"wrote {out} ({result.duration:.2f}s, {result.size_bytes / 1e6:.1f} MB)")
    return EXIT_OK


def _report_error(message: str, details: list[dict[str, Any]], as_json: bool, code: int) -> int:
    if as_json:
        print(json.dumps({"error": message, "details": details}))
    else:
        print(f"error: {message}", file=sys.stderr)
        for detail in details:
            if detail.get("field") and detail.get("message") != message:
                print(f"error: {detail['field']}: {detail['message']}", file=sys.stderr)
    return code


def local_sources_as_uris(raw: Any, base: Path, local_files: dict[str, Path]) -> Any:
    """Swap each local path for a stand-in ``s3://`` URI the fetcher maps back to the file."""

    def stand_in(path: str) -> str:
        uri = f"s3://autovid-local-file/{len(local_files)}/{Path(path).name}"
        local_files[uri] = (base / path).resolve()
        return uri

    if not isinstance(raw, dict):
        return raw
    rewritten, _local_destination = resolve_local_sources(raw, stand_in)
    return rewritten


def _progress_bar():  # noqa: ANN202 - tqdm with an update_to helper
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", desc="rendering", bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")

    def update_to(percent: int) -> None:
        bar.update(percent - bar.n)

    bar.update_to = update_to  # type: ignore[attr-defined]
    return bar
