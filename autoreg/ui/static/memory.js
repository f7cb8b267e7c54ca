// Memory: how far back can a prediction still be moved? One predicted position per step.
//
// Reads an influence payload (autoreg/seq/influence_payload.py): for each window of
// targets and each cell, the norms ‖∂ log p(x_T) / ∂ e_t‖ of every earlier input. At
// step T the view divides them by the newest input's norm, exactly as
// autoreg.seq.memory.relative_influence does (float64, the same floor), and draws the
// curves against steps back (log scale), the last characters coloured by influence,
// and the caption. Missing windows are asked for (api.need) and drawn when they come.

registerView(
  "memory",
  (() => {
    const { el, svg } = LIB;
    const STRIP_FLOOR = -8; // log10 influence at which the strips' colour scale stops
    const SUP = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
    const power = (k) => (k === 0 ? "1" : `10${String(k).split("").map((c) => SUP[c]).join("")}`);

    // Python's format(x, ".{d}e"): the binary value rounded exactly (halves to even).
    const F64 = new DataView(new ArrayBuffer(8));
    function fmtExp(x, d) {
      if (Number.isNaN(x)) return "nan";
      if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
      const neg = x < 0 || Object.is(x, -0);
      const a = Math.abs(x);
      if (a === 0) return `${neg ? "-" : ""}${(0).toFixed(d)}e+00`;
      F64.setFloat64(0, a);
      const hi = F64.getUint32(0);
      const lo = F64.getUint32(4);
      let e = (hi >>> 20) & 0x7ff;
      let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
      if (e === 0) e = 1;
      else m |= 1n << 52n;
      e -= 1075;
      let num = m;
      let den = 1n;
      if (e >= 0) num <<= BigInt(e);
      else den <<= BigInt(-e);
      let k = Math.floor(Math.log10(a));
      const top = 10n ** BigInt(d + 1);
      for (let guard = 0; guard < 4; guard++) {
        let n = num;
        let dd = den;
        const p = k - d;
        if (p >= 0) dd *= 10n ** BigInt(p);
        else n *= 10n ** BigInt(-p);
        let q = n / dd;
        const r2 = 2n * (n % dd);
        if (r2 > dd || (r2 === dd && q % 2n === 1n)) q += 1n;
        if (q >= top) {
          k += 1;
          continue;
        }
        if (q < top / 10n) {
          k -= 1;
          continue;
        }
        const s = q.toString();
        const mant = d > 0 ? `${s[0]}.${s.slice(1)}` : s;
        const ex = `${k < 0 ? "-" : "+"}${String(Math.abs(k)).padStart(2, "0")}`;
        return `${neg ? "-" : ""}${mant}e${ex}`;
      }
      return a.toExponential(d);
    }
    globalThis.autoregMemoryFmtExp = fmtExp; // for tests: the same function the view prints with

    function card(title, testid, body, extra) {
      return el("div", { class: "mem-card", "data-testid": testid }, [el("div", { class: "mem-card-title" }, [title]), extra || null, body]);
    }

    // relative influence of inputs 0..T-1 for one cell, or null while its window is missing
    function influence(S, cell, T) {
      const P = S.P;
      const W = P.meta.window;
      const k = Math.floor(T / W);
      const name = `w${k}:${cell}`;
      if (!P.has(name)) return null;
      const hi = P.specs[name].shape[1];
      const row = (T - k * W) * hi;
      const a = P.arrays[name];
      const floor = P.meta.floor;
      const out = new Float64Array(T);
      const last = Math.max(a[row + T - 1], floor);
      for (let t = 0; t < T; t++) out[t] = Math.max(a[row + t], floor) / last;
      return out;
    }

    // ---- the curves --------------------------------------------------------------------------
    const LV = { w: 900, h: 330, l: 66, r: 14, t: 12, b: 46 };
    function buildLines(S) {
      const root = svg("svg", { viewBox: `0 0 ${LV.w} ${LV.h}`, class: "mem-chart", "data-testid": "mem-lines" });
      const axes = svg("g");
      const paths = S.P.meta.cells.map((cell) => svg("path", { class: "mem-line", style: `stroke:${S.colour(cell)}` }));
      const dot = svg("line", { class: "mem-hover-line" });
      root.append(axes, ...paths, dot);
      root.append(svg("text", { x: LV.l + (LV.w - LV.l - LV.r) / 2, y: LV.h - 4, class: "mem-axis", "text-anchor": "middle", text: "steps back from the predicted character" }));
      root.append(svg("text", { x: 14, y: LV.t + (LV.h - LV.t - LV.b) / 2, class: "mem-axis", "text-anchor": "middle", transform: `rotate(-90 14 ${LV.t + (LV.h - LV.t - LV.b) / 2})`, text: "‖∂ log p / ∂ embedding‖ (newest input = 1)" }));
      root.addEventListener("mousemove", (e) => {
        const L = S.lines;
        if (!L || !L.T) return S.api.tip.hide();
        const r = root.getBoundingClientRect();
        const mx = ((e.clientX - r.left) / r.width) * LV.w;
        const back = Math.round(L.backAt(mx));
        if (back < 1 || back > L.T) return S.api.tip.hide();
        const t = L.T - back;
        const lines = S.P.meta.cells.map((c, i) => `${c.toUpperCase()}: ${L.values[i] ? fmtExp(L.values[i][t], 3) : "…"}`);
        S.api.tip.show(e, `${back} steps back: ${S.P.meta.quoted[t]}\n${lines.join("\n")}`);
        dot.setAttribute("x1", L.x(back).toFixed(1));
        dot.setAttribute("x2", L.x(back).toFixed(1));
        dot.setAttribute("y1", LV.t);
        dot.setAttribute("y2", LV.h - LV.b);
        dot.style.display = "";
      });
      root.addEventListener("mouseleave", () => {
        S.api.tip.hide();
        dot.style.display = "none";
      });
      const legend = el("div", { class: "mem-legend", "data-testid": "mem-legend" }, S.P.meta.cells.map((c, i) => el("span", { class: "mem-key" }, [el("span", { class: "mem-swatch", style: `background:${S.colour(c)}` }), `${c.toUpperCase()} · ${S.P.meta.models[i]}`])));
      S.lines = { root, axes, paths, T: 0 };
      return card("Influence of every earlier input on this prediction", "mem-lines-card", root, legend);
    }
    function drawLines(S, T, values) {
      const L = S.lines;
      const pw = LV.w - LV.l - LV.r;
      const ph = LV.h - LV.t - LV.b;
      let ymin = 0;
      let ymax = 0;
      for (const v of values) if (v) for (let t = 0; t < T; t++) {
        const y = Math.log10(v[t]);
        if (y < ymin) ymin = y;
        if (y > ymax) ymax = y;
      }
      ymin = Math.max(-12, Math.floor(ymin));
      ymax = Math.max(0, Math.ceil(ymax));
      if (ymax - ymin < 2) ymin = ymax - 2;
      const backMax = Math.max(2, T);
      const x = (back) => LV.l + pw * (1 - (back - 1) / (backMax - 1)); // reversed: newest right
      const y = (v) => LV.t + ph - ((Math.log10(v) - ymin) / (ymax - ymin)) * ph;
      L.T = T;
      L.x = x;
      L.backAt = (mx) => 1 + (1 - (mx - LV.l) / pw) * (backMax - 1);
      L.values = values;
      const ax = [];
      const every = ymax - ymin > 8 ? 2 : 1;
      for (let k = ymin; k <= ymax; k += every) {
        ax.push(svg("line", { x1: LV.l, x2: LV.w - LV.r, y1: y(10 ** k), y2: y(10 ** k), class: "mem-grid" }));
        ax.push(svg("text", { x: LV.l - 8, y: y(10 ** k) + 5, class: "mem-tick", "text-anchor": "end", text: power(k) }));
      }
      const raw = backMax / 8;
      const p = 10 ** Math.floor(Math.log10(raw));
      const stepB = [1, 2, 5, 10].map((f) => f * p).find((s) => s >= raw) || 10 * p;
      for (let b = stepB; b <= backMax; b += stepB) ax.push(svg("text", { x: x(b), y: LV.h - LV.b + 20, class: "mem-tick", "text-anchor": "middle", text: String(b) }));
      ax.push(svg("text", { x: x(1), y: LV.h - LV.b + 20, class: "mem-tick", "text-anchor": "middle", text: "1" }));
      L.axes.replaceChildren(...ax);
      values.forEach((v, i) => {
        if (!v) return L.paths[i].setAttribute("d", "");
        let d = "";
        for (let t = 0; t < T; t++) d += `${t ? "L" : "M"}${x(T - t).toFixed(1)},${y(v[t]).toFixed(1)}`;
        L.paths[i].setAttribute("d", d);
      });
    }

    // ---- the text, coloured by influence -----------------------------------------------------
    function buildStrips(S) {
      const cells = S.P.meta.cells;
      const width = S.options.strip || 60;
      const grid = el("div", { class: "mem-strips", "data-testid": "mem-strips" });
      grid.style.gridTemplateColumns = `max-content repeat(${width}, minmax(0, 1fr))`;
      S.strip = { width, rows: [] };
      cells.forEach((cell) => {
        grid.append(el("div", { class: "mem-strip-name", text: cell.toUpperCase() }));
        const boxes = [];
        for (let j = 0; j < width; j++) {
          const b = el("span", { class: "mem-char" });
          grid.append(b);
          boxes.push(b);
        }
        S.strip.rows.push(boxes);
      });
      grid.addEventListener("mousemove", (e) => {
        const b = e.target.closest && e.target.closest(".mem-char");
        if (!b || !b.__label) return S.api.tip.hide();
        S.api.tip.show(e, b.__v == null ? `${b.__label} (computing…)` : `${b.__label}\ninfluence ${fmtExp(b.__v, 3)}`);
      });
      grid.addEventListener("mouseleave", () => S.api.tip.hide());
      const c = S.api.colours;
      const stops = [];
      for (let i = 0; i <= 10; i++) stops.push(`${c.seqCss(i / 10)} ${i * 10}%`);
      const bar = el("div", { class: "mem-colorbar" }, [
        el("span", { text: "log₁₀ influence" }),
        el("span", { text: power(STRIP_FLOOR) + " or less" }),
        el("span", { class: "mem-colorbar-bar", style: `background: linear-gradient(90deg, ${stops.join(",")})` }),
        el("span", { text: "1" }),
      ]);
      S.stripTitle = el("span");
      return card(S.stripTitle, "mem-strips-card", grid, bar);
    }
    function drawStrips(S, T, values) {
      const { width, rows } = S.strip;
      const m = S.P.meta;
      const lo = Math.max(0, T - width);
      const c = S.api.colours;
      S.stripTitle.textContent = `The last ${Math.min(width, T)} characters before the prediction, coloured by their influence`;
      rows.forEach((boxes, i) => {
        const v = values[i];
        const cell = m.cells[i].toUpperCase();
        for (let j = 0; j < width; j++) {
          const t = lo + j;
          const b = boxes[j];
          if (t >= T) {
            if (!b.hidden) b.hidden = true;
            continue;
          }
          if (b.hidden) b.hidden = false;
          if (b.__t !== t) {
            b.textContent = m.shown[t];
            b.__t = t;
          }
          b.__v = v ? v[t] : null; // the tooltip is formatted on hover, not on every frame
          b.__label = `${cell}: ${m.quoted[t]}, ${T - t} steps back`;
          const css = v ? c.seqCss((Math.max(STRIP_FLOOR, Math.min(0, Math.log10(v[t]))) - STRIP_FLOOR) / -STRIP_FLOOR) : "#e9ecef";
          if (b.__css !== css) {
            b.__css = css;
            b.style.background = css;
            b.style.color = v ? c.ink(css) : "#495057";
          }
        }
      });
    }

    // ---- mount and render -----------------------------------------------------------------------
    function mount(root, P, options, api) {
      const S = { P, api, options, present: !!options.presenter };
      S.colour = (cell) => (options.cell_colours || {})[cell] || "#868e96";
      root.__mem = S;
      root.classList.add("mem");
      root.classList.toggle("mem-present", S.present);
      S.head = el("div", { class: "mem-head", "data-testid": "mem-head" });
      S.caption = el("div", { class: "mem-caption", "data-testid": "mem-caption" });
      S.wait = el("div", { class: "mem-wait", text: "Back-propagating through the models for these positions…" });
      root.append(S.head, S.wait, buildLines(S), buildStrips(S), S.caption);
    }
    function render(root, P, t, options) {
      const S = root.__mem;
      S.P = P;
      const m = P.meta;
      const T = t;
      if (T < 1) {
        S.head.textContent = `${m.quoted[0]} is the first character: there is no input before it to move its prediction. Step to 1 or later.`;
        S.wait.hidden = true;
        drawLines(S, 0, m.cells.map(() => null));
        drawStrips(S, 0, []);
        S.caption.replaceChildren();
        return;
      }
      S.head.textContent = `Predicting ${m.quoted[T]} at position ${T} from the ${T} characters before it.`;
      const values = m.cells.map((c) => influence(S, c, T));
      const missing = values.some((v) => !v);
      S.wait.hidden = !missing;
      const W = m.window;
      const k = Math.floor(T / W);
      const near = [k];
      if (T - k * W > (2 * W) / 3 && k + 1 < m.windows) near.push(k + 1);
      if (T - k * W < W / 3 && k > 0) near.push(k - 1);
      const need = near.filter((w) => !P.has(`w${w}:${m.cells[0]}`));
      clearTimeout(S.retry);
      if (need.length && !S.api.standalone()) {
        S.api.need({ windows: need });
        S.retry = setTimeout(() => S.api.need({ windows: need }), 4500); // an answer got lost
      }
      drawLines(S, T, values);
      drawStrips(S, T, values);
      if (missing) {
        S.caption.replaceChildren();
        return;
      }
      const back = Math.min(50, T);
      const parts = m.cells.map((c, i) => `${c.toUpperCase()} ${fmtExp(values[i][T - back], 1)}`);
      const floors = m.cells
        .map((c, i) => [c, values[i].reduce((n, v) => n + (v <= 1e-12 ? 1 : 0), 0)])
        .filter(([, n]) => n)
        .map(([c, n]) => `${c.toUpperCase()} ${n} of ${T}`);
      const nodes = ["Influence of the input ", el("b", { text: `${back} steps back` }), `: ${parts.join(", ")}`];
      if (floors.length) nodes.push(`. At or below 10⁻¹² (float32 gradients underflow to exactly 0 there; drawn at 10⁻¹²): ${floors.join(", ")}`);
      nodes.push(".");
      S.caption.replaceChildren(...nodes);
    }
    return {
      label: "Predicted character T (position in the text)",
      stepName: (P, t) => `predicts ${P.meta.quoted[t]}`,
      mount,
      render,
    };
  })()
);
