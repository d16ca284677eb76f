"""The real ZooKeeper of the tests, and fake masters registered in it as Mesos masters are."""

from __future__ import annotations

import json
import uuid

import pytest
from kazoo.client import KazooClient

from mesos_auth.testing.master import FakeMaster
from mesos_auth.testing.master.zookeeper import leader_node
from mesos_auth.testing.zookeeper import ZooKeeperServer, ZooKeeperUnavailable


@pytest.fixture
def client(zookeeper):
    zk = KazooClient(zookeeper.hosts)
    zk.start(timeout=30)
    yield zk
    zk.stop()
    zk.close()


@pytest.fixture
def path() -> str:
    return f"/dcos/{uuid.uuid4().hex}/mesos"  # a group of the test's own, with intermediate nodes


def test_a_server_starts_restarts_on_its_port_and_stops(zookeeper) -> None:
    with ZooKeeperServer() as server:
        assert server.running and server.url() == f"zk://127.0.0.1:{server.port}/mesos"
        client = KazooClient(server.hosts)
        client.start(timeout=30)
        client.create("/kept", b"data")
        client.stop()
        client.close()
        port = server.port
        server.restart()
        assert server.port == port and server.running
        client = KazooClient(server.hosts)
        client.start(timeout=30)
        assert client.get("/kept")[0] == b"data"  # the data directory survives a restart
        client.stop()
        client.close()
    assert not server.running


def test_missing_zookeeper_is_a_typed_error_saying_how_to_install(monkeypatch) -> None:
    from mesos_auth.testing import zookeeper as module

    monkeypatch.setattr(module, "DEBIAN_JARS", ("/nonexistent/zookeeper.jar",))
    with pytest.raises(ZooKeeperUnavailable, match="apt-get install zookeeper"):
        module.find_classpath(module.DEBIAN_JARS)


def test_registration_node_and_data_are_those_of_mesos(zookeeper, client, path, ca) -> None:
    with FakeMaster(tls=ca, plain_http=False) as master:
        name = master.register_in_zookeeper(zookeeper.hosts, path)
        assert name.startswith("json.info_") and len(name) == len("json.info_") + 10
        assert name[len("json.info_") :].isdigit()
        data, stat = client.get(f"{path}/{name}")
        assert stat.ephemeralOwner != 0
        assert client.get(path.rsplit("/", 1)[0])[0] == b""  # intermediate nodes: empty, persistent
        port = master.port("https")
        assert json.loads(data) == {
            "id": master.master_id,
            "ip": 16777343,  # 127.0.0.1 packed in network order, read as a little-endian uint32
            "port": port,
            "pid": f"master@127.0.0.1:{port}",
            "hostname": "127.0.0.1",
            "version": master.mesos_version,
            "address": {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": port},
            "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}, {"type": "QUOTA_V2"}],
        }
        assert list(json.loads(data)) == [  # JSON::protobuf: fields in field-number order
            "id", "ip", "port", "pid", "hostname", "version", "address", "capabilities",
        ]  # fmt: skip
    assert client.get_children(path) == []  # stopping the master ends its session: the node is gone


def test_an_old_release_has_no_capabilities(zookeeper, client, path) -> None:
    with FakeMaster(mesos_version="1.4") as master:
        name = master.register_in_zookeeper(zookeeper.hosts, path)
        info = json.loads(client.get(f"{path}/{name}")[0])
        assert "capabilities" not in info and info["address"]["port"] == master.port("http")


def test_the_lowest_sequence_leads_and_the_next_takes_over(zookeeper, client, path) -> None:
    with FakeMaster() as first, FakeMaster() as second:
        first_name = first.register_in_zookeeper(zookeeper.hosts, path)
        second_name = second.register_in_zookeeper(zookeeper.hosts, path)
        client.create(f"{path}/log_replicas", b"")  # the replicated log's node is not a member
        assert int(first_name.split("_")[1]) < int(second_name.split("_")[1])
        assert leader_node(zookeeper.hosts, path) == first_name
        first.unregister_from_zookeeper()
        assert leader_node(zookeeper.hosts, path) == second_name
        assert sorted(client.get_children(path)) == sorted([second_name, "log_replicas"])


def test_a_master_whose_session_expired_joins_again_with_a_new_node(zookeeper, client, path, ca) -> None:
    """Mesos: a master that loses its candidacy exits and, restarted, joins again (Master::lostCandidacy)."""
    import time

    with FakeMaster(tls=ca, plain_http=False) as master:
        first = master.register_in_zookeeper(zookeeper.hosts, path)
        membership = master._zookeeper
        deadline = time.monotonic() + 30
        while membership.rejoins == 0:
            assert time.monotonic() < deadline, "the master did not join again"
            thief = KazooClient(zookeeper.hosts, client_id=membership._client.client_id)
            thief.start(timeout=30)
            thief.stop()  # closes the master's session: its node goes with it
            thief.close()
            end = time.monotonic() + 5
            while membership.rejoins == 0 and time.monotonic() < end:
                time.sleep(0.05)
        children = client.get_children(path)
        assert first not in children and membership.name in children
        assert membership.sequence > int(first.rsplit("_", 1)[-1])
