"""Two replicas behind nginx, as ``make cluster`` runs them, in real Chromium.

The cluster is started by ``deploy/cluster.sh``, which ``make cluster`` runs, with two
replicas and nginx on free loopback ports; it checks the models with ``deploy/check.py``
(the image's build step), starts each replica with ``deploy/serve.sh`` (the image's
command) and waits on ``deploy/health.py`` (the image's health check). The replicas keep
browsers' models in a temporary folder. Then:

* two browser contexts (two browsers) land on different replicas, named by nginx's
  ``X-Autoreg-Replica`` header and its ``autoreg_replica`` route cookie, and stay there;
* each keeps its state across reruns on Step through (a model and an input picked,
  a step taken);
* browser A also opens a checkpoint and starts a training run on the Train page; then A's
  replica is stopped. A's tabs reconnect through nginx to the other replica, run again
  there, and come back to the same page, model, input and step from their URL, with no
  exception box; nginx rewrote A's route cookie; the
  Train page says plainly that the run was lost with its server, and the opened model is
  still A's (the replicas share the host's disk);
* browser B, on the other replica, carries on without a reload: its websocket never
  closed, and its next rerun works.

Screenshots: tests/artifacts/cluster-*.png. nginx's and the replicas' logs:
tests/artifacts/cluster/.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from autoreg.checkpoints import checkpoint_bytes
from autoreg.pretrained import ASSETS, list_pretrained, load_checkpoint
from tests.browser.conftest import (
    VIEWPORT,
    _free_port,
    required_program,
    wait_idle,
    watched_page,
)
from tests.browser.players import picker_options
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

CLUSTER = ROOT / "deploy" / "cluster.sh"
_spec = importlib.util.spec_from_file_location("deploy_health", ROOT / "deploy" / "health.py")
HEALTH = importlib.util.module_from_spec(_spec)  # the image's health check
_spec.loader.exec_module(HEALTH)
PLAYER = "[data-testid=autoreg-player]"
STARTUP_S = 240
LABEL = "cluster-model (uploaded) (yours)"
# While its replica is gone, a page's websocket and its health probes fail: the browser
# logs those as console errors. Nothing else may appear.
RECONNECT_NOISE = ("websocket", "disconnected", "/_stcore/", "err_connection", "502", "bad gateway")


@pytest.fixture(scope="module")
def nginx_path() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")  # Debian's place
    return required_program(path, "nginx")


@dataclass
class Cluster:
    url: str
    ports: dict[str, int]  # replica name -> port
    run_dir: Path

    def pid(self, name: str) -> int:
        return int((self.run_dir / f"{name}.pid").read_text())

    def stop(self, name: str, timeout: float = 30) -> None:
        """Stop one replica as an orchestrator would (SIGTERM), and wait until it is gone."""
        os.kill(self.pid(name), signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _healthy(self.ports[name]):
            assert time.monotonic() < deadline, f"replica {name} still answers"
            time.sleep(0.2)


def _healthy(port: int) -> bool:
    return HEALTH.healthy(f"http://127.0.0.1:{port}", timeout=1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def cluster(chromium_path, nginx_path, tmp_path_factory) -> Iterator[Cluster]:
    """``deploy/cluster.sh 2 PORT`` on free loopback ports; stopped afterwards."""
    ports: set[int] = set()
    while len(ports) < 3:  # three different free ports
        ports.add(_free_port())
    proxy, r1, r2 = sorted(ports)
    run_dir = ROOT / "tests" / "artifacts" / "cluster"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    env = {
        **os.environ,
        "REPLICA_PORTS": f"{r1} {r2}",
        "RUN_DIR": str(run_dir),
        "AUTOREG_CACHE_DIR": str(tmp_path_factory.mktemp("cluster-cache")),
        "AUTOREG_PYTHON": sys.executable,
        "AUTOREG_NGINX": nginx_path,
    }
    log_path = run_dir / "cluster.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(CLUSTER), "2", str(proxy)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole below
        )
    try:
        deadline = time.monotonic() + STARTUP_S
        while "autoreg cluster ready" not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"deploy/cluster.sh did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield Cluster(f"http://127.0.0.1:{proxy}", {"r1": r1, "r2": r2}, run_dir)
    finally:
        pids = [int(p.read_text()) for p in run_dir.glob("r*.pid")]
        proc.send_signal(signal.SIGTERM)  # what Ctrl-C on make cluster does
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        left = [p for p in pids if _alive(p)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"replicas {left} outlived deploy/cluster.sh"
        assert not _healthy(proxy), "nginx outlived deploy/cluster.sh"


# Installed on a page before its replica stops: notes that the connection was lost, then
# every change of the script's state once it is back (the rerun on the new replica).
WATCH_JS = """
() => {
  const app = document.querySelector('[data-testid=stApp]');
  const seen = window.__failover = {lost: false, runs: 0};
  new MutationObserver((records) => {
    if (app.getAttribute('data-test-connection-state') !== 'CONNECTED') seen.lost = true;
    else if (seen.lost) {
      seen.runs += records.filter((r) => r.attributeName === 'data-test-script-state').length;
    }
  }).observe(app, {attributes: true});
}
"""
RERUN_AFTER_RECONNECT_JS = """
() => {
  const app = document.querySelector('[data-testid=stApp]');
  return window.__failover.lost && window.__failover.runs > 0
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning';
}
"""


def _wait_rerun_after_reconnect(page, timeout: float = 120_000) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(RERUN_AFTER_RECONNECT_JS, timeout=timeout)
    except PlaywrightTimeout:
        seen = page.evaluate("JSON.stringify(window.__failover)")
        pytest.fail(f"{page.url} did not run again after reconnecting: {seen}")


def _replica(context) -> str | None:
    return {c["name"]: c["value"] for c in context.cookies()}.get("autoreg_replica")


def _open(page, base: str, path: str = "", query: str = "") -> str:
    """Open a page through the proxy; the replica that answered (X-Autoreg-Replica)."""
    response = page.goto(f"{base}/{path}{'?' + query if query else ''}", wait_until="commit")
    wait_idle(page)
    return response.headers.get("x-autoreg-replica", "")


def _pick(page, key: str, option: str) -> None:
    """Choose ``option`` in the select box ``key``; wait for the rerun it causes."""
    page.locator(f".st-key-{key} button[aria-haspopup=listbox]").first.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def _chosen(page, key: str) -> str:
    return page.locator(f".st-key-{key} input[role=combobox]").input_value()


def _step(page) -> int:
    return int(page.locator(PLAYER).get_attribute("data-step"))


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _view(page) -> dict:
    """Page, model, input and step: from the URL and from what the page shows."""
    return {
        "path": urlsplit(page.url).path,
        "url_model": _query(page).get("step_model"),
        "url_input": _query(page).get("step_input_preset"),
        "url_step": _query(page).get("step_step"),
        "model": _chosen(page, "step_model"),
        "input": _chosen(page, "step_input_preset"),
        "step": _step(page),
    }


def _step_through(page, base: str, model: str, preset: str, steps: int) -> dict:
    """Open Step through, pick a model and an input (two reruns), take steps; the view."""
    _open(page, base, "step")
    page.locator(PLAYER).wait_for(timeout=60_000)
    _pick(page, "step_model", model)
    assert model in _chosen(page, "step_model")
    _pick(page, "step_input_preset", preset)
    assert model in _chosen(page, "step_model"), "the model changed in the next rerun"
    page.get_by_test_id("stHeading").first.click()  # focus the page, not a widget
    for _ in range(steps):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"location.search.includes('step_step={steps}')", timeout=15_000)
    view = _view(page)
    assert view["step"] == steps and view["url_model"] == [model], view
    assert view["url_input"] == [preset] and preset in view["input"], view
    return view


def _no_exception(page) -> None:
    boxes = page.get_by_test_id("stException")
    assert boxes.count() == 0, boxes.first.inner_text()


def _errors_beyond_reconnect(page) -> list[str]:
    return [
        e
        for e in page.console.errors
        if e.startswith("page error") or not any(n in e.lower() for n in RECONNECT_NOISE)
    ]


def _checkpoint(tmp_path) -> str:
    name = "lstm-char-stdlib" if "lstm-char-stdlib" in list_pretrained() else list_pretrained()[0]
    ckpt = load_checkpoint(ASSETS / f"{name}.safetensors")
    path = tmp_path / "cluster-model.safetensors"
    path.write_bytes(checkpoint_bytes(ckpt.tensors, ckpt.card))
    return str(path)


def test_two_replicas_behind_nginx_keep_sessions_and_fail_over(
    cluster, browser, tmp_path, artifacts_dir
):
    for needed in ("gru-char-stdlib", "rnn-char-stdlib"):
        if needed not in list_pretrained():
            pytest.skip(f"{needed} does not ship")
    base = cluster.url
    ctx_a = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    ctx_b = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    try:
        a, b = watched_page(ctx_a), watched_page(ctx_b)
        # two browsers, one after the other: round robin puts them on different replicas
        on_a, on_b = _open(a, base), _open(b, base)
        assert {on_a, on_b} == {"r1", "r2"}, (on_a, on_b)
        assert (_replica(ctx_a), _replica(ctx_b)) == (on_a, on_b)
        assert _open(a, base) == on_a and _open(b, base) == on_b  # sticky: reloads stay
        closed_b: list[str] = []  # B's websockets that closed: none may
        b.on("websocket", lambda ws: ws.on("close", lambda _: closed_b.append(ws.url)))

        # each keeps its state across reruns, on its own replica
        view_a = _step_through(a, base, "gru-char-stdlib", "English prose", 6)
        view_b = _step_through(b, base, "rnn-char-stdlib", "English prose", 4)
        assert _replica(ctx_a) == on_a and _replica(ctx_b) == on_b

        # A, in a second tab: opens a checkpoint (kept for A) and starts a training run
        train = watched_page(ctx_a)
        assert _open(train, base, "train") == on_a
        train.locator(".st-key-train_ckpt input[type=file]").set_input_files(_checkpoint(tmp_path))
        train.get_by_text("Opened cluster-model.safetensors").wait_for(timeout=60_000)
        train.locator(".st-key-train_start button").click()
        train.get_by_role("heading", name="Run:").wait_for(timeout=60_000)
        run_label = train.get_by_role("heading", name="Run:").inner_text().split("Run:", 1)[1]
        run_label = run_label.strip()
        progress = train.get_by_test_id("stProgress").filter(has_text="running")
        progress.wait_for(timeout=60_000)  # training, far from done
        for page in (a, b, train):
            _no_exception(page)
            assert not page.console.errors, page.console.errors
        for page in (a, train):
            page.console.errors.clear()
            page.evaluate(WATCH_JS)

        # A's replica stops; A's tabs reconnect through nginx to the other replica
        cluster.stop(on_a)
        for page in (a, train):
            _wait_rerun_after_reconnect(page)
        assert _replica(ctx_a) == on_b, "nginx did not rewrite A's route cookie"
        wait_idle(a)
        a.locator(PLAYER).wait_for(timeout=60_000)
        a.wait_for_function(f"() => location.search.includes('step_step={view_a['step']}')")
        assert _view(a) == view_a  # same page, model, input and step, from the URL
        _no_exception(a)
        assert not _errors_beyond_reconnect(a), a.console.errors
        a.screenshot(path=str(artifacts_dir / "cluster-a-after-failover.png"))

        # the training run is said plainly to be lost; the opened model is still there
        lost = train.get_by_test_id("stAlertContentWarning").filter(has_text="was lost")
        lost.wait_for(timeout=60_000)
        text = lost.inner_text()
        assert run_label in text and "server that has stopped" in text, text
        _no_exception(train)
        assert not _errors_beyond_reconnect(train), train.console.errors
        train.screenshot(path=str(artifacts_dir / "cluster-train-after-failover.png"))
        assert _open(train, base, "generate") == on_b
        assert LABEL in picker_options(train, "gen_model")
        _no_exception(train)

        # B carried on: same websocket, and its next rerun works on its own replica
        assert not closed_b, closed_b
        assert _view(b) == view_b
        _pick(b, "step_input_preset", "Python code")
        assert "rnn-char-stdlib" in _chosen(b, "step_model")
        assert "Python code" in _chosen(b, "step_input_preset")
        assert _replica(ctx_b) == on_b and not closed_b
        _no_exception(b)
        assert not b.console.errors, b.console.errors
        b.screenshot(path=str(artifacts_dir / "cluster-b-carried-on.png"))
    finally:
        ctx_a.close()
        ctx_b.close()
