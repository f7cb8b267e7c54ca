"""The background training job: start, progress, pause/resume, stop, errors, caps."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from autoreg.jobs import JobContext, JobRegistry, JobSlots, Trained, TrainingJob


def _wait(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def counting_task(total: int = 10_000, delay: float = 0.005, seen: dict | None = None):
    """A fake training loop: reports a falling loss every step, honours the stop flag."""

    def task(ctx: JobContext) -> Trained:
        if seen is not None:
            seen["threads"] = torch.get_num_threads()
        model = torch.nn.Linear(2, 2)
        for step in range(1, total + 1):
            if ctx.stop.is_set():
                break
            time.sleep(delay)
            ctx.report_step(step, total, 1 + step // 100, 8.0 / step)
            if step % 10 == 0:
                ctx.report_val(9.0 / step)
        return Trained(model, {"kind": "test", "steps": step})

    return task


def test_start_runs_to_completion_with_progress_and_history():
    seen: dict = {}
    job = TrainingJob(counting_task(40, 0.001, seen), "run", slots=JobSlots(1), threads=1)
    assert job.progress().state == "created"
    job.start()
    assert job.join(10)
    p = job.progress()
    assert (p.state, p.step, p.total_steps, p.fraction) == ("done", 40, 40, 1.0)
    train, val = job.history()
    assert [s for s, _ in train] == list(range(1, 41))
    assert train[-1][1] == pytest.approx(8.0 / 40)
    assert [s for s, _ in val] == [10, 20, 30, 40]
    assert job.result is not None and job.result.card["steps"] == 40
    assert seen["threads"] == 1
    assert job.error is None
    with pytest.raises(RuntimeError):
        job.start()


def test_progress_midway_has_fraction_and_eta():
    job = TrainingJob(counting_task(400, 0.01), "run", slots=JobSlots(1)).start()
    _wait(lambda: job.progress().step >= 20)
    p = job.progress()
    assert p.state == "running"
    assert 0 < p.fraction < 1
    assert p.eta is not None and 0 < p.eta <= p.max_seconds
    # roughly (steps left) x (seconds per step): 380 x 10 ms, within a generous factor
    assert 0.5 < p.eta < 30
    job.stop()
    assert job.join(10)


def test_pause_freezes_steps_and_clock_then_resume_continues():
    job = TrainingJob(counting_task(), "run", slots=JobSlots(1)).start()
    _wait(lambda: job.step >= 5)
    job.pause()
    time.sleep(0.1)  # let the current step reach the pause point
    frozen, clock = job.step, job.elapsed()
    assert job.progress().state == "paused"
    time.sleep(0.3)
    assert job.step == frozen
    assert job.elapsed() == pytest.approx(clock, abs=0.02)  # pauses do not count
    job.resume()
    _wait(lambda: job.step > frozen + 5)
    assert job.progress().state == "running"
    job.stop()
    assert job.join(10)


def test_stop_ends_early_and_keeps_the_model():
    job = TrainingJob(counting_task(), "run", slots=JobSlots(1)).start()
    _wait(lambda: job.step >= 5)
    job.stop()
    assert job.join(10)
    assert job.state == "stopped"
    assert job.result is not None and job.result.card["steps"] < 10_000
    assert not job.time_capped


def test_stop_while_paused_does_not_hang():
    job = TrainingJob(counting_task(), "run", slots=JobSlots(1)).start()
    _wait(lambda: job.step >= 3)
    job.pause()
    time.sleep(0.1)
    job.stop()
    assert job.join(10)
    assert job.state == "stopped"


def test_error_inside_the_job_is_reported_not_swallowed():
    def broken(ctx: JobContext) -> Trained:
        ctx.report_step(1, 10, 1, 3.0)
        raise ValueError("the corpus has no newline")

    slots = JobSlots(1)
    job = TrainingJob(broken, "run", slots=slots).start()
    assert job.join(10)
    assert job.state == "failed"
    assert job.error == "ValueError: the corpus has no newline"
    assert "the corpus has no newline" in job.error_traceback
    assert "broken" in job.error_traceback  # the traceback points at the task
    assert job.result is None
    assert slots.busy == 0  # the slot was given back


def test_task_returning_the_wrong_type_is_an_error():
    job = TrainingJob(lambda ctx: "a model", "run", slots=JobSlots(1)).start()
    assert job.join(10)
    assert job.state == "failed" and job.error.startswith("TypeError")


def test_time_cap_stops_the_run_as_done():
    job = TrainingJob(counting_task(), "run", slots=JobSlots(1), max_seconds=0.3).start()
    assert job.join(10)
    assert job.state == "done" and job.time_capped
    assert 0.3 <= job.elapsed() < 2.0
    assert job.progress().fraction == 1.0


def test_paused_too_long_gives_the_slot_back():
    slots = JobSlots(1)
    job = TrainingJob(counting_task(), "run", slots=slots, max_pause_seconds=0.2).start()
    _wait(lambda: job.step >= 3)
    job.pause()
    assert job.join(10)
    assert job.state == "stopped" and slots.busy == 0


def test_concurrency_cap_queues_the_third_job():
    slots = JobSlots(2)
    gate = threading.Event()

    def blocked(ctx: JobContext) -> Trained:
        ctx.report_step(1, 2, 1, 1.0)
        gate.wait(10)
        return Trained(torch.nn.Linear(1, 1), {})

    jobs = [TrainingJob(blocked, f"run {i}", slots=slots).start() for i in range(3)]
    _wait(lambda: sorted(j.state for j in jobs) == ["queued", "running", "running"])
    time.sleep(0.3)  # the third stays queued while both slots are busy
    assert sorted(j.state for j in jobs) == ["queued", "running", "running"]
    assert slots.busy == 2
    gate.set()
    for j in jobs:
        assert j.join(10) and j.state == "done"
    assert slots.busy == 0


def test_stop_while_queued_trains_nothing():
    slots = JobSlots(1)
    gate = threading.Event()

    def blocked(ctx: JobContext) -> Trained:
        gate.wait(10)
        return Trained(torch.nn.Linear(1, 1), {})

    first = TrainingJob(blocked, "first", slots=slots).start()
    _wait(lambda: first.state == "running")
    second = TrainingJob(counting_task(), "second", slots=slots).start()
    time.sleep(0.2)
    assert second.state == "queued"
    second.stop()
    assert second.join(10) and second.state == "stopped" and second.result is None
    gate.set()
    assert first.join(10)


def test_bad_arguments():
    with pytest.raises(ValueError, match="slot"):
        JobSlots(0)
    with pytest.raises(ValueError, match="max_seconds"):
        TrainingJob(counting_task(), "x", max_seconds=0)


def test_on_result_runs_in_the_job_before_it_counts_as_finished():
    seen: dict = {}

    def keep(result: Trained) -> str:
        seen["finished_then"] = job.finished
        seen["thread"] = threading.current_thread().name
        return f"kept {result.card['steps']} steps"

    job = TrainingJob(counting_task(20, 0.001), "run", slots=JobSlots(1), on_result=keep)
    job.start()
    assert job.join(10)
    assert job.state == "done" and job.kept == "kept 20 steps" and job.kept_error is None
    assert seen == {"finished_then": False, "thread": f"autoreg-train-{job.id}"}
    assert job.finished_at is not None


def test_a_failing_on_result_keeps_the_trained_run():
    def full_disk(result: Trained) -> None:
        raise ValueError("the model is too big to keep")

    job = TrainingJob(counting_task(5, 0.001), "run", slots=JobSlots(1), on_result=full_disk)
    assert job.start().join(10)
    assert job.state == "done" and job.result is not None and job.error is None
    assert job.kept is None and job.kept_error == "the model is too big to keep"


def test_on_result_is_not_called_for_a_failed_run():
    calls = []

    def broken(ctx: JobContext) -> Trained:
        raise RuntimeError("no data")

    job = TrainingJob(broken, "run", slots=JobSlots(1), on_result=calls.append).start()
    assert job.join(10) and job.state == "failed" and calls == []


def test_registry_keeps_each_owners_run_apart_and_forgets_finished_ones():
    now = [1000.0]
    runs = JobRegistry(keep_finished=60.0, clock=lambda: now[0])
    gate = threading.Event()

    def blocked(ctx: JobContext) -> Trained:
        gate.wait(10)
        return Trained(torch.nn.Linear(1, 1), {})

    a = TrainingJob(blocked, "a", slots=JobSlots(2)).start()
    b = TrainingJob(counting_task(3, 0.001), "b", slots=JobSlots(2)).start()
    runs.put("owner-a", a, {"kind": "sequence"})
    runs.put("owner-b", b)
    assert runs.get("owner-a") == (a, {"kind": "sequence"})
    assert runs.get("owner-b") == (b, None) and runs.get("owner-c") is None
    assert b.join(10)
    b.finished_at = now[0]
    now[0] += 61.0  # b ended more than keep_finished ago; a is still running
    assert runs.get("owner-b") is None
    assert runs.get("owner-a") == (a, {"kind": "sequence"}) and len(runs) == 1
    gate.set()
    assert a.join(10)
    with pytest.raises(ValueError, match="owner"):
        runs.put("", a)
    runs.forget("owner-a")
    assert runs.get("owner-a") is None
