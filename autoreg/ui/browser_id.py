"""Which browser is this: the owner id of its kept models, held in a cookie.

Models trained or opened in a browser are kept on the server (``autoreg.store``) under an
owner id, and the browser must present that id again on its next page load. Two places
could hold it; this module uses a cookie, for three reasons:

* **Links are for sharing.** A teacher copies the address bar to a whole class. A token in
  the URL would travel with every shared link and hand the models (and the running job)
  to everyone who opens it; a cookie stays in the browser that got it.
* **Any link finds them.** A cookie goes with every page of the app, so a bookmark, a
  shared link or a fresh tab in the same browser finds the models; a URL token would be
  lost by any link made without it, and every page would have to carry it.
* **Streamlit 1.67 can do it without internals.** ``st.context.cookies`` reads the
  cookies of the page's WebSocket request but cannot set one, and no response header is
  ours to add. A Components v2 component's script runs in the page itself (no iframe),
  so it can write ``document.cookie``: the id is drawn on the server on the first visit,
  written by the component below, and read back by every later page load.

The component's script is a constant; the id reaches it as JSON ``data`` only, and the
server accepts a cookie value only if it has the shape of an id (``valid_owner_id``).
The cookie lasts as long as an unused kept model does (``MAX_AGE_SECONDS``), renewed on
every visit, and is ``SameSite=Lax`` (``Secure`` over https). A browser that refuses
cookies still works: its models last until the tab is closed.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from autoreg.store import MAX_AGE_SECONDS, new_owner_id, valid_owner_id

COOKIE = "autoreg_browser"
ID_KEY = "_browser_id"  # session_state: this session's owner id
COMPONENT_KEY = "autoreg_browser_cookie"

_JS = """
export default function (component) {
  const { name, value, maxAge, path, rerunOnReconnect } = component.data;
  const secure = window.location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = `${name}=${value}; Max-Age=${maxAge}; Path=${path}; SameSite=Lax${secure}`;
  if (!rerunOnReconnect) return;
  // After the connection comes back, run the page again. Streamlit reruns an idle page
  // only if it has a fragment on a timer; behind a proxy the page may now reach another
  // replica, whose new session has drawn nothing: this run rebuilds it from the URL and
  // the widgets' values, before the page's next click needs it (a download, say).
  const watch = (window.__autoregReconnect = window.__autoregReconnect || {});
  watch.trigger = component.setTriggerValue;
  const app = document.querySelector('[data-testid=stApp]');
  if (watch.observer || !app) return;
  let lost = false;
  watch.observer = new MutationObserver(() => {
    if (app.getAttribute('data-test-connection-state') !== 'CONNECTED') lost = true;
    else if (lost) {
      lost = false;
      watch.trigger('reconnected', Date.now());
    }
  });
  const filter = ['data-test-connection-state'];
  watch.observer.observe(app, { attributes: true, attributeFilter: filter });
}
"""
# The component draws nothing; its element container is hidden so it takes no room.
_HIDE = "<style>.st-key-{key} {{ display: none; }}</style>"

_component = st.components.v2.component("autoreg_browser_cookie", html="", js=_JS)


def cookie_id() -> str | None:
    """The owner id this browser sent in its cookie, if it is well formed."""
    value = st.context.cookies.get(COOKIE)
    return value if valid_owner_id(value) else None


def browser_id() -> str:
    """This browser's owner id: from its cookie, else drawn now (and written by
    ``remember_browser``)."""
    owner = st.session_state.get(ID_KEY)
    if not valid_owner_id(owner):
        owner = cookie_id() or new_owner_id()
        st.session_state[ID_KEY] = owner
    return owner


def remember_browser() -> None:
    """Write this browser's id into its cookie (called by app.py on every run).

    This writer also reruns the page when its connection comes back (see ``_JS``).
    """
    write_cookie(COOKIE, browser_id(), int(MAX_AGE_SECONDS), key=COMPONENT_KEY, rerun=True)


def write_cookie(name: str, value: str, max_age: int, key: str, rerun: bool = False) -> None:
    """Have the page write a cookie of the app's path (``max_age`` 0 deletes it).

    ``value`` must be cookie-safe (letters, digits, ``-_.``); ``key`` names this writer,
    one per cookie, and hides its empty element. ``rerun``: the one writer that reruns
    the page after a reconnection.
    """
    base = st.get_option("server.baseUrlPath").strip("/")
    data = {"name": name, "value": value, "maxAge": max_age, "path": "/" + base}
    st.html(_HIDE.format(key=key))
    if rerun:
        _component(key=key, data={**data, "rerunOnReconnect": True}, on_reconnected_change=_rerun)
    else:
        _component(key=key, data=data)


def _rerun() -> None:
    """The reconnected page's trigger: nothing to do, the run it causes is the point."""


def connected_watch() -> Callable[[], bool] | None:
    """A check that this browser session is still connected, for background work.

    Work that outlives a script run (a pixel generation filling in from its own thread)
    takes this to stop when the tab that asked for it is gone. ``None`` where there is no
    server runtime to ask (AppTest): such work simply runs to its end.
    """
    from streamlit.runtime import Runtime, exists
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not exists():
        return None
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id)
