"""``autovid render SPEC -o OUT.mp4``: render a spec whose sources are local files, offline.

Only the arguments are declared here; the render engine is imported when the command runs.
"""

from __future__ import annotations

from typing import Any

from autovid_cli.commands import lazy


def add_render_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render a spec with local sources to an MP4, offline (no stack needed)",
        description="Render SPEC with the render engine alone; its local sources are relative to the spec file.",
    )
    parser.add_argument("spec", help="job spec JSON; local sources are relative to this file")
    parser.add_argument("-o", "--output", required=True, help="where to write the MP4")
    parser.add_argument(
        "--tts-provider",
        choices=("aws-polly", "espeak-ng"),
        help="use this TTS provider for every event (same as TTS_PROVIDER)",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    parser.add_argument("--json", action="store_true", help="print the result (or the error) as JSON only")
    parser.set_defaults(run=lazy("autovid_cli.render_start", "run_from_args"))
