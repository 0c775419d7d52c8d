"""GET /jobs: the caller's jobs, newest first, filtered, a page at a time.

Served by Queries on the jobs table's ``JobsByStatusIndex``, never a Scan. Submit records each
job's scope (``ownerScope``: the caller's API key id, or ``-`` without keys) and the index's sort
key ``listKey`` (``{scope}#{submittedAt}#{jobId}``); the partition key is ``status``, which every
status change (the state machine's MarkProcessing too) writes, so the index is never stale. A
scope's jobs of one status are thus one contiguous, time-ordered key range: a listing makes one
Query per requested status (all six without a ``status`` filter), each over the caller's range
only, and merges them newest first, reading each a page at a time as the merge needs it. (One
index rather than a second one keyed on the scope alone: CloudFormation adds a single index per
table update, and the merge reads at most ``limit + 1`` items per status.)

``submittedAfter`` and ``submittedBefore`` narrow the key range; ``projectId`` is the only filter
expression. The next page's token carries the last job's ``listKey`` and the scope it was issued
to, signed with an HMAC (a key derived from the stack's signing secret): a client can neither
forge a position nor use a token issued to another key.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from autovid.aws.jobs import JobsTable
from autovid.aws.secrets import secret_value
from autovid.core.clock import iso
from autovid.core.config import Settings
from autovid.core.errors import FieldError, InvalidQueryError
from autovid.jobs.downloads import download_link
from autovid.jobs.records import JobResponse, JobStatus

STATUS_INDEX = "JobsByStatusIndex"
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
TOKEN_VERSION = 1
_TOKEN_KEY_LABEL = b"auto-vid GET /jobs nextToken v1"  # keeps these MACs apart from webhook signatures
_HIGHEST = "~"  # sorts after every submittedAt and job id character
_MILLISECOND = timedelta(milliseconds=1)


class JobList(BaseModel):
    """The body of GET /jobs: a page of jobs (newest first) and the token of the next page."""

    jobs: list[JobResponse]
    nextToken: str | None = None


@dataclass(frozen=True)
class ListQuery:
    statuses: tuple[JobStatus, ...] = ()  # empty: every status
    project_id: str | None = None
    submitted_after: datetime | None = None  # exclusive
    submitted_before: datetime | None = None  # exclusive
    limit: int = DEFAULT_LIMIT
    next_token: str | None = None

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Sequence[str]]) -> ListQuery:
        """From the query string (each name with all its values); raises InvalidQueryError naming
        every bad parameter."""
        errors: list[FieldError] = []

        def last(name: str) -> str | None:
            values = parameters.get(name) or []
            return values[-1] if values else None

        statuses: list[JobStatus] = []
        for value in (v.strip() for raw in parameters.get("status") or [] for v in raw.split(",")):
            if value in {s.value for s in JobStatus}:
                if JobStatus(value) not in statuses:
                    statuses.append(JobStatus(value))
            else:
                known = ", ".join(s.value for s in JobStatus)
                errors.append(FieldError("status", f"unknown status {value!r}; use one or more of {known}"))
        project_id = last("projectId")
        if project_id is not None and not project_id.strip():
            errors.append(FieldError("projectId", "must not be empty"))
        after, before = (_parse_time(name, last(name), errors) for name in ("submittedAfter", "submittedBefore"))
        if after and before and after >= before:
            errors.append(FieldError("submittedAfter", "must be earlier than submittedBefore"))
        limit = DEFAULT_LIMIT
        raw_limit = last("limit")
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                limit = 0
            if not 1 <= limit <= MAX_LIMIT:
                errors.append(FieldError("limit", f"must be an integer from 1 to {MAX_LIMIT}"))
        token = last("nextToken")
        if token is not None and not token:
            errors.append(FieldError("nextToken", "must not be empty"))
        if errors:
            raise InvalidQueryError(errors)
        return cls(tuple(statuses), project_id, after, before, limit, token)

    def filters_digest(self) -> str:
        """What the token is bound to besides the scope: the filters (not the page size)."""
        filters = [
            sorted(s.value for s in self.statuses),
            self.project_id,
            iso(self.submitted_after) if self.submitted_after else None,
            iso(self.submitted_before) if self.submitted_before else None,
        ]
        return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:16]


def _parse_time(name: str, text: str | None, errors: list[FieldError]) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that leaves years 1 to 9999
        errors.append(FieldError(name, f"{text!r} is not an ISO-8601 date-time, such as 2026-01-01T12:00:00Z"))
        return None


class PageTokens:
    """Signs and checks ``nextToken``: ``base64url(payload).base64url(HMAC-SHA256)``, the payload
    naming the scope it was issued to, the filters it pages through and the last job's ``listKey``."""

    def __init__(self, secret: str):
        self._key = hmac.new(secret.encode(), _TOKEN_KEY_LABEL, hashlib.sha256).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def issue(self, scope: str, filters: str, after_key: str) -> str:
        payload = _b64(json.dumps({"v": TOKEN_VERSION, "s": scope, "f": filters, "k": after_key}).encode())
        return f"{payload}.{_b64(self._mac(payload.encode()))}"

    def position(self, token: str, scope: str, filters: str) -> str:
        """The ``listKey`` the token's page ended at; raises InvalidQueryError (``nextToken``)."""

        def refuse(message: str) -> InvalidQueryError:
            return InvalidQueryError([FieldError("nextToken", message)])

        payload, _, mac = token.partition(".")
        try:
            valid = hmac.compare_digest(_unb64(mac), self._mac(payload.encode()))
            data = json.loads(_unb64(payload)) if valid else None
        except (ValueError, UnicodeError):
            valid = False
        if not valid or not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
            raise refuse("is not a token this API issued (send the nextToken of the previous page as it was)")
        after_key = data.get("k")
        if data.get("s") != scope or not isinstance(after_key, str) or not after_key.startswith(f"{scope}#"):
            raise refuse("was issued to another API key")
        if data.get("f") != filters:
            raise refuse("was issued for other filters: send the same status, projectId and dates as its first page")
        return after_key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_range(scope: str, query: ListQuery) -> tuple[str, str]:
    """The inclusive ``listKey`` range of the scope's jobs submitted strictly between the two times
    (``submittedAt`` has millisecond precision)."""
    low, high = f"{scope}#", f"{scope}#{_HIGHEST}"
    if query.submitted_after:
        first = query.submitted_after.replace(microsecond=query.submitted_after.microsecond // 1000 * 1000)
        try:
            low = f"{scope}#{iso(first + _MILLISECOND)}"
        except OverflowError:  # after the last representable moment: nothing
            low = high
    if query.submitted_before:
        before = query.submitted_before
        last = before.replace(microsecond=before.microsecond // 1000 * 1000)
        try:
            if last == before:
                last -= _MILLISECOND
            high = f"{scope}#{iso(last)}#{_HIGHEST}"
        except OverflowError:  # before the first representable moment: nothing
            high = f"{scope}#"
    return low, high


def list_jobs(query: ListQuery, *, scope: str, settings: Settings, signing_secret_arn: str) -> JobList:
    """One page of the scope's jobs; raises InvalidQueryError for a token that is not valid here."""
    tokens = None
    if query.next_token is not None:
        tokens = PageTokens(secret_value(signing_secret_arn))
        after_key = tokens.position(query.next_token, scope, query.filters_digest())
    else:
        after_key = None
    low, high = key_range(scope, query)
    if after_key is not None:
        high = min(high, after_key)
    if low > high:
        return JobList(jobs=[])
    table = JobsTable(settings.jobs_table)
    filter_expression, names, values = None, {}, {}
    if query.project_id is not None:
        filter_expression = "#metadata.#projectId = :projectId"
        names = {"#metadata": "metadata", "#projectId": "projectId"}
        values = {":projectId": query.project_id}
    streams = [
        table.query_newest_first(
            STATUS_INDEX,
            partition=("status", status.value),
            sort_between=(low, high),
            filter_expression=filter_expression,
            names=names,
            values=values,
            page_size=min(MAX_LIMIT, query.limit + 1),
        )
        for status in query.statuses or tuple(JobStatus)
    ]
    newest_first: Iterator[dict[str, Any]] = heapq.merge(*streams, key=lambda item: item["listKey"], reverse=True)
    page: list[dict[str, Any]] = []
    more = False
    for item in newest_first:
        if after_key is not None and item["listKey"] >= after_key:
            continue  # the previous page's last job (BETWEEN is inclusive)
        if len(page) == query.limit:
            more = True
            break
        page.append(item)
    jobs = [_summary(item, settings) for item in page]
    if not more:
        return JobList(jobs=jobs)
    tokens = tokens or PageTokens(secret_value(signing_secret_arn))
    return JobList(jobs=jobs, nextToken=tokens.issue(scope, query.filters_digest(), page[-1]["listKey"]))


def _summary(item: dict[str, Any], settings: Settings) -> JobResponse:
    """A listed job: the seed's fields, with a freshly signed download URL when it is completed."""
    response = JobResponse.from_record(item, with_history=False)
    if response.status is JobStatus.COMPLETED and response.output.s3Uri:
        link = download_link(response.output.s3Uri, settings.presigned_url_expiration)
        response.output.url, response.output.urlExpiresAt = link.url, link.expires_at
    return response


def list_body(page: JobList) -> dict[str, Any]:
    return {"jobs": [job.body() for job in page.jobs], "nextToken": page.nextToken}
