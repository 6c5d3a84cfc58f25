import os
import stat
from pathlib import Path

import pytest

from queued_jobs._private import PRIVATE_DIRECTORY, make_directories


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_folder_created_is_its_owners_alone(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        make_directories(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(old)
    for folder in ("a", "a/b", "a/b/c"):
        assert _mode(tmp_path / folder) == PRIVATE_DIRECTORY


def test_folders_that_exist_keep_their_mode(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir(mode=0o755)
    make_directories(tmp_path / "shared" / "mine")
    assert _mode(tmp_path / "shared") == 0o755
    assert _mode(tmp_path / "shared" / "mine") == PRIVATE_DIRECTORY


def test_a_file_or_a_dangling_link_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileExistsError):
        make_directories(tmp_path / "file" / "below")
    with pytest.raises(FileExistsError):
        make_directories(tmp_path / "dangling")
    assert not (tmp_path / "nowhere").exists()
