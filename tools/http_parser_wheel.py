#!/usr/bin/env python3
"""Build a pure-Python wheel of http-parser, so pymesos installs on Python 3.11+.

The code is ``mesos_auth/install_http_parser.py``, which ships inside mesos-auth
(``python -m mesos_auth.install_http_parser`` builds and installs the wheel for
users without a checkout). This file loads that module by its path, without
importing the package, so that it runs on a bare interpreter before anything is
installed (tox's ``install_command``, ``tools/tox_install.py``, needs exactly that)::

    python tools/http_parser_wheel.py wheelhouse/
    pip install --find-links wheelhouse/ mesos-auth

See the module's docstring for why the wheel is needed and how it is made.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SOURCE = Path(__file__).resolve().parents[1] / "mesos_auth" / "install_http_parser.py"
_NAME = "_mesos_auth_install_http_parser"


def _load():
    module = sys.modules.get(_NAME)
    if module is None:
        spec = importlib.util.spec_from_file_location(_NAME, _SOURCE)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {_SOURCE}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module  # before exec: dataclasses and pickling look it up there
        spec.loader.exec_module(module)
    return module


_module = _load()
PROJECT = _module.PROJECT
VERSION = _module.VERSION
SDIST_NAME = _module.SDIST_NAME
WHEEL_NAME = _module.WHEEL_NAME
DEFAULT_INDEX = _module.DEFAULT_INDEX
WheelBuildError = _module.WheelBuildError
configured_index_url = _module.configured_index_url
sdist_links = _module.sdist_links
fetch_sdist = _module.fetch_sdist
build_wheel = _module.build_wheel
ensure_wheel = _module.ensure_wheel


def main(argv=None) -> int:
    return int(_module.wheelhouse_main(argv, prog="http_parser_wheel"))


if __name__ == "__main__":
    sys.exit(main())
