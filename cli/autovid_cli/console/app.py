"""The console's web application (Starlette, Jinja2 templates): executions, jobs and their actions.

It reads through the same functions as ``autovid runs / history / graph`` (:mod:`autovid_cli.runs`,
:mod:`autovid_cli.run_graph`), so both show the same things, and talks to the REST API for jobs.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError as BotoClientError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from autovid.jobs.records import TERMINAL_STATUSES
from autovid_cli.console import security
from autovid_cli.console.steps import invocation_log, state_visits
from autovid_cli.run_graph import COLOURS, execution_attempts, render_svg, state_runs
from autovid_cli.run_history import format_duration
from autovid_cli.runs import (
    RunTarget,
    execution_definition,
    failed_state,
    full_history,
    job_id_of,
    list_runs_page,
    not_redrivable_message,
)
from autovid_cli.targets import ApiError, ApiUnreachableError, TargetError
from sam_emulator.stepfunctions.history_events import seconds_between

HERE = Path(__file__).parent
EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
REDRIVE_FILTERS = ("REDRIVEN", "NOT_REDRIVEN")
JOB_STATUSES = ("submitted", "processing", "retrying", "completed", "failed", "cancelled")
TABS = ("graph", "table", "events", "definition", "io")
EVENTS_PER_PAGE = 25
PAGE_SIZE = 20
#: What reading from AWS or the API can raise; shown on the page, never a 500.
READ_ERRORS = (TargetError, BotoCoreError, BotoClientError, ApiError, ApiUnreachableError)


class Console:
    """Where the console reads from: the workflow's state machine, the REST API, CloudWatch Logs."""

    def __init__(self, target: RunTarget, *, login_key: str | None = None, title: str = "auto-vid"):
        self.target = target
        self.login_key = login_key
        self.title = title
        self._logs: Any = None

    @property
    def logs(self) -> Any:
        if self._logs is None:
            self._logs = self.target.client("logs")
        return self._logs


def create_app(console: Console, *, host: str = "127.0.0.1") -> Starlette:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.filters["duration"] = lambda s: "-" if s is None else format_duration(float(s))
    env.filters["when"] = _when
    env.filters["pretty"] = _pretty
    env.filters["arnpath"] = lambda arn: quote(arn, safe="")
    env.globals["COLOURS"] = COLOURS
    sessions = security.Sessions()

    def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
        session = request.state.session
        context.update(console=console, token=session.token, request=request, now=dt.datetime.now(dt.UTC))
        headers = {"Cache-Control": "no-store"}
        return templates.TemplateResponse(request, template, context, status_code=status_code, headers=headers)

    def refused(request: Request, reason: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": f"refused: {reason}"}, status_code=403)
        return PlainTextResponse(f"403 Forbidden: {reason}", status_code=403)

    # --- sessions, login and the cross-site checks ---------------------------------------------

    class SessionMiddleware:
        """Loads (or starts) the session; without a login, only /login and /static are served."""

        def __init__(self, app: Any):
            self.app = app

        async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            request = Request(scope)
            session = sessions.get(request.cookies.get(security.COOKIE))
            fresh = session is None
            if session is None:
                session = sessions.create()
            scope.setdefault("state", {})["session"] = session
            path = scope["path"]
            public = path.startswith("/static/") or path == "/login"
            if console.login_key and not session.authenticated and not public:
                if scope["method"] in ("GET", "HEAD"):
                    target = path + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
                    response: Response = RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
                else:
                    response = PlainTextResponse("403 Forbidden: log in first", status_code=403)
                _set_cookie(response, session, fresh)
                await response(scope, receive, send)
                return

            async def send_with_cookie(message: dict) -> None:
                if message["type"] == "http.response.start" and fresh:
                    cookie = _cookie_header(session)
                    message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
                await send(message)

            await self.app(scope, receive, send_with_cookie)

    def action(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """A POST from one of the console's own pages: same origin, and the session's token."""

        @wraps(handler)
        async def checked(request: Request) -> Response:
            reason = security.same_origin(request)
            if reason:
                return refused(request, reason)
            given = request.headers.get(security.TOKEN_HEADER)
            if given is None and "form" in request.headers.get("content-type", ""):
                given = (await request.form()).get(security.TOKEN_FIELD)
            if not security.token_matches(request.state.session, given if isinstance(given, str) else None):
                return refused(request, "missing or wrong console token (reload the page)")
            return await handler(request)

        checked.is_action = True  # type: ignore[attr-defined]
        return checked

    async def login_page(request: Request) -> Response:
        if not console.login_key:
            return RedirectResponse("/", status_code=303)
        return page(request, "login.html", next=_local_path(request.query_params.get("next")), error=None)

    @action
    async def login(request: Request) -> Response:
        if not console.login_key:
            return RedirectResponse("/", status_code=303)
        form = await request.form()
        given, target = str(form.get("api_key") or ""), _local_path(str(form.get("next") or "/"))
        if not given:
            return page(request, "login.html", 400, next=target, error="api_key: enter the API key")
        if not security.key_matches(given, console.login_key):
            error = "api_key: not the key this stack was started with"
            return page(request, "login.html", 403, next=target, error=error)
        session = request.state.session
        session.authenticated = True
        renewed = sessions.renew(session)
        response = RedirectResponse(target, status_code=303)
        _set_cookie(response, renewed, True)
        return response

    @action
    async def logout(request: Request) -> Response:
        request.state.session.authenticated = False
        return RedirectResponse("/login" if console.login_key else "/", status_code=303)

    # --- executions ------------------------------------------------------------------------------

    def executions(request: Request) -> Response:
        status = request.query_params.get("status") or None
        redrive = request.query_params.get("redrive") or None
        token = request.query_params.get("next") or None
        error, rows, next_token, code = None, [], None, 200
        if status and status not in EXECUTION_STATUSES:
            error, code = f"status: must be one of {', '.join(EXECUTION_STATUSES)}", 400
        elif redrive and redrive not in REDRIVE_FILTERS:
            error, code = f"redrive: must be one of {', '.join(REDRIVE_FILTERS)}", 400
        else:
            try:
                rows, next_token = list_runs_page(
                    console.target, status=status, redrive_filter=redrive, limit=PAGE_SIZE, next_token=token
                )
            except READ_ERRORS as exc:
                error = str(exc)
        live = any(row["status"] in ("RUNNING", "PENDING_REDRIVE") for row in rows)
        return page(
            request,
            "executions.html",
            code,
            rows=rows,
            status=status,
            redrive=redrive,
            next_token=next_token,
            paged=bool(token),
            error=error,
            live=live,
            statuses=EXECUTION_STATUSES,
            redrive_filters=REDRIVE_FILTERS,
        )

    def execution(request: Request) -> Response:
        arn = request.path_params["arn"]
        tab = request.query_params.get("tab") or "graph"
        if tab not in TABS:
            tab = "graph"
        sfn = console.target.sfn
        try:
            description = sfn.describe_execution(executionArn=arn)
            definition = execution_definition(sfn, arn)
            events = full_history(sfn, arn)
        except READ_ERRORS as exc:
            return page(request, "error.html", _status_of(exc), message=f"execution {arn}: {exc}")
        attempts = execution_attempts(events)
        runs = state_runs(definition, events)
        title = f"{description['name']} · {description['status']}"
        svg = render_svg(definition, runs, title)
        visits = state_visits(definition, events)
        selected = request.query_params.get("state")
        if selected not in definition.get("States", {}):
            selected = None
        job_id = job_id_of(description)
        unsuccessful = description["status"] in ("FAILED", "TIMED_OUT", "ABORTED")
        step = None
        if selected:
            step = [
                {"visit": visit, "logs": [invocation_log(console.logs, a, job_id) for a in visit.attempts]}
                for visit in visits
                if visit.name == selected
            ]
        running = description["status"] in ("RUNNING", "PENDING_REDRIVE")
        order = "desc" if request.query_params.get("order") == "desc" else "asc"
        shown = list(reversed(events)) if order == "desc" else events
        pages = max(1, math.ceil(len(shown) / EVENTS_PER_PAGE))
        page_number = min(max(1, _int(request.query_params.get("page"), 1)), pages)
        # The timeline spans the history: its first event to its last (to now while it runs).
        start = events[0]["timestamp"] if events else description["startDate"]
        end = dt.datetime.now(start.tzinfo) if running or not events else events[-1]["timestamp"]
        return page(
            request,
            "execution.html",
            arn=arn,
            d=description,
            tab=tab,
            svg=svg,
            runs=runs,
            attempts=attempts,
            visits=visits,
            selected=selected,
            step=step,
            failed=failed_state(definition, events) if unsuccessful else None,
            job_id=job_id,
            refusal=not_redrivable_message(description),
            live=running,
            definition=definition,
            events=shown[(page_number - 1) * EVENTS_PER_PAGE : page_number * EVENTS_PER_PAGE],
            first_event=events[0]["timestamp"] if events else start,
            order=order,
            page_number=page_number,
            pages=pages,
            span=max((end - start).total_seconds(), 0.001),
            execution_seconds=seconds_between(description["startDate"], description.get("stopDate")),
            start=start,
        )

    def export(request: Request) -> Response:
        arn = request.path_params["arn"]
        sfn = console.target.sfn
        try:
            body = {
                "execution": sfn.describe_execution(executionArn=arn),
                "definition": execution_definition(sfn, arn),
                "events": full_history(sfn, arn),
            }
        except READ_ERRORS as exc:
            return PlainTextResponse(f"execution {arn}: {exc}", status_code=_status_of(exc))
        body["execution"].pop("ResponseMetadata", None)
        name = body["execution"]["name"]
        return Response(
            json.dumps(body, default=_json_default, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="execution-{name}.json"'},
        )

    @action
    async def redrive(request: Request) -> Response:
        arn = request.path_params["arn"]
        sfn = console.target.sfn
        try:
            description = await run_in_threadpool(sfn.describe_execution, executionArn=arn)
            refusal = not_redrivable_message(description)
            if refusal is None:
                await run_in_threadpool(sfn.redrive_execution, executionArn=arn)
        except BotoClientError as exc:
            refusal = _aws_message(exc)
        except READ_ERRORS as exc:
            refusal = str(exc)
        if refusal:
            return _answer(request, _execution_url(arn), refusal, ok=False, status_code=409)
        return _answer(request, _execution_url(arn), f"redriven execution {description['name']}")

    @action
    async def stop(request: Request) -> Response:
        arn = request.path_params["arn"]
        form = await request.form()
        error = str(form.get("error") or "").strip()
        cause = str(form.get("cause") or "").strip()
        if len(error) > 256:
            return _answer(request, _execution_url(arn), "error: at most 256 characters", ok=False, status_code=400)
        if len(cause) > 32768:
            return _answer(request, _execution_url(arn), "cause: at most 32768 characters", ok=False, status_code=400)
        call = {"executionArn": arn, **({"error": error} if error else {}), **({"cause": cause} if cause else {})}
        try:
            await run_in_threadpool(lambda: console.target.sfn.stop_execution(**call))
        except BotoClientError as exc:
            return _answer(request, _execution_url(arn), _aws_message(exc), ok=False, status_code=409)
        except READ_ERRORS as exc:
            return _answer(request, _execution_url(arn), str(exc), ok=False, status_code=502)
        return _answer(request, _execution_url(arn), "stopped")

    def new_execution_page(request: Request) -> Response:
        return page(request, "new_execution.html", input_text='{\n  "jobId": ""\n}', name="", error=None)

    @action
    async def new_execution(request: Request) -> Response:
        form = await request.form()
        text, name = str(form.get("input") or "").strip() or "{}", str(form.get("name") or "").strip()
        try:
            json.loads(text)
        except ValueError as exc:
            return page(request, "new_execution.html", 400, input_text=text, name=name, error=f"input: not JSON: {exc}")
        if not console.target.state_machine_arn:
            return page(request, "new_execution.html", 400, input_text=text, name=name, error="no state machine")
        call: dict[str, Any] = {"stateMachineArn": console.target.state_machine_arn, "input": text}
        if name:
            call["name"] = name
        try:
            started = await run_in_threadpool(lambda: console.target.sfn.start_execution(**call))
        except BotoClientError as exc:
            field = "name" if "name" in _aws_message(exc).lower() else "input"
            error = f"{field}: {_aws_message(exc)}"
            return page(request, "new_execution.html", 400, input_text=text, name=name, error=error)
        except READ_ERRORS as exc:
            return page(request, "new_execution.html", 502, input_text=text, name=name, error=str(exc))
        return RedirectResponse(_execution_url(started["executionArn"]), status_code=303)

    # --- jobs ------------------------------------------------------------------------------------

    def jobs(request: Request) -> Response:
        status = request.query_params.get("status") or None
        token = request.query_params.get("next") or None
        error, listed, next_token, code = None, [], None, 200
        if status and status not in JOB_STATUSES:
            error, code = f"status: must be one of {', '.join(JOB_STATUSES)}", 400
        else:
            try:
                answer = console.target.api().list_jobs(status=status, limit=PAGE_SIZE, nextToken=token)
                listed, next_token = answer.get("jobs", []), answer.get("nextToken")
                for job in listed:  # the list has no progress; running jobs are read one by one
                    if job["status"] not in TERMINAL_STATUSES:
                        job["progress"] = console.target.api().status(job["jobId"]).get("progress")
                    job["seconds"] = job_seconds(job)
            except READ_ERRORS as exc:
                error = str(exc)
        live = any(job["status"] not in TERMINAL_STATUSES for job in listed)
        return page(
            request,
            "jobs.html",
            code,
            jobs=listed,
            status=status,
            statuses=JOB_STATUSES,
            next_token=next_token,
            paged=bool(token),
            error=error,
            live=live,
        )

    def job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        try:
            answer = console.target.api().status(job_id)
        except READ_ERRORS as exc:
            return page(request, "error.html", _status_of(exc), message=f"job {job_id}: {exc}")
        return page(request, "job.html", job=answer, live=answer["status"] not in TERMINAL_STATUSES)

    def submit_page(request: Request) -> Response:
        return page(request, "submit.html", spec_text="", error=None, details=[])

    @action
    async def submit(request: Request) -> Response:
        form = await request.form()
        upload = form.get("spec_file")
        text = str(form.get("spec") or "")
        if isinstance(upload, UploadFile) and upload.filename:
            text = (await upload.read()).decode("utf-8", errors="replace")
        if not text.strip():
            error = "spec: paste a job spec or choose a file"
            return page(request, "submit.html", 400, spec_text=text, error=error, details=[])
        try:
            spec = json.loads(text)
        except ValueError as exc:
            return page(request, "submit.html", 400, spec_text=text, error=f"spec: not JSON: {exc}", details=[])
        try:
            answer = await run_in_threadpool(lambda: console.target.api().submit(spec))
        except ApiError as exc:
            body = exc.body if isinstance(exc.body, dict) else {"error": str(exc.body)}
            message = str(body.get("error") or body.get("message") or exc)
            details = [d for d in body.get("details") or [] if isinstance(d, dict)]
            return page(request, "submit.html", exc.status, spec_text=text, error=message, details=details)
        except READ_ERRORS as exc:
            return page(request, "submit.html", 502, spec_text=text, error=str(exc), details=[])
        return RedirectResponse(f"/jobs/{quote(answer['jobId'])}", status_code=303)

    def health(_request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/", lambda _r: RedirectResponse("/executions", status_code=303)),
        Route("/healthz", health),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/executions", executions),
        Route("/executions/new", new_execution_page, methods=["GET"]),
        Route("/executions/new", new_execution, methods=["POST"]),
        Route("/executions/{arn}", execution),
        Route("/executions/{arn}/export", export),
        Route("/executions/{arn}/redrive", redrive, methods=["POST"]),
        Route("/executions/{arn}/stop", stop, methods=["POST"]),
        Route("/jobs", jobs),
        Route("/jobs/{job_id}", job),
        Route("/submit", submit_page, methods=["GET"]),
        Route("/submit", submit, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=security.allowed_hosts(host)),
        Middleware(SessionMiddleware),
    ]
    return Starlette(routes=routes, middleware=middleware)


# --- helpers ---------------------------------------------------------------------------------------


def _cookie_header(session: security.Session) -> str:
    return f"{security.COOKIE}={session.id}; Path=/; HttpOnly; SameSite=Strict"


def _set_cookie(response: Response, session: security.Session, fresh: bool) -> None:
    if fresh:
        response.set_cookie(security.COOKIE, session.id, path="/", httponly=True, samesite="strict")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _answer(request: Request, back: str, message: str, *, ok: bool = True, status_code: int = 200) -> Response:
    """JSON for the page's script; for a plain form post, back to the page (303) or the error as text."""
    if _wants_json(request):
        return JSONResponse({"ok": ok, "message": message}, status_code=status_code if not ok else 200)
    if ok:
        return RedirectResponse(back, status_code=303)
    return PlainTextResponse(message, status_code=status_code)


def _execution_url(arn: str) -> str:
    return f"/executions/{quote(arn, safe='')}"


def _local_path(target: str | None) -> str:
    """Only a path on this console may follow a login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _aws_message(error: BotoClientError) -> str:
    info = error.response.get("Error", {})
    return f"{info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip(": ")


def _status_of(error: Exception) -> int:
    if isinstance(error, BotoClientError):
        code = error.response.get("Error", {}).get("Code")
        return 404 if code in ("ExecutionDoesNotExist", "InvalidArn", "StateMachineDoesNotExist") else 502
    if isinstance(error, ApiError):
        return error.status if error.status < 500 else 502
    return 400 if isinstance(error, TargetError) else 502


def job_seconds(job: dict[str, Any]) -> float | None:
    """How long a job took (its processing time), or has taken so far: submitted to its last update
    once it ended, to now while it runs."""
    if job.get("processingTime") is not None:
        return float(job["processingTime"])
    submitted = _parse_time(job.get("submittedAt"))
    if submitted is None:
        return None
    end = _parse_time(job.get("updatedAt")) if job.get("status") in TERMINAL_STATUSES else dt.datetime.now(dt.UTC)
    return max(((end or submitted) - submitted).total_seconds(), 0.0)


def _parse_time(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default


def _when(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _pretty(text: Any) -> str:
    """JSON text (or a value) indented; anything else as it is."""
    if text is None:
        return ""
    if isinstance(text, str):
        try:
            text = json.loads(text)
        except ValueError:
            return text
    return json.dumps(text, indent=2, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


__all__ = ["Console", "create_app"]
