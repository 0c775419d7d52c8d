"""``autovid render SPEC -o OUT.mp4``: render a spec whose sources are local files, offline.

Sources are paths relative to the spec file. The spec is validated like an API submission, with
each local path standing in for an upload, and the result is moved to ``-o``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from autovid.config import RenderSettings
from autovid.errors import AutoVidError, InvalidSpecError
from autovid.render.engine import render
from autovid.render.fetch import AssetFetcher
from autovid.spec import parse_spec, resolve_local_sources

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="job spec JSON; local sources are relative to this file")
    parser.add_argument("-o", "--output", required=True, help="where to write the MP4")
    parser.add_argument(
        "--tts-provider",
        choices=("aws-polly", "espeak-ng"),
        help="use this TTS provider for every event (same as TTS_PROVIDER)",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    parser.add_argument("--json", action="store_true", help="print the result (or the error) as JSON only")


def run_from_args(args: argparse.Namespace) -> int:
    return render_command(
        args.spec,
        args.output,
        progress=not (args.no_progress or args.json),
        tts_provider=args.tts_provider,
        as_json=args.json,
    )


def render_command(
    spec_path: str, output: str, progress: bool = True, tts_provider: str | None = None, *, as_json: bool = False
) -> int:
    """Render and return a process exit code (0 ok, 1 render failed, 2 invalid spec or input)."""
    spec_file = Path(spec_path)
    try:
        raw = json.loads(spec_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return _report_error(f"cannot read {spec_path}: {exc}", [], as_json, EXIT_INVALID)
    local_files: dict[str, Path] = {}
    try:
        rewritten = local_sources_as_uris(raw, spec_file.parent, local_files)
        spec = parse_spec(rewritten)
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
            AssetFetcher(Path(workdir), settings=settings, local_files=local_files) as fetcher,
        ):
            result = render(spec, workdir, bar.update_to if bar else None, fetcher=fetcher, settings=settings)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autovid render", description=__doc__.splitlines()[0])
    add_render_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
