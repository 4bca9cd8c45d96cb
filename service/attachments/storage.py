"""Where the bytes of uploaded materials live: a content-addressed store behind a small interface.

A file is stored once under its SHA-256, however many uploads carry it (their metadata rows are separate and
each belongs to its uploader). :class:`LocalStorage` keeps files in a directory; an object store (S3, OSS,
MinIO…) implements the same four methods with the key as the object name.

Files written for a transaction that is then rolled back stay behind, unreferenced: they are harmless (a later
upload of the same bytes reuses them) and a sweep may remove files no ``attachments`` row refers to. Never
``delete`` a key while a row still refers to it: another resident's upload may share the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from typing import BinaryIO, Protocol

from flask import Flask

_KEY = re.compile(r"^[0-9a-f]{64}$")
EXTENSION_KEY = "civicdesk_storage"


class Storage(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return its key, the SHA-256 hex digest. Storing the same bytes again is a no-op."""

    def open(self, key: str) -> BinaryIO:
        """The stored bytes, to be read and closed by the caller; ``FileNotFoundError`` for an unknown key."""

    def exists(self, key: str) -> bool:
        """Whether bytes are stored under ``key``."""

    def delete(self, key: str) -> None:
        """Remove the bytes under ``key`` (nothing happens if there are none)."""


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError("a storage key is a lower-case SHA-256 hex digest")
    return key


class LocalStorage:
    """Files under ``root/ab/cd/<sha256>``, written to a temporary file in the same directory, then renamed, so
    a reader never sees a partial file and two concurrent writers of the same bytes cannot corrupt it."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def path_of(self, key: str) -> str:
        key = _check_key(key)
        return os.path.join(self.root, key[:2], key[2:4], key)

    def put(self, data: bytes) -> str:
        key = content_key(data)
        path = self.path_of(key)
        if os.path.exists(path):
            return key
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        return open(self.path_of(key), "rb")

    def exists(self, key: str) -> bool:
        return os.path.isfile(self.path_of(key))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_of(key))


def storage_for(app: Flask) -> Storage:
    """The app's storage backend: a :class:`LocalStorage` at ``UPLOAD_DIR``, made once per app."""
    storage: Storage | None = app.extensions.get(EXTENSION_KEY)
    if storage is None:
        storage = LocalStorage(app.config["UPLOAD_DIR"])
        app.extensions[EXTENSION_KEY] = storage
    return storage
