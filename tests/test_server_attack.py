"""The production server (`python server.py`, in a subprocess) under hostile clients, on 127.0.0.1.

The combined attack is issue 9's acceptance criterion: under 200 trickling sockets, 100 idle sockets and 90 clients
pipelining 16 weight requests each without reading, the server stays up and at least 95% of probe requests succeed
within 2 s (about 50 s). Range requests (which once copied the body per request) get their own: 200 slow readers
must not grow the server's memory, 90 x 16 non-reading pipeliners must not stop it. More idle sockets than
connection slots must not lock visitors out. tests/test_reverse_proxy.py runs the range pipeliners against the other
documented way to run it, behind nginx. About 2.5 minutes in all; the slower and larger attacks (the socket ceiling
among them) are in bench/attack.py.
"""

from __future__ import annotations

import gzip

import pytest

from bench.attack import (
    ACCEPTANCE_SUCCESS_RATE,
    FUZZ_CASES,
    RANGE_MEMORY_BOUND_MB,
    SLOW_READERS,
    WHOLE_BUT_ONE_BYTE,
    get,
    production_server,
    raise_descriptor_limit,
    request,
    slow_range_readers,
    under_attack,
    weights_path,
)
from tests.conftest import MODEL_DIR, REPO
from webapp.vendor_files import VendorFiles

HOSTILE = {"idle": 100, "trickle": 200, "pipeline": 90}


def test_stays_up_and_answers_under_slow_idle_and_non_reading_clients():
    # The hostile sockets, the probes' and some slack: CI runners often allow 1,024 descriptors by default.
    if raise_descriptor_limit(2048) < sum(HOSTILE.values()) + 200:
        pytest.skip("this process may not open enough sockets (ulimit -n)")
    with production_server() as server:
        results, swarm, descriptors = under_attack(server, seconds=40, **HOSTILE)
        alive = server.alive()
        log = server.log_text()
    assert alive, f"the server died:\n{log[-3000:]}"
    for kind, count in HOSTILE.items():
        assert swarm.opened[kind] >= count, f"the attack could not open its {kind} sockets: {swarm.counts()}"
    assert results.total >= 100, results.summary()  # a probe every 0.25 s for 40 s
    assert results.success_rate >= ACCEPTANCE_SUCCESS_RATE, f"{results.summary()}; {results.failures[:5]}"
    # The slowloris defence: trickling requests are cut off (after 10 s), however often they add a line.
    assert swarm.closed_by_server["trickle"] >= HOSTILE["trickle"], swarm.counts()
    # One per connection and a few more: no temporary file per unread response (waitress' stock settings climbed past
    # 1,024 here, where select() gives up and the server exits).
    assert descriptors < sum(HOSTILE.values()) + 100, descriptors
    assert "Traceback" not in log
    assert log.count("Task queue depth") <= 1  # summarised once a minute, not once per queued request


def test_slow_range_readers_share_the_body_instead_of_copying_it():
    """200 clients ask for all but the first byte of the weights (1.3 MB) and read 4 kB every 0.5 s: every response
    stays pending. Copied per request, they held 700 MB; served from the shared body, the server's memory barely
    moves."""
    raise_descriptor_limit(SLOW_READERS + 200)
    with production_server() as server:
        weights = weights_path(server.port)
        expected = len(get(server.port, weights).body) - 1
        part = get(server.port, weights, {"Range": WHOLE_BUT_ONE_BYTE.split(": ", 1)[1]})
        before, peak, readers, received = slow_range_readers(server, weights, SLOW_READERS, seconds=10)
        alive = server.alive()
        log = server.log_text()
    assert part.status == 206 and len(part.body) == expected  # what the readers ask for: a range, sent whole
    assert alive, log[-3000:]
    assert readers == SLOW_READERS and received > SLOW_READERS * 4096  # they did read, slowly
    assert peak - before < RANGE_MEMORY_BOUND_MB, f"server memory {before:.0f} -> {peak:.0f} MB"
    assert "Traceback" not in log


def test_range_pipeliners_that_never_read_do_not_stop_the_server():
    """90 clients x 16 pipelined `Range: bytes=1-` requests, never read: once the copies spilled to temporary files
    and select() stopped the server past 1,024 descriptors."""
    if raise_descriptor_limit(2048) < 90 + 200:
        pytest.skip("this process may not open enough sockets (ulimit -n)")
    with production_server() as server:
        results, swarm, descriptors = under_attack(server, seconds=20, pipeline=90,
                                                   pipeline_headers=WHOLE_BUT_ONE_BYTE)
        alive = server.alive()
        log = server.log_text()
    assert alive, f"the server died:\n{log[-3000:]}"
    assert swarm.opened["pipeline"] >= 90, swarm.counts()
    assert results.success_rate >= ACCEPTANCE_SUCCESS_RATE, f"{results.summary()}; {results.failures[:5]}"
    assert descriptors < 90 + 100, descriptors  # no temporary file per pending range
    assert "Traceback" not in log


def test_more_idle_sockets_than_the_connection_limit_do_not_lock_visitors_out():
    """1,100 connections that send nothing, reopened as soon as the server closes them: more than its 1,000 slots.
    Once they locked every visitor out until channel_timeout (30 s) closed them; now the idle ones make room."""
    if raise_descriptor_limit(4096) < 1100 + 200:
        pytest.skip("this process may not open enough sockets (ulimit -n)")
    with production_server() as server:
        results, swarm, descriptors = under_attack(server, seconds=15, idle=1100)
        alive = server.alive()
        log = server.log_text()
    assert alive, f"the server died:\n{log[-3000:]}"
    assert swarm.opened["idle"] >= 1100 and swarm.closed_by_server["idle"] >= 100, swarm.counts()
    assert results.success_rate >= ACCEPTANCE_SUCCESS_RATE, f"{results.summary()}; {results.failures[:5]}"
    assert descriptors < 1100, descriptors  # never more than connection_limit, and a few of its own
    assert "Traceback" not in log


@pytest.fixture(scope="module")
def server():
    with production_server() as live:
        live.weights = weights_path(live.port)
        yield live


@pytest.mark.parametrize("case", FUZZ_CASES, ids=[case.name for case in FUZZ_CASES])
def test_fuzzed_requests_get_sane_answers(server, case):
    try:
        reply = request(server.port, case.raw(server.port, server.weights), timeout_s=10)
    except ConnectionResetError:
        assert case.reset_ok, "connection reset"
    else:
        assert case.holds(reply) is None, case.holds(reply)
    assert server.alive()


def test_large_bodies_sent_from_shared_memory_arrive_intact(server):
    """Bodies of 64 kB and more leave through waitress' file wrapper (webapp/file_responses.py): compare bytes."""
    weights = get(server.port, server.weights)
    assert weights.body == (MODEL_DIR / server.weights.rsplit("/", 1)[1]).read_bytes()
    tfjs = VendorFiles(REPO / "node_modules")
    path = tfjs.prefix("tfjs") + "tf.es2017.min.js"
    compressed = get(server.port, path, {"Accept-Encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip" and len(compressed.body) > 64 * 1024
    assert gzip.decompress(compressed.body) == tfjs.path_of(path.split("/")[2], "tf.es2017.min.js").read_bytes()


def test_no_tracebacks_after_fuzzing(server):
    assert server.alive() and "Traceback" not in server.log_text()
