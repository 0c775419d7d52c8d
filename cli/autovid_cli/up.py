"""``autovid up``: run this project's template.yaml on one machine with the local emulator.

The emulator is generic; what is specific to auto-vid is set here: the stack name, offline speech,
where logs go, and the job id in every log line.
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
from pathlib import Path
from typing import Any

#: Every invocation and execution log line carries the job id when it can be found.
CORRELATION_KEYS = ("jobId",)


def run_up(args: argparse.Namespace) -> int:
    from autovid_cli.commands.up import LOCAL_SCRATCH_DIR
    from sam_emulator.errors import LocalRuntimeError
    from sam_emulator.runtime import LocalRuntime

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
        correlation_keys=CORRELATION_KEYS,
        state_dir=args.state_dir,
        reset_state=args.reset,
        max_concurrency=args.max_concurrency,
        scratch_dir=LOCAL_SCRATCH_DIR,
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
    from autovid_cli.targets import remove_local_stack_file, write_local_stack_file

    stack_file = console = None
    try:
        if args.console_port >= 0:
            from autovid_cli.console.server import ConsolePortInUseError, start_for_runtime

            try:
                console = start_for_runtime(runtime, host=args.host, port=args.console_port)
            except ConsolePortInUseError as error:
                print(f"autovid up: {error} (--console-port 0 picks a free one, -1 serves none)", file=sys.stderr)
                return 1
        console_url = console.url if console is not None else None
        if runtime.api_url:
            stack_file = write_local_stack_file(
                runtime.api_url,
                runtime.outputs(),
                runtime.client_environment(),
                api_key=runtime.api_key,
                stack_name=runtime.pseudo.stack_name,
            )
        if args.json:
            print(json.dumps(startup_summary(runtime, console_url)), flush=True)
        else:
            print(startup_banner(runtime, console_url), flush=True)
        while not stop_requested:
            time.sleep(0.2)
    finally:
        # With --json, stdout carries only the JSON line.
        progress = sys.stderr if args.json else sys.stdout
        if runtime.durable is not None:
            print("\nstopping at once: running steps are cut short and resume at the next start ...",
                  file=progress, flush=True)  # fmt: skip
        else:
            print("\nstopping ...", file=progress, flush=True)
        if stack_file is not None:
            remove_local_stack_file(runtime.api_url)  # `autovid submit` must not target a stopped stack
        if console is not None:
            console.stop()
        runtime.stop()
        print(f"stopped; the state is kept in {runtime.durable.path}" if runtime.durable is not None else "stopped",
              file=progress, flush=True)  # fmt: skip
    return 0


def local_parameter_defaults(template_path: Path) -> dict[str, str]:
    """Offline speech by default (moto's Polly returns no audio), when the template has the knob."""
    from cfnlint.decode import decode

    document, _ = decode(str(template_path))
    return {"TtsProvider": "espeak-ng"} if "TtsProvider" in ((document or {}).get("Parameters") or {}) else {}


def startup_summary(runtime: Any, console_url: str | None = None) -> dict[str, Any]:
    """What ``--json`` prints: where everything is, for scripts."""
    return {
        "awsEndpoint": runtime.aws_endpoint_url,
        "apiUrl": runtime.api_url,
        "consoleUrl": console_url,
        "outputs": runtime.outputs(),
        "environment": runtime.client_environment(),
        "stateMachines": runtime.stack.state_machine_arns,
        "apiKeyRequired": bool(runtime.api_key),
        # Generated secrets (GenerateSecretString), kept in the state folder; webhook receivers need them.
        "secrets": dict(runtime.stack.secrets),
        "stateDir": str(runtime.durable.path) if runtime.durable is not None else None,
    }


def secret_label(logical_id: str) -> str:
    """``WebhookSigningSecret`` -> ``Webhook signing secret``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", logical_id).lower()
    label = words[:1].upper() + words[1:]
    return label if label.endswith("secret") else f"{label} secret"


def startup_banner(runtime: Any, console_url: str | None = None) -> str:
    """Endpoints plus copy-paste examples for curl and the AWS CLI."""
    from sam_emulator.template import parser as types

    template = runtime.template
    aws = runtime.aws_endpoint_url
    lines = [f"auto-vid local runtime is up ({template.path.name}, stack {runtime.pseudo.stack_name})", ""]
    lines.append(f"  AWS endpoint   {aws}")
    if console_url:
        login = "  (log in with the --api-key value)" if runtime.api_key else ""
        lines.append(f"  Console        {console_url}{login}")
    if runtime.api_url:
        lines.append(f"  REST API       {runtime.api_url}")
        if runtime.api_key:
            lines.append("                 (send the --api-key value as x-api-key; autovid submit/status do)")
        for route in runtime.api.routes:
            lines.append(f"                   {route.method:<6} {route.path}  -> {route.function_logical_id}")
    for bucket in template.of_type(types.BUCKET):
        lines.append(f"  Bucket         {runtime.ref(bucket.logical_id)}  ({bucket.logical_id})")
    lines.append(f"  Function logs  {runtime.log_dir}/<FunctionLogicalId>.log")
    if runtime.durable is not None:
        counts = runtime.durable.counts
        kept = f"restored: {counts.describe()}" if runtime.durable.had_state else "empty at this start"
        lines.append(f"  State          {runtime.durable.path}  ({kept}; --reset empties it)")
    lines.append(f"  Workers        up to {runtime.max_concurrency} per function, started on first invocation")
    lines.append(f"                 (--max-concurrency); temporary files under {runtime.scratch.path}")
    if not runtime.function_logs.echo:
        lines.append("                 (--function-logs prints them here too)")
    lines += ["", "Resources:"] + [f"  {label}" for label in runtime.stack.created]
    if runtime.stack.secrets:
        kept = "kept in the state folder" if runtime.durable is not None else "new values at every start"
        lines += ["", f"Generated secrets ({kept}):"]
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
    lines.append(f"  {aws_cli} cloudformation describe-stacks --stack-name {runtime.pseudo.stack_name}")
    for machine_id, arn in runtime.stack.state_machine_arns.items():
        lines.append(f"  {aws_cli} stepfunctions list-executions --state-machine-arn {arn}  # {machine_id}")
    lines += ["", "Ready. Ctrl-C stops everything."]
    return "\n".join(lines)
