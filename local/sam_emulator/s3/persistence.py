"""S3 in the state folder: every object (each with its versions), and buckets made through the API.

One file per object key, ``s3/<bucket>/<hash of the key>``, replaced atomically after each
acknowledged write to that key (PUT, copy, multipart completion, DELETE, DeleteObjects) and
removed when no version is left. Requests are read path-style (``/bucket/key``, what clients use
for an IP endpoint) or virtual-hosted (``bucket.<endpoint host>``). Parts of a multipart upload
that was not completed are not kept, and a bucket's settings come from the template again.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from sam_emulator.state.directory import StateDirectory, file_name, read_pickle, write_pickle
from sam_emulator.state.endpoint import EndpointRequest

logger = logging.getLogger("sam_emulator")

_BUCKET_FILE = "bucket"
_DELETE_KEY = re.compile(r"\{[^}]*\}Key$|^Key$")


def _backend(account: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account]["global"]


class S3Recorder:
    service = "s3"

    def __init__(self, state: StateDirectory, endpoint_host: str):
        self._root = state.folder("s3")
        self._endpoint_host = endpoint_host

    def is_write(self, request: EndpointRequest) -> bool:
        if request.method not in ("PUT", "POST", "DELETE"):
            return False
        if "uploads" in request.query or (request.method == "PUT" and "uploadId" in request.query):
            return False  # a multipart upload's start and parts: its completion is the write
        return True

    def record(self, request: EndpointRequest) -> None:
        bucket, key = self._bucket_and_key(request)
        if not bucket:
            return
        folder = self._root / file_name(bucket)
        if not key:
            if request.method == "DELETE" and not request.query:
                shutil.rmtree(folder, ignore_errors=True)  # DeleteBucket
            elif request.method == "POST" and "delete" in request.query:
                for deleted in _keys_in_delete_request(request.body):
                    self._save(request.account, bucket, deleted)
            elif request.method == "PUT" and not request.query:
                folder.mkdir(exist_ok=True)
                region = _backend(request.account).get_bucket(bucket).region_name
                write_pickle(folder / _BUCKET_FILE, {"name": bucket, "region": region})
            return
        self._save(request.account, bucket, key)

    def _save(self, account: str, bucket: str, key: str) -> None:
        folder = self._root / file_name(bucket)
        path = folder / file_name(key)
        versions = _backend(account).get_bucket(bucket).keys.getlist(key, None)
        if not versions:
            path.unlink(missing_ok=True)
            return
        folder.mkdir(exist_ok=True)
        if not (folder / _BUCKET_FILE).exists():
            region = _backend(account).get_bucket(bucket).region_name
            write_pickle(folder / _BUCKET_FILE, {"name": bucket, "region": region})
        write_pickle(path, {"account": account, "bucket": bucket, "key": key, "versions": versions})

    def _bucket_and_key(self, request: EndpointRequest) -> tuple[str, str]:
        host = request.host.rsplit(":", 1)[0] if not request.host.startswith("[") else request.host
        suffix = "." + self._endpoint_host
        if host.endswith(suffix) and host != self._endpoint_host:
            return host[: -len(suffix)], request.path.lstrip("/")
        bucket, _, key = request.path.lstrip("/").partition("/")
        return bucket, key

    def restore(self, account: str) -> int:
        """Put every kept object back (creating buckets made through the API); the number of keys."""
        restored = 0
        backend = _backend(account)
        for folder in sorted(path for path in self._root.iterdir() if path.is_dir()):
            described = folder / _BUCKET_FILE
            if not described.exists():
                continue
            bucket_info = read_pickle(described)
            name = bucket_info["name"]
            if name not in backend.buckets:
                backend.create_bucket(name, bucket_info["region"])
            bucket = backend.buckets[name]
            for path in folder.iterdir():
                if path.name == _BUCKET_FILE or path.name.startswith("."):
                    continue
                restored += _restore_key(bucket, path)
        return restored


def _restore_key(bucket: Any, path: Path) -> int:
    saved = read_pickle(path)
    bucket.keys.setlist(saved["key"], saved["versions"])
    return 1


def _keys_in_delete_request(body: bytes) -> list[str]:
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - a request to our own endpoint, parsed after moto did
    except ElementTree.ParseError:
        return []
    return [element.text or "" for element in root.iter() if _DELETE_KEY.search(element.tag)]
