"""The REST API client behind `autovid submit/status/demo`: finding the stack, and waiting."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from autovid_cli import targets as client
from autovid_cli.targets import ApiError, ApiUnreachableError, find_stack, remove_local_stack_file, wait_for_job


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOVID_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def save_stack(api_url: str, bucket: str = "local-bucket"):
    return client.write_local_stack_file(
        api_url, {"MediaBucketName": bucket}, {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    )


def test_the_running_stack_is_found_from_its_file(in_tmp):
    save_stack("http://127.0.0.1:3000")
    target = find_stack(None, None, None)
    assert (target.api_url, target.bucket) == ("http://127.0.0.1:3000", "local-bucket")
    assert target.aws_environment == {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}


def test_api_pointing_at_the_running_stack_gets_its_bucket(in_tmp):
    save_stack("http://127.0.0.1:3000")
    assert find_stack("http://127.0.0.1:3000/", None, None).bucket == "local-bucket"
    other = find_stack("https://abc.execute-api.us-east-1.amazonaws.com/Prod", None, None)
    assert (other.bucket, other.aws_environment) == (None, {}), "another deployment shares nothing"
    assert find_stack("https://x.example", "given", None).bucket == "given"


def test_no_stack_at_all_is_a_clear_error(in_tmp):
    with pytest.raises(client.TargetError, match="run `autovid up` first"):
        find_stack(None, None, None)


def test_a_stopped_stack_forgets_only_its_own_file(in_tmp):
    path = save_stack("http://127.0.0.1:3000")
    remove_local_stack_file("http://127.0.0.1:3999")
    assert path.is_file()
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "pid": os.getppid()}))  # a newer `autovid up` on that port
    remove_local_stack_file("http://127.0.0.1:3000")
    assert path.is_file(), "not this process's stack"
    path.write_text(json.dumps(saved))
    remove_local_stack_file("http://127.0.0.1:3000")
    assert not path.exists()


def test_the_running_stack_is_found_from_any_directory(in_tmp, monkeypatch):
    save_stack("http://127.0.0.1:3000", bucket="b")
    elsewhere = in_tmp / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    target = find_stack(None, None, None)
    assert (target.api_url, target.bucket) == ("http://127.0.0.1:3000", "b")
    by_url = find_stack("http://127.0.0.1:3000", None, None)
    assert by_url.aws_environment == {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, "--api gets its endpoint too"


def test_a_killed_stack_is_ignored_and_forgotten(in_tmp):
    path = save_stack("http://127.0.0.1:3000")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({**json.loads(path.read_text()), "pid": dead.pid}))
    with pytest.raises(client.TargetError, match="run `autovid up` first"):
        find_stack(None, None, None)
    assert not path.exists()
    assert find_stack("http://127.0.0.1:3000", None, None).bucket is None, "a plain --api target"


def test_several_running_stacks_need_api(in_tmp):
    save_stack("http://127.0.0.1:3000", bucket="one")
    save_stack("http://127.0.0.1:3100", bucket="two")
    with pytest.raises(client.TargetError, match=r"several .* \(http://127.0.0.1:3000, http://127.0.0.1:3100\)"):
        find_stack(None, None, None)
    assert find_stack("http://127.0.0.1:3100/", None, None).bucket == "two"


class ScriptedApi:
    def __init__(self, answers):
        self.answers = list(answers)

    def status(self, job_id):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_waiting_survives_a_few_missed_polls():
    api = ScriptedApi(
        [
            {"status": "processing"},
            ApiUnreachableError("connection reset"),
            ApiError(503, {"message": "Service Unavailable"}),
            {"status": "completed"},
        ]
    )
    assert wait_for_job(api, "job", poll_seconds=0)["status"] == "completed"


def test_waiting_gives_up_after_too_many_missed_polls_and_at_once_on_4xx():
    down = ScriptedApi([ApiUnreachableError("down")] * (client.MAX_MISSED_POLLS + 1))
    with pytest.raises(ApiUnreachableError):
        wait_for_job(down, "job", poll_seconds=0)
    gone = ScriptedApi([ApiError(404, {"error": "job not found"})])
    with pytest.raises(ApiError):
        wait_for_job(gone, "job", poll_seconds=0)


def test_the_stack_file_holds_what_submit_needs(in_tmp):
    path = save_stack("http://127.0.0.1:3000", bucket="b")
    assert path.parent == in_tmp / "state" / "stacks"
    saved = json.loads(path.read_text())
    assert saved["apiUrl"] == "http://127.0.0.1:3000" and saved["outputs"]["MediaBucketName"] == "b"


def submit_args(spec, **options):
    import argparse

    defaults = {"api": None, "stack": None, "bucket": None, "json": True, "wait": False, "timeout": None}
    return argparse.Namespace(spec=spec, **{**defaults, **options})


def test_a_stack_that_is_gone_is_unreachable_not_bad_input(in_tmp, capsys):
    """A stack file left by an `autovid up` that was killed: the upload cannot connect (exit 1)."""
    from autovid_cli.jobs import EXIT_FAILED, run_submit

    aws = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_REGION": "us-east-1"}
    aws |= {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    client.write_local_stack_file("http://127.0.0.1:1", {"MediaBucketName": "local-bucket"}, aws)
    (in_tmp / "clip.mp4").write_bytes(b"not really a video")
    spec = in_tmp / "spec.json"
    spec.write_text(json.dumps({"assets": {"video": {"id": "v", "source": "clip.mp4"}}}))
    assert run_submit(submit_args(spec)) == EXIT_FAILED
    answer = json.loads(capsys.readouterr().out)
    assert answer["error"].startswith("cannot reach S3 to upload ")


def test_json_output_stays_one_document_when_the_download_fails(in_tmp, capsys):
    from autovid_cli.jobs import EXIT_FAILED, finish

    job = {
        "jobId": "job-1",
        "status": "completed",
        "metadata": {"outputFilename": "out.mp4"},
        "output": {"url": "http://127.0.0.1:1/out.mp4"},
    }
    code = finish(ScriptedApi([job]), "job-1", in_tmp / "out", show_progress=False, timeout=5, as_json=True)
    assert code == EXIT_FAILED
    answer = json.loads(capsys.readouterr().out)  # exactly one JSON document
    assert answer["status"] == "completed" and answer["downloadError"].startswith("download failed")
    assert not (in_tmp / "out" / "out.mp4").exists()


def test_a_missing_local_source_is_found_before_anything_is_uploaded(in_tmp):
    uploads: list[str] = []

    class RecordingS3:
        def upload_file(self, path, bucket, key):
            uploads.append(key)

    target = client.StackTarget(api_url="http://127.0.0.1:3000", bucket="b")
    target.s3 = RecordingS3  # type: ignore[method-assign]
    (in_tmp / "clip.mp4").write_bytes(b"video")
    spec = {
        "assets": {
            "video": {"id": "v", "source": "clip.mp4"},
            "audio": [{"id": "m", "source": "music/missing.mp3"}],
        }
    }
    with pytest.raises(client.TargetError, match="local source 'music/missing.mp3' does not exist"):
        client.upload_local_sources(spec, [in_tmp], target)
    assert uploads == []
    (in_tmp / "music").mkdir()
    (in_tmp / "music" / "missing.mp3").write_bytes(b"music")
    rewritten, _ = client.upload_local_sources(spec, [in_tmp], target)
    assert [a["source"] for a in [rewritten["assets"]["video"], *rewritten["assets"]["audio"]]] == [
        f"s3://b/{key}" for key in uploads
    ]
    assert len(uploads) == 2


def test_the_api_key_comes_from_the_environment_or_the_stack_file(in_tmp, monkeypatch):
    monkeypatch.delenv("AUTOVID_API_KEY", raising=False)
    path = client.write_local_stack_file("http://127.0.0.1:3000", {}, {}, api_key="from-up")
    assert oct(path.stat().st_mode & 0o777) == "0o600", "the file holds a key: its owner only"
    target = find_stack(None, None, None)
    assert target.api_key == "from-up"
    assert target.api().headers["x-api-key"] == "from-up"
    monkeypatch.setenv("AUTOVID_API_KEY", "from-env")
    assert find_stack(None, None, None).api_key == "from-env"
    assert find_stack("https://abc.example/Prod", None, None).api_key == "from-env"
    monkeypatch.delenv("AUTOVID_API_KEY")
    assert "x-api-key" not in find_stack("https://abc.example/Prod", None, None).api().headers
