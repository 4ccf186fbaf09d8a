"""Ray for batch work across machines (the ``ray`` extra).

``--ray [ADDRESS]`` on predict, eval and synth splits the work by database over a Ray cluster:
a database's questions stay together (one schema's prompt prefix is cached once; one
database's connection and gold results are reused), and the groups are dealt to as many tasks
as the cluster has GPUs (one each) or CPUs. Without an address (or with ``local``) a Ray
instance is started on this machine; ``auto`` joins the cluster this machine belongs to;
``ray://host:10001`` reaches a remote head. Every node must see the data, the databases and
the model at the same paths (a shared filesystem) and have alignsql installed, as for any
Ray batch job. Results are the same as on one process: the same functions run on each part.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from alignsql.errors import AlignSQLError

LOCAL = "local"
T = TypeVar("T")


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """A HOST:PORT (or ray://HOST:PORT) address that nothing answers is a one-line error at
    once: Ray itself retries for minutes before giving up."""
    if address in ("", LOCAL, "auto"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise AlignSQLError(f"--ray {address}: expected local, auto, HOST:PORT or "
                            f"ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise AlignSQLError(f"--ray {address}: no Ray head answers there ({err})") from None


def connect(address: str) -> dict:
    """Start or join Ray; returns the cluster's resources (CPU, GPU, ...)."""
    try:
        import ray
    except ImportError:
        raise AlignSQLError("--ray needs Ray: pip install 'alignsql[ray]'") from None
    if not ray.is_initialized():
        check_reachable(address)
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        if address and address != LOCAL:
            kwargs["address"] = address
        try:
            ray.init(**kwargs)
        except (ConnectionError, ValueError, RuntimeError) as err:
            raise AlignSQLError(f"--ray {address}: cannot start or reach Ray ({err})") from None
    return dict(ray.cluster_resources())


def slots(resources: dict) -> tuple[int, float, float]:
    """(parallel tasks, CPUs per task, GPUs per task): one task per GPU when the cluster has
    GPUs (generation), else one per CPU."""
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return gpus, 1.0, 1.0
    return max(1, int(resources.get("CPU", 1))), 1.0, 0.0


def by_database(items: Sequence[T], key: Callable[[T], Hashable], parts: int) -> list[list[T]]:
    """Items grouped by database, the groups dealt largest first to the lightest part (a
    database is never split); empty parts are dropped, order within a group is kept."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    shares: list[list[T]] = [[] for _ in range(max(1, parts))]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(shares, key=len).extend(group)
    return [s for s in shares if s]


def ray_map(fn: Callable[[Any], T], items: Iterable[Any], address: str,
            num_cpus: float = 1.0, num_gpus: float = 0.0) -> Iterator[tuple[int, T]]:
    """``fn(item)`` for every item as Ray tasks; (index, result) as each task finishes.
    A task's exception is raised here (an ``AlignSQLError`` keeps its one-line message)."""
    import ray
    connect(address)
    # a task's threads: what it was given, not every core of the node (Ray sets
    # OMP_NUM_THREADS itself only when the caller has not)
    env = {"OMP_NUM_THREADS": str(max(1, int(num_cpus)))}
    # the data and cache locations the driver uses (the same paths on every node)
    env.update({k: os.environ[k] for k in ("ALIGNSQL_DATA", "ALIGNSQL_HOME") if k in os.environ})
    remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus,
                        runtime_env={"env_vars": env})(fn)
    pending = {remote.remote(item): i for i, item in enumerate(items)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            index = pending.pop(ref)
            try:
                yield index, ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                cause = err.as_instanceof_cause()
                if isinstance(cause, AlignSQLError):
                    raise AlignSQLError(str(cause).splitlines()[0]) from None
                raise
