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


def run_from_args(args: argparse.Namespace) -> int:
    return render_command(args.spec, args.output, progress=not args.no_progress, tts_provider=args.tts_provider)


def render_command(spec_path: str, output: str, progress: bool = True, tts_provider: str | None = None) -> int:
    """Render and return a process exit code (0 ok, 1 render failed, 2 invalid spec or input)."""
    spec_file = Path(spec_path)
    try:
        raw = json.loads(spec_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read {spec_path}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    local_files: dict[str, Path] = {}
    try:
        rewritten = local_sources_as_uris(raw, spec_file.parent, local_files)
        spec = parse_spec(rewritten)
    except InvalidSpecError as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID

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
    except AutoVidError as exc:
        where = ", ".join(x for x in (exc.field, exc.asset_id and f"asset {exc.asset_id}") if x)
        print(f"\nerror: {exc}" + (f" ({where})" if where else ""), file=sys.stderr)
        return EXIT_INVALID if isinstance(exc, InvalidSpecError) else EXIT_FAILED
    finally:
        if bar:
            bar.close()
    print(f"wrote {out} ({result.duration:.2f}s, {result.size_bytes / 1e6:.1f} MB)")
    return EXIT_OK


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
