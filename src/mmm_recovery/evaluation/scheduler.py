"""Where the study's fits run: local processes, or a Dask scheduler whose address is checked
(with a bounded wait) before any work is sent to it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmm_recovery.core.spec import Study

#: the environment variable that overrides a study's ``scheduler:``
SCHEDULER_ENV = "MMM_RECOVERY_SCHEDULER"


def scheduler_for(study: Study) -> str:
    """The study's scheduler, or the environment's (which must follow the same rule)."""
    from mmm_recovery.core.spec_checks import scheduler_address_problem

    env = os.environ.get(SCHEDULER_ENV)
    problem = scheduler_address_problem(env) if env else None
    if problem:
        raise SchedulerUnavailable(f"{SCHEDULER_ENV}={env!r}: {problem}")
    return env or study.study.scheduler


class SchedulerUnavailable(RuntimeError):
    """No Dask scheduler answered at the study's address."""


def check_scheduler(address: str, timeout: float, source: str = "") -> None:
    """Ask the Dask scheduler at ``address`` who it is, and wait at most ``timeout`` seconds for
    the whole exchange: ``distributed.Client`` waits forever on a port that accepts connections
    and never answers. Raises :class:`SchedulerUnavailable` naming the address and where it
    was set (``source``)."""
    import asyncio

    from distributed.comm import connect

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def ask() -> Any:  # in its own thread: a notebook kernel already runs an event loop
        return asyncio.run(asyncio.wait_for(identity(), timeout))

    from concurrent.futures import ThreadPoolExecutor

    try:
        with ThreadPoolExecutor(1) as pool:
            reply = pool.submit(ask).result()
    except (TimeoutError, OSError, ValueError) as exc:  # ValueError: e.g. no port
        raise SchedulerUnavailable(
            f"{source}: no Dask scheduler answered at {address} within {timeout:g} s "
            f"({type(exc).__name__}: {exc or 'no answer'}); start one (`dask scheduler`) or "
            "use scheduler: processes"
        ) from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise SchedulerUnavailable(
            f"{source}: {address} answered, but not as a Dask scheduler ({str(reply)[:80]!r})"
        )
