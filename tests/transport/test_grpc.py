"""gRPC over mutual TLS: delivery, chunking, identity checks, and failures that explain
themselves within their deadline."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest

from vfl.core.errors import ConfigError, PeerError, WireError
from vfl.transport.grpc import GrpcChannel, GrpcSettings
from vfl.transport.tls import init_ca, issue_party_cert, party_files
from vfl.wire.arrays import from_ndarray, to_ndarray
from vfl.wire.v1 import common_pb2

FAST = GrpcSettings(connect_timeout=3.0, call_timeout=5.0, ping_every=0.3, dead_after=1.0)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("certs")
    init_ca(d)
    for n in ("insurer", "hospital", "mallory"):
        issue_party_cert(d, n)
    other = d / "other"
    init_ca(other)
    issue_party_cert(other, "hospital")
    return d


def _pair(
    certs: Path,
    job_a: str = "job-1",
    job_b: str = "job-1",
    b_files=None,
    a_files=None,  # type: ignore[no-untyped-def]
    b_settings: GrpcSettings = FAST,
):
    """insurer (a) and hospital (b) on two free loopback ports."""
    pa, pb = _port(), _port()
    a = GrpcChannel(
        "insurer",
        f"127.0.0.1:{pa}",
        {"hospital": f"127.0.0.1:{pb}"},
        job_a,
        a_files or party_files(certs, "insurer"),
        settings=FAST,
    )
    b = GrpcChannel(
        "hospital",
        f"127.0.0.1:{pb}",
        {"insurer": f"127.0.0.1:{pa}"},
        job_b,
        b_files or party_files(certs, "hospital"),
        settings=b_settings,
    )
    return a, b


def test_private_keys_are_0600(certs: Path) -> None:
    for key in certs.glob("*.key"):
        assert key.stat().st_mode & 0o777 == 0o600, key


def test_delivers_small_and_chunked_large_messages(certs: Path) -> None:
    a, b = _pair(certs)
    try:
        a.send("hospital", "t/1", common_pb2.Ack(status="hi"))
        assert b.recv("insurer", "t/1", common_pb2.Ack, timeout=5).status == "hi"
        big = np.random.default_rng(0).random(1_000_000)  # 8 MB: four chunks
        b.send("insurer", "t/2", to_ndarray(big))
        got = from_ndarray(a.recv("hospital", "t/2", common_pb2.NDArray, timeout=10))
        np.testing.assert_array_equal(got, big)
    finally:
        a.close()
        b.close()


def test_peer_not_up_is_reported_within_the_connect_deadline(certs: Path) -> None:
    a = GrpcChannel(
        "insurer",
        f"127.0.0.1:{_port()}",
        {"hospital": f"127.0.0.1:{_port()}"},
        "job-1",
        party_files(certs, "insurer"),
        settings=FAST,
    )
    t = time.perf_counter()
    try:
        with pytest.raises(PeerError, match=r"did not answer in 3 s") as e:
            a.send("hospital", "t/1", common_pb2.Ack())
        assert "vfl serve" in e.value.hint
        assert time.perf_counter() - t < 8
    finally:
        a.close()


def test_dead_peer_is_noticed_while_waiting(certs: Path) -> None:
    a, b = _pair(certs)
    a.wait_for_peers()  # the insurer has seen the hospital up
    b.close()  # then the hospital dies before sending
    t = time.perf_counter()
    try:
        with pytest.raises(PeerError, match="stopped answering"):
            a.recv("hospital", "t/1", common_pb2.Ack, timeout=60)
        assert time.perf_counter() - t < 10
    finally:
        a.close()


def test_a_peer_that_never_came_up_is_named_with_its_address(certs: Path) -> None:
    a, b = _pair(certs)
    b.close()  # the hospital is gone before the insurer ever reached it
    try:
        with pytest.raises(PeerError, match=r"hospital at 127\.0\.0\.1:\d+ did not come up in 3 s"):
            a.recv("hospital", "t/1", common_pb2.Ack, timeout=60)
    finally:
        a.close()


def test_certificate_from_another_ca_is_refused(certs: Path) -> None:
    a, b = _pair(certs, b_files=party_files(certs / "other", "hospital"))
    try:
        with pytest.raises(
            PeerError, match=r"hospital's certificate at 127\.0\.0\.1:\d+ is not issued by"
        ) as e:
            a.send("hospital", "t/1", common_pb2.Ack())
        assert "another federation" in e.value.cause and "same ca.pem" in e.value.hint
    finally:
        a.close()
        b.close()


def test_cn_must_match_the_sender(certs: Path) -> None:
    # mallory holds a valid certificate of the federation but claims to be the insurer
    fake, b = _pair(certs, a_files=party_files(certs, "mallory"))
    try:
        with pytest.raises(PeerError, match=r"CN \['mallory'\] does not match sender 'insurer'"):
            fake.send("hospital", "t/1", common_pb2.Ack())
    finally:
        fake.close()
        b.close()


def test_message_for_another_job_is_refused(certs: Path) -> None:
    a, b = _pair(certs, job_a="job-1", job_b="job-2")
    try:
        with pytest.raises(WireError, match=r"runs job .job-2., not .job-1."):
            a.send("hospital", "t/1", common_pb2.Ack())
    finally:
        a.close()
        b.close()


def test_missing_certificates_say_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found") as e:
        GrpcChannel(
            "insurer", "127.0.0.1:0", {"hospital": "127.0.0.1:1"}, "job-1", party_files(tmp_path, "insurer")
        )
    assert "vfl certs init" in e.value.hint


def test_message_over_the_receivers_size_limit_is_refused(certs: Path) -> None:
    small = GrpcSettings(connect_timeout=3.0, call_timeout=5.0, max_message_bytes=1 << 20)
    a, b = _pair(certs, b_settings=small)
    try:
        with pytest.raises(WireError, match="size limit") as e:
            a.send("hospital", "t/big", to_ndarray(np.zeros(600_000)))  # 4.8 MB
        assert "max_message_bytes" in e.value.hint
        a.send("hospital", "t/small", common_pb2.Ack(status="ok"))  # the channel still works
        assert b.recv("insurer", "t/small", common_pb2.Ack, timeout=5).status == "ok"
    finally:
        a.close()
        b.close()
