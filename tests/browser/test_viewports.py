"""Every page at the sizes classrooms have, normal and presenter: nothing cut, nothing covered.

For each page, at 1024x768, 1280x720 and 1920x1080, in normal and in presenter mode:

- no visible element shows an ellipsis (``text-overflow: ellipsis`` with its text wider
  than its box), and no button's label is wider than the button;
- no control (button, input, select, slider, radio, switch, tab, link, drawing canvas) is
  covered at its centre by another element (``elementFromPoint``, through shadow roots),
  checked screen by screen down the whole page;
- in presenter mode: the sidebar is collapsed, the URL keeps ``presenter=true``, metric
  values are at least 1.6x their labels, chart text is at least 18 px, and at 1280x720
  and 1024x768 the page's main visual starts on the first screen.

Screenshots (look at them): tests/artifacts/viewports/<page>-<width>x<height>-<mode>.png
"""

from __future__ import annotations

import pytest

from autoreg.registry import PAGES
from tests.browser.conftest import assert_clean, open_app, wait_idle

pytestmark = pytest.mark.browser

VIEWPORTS = ((1024, 768), (1280, 720), (1920, 1080))
PROJECTOR = {(1024, 768), (1280, 720)}  # where the main visual must be on the first screen
PLAYER = "[data-testid=autoreg-player]"
# Each page's main visual: what a class should see without scrolling.
MAIN_VISUAL = {
    "home": ".katex-display",  # the chain rule
    "step": PLAYER,
    "units": ".unit-text",  # the text coloured by one unit
    "generate": f"{PLAYER}, [data-testid=stPlotlyChart]",
    "memory": f"{PLAYER}, [data-testid=stPlotlyChart]",
    "masks": "[data-testid=stPlotlyChart]",
    "pixels": "[data-testid=pix-image]",  # the image being drawn (after Generate)
    "train": ".st-key-train_family, [data-testid=stPlotlyChart]",  # the settings, the run
}

# Elements (deep, through shadow roots) -> what is cut or covered on the current screen.
LAYOUT_JS = """
([headerPx]) => {
  const all = [];
  const walk = (root) => {
    for (const e of root.querySelectorAll('*')) {
      all.push(e);
      if (e.shadowRoot) walk(e.shadowRoot);
    }
  };
  walk(document);
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    if (r.width < 4 || r.height < 4) return false;
    const s = getComputedStyle(e);
    return s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity) > 0.05;
  };
  const name = (e) => ((e.innerText || e.getAttribute('aria-label') || e.getAttribute('title')
    || e.tagName) + '').trim().replace(/\\s+/g, ' ').slice(0, 60);
  const cls = (e) => e.tagName.toLowerCase() + '.' + String(
    (e.className && e.className.baseVal !== undefined) ? e.className.baseVal : e.className
  ).split(' ')[0] + (e.dataset && e.dataset.testid ? '[' + e.dataset.testid + ']' : '');
  const vw = innerWidth, vh = innerHeight;
  const onScreen = (r) => r.bottom > headerPx && r.top < vh && r.right > 0 && r.left < vw;
  const cut = [];
  for (const e of all) {
    const r = e.getBoundingClientRect();
    if (!onScreen(r) || !shown(e)) continue;
    const s = getComputedStyle(e);
    if (s.textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1) cut.push(name(e));
    else if (e.tagName === 'BUTTON' && e.scrollWidth > e.clientWidth + 1
             && s.overflow !== 'visible') cut.push(name(e));
  }
  const CONTROL = 'button, input:not([type=hidden]), select, textarea, a[href], [role=slider],'
    + ' [role=radio], [role=checkbox], [role=switch], [role=tab], canvas.pc-canvas';
  const pinned = (e) => {
    for (let n = e; n && n.nodeType === 1; n = n.parentElement || (n.getRootNode() || {}).host) {
      const p = getComputedStyle(n).position;
      if (p === 'sticky' || p === 'fixed') return true;
    }
    return false;
  };
  // hidden inside a folded expander or a scrolled box: an ancestor clips its centre away
  const clipped = (e, x, y) => {
    for (let n = e.parentElement; n; n = n.parentElement) {
      const o = getComputedStyle(n).overflow;
      if (o === 'visible') continue;
      const r = n.getBoundingClientRect();
      if (x < r.left || x > r.right || y < r.top || y > r.bottom) return true;
    }
    return false;
  };
  const covered = [];
  for (const e of all) {
    if (!e.matches || !e.matches(CONTROL) || !shown(e)) continue;
    if (e.closest('[data-testid=stElementToolbar]')) continue;  // shown on hover, above
    const r = e.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x < 0 || x >= vw || y < headerPx || y >= vh) continue;  // checked on another screen
    if (clipped(e, x, y)) continue;
    let hit = document.elementFromPoint(x, y);
    while (hit && hit.shadowRoot) {
      const inner = hit.shadowRoot.elementFromPoint(x, y);
      if (!inner || inner === hit) break;
      hit = inner;
    }
    if (!hit || hit === e || e.contains(hit) || hit.contains(e)) continue;
    const lab = hit.closest && hit.closest('label');
    if (lab && (lab.contains(e) || lab.htmlFor === e.id)) continue;  // a radio's own label
    if (e.labels && [...e.labels].some((l) => l.contains(hit))) continue;
    if (pinned(hit) && !pinned(e)) continue;  // scrolled under a sticky bar: not a cover
    covered.push([name(e), cls(hit)]);
  }
  return { cut, covered };
}
"""

PRESENTER_JS = """
() => {
  const all = [];
  const walk = (root) => {
    for (const e of root.querySelectorAll('*')) {
      all.push(e);
      if (e.shadowRoot) walk(e.shadowRoot);
    }
  };
  walk(document);
  const px = (e) => parseFloat(getComputedStyle(e).fontSize);
  const shown = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const metrics = [];
  for (const m of document.querySelectorAll('[data-testid=stMetric]')) {
    const v = m.querySelector('[data-testid=stMetricValue]');
    const l = m.querySelector('[data-testid=stMetricLabel]');
    if (v && l && shown(v)) metrics.push([l.innerText.trim(), px(v) / px(l)]);
  }
  for (const v of all.filter((e) => /-metric-value$/.test(String(e.className)) && shown(e))) {
    const l = v.parentElement && [...v.parentElement.children].find(
      (c) => /-metric-label$/.test(String(c.className)));
    if (l) metrics.push([l.textContent.trim(), px(v) / px(l)]);
  }
  const small = [];
  for (const t of all.filter((e) => e.tagName === 'text' && shown(e) && e.textContent.trim())) {
    const m = t.getScreenCTM();
    const size = px(t) * (m ? Math.sqrt(Math.abs(m.a * m.d - m.b * m.c)) : 1);
    if (size < 17.5) small.push([t.textContent.trim().slice(0, 30), Math.round(size * 10) / 10]);
  }
  const side = document.querySelector('[data-testid=stSidebar]');
  return {
    metrics,
    small,
    sidebar: side && side.getBoundingClientRect().right > 1 ? 'open' : 'folded',
    reopen: !!document.querySelector('[data-testid=stExpandSidebarButton], '
      + '[data-testid=stSidebarCollapsedControl]'),
    url: location.search,
  };
}
"""


def _header_px(page) -> float:
    return page.evaluate(
        "(() => { const h = document.querySelector('[data-testid=stHeader]');"
        " return h ? h.getBoundingClientRect().bottom : 0; })()"
    )


def _screens(page):
    """Scroll Streamlit's main container screen by screen; yield after each scroll."""
    height = page.evaluate(
        "document.querySelector('[data-testid=stMain]').scrollHeight"
    )  # fmt: skip
    view = page.viewport_size["height"]
    top = 0
    while True:
        page.evaluate(f"document.querySelector('[data-testid=stMain]').scrollTo(0, {top})")
        page.wait_for_timeout(150)
        yield top
        top += int(view * 0.8)
        if top >= height - 40 or top > 12 * view:
            break
    page.evaluate("document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")


def layout_problems(page) -> dict[str, list]:
    """What is cut or covered anywhere down the page, screen by screen."""
    header = _header_px(page)
    cut, covered = set(), set()
    for _ in _screens(page):
        found = page.evaluate(LAYOUT_JS, [header])
        cut.update(found["cut"])
        covered.update(tuple(c) for c in found["covered"])
    return {"cut": sorted(cut), "covered": sorted(covered)}


def main_visual_top(page, url_path: str) -> float | None:
    """The top of the page's main visual, in viewport pixels (None: not found)."""
    return page.evaluate(
        """(sel) => {
          const found = [];
          const walk = (root) => {
            found.push(...root.querySelectorAll(sel));
            for (const e of root.querySelectorAll('*')) if (e.shadowRoot) walk(e.shadowRoot);
          };
          walk(document);
          const tops = found
            .map((e) => e.getBoundingClientRect())
            .filter((r) => r.width > 0 && r.height > 0).map((r) => r.top);
          return tops.length ? Math.min(...tops) : null; }""",
        MAIN_VISUAL[url_path],
    )


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_every_page_fits_classroom_screens(app_server, page, artifacts_dir, spec):
    out = artifacts_dir / "viewports"
    out.mkdir(exist_ok=True)
    failures = []
    for width, height in VIEWPORTS:
        for presenter in (False, True):
            mode = "presenter" if presenter else "normal"
            where = f"{spec.url_path} {width}x{height} {mode}"
            page.set_viewport_size({"width": width, "height": height})
            open_app(page, app_server, spec.url_path, "presenter=true" if presenter else "")
            if spec.url_path == "pixels":  # the page's visual is a generation: make one
                page.get_by_role("button", name="Generate").click()
                page.locator(f"{PLAYER}[data-playing=false]").wait_for(timeout=60_000)
            wait_idle(page)
            page.screenshot(path=str(out / f"{spec.url_path}-{width}x{height}-{mode}.png"))
            problems = layout_problems(page)
            if problems["cut"]:
                failures.append(f"{where}: cut off {problems['cut']}")
            if problems["covered"]:
                failures.append(f"{where}: covered {problems['covered']}")
            if presenter:
                seen = page.evaluate(PRESENTER_JS)
                if "presenter=true" not in seen["url"]:
                    failures.append(f"{where}: presenter mode left the URL ({seen['url']})")
                if seen["sidebar"] != "folded" or not seen["reopen"]:
                    failures.append(f"{where}: the sidebar is {seen['sidebar']}, reopen "
                                    f"control {seen['reopen']}")  # fmt: skip
                low = [(label, round(r, 2)) for label, r in seen["metrics"] if r < 1.6]
                if low:
                    failures.append(f"{where}: metric values under 1.6x their labels {low}")
                if seen["small"]:
                    failures.append(f"{where}: chart text under 18 px {seen['small'][:8]}")
                if (width, height) in PROJECTOR:
                    top = main_visual_top(page, spec.url_path)
                    if top is None or top > height - 120:
                        failures.append(f"{where}: the main visual starts at {top} px")
            assert_clean(page)
    assert not failures, "\n".join(failures)
