"""The classroom bench's protocol client, without a browser.

Messages are built and parsed back with Streamlit's own protobufs; a session is driven
against a scripted fake server (what it sends is checked message by message), and, once,
against real ``streamlit run`` servers: a tiny app whose button raises, and the app with
two students for a few seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import textwrap

import numpy as np
import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from autoreg.bench import protocol as pr
from autoreg.bench.students import INPUTS, LINKS, PAGES, new_value, page_path
from autoreg.seq.payload import pack

# -- messages -------------------------------------------------------------------------


def run_async(coro):
    """``asyncio.run`` in a thread of its own: the browser tests' Playwright (its sync API)
    keeps an event loop running in the main thread for the whole session."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _back(data: bytes) -> BackMsg:
    msg = BackMsg()
    msg.ParseFromString(data)
    return msg


def test_a_rerun_message_parses_back_with_everything_a_browser_sends():
    state = WidgetState(id="$$ID-abc-step_model", string_value="gru-char-stdlib")
    data = pr.rerun_message(
        query_string="step_model=gru-char-stdlib",
        page_script_hash="h123",
        widgets=[state],
        fragment_id="frag",
        is_auto_rerun=True,
        cached=["c1", "c2"],
        url="http://127.0.0.1:1/step?step_model=gru-char-stdlib",
    )
    msg = _back(data)
    assert msg.WhichOneof("type") == "rerun_script"
    cs = msg.rerun_script
    assert cs.query_string == "step_model=gru-char-stdlib" and cs.page_script_hash == "h123"
    assert cs.fragment_id == "frag" and cs.is_auto_rerun and cs.page_name == ""
    assert list(cs.cached_message_hashes) == ["c1", "c2"]
    assert [w.id for w in cs.widget_states.widgets] == ["$$ID-abc-step_model"]
    assert cs.widget_states.widgets[0].string_value == "gru-char-stdlib"
    assert cs.context_info.url.endswith("/step?step_model=gru-char-stdlib")
    assert cs.context_info.timezone == "UTC" and cs.context_info.locale == "en-US"
    first = _back(pr.rerun_message(page_name="memory", query_string="a=1"))
    assert first.rerun_script.page_name == "memory" and first.rerun_script.page_script_hash == ""


def test_user_keys_come_out_of_element_ids():
    assert pr.user_key("$$ID-0f1e-step_model") == "step_model"
    assert pr.user_key("$$ID-0f1e-a-key-with-dashes") == "a-key-with-dashes"
    assert pr.user_key("$$ID-0f1e-None") is None
    assert pr.user_key("plain") is None


def _element(kind: str, **fields) -> Element:
    el = Element()
    getattr(el, kind).SetInParent()
    for name, value in fields.items():
        target = getattr(el, kind)
        if isinstance(value, list):
            getattr(target, name).extend(value)
        else:
            setattr(target, name, value)
    return el


def test_widgets_are_read_from_their_elements_with_the_value_on_screen():
    box = pr.widget_of(
        _element("selectbox", id="$$ID-1-step_model", options=["a", "b", "c"], default=1,
                 query_param_key="step_model"),
        "frag", [0, 4, 0, 0],
    )  # fmt: skip
    assert (box.kind, box.key, box.value, box.query_key) == (
        "selectbox", "step_model", ("string_value", "b"), "step_model",
    )  # fmt: skip
    assert box.fragment_id == "frag" and not box.sidebar
    set_box = pr.widget_of(
        _element("selectbox", id="$$ID-1-k", options=["a", "b"], default=0, raw_value="b",
                 set_value=True)
    )  # fmt: skip
    assert set_box.value == ("string_value", "b")
    toggle = pr.widget_of(_element("checkbox", id="$$ID-2-presenter", default=True), "", [1, 0])
    assert toggle.value == ("bool_value", True) and toggle.sidebar
    slider = pr.widget_of(
        _element("slider", id="$$ID-3-gen_temp", min=0.0, max=2.0, step=0.05, default=[0.8])
    )
    assert slider.value == ("double_array_value", [0.8]) and slider.high == 2.0
    sel = _element("slider", id="$$ID-4-masks_k", options=["3", "5", "7"], default=[1])
    sel.slider.type = sel.slider.Type.SELECT_SLIDER
    assert pr.widget_of(sel).value == ("string_array_value", ["5"])
    number = _element("number_input", id="$$ID-5-gen_seed", default=7.0, has_min=True, min=0.0)
    number.number_input.data_type = number.number_input.DataType.INT
    got = pr.widget_of(number)
    assert got.value == ("double_value", 7.0) and got.integer and got.low == 0.0
    assert pr.widget_of(_element("markdown", body="hi")) is None
    assert pr.widget_of(_element("button", id="not-an-element-id")) is None


def _kind_of(state: WidgetState) -> str:
    return state.WhichOneof("value")


def test_every_widget_gets_its_own_wire_type():
    def w(kind, **kw):
        return pr.Widget(id=f"$$ID-9-{kind}", kind=kind, key=kind, **kw)

    assert _kind_of(pr.widget_state(w("selectbox"), "lstm")) == "string_value"
    assert _kind_of(pr.widget_state(w("checkbox"), False)) == "bool_value"
    assert _kind_of(pr.widget_state(w("number_input"), 3)) == "double_value"
    assert pr.widget_state(w("slider"), [0.5]).double_array_value.data == [0.5]
    picked = pr.widget_state(w("slider", options=("3", "5")), ["5"])
    assert list(picked.string_array_value.data) == ["5"]
    assert list(pr.widget_state(w("button_group"), ["code"]).string_array_value.data) == ["code"]
    assert pr.widget_state(w("button"), True).trigger_value is True
    report = {"report": {"need": {"windows": [2]}, "seq": 1}}
    assert json.loads(pr.widget_state(w("bidi_component"), report).json_value) == report
    with pytest.raises(ValueError, match="No wire value"):
        pr.widget_state(w("file_uploader"), b"")


def test_a_players_mount_is_read_and_its_windows_follow_the_browsers_prefetch():
    from autoreg.ui.player import mount_bytes

    arrays = {"w3:lstm": np.zeros((2, 2), np.float32), "u0:keep": np.zeros(3, np.float32)}
    payload = pack({"id": "t1", "n_steps": 202, "window": 64, "windows": 4, "units": 16}, arrays)
    options = {"key": "memory_player", "cursor": {"step": 201}, "url": {"step": "memory_target"},
               "defaults": {"step": 201}, "files": [{"kind": "png"}]}  # fmt: skip
    el = Element()
    el.bidi_component.id = "$$ID-7-memory_player"
    el.bidi_component.component_name = "autoreg_player_memory"
    el.bidi_component.bytes = mount_bytes(options, payload)
    p = pr.player_of(el.bidi_component)
    assert (p.key, p.view, p.id, p.n_steps, p.window, p.windows) == (
        "memory_player", "memory", "t1", 202, 64, 4,
    )  # fmt: skip
    assert p.files == ("png",) and p.units == 16 and p.has_units and p.has_unit(0)
    assert p.url == {"step": "memory_target"} and p.cursor == {"step": 201}
    # static/memory.js: its window, and the neighbour once within a third of one
    assert p.near(201) == [3, 2] and p.missing(201) == [2]
    assert p.near(150) == [2] and p.missing(150) == [2]
    assert p.near(10) == [0] and p.missing(10) == [0]
    assert p.near(70) == [1, 0] and p.near(60) == [0, 1]
    el.bidi_component.component_name = "autoreg_player_channel"
    assert pr.player_of(el.bidi_component) is None
    el.bidi_component.bytes = pack({"player": "memory_player", "answer": 2}, arrays)
    assert pr.channel_answer(el.bidi_component) == ("memory_player", 2, set(arrays))


# -- a session against a scripted server --------------------------------------------------


class FakeServer:
    """Answers each BackMsg with scripted ForwardMsgs, as the websocket would."""

    def __init__(self, answers):
        self.answers = answers  # BackMsg -> list[ForwardMsg]
        self.sent: list[BackMsg] = []
        self.queue: asyncio.Queue = asyncio.Queue()

    async def send(self, data: bytes) -> None:
        msg = _back(data)
        self.sent.append(msg)
        for fwd in self.answers(msg, len(self.sent)):
            await self.queue.put(fwd.SerializeToString())

    def __aiter__(self):
        return self

    async def __anext__(self):
        return await self.queue.get()

    async def close(self):
        pass


def _fwd(**kind) -> ForwardMsg:
    msg = ForwardMsg()
    for name, value in kind.items():
        if name == "script_finished":
            msg.script_finished = value
        elif name == "ref_hash":
            msg.ref_hash = value
        else:
            getattr(msg, name).CopyFrom(value)
    return msg


def _page_messages(n: int, big_hash: str | None) -> list[ForwardMsg]:
    from streamlit.proto.Navigation_pb2 import Navigation
    from streamlit.proto.NewSession_pb2 import NewSession

    ns = NewSession(page_script_hash="hStep", main_script_hash="hMain")
    ns.config.max_cached_message_age = 2
    ns.initialize.session_id = "sess-1"
    nav = Navigation(page_script_hash="hStep")
    nav.app_pages.add(page_script_hash="hHome", url_pathname="")
    nav.app_pages.add(page_script_hash="hStep", url_pathname="step")
    out = [_fwd(new_session=ns), _fwd(navigation=nav)]
    box = _fwd()
    box.delta.new_element.selectbox.CopyFrom(
        _element("selectbox", id="$$ID-1-step_model", options=["a", "b"], default=0,
                 query_param_key="step_model").selectbox
    )  # fmt: skip
    box.metadata.delta_path.extend([0, 1])
    out.append(box)
    go = _fwd()
    go.delta.new_element.button.id = "$$ID-2-go"
    go.metadata.delta_path.extend([0, 2])
    out.append(go)
    if n == 1:  # a big message: hashed and cacheable
        chart = _fwd()
        chart.delta.new_element.button.id = "$$ID-3-big"
        chart.hash, chart.metadata.cacheable = "H1", True
        chart.metadata.delta_path.extend([0, 3])
        out.append(chart)
    elif big_hash:  # the client listed it: a reference comes instead
        ref = _fwd(ref_hash=big_hash)
        ref.metadata.delta_path.extend([0, 3])
        out.append(ref)
    if n == 3:  # the button raised
        exc = _fwd()
        exc.delta.new_element.exception.type = "ValueError"
        exc.delta.new_element.exception.message = "boom"
        out.append(exc)
    out.append(_fwd(script_finished=ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY))
    return out


def test_a_session_sends_what_a_browser_sends_and_times_each_rerun():
    def answers(msg, n):
        cached = list(msg.rerun_script.cached_message_hashes)
        return _page_messages(n, cached[0] if cached else None)

    async def scenario():
        server = FakeServer(answers)
        s = pr.Session("http://127.0.0.1:9")

        async def connect():
            s.ws = server
            s.reader = asyncio.create_task(s._read())

        async def no_http(first):
            pass

        s.connect, s._load_html = connect, no_http
        opened = await s.open("step", "step_step=4")
        first = server.sent[0].rerun_script
        assert (first.page_name, first.page_script_hash, first.query_string) == (
            "step", "", "step_step=4",
        )  # fmt: skip
        assert opened.seconds is not None and opened.seconds >= 0 and not opened.errors
        assert s.page_hash == "hStep" and s.pages == {"": "hHome", "step": "hStep"}
        assert set(s.widget_keys()) == {"step_model", "go", "big"} and "H1" in s.cache

        changed = await s.set("step_model", "b", "model")
        cs = server.sent[1].rerun_script
        states = {w.id: w for w in cs.widget_states.widgets}
        assert cs.page_script_hash == "hStep" and cs.page_name == ""
        assert states["$$ID-1-step_model"].string_value == "b"
        assert "step_step=4" in cs.query_string and "step_model=b" in s.query
        assert list(cs.cached_message_hashes) == ["H1"]
        assert "big" in s.widget_keys()  # drawn from the cached message
        assert changed.action == "model" and not changed.errors and s.value("step_model") == "b"

        clicked = await s.click("go")
        states = {w.id: w for w in server.sent[2].rerun_script.widget_states.widgets}
        assert states["$$ID-2-go"].trigger_value is True
        assert states["$$ID-1-step_model"].string_value == "b"  # the user's value stays
        assert clicked.errors == ["click on step: exception: ValueError: boom"]
        await s.close()

    run_async(scenario())


def test_a_dropped_connection_and_a_silent_server_are_errors():
    async def scenario():
        server = FakeServer(lambda msg, n: [])  # never finishes
        s = pr.Session("http://127.0.0.1:9", timeout=0.3)
        s.ws = server
        s.reader = asyncio.create_task(s._read())
        run = await s._request(pr.rerun_message(page_name="step"), "open", "")
        assert run.status == "timeout" and "no script_finished" in run.errors[0]
        s.reader.cancel()

        class Closing(FakeServer):
            async def __anext__(self):
                raise ConnectionError("reset by peer")

        s2 = pr.Session("http://127.0.0.1:9")
        s2.ws = Closing(lambda m, n: [])
        s2._done = asyncio.get_running_loop().create_future()
        s2._run = pr.Run(action="step", page="memory")
        await s2._read()
        assert s2.closed and s2._run.status == "disconnected" and s2.close_reported
        assert "reset by peer" in s2._run.errors[0]

    run_async(scenario())


# -- the students -----------------------------------------------------------------------


def test_students_pick_other_values_of_the_right_type():
    import random

    rng = random.Random(0)

    def w(kind, **kw):
        return pr.Widget(id="$$ID-1-k", kind=kind, key="k", **kw)

    assert new_value(w("selectbox", options=("a", "b")), "a", rng) == "b"
    assert new_value(w("selectbox", options=("a",)), "a", rng) is None
    assert new_value(w("button_group", options=("x", "y")), ["x"], rng) == ["y"]
    assert new_value(w("checkbox"), True, rng) is False
    temp = new_value(w("slider", low=0.0, high=2.0, step=0.05), [0.8], rng)
    assert (
        len(temp) == 1 and 0 <= temp[0] <= 2 and abs(temp[0] / 0.05 - round(temp[0] / 0.05)) < 1e-6
    )
    lag = new_value(w("slider", low=1, high=60, step=1, integer=True), [20], rng)
    assert isinstance(lag[0], int)
    assert new_value(w("slider", options=("3", "5", "7")), ["5"], rng)[0] in ("3", "5", "7")
    seed = w("number_input", low=0.0, high=1e6, step=1, integer=True)
    assert new_value(seed, 0.0, rng) == 1.0  # a click on + (- would leave the range)
    assert {new_value(seed, 3.0, rng) for _ in range(20)} == {2.0, 4.0}  # + or -, a step
    assert new_value(w("number_input", low=0.0, high=0.0, step=1), 0.0, rng) is None
    assert isinstance(new_value(w("text_input"), "def ", rng), str)


def test_the_class_plan_names_registered_pages_only():
    from autoreg.registry import PAGES as REGISTERED

    names = {p.url_path for p in REGISTERED}
    assert set(PAGES) <= names and set(LINKS) <= set(PAGES) and set(INPUTS) <= set(PAGES)
    assert page_path("home") == "" and page_path("step") == "step"


# -- real servers -------------------------------------------------------------------------


def test_a_real_server_answers_the_client_and_its_exceptions_are_errors(tmp_path):
    from autoreg.bench.browser import serve

    app = tmp_path / "boom.py"
    app.write_text(
        textwrap.dedent(
            """
            import streamlit as st
            name = st.selectbox("Pick", ["a", "b"], key="pick")
            st.write(f"picked {name}")
            if st.button("Boom", key="boom"):
                raise ValueError("boom")
            """
        )
    )

    async def scenario(base):
        s = pr.Session(base, timeout=60)
        opened = await s.open("")
        assert opened.status == "FINISHED_SUCCESSFULLY" and not opened.errors
        assert {"pick", "boom"} <= set(s.widget_keys()) and opened.http_seconds > 0
        picked = await s.set("pick", "b")
        assert not picked.errors and s.value("pick") == "b"
        boom = await s.click("boom")
        assert any("ValueError: boom" in e for e in boom.errors)
        await s.close()

    with serve(app, log=tmp_path / "server.log") as server:
        run_async(scenario(server.url))


@pytest.mark.slow
def test_two_students_on_the_app_rerun_without_errors_and_are_timed_per_page_and_action(
    tmp_path,
):
    from autoreg.bench.browser import ROOT, serve
    from autoreg.bench.load import summarise
    from autoreg.bench.students import Settings, classroom

    with serve(ROOT / "app.py", log=tmp_path / "server.log") as app:
        settings = Settings(url=app.url, sessions=2, seconds=8, think=0.4, ramp=0.5,
                            pages=("step", "generate"))  # fmt: skip
        report = run_async(classroom(settings)).as_json()
    assert report["errors"] == []
    got = summarise(report)
    assert set(got["pages"]) == {"step", "generate"}
    assert got["page_actions"]["step"]["open"]["n"] == 1
    assert got["page_actions"]["generate"]["open"]["n"] == 1
    actions = {a for acts in got["page_actions"].values() for a in acts}
    assert actions - {"open"}, "the students did nothing after opening their page"
    assert got["rerun_p95_s"] is not None and got["rerun_p95_s"] > 0
