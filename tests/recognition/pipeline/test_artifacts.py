"""The cache of files built from others (ONNX exports, int8 models), keyed by their sidecars."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from recognition.pipeline import artifacts


def test_a_cached_export_is_built_once_and_again_when_its_source_or_bytes_change(tmp_path):
    path = tmp_path / "derived.onnx"
    builds = []

    def build(content: bytes):
        def run():
            builds.append(content)
            return content, {"note": "facts recorded beside the sha256"}
        return run

    sha = artifacts.ensure_cached_export(path, tmp_path, {"source_sha256": "a"}, build(b"first"))
    assert sha == hashlib.sha256(b"first").hexdigest() and path.read_bytes() == b"first"
    meta = json.loads(Path(f"{path}.json").read_text())
    assert meta == {"sha256": sha, "note": "facts recorded beside the sha256", "source_sha256": "a"}

    assert artifacts.ensure_cached_export(path, tmp_path, {"source_sha256": "a"}, build(b"unused")) == sha
    assert builds == [b"first"]  # cached: not built again

    artifacts.ensure_cached_export(path, tmp_path, {"source_sha256": "b"}, build(b"second"))  # another source
    assert path.read_bytes() == b"second"
    path.write_bytes(b"corrupted")
    artifacts.ensure_cached_export(path, tmp_path, {"source_sha256": "b"}, build(b"third"))
    assert builds == [b"first", b"second", b"third"] and path.read_bytes() == b"third"
