#!/usr/bin/env python3
"""Build mesos-auth's sdist and wheel, check them, and use the wheel as a user would (tox env ``package``).

1. ``python -m build``: the sdist, then the wheel built from that sdist (so a file
   the sdist forgets fails here, not on a user's machine);
2. ``twine check --strict``: the metadata and the README render on a package index;
3. the wheel holds every module of ``mesos_auth/`` (the demo's framework included)
   and nothing of the checkout beside it; the sdist holds what the tests need;
4. for each interpreter (``--python``, default python3.9 and python3.13): a fresh
   venv, the wheel installed by the README's route for that Python (on 3.11+:
   ``pip install --no-deps``, ``python -m mesos_auth.install_http_parser``, then
   ``pip install``), then ``mesos-auth --version`` and ``mesos-auth demo`` run from
   a directory outside the checkout, with an environment that holds nothing of it.

Every check runs even when one before it failed; each prints one ``ok``/``FAIL``
line, and the exit code is 1 when any failed. Network: only the package index
(pip, and http-parser's sdist on 3.11+).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mesos_auth"
#: Files the wheel must hold beyond the modules (which are compared with the source tree).
WHEEL_MUST_HOLD = ("mesos_auth/py.typed",)
#: What ``mesos-auth demo`` runs, shipped in the package (see setup.cfg's package_data note).
DEMO_FRAMEWORK = "mesos_auth/examples/hello_factory.py"
#: Files of the checkout the sdist must hold (the tests, the tools tox runs, the examples).
SDIST_MUST_HOLD = (
    "README.md",
    "setup.cfg",
    "pyproject.toml",
    "tox.ini",
    "tools/http_parser_wheel.py",
    "tools/tox_install.py",
    "mesos_auth/install_http_parser.py",
    "tests/conftest.py",
    "examples/frameworks/hello_factory.py",
)
#: Variables of the caller that would let the checkout leak into the venvs.
HIDDEN_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_FIND_LINKS", "PIP_REQUIRE_VIRTUALENV")
STEP_TIMEOUT = 600.0
DEMO_TIMEOUT = 180.0


class Checks:
    """Runs each check, prints one line for it, and remembers the failures."""

    def __init__(self) -> None:
        self.failures: List[str] = []

    def result(self, name: str, ok: bool, detail: str = "") -> bool:
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
        if not ok:
            self.failures.append(name)
        return ok

    def run(
        self, name: str, command: Sequence[str], cwd: Path, env: Dict[str, str], timeout: float = STEP_TIMEOUT
    ) -> Optional[str]:
        """Run ``command``; its output is shown only when it fails. Returns the output, or None on failure."""
        started = time.monotonic()
        try:
            result = subprocess.run(  # noqa: S603 - our tools, our arguments
                list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            self.result(name, False, f"still running after {timeout:.0f} s")
            print(_text(exc.stdout) + _text(exc.stderr), flush=True)
            return None
        output = result.stdout + result.stderr
        took = f"{time.monotonic() - started:.1f} s"
        if not self.result(
            name, result.returncode == 0, took if result.returncode == 0 else f"exit {result.returncode}"
        ):
            print(_indent(output), flush=True)
            return None
        return output


def _text(data: object) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data or "")


def _indent(text: str) -> str:
    return "\n".join(f"    | {line}" for line in text.rstrip().splitlines())


def clean_environment() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN_VARIABLES and not k.startswith("MESOS_")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def build(checks: Checks, dist: Path) -> None:
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir(parents=True)
    checks.run(
        "build the sdist, then the wheel from it",
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        ROOT,
        dict(os.environ),
    )


def source_modules() -> List[str]:
    """Every file pip must install from ``mesos_auth/`` (its modules, no caches)."""
    return sorted(
        path.relative_to(ROOT).as_posix() for path in (ROOT / PACKAGE).rglob("*.py") if "__pycache__" not in path.parts
    )


def check_contents(checks: Checks, wheel: Path, sdist: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next((archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")), "")
    missing = [name for name in (*source_modules(), *WHEEL_MUST_HOLD) if name not in names]
    checks.result("the wheel holds every module of mesos_auth/ and py.typed", not missing, ", ".join(missing))
    checks.result("the wheel holds the demo's framework", DEMO_FRAMEWORK in names, DEMO_FRAMEWORK)
    strays = sorted(
        {n.split("/", 1)[0] for n in names} - {PACKAGE} - {n.split("/", 1)[0] for n in names if ".dist-info/" in n}
    )
    checks.result("the wheel holds nothing but mesos_auth/ and its metadata", not strays, ", ".join(strays))
    wanted = ["mesos-auth = mesos_auth.cli:main", "mesos_auth = mesos_auth.testing.pytest_plugin"]
    checks.result(
        "the wheel's entry points: the mesos-auth command and the pytest plugin",
        all(line in entry_points for line in wanted),
        entry_points.strip().replace("\n", "; "),
    )
    with tarfile.open(sdist) as archive:
        held = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    missing = [name for name in SDIST_MUST_HOLD if name not in held]
    checks.result("the sdist holds the tests, tools and examples", not missing, ", ".join(missing))


def try_in_venv(checks: Checks, python: str, wheel: Path, work: Path) -> None:
    interpreter = shutil.which(python)
    if interpreter is None:
        checks.result(f"{python}: found on PATH", False, "install it (pyenv) or put it on PATH")
        return
    env = clean_environment()
    venv = work / f"venv-{python}"
    shutil.rmtree(venv, ignore_errors=True)
    if checks.run(f"{python}: a fresh venv", [interpreter, "-m", "venv", str(venv)], work, env) is None:
        return
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    venv_python = str(bin_dir / "python")
    version = subprocess.run(  # noqa: S603 - the venv's interpreter
        [venv_python, "-c", "import sys; print(sys.version_info >= (3, 11))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    pip = [venv_python, "-m", "pip", "install", "--quiet"]
    if version == "True":  # the README's route for 3.11+
        steps = [
            ("pip install --no-deps <wheel>", [*pip, "--no-deps", str(wheel)]),
            ("python -m mesos_auth.install_http_parser", [venv_python, "-m", "mesos_auth.install_http_parser"]),
            ("pip install <wheel>", [*pip, str(wheel)]),
        ]
    else:
        steps = [("pip install <wheel>", [*pip, str(wheel)])]
    for name, command in steps:
        if checks.run(f"{python}: {name}", command, work, env) is None:
            return
    command = str(bin_dir / "mesos-auth")
    output = checks.run(f"{python}: mesos-auth --version", [command, "--version"], work, env)
    if output is not None:
        print(_indent(output), flush=True)
    output = checks.run(f"{python}: mesos-auth demo (outside the checkout)", [command, "demo"], work, env, DEMO_TIMEOUT)
    if output is not None:
        print(_indent("\n".join(output.rstrip().splitlines()[-3:])), flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--work", type=Path, required=True, help="a scratch directory (dist/ and the venvs go there)")
    parser.add_argument(
        "--python", action="append", help="an interpreter to install the wheel on (repeatable; default 3.9 and 3.13)"
    )
    args = parser.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    dist = work / "dist"
    checks = Checks()
    build(checks, dist)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        checks.result("one wheel and one sdist built", False, ", ".join(p.name for p in dist.iterdir()))
        return 1
    checks.run(
        "twine check --strict",
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, (*sdists, *wheels))],
        work,
        dict(os.environ),
    )
    check_contents(checks, wheels[0], sdists[0])
    for python in args.python or ["python3.9", "python3.13"]:
        try_in_venv(checks, python, wheels[0], work)
    if checks.failures:
        print(f"\n{len(checks.failures)} check(s) failed: " + "; ".join(checks.failures), flush=True)
        return 1
    print("\nthe sdist and the wheel are good", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
