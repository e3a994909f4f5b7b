"""Files of a run: atomic writes follow the umask like any file; the run lock; writability checks."""

import os
import stat
import subprocess
import sys

import pytest

from gankit.errors import GankitError
from gankit.files import RunLock, check_new_run_dir, check_writable, clear_unstarted_run, write_atomic


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a.txt", "x")
        (tmp_path / "b.txt").write_text("x")  # any other file
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.txt") == _mode(tmp_path / "b.txt") == 0o666 & ~umask


def test_a_locked_run_directory_is_refused_with_one_line(tmp_path):
    with RunLock(tmp_path / "r"):
        with pytest.raises(GankitError, match=r"is in use by another gankit process \(pid \d+\)") as e:
            with RunLock(tmp_path / "r"):
                pass
        assert "\n" not in str(e.value)
    with RunLock(tmp_path / "r"):  # released on exit
        pass


def test_a_lock_dies_with_its_process(tmp_path):
    code = f"from gankit.files import RunLock; import os; RunLock({str(tmp_path)!r}).__enter__(); os._exit(9)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9  # exited holding the lock (as SIGKILL)
    with RunLock(tmp_path):
        pass


def test_new_run_dir_must_be_absent_empty_or_never_started(tmp_path):
    assert check_new_run_dir(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".lock").write_text("")
    check_new_run_dir(tmp_path / "empty")
    unstarted = tmp_path / "unstarted"  # what a run stopped before its first checkpoint leaves
    for d in ("samples", "tb", "checkpoints"):
        (unstarted / d).mkdir(parents=True)
    (unstarted / "config.yaml").write_text("x")
    (unstarted / "metrics.jsonl").write_text("{}")
    (unstarted / "samples" / "step_000001.png").write_bytes(b"png")
    (unstarted / "checkpoints" / ".step_000002.pt.abc.tmp").write_bytes(b"torn")
    check_new_run_dir(unstarted)
    assert clear_unstarted_run(unstarted) and sorted(p.name for p in unstarted.iterdir()) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(GankitError, match="is a file"):
        check_new_run_dir(tmp_path / "file")


@pytest.mark.parametrize("work", ["checkpoints/step_000005.pt", "checkpoints/last.pt", "notes.txt", "samples/x/y.pt"])
def test_a_run_with_work_in_it_is_never_reused(tmp_path, work):
    run = tmp_path / "r"
    (run / work).parent.mkdir(parents=True)
    (run / work).write_bytes(b"work")
    (run / "config.yaml").write_text("x")
    with pytest.raises(GankitError, match="already exists and is not empty"):
        check_new_run_dir(run)


def test_a_planted_lock_link_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("DATA")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / ".lock").symlink_to(victim)
    with pytest.raises(GankitError, match="symbolic link"):
        with RunLock(tmp_path / "r"):
            pass
    assert victim.read_text() == "DATA"


def test_atomic_writes_name_the_file_they_could_not_write(tmp_path):
    (tmp_path / "d.html").mkdir()
    with pytest.raises(IsADirectoryError) as e:
        write_atomic(tmp_path / "d.html", "x")
    assert e.value.filename == str(tmp_path / "d.html")
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_folder_is_said_up_front(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(GankitError, match="cannot write in"):
            check_writable(ro / "sub")
    finally:
        ro.chmod(0o700)


def test_a_folder_where_a_file_is_is_not_writable(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(GankitError, match="cannot write in"):
        check_writable(tmp_path / "f" / "sub")
