# Sourced by the scripts in this folder: puts every Python 3.9 ... 3.13 that pyenv
# holds on PATH (tox looks for python3.9 ... python3.13 there), and picks the
# interpreter that runs the tools. Works the same on a fresh machine and in CI.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
if [ -d "$pyenv_root/versions" ]; then
    for minor in 3.13 3.12 3.11 3.10 3.9; do
        newest=$(ls -d "$pyenv_root/versions/$minor".* 2>/dev/null | sort -V | tail -n 1)
        if [ -n "$newest" ] && [ -x "$newest/bin/python$minor" ]; then
            PATH="$newest/bin:$PATH"
        fi
    done
    export PATH
fi

host_python=""
for candidate in python3.11 python3.12 python3.13 python3.10 python3.9 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
        host_python=$(command -v "$candidate")
        break
    fi
done
if [ -z "$host_python" ]; then
    echo "error: no Python 3.9 or newer found on PATH or under $pyenv_root/versions" >&2
    exit 2
fi

# A private venv holding the tools (tox), made once and reused.
bootstrap_venv="$repo_root/.bootstrap/venv"
ensure_bootstrap_venv() {
    if [ ! -x "$bootstrap_venv/bin/tox" ]; then
        "$host_python" -m venv "$bootstrap_venv"
        "$bootstrap_venv/bin/python" -m pip install --quiet --upgrade pip
        "$bootstrap_venv/bin/python" -m pip install --quiet "tox>=4.11,<5"
    fi
}

# The tests run a real ZooKeeper (Debian's `zookeeper` package, with Java). Installed
# here when we are root with apt-get (a fresh CI machine); otherwise one line says how.
# Never fails: without it, the ZooKeeper tests are skipped with that reason.
zookeeper_jar=/usr/share/java/zookeeper.jar
ensure_zookeeper() {
    if [ -f "$zookeeper_jar" ] && command -v java >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ZooKeeper for the tests (apt-get install zookeeper)" >&2
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper >/dev/null 2>&1; then
            DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper >/dev/null 2>&1 || true
        fi
    fi
    if [ ! -f "$zookeeper_jar" ] || ! command -v java >/dev/null 2>&1; then
        echo "note: ZooKeeper not installed; its tests will be skipped (install: sudo apt-get install zookeeper)" >&2
    fi
    return 0
}
