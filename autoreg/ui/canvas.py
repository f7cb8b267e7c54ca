"""A pixel drawing canvas at the model's resolution: an inline Streamlit component (v2).

About 60 lines of JavaScript, no npm build and no third-party package: a grid of
``size x size`` cells; drag with the mouse to paint (the pen) or to erase; when the
stroke ends the whole grid goes back to Python as a flat list of 0..1 values, row by
row. The component's state lives in ``st.session_state[key]`` (``{"pixels": [...]}``),
which is also how tests inject a drawing. The JS is a constant: no user data is ever
put into the HTML or the script, only into the JSON ``data`` it reads.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

_HTML = """
<div class="pc-wrap">
  <canvas class="pc-canvas" data-testid="pixel-canvas"></canvas>
  <div class="pc-tools">
    <label><input type="radio" name="pc-tool" value="pen" checked> pen</label>
    <label><input type="radio" name="pc-tool" value="eraser"> eraser</label>
    <button type="button" class="pc-clear">clear</button>
  </div>
</div>
"""

_CSS = """
.pc-wrap { display: flex; flex-direction: column; gap: 6px; font-family: sans-serif;
           max-width: 100%; overflow: hidden; }
.pc-canvas { touch-action: none; cursor: crosshair; border: 1px solid #adb5bd;
             image-rendering: pixelated; max-width: 100%; height: auto;
             box-sizing: border-box; display: block; }
.pc-tools { display: flex; gap: 14px; align-items: center; font-size: 14px; }
.pc-tools button { padding: 2px 10px; }
"""

_JS = """
export default function (component) {
  const { data, setStateValue, parentElement } = component;
  const size = data.size, cell = data.cell;
  const canvas = parentElement.querySelector('.pc-canvas');
  const ctx = canvas.getContext('2d');
  let grid = (data.pixels && data.pixels.length === size * size)
    ? Float32Array.from(data.pixels) : new Float32Array(size * size);
  canvas.width = size * cell; canvas.height = size * cell;
  const draw = () => {
    for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) {
      const v = Math.round(255 * (1 - grid[r * size + c]));
      ctx.fillStyle = `rgb(${v},${v},${v})`;
      ctx.fillRect(c * cell, r * cell, cell, cell);
    }
    ctx.strokeStyle = 'rgba(0,0,0,0.08)';
    for (let i = 0; i <= size; i++) {
      ctx.beginPath(); ctx.moveTo(i * cell, 0); ctx.lineTo(i * cell, size * cell); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(0, i * cell); ctx.lineTo(size * cell, i * cell); ctx.stroke();
    }
  };
  const tool = () => parentElement.querySelector('input[name=pc-tool]:checked').value;
  let down = false;
  const paint = (e) => {
    const rect = canvas.getBoundingClientRect();
    const c = Math.floor((e.clientX - rect.left) / rect.width * size);
    const r = Math.floor((e.clientY - rect.top) / rect.height * size);
    if (r < 0 || c < 0 || r >= size || c >= size) return;
    grid[r * size + c] = tool() === 'pen' ? 1 : 0;
    draw();
  };
  const send = () => setStateValue('pixels', Array.from(grid));
  canvas.onpointerdown = (e) => { down = true; canvas.setPointerCapture(e.pointerId); paint(e); };
  canvas.onpointermove = (e) => { if (down) paint(e); };
  canvas.onpointerup = () => { if (down) { down = false; send(); } };
  canvas.onpointercancel = canvas.onpointerup;
  parentElement.querySelector('.pc-clear').onclick = () => { grid.fill(0); draw(); send(); };
  draw();
}
"""

_component = st.components.v2.component("autoreg_pixel_canvas", html=_HTML, css=_CSS, js=_JS)


def drawing(key: str) -> np.ndarray | None:
    """The current drawing ``[size*size]`` in session state (None before any stroke)."""
    value = st.session_state.get(key)
    pixels = value.get("pixels") if hasattr(value, "get") else None
    return None if pixels is None else np.asarray(pixels, dtype=np.float32)


def pixel_canvas(size: int, key: str, width_px: int = 320) -> np.ndarray | None:
    """Draw the canvas; return the drawing ``[size, size]`` in [0, 1], or None if empty.

    A drawing of another size (the model changed) is ignored and the canvas starts blank.
    """
    current = drawing(key)
    if current is not None and current.size != size * size:
        current = None
    cell = max(6, width_px // size)
    _component(
        key=key,
        data={"size": size, "cell": cell, "pixels": None if current is None else current.tolist()},
        default={"pixels": None},
        on_pixels_change=lambda: None,
    )
    if current is None or not current.any():
        return None
    return np.clip(current.reshape(size, size), 0.0, 1.0)
