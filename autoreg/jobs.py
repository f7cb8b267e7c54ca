"""Background training jobs: one run in a daemon thread that a web page can poll.

A Streamlit script is interrupted whenever the user clicks anything, so a training loop
must not run in the script thread (``shared/STREAMLIT_NOTES.md`` section 7). A
:class:`TrainingJob` runs a *task* (a plain function that trains a freshly built model)
in its own ``threading.Thread`` and keeps everything a page wants to draw in plain
Python attributes: progress, the train and validation loss history, samples, the
result, and any error. Nothing in here imports Streamlit; the page only reads.

Control flows through ``threading.Event`` objects. The task reports every optimiser
step through :meth:`JobContext.report_step`, and that call is where the job pauses (it
blocks until resumed), enforces its time cap (it sets the stop flag), and so on; the
library training loops (``autoreg.seq.training.train``,
``autoreg.pixelcnn.training.train``) stop at the end of the step once the flag is set::

    page thread                      job thread
    -----------                      ----------
    job.pause()   ── resume.clear ─▶ report_step() waits on resume
    job.resume()  ── resume.set ──▶  ... continues
    job.stop()    ── stop.set ────▶  loop sees stop after this step, returns the model

Fairness: a process-wide :class:`JobSlots` semaphore lets only ``MAX_CONCURRENT_JOBS``
jobs train at once (later ones wait in state ``queued``), each job caps its own torch
threads, its active time, and how long it may sit paused, so one browser session cannot
starve the others, and a session whose user left still ends.

A run belongs to a browser, not to one page load: :class:`JobRegistry` (``RUNS``, one per
server process) keeps each browser's latest run under that browser's owner id, so a
reload or a second tab finds the running job and draws it again. A task's result can be
handed to ``on_result`` in the job thread, before the job reports itself finished; the
Train page keeps the model on disk there, so it outlives the page that started it.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

MAX_CONCURRENT_JOBS = 2  # runs training at once on this server; more wait in a queue
JOB_THREADS = 1  # torch threads per job (the demo machine has 2 cores)
MAX_SECONDS = 300.0  # active training time per run; the run stops itself after this
MAX_PAUSE_SECONDS = 600.0  # a run paused longer than this stops (it holds a slot)
MAX_SAMPLES_KEPT = 6  # the newest samples kept for the page
KEEP_FINISHED_SECONDS = 3600.0  # a finished run stays in the registry this long

STATES = ("created", "queued", "running", "paused", "done", "stopped", "failed")
FINISHED = ("done", "stopped", "failed")


class JobSlots:
    """A counting semaphore that also reports how many slots are busy (for the page)."""

    def __init__(self, n: int = MAX_CONCURRENT_JOBS) -> None:
        if n < 1:
            raise ValueError(f"Need at least one training slot, got {n}.")
        self.n = n
        self._sem = threading.BoundedSemaphore(n)
        self._lock = threading.Lock()
        self._busy = 0

    def acquire(self, timeout: float) -> bool:
        ok = self._sem.acquire(timeout=timeout)
        if ok:
            with self._lock:
                self._busy += 1
        return ok

    def release(self) -> None:
        with self._lock:
            self._busy -= 1
        self._sem.release()

    @property
    def busy(self) -> int:
        return self._busy


SLOTS = JobSlots()  # shared by every session of this server process, on purpose


@dataclass(frozen=True)
class Trained:
    """What a task returns: the trained model and its checkpoint card."""

    model: torch.nn.Module
    card: dict


@dataclass(frozen=True)
class Sample:
    """A sample drawn during training: text (str) or images (uint8 array [n, H, W])."""

    step: int
    seconds: float  # active training time when it was drawn
    value: object


@dataclass(frozen=True)
class Progress:
    """A consistent snapshot of a job for one redraw of the page."""

    state: str
    step: int
    total_steps: int
    epoch: int
    fraction: float  # 0..1, by steps or by the time cap, whichever is further
    elapsed: float  # active seconds (pauses excluded)
    eta: float | None  # seconds left, None until the first steps are timed
    max_seconds: float
    time_capped: bool  # the run hit its time cap


@dataclass
class JobContext:
    """What a task sees of its job: the stop flag and the report calls."""

    job: TrainingJob
    sample_every: float = 8.0  # seconds of training between samples
    _last_sample: float = field(default=-math.inf, repr=False)

    @property
    def stop(self) -> threading.Event:
        """Pass this to the library training loops; they stop after the current step."""
        return self.job._stop

    def report_step(self, step: int, total_steps: int, epoch: int, loss: float) -> None:
        """Record one step's training loss (bits), then pause or stop here if asked."""
        self.job._record_step(step, total_steps, epoch, loss)
        self.job._checkpoint()

    def report_val(self, loss: float) -> None:
        """Record a validation/test loss (bits) at the current step."""
        job = self.job
        with job._lock:
            job.val_history.append((job.step, float(loss)))

    def report_sample(self, value: object) -> None:
        job = self.job
        with job._lock:
            job.samples.append(Sample(job.step, job.elapsed(), value))
            del job.samples[:-MAX_SAMPLES_KEPT]
        self._last_sample = job.elapsed()

    def sample_due(self) -> bool:
        """True when ``sample_every`` seconds of training passed since the last sample."""
        return self.job.elapsed() - self._last_sample >= self.sample_every


Task = Callable[[JobContext], Trained]
_ids = itertools.count(1)


class TrainingJob:
    """One training run in a daemon thread.

    Args:
        task: trains a *fresh* model (never a shared one) and returns :class:`Trained`;
            it must call ``ctx.report_step`` every step and honour ``ctx.stop``.
        label: how the page names the run and, later, the model.
        max_seconds: active-time cap; the job sets its stop flag when it is reached.
        slots: the concurrency cap (default: the server-wide ``SLOTS``).
        sample_every: seconds between samples the task is asked to draw.
        on_result: called in the job thread with the result of a run that trained
            (done or stopped), before the job counts as finished; what it returns is
            kept as ``job.kept``, and an exception it raises as ``job.kept_error`` (the
            run itself still succeeded).
    """

    def __init__(
        self,
        task: Task,
        label: str,
        *,
        max_seconds: float = MAX_SECONDS,
        max_pause_seconds: float = MAX_PAUSE_SECONDS,
        slots: JobSlots | None = None,
        sample_every: float = 8.0,
        threads: int = JOB_THREADS,
        on_result: Callable[[Trained], object] | None = None,
    ) -> None:
        if max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive, got {max_seconds}.")
        self.id = next(_ids)
        self.task = task
        self.label = label
        self.max_seconds = max_seconds
        self.max_pause_seconds = max_pause_seconds
        self.slots = slots or SLOTS
        self.threads = threads
        self.ctx = JobContext(self, sample_every=sample_every)
        self.state = "created"
        self.step = self.total_steps = self.epoch = 0
        self.train_history: list[tuple[int, float]] = []  # (step, bits) every step
        self.val_history: list[tuple[int, float]] = []  # (step, bits) per evaluation
        self.samples: list[Sample] = []
        self.result: Trained | None = None
        self.error: str | None = None  # "ValueError: ..." when the task raised
        self.error_traceback: str | None = None
        self.time_capped = False
        self.on_result = on_result
        self.kept: object = None  # what on_result returned
        self.kept_error: str | None = None  # why on_result failed
        self.finished_at: float | None = None  # time.time() when the job ended
        self.stop_requested = False  # the user clicked stop (or it sat paused too long)
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._lock = threading.Lock()
        self._active = 0.0  # seconds trained before the current running stretch
        self._since: float | None = None  # perf_counter at the start of that stretch
        self._thread: threading.Thread | None = None

    # -- control (called from the page) ---------------------------------------------
    def start(self) -> TrainingJob:
        if self._thread is not None:
            raise RuntimeError("This job was already started.")
        self.state = "queued"
        self._thread = threading.Thread(
            target=self._run, name=f"autoreg-train-{self.id}", daemon=True
        )
        self._thread.start()
        return self

    def pause(self) -> None:
        if self.state == "running":
            self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self) -> None:
        """Ask the run to stop after the current step; the model so far is kept."""
        self.stop_requested = True
        self._stop.set()
        self._resume.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished

    # -- reading (called from the page) ---------------------------------------------
    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def paused(self) -> bool:
        return not self._resume.is_set() and not self.finished

    def elapsed(self) -> float:
        """Active training seconds, pauses excluded."""
        since = self._since
        return self._active + (time.perf_counter() - since if since is not None else 0.0)

    def progress(self) -> Progress:
        with self._lock:
            step, total, epoch = self.step, self.total_steps, self.epoch
        elapsed = self.elapsed()
        by_steps = step / total if total else 0.0
        fraction = (
            1.0 if self.state == "done" else min(1.0, max(by_steps, elapsed / self.max_seconds))
        )
        eta = None
        if step >= 3 and total and not self.finished:
            eta = min(elapsed / step * (total - step), max(0.0, self.max_seconds - elapsed))
        state = "paused" if self.paused and self.state == "running" else self.state
        return Progress(
            state, step, total, epoch, fraction, elapsed, eta, self.max_seconds, self.time_capped
        )

    def history(self) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Copies of (train, validation) histories, safe to plot while training goes on."""
        with self._lock:
            return list(self.train_history), list(self.val_history)

    def latest_samples(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    # -- the thread -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self.slots.acquire(timeout=0.1):
                if self._stop.is_set():
                    self.state = "stopped"  # stopped while still queued: nothing trained
                    return
            try:
                torch.set_num_threads(self.threads)  # this thread's intra-op pool only
                self.state = "running"
                self._since = time.perf_counter()
                result = self.task(self.ctx)
                self._pause_clock()
                if not isinstance(result, Trained):
                    raise TypeError(f"A training task must return Trained, got {type(result)}.")
                self.result = result
                self._hand_over(result)
                self.state = "stopped" if self.stop_requested else "done"
            finally:
                self.slots.release()
        except Exception as exc:  # reported on the page, never swallowed
            self._pause_clock()
            self.error = f"{type(exc).__name__}: {exc}"
            self.error_traceback = traceback.format_exc()
            self.state = "failed"
        finally:
            self.finished_at = time.time()

    def _hand_over(self, result: Trained) -> None:
        if self.on_result is None:
            return
        try:
            self.kept = self.on_result(result)
        except Exception as exc:  # the model is trained; only keeping it failed
            self.kept_error = (
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            )

    def _record_step(self, step: int, total_steps: int, epoch: int, loss: float) -> None:
        with self._lock:
            self.step, self.total_steps, self.epoch = step, total_steps, epoch
            self.train_history.append((step, float(loss)))

    def _pause_clock(self) -> None:
        if self._since is not None:
            self._active += time.perf_counter() - self._since
            self._since = None

    def _checkpoint(self) -> None:
        """Between two steps: enforce the time cap, and block here while paused."""
        if self.elapsed() >= self.max_seconds and not self._stop.is_set():
            self.time_capped = True
            self._stop.set()
        if self._resume.is_set():
            return
        self._pause_clock()
        if not self._resume.wait(self.max_pause_seconds):
            self.stop_requested = True  # paused too long: give the slot back
            self._stop.set()
        self._resume.set()
        self._since = time.perf_counter()


class JobRegistry:
    """Each owner's latest run, for this server process (the jobs are its threads).

    A page load of a browser looks its run up by the browser's owner id, so a running
    job is found again after a reload. ``view`` is whatever the page needs to draw the
    run (kept beside the job, opaque here). Finished runs are forgotten
    ``keep_finished`` seconds after they ended (their model is kept elsewhere); running
    ones never are, and they end by themselves (``MAX_SECONDS``, ``MAX_PAUSE_SECONDS``).
    """

    def __init__(
        self,
        keep_finished: float = KEEP_FINISHED_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keep_finished = keep_finished
        self.clock = clock
        self._runs: dict[str, tuple[TrainingJob, object]] = {}
        self._lock = threading.Lock()

    def put(self, owner: str, job: TrainingJob, view: object = None) -> None:
        """Make ``job`` the owner's current run (a previous one is forgotten)."""
        if not owner:
            raise ValueError("A run needs an owner id.")
        with self._lock:
            self._prune()
            self._runs[owner] = (job, view)

    def get(self, owner: str) -> tuple[TrainingJob, object] | None:
        """The owner's current run as ``(job, view)``, or None."""
        with self._lock:
            self._prune()
            return self._runs.get(owner)

    def forget(self, owner: str) -> None:
        with self._lock:
            self._runs.pop(owner, None)

    def __len__(self) -> int:
        with self._lock:
            self._prune()
            return len(self._runs)

    def _prune(self) -> None:
        now = self.clock()
        for owner, (job, _) in list(self._runs.items()):
            if job.finished and now - (job.finished_at or now) > self.keep_finished:
                del self._runs[owner]


RUNS = JobRegistry()  # shared by every session of this server process, on purpose
