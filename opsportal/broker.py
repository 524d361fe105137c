"""The Celery broker transport: kombu's Redis transport with one repair, for Redis restarts.

The defect (celery 5.7.0 with kombu 5.7.0, the newest releases; kombu's main branch is
unchanged): a worker that holds a scheduled (ETA/countdown) task while its Redis connection
dies exits with ``Unrecoverable error: AttributeError: 'NoneType' object has no attribute
'hostname'``, and nothing consumes the queues until someone starts a new worker.

How it happens, on connection loss, in ``Consumer.on_connection_error_after_connected``
(traced in a worker):

1. ``connection.collect()`` closes the task channel. kombu's ``Channel.close`` first reads
   the reply of the BRPOP in flight (kombu#1733, so a popped message is not lost); on a dead
   socket that read raises ``ConnectionError`` *before* the channel is marked closed, and the
   error is swallowed. ``collect()`` then closes the connection's other channels, where the
   remote-control channel fails too (its fanout queue cannot be deleted while Redis is down)
   and ends the loop before the task channel is tried again; finally it detaches the
   transport from its connection (``transport.client = None``).
2. ``connection.close()`` (added in celery 5.7.0, celery#10242) closes the task channel
   again. This time it gets as far as restoring its unacknowledged messages - the ETA task -
   and building a Redis client from the detached transport raises ``AttributeError``, which
   is not a connection error, so it escapes ``ignore_errors`` and kills the worker.

So it takes an unacknowledged message (a scheduled task: an idle worker holds nothing else),
a BRPOP in flight (an idle worker) and Redis still unreachable during the cleanup (a restart
or crash; when only the connection was cut, the second pass of step 1 closes the channel).

The repair: a dead BRPOP socket no longer aborts ``Channel.close``. The channel is then closed
on the first attempt, while its transport is still attached; the unacknowledged messages are
restored right away if Redis is reachable, or stay in Redis' ``unacked`` hash for the
visibility timeout if it is not (exactly kombu's behaviour on any failed restore), and the
second ``close()`` is a no-op. As a second line, restoring through a transport that has been
detached is skipped with a warning instead of raising. Nothing else of the transport changes.

Either way the worker forgets the scheduled tasks it held (celery cancels their timers when
the connection goes). Nothing depends on those messages alone: on-call steps are resumed by
the page auditor (``ONCALL_AUDIT_GRACE_SECONDS``) and notifications by the outbox
re-dispatcher, both from the database; a late duplicate (the restored message) is a no-op.

Delete this module (and ``broker_transport`` in ``opsportal/celery.py``) once a kombu or
celery release fixes the double close; ``tests/reliability`` proves it either way.
"""

from __future__ import annotations

import logging
from queue import Empty

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client=None):
        transport = self.channel.connection
        if client is None and (transport is None or transport.client is None):
            # Closed after Connection.collect() detached the transport: no client can be built.
            log.warning(
                "%d unacknowledged message(s) left in Redis; it redelivers them after the "
                "visibility timeout.",
                len(self._delivered),
            )
            self._delivered.clear()
            return None
        return super().restore_unacked(client)


class Channel(kombu_redis.Channel):
    QoS = QoS

    def close(self):
        if self._in_poll and not self.closed:
            try:
                self._brpop_read()
            except Empty:
                pass
            except self.connection_errors:
                # The socket died with a BRPOP in flight: there is no reply to read (the read
                # has already reset the poll state). Go on closing while the transport is
                # still attached, instead of leaving the channel half open.
                log.debug("broker connection lost during BRPOP; closing the channel", exc_info=True)
        super().close()


class RedisTransport(kombu_redis.Transport):
    Channel = Channel
