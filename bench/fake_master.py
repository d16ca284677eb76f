"""What token checking costs the fake Mesos master: subscribe latency and calls per second.

Two masters in this process, the same in everything but the security mode:
``disabled`` (no authentication) and ``strict`` (every request carries an
``Authorization: token=<JWT>`` issued by the FakeIAM, which the master verifies
with the IAM's RS256 key on each request). Both serve plain http on 127.0.0.1, so
that TLS does not blur the comparison. A raw ``http.client`` scheduler (no
pymesos) measures:

- subscribe plus first offer: POST SUBSCRIBE on a new connection, read the
  RecordIO stream up to the first OFFERS event; median of 20 runs (the master is
  reset between runs, untimed);
- calls per second: REVIVE calls one after the other over one keep-alive
  connection for about 2 s, each answered 202, the event stream drained
  meanwhile by another thread.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from mesos_auth.testing import FakeCluster

SCHEDULER_PATH = "/api/v1/scheduler"
SUBSCRIBE_RUNS = 20
WARMUP_RUNS = 3
CALLS_DURATION = 2.0
UID = "bench-framework"
FRAMEWORK_INFO = {"user": "nobody", "name": "bench"}


def _headers(token: Optional[str], **extra: str) -> Dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json", **extra}
    if token is not None:
        headers["Authorization"] = f"token={token}"
    return headers


def _next_event(response: http.client.HTTPResponse) -> Dict[str, Any]:
    """One RecordIO record: ``<decimal length>\\n<JSON>``."""
    digits = b""
    while True:
        byte = response.read(1)
        if not byte:
            raise EOFError("the event stream ended")
        if byte == b"\n":
            break
        digits += byte
    event: Dict[str, Any] = json.loads(response.read(int(digits)))
    return event


def _subscribe(port: int, token: Optional[str]) -> Tuple[http.client.HTTPConnection, Any, str, str]:
    """SUBSCRIBE and read up to the first OFFERS; the connection, response, framework id, stream id."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": dict(FRAMEWORK_INFO)}})
    connection.request("POST", SCHEDULER_PATH, body=body, headers=_headers(token))
    response = connection.getresponse()
    if response.status != 200:
        raise AssertionError(f"SUBSCRIBE answered {response.status}: {response.read()!r}")
    stream_id = response.getheader("Mesos-Stream-Id") or ""
    framework_id = ""
    while True:
        event = _next_event(response)
        if event["type"] == "SUBSCRIBED":
            framework_id = event["subscribed"]["framework_id"]["value"]
        elif event["type"] == "OFFERS":
            return connection, response, framework_id, stream_id
        elif event["type"] == "ERROR":
            raise AssertionError(f"SUBSCRIBE refused: {event}")


def subscribe_latency_ms(cluster: FakeCluster, token: Optional[str]) -> float:
    """Median milliseconds from SUBSCRIBE sent to the first OFFERS event read."""
    port = cluster.master.port("http")
    samples: List[float] = []
    for run in range(WARMUP_RUNS + SUBSCRIBE_RUNS):
        cluster.master.reset()
        started = time.perf_counter()
        connection, _, _, _ = _subscribe(port, token)
        elapsed = time.perf_counter() - started
        connection.close()
        if run >= WARMUP_RUNS:
            samples.append(elapsed * 1000.0)
    cluster.master.reset()
    return statistics.median(samples)


def calls_per_second(cluster: FakeCluster, token: Optional[str]) -> float:
    """REVIVE calls answered per second over one keep-alive connection."""
    port = cluster.master.port("http")
    cluster.master.reset()
    stream, events, framework_id, stream_id = _subscribe(port, token)
    drainer = threading.Thread(target=_drain, args=(events,), daemon=True)
    drainer.start()
    body = json.dumps({"type": "REVIVE", "framework_id": {"value": framework_id}})
    headers = _headers(token, **{"Mesos-Stream-Id": stream_id})
    calls = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    count = 0
    try:
        started = time.perf_counter()
        deadline = started + CALLS_DURATION
        while True:
            calls.request("POST", SCHEDULER_PATH, body=body, headers=headers)
            response = calls.getresponse()
            response.read()
            if response.status != 202:
                raise AssertionError(f"REVIVE answered {response.status}")
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        elapsed = now - started
    finally:
        calls.close()
        cluster.master.reset()  # ends the stream: the drainer reads its end and returns
        drainer.join(timeout=5)
        stream.close()  # only now: closing under a blocked read would wait for the read
    return count / elapsed


def _drain(response: http.client.HTTPResponse) -> None:
    try:
        while response.read(65536):
            pass
    except (OSError, ValueError, http.client.HTTPException):
        pass  # the stream was closed under us: the measurement is over


def measure(mode: str) -> Dict[str, float]:
    with FakeCluster(mode, tls=False) as cluster:
        token: Optional[str] = None
        if mode != "disabled":
            cluster.create_service_account(UID)
            token = cluster.iam.issue_token(UID)
        result = {"subscribe_ms": subscribe_latency_ms(cluster, token), "calls_per_s": calls_per_second(cluster, token)}
        cluster.check()
    return result


def run() -> Dict[str, Dict[str, float]]:
    return {mode: measure(mode) for mode in ("disabled", "strict")}


def main() -> None:
    results = run()
    off, on = results["disabled"], results["strict"]
    print("FakeMaster over plain http on 127.0.0.1, raw http.client scheduler")
    print(f"{'':<38}{'tokens off':>12}{'tokens on':>12}{'on / off':>10}")
    print(f"{'':<38}{'(disabled)':>12}{'(strict)':>12}")
    print(
        f"{f'subscribe + first offer, ms (median/{SUBSCRIBE_RUNS})':<38}"
        f"{off['subscribe_ms']:>12.2f}{on['subscribe_ms']:>12.2f}{on['subscribe_ms'] / off['subscribe_ms']:>9.2f}x"
    )
    print(
        f"{'REVIVE calls per second, keep-alive':<38}"
        f"{off['calls_per_s']:>12.0f}{on['calls_per_s']:>12.0f}{on['calls_per_s'] / off['calls_per_s']:>9.2f}x"
    )


if __name__ == "__main__":
    main()
