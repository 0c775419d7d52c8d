"""Engine-level failures name the asset or field and leave no temporary files; the CLI's exit codes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from render.conftest import offline_settings, run_render, source_of
from render.media import decode, rms

from autovid.core.config import Limits
from autovid.core.errors import AssetNotFoundError, InvalidAssetError, InvalidSpecError, InvalidVoiceError
from autovid.render import engine
from autovid.render.engine import render
from autovid.render.probe import probe
from autovid.render.tts import SpeechSynthesizer
from autovid.spec import parse_spec
from autovid_cli.offline_render import LocalFileFetcher, render_command


def _raw(timeline=(), video="video"):
    return {
        "assets": {
            "video": {"id": "main", "source": source_of(video)},
            "audio": [{"id": "sfx", "source": source_of("sfx")}],
        },
        "timeline": list(timeline),
        "output": {"filename": "o.mp4"},
    }


def _render(tmp_path, raw, files):
    """render() with a fetcher that has local files behind it, cleaned up however the render ends."""
    local = {source_of(name): path for name, path in files.items()}
    limits = Limits()
    with LocalFileFetcher(tmp_path, local, settings=offline_settings(), max_bytes=limits.max_asset_bytes) as fetcher:
        return render(parse_spec(raw, limits), tmp_path, fetcher=fetcher)


def _leftovers(tmp_path):
    return [p for p in tmp_path.rglob("autovid-assets-*")]


def test_undecodable_asset_names_its_field_and_cleans_up(media, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF nonsense")
    raw = _raw([{"type": "audio", "start": 1, "data": {"assetId": "sfx"}}])
    with pytest.raises(InvalidAssetError) as caught:
        _render(tmp_path, raw, {"video": media["video"], "sfx": broken})
    assert (caught.value.asset_id, caught.value.field) == ("sfx", "assets.audio[0].source")
    assert _leftovers(tmp_path) == []


def test_missing_local_file_is_not_found(media, tmp_path):
    with pytest.raises(AssetNotFoundError):
        _render(tmp_path, _raw(), {"video": tmp_path / "nope.mp4", "sfx": media["sfx"]})
    assert _leftovers(tmp_path) == []


def test_the_first_bad_asset_in_the_order_of_assets_audio_is_reported(media, tmp_path):
    raw = _raw([{"type": "audio", "start": 1, "data": {"assetId": "first"}}])
    raw["assets"]["audio"] = [
        {"id": "first", "source": source_of("first")},
        {"id": "second", "source": source_of("second")},
        {"id": "unused", "source": source_of("unused")},
    ]
    raw["backgroundMusic"] = {"playlist": ["second"]}  # the playlist is read first, yet spec order wins
    missing = {"video": media["video"], "first": tmp_path / "gone1.mp3", "second": tmp_path / "gone2.mp3"}
    with pytest.raises(AssetNotFoundError) as caught:
        _render(tmp_path, raw, missing)
    assert (caught.value.asset_id, caught.value.field) == ("first", "assets.audio[0].source")


def test_event_after_the_end_is_a_validation_error_naming_it(media, tmp_path):
    raw = _raw(
        [
            {"type": "audio", "start": 1, "data": {"assetId": "sfx"}},
            {"type": "tts", "start": 30, "data": {"text": "too late"}},
        ]
    )
    with pytest.raises(InvalidSpecError) as caught:
        _render(tmp_path, raw, media)
    assert [e.field for e in caught.value.errors] == ["timeline[1].start"]
    assert _leftovers(tmp_path) == []


def test_cli_renders_relative_paths_and_reports_exit_codes(media, tmp_path, capsys):
    for name in ("video", "sfx"):
        (tmp_path / media[name].name).symlink_to(media[name])
    spec = {
        "assets": {"video": {"id": "v", "source": "video.mp4"}, "audio": [{"id": "s", "source": "./sfx.wav"}]},
        "timeline": [
            {"type": "audio", "start": 2, "data": {"assetId": "s", "volume": 1}},
            {"type": "tts", "start": 4, "data": {"text": "Rendered offline"}},
        ],
        "output": {"destination": "./out", "filename": "ignored.mp4"},
    }
    (tmp_path / "job.json").write_text(json.dumps(spec))
    out = tmp_path / "result" / "final.mp4"
    assert render_command(str(tmp_path / "job.json"), str(out), progress=False, tts_provider="espeak-ng") == 0
    samples = decode(out)
    assert rms(samples, 2.0, 2.5) > 0.05 and rms(samples, 0, 1.9) < 1e-3
    assert rms(samples, 4.0, 4.6) > 1e-3

    spec["timeline"][0]["start"] = 99
    (tmp_path / "late.json").write_text(json.dumps(spec))
    assert render_command(str(tmp_path / "late.json"), str(out), progress=False, tts_provider="espeak-ng") == 2
    assert "timeline[0].start" in capsys.readouterr().err
    assert [p for p in (tmp_path / "result").iterdir() if p.name != "final.mp4"] == []


def test_cli_json_output_for_results_and_errors(media, tmp_path, capsys):
    (tmp_path / "video.mp4").symlink_to(media["video"])
    spec = {
        "assets": {"video": {"id": "v", "source": "video.mp4"}},
        "timeline": [{"type": "tts", "start": 1, "data": {"text": "Machine readable"}}],
        "output": {"filename": "x.mp4"},
    }
    (tmp_path / "job.json").write_text(json.dumps(spec))
    out = tmp_path / "x.mp4"
    assert (
        render_command(str(tmp_path / "job.json"), str(out), progress=False, tts_provider="espeak-ng", as_json=True)
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["output"] == str(out.resolve())
    assert result["size"] == out.stat().st_size and result["videoCopied"] is True
    assert abs(result["duration"] - probe(media["video"]).duration) < 0.05

    spec["timeline"][0]["start"] = 99
    (tmp_path / "late.json").write_text(json.dumps(spec))
    assert (
        render_command(str(tmp_path / "late.json"), str(out), progress=False, tts_provider="espeak-ng", as_json=True)
        == 2
    )
    error = json.loads(capsys.readouterr().out)
    assert error["details"][0]["field"] == "timeline[0].start"


def test_concurrent_probes_report_the_first_bad_asset_in_spec_order(media, tmp_path, monkeypatch):
    """Assets are probed concurrently, but the error is the one a one-by-one check would give."""
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF nonsense")
    real_probe = engine.probe

    def slow_for_the_first(path, **kwargs):
        if kwargs.get("asset_id") == "first":
            time.sleep(0.3)  # so the later bad asset fails first in time
        return real_probe(path, **kwargs)

    monkeypatch.setattr(engine, "probe", slow_for_the_first)
    raw = {
        "assets": {
            "video": {"id": "main", "source": source_of("video")},
            "audio": [{"id": "first", "source": source_of("first")}, {"id": "second", "source": source_of("second")}],
        },
        "timeline": [
            {"type": "audio", "start": 1, "data": {"assetId": "first"}},
            {"type": "audio", "start": 2, "data": {"assetId": "second"}},
        ],
        "output": {"filename": "o.mp4"},
    }
    with pytest.raises(InvalidAssetError) as caught:
        _render(tmp_path, raw, {"video": media["video"], "first": broken, "second": broken})
    assert (caught.value.asset_id, caught.value.field) == ("first", "assets.audio[0].source")
    assert _leftovers(tmp_path) == []


class _SlowFailingVoice:
    """A TTS provider that takes a while and then fails, counting its calls."""

    name = "espeak-ng"

    def __init__(self):
        self.calls = 0

    def synthesize(self, text, voice, engine, language, text_type):
        self.calls += 1
        time.sleep(0.5)
        raise InvalidVoiceError(f"no voice {voice!r}")


def _speech_spec(starts):
    return _raw(
        [{"type": "audio", "start": 1, "data": {"assetId": "sfx"}}]
        + [{"type": "tts", "start": s, "data": {"text": f"line {i}"}} for i, s in enumerate(starts)]
    )


def _render_with_voice(tmp_path, raw, files, voice):
    local = {source_of(name): path for name, path in files.items()}
    settings = offline_settings()
    with LocalFileFetcher(tmp_path, local, settings=settings, max_bytes=Limits().max_asset_bytes) as fetcher:
        synthesizer = SpeechSynthesizer(fetcher.dir, settings, providers={"espeak-ng": voice})
        return render(parse_spec(raw, Limits()), tmp_path / "out", fetcher=fetcher, synthesizer=synthesizer)


def test_speech_errors_come_after_asset_and_timeline_errors(media, tmp_path):
    """Speech is synthesized while the assets are probed; an asset error still wins, and no
    further utterance is synthesized once probing has failed."""
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF nonsense")
    voice = _SlowFailingVoice()
    with pytest.raises(InvalidAssetError) as caught:
        _render_with_voice(tmp_path, _speech_spec([2, 3, 4]), {"video": media["video"], "sfx": broken}, voice)
    assert caught.value.asset_id == "sfx"
    assert voice.calls <= 1  # the first may have started before probing failed; no others do

    with pytest.raises(InvalidSpecError) as late:
        _render_with_voice(tmp_path, _speech_spec([2, 30]), media, _SlowFailingVoice())
    assert [e.field for e in late.value.errors] == ["timeline[2].start"]

    with pytest.raises(InvalidVoiceError) as voiceless:
        _render_with_voice(tmp_path, _speech_spec([2]), media, _SlowFailingVoice())
    assert voiceless.value.field == "timeline[1].data"
    assert _leftovers(tmp_path) == []


def test_a_failing_progress_callback_stops_ffmpeg(media, tmp_path, monkeypatch):
    """If reporting progress raises, ffmpeg is killed and waited for, not left running."""
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        process = real_popen(*args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(engine.subprocess, "Popen", recording_popen)

    def broken(percent: int) -> None:
        if percent > 0:
            raise RuntimeError("progress store is down")

    raw = {"assets": {"video": {"id": "v", "source": source_of("video")}}, "output": {"filename": "p.mp4"}}
    with pytest.raises(RuntimeError, match="progress store is down"):
        run_render(tmp_path, raw, media, progress=broken)
    ffmpeg_runs = [p for p in started if "-progress" in p.args]
    assert ffmpeg_runs and all(p.returncode is not None for p in ffmpeg_runs)


def test_a_long_timeline_goes_to_ffmpeg_as_a_script_file(media, tmp_path, monkeypatch):
    """300 ducked events make a graph of tens of kilobytes; it travels as a file, never in argv."""
    captured: dict = {}
    real_run = engine.run_with_progress

    def capture(args, duration, report, *, log_path, **options):
        index = args.index("-/filter_complex")
        captured["script"] = Path(args[index + 1]).read_text()
        captured["longest_arg"] = max(len(a) for a in args)
        return real_run(args, duration, report, log_path=log_path, **options)

    monkeypatch.setattr(engine, "run_with_progress", capture)
    events = [
        {"type": "audio", "start": round(i * 0.04, 2), "data": {"assetId": "sfx", "volume": 0.1, "duckingLevel": 0.5}}
        for i in range(300)
    ]
    raw = {
        "assets": {
            "video": {"id": "v", "source": source_of("video")},
            "audio": [{"id": "sfx", "source": source_of("sfx")}, {"id": "a", "source": source_of("music_a")}],
        },
        "backgroundMusic": {"playlist": ["a"]},
        "timeline": events,
        "output": {"filename": "long.mp4"},
    }
    _, result = run_render(tmp_path, raw, media)
    assert len(captured["script"]) > 20_000
    assert captured["longest_arg"] < 4096, "no argument carries the graph"
    assert abs(result.duration - 12.0) < 0.05
    samples = decode(result.output_path)
    assert rms(samples, 1.0, 6.0) > 0.01
