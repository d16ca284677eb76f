"""The http-parser wheel builder (tools/http_parser_wheel.py), against a real
loopback index and sdists made in the test."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import sys
import tarfile
import threading
import zipfile
from pathlib import Path
from typing import Dict

import http_parser_wheel as tool
import pytest
import tox_install

INIT = b"version_info = (0, 9, 0)\n__version__ = '.'.join(map(str, version_info))\n"


def make_sdist(path: Path, files: Dict[str, bytes], root: str = "http-parser-0.9.0") -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def good_files() -> Dict[str, bytes]:
    return {
        "http_parser/__init__.py": INIT,
        "http_parser/http.py": b"from http_parser.pyparser import HttpParser\n",
        "http_parser/pyparser.py": b"class HttpParser:\n    pass\n",
        "http_parser/parser.c": b"/* C source: left out */\n",
        "http_parser/parser.cpython-37m-darwin.so": b"\x7fELF",
        "LICENSE": b"MIT\n",
        "setup.py": b"from imp import load_source\n",
    }


def test_wheel_holds_only_python_sources_and_valid_metadata(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / tool.SDIST_NAME, good_files())
    wheel = tool.build_wheel(sdist, tmp_path / "wh")

    assert wheel.name == "http_parser-0.9.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {"http_parser/__init__.py", "http_parser/http.py", "http_parser/pyparser.py"} <= names
        assert not any(n.endswith((".c", ".so")) for n in names)
        assert "setup.py" not in names
        metadata = archive.read("http_parser-0.9.0.dist-info/METADATA").decode()
        assert "Name: http-parser\n" in metadata and "Version: 0.9.0\n" in metadata
        assert "Tag: py3-none-any" in archive.read("http_parser-0.9.0.dist-info/WHEEL").decode()
        record = archive.read("http_parser-0.9.0.dist-info/RECORD").decode().splitlines()
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if name.endswith("RECORD"):
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data)


def test_wheel_is_reproducible(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / tool.SDIST_NAME, good_files())
    first = tool.build_wheel(sdist, tmp_path / "a").read_bytes()
    second = tool.build_wheel(sdist, tmp_path / "b").read_bytes()
    assert first == second


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"http_parser/__init__.py": None}, "no http_parser/__init__.py"),
        ({"http_parser/__init__.py": b"version_info = (0, 8, 3)\n"}, "is http-parser 0.8.3, expected 0.9.0"),
        ({"http_parser/pyparser.py": None}, "no pure-Python parser"),
    ],
)
def test_wrong_sdists_are_refused_with_the_reason(tmp_path: Path, change, message) -> None:
    files = good_files()
    for name, data in change.items():
        if data is None:
            del files[name]
        else:
            files[name] = data
    sdist = make_sdist(tmp_path / tool.SDIST_NAME, files)
    with pytest.raises(tool.WheelBuildError, match=message):
        tool.build_wheel(sdist, tmp_path / "wh")


def test_a_file_that_is_no_tarball_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / tool.SDIST_NAME
    bogus.write_bytes(b"<html>not found</html>")
    with pytest.raises(tool.WheelBuildError, match="not a readable .tar.gz sdist"):
        tool.build_wheel(bogus, tmp_path / "wh")


class FakeIndex:
    """A PEP 503 / PEP 691 simple index on 127.0.0.1 serving one sdist."""

    def __init__(self, sdist_bytes: bytes, style: str, published_sha256: str) -> None:
        self.sdist_bytes = sdist_bytes
        self.style = style
        self.published_sha256 = published_sha256
        self.requests = []
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                index.requests.append((self.path, self.headers.get("Accept", "")))
                if self.path == "/simple/http-parser/":
                    if index.style == "json":
                        body = json.dumps(
                            {
                                "meta": {"api-version": "1.0"},
                                "name": "http-parser",
                                "files": [
                                    {"filename": "http-parser-0.8.3.tar.gz", "url": "/files/old.tar.gz", "hashes": {}},
                                    {
                                        "filename": tool.SDIST_NAME,
                                        "url": "../../files/http-parser-0.9.0.tar.gz",
                                        "hashes": {"sha256": index.published_sha256},
                                    },
                                ],
                            }
                        ).encode()
                        content_type = "application/vnd.pypi.simple.v1+json"
                    else:
                        body = (
                            "<html><body>"
                            '<a href="/files/old.tar.gz">http-parser-0.8.3.tar.gz</a>'
                            f'<a href="/files/http-parser-0.9.0.tar.gz#sha256={index.published_sha256}">'
                            f"{tool.SDIST_NAME}</a></body></html>"
                        ).encode()
                        content_type = "text/html"
                elif self.path == "/files/http-parser-0.9.0.tar.gz":
                    body, content_type = index.sdist_bytes, "application/octet-stream"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/simple/"

    def __enter__(self) -> FakeIndex:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def sdist_bytes(tmp_path: Path) -> bytes:
    return make_sdist(tmp_path / "source.tar.gz", good_files()).read_bytes()


@pytest.mark.parametrize("style", ["json", "html"])
def test_sdist_is_fetched_from_the_index_and_hash_checked(tmp_path: Path, sdist_bytes: bytes, style: str) -> None:
    digest = hashlib.sha256(sdist_bytes).hexdigest()
    with FakeIndex(sdist_bytes, style, digest) as index:
        wheel = tool.ensure_wheel(tmp_path / "wh", index_url=index.url)
    assert wheel.exists()
    assert (tmp_path / "wh" / "sdists" / tool.SDIST_NAME).read_bytes() == sdist_bytes
    assert "application/vnd.pypi.simple.v1+json" in index.requests[0][1]


def test_a_tampered_download_is_refused(tmp_path: Path, sdist_bytes: bytes) -> None:
    with FakeIndex(sdist_bytes, "json", "0" * 64) as index, pytest.raises(tool.WheelBuildError, match="sha256"):
        tool.ensure_wheel(tmp_path / "wh", index_url=index.url)
    assert not (tmp_path / "wh" / tool.WHEEL_NAME).exists()


def test_an_unreachable_index_names_the_fix(tmp_path: Path) -> None:
    with FakeIndex(b"", "json", "") as index:
        url = index.url
    # The server is gone: nothing listens on that port any more.
    with pytest.raises(tool.WheelBuildError, match="PIP_INDEX_URL|--sdist"):
        tool.ensure_wheel(tmp_path / "wh", index_url=url)


def test_an_existing_wheel_is_reused_without_any_download(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wh"
    wheelhouse.mkdir()
    (wheelhouse / tool.WHEEL_NAME).write_bytes(b"already built")
    assert tool.ensure_wheel(wheelhouse, index_url="http://127.0.0.1:9/unused/").read_bytes() == b"already built"


def test_cli_builds_from_a_local_sdist(tmp_path: Path, capsys) -> None:
    sdist = make_sdist(tmp_path / tool.SDIST_NAME, good_files())
    assert tool.main([str(tmp_path / "wh"), "--sdist", str(sdist)]) == 0
    assert capsys.readouterr().out.strip().endswith(tool.WHEEL_NAME)


def test_cli_reports_errors_in_one_line(tmp_path: Path, capsys) -> None:
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"nope")
    assert tool.main([str(tmp_path / "wh"), "--sdist", str(bogus)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("http_parser_wheel: ") and err.count("\n") == 1


def test_index_url_follows_pip_index_url() -> None:
    assert tool.configured_index_url({"PIP_INDEX_URL": "https://mirror.example/simple/"}) == (
        "https://mirror.example/simple/"
    )


def test_tox_install_adds_the_wheelhouse_only_where_needed(tmp_path: Path) -> None:
    command = tox_install.pip_command(["pymesos"], tmp_path)
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert ("--find-links" in command) == (sys.version_info >= (3, 11))
    assert command[-1] == "pymesos"
