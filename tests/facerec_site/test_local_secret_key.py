"""The SECRET_KEY a local-only site generates into var/secret_key: private from creation, made once."""

from __future__ import annotations

import stat

from facerec_site.local_keys import local_secret_key as _local_secret_key


def test_the_key_file_is_private_and_the_key_is_made_once(tmp_path):
    path = tmp_path / "secret_key"

    key = _local_secret_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 50 and _local_secret_key(path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left behind


def test_a_process_that_loses_the_race_uses_the_winners_key(tmp_path):
    class CreatedJustAfterTheCheck(type(tmp_path)):
        def exists(self, *args, **kwargs):  # another process writes the file right after this says no
            return False

    path = tmp_path / "secret_key"
    path.write_text("the-key-of-the-process-that-started-first\n")

    assert _local_secret_key(CreatedJustAfterTheCheck(path)) == "the-key-of-the-process-that-started-first"
    assert path.read_text() == "the-key-of-the-process-that-started-first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
