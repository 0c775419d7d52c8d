"""Durable state: what the endpoint holds, kept in a folder so that it survives a restart or a crash.

:mod:`~sam_emulator.state.directory` owns the folder (its layout, atomic writes, append-only
logs, the lock that keeps two runtimes off one folder); :mod:`~sam_emulator.state.endpoint`
serializes the endpoint's requests per service and, after each write it acknowledges, asks that
service's recorder to save what changed before the answer leaves. The recorders live with their
service: ``dynamodb/persistence.py``, ``s3/persistence.py``, ``sqs/persistence.py``,
``secretsmanager/persistence.py`` and ``stepfunctions/persistence.py``.
"""
