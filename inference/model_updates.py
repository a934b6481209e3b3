"""Hot reload: follows the model repository and switches versions without failing a request.

Every `poll_s` the repository is asked for its newest version. One that differs
from the served version (newer, or older when a bad version was removed) is
fetched, verified, loaded and warmed beside the served one; only then do new
requests go to it. The replaced version keeps answering callers that ask for it
by number for `grace_s`, then finishes what it has queued and is unloaded. A
version that fails to load is counted, logged and not served; the served one
stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from inference import metrics
from inference.model_service import ModelService
from inference.servicer import InferenceServicer
from skinscan.errors import SkinscanError
from skinscan_model.store import ModelStore, ModelVersion

__all__ = ["ModelUpdates"]

log = logging.getLogger(__name__)


class ModelUpdates:
    def __init__(
        self,
        store: ModelStore,
        servicer: InferenceServicer,
        load: Callable[[ModelVersion], Awaitable[ModelService]],
        unload: Callable[[ModelService], Awaitable[None]],
        poll_s: float,
        grace_s: float,
    ) -> None:
        self._store = store
        self._servicer = servicer
        self._load = load
        self._unload = unload
        self._poll_s = poll_s
        self._grace_s = grace_s
        self._task: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        # The last version that failed, so a broken upload is reported once, not every poll.
        self._failed: str | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="model-updates")

    async def stop(self) -> None:
        """Stops following; a replaced version still serving is unloaded now."""
        tasks = [t for t in (self._task, *self._retiring) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            await self.check()

    async def check(self) -> None:
        """Switches to the repository's newest version if it is not the one served."""
        served = self._servicer.service
        if served is None:
            return
        try:
            versions = await asyncio.to_thread(self._store.versions, served.name)
        except SkinscanError as error:
            log.warning(
                "cannot list the versions of %s: %s; serving %s", served.name, error, served.version
            )
            return
        if not versions:
            log.warning(
                "the repository holds no version of %s now; serving %s", served.name, served.version
            )
            return
        newest = versions[-1]
        if newest == served.version or newest == self._failed:
            return
        log.info(
            "model %s version %s found; loading it beside version %s",
            served.name,
            newest,
            served.version,
        )
        try:
            version = await asyncio.to_thread(self._store.fetch, served.name, newest)
            service = await self._load(version)
        except Exception as error:  # whatever the cause, the served version stays
            metrics.MODEL_UPDATES.labels("failed").inc()
            self._failed = newest
            log.error(
                "model %s version %s was not switched to: %s; serving version %s",
                served.name,
                newest,
                error,
                served.version,
            )
            return
        self._failed = None
        replaced = self._servicer.serve(service)
        metrics.MODEL_UPDATES.labels("switched").inc()
        log.info("now serving %s version %s", service.name, service.version)
        if replaced is not None:
            task = asyncio.create_task(self._retire(replaced), name="retire-model")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, service: ModelService) -> None:
        try:
            await asyncio.sleep(self._grace_s)
        finally:
            self._servicer.retire(service)
            await self._unload(service)
            log.info("model %s version %s unloaded", service.name, service.version)
