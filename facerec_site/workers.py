"""What the workers are doing, asked over the broker: who is alive, which queues each consumes,
which tasks each holds; how long the oldest message of a queue has waited; and putting back
the messages a dead worker held.

One control command (`facerec_worker_state`, registered in every worker because the Celery
app imports this module) answers the first three in a single broadcast. /healthz and the
recovery sweep (facerec_site.tasks.recover_lost_work) use it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from celery.signals import before_task_publish
from celery.worker import control as worker_control

log = logging.getLogger(__name__)

STATE_COMMAND = "facerec_worker_state"
# Put on every task message when it is sent, so a queue's oldest message tells its age.
SENT_AT_HEADER = "facerec_sent_at"


@worker_control.inspect_command(name=STATE_COMMAND)
def _worker_state(state, **kwargs) -> dict:
    """In the worker: its queues, and every task it holds (running, reserved, or waiting for an ETA)."""
    requests = [*worker_control.active(state), *worker_control.reserved(state),
                *(entry["request"] for entry in worker_control.scheduled(state))]
    queues = [queue["name"] for queue in worker_control.active_queues(state)]
    return {"queues": queues, "held": [{"id": r["id"], "name": r["name"], "args": r["args"]} for r in requests]}


@before_task_publish.connect
def _stamp_sent_at(headers=None, **kwargs) -> None:
    if headers is not None:
        headers.setdefault(SENT_AT_HEADER, time.time())


@dataclass(frozen=True)
class HeldTask:
    id: str
    name: str
    args: tuple


@dataclass
class WorkerStates:
    """The answers of the workers alive now: name -> queues consumed, and the tasks they hold."""

    queues: dict[str, list[str]] = field(default_factory=dict)
    held: list[HeldTask] = field(default_factory=list)
    # Workers that answered without saying what they hold (an older release): alive, holding unknown work.
    unknown: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return sorted(self.queues)

    def held_ids(self) -> set[str]:
        return {task.id for task in self.held}

    def held_first_args(self, task_name: str) -> set:
        """The first argument (a row's id) of every held task of that name."""
        return {task.args[0] for task in self.held if task.name == task_name and task.args}

    def consumers(self, queue: str) -> list[str]:
        return sorted(name for name, queues in self.queues.items() if queue in queues)


def worker_states(app, timeout_s: float = 1.0) -> WorkerStates:
    """One broadcast; workers that do not answer within `timeout_s` count as gone.
    Broker errors propagate: the caller cannot tell anything then."""
    replies = app.control.broadcast(STATE_COMMAND, reply=True, timeout=timeout_s) or []
    states = WorkerStates()
    for reply in replies:
        for name, answer in reply.items():
            if not isinstance(answer, dict) or "queues" not in answer:  # a worker of an older release
                states.unknown.append(name)
                continue
            states.queues[name] = list(answer["queues"])
            states.held += [HeldTask(t["id"], t["name"], tuple(t["args"] or ())) for t in answer["held"]
                            if isinstance(t.get("args"), (list, tuple)) or t.get("args") is None]
    return states


def _redis_client(connection):
    """The Redis client under a kombu connection, or None for another kind of broker."""
    if getattr(connection.transport, "driver_type", "") != "redis":
        return None
    return connection.default_channel.client


def queue_backlog(app, queue: str) -> dict:
    """{"waiting": messages in the queue, "oldest_s": how long the oldest has waited (None: unknown)}.
    Redis-protocol brokers only: kombu keeps a queue as a list, oldest message at the right end."""
    with app.connection_for_write() as connection:
        client = _redis_client(connection)
        if client is None:
            return {"waiting": None, "oldest_s": None}
        waiting = client.llen(queue)
        oldest = client.lindex(queue, -1) if waiting else None
    sent_at = None
    if oldest:
        try:
            sent_at = json.loads(oldest)["headers"].get(SENT_AT_HEADER)
        except (ValueError, KeyError, TypeError, AttributeError):
            sent_at = None
    return {"waiting": waiting, "oldest_s": None if sent_at is None else round(max(0.0, time.time() - sent_at), 1)}


def restore_orphaned_messages(app, states: WorkerStates, *, older_than_s: float) -> list[str]:
    """Put back in their queues the messages delivered to a worker that is gone.

    With late acknowledgement a delivered message stays in the broker (kombu's `unacked` hash)
    until the worker acknowledges it; the broker hands it out again only after the visibility
    timeout (an hour: longer than any task). A message no live worker holds, delivered more
    than `older_than_s` ago (longer than a broadcast takes), was held by a worker that died: it
    goes back now. Returns the names of the tasks put back. Redis-protocol brokers only."""
    held = states.held_ids()
    restored = []
    with app.connection_for_write() as connection:
        client = _redis_client(connection)
        if client is None:
            return []
        channel = connection.default_channel
        cutoff = time.time() - older_than_s
        for tag, payload in client.hgetall(channel.unacked_key).items():
            delivered_at = client.zscore(channel.unacked_index_key, tag)
            if delivered_at is None or delivered_at > cutoff:
                continue
            try:
                headers = json.loads(payload)[0]["headers"]
            except (ValueError, KeyError, IndexError, TypeError):
                continue
            if headers.get("id") in held:
                continue
            channel.qos.restore_by_tag(tag, client)
            restored.append(headers.get("task", "?"))
    if restored:
        log.warning("put back %d message(s) held by workers that are gone: %s", len(restored), ", ".join(restored))
    return restored
