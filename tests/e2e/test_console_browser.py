"""The web console in a real browser (headless Chromium driven by Selenium), on one local stack.

Skipped, with the reason, when Chromium or its driver is not installed (``.ci/run`` installs them).
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from browser import chromium_driver
from e2e.conftest import VIDEO_SECONDS, Stack

from autovid.core.errors import TransientError
from autovid_cli.console.server import ConsoleServer, start_for_runtime
from autovid_cli.run_graph import COLOURS
from autovid_cli.targets import wait_for_job
from sam_emulator.testing import wait_for_execution

pytestmark = pytest.mark.slow
WAIT = 30.0


@pytest.fixture(scope="module")
def console(stack: Stack) -> Iterator[ConsoleServer]:
    server = start_for_runtime(stack.runtime, host="127.0.0.1", port=0)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    with chromium_driver() as browser:
        yield browser


@pytest.fixture(scope="module")
def failed_job(stack: Stack) -> dict:
    """A job whose RenderVideo failed past its retries; the fault is gone afterwards (the cause is fixed)."""
    job = stack.run_with_render_failing()
    assert (job["status"], job["error"]["state"]) == ("failed", "RenderVideo")
    return job


def execution_url(console: ConsoleServer, arn: str, query: str = "") -> str:
    return f"{console.url}/executions/{quote(arn, safe='')}{query}"


def wait_for(driver, condition, what: str):
    """``condition(driver)`` once truthy; a live region the page replaced meanwhile is read again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(
        driver, WAIT, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
    )
    return wait.until(lambda d: condition(d), message=f"waiting for {what}")


def text(driver, selector: str) -> str:
    """The text of the element, read again if the page's polling replaced it while it was read."""
    return wait_for(driver, lambda d: css(d, selector).text or " ", selector)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def test_a_failed_job_shows_in_jobs_and_in_executions(driver, console, failed_job) -> None:
    driver.get(f"{console.url}/jobs?status=failed")
    row = text(driver, f'tr[data-job="{failed_job["jobId"]}"]')
    assert "failed" in row.lower()
    assert "e2e" in row and "end to end" in row, "project and title"

    driver.get(f"{console.url}/executions?status=FAILED")
    row = text(driver, f'tr[data-execution="{failed_job["executionArn"]}"]')
    assert failed_job["jobId"] in row
    assert "FAILED" in row and "RenderVideo" in row, "status and failed state"


def test_the_execution_graph_highlights_the_failed_state_and_its_details_show_the_error(
    driver, console, failed_job
) -> None:
    driver.get(execution_url(console, failed_job["executionArn"]))
    assert "FAILED" in text(driver, "#banner")
    assert "render node went away" in text(driver, "#execution-cause")
    shape = css(driver, '#graph [data-state="RenderVideo"]')
    assert "failed" in shape.get_attribute("class").split()
    assert shape.get_attribute("fill") == COLOURS["failed"]
    assert css(driver, '#graph [data-state="ValidateJob"]').get_attribute("fill") == COLOURS["succeeded"]

    shape.click()  # opens the state's details
    details = wait_for(driver, lambda d: d.find_elements("css selector", "#step-details"), "the step details")[0]
    shown = details.text
    assert "Step details: RenderVideo" in shown
    assert "TransientError" in shown and "render node went away" in shown
    assert "Attempt 4" in shown and "retry 3" in shown, "every retry attempt is listed"
    logs = details.find_elements("css selector", "pre.log")
    assert logs and "[ERROR] TransientError: render node went away" in logs[0].text, "the invocation's log lines"


def test_redrive_completes_the_job_and_the_page_follows_without_a_reload(
    driver, console, failed_job, stack: Stack
) -> None:
    driver.get(execution_url(console, failed_job["executionArn"]))
    driver.execute_script("window.notReloaded = true;")
    css(driver, "#redrive-button").click()

    wait_for(driver, lambda d: "SUCCEEDED" in text(d, "#banner"), "the banner to show SUCCEEDED")
    assert driver.execute_script("return window.notReloaded === true;"), "the page was not reloaded"
    assert "redriven" in text(driver, "#action-result")
    assert "Redrives\n1" in text(driver, "#banner")
    job = wait_for_job(stack.api, failed_job["jobId"], poll_seconds=0.1, timeout=WAIT)
    assert job["status"] == "completed"


def test_the_output_plays_in_the_video_element(driver, console, failed_job, stack: Stack) -> None:
    job = wait_for_job(stack.api, failed_job["jobId"], poll_seconds=0.1, timeout=WAIT)
    assert job["status"] == "completed"
    driver.get(f"{console.url}/jobs/{job['jobId']}")
    assert "completed" in text(driver, "#job-status").lower()
    assert [li.get_attribute("data-status") for li in driver.find_elements("css selector", "#status-history li")][
        -1
    ] == "completed"
    video = css(driver, "video#output-video")
    wait_for(driver, lambda d: d.execute_script("return arguments[0].readyState;", video) >= 1, "the video metadata")
    duration = driver.execute_script("return arguments[0].duration;", video)
    assert abs(duration - VIDEO_SECONDS) < 0.1
    link = css(driver, "#download-link").get_attribute("href")
    assert link.split("?")[0] == job["output"]["url"].split("?")[0], "the download link is the output's"
    css(driver, "#execution-link").click()
    assert failed_job["executionArn"].split(":")[-1] in driver.title, "from the job to its execution"
    css(driver, "#job-link").click()
    assert job["jobId"] in driver.title, "and back"


def test_stop_aborts_a_running_execution(driver, console, stack: Stack) -> None:
    release = threading.Event()
    entered = threading.Event()

    def hold_render() -> BaseException:
        entered.set()
        release.wait(60)
        return TransientError("released after the test")

    stack.runtime.inject_fault("RenderVideoFunction", hold_render, times=1)
    try:
        job = stack.api.submit(stack.spec())
        assert entered.wait(WAIT), "RenderVideo started"
        arn = stack.api.status(job["jobId"])["executionArn"]
        driver.get(execution_url(console, arn))
        assert "RUNNING" in text(driver, "#banner")
        css(driver, "details.stop summary").click()
        css(driver, "#stop-button").click()
        wait_for(driver, lambda d: "ABORTED" in text(d, "#banner"), "the banner to show ABORTED")
        assert "StoppedFromConsole" in text(driver, "#banner"), "the error given"
    finally:
        release.set()
        stack.runtime.clear_faults()
    description = wait_for_execution(stack.runtime, arn)
    assert (description["status"], description["error"]) == ("ABORTED", "StoppedFromConsole")


class _AttackerPage(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802
        page = (
            f'<html><body><form id="f" method="post" action="{self.target}">'
            '<input name="csrf_token" value="guessed"></form>'
            '<script>document.getElementById("f").submit()</script></body></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        pass


def test_a_cross_site_post_is_refused(driver, console, stack: Stack) -> None:
    victim = stack.run_with_render_failing()
    arn = victim["executionArn"]
    redrive = execution_url(console, arn, "") + "/redrive"

    request = urllib.request.Request(redrive, data=b"", method="POST", headers={"Origin": "http://evil.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403

    # A page the user visits on another origin posts a form to the console: refused too.
    driver.get(f"{console.url}/executions")  # the user has a console session
    _AttackerPage.target = redrive
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AttackerPage)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        driver.get(f"http://localhost:{attacker.server_address[1]}/")
        wait_for(driver, lambda d: "403 Forbidden" in d.page_source, "the console's refusal")
    finally:
        attacker.shutdown()
    assert stack.runtime.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "FAILED"
    assert stack.api.status(victim["jobId"])["status"] == "failed", "nothing was redriven"


def test_the_submit_page_shows_the_apis_field_errors_and_follows_a_new_job(driver, console, stack: Stack) -> None:
    spec = stack.spec()
    spec["timeline"][1]["data"]["assetId"] = "nope"
    driver.get(f"{console.url}/submit")
    box = css(driver, "#spec")
    driver.execute_script("arguments[0].value = arguments[1];", box, json.dumps(spec))
    css(driver, "#submit-button").click()
    errors = wait_for(driver, lambda d: d.find_elements("css selector", "#submit-errors"), "the errors")[0]
    assert "timeline[1].data.assetId" in errors.text and "nope" in errors.text

    box = css(driver, "#spec")
    driver.execute_script("arguments[0].value = arguments[1];", box, json.dumps(stack.spec()))
    css(driver, "#submit-button").click()
    wait_for(driver, lambda d: d.current_url.startswith(f"{console.url}/jobs/"), "the new job's page")
    job_id = driver.current_url.rsplit("/", 1)[1]
    wait_for(driver, lambda d: "completed" in text(d, "#job-status").lower(), "the job to complete on the page")
    assert stack.api.status(job_id)["status"] == "completed"
