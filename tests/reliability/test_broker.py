"""opsportal.broker: closing a channel whose connection died with a BRPOP in flight and an
unacknowledged (scheduled) message held, the way a Celery 5.7 worker does on connection loss:
``collect()`` closes it (errors swallowed), detaches the transport, then ``close()`` closes
it again. Real redis-server, real kombu; no mocks."""

from __future__ import annotations

import contextlib

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue

from devtools.embedded_redis import RedisServer

OURS = "opsportal.broker:RedisTransport"


@pytest.fixture
def server(tmp_path):
    srv = RedisServer(workdir=str(tmp_path)).start()
    yield srv
    srv.close()


def _held_message(url: str, transport: str | None):
    """A channel holding one delivered, unacknowledged message, with a BRPOP in flight (an
    idle worker waiting for work while a countdown task sits in its timer)."""
    conn = Connection(url, transport=transport, transport_options={"socket_timeout": 2})
    channel = conn.default_channel
    queue = Queue("critical", Exchange("critical"), routing_key="critical")
    Producer(channel).publish(
        {"task": "oncall.escalate_page"}, exchange=queue.exchange, routing_key="critical", declare=[queue]
    )
    received = []
    Consumer(channel, queues=[queue], callbacks=[lambda _body, message: received.append(message)]).consume()
    conn.drain_events(timeout=2)
    channel._brpop_start()
    assert len(received) == 1
    assert channel._in_poll
    assert len(channel.qos._delivered) == 1
    return conn, channel


def _close_like_a_worker_on_connection_loss(conn, channel) -> None:
    with contextlib.suppress(*conn.connection_errors):
        channel.close()  # Connection.collect() -> maybe_close_channel(): connection errors swallowed
    conn._do_close_transport()  # the rest of collect(): transport.client = None
    channel.close()  # Connection.close(), under ignore_errors(): only connection errors swallowed


def test_redis_crash_closing_twice_is_clean_and_the_message_stays_for_redelivery(server):
    conn, channel = _held_message(server.url, OURS)
    server.kill()
    _close_like_a_worker_on_connection_loss(conn, channel)  # no AttributeError
    assert channel.closed


def test_dropped_connection_with_redis_alive_requeues_the_held_message_at_once(server):
    conn, channel = _held_message(server.url, OURS)
    admin = redis.Redis.from_url(server.url)
    assert admin.client_kill_filter(_type="normal", skipme=True) >= 1  # a proxy or failover cut it
    _close_like_a_worker_on_connection_loss(conn, channel)
    # Back in the queue for the reconnected worker (not stuck in "unacked" for the visibility
    # timeout, an hour).
    assert (admin.llen("critical"), admin.hlen("unacked")) == (1, 0)


def test_stock_kombu_still_crashes_here(server):
    """Tripwire: when this fails, kombu/celery fixed the double close upstream - delete
    opsportal/broker.py and ``broker_transport`` in opsportal/celery.py."""
    conn, channel = _held_message(server.url, None)
    server.kill()
    with pytest.raises(AttributeError, match="hostname"):
        _close_like_a_worker_on_connection_loss(conn, channel)


def test_the_app_uses_it_and_keeps_reconnecting():
    from opsportal.celery import app

    assert app.conf.broker_transport == OURS
    assert app.conf.broker_connection_max_retries is None  # never give up on a lost broker
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is False
