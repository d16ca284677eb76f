"""What a user installs: the http-parser route on 3.11+, the packages the wheel holds, and the
pytest plugin's cost (issue 14).

Building the sdist and the wheel and installing them in fresh venvs on 3.9 and 3.13 is
the tox env ``package`` (``tools/check_package.py``): too slow for every test run.
These are the quick checks of the same promises.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import venv
from pathlib import Path
from typing import Dict, List

import pytest

from mesos_auth import install_http_parser as tool

#: The checkout (under tox, ``mesos_auth`` itself is imported from the installed wheel).
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120
#: What only the fakes need: a pytest run that uses no fixture must not load them.
HEAVY = ("mesos_auth.testing.cluster", "mesos_auth.testing.master", "cryptography", "requests", "pymesos")
#: mesos-auth's dependencies: ``install_http_parser`` must run while none of them is installed.
DEPENDENCIES = ("pymesos", "http_parser", "jwt", "cryptography", "requests", "kazoo", "addict")


def python(code: str, *args: str, executable: str = sys.executable) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter that imports mesos_auth from this checkout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(  # noqa: S603 - an interpreter and code of ours
        [executable, "-c", textwrap.dedent(code), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def make_sdist(path: Path) -> Path:
    """A small stand-in of http-parser 0.9.0's sdist (the real one comes from the package index)."""
    files = {
        "http_parser/__init__.py": b"version_info = (0, 9, 0)\n",
        "http_parser/http.py": b"from http_parser.pyparser import HttpParser\n",
        "http_parser/pyparser.py": b"class HttpParser:\n    pass\n",
        "http_parser/parser.c": b"/* left out of the wheel */\n",
        "setup.py": b"from imp import load_source\n",
    }
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"http-parser-0.9.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


# --------------------------------------------------------------------------
# The pytest plugin costs nothing to a run that uses no fixture
# --------------------------------------------------------------------------


def test_importing_the_pytest_plugin_loads_none_of_the_fakes() -> None:
    result = python(
        f"""
        import json, sys
        import mesos_auth.testing.pytest_plugin
        print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))
        """
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded == [], (
        f"importing the plugin imported {loaded}: pytest imports it in every run where mesos-auth is "
        "installed, so it (and mesos_auth.testing/__init__) must import the fakes only inside the fixtures"
    )


def test_the_fixtures_still_find_the_fakes_when_used() -> None:
    result = python(
        """
        import sys
        import mesos_auth.testing.pytest_plugin as plugin
        from mesos_auth.testing import FakeCluster, TestCA
        print(FakeCluster.__module__, TestCA.__module__, plugin.DEFAULT_SECURITY_MODE == 'strict')
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mesos_auth.testing.cluster", "mesos_auth.testing.tls", "True"]


# --------------------------------------------------------------------------
# python -m mesos_auth.install_http_parser: runs before pymesos can be installed
# --------------------------------------------------------------------------

BLOCK_DEPENDENCIES = f"""
import runpy, sys
class Missing:
    '''As after `pip install --no-deps mesos-auth`: none of its dependencies is there.'''
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {list(DEPENDENCIES)!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Missing())
"""


def test_the_tool_runs_with_none_of_the_dependencies_installed(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / tool.SDIST_NAME)
    result = python(
        BLOCK_DEPENDENCIES
        + """
sys.argv = ['install_http_parser'] + sys.argv[1:]
try:
    runpy.run_module('mesos_auth.install_http_parser', run_name='__main__')
except SystemExit as exit:
    import json
    print(json.dumps([sorted(m for m in sys.modules if m.startswith('mesos_auth')), exit.code]))
""",
        "--build-only",
        "--wheelhouse",
        str(tmp_path / "wheelhouse"),
        "--sdist",
        str(sdist),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].endswith(tool.WHEEL_NAME) and (tmp_path / "wheelhouse" / tool.WHEEL_NAME).is_file()
    loaded, code = json.loads(lines[1])
    assert code == 0 and set(loaded) <= {"mesos_auth", "mesos_auth._version", "mesos_auth.install_http_parser"}


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with pip and nothing else: mesos_auth comes from PYTHONPATH, without its dependencies."""
    directory = tmp_path_factory.mktemp("bare-venv")
    venv.create(directory, with_pip=True, symlinks=os.name != "nt")
    return directory / ("Scripts" if os.name == "nt" else "bin") / "python"


def test_the_tool_installs_the_wheel_in_the_environment_that_runs_it(tmp_path: Path, bare_venv: Path) -> None:
    sdist = make_sdist(tmp_path / tool.SDIST_NAME)
    run = [str(bare_venv), "-m", "mesos_auth.install_http_parser", "--sdist", str(sdist)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1")
    env.pop("PIP_FIND_LINKS", None)
    first = subprocess.run(  # noqa: S603 - a venv of ours, our module
        [*run, "--force"], env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "http-parser 0.9.0 (pure Python) is installed" in first.stdout
    assert "pip install mesos-auth" in first.stdout
    check = python("import http_parser.pyparser, http_parser.http; print('ok')", executable=str(bare_venv))
    assert check.stdout.strip() == "ok", check.stderr

    again = subprocess.run(  # noqa: S603 - a venv of ours, our module
        run, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert again.returncode == 0, again.stderr
    expected = "is installed already" if sys.version_info >= tool.NEEDS_PURE_WHEEL else "nothing to do on Python"
    assert expected in again.stdout and again.stdout.count("\n") == 1


def test_on_3_9_and_3_10_the_tool_says_it_is_not_needed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tool, "NEEDS_PURE_WHEEL", (sys.version_info[0], sys.version_info[1] + 1))
    calls: List[object] = []
    monkeypatch.setattr(tool.subprocess, "call", lambda *a, **k: calls.append(a) or 0)
    assert tool.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("install_http_parser: nothing to do on Python ") and "pip install mesos-auth" in out
    assert calls == []


def test_a_build_failure_is_one_line_with_its_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not a tarball")
    assert tool.main(["--force", "--sdist", str(bogus)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("install_http_parser: ") and err.count("\n") == 1


def test_build_only_needs_a_wheelhouse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        tool.main(["--build-only"])
    assert exit.value.code == 2 and "--build-only needs --wheelhouse DIR" in capsys.readouterr().err


def test_the_checkouts_tool_is_the_packaged_module() -> None:
    """tools/http_parser_wheel.py (tox's install_command uses it before mesos-auth is installed)
    loads the packaged module by path: one copy of the code."""
    result = python(
        BLOCK_DEPENDENCIES
        + f"""
sys.path.insert(0, {str(ROOT / "tools")!r})
import http_parser_wheel
print(http_parser_wheel.build_wheel.__code__.co_filename, 'mesos_auth' in sys.modules)
"""
    )
    assert result.returncode == 0, result.stderr
    filename, package_imported = result.stdout.split()
    assert Path(filename) == ROOT / "mesos_auth" / "install_http_parser.py" and package_imported == "False"


# --------------------------------------------------------------------------
# What the wheel holds, and the extras
# --------------------------------------------------------------------------


def test_every_directory_of_modules_is_a_package_that_setup_finds() -> None:
    """``packages = find:`` skips a directory without ``__init__.py``: its modules would be left
    out of the wheel (the demo's framework, say) while working in a checkout."""
    with_modules = {path.parent for path in (ROOT / "mesos_auth").rglob("*.py") if "__pycache__" not in path.parts}
    # find: takes a directory with __init__.py whose parents are packages too.
    not_found = {
        str(directory.relative_to(ROOT))
        for directory in with_modules
        if any(
            not (d / "__init__.py").is_file()
            for d in [directory, *directory.parents]
            if ROOT / "mesos_auth" in [d, *d.parents]
        )
    }
    assert not_found == set()


def extras() -> Dict[str, List[str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    section = config["options.extras_require"]
    return {name: [line.split(">")[0].split("=")[0] for line in section[name].split() if line] for name in section}


def test_the_test_extra_is_what_the_fixtures_need_and_dev_adds_the_suites() -> None:
    found = extras()
    assert found["test"] == ["pytest", "pytest-mock"]
    assert set(found["test"]) < set(found["dev"]) and {"pytest-timeout", "hypothesis"} <= set(found["dev"])


def test_the_plugin_and_the_command_are_the_entry_points() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    points = config["options.entry_points"]
    assert points["console_scripts"].split() == ["mesos-auth", "=", "mesos_auth.cli:main"]
    assert points["pytest11"].split() == ["mesos_auth", "=", "mesos_auth.testing.pytest_plugin"]
