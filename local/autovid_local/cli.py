"""The ``autovid`` command.

Each subcommand is one ``add_<name>_command(subparsers)`` function that declares its
arguments and sets ``run``; register it by adding it to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shlex
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Subparsers = Any  # argparse's _SubParsersAction is private
CommandRegistration = Callable[[Subparsers], None]


# --- autovid up ---------------------------------------------------------------------------


def add_up_command(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run template.yaml locally: AWS endpoint, Step Functions, Lambdas, pipes and the REST API",
        description="Run the stack locally until Ctrl-C. No AWS account and no Docker needed.",
    )
    parser.add_argument("--template", default="template.yaml", type=Path, help="SAM template (default: %(default)s)")
    parser.add_argument("--api-port", type=int, default=3000, help="REST API port (default: %(default)s)")
    parser.add_argument("--aws-port", type=int, default=4566, help="AWS endpoint port (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--stack-name", default="auto-vid-local", help="AWS::StackName (default: %(default)s)")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        type=name_value,
        metavar="NAME=VALUE",
        help="template parameter override (repeatable)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        type=name_value,
        metavar="NAME=VALUE",
        help="environment variable for every function, over the template's (repeatable); the shell's "
        "own variables do not reach the functions",
    )
    parser.add_argument(
        "--log-dir",
        default=Path(".autovid") / "logs",
        type=Path,
        help="where each function's output goes, one <FunctionLogicalId>.log per function (default: %(default)s)",
    )
    parser.add_argument(
        "--function-logs",
        action="store_true",
        help="also print what the functions write to this terminal (their log files get it either way)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging; implies --function-logs")
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="require this x-api-key on the routes whose template Auth requires an API key (as API Gateway does)",
    )
    parser.add_argument("--json", action="store_true", help="print the endpoints and outputs as one JSON line")
    parser.set_defaults(run=run_up)


def name_value(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def run_up(args: argparse.Namespace) -> int:
    from autovid_local.errors import LocalRuntimeError
    from autovid_local.runtime import LocalRuntime

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )
    if not args.verbose:
        for noisy in ("botocore", "urllib3", "moto"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # moto's interpreter logs every caught Task error at ERROR; our execution line says it once.
        logging.getLogger("moto.stepfunctions.parser.asl").setLevel(logging.CRITICAL)
    overrides = {**local_parameter_defaults(args.template), **dict(args.parameter)}
    runtime = LocalRuntime(
        args.template,
        host=args.host,
        api_port=args.api_port,
        aws_port=args.aws_port,
        stack_name=args.stack_name,
        parameter_overrides=overrides,
        log_dir=args.log_dir,
        echo_function_output=args.verbose or args.function_logs,
        function_environment=dict(args.env),
        api_key=args.api_key,
    )
    # Ctrl-C and SIGTERM only set a flag, which the main loop polls: no KeyboardInterrupt lands in
    # the middle of start-up output or of the runtime's own code, and the handler takes no lock (a
    # handler that called Event.set() could interrupt the main thread inside that same Event).
    stop_requested: list[int] = []
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda signum, _frame: stop_requested.append(signum))
    try:
        runtime.start()
    except (LocalRuntimeError, OSError) as error:
        print(f"autovid up: {error}", file=sys.stderr)
        return 1
    from autovid_local.client import remove_local_stack_file, write_local_stack_file

    stack_file = None
    try:
        if runtime.api_url:
            stack_file = write_local_stack_file(
                runtime.api_url, runtime.outputs(), runtime.client_environment(), api_key=runtime.api_key
            )
        if args.json:
            print(json.dumps(startup_summary(runtime)), flush=True)
        else:
            print(startup_banner(runtime), flush=True)
        while not stop_requested:
            time.sleep(0.2)
    finally:
        # With --json, stdout carries only the JSON line.
        progress = sys.stderr if args.json else sys.stdout
        print("\nstopping ...", file=progress, flush=True)
        if stack_file is not None:
            remove_local_stack_file(runtime.api_url)  # `autovid submit` must not target a stopped stack
        runtime.stop()
        print("stopped", file=progress, flush=True)
    return 0


def local_parameter_defaults(template_path: Path) -> dict[str, str]:
    """Offline speech by default (moto's Polly returns no audio), when the template has the knob."""
    from cfnlint.decode import decode

    document, _ = decode(str(template_path))
    return {"TtsProvider": "espeak-ng"} if "TtsProvider" in ((document or {}).get("Parameters") or {}) else {}


def startup_summary(runtime: Any) -> dict[str, Any]:
    """What ``--json`` prints: where everything is, for scripts."""
    return {
        "awsEndpoint": runtime.aws_endpoint_url,
        "apiUrl": runtime.api_url,
        "outputs": runtime.outputs(),
        "environment": runtime.client_environment(),
        "stateMachines": runtime.stack.state_machine_arns,
        "apiKeyRequired": bool(runtime.api_key),
        # Generated secrets (GenerateSecretString) change every start; webhook receivers need them.
        "secrets": dict(runtime.stack.secrets),
    }


def secret_label(logical_id: str) -> str:
    """``WebhookSigningSecret`` -> ``Webhook signing secret``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", logical_id).lower()
    label = words[:1].upper() + words[1:]
    return label if label.endswith("secret") else f"{label} secret"


def startup_banner(runtime: Any) -> str:
    """Endpoints plus copy-paste examples for curl and the AWS CLI."""
    from autovid_local import template as types

    template = runtime.template
    aws = runtime.aws_endpoint_url
    lines = [f"auto-vid local runtime is up ({template.path.name}, stack {runtime.pseudo.stack_name})", ""]
    lines.append(f"  AWS endpoint   {aws}")
    if runtime.api_url:
        lines.append(f"  REST API       {runtime.api_url}")
        if runtime.api_key:
            lines.append("                 (send the --api-key value as x-api-key; autovid submit/status do)")
        for route in runtime.api.routes:
            lines.append(f"                   {route.method:<6} {route.path}  -> {route.function_logical_id}")
    lines.append(f"  Function logs  {runtime.log_dir}/<FunctionLogicalId>.log")
    if not runtime.function_logs.echo:
        lines.append("                 (--function-logs prints them here too)")
    lines += ["", "Resources:"] + [f"  {label}" for label in runtime.stack.created]
    if runtime.stack.secrets:
        lines += ["", "Generated secrets (new values at every start):"]
        lines += [f"  {secret_label(name)} ({name}): {value}" for name, value in runtime.stack.secrets.items()]
    if runtime.api_url:
        lines += ["", "Try:"]
        for route in list(runtime.api.routes)[:4]:
            url = shlex.quote(runtime.api_url + route.path)
            needs_key = runtime.api_key and route.api_key_required
            key = f" -H {shlex.quote('x-api-key: ' + runtime.api_key)}" if needs_key else ""
            if "{" not in route.path and route.method in ("POST", "PUT", "PATCH", "ANY"):
                method = "POST" if route.method == "ANY" else route.method
                lines.append(f"  curl -s -X {method} {url}{key} -H 'Content-Type: application/json' -d @body.json")
            else:
                lines.append(f"  curl -s {url}{key}")
    env = runtime.client_environment()
    lines += ["", "AWS CLI / boto3:", "  export " + " ".join(f"{key}={value}" for key, value in sorted(env.items()))]
    # AWS CLI v1 ignores AWS_ENDPOINT_URL for SQS (it pins SQS endpoints), so the examples pass it.
    aws_cli = f"aws --endpoint-url {aws}"
    for table in template.of_type(types.TABLE):
        lines.append(f"  {aws_cli} dynamodb scan --table-name {runtime.ref(table.logical_id)}")
    lines.append(f"  {aws_cli} sqs list-queues")
    for machine_id, arn in runtime.stack.state_machine_arns.items():
        lines.append(f"  {aws_cli} stepfunctions list-executions --state-machine-arn {arn}  # {machine_id}")
    lines += ["", "Ready. Ctrl-C stops everything."]
    return "\n".join(lines)


# --- autovid render ------------------------------------------------------------------------


def add_render_command(subparsers: Subparsers) -> None:
    from autovid.render.cli import add_render_arguments, run_from_args

    parser = subparsers.add_parser(
        "render",
        help="render a spec with local sources to an MP4, offline (no stack needed)",
        description="Render SPEC with the render engine alone; its local sources are relative to the spec file.",
    )
    add_render_arguments(parser)
    parser.set_defaults(run=run_from_args)


# --- the command ---------------------------------------------------------------------------


def _job_commands(subparsers: Subparsers) -> None:
    from autovid_local.demo import add_demo_command
    from autovid_local.jobs_cli import add_status_command, add_submit_command
    from autovid_local.runs_cli import add_graph_command, add_history_command, add_redrive_command, add_runs_command
    from autovid_local.webhook_cli import add_verify_webhook_command

    add_submit_command(subparsers)
    add_status_command(subparsers)
    add_demo_command(subparsers)
    add_runs_command(subparsers)
    add_history_command(subparsers)
    add_graph_command(subparsers)
    add_redrive_command(subparsers)
    add_verify_webhook_command(subparsers)


#: Every subcommand's registration function; add yours here.
COMMANDS: list[CommandRegistration] = [add_up_command, add_render_command, _job_commands]


def build_parser(commands: Sequence[CommandRegistration] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autovid", description="auto-vid developer tools")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in commands:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # `autovid render` registers only itself, so its start-up imports the render engine and nothing else.
    args = build_parser([add_render_command] if argv[:1] == ["render"] else COMMANDS).parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
