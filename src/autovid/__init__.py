"""auto-vid domain package: job spec, job records, status transitions and the render engine.

Only ``autovid.aws`` imports boto3; everything else talks to AWS through it.
"""

__version__ = "0.1.0"
