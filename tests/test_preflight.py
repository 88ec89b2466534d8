"""The two commands on another machine: a missing browser, npm or new-enough Python stops them with a message."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
import preflight  # tools/preflight.py, on the path from conftest

PREFLIGHT = ROOT / "tools" / "preflight.py"


@pytest.fixture
def bare_path(tmp_path):
    """A PATH holding only python3 (this interpreter): no npm, no browser, no apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    return str(bin_dir)


def run_preflight(check, path, **env):
    """Run `python tools/preflight.py CHECK` with this PATH; return (exit code, stdout, stderr)."""
    result = subprocess.run(
        [sys.executable, str(PREFLIGHT), check], env={"PATH": path, **env}, capture_output=True, text=True
    )
    return result.returncode, result.stdout, result.stderr


def test_missing_npm_stops_with_a_message_saying_what_to_install(bare_path):
    code, out, err = run_preflight("npm", bare_path)
    assert code == 2 and out == ""
    assert "npm is not on PATH" in err and "Install Node.js" in err
    assert "Traceback" not in err


def test_missing_browser_stops_with_a_message_naming_the_setting_when_it_cannot_install(bare_path):
    code, out, err = run_preflight("chromium", bare_path)  # no apt-get on this PATH: nothing may be installed
    assert code == 2 and out == ""
    assert "No Chromium or Chrome found" in err and "make test CHROMIUM=/path/to/chrome" in err
    assert "Traceback" not in err


def test_browser_setting_that_is_not_a_program_is_refused(bare_path, tmp_path):
    code, _, err = run_preflight("chromium", bare_path, CHROMIUM=str(tmp_path / "no-such-browser"))
    assert code == 2 and "is not an executable browser" in err


def test_browser_setting_wins_over_path(bare_path, tmp_path):
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    code, out, _ = run_preflight("chromium", bare_path, CHROMIUM=str(fake))
    assert code == 0 and out.strip() == str(fake)


def test_browser_is_found_on_path_under_its_usual_names(bare_path):
    for name in ("chromium-browser", "google-chrome"):
        link = os.path.join(bare_path, name)
        os.symlink("/bin/true", link)
        code, out, _ = run_preflight("chromium", bare_path)
        assert code == 0 and out.strip() == link
        os.remove(link)


def test_browser_is_installed_only_as_root_on_debian_or_ubuntu(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(preflight.Missing, match="Install Chromium"):
        preflight.check_chromium(may_install=False)
    release = tmp_path / "os-release"
    release.write_text('ID=fedora\nID_LIKE="rhel centos"\n')
    assert not preflight.is_debian_like(release)
    release.write_text("ID=linuxmint\nID_LIKE=ubuntu\n")
    assert preflight.is_debian_like(release)
    assert not preflight.is_debian_like(tmp_path / "missing")


def test_python_older_than_3_11_is_refused_with_the_version_it_needs():
    with pytest.raises(preflight.Missing, match=r"Python 3\.10 is too old.*3\.11 or newer"):
        preflight.check_python((3, 10, 12))
    assert preflight.check_python((3, 11, 0)) == "3.11"


def test_make_book_without_npm_stops_before_building_anything(bare_path, tmp_path):
    """The Makefile's first step is the check: no .venv, no _build, no node_modules are left half-made."""
    make = shutil.which("make")
    assert make, "make is needed to run the book's commands"
    work = tmp_path / "repo"
    (work / "tools").mkdir(parents=True)
    (work / "assets").mkdir()
    for name in ("Makefile", "requirements.txt", "pyproject.toml", "tools/preflight.py", "assets/package.json",
                 "assets/package-lock.json"):
        shutil.copy(ROOT / name, work / name)
    result = subprocess.run([make, "book"], cwd=work, env={"PATH": bare_path}, capture_output=True, text=True)
    assert result.returncode != 0
    assert "npm is not on PATH" in result.stderr
    assert sorted(p.name for p in work.iterdir()) == ["Makefile", "assets", "pyproject.toml", "requirements.txt",
                                                      "tools"]


def test_requires_python_in_pyproject_matches_the_check():
    text = (ROOT / "pyproject.toml").read_text()
    major, minor = preflight.MINIMUM_PYTHON
    assert f'requires-python = ">={major}.{minor}"' in text


def test_changing_the_pins_makes_a_new_environment_and_drops_the_old_site(tmp_path):
    """After requirements.txt changes, `make book` starts from an empty .venv and an empty _build (dry run)."""
    work = tmp_path / "repo"
    (work / "tools").mkdir(parents=True)
    for name in ("Makefile", "requirements.txt", "pyproject.toml", "tools/preflight.py"):
        shutil.copy(ROOT / name, work / name)
    (work / ".venv").mkdir()
    stamp = work / ".venv" / ".installed"
    stamp.touch()
    os.utime(stamp, (1, 1))  # installed long before the pins were last written
    result = subprocess.run(["make", "-n", ".venv/.installed"], cwd=work, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "rm -rf .venv _build" in lines
    assert lines.index("rm -rf .venv _build") < next(i for i, line in enumerate(lines) if "pip install" in line)
