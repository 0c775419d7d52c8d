"""The render engine: a job spec and its assets in, one MP4 out, mixed in a single ffmpeg graph.

Public entry points:

* :func:`autovid.render.probe.probe` - what a media file holds (duration, streams, codecs).
* :func:`autovid.render.plan.build_plan` - the pure mix plan; raises InvalidSpecError for events
  past the video's end.
* :func:`autovid.render.engine.render` - fetch, synthesize, plan and run ffmpeg, with progress.
"""
