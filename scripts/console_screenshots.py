"""Screenshots of the web console for the README: the executions list, an execution's graph with a
failed state and its step details, and a job's details with its video.

Starts the local stack from template.yaml on free ports, runs the demo spec twice (RenderVideo
failing past its retries the first time), serves the console and drives headless Chromium.

    .venv/bin/python scripts/console_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from autovid.core.errors import TransientError
from autovid_cli.console.server import start_for_runtime
from autovid_cli.demo import generate_media, sample_spec
from autovid_cli.targets import StackTarget, upload_local_sources, wait_for_job
from sam_emulator.testing import running_runtime

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go (default: docs/)")
    args = parser.parse_args()
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        print("needs chromium and chromedriver on PATH (apt-get install chromium chromium-driver)", file=sys.stderr)
        return 1
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="console-shots-") as work:
        workdir = Path(work)
        generate_media(workdir / "media")
        spec = sample_spec()
        spec["output"].pop("destination")
        with running_runtime(
            ROOT / "template.yaml", parameter_overrides={"TtsProvider": "espeak-ng"}, stack_name="auto-vid-local"
        ) as runtime:
            target = StackTarget(
                runtime.api_url or "", runtime.outputs()["MediaBucketName"], runtime.client_environment()
            )
            uploaded, _ = upload_local_sources(spec, workdir, target)
            api = target.api()
            runtime.inject_fault("RenderVideoFunction", lambda: TransientError("render node went away"), times=4)
            failed = wait_for_job(api, api.submit(uploaded)["jobId"], timeout=120)
            runtime.clear_faults()
            done = wait_for_job(api, api.submit(uploaded)["jobId"], timeout=300)
            console = start_for_runtime(runtime, host="127.0.0.1", port=0)
            options = Options()
            for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
                options.add_argument(argument)
            driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
            try:
                arn = quote(failed["executionArn"], safe="")
                shots = {
                    "console-executions.png": (f"{console.url}/executions", 1280, 0),
                    "console-execution-graph.png": (
                        f"{console.url}/executions/{arn}?tab=graph&state=RenderVideo",
                        1400,
                        1500,
                    ),
                    "console-job.png": (f"{console.url}/jobs/{done['jobId']}", 1280, 1250),
                }
                args.out.mkdir(parents=True, exist_ok=True)
                for name, (url, width, height) in shots.items():
                    driver.set_window_size(width, 900)
                    driver.get(url)
                    driver.execute_script("var v = document.querySelector('video'); if (v) { v.currentTime = 2.5; }")
                    time.sleep(1.0)  # fonts, the video's frame
                    full = driver.execute_script("return document.documentElement.scrollHeight;")
                    driver.set_window_size(width, height or min(full + 20, 900))
                    time.sleep(0.3)
                    driver.save_screenshot(str(args.out / name))
                    print(f"wrote {args.out / name}")
            finally:
                driver.quit()
                console.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
