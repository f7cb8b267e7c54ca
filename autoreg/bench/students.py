"""A class of simulated students: protocol clients working through the app as a class does.

``python -m autoreg.bench.students --url http://127.0.0.1:PORT --sessions 30`` runs the
sessions in one asyncio process (``autoreg.bench.protocol``, no browser) and writes one
JSON report: every rerun each session caused, with its page, action and time, every
error, how many steps stayed in the browser, and the CPU this process used. The
classroom benchmark (``autoreg.bench.load``) runs it as a subprocess, so the clients'
CPU is counted apart from the server's. It only ever talks to the URL it is given.

A student, paced by a think time drawn per gesture from half to one and a half times
``--think`` (a seeded generator per session, so sessions never act in lockstep):

1. joins within ``--ramp`` seconds and opens the teacher's link to one page (``LINKS``,
   spread round-robin over ``PAGES``): the page's HTML and, the first time, the scripts,
   then a websocket session, as a browser's page load does;
2. then, until ``--seconds`` have passed or ``--max-actions`` gestures were made, one
   gesture at a time, weighted by ``WEIGHTS``:

   - **step**: the in-browser player moves a few steps, or jumps (a slider drag). The
     server hears of it only when the player asks for data it does not hold (windows
     of a long trace on Step through and Memory, another unit's details on Step
     through, a file); otherwise the step stays in the browser and is only counted. On
     Generate pixels, whose replay needs a generation first, the first step presses
     Generate; while it draws, its fragment's timer reruns (``poll``) during the
     student's pauses, as the browser's timer does;
   - **model**: another model in one of the page's model pickers;
   - **input**: another value in one of the page's inputs (``INPUTS``: the preset text,
     prompt, temperature, kernel size...); a number box moves by one step, as a click
     on its + or - does (a seed goes from 3 to 2 or 4);
   - **navigate**: another page from the menu.

   After every rerun, a player that lacks data around its cursor asks for it, as its
   first draw does in the browser (``fetch``: Memory's neighbouring windows).

Every page's controls are found by the keys the page gives them; a key that is not on
the page is skipped and counted (``skipped``), never guessed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autoreg.bench.protocol import Run, Session, Widget

PAGES = ("step", "units", "generate", "memory", "masks", "pixels")  # where a class works
# The teacher's links: a page state as a copied address bar carries it.
LINKS = {
    "step": "step_input_preset=English+prose&step_step=40",
    "units": "units_preset=English+prose",
    "generate": "gen_temp=0.5",
    "memory": "memory_preset=Brackets+and+quotes",
    "masks": "masks_k=7&masks_depth=3",
    "pixels": "pixels_temp=0.8",
}
# The inputs a student changes on each page (model pickers are found by key: *model*).
INPUTS = {
    "step": ("step_input_preset", "step_compare"),
    "units": ("units_preset", "units_qty", "units_unit", "units_src"),
    "generate": ("gen_prompt", "gen_temp", "gen_seed"),
    "memory": ("memory_preset", "memory_lag", "memory_letter", "memory_seed"),
    "masks": ("masks_k", "masks_type", "masks_depth", "masks_stack_k"),
    "pixels": ("pixels_temp", "pixels_seed", "pixels_n"),
}
TEXTS = ("def ", "the ", "import os\n", "for i in range(", "class Point:\n    ")
GENERATE = {"pixels": "pixels_go"}  # pages whose player needs a run started first
WEIGHTS = {"step": 5.0, "input": 2.0, "model": 1.5, "navigate": 1.5}
UNIT_CHANCE = 0.25  # a step gesture on Step through picks another unit's cell diagram
FILE_CHANCE = 0.04  # ... or asks for a file the player offers
BURSTS = (1, 1, 1, 2, 3, 5, 10)  # steps per gesture (arrow presses); else a slider jump
JUMP_CHANCE = 0.2


def page_path(page: str) -> str:
    """The URL path of a registered page (Home is the app's root)."""
    return "" if page == "home" else page


@dataclass
class Settings:
    url: str
    sessions: int = 10
    seconds: float = 90.0
    think: float = 4.0
    seed: int = 0
    max_actions: int = 200
    ramp: float = 5.0
    timeout: float = 120.0
    pages: tuple[str, ...] = PAGES


@dataclass
class Report:
    """What the class did, as plain data (``as_json``)."""

    runs: list[list] = field(default_factory=list)  # [page, action, seconds, http_seconds]
    errors: list[str] = field(default_factory=list)
    steps: dict[str, list[int]] = field(default_factory=dict)  # page -> [in browser, sent]
    skipped: Counter = field(default_factory=Counter)  # "page:key" not on the page
    gestures: Counter = field(default_factory=Counter)

    def add(self, k: int, page: str, run: Run) -> Run:
        self.runs.append([page, run.action, run.seconds, run.http_seconds])
        self.errors.extend(f"session {k}: {e}" for e in run.errors)
        return run

    def as_json(self) -> dict:
        return {
            "runs": self.runs,
            "errors": self.errors,
            "steps": self.steps,
            "skipped": dict(self.skipped),
            "gestures": dict(self.gestures),
        }


def new_value(widget: Widget, current: object, rng: random.Random) -> object | None:
    """Another value for ``widget``, of its own type (None when it has no other)."""
    kind = widget.kind
    if kind in ("selectbox", "radio", "button_group"):
        now = current[0] if isinstance(current, list) and current else current
        options = [o for o in widget.options if o != now]
        if not options:
            return None
        choice = rng.choice(options)
        return [choice] if kind == "button_group" else choice
    if kind == "checkbox":
        return not bool(current)
    if kind in ("text_input", "text_area"):
        return rng.choice([t for t in TEXTS if t != current] or TEXTS)
    if kind == "slider":
        size = len(current) if isinstance(current, list) and current else 1
        if widget.options:
            return sorted(rng.sample(list(widget.options), size), key=widget.options.index)
        low, high, step = widget.low or 0.0, widget.high or 1.0, widget.step or 1.0
        n = max(1, round((high - low) / step))
        values = sorted(low + step * rng.randint(0, n) for _ in range(size))
        return [round(v) if widget.integer else round(v, 6) for v in values]
    if kind == "number_input":  # a click on its + or - (a seed 3 becomes 2 or 4)
        low = widget.low if widget.low is not None else -math.inf
        high = widget.high if widget.high is not None else math.inf
        step = widget.step or 1.0
        now = float(current) if isinstance(current, int | float) else max(low, 0.0)
        sign = rng.choice((-1, 1))
        value = now + sign * step if low <= now + sign * step <= high else now - sign * step
        if not low <= value <= high:
            return None
        return float(round(value) if widget.integer else round(value, 6))
    return None


class Student:
    """One session's behaviour (see the module docstring)."""

    def __init__(self, k: int, settings: Settings, report: Report) -> None:
        self.k = k
        self.s = settings
        self.report = report
        self.rng = random.Random(settings.seed * 100_003 + k)
        self.session = Session(settings.url, timeout=settings.timeout)
        self.page = settings.pages[k % len(settings.pages)]

    def record(self, run: Run) -> Run:
        self.report.add(self.k, self.page, run)
        self.report.errors.extend(f"session {self.k}: {e}" for e in self.session.stray)
        self.session.stray.clear()
        return run

    async def run(self) -> None:
        s = self.s
        await asyncio.sleep(self.rng.uniform(0, s.ramp))
        deadline = time.monotonic() + s.seconds
        try:
            await self.open(self.page, LINKS.get(self.page, ""))
            for _ in range(s.max_actions):
                await self.pause(s.think * self.rng.uniform(0.5, 1.5), deadline)
                if time.monotonic() >= deadline:
                    break
                try:
                    await self.gesture()
                except Exception as exc:  # reported; the student carries on
                    self.report.errors.append(f"session {self.k}: {type(exc).__name__}: {exc}")
        except Exception as exc:
            self.report.errors.append(f"session {self.k}: {type(exc).__name__}: {exc}")
        finally:
            await self.session.close()

    async def open(self, page: str, query: str = "", action: str = "open") -> None:
        self.page = page
        self.record(await self.session.open(page_path(page), query, action))
        await self.follow()

    async def follow(self) -> None:
        """What a player asks by itself when it draws its cursor: the windows around it
        that the page did not send (Memory sends only the cursor's window). The server
        answers two at a time; the browser asks again for the rest when it next draws."""
        for _ in range(3):
            if self.session.closed:
                return
            wants = [
                (p.key, p.missing(int(p.cursor.get("step", 0))))
                for p in self.session.players.values()
                if p.key in self.session.channels
            ]
            wants = [(key, missing) for key, missing in wants if missing]
            if not wants:
                return
            for key, missing in wants:
                self.record(await self.session.ask(key, {"windows": missing}, "fetch"))

    async def pause(self, seconds: float, deadline: float) -> None:
        """Look at the page; a drawing generation's timer reruns its fragment meanwhile."""
        end = min(time.monotonic() + seconds, deadline)
        while (left := end - time.monotonic()) > 0:
            if not self.session.auto:
                await asyncio.sleep(left)
                return
            fragment, interval = next(iter(self.session.auto.items()))
            await asyncio.sleep(min(interval, left))
            if time.monotonic() < end and self.session.auto.get(fragment) is not None:
                await self.act(lambda f=fragment: self.session.auto_rerun(f))

    async def act(self, request) -> None:
        """One request; a connection the server dropped is an error, and the student
        reloads the page (a browser reconnects by itself)."""
        if self.session.closed:
            if not self.session.close_reported:  # dropped between requests
                self.report.errors.append(f"session {self.k}: disconnected: {self.session.closed}")
            await self.open(self.page, self.session.query, "reconnect")
            return
        self.record(await request())
        await self.follow()

    async def gesture(self) -> None:
        kinds = list(WEIGHTS)
        kind = self.rng.choices(kinds, [WEIGHTS[k] for k in kinds])[0]
        self.report.gestures[kind] += 1
        if kind == "navigate":
            others = [p for p in self.s.pages if p != self.page]
            page = self.rng.choice(others)
            self.page = page
            await self.act(lambda: self.session.navigate(page_path(page)))
        elif kind == "model":
            keys = [
                w.key
                for w in self.session.widgets.values()
                if w.kind == "selectbox" and w.key and "model" in w.key and not w.sidebar
            ]
            await self.change(keys, "model")
        elif kind == "input":
            await self.change(INPUTS.get(self.page, ()), "input")
        else:
            await self.step()

    async def change(self, keys, action: str) -> None:
        present = set(self.session.widget_keys())
        for key in keys:
            if key not in present:
                self.report.skipped[f"{self.page}:{key}"] += 1
        usable = [k for k in keys if k in present and not self.session.find(k).disabled]
        if not usable:
            return
        key = self.rng.choice(usable)
        value = new_value(self.session.find(key), self.session.value(key), self.rng)
        if value is not None:
            await self.act(lambda: self.session.set(key, value, action))

    async def step(self) -> None:
        counts = self.report.steps.setdefault(self.page, [0, 0])
        players = list(self.session.players.values())
        start = GENERATE.get(self.page)
        if not players:
            if start and start in self.session.widget_keys():
                await self.act(lambda: self.session.click(start, "generate"))
            return
        p = self.rng.choice(players)
        need: dict = {}
        action = "step"
        roll = self.rng.random()
        if p.units and p.has_units and roll < UNIT_CHANCE:  # click another unit
            unit = self.rng.randrange(p.units)
            self.session.move(p.key, unit=unit)
            if not p.has_unit(unit):
                need = {"units": [unit]}
        elif p.files and roll < UNIT_CHANCE + FILE_CHANCE:  # a file made at the cursor
            need, action = {"file": self.rng.choice(p.files)}, "file"
        else:
            t = int(p.cursor.get("step", 0))
            last = max(0, p.n_steps - 1)
            if self.rng.random() < JUMP_CHANCE:
                path = [self.rng.randint(0, last)]
            else:
                sign = -1 if t >= last else 1
                n = self.rng.choice(BURSTS)
                path = [min(last, max(0, t + sign * i)) for i in range(1, n + 1)]
            missing = sorted({k for s in path for k in p.missing(s)})
            self.session.move(p.key, step=path[-1])
            if missing:
                need = {"windows": missing}
        counts[0 if not need else 1] += 1
        if need:
            await self.act(lambda: self.session.ask(p.key, need, action))


async def classroom(settings: Settings) -> Report:
    """Run every session of the class at once; the report of what they did."""
    report = Report()
    students = [Student(k, settings, report) for k in range(settings.sessions)]
    await asyncio.gather(*(s.run() for s in students))
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autoreg.bench.students",
        description="Simulated students: protocol sessions against one app server.",
    )
    d = Settings(url="")
    parser.add_argument("--url", required=True, help="the app, e.g. http://127.0.0.1:8501")
    parser.add_argument("--sessions", type=int, default=d.sessions)
    parser.add_argument("--seconds", type=float, default=d.seconds)
    parser.add_argument("--think", type=float, default=d.think)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--max-actions", type=int, default=d.max_actions)
    parser.add_argument("--ramp", type=float, default=d.ramp)
    parser.add_argument("--timeout", type=float, default=d.timeout)
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--out", type=Path, help="write the report here (default: stdout)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    host = args.url.split("//", 1)[-1].split("/", 1)[0].split(":")[0]
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit("The load clients talk only to a server on 127.0.0.1.")
    settings = Settings(
        url=args.url,
        sessions=args.sessions,
        seconds=args.seconds,
        think=args.think,
        seed=args.seed,
        max_actions=args.max_actions,
        ramp=args.ramp,
        timeout=args.timeout,
        pages=tuple(p for p in args.pages.split(",") if p),
    )
    started = time.monotonic()
    report = asyncio.run(classroom(settings)).as_json()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.update(
        sessions=settings.sessions,
        wall_s=round(time.monotonic() - started, 2),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 2),
    )
    text = json.dumps(report)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
