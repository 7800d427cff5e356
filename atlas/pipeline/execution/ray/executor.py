"""The Ray executor: the driver's tasks spread over one worker per device slot.

The driver keeps at most one task running and `queued` more waiting on each
worker, hands results back as they come (after giving the worker its next
task, so it never waits for the driver's writes), and keeps one progress bar
for the whole cluster by asking the busy workers how far they are.

A worker that dies takes its running task with it: that task goes back to
the front of the queue for another worker and a fresh worker takes the dead
one's place. A task that was running on two workers that died is given up
(`WorkerLost`), so one poisonous batch cannot stop the build.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from atlas.errors import AtlasError
from atlas.pipeline.execution.ray.connect import connect
from atlas.pipeline.execution.ray.worker import Worker
from atlas.pipeline.execution.tasks import Task, WorkerLost

POLL_SECONDS = 0.5  # how often busy workers are asked for their progress
START_SECONDS = 300.0  # a worker that is not up by then (no room on the cluster) is dropped
DEATHS_PER_TASK = 2  # a task whose worker died this often is given up
COMPUTE = "compute"  # the concurrency group that runs tasks, one at a time


@dataclass
class _Slot:
    """One device slot: its current worker and what that worker has been sent."""

    number: int
    actor: Any
    ready: Any = None  # describe() reference while the worker is starting
    started: float = field(default_factory=time.monotonic)
    info: dict = field(default_factory=dict)
    sent: deque = field(default_factory=deque)  # references, oldest (running) first


@dataclass
class _Sent:
    index: int
    task: Task
    deaths: int
    slot: int


class RayExecutor:
    name = "ray"

    def __init__(self, ray: Any, owns: bool, device: str, workers: int, threads: int) -> None:
        self.ray, self.owns, self.threads = ray, owns, threads
        self.device = torch.device(device)
        self.engine_box: list = []
        self.restarts = 0
        self.worker_class = ray.remote(concurrency_groups={COMPUTE: 1}, max_concurrency=2)(Worker)
        self.slots = [self._spawn(number) for number in range(workers)]
        self._await_start()

    # --- connecting --------------------------------------------------------------
    @classmethod
    def connect(cls, address: str | None, device: str, workers: int | None,
                threads: int) -> RayExecutor:
        ray, owns = connect(address)
        try:
            resources = ray.cluster_resources()
            cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
            if device.startswith("cuda") and not gpus:
                raise AtlasError("--device cuda was given but the Ray cluster has no GPU; use "
                                 "--device cpu or add GPU nodes")
            kind = "cuda" if gpus and device != "cpu" else "cpu"
            if workers is None:
                workers = gpus if kind == "cuda" else max(1, cpus // threads)
            return cls(ray, owns, kind, workers, threads)
        except BaseException:
            if owns:
                ray.shutdown()
            raise

    def _spawn(self, number: int) -> _Slot:
        gpu = self.device.type == "cuda"
        actor = self.worker_class.options(
            num_cpus=1 if gpu else self.threads, num_gpus=1 if gpu else 0, max_restarts=0,
        ).remote(self.device.type, 1 if gpu else self.threads)
        slot = _Slot(number, actor)
        slot.ready = actor.describe.remote()
        return slot

    def _await_start(self) -> None:
        """Waits for the first workers; those the cluster has no room for are dropped."""
        pending = {slot.ready: slot for slot in self.slots}
        ready, _ = self.ray.wait(list(pending), num_returns=len(pending), timeout=START_SECONDS)
        for ref in ready:
            self._started(pending[ref], ref)
        alive = [slot for slot in self.slots if slot.info]
        for slot in self.slots:
            if not slot.info:
                self.ray.kill(slot.actor)
        if not alive:
            self.close()
            raise AtlasError(f"no Ray worker started within {START_SECONDS:.0f} s; check that "
                             "the cluster has free CPUs or GPUs (`ray status`)")
        self.slots = alive

    def _started(self, slot: _Slot, ref: Any) -> bool:
        try:
            slot.info = self.ray.get(ref)
        except self.ray.exceptions.RayActorError:
            return False
        slot.ready = None
        self._say(f"ray worker {slot.number}: pid {slot.info['pid']} on {slot.info['host']}, "
                  f"{slot.info['name']}")
        return True

    def _say(self, line: str) -> None:
        print(f"atlas: {line}", file=sys.stderr, flush=True)

    @property
    def workers(self) -> int:
        return len(self.slots)

    @property
    def fast_bfloat16(self) -> bool:
        """bfloat16 is used only if every worker has it fast (results must not
        depend on which worker ran them)."""
        return all(slot.info.get("fast_bfloat16") for slot in self.slots)

    def describe(self) -> str:
        hosts = len({slot.info.get("host") for slot in self.slots})
        each = self.slots[0].info.get("name", self.device.type)
        return (f"ray, {self.workers} worker{'s' if self.workers > 1 else ''} ({each} each) on "
                f"{hosts} node{'s' if hosts > 1 else ''}")

    def start(self, engine: Any) -> None:
        """Ships the engine once; each worker moves it onto its own device."""
        model = engine.model
        if next(model.parameters(), torch.empty(0)).device.type != "cpu":
            engine = dataclasses.replace(engine, model=_cpu_copy(model))
        _pickle_user_modules(self.ray)
        # In a list, so each task does not fetch it again: a worker loads it once.
        self.engine_box = [self.ray.put(engine)]

    # --- running -----------------------------------------------------------------
    def map(self, tasks: Iterable[Task], bar: Any, stop: Any = None, queued: int = 0
            ) -> Iterator[tuple[int, Any]]:
        """(index, result) as tasks finish, in any order; see `LocalExecutor.map`."""
        source = iter(tasks)
        retry: deque[_Sent] = deque()
        sent: dict[Any, _Sent] = {}
        credited: dict[int, int] = {}
        counter = 0
        exhausted = False
        last_poll = time.monotonic()

        def next_task() -> _Sent | None:
            nonlocal counter, exhausted
            if retry:
                return retry.popleft()
            if exhausted or (stop is not None and stop.requested):
                return None
            try:
                task = next(source)
            except StopIteration:
                exhausted = True
                return None
            counter += 1
            return _Sent(counter - 1, task, 0, -1)

        def fill() -> None:
            for depth in range(1 + queued):
                for slot in self.slots:
                    if slot.ready is not None or len(slot.sent) > depth:
                        continue
                    item = next_task()
                    if item is None:
                        return
                    item.slot = slot.number
                    ref = slot.actor.run.options(concurrency_group=COMPUTE).remote(
                        item.index, item.task, self.engine_box)
                    slot.sent.append(ref)
                    sent[ref] = item

        while True:
            fill()
            starting = {slot.ready: slot for slot in self.slots if slot.ready is not None}
            if not sent:
                if retry:
                    self._check_alive(starting)
                    self._wait_for_start(starting)
                    continue
                return
            ready, _ = self.ray.wait(list(sent) + list(starting), num_returns=1,
                                     timeout=POLL_SECONDS)
            finished = []
            for ref in ready:
                if ref in starting:
                    self._settle(starting[ref], ref)
                    continue
                if ref not in sent:
                    continue  # dropped when its worker died
                item = sent.pop(ref)
                slot = self._slot(item.slot)
                try:
                    result = self.ray.get(ref)
                except self.ray.exceptions.RayActorError:
                    finished += self._died(slot, ref, item, sent, retry, credited, bar)
                    continue
                slot.sent.remove(ref)
                done = credited.pop(item.index, 0)
                if isinstance(result, torch.OutOfMemoryError):
                    bar.update(-done)
                else:
                    bar.update(item.task.work - done)
                finished.append((item.index, result))
            fill()  # the workers' next tasks go out before the driver writes results
            yield from finished
            self._check_alive(starting)
            if time.monotonic() - last_poll >= POLL_SECONDS:
                self._poll(sent, credited, bar)
                last_poll = time.monotonic()

    def _slot(self, number: int) -> _Slot:
        return next(slot for slot in self.slots if slot.number == number)

    def _died(self, slot: _Slot, ref: Any, item: _Sent, sent: dict, retry: deque,
              credited: dict, bar: Any) -> list[tuple[int, Any]]:
        """The worker of `slot` is gone: its running task (the oldest sent) counts a
        death, the tasks queued behind it go back as they were, and a new worker
        takes the slot."""
        order = list(slot.sent)
        entries = {ref: item, **{each: sent.pop(each) for each in order if each in sent}}
        lost = [entries[each] for each in order if each in entries]
        running = entries[order[0]]
        running.deaths += 1
        slot.sent.clear()
        for entry in lost:
            bar.update(-credited.pop(entry.index, 0))
        where = f"pid {slot.info.get('pid')} on {slot.info.get('host')}"
        given_up = []
        if running.deaths >= DEATHS_PER_TASK:
            lost.remove(running)
            bar.write(f"atlas: ray worker {slot.number} ({where}) died during task "
                      f"{running.index}, which killed a worker before; giving it up",
                      file=sys.stderr)
            given_up.append((running.index, WorkerLost(
                f"the Ray worker computing it died {running.deaths} times (last: {where})")))
        else:
            bar.write(f"atlas: ray worker {slot.number} ({where}) died during task "
                      f"{running.index}; retrying it on another worker", file=sys.stderr)
        retry.extendleft(reversed(lost))
        self._replace(slot)
        return given_up

    def _replace(self, slot: _Slot) -> None:
        """A fresh worker in the slot of a dead one (at most a few per slot)."""
        self.ray.kill(slot.actor, no_restart=True)
        self.slots.remove(slot)
        self.restarts += 1
        if self.restarts > 3 * max(1, len(self.slots) + 1):
            self._say(f"ray worker {slot.number} is not restarted: too many workers died")
            if not self.slots:
                raise AtlasError("every Ray worker died and none could be restarted; finished "
                                 "views are saved: run the same command to resume")
            return
        self.slots.append(self._spawn(slot.number))
        self.slots.sort(key=lambda each: each.number)

    def _check_alive(self, starting: dict) -> None:
        """Drops slots whose replacement never started (no room left on the cluster)."""
        now = time.monotonic()
        for slot in list(starting.values()):
            waiting = slot.ready is not None and slot in self.slots
            if waiting and now - slot.started > START_SECONDS:
                self._say(f"ray worker {slot.number} did not start within {START_SECONDS:.0f} s;"
                          " going on without it")
                self.ray.kill(slot.actor, no_restart=True)
                self.slots.remove(slot)
        if not self.slots:
            raise AtlasError("no Ray worker is left; finished views are saved: check the "
                             "cluster (`ray status`) and run the same command to resume")

    def _wait_for_start(self, starting: dict) -> None:
        if starting:
            ready, _ = self.ray.wait(list(starting), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                self._settle(starting[ref], ref)

    def _settle(self, slot: _Slot, ref: Any) -> None:
        """A starting worker answered: it is ready, or it died and is replaced."""
        if not self._started(slot, ref):
            self._replace(slot)

    def _poll(self, sent: dict, credited: dict, bar: Any) -> None:
        """Moves the bar by what the busy workers did since the last poll (those
        that do not answer at once show their progress next time)."""
        asked = {slot.actor.progress.remote(): slot for slot in self.slots if slot.sent}
        if not asked:
            return
        ready, _ = self.ray.wait(list(asked), num_returns=len(asked), timeout=0.1)
        for ref in ready:
            slot = asked[ref]
            try:
                index, done = self.ray.get(ref)
            except self.ray.exceptions.RayError:  # dying: the task's result says so
                continue
            running = sent.get(slot.sent[0]) if slot.sent else None
            if running is None or running.index != index:
                continue
            step = done - credited.get(index, 0)
            if step > 0:
                credited[index] = done
                bar.update(step)

    def close(self) -> None:
        for slot in self.slots:
            try:
                self.ray.kill(slot.actor, no_restart=True)
            except Exception:
                pass
        self.slots = []
        if self.owns and self.ray.is_initialized():
            self.ray.shutdown()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _cpu_copy(model: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(model).cpu()


def _pickle_user_modules(ray: Any) -> None:
    """A model from the user's own .py file is not importable on the workers:
    its module travels by value with the engine."""
    for name, module in list(sys.modules.items()):
        if name.startswith("atlas_user_model_"):
            ray.cloudpickle.register_pickle_by_value(module)
