// Step through: every per-step view of one layer of a trace, drawn in the browser.
//
// Reads a step payload (autoreg/seq/payload.py: step_payload). Per-unit states come in
// windows "w<k>:<quantity>" of meta.window steps; the cell diagram's extra numbers per
// unit as "u<unit>:<name>". Missing pieces are asked for (api.need) and drawn when they
// arrive. Every printed number is P.str(...): the payload's own value, exactly rounded.

registerView(
  "step",
  (() => {
    const D = 4; // decimals of every state value (payload.DECIMALS)
    const HEAT = 120; // steps shown around the cursor in the over-time heatmap
    const TOKEN = { "\n": "⏎", "\t": "⇥", " ": "␣" };
    const tokenLabel = (s) => TOKEN[s] || s;
    const GATES = new Set(["f", "i", "o", "r", "z"]);

    // ---- reading the payload -----------------------------------------------------------
    function reader(P) {
      const m = P.meta;
      const H = m.units;
      const W = m.window;
      const key = (name, t) => `w${Math.floor(t / W)}:${name}`;
      const index = (t, u) => (t - Math.floor(t / W) * W) * H + u;
      const has = (t) => P.has(key("hidden", t));
      return {
        H,
        W,
        has,
        win: (t) => Math.floor(t / W),
        value(name, t, u) {
          return P.num(key(name, t), index(t, u));
        },
        text(name, t, u, plus = false) {
          return P.str(key(name, t), index(t, u), D, plus);
        },
        // h_{t-1} or c_{t-1} of the unit: the previous row, or the state before the window
        prev(name, t, u, plus = false) {
          if (t % W === 0) {
            const k = `w${Math.floor(t / W)}:prev_${name}`;
            return { v: P.num(k, u), s: P.str(k, u, D, plus) };
          }
          return { v: this.value(name, t - 1, u), s: this.text(name, t - 1, u, plus) };
        },
        // step t of a quantity, for loops over every unit: (array, offset, 1/scale) or null
        column(name, t) {
          const k = key(name, t);
          const a = P.arrays[k];
          if (!a) return null;
          const sc = P.scale(k);
          return [a, (t - Math.floor(t / W) * W) * H, sc ? 1 / sc : 1];
        },
        detail(u, name, t, plus = false) {
          const k = `u${u}:${name}`;
          if (!P.has(k)) return null;
          return { v: P.num(k, t), s: P.str(k, t, D, plus) };
        },
      };
    }

    // value -> 0..255 colour index, as colourScales' seqIndex/divIndex (inlined for loops)
    function indexer(S, kind) {
      if (kind === "gate") return (v) => (v <= 0 ? 0 : v >= 1 ? 255 : (v * 255 + 0.5) | 0);
      const b = kind === "cell" ? S.P.meta.c_bound : 1;
      return (v) => {
        const x = 0.5 + (0.5 * v) / b;
        return x <= 0 ? 0 : x >= 1 ? 255 : (x * 255 + 0.5) | 0;
      };
    }
    // ---- small builders ----------------------------------------------------------------
    const { el, svg, math } = LIB;
    function card(title, testid, body) {
      const h = el("div", { class: "stp-card-title" }, [title]);
      return el("div", { class: "stp-card", "data-testid": testid }, [h, body]);
    }
    function gradient(S, kind, lo, hi, name) {
      const c = S.api.colours;
      const stops = [];
      for (let i = 0; i <= 10; i++) {
        const v = lo + ((hi - lo) * i) / 10;
        stops.push(`${kind === "gate" ? c.seqCss(v) : c.divCss(v, Math.max(Math.abs(lo), Math.abs(hi)))} ${i * 10}%`);
      }
      return el("span", { class: "stp-legend" }, [
        el("span", { class: "stp-legend-name", text: name }),
        el("span", { class: "stp-legend-lo", text: lo.toString() }),
        el("span", { class: "stp-legend-bar", style: `background: linear-gradient(90deg, ${stops.join(",")})` }),
        el("span", { class: "stp-legend-hi", text: hi.toString() }),
      ]);
    }
    function niceStep(range, target) {
      const raw = range / target;
      const p = 10 ** Math.floor(Math.log10(raw || 1));
      for (const f of [1, 2, 5, 10]) if (f * p >= raw) return f * p;
      return 10 * p;
    }
    function hoverPos(svgNode, event, vw, vh) {
      const r = svgNode.getBoundingClientRect();
      return [((event.clientX - r.left) / r.width) * vw, ((event.clientY - r.top) / r.height) * vh];
    }

    // ---- the text strip and readouts ---------------------------------------------------
    function buildText(S) {
      const m = S.P.meta;
      const box = el("div", { class: "stp-text", "data-testid": "stp-text" });
      const word = m.tokens.some((t) => t.length > 1);
      S.spans = m.tokens.map((tok, i) => {
        const shown = tok === "\n" ? "⏎\n" : tok;
        const span = el("span", { "data-i": String(i), text: shown });
        span.__text = shown;
        box.append(span);
        if (word && i < m.tokens.length - 1) box.append(" ");
        return span;
      });
      box.addEventListener("click", (e) => {
        const i = e.target.dataset && e.target.dataset.i;
        if (i != null) S.api.go(+i);
      });
      S.textBox = box;
      S.lastText = null;
      return box;
    }
    function drawText(S, t) {
      const spans = S.spans;
      const T = spans.length;
      const last = S.lastText == null ? null : S.lastText;
      const lo = last == null ? 0 : Math.max(0, Math.min(last, t) - 1);
      const hi = last == null ? T : Math.min(T, Math.max(last, t) + 3);
      for (let i = lo; i < hi; i++) {
        const s = spans[i];
        const cls = i === t ? "cur" : i === t + 1 ? "nxt" : i > t + 1 ? "fut" : "";
        if (s.className !== cls) s.className = cls;
        const text = i === t && !s.__text.trim() ? (s.__text === "⏎\n" ? "⏎\n" : "␣") : s.__text;
        if (s.textContent !== text) s.textContent = text;
      }
      S.lastText = t;
    }
    // Keep the cursor in view. Reading offsetTop lays the page out: done once, last.
    function scrollText(S, t) {
      const box = S.textBox;
      const top = S.spans[t].offsetTop; // the box is the spans' offset parent
      if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - 30) {
        box.scrollTop = Math.max(0, top - box.clientHeight / 3);
      }
    }
    function buildReadouts(S) {
      const box = el("div", { class: "stp-readouts" });
      S.read = {};
      for (const [k, label] of [["read", "Reads"], ["next", "True next"], ["p", "p(true next)"], ["bits", "Surprise"]]) {
        const v = el("div", { class: "stp-metric-value", "data-testid": `stp-${k}` });
        S.read[k] = v;
        box.append(el("div", { class: "stp-metric" }, [el("div", { class: "stp-metric-label", text: label }), v]));
      }
      return box;
    }
    function drawReadouts(S, t) {
      const P = S.P;
      const m = P.meta;
      const T = m.n_steps;
      S.read.read.textContent = m.shown[t];
      if (t + 1 >= T) {
        S.read.next.textContent = "(end)";
        S.read.p.textContent = "–";
        S.read.bits.textContent = "–";
        return;
      }
      const nxt = P.arrays.ids[t + 1];
      S.read.next.textContent = nxt ? m.labels[nxt] : "<unk>";
      S.read.p.textContent = P.str("p_next", t, 3);
      const bits = P.arrays.surprise[t];
      S.read.bits.textContent = Number.isNaN(bits) ? "unknown token" : `${P.str("surprise", t, 2)} bits`;
    }

    // ---- next-token bars ---------------------------------------------------------------
    function buildTopk(S, prefix = "", k = null) {
      const P = S.P;
      const K = k || P.specs[`${prefix}topk_ids`].shape[1];
      const box = el("div", { class: "stp-topk" });
      const rows = [];
      for (let j = 0; j <= K; j++) {
        const label = el("span", { class: "stp-bar-label" });
        const fill = el("span", { class: "stp-bar-fill" });
        const value = el("span", { class: "stp-bar-value" });
        const row = el("div", { class: "stp-bar-row" }, [label, el("span", { class: "stp-bar-track" }, [fill, value])]);
        box.append(row);
        rows.push({ row, label, fill, value });
      }
      box.addEventListener("mousemove", (e) => {
        const row = e.target.closest && e.target.closest(".stp-bar-row");
        if (row && row.__tip) S.api.tip.show(e, row.__tip);
        else S.api.tip.hide();
      });
      box.addEventListener("mouseleave", () => S.api.tip.hide());
      return { box, rows, K, prefix };
    }
    function drawTopk(S, bars, t, labels) {
      const P = S.P;
      const { rows, K, prefix } = bars;
      const T = P.meta.n_steps;
      const ids = P.arrays[`${prefix}topk_ids`];
      const trueId = t + 1 < T ? P.arrays.ids[t + 1] : -1;
      const rank = P.arrays[`${prefix}next_rank`][t];
      let max = 0;
      for (let j = 0; j < K; j++) max = Math.max(max, P.arrays[`${prefix}topk_p`][t * K + j]);
      const xmax = Math.min(1, max * 1.25 + 0.02);
      for (let j = 0; j <= K; j++) {
        const r = rows[j];
        let id;
        let p;
        let ptext;
        let hover;
        if (j < K) {
          id = ids[t * K + j];
          p = P.arrays[`${prefix}topk_p`][t * K + j];
          ptext = P.str(`${prefix}topk_p`, t * K + j, 3);
          hover = P.str(`${prefix}topk_p`, t * K + j, 5);
        } else if (trueId >= 0 && rank > K) {
          id = trueId;
          p = P.arrays[`${prefix}p_next`][t];
          ptext = P.str(`${prefix}p_next`, t, 3);
          hover = P.str(`${prefix}p_next`, t, 5);
        } else {
          r.row.hidden = true;
          r.row.classList.remove("true");
          continue;
        }
        r.row.hidden = false;
        const isTrue = id === trueId;
        r.row.classList.toggle("true", isTrue);
        r.label.textContent = labels[id] + (j === K ? ` (rank ${rank})` : "");
        r.fill.style.width = `${(100 * p) / xmax}%`;
        r.value.textContent = ptext;
        r.row.__tip = `${labels[id]}: p = ${hover}${isTrue ? "  (the true next token)" : ""}`;
      }
    }

    // ---- surprise along the text -------------------------------------------------------
    const SV = { w: 600, h: 250, l: 42, r: 10, t: 10, b: 34 };
    function surpriseChart(S, series, colours, width = SV.w) {
      const SV2 = { ...SV, w: width };
      return surpriseChartIn(S, series, colours, SV2);
    }
    function surpriseChartIn(S, series, colours, SV) {
      const T = S.P.meta.n_steps;
      const pw = SV.w - SV.l - SV.r;
      const ph = SV.h - SV.t - SV.b;
      let ymax = 1;
      for (const bits of series) for (const b of bits) if (Number.isFinite(b)) ymax = Math.max(ymax, b);
      ymax *= 1.05;
      const x = (t) => SV.l + ((t + 0.5) / T) * pw;
      const y = (b) => SV.t + ph - (b / ymax) * ph;
      const root = svg("svg", { viewBox: `0 0 ${SV.w} ${SV.h}`, class: "stp-chart" });
      const ys = niceStep(ymax, 5);
      for (let v = 0; v <= ymax; v += ys) {
        root.append(svg("line", { x1: SV.l, x2: SV.w - SV.r, y1: y(v), y2: y(v), class: "stp-grid" }));
        root.append(svg("text", { x: SV.l - 6, y: y(v) + 4, class: "stp-tick", "text-anchor": "end", text: String(+v.toFixed(6)) }));
      }
      const xs = niceStep(T, 8);
      for (let v = 0; v < T; v += xs) {
        root.append(svg("text", { x: x(v), y: SV.h - SV.b + 16, class: "stp-tick", "text-anchor": "middle", text: String(v) }));
      }
      root.append(svg("text", { x: SV.l + pw / 2, y: SV.h - 2, class: "stp-axis", "text-anchor": "middle", text: "step" }));
      root.append(svg("text", { x: 10, y: SV.t + ph / 2, class: "stp-axis", "text-anchor": "middle", transform: `rotate(-90 10 ${SV.t + ph / 2})`, text: "bits" }));
      series.forEach((bits, s) => {
        let d = "";
        const half = pw / T / 2;
        for (let t = 0; t < T; t++) {
          if (!Number.isFinite(bits[t])) continue;
          const start = t === 0 || !Number.isFinite(bits[t - 1]);
          if (start) d += `M${(x(t) - half).toFixed(2)},${y(0).toFixed(2)}V${y(bits[t]).toFixed(2)}`;
          else d += `V${y(bits[t]).toFixed(2)}`;
          d += `H${(x(t) + half).toFixed(2)}`;
          const end = t === T - 1 || !Number.isFinite(bits[t + 1]);
          if (end) d += `V${y(0).toFixed(2)}Z`;
        }
        const fill = series.length === 1;
        root.append(svg("path", { d, class: fill ? "stp-area" : "stp-line", style: colours ? `stroke:${colours[s]}` : "" }));
      });
      const cursor = svg("line", { y1: SV.t, y2: SV.t + ph, class: "stp-cursor" });
      const dot = svg("circle", { r: 5, class: "stp-dot" });
      root.append(cursor, dot);
      return { root, x, y, cursor, dot, T, box: SV };
    }
    function drawCursor(chart, t, bits) {
      const X = chart.x(t).toFixed(2);
      chart.cursor.setAttribute("x1", X);
      chart.cursor.setAttribute("x2", X);
      const ok = bits && Number.isFinite(bits[t]);
      chart.dot.style.display = ok ? "" : "none";
      if (ok) {
        chart.dot.setAttribute("cx", X);
        chart.dot.setAttribute("cy", chart.y(bits[t]).toFixed(2));
      }
    }
    function hoverSteps(S, chart, text) {
      const B = chart.box;
      const stepAt = (e) => {
        const [mx] = hoverPos(chart.root, e, B.w, B.h);
        return Math.floor(((mx - B.l) / (B.w - B.l - B.r)) * chart.T);
      };
      chart.root.addEventListener("mousemove", (e) => {
        const t = stepAt(e);
        if (t < 0 || t >= chart.T) return S.api.tip.hide();
        S.api.tip.show(e, text(t));
      });
      chart.root.addEventListener("mouseleave", () => S.api.tip.hide());
      chart.root.addEventListener("click", (e) => {
        const t = stepAt(e);
        if (t >= 0 && t < chart.T) S.api.go(t);
      });
    }
    function stepText(S, t) {
      const m = S.P.meta;
      const nxt = t + 1 < m.n_steps ? m.shown[t + 1] : "(end)";
      return `step ${t}: read ${m.shown[t]}, next ${nxt}`;
    }

    // ---- embedding of the token read, and the embedding table --------------------------
    const EV = { w: 600, h: 330, l: 36, r: 8, t: 8, b: 24 };
    function buildEmbedding(S) {
      const P = S.P;
      const E = P.meta.embed;
      const emb = P.arrays.emb;
      let bound = 1e-6;
      for (const v of emb) bound = Math.max(bound, Math.abs(v));
      const pw = EV.w - EV.l - EV.r;
      const ph = EV.h - EV.t - EV.b;
      const y = (v) => EV.t + ph / 2 - (v / bound) * (ph / 2);
      const root = svg("svg", { viewBox: `0 0 ${EV.w} ${EV.h}`, class: "stp-chart" });
      const step = niceStep(bound, 2);
      for (let v = -Math.floor(bound / step) * step; v <= bound + 1e-9; v += step) {
        root.append(svg("line", { x1: EV.l, x2: EV.w - EV.r, y1: y(v), y2: y(v), class: "stp-grid" }));
        root.append(svg("text", { x: EV.l - 5, y: y(v) + 4, class: "stp-tick", "text-anchor": "end", text: String(+v.toFixed(6)) }));
      }
      root.append(svg("line", { x1: EV.l, x2: EV.w - EV.r, y1: y(0), y2: y(0), class: "stp-zero" }));
      const bw = pw / E;
      const bars = [];
      for (let d = 0; d < E; d++) {
        const r = svg("rect", { x: (EV.l + d * bw + bw * 0.1).toFixed(2), width: (bw * 0.8).toFixed(2), "data-d": String(d) });
        bars.push(r);
        root.append(r);
      }
      const every = niceStep(E, 8);
      for (let d = 0; d < E; d += every) {
        root.append(svg("text", { x: EV.l + (d + 0.5) * bw, y: EV.h - 6, class: "stp-tick", "text-anchor": "middle", text: String(d) }));
      }
      root.addEventListener("mousemove", (e) => {
        const d = e.target.dataset && e.target.dataset.d;
        if (d == null) return S.api.tip.hide();
        S.api.tip.show(e, `dimension ${d}: ${P.str("emb", S.t * E + +d, 4)}`);
      });
      root.addEventListener("mouseleave", () => S.api.tip.hide());
      S.emb = { root, bars, y, bound, E };
      return root;
    }
    function drawEmbedding(S, t) {
      const { bars, y, bound, E } = S.emb;
      const emb = S.P.arrays.emb;
      const y0 = y(0);
      for (let d = 0; d < E; d++) {
        const v = emb[t * E + d];
        const yv = y(v);
        bars[d].setAttribute("y", Math.min(y0, yv).toFixed(2));
        bars[d].setAttribute("height", Math.max(0.5, Math.abs(yv - y0)).toFixed(2));
        bars[d].setAttribute("fill", S.api.colours.divCss(v, bound));
      }
    }
    const MV = { w: 600, h: 330, l: 40, r: 10, t: 10, b: 36 };
    function buildMap(S) {
      const P = S.P;
      const m = P.meta;
      const xy = P.arrays.pca;
      const V = xy.length / 2;
      let x0 = Infinity;
      let x1 = -Infinity;
      let y0 = Infinity;
      let y1 = -Infinity;
      for (let i = 0; i < V; i++) {
        x0 = Math.min(x0, xy[2 * i]);
        x1 = Math.max(x1, xy[2 * i]);
        y0 = Math.min(y0, xy[2 * i + 1]);
        y1 = Math.max(y1, xy[2 * i + 1]);
      }
      const padx = (x1 - x0) * 0.05 || 1;
      const pady = (y1 - y0) * 0.08 || 1;
      x0 -= padx;
      x1 += padx;
      y0 -= pady;
      y1 += pady;
      const pw = MV.w - MV.l - MV.r;
      const ph = MV.h - MV.t - MV.b;
      const X = (v) => MV.l + ((v - x0) / (x1 - x0)) * pw;
      const Y = (v) => MV.t + ph - ((v - y0) / (y1 - y0)) * ph;
      const root = svg("svg", { viewBox: `0 0 ${MV.w} ${MV.h}`, class: "stp-chart" });
      const many = V > 150;
      const g = svg("g", { class: "stp-vocab" });
      for (let i = 0; i < V; i++) {
        const shown = m.labels[i].slice(1, -1);
        const node = many
          ? svg("circle", { cx: X(xy[2 * i]).toFixed(1), cy: Y(xy[2 * i + 1]).toFixed(1), r: 2.2, "data-i": String(i) })
          : svg("text", { x: X(xy[2 * i]).toFixed(1), y: Y(xy[2 * i + 1]).toFixed(1), "text-anchor": "middle", "dominant-baseline": "central", "data-i": String(i), text: shown });
        g.append(node);
      }
      root.append(g);
      const ex = m.explained;
      root.append(svg("text", { x: MV.l + pw / 2, y: MV.h - 6, class: "stp-axis", "text-anchor": "middle", text: ex ? `PC1 (${ex[0]}% of variance)` : "PC1" }));
      root.append(svg("text", { x: 12, y: MV.t + ph / 2, class: "stp-axis", "text-anchor": "middle", transform: `rotate(-90 12 ${MV.t + ph / 2})`, text: ex ? `PC2 (${ex[1]}% of variance)` : "PC2" }));
      const ring = svg("circle", { r: 13, class: "stp-ring" });
      const label = svg("text", { class: "stp-ring-label", "text-anchor": "middle" });
      root.append(ring, label);
      root.addEventListener("mousemove", (e) => {
        const i = e.target.dataset && e.target.dataset.i;
        if (i == null) return S.api.tip.hide();
        S.api.tip.show(e, `${m.labels[+i]} (${P.str("pca", 2 * i, 3)}, ${P.str("pca", 2 * i + 1, 3)})`);
      });
      root.addEventListener("mouseleave", () => S.api.tip.hide());
      S.map = { root, ring, label, X, Y, xy };
      return root;
    }
    function drawMap(S, t) {
      if (!S.map) return;
      const { ring, label, X, Y, xy } = S.map;
      const id = S.P.arrays.ids[t];
      const cx = X(xy[2 * id]);
      const cy = Y(xy[2 * id + 1]);
      ring.setAttribute("cx", cx.toFixed(1));
      ring.setAttribute("cy", cy.toFixed(1));
      label.setAttribute("x", cx.toFixed(1));
      label.setAttribute("y", (cy - 18).toFixed(1));
      label.textContent = S.P.meta.labels[id].slice(1, -1);
    }

    // ---- every unit at this step -------------------------------------------------------
    function orderOf(S) {
      const name = S.cursor.order;
      const a = S.P.arrays[`order:${name}`];
      if (a) return a;
      if (!S.identity) S.identity = Int32Array.from({ length: S.R.H }, (_, i) => i);
      return S.identity;
    }
    function buildStrips(S) {
      const m = S.P.meta;
      const H = S.R.H;
      const qs = m.quantities;
      const labels = el("div", { class: "stp-strip-labels" }, qs.map((q) => el("div", { class: "stp-strip-label", text: q.label })));
      const canvas = el("canvas", { class: "stp-strip-canvas", width: String(H), height: String(qs.length), "data-testid": "stp-strips" });
      const outline = el("div", { class: "stp-outline" });
      const wait = el("div", { class: "stp-wait", text: "loading…" });
      const plot = el("div", { class: "stp-strip-plot" }, [canvas, outline, wait]);
      plot.style.height = `${qs.length * S.rowH}px`;
      canvas.style.height = `${qs.length * S.rowH}px`;
      const hit = (e) => {
        const r = canvas.getBoundingClientRect();
        const k = Math.floor(((e.clientX - r.left) / r.width) * H);
        const row = Math.floor(((e.clientY - r.top) / r.height) * qs.length);
        if (k < 0 || k >= H || row < 0 || row >= qs.length) return null;
        return { u: orderOf(S)[k], q: qs[row] };
      };
      canvas.addEventListener("mousemove", (e) => {
        const h = hit(e);
        if (!h || !S.R.has(S.t)) return S.api.tip.hide();
        S.api.tip.show(e, `unit ${h.u} · ${h.q.label} = ${S.R.text(h.q.name, S.t, h.u)}  (click: draw this unit's cell)`);
      });
      canvas.addEventListener("mouseleave", () => S.api.tip.hide());
      canvas.addEventListener("click", (e) => {
        const h = hit(e);
        if (h) setUnit(S, h.u);
      });
      S.strips = { canvas, ctx: canvas.getContext("2d"), outline, wait, image: new ImageData(H, qs.length) };
      return el("div", { class: "stp-strips" }, [labels, plot]);
    }
    function drawStrips(S, t) {
      const { ctx, image, outline, wait } = S.strips;
      const qs = S.P.meta.quantities;
      const H = S.R.H;
      const order = orderOf(S);
      const ok = S.R.has(t);
      wait.hidden = ok;
      const px = image.data;
      const c = S.api.colours;
      for (let r = 0; r < qs.length; r++) {
        const q = qs[r];
        const table = q.kind === "gate" ? c.seq : c.div;
        const col = ok ? S.R.column(q.name, t) : null;
        const ix = indexer(S, q.kind);
        for (let k = 0; k < H; k++) {
          const o = 4 * (r * H + k);
          if (!col) {
            px[o] = px[o + 1] = px[o + 2] = 233;
          } else {
            const i = 3 * ix(col[0][col[1] + order[k]] * col[2]);
            px[o] = table[i];
            px[o + 1] = table[i + 1];
            px[o + 2] = table[i + 2];
          }
          px[o + 3] = 255;
        }
      }
      ctx.putImageData(image, 0, 0);
      const k = order.indexOf(S.cursor.unit);
      outline.style.left = `${(100 * k) / H}%`;
      outline.style.width = `${100 / H}%`;
    }

    // ---- one quantity over time --------------------------------------------------------
    function buildHeat(S) {
      const m = S.P.meta;
      const H = S.R.H;
      const buttons = el("div", { class: "stp-seg", role: "group", "aria-label": "Over time" });
      S.heatButtons = m.quantities.map((q) => {
        const b = el("button", { type: "button", class: "stp-seg-btn", "data-q": q.name, text: q.name });
        b.onclick = () => S.api.set({ view: q.name });
        buttons.append(b);
        return b;
      });
      const width = Math.min(HEAT, m.n_steps);
      const canvas = el("canvas", { class: "stp-heat-canvas", width: String(width), height: String(H), "data-testid": "stp-heat" });
      const cursor = el("div", { class: "stp-heat-cursor" });
      const unitRow = el("div", { class: "stp-heat-unit" });
      const wait = el("div", { class: "stp-wait", text: "loading…" });
      const plot = el("div", { class: "stp-heat-plot" }, [canvas, cursor, unitRow, wait]);
      const height = S.present ? Math.max(260, Math.min(520, H * 2)) : Math.max(200, Math.min(420, H * 1.6));
      plot.style.height = `${height}px`;
      const ticks = el("div", { class: "stp-heat-ticks" });
      const caption = el("div", { class: "stp-caption" });
      const legend = el("div", { class: "stp-heat-legend" });
      const title = el("div", { class: "stp-card-title" });
      const hit = (e) => {
        const r = canvas.getBoundingClientRect();
        const j = Math.floor(((e.clientX - r.left) / r.width) * width);
        const k = Math.floor(((e.clientY - r.top) / r.height) * H);
        if (j < 0 || j >= width || k < 0 || k >= H) return null;
        return { t: S.heatLo + j, u: orderOf(S)[k] };
      };
      canvas.addEventListener("mousemove", (e) => {
        const h = hit(e);
        if (!h || !S.R.has(h.t)) return S.api.tip.hide();
        const q = m.quantities.find((x) => x.name === S.cursor.view);
        S.api.tip.show(e, `step ${h.t} ${m.shown[h.t]} · unit ${h.u}\n${q.label} = ${S.R.text(q.name, h.t, h.u)}`);
      });
      canvas.addEventListener("mouseleave", () => S.api.tip.hide());
      canvas.addEventListener("click", (e) => {
        const h = hit(e);
        if (h) {
          S.cursor.unit = h.u;
          S.api.go(h.t);
        }
      });
      S.heat = { canvas, ctx: canvas.getContext("2d"), cursor, unitRow, wait, ticks, caption, legend, title, width, image: new ImageData(width, H) };
      return el("div", { class: "stp-heat" }, [
        el("div", { class: "stp-row-head" }, [el("span", { class: "stp-h4", text: "Over time" }), buttons, legend]),
        title,
        el("div", { class: "stp-heat-frame" }, [el("div", { class: "stp-heat-ylabel", text: `units (${H})` }), el("div", { class: "stp-heat-main" }, [plot, ticks])]),
        caption,
      ]);
    }
    function drawHeat(S, t) {
      const m = S.P.meta;
      const T = m.n_steps;
      const H = S.R.H;
      const hz = S.heat;
      const W = hz.width;
      const lo = Math.max(0, Math.min(t - Math.floor(W / 2), T - W));
      S.heatLo = lo;
      const q = m.quantities.find((x) => x.name === S.cursor.view) || m.quantities[0];
      for (const b of S.heatButtons) b.classList.toggle("on", b.dataset.q === q.name);
      if (hz.legendFor !== q.name) {
        hz.legendFor = q.name;
        const bound = q.kind === "cell" ? m.c_bound : 1;
        hz.legend.replaceChildren(
          q.kind === "gate" ? gradient(S, "gate", 0, 1, q.name) : gradient(S, "signed", -round2(bound), round2(bound), q.name)
        );
        hz.title.textContent = `${q.label} over time`;
      }
      const order = orderOf(S);
      const c = S.api.colours;
      const table = q.kind === "gate" ? c.seq : c.div;
      const px = hz.image.data;
      let missing = false;
      const needs = new Set();
      const ix = indexer(S, q.kind);
      for (let j = 0; j < W; j++) {
        const s = lo + j;
        const col = S.R.column(q.name, s);
        if (!col) {
          missing = true;
          needs.add(S.R.win(s));
        }
        for (let k = 0; k < H; k++) {
          const o = 4 * (k * W + j);
          if (!col) px[o] = px[o + 1] = px[o + 2] = 233;
          else {
            const i = 3 * ix(col[0][col[1] + order[k]] * col[2]);
            px[o] = table[i];
            px[o + 1] = table[i + 1];
            px[o + 2] = table[i + 2];
          }
          px[o + 3] = 255;
        }
      }
      if (needs.size) S.api.need({ windows: [...needs] });
      hz.wait.hidden = !missing;
      hz.ctx.putImageData(hz.image, 0, 0);
      hz.cursor.style.left = `${(100 * (t - lo)) / W}%`;
      hz.cursor.style.width = `${100 / W}%`;
      const k = order.indexOf(S.cursor.unit);
      hz.unitRow.style.top = `${(100 * k) / H}%`;
      hz.unitRow.style.height = `${100 / H}%`;
      if (hz.ticksLo !== lo) {
        hz.ticksLo = lo;
        const every = Math.max(1, Math.floor(W / 40));
        if (!hz.tickNodes) {
          hz.tickNodes = [];
          for (let j = 0; j < W; j += every) {
            hz.tickNodes.push(el("span", { class: "stp-heat-tick", style: `left:${(100 * (j + 0.5)) / W}%` }));
          }
          hz.ticks.replaceChildren(...hz.tickNodes);
        }
        hz.tickNodes.forEach((node, n) => (node.textContent = tokenLabel(m.tokens[lo + n * every])));
        hz.caption.textContent = W < T ? `steps ${lo}–${lo + W - 1} of ${T}, around the cursor` : `all ${T} steps`;
      }
    }
    const round2 = (v) => +v.toPrecision(3);

    // ---- the cell ----------------------------------------------------------------------
    // Parts: [kind, x, y, symbol, value key, gate?, sub-step, label]; y grows upwards.
    const LSTM_PARTS = [
      ["box", 2.5, 2.2, "σ", "f", true, "forget", "forget f"],
      ["node", 2.5, 6.0, "×", "kept", false, "forget", "kept f·c₍ₜ₋₁₎"],
      ["box", 4.3, 2.2, "σ", "i", true, "input", "input i"],
      ["box", 5.9, 2.2, "tanh", "g", false, "candidate", "candidate g"],
      ["node", 5.9, 4.2, "×", "written", false, "candidate", "written i·g"],
      ["node", 5.9, 6.0, "+", "c", false, "cell", "c_t"],
      ["box", 7.7, 2.2, "σ", "o", true, "output", "output o"],
      ["node", 9.4, 4.9, "tanh", "tanh_c", false, "hidden", "tanh c_t"],
      ["node", 9.4, 3.5, "×", "h", false, "hidden", "h_t"],
    ];
    const LSTM_WIRES = [
      [[[0.4, 6.0], [2.5, 6.0]], "c_prev", null],
      [[[2.5, 6.0], [5.9, 6.0]], "kept", "forget"],
      [[[5.9, 6.0], [11.6, 6.0]], "c", "cell"],
      [[[2.5, 2.6], [2.5, 5.75]], "f", "forget"],
      [[[4.3, 2.6], [4.3, 4.2], [5.65, 4.2]], "i", "input"],
      [[[5.9, 2.6], [5.9, 3.95]], "g", "candidate"],
      [[[5.9, 4.45], [5.9, 5.75]], "written", "candidate"],
      [[[9.4, 6.0], [9.4, 5.2]], "c", "cell"],
      [[[9.4, 4.6], [9.4, 3.75]], "tanh_c", "hidden"],
      [[[7.7, 2.6], [7.7, 3.5], [9.15, 3.5]], "o", "output"],
      [[[9.65, 3.5], [11.6, 3.5]], "h", "hidden"],
      [[[0.4, 0.8], [7.7, 0.8]], "h_prev", null],
      [[[1.3, -0.2], [1.3, 0.8]], null, null],
      [[[2.5, 0.8], [2.5, 1.8]], null, null],
      [[[4.3, 0.8], [4.3, 1.8]], null, null],
      [[[5.9, 0.8], [5.9, 1.8]], null, null],
      [[[7.7, 0.8], [7.7, 1.8]], null, null],
    ];
    const LSTM_ENDS = [
      [0.0, 6.0, "c₍ₜ₋₁₎", "c_prev"],
      [12.0, 6.0, "c_t", "c"],
      [0.0, 0.8, "h₍ₜ₋₁₎", "h_prev"],
      [1.3, -0.55, "x_t", null],
      [12.0, 3.5, "h_t", "h"],
    ];
    const GRU_PARTS = [
      ["box", 2.3, 2.2, "σ", "r", true, null, "reset r"],
      ["box", 4.3, 2.2, "σ", "z", true, null, "update z"],
      ["node", 4.3, 6.0, "×", "keep", false, null, "kept z·h₍ₜ₋₁₎"],
      ["box", 7.6, 2.2, "tanh", "n", false, null, "candidate n"],
      ["node", 7.6, 4.2, "×", "write", false, null, "written (1−z)·n"],
      ["node", 7.6, 6.0, "+", "h", false, null, "h_t"],
    ];
    const GRU_WIRES = [
      [[[0.4, 6.0], [4.3, 6.0]], "h_prev", null],
      [[[4.3, 6.0], [7.6, 6.0]], "keep", null],
      [[[7.6, 6.0], [11.6, 6.0]], "h", null],
      [[[4.3, 2.6], [4.3, 5.75]], "z", null],
      [[[4.3, 4.2], [7.35, 4.2]], "z", null],
      [[[2.3, 2.6], [2.3, 3.2], [7.2, 3.2], [7.2, 2.6]], "r", null],
      [[[7.6, 2.6], [7.6, 3.95]], "n", null],
      [[[7.6, 4.45], [7.6, 5.75]], "write", null],
      [[[0.4, 0.8], [7.6, 0.8]], "h_prev", null],
      [[[1.3, -0.2], [1.3, 0.8]], null, null],
      [[[2.3, 0.8], [2.3, 1.8]], null, null],
      [[[4.3, 0.8], [4.3, 1.8]], null, null],
      [[[7.6, 0.8], [7.6, 1.8]], null, null],
    ];
    const GRU_ENDS = [
      [0.0, 6.0, "h₍ₜ₋₁₎", "h_prev"],
      [12.0, 6.0, "h_t", "h"],
      [0.0, 0.8, "h₍ₜ₋₁₎", "h_prev"],
      [1.3, -0.55, "x_t", null],
    ];
    const RNN_PARTS = [
      ["node", 4.0, 2.5, "+", "pre", false, null, "W x + U h + b"],
      ["box", 7.0, 2.5, "tanh", "h", false, null, "h_t = tanh(·)"],
    ];
    const RNN_WIRES = [
      [[[0.4, 2.5], [3.75, 2.5]], "h_prev", null],
      [[[4.0, -0.2], [4.0, 2.25]], null, null],
      [[[4.25, 2.5], [6.6, 2.5]], "pre", null],
      [[[7.4, 2.5], [11.6, 2.5]], "h", null],
      [[[9.5, 2.5], [9.5, 5.0]], "h", null],
    ];
    const RNN_ENDS = [
      [0.0, 2.5, "h₍ₜ₋₁₎", "h_prev"],
      [12.0, 2.5, "h_t", "h"],
      [4.0, -0.55, "x_t", null],
      [9.5, 5.4, "→ softmax", null],
    ];
    const LAYOUTS = { lstm: [LSTM_PARTS, LSTM_WIRES, LSTM_ENDS], gru: [GRU_PARTS, GRU_WIRES, GRU_ENDS], rnn: [RNN_PARTS, RNN_WIRES, RNN_ENDS] };
    const SUBSTEPS = ["forget", "input", "candidate", "cell", "output", "hidden"];
    const CX = 60; // pixels per diagram unit
    const gx = (x) => (x + 0.6) * CX;
    const gy = (y) => (7.6 - y) * CX;
    const done = (partStep, sub) => !sub || !partStep || SUBSTEPS.indexOf(partStep) <= SUBSTEPS.indexOf(sub);

    // Every number the cell shows for (unit, step): {key: {v, s}} or null while loading.
    function cellValues(S, u, t) {
      const R = S.R;
      const cell = S.P.meta.cell;
      if (!R.has(t)) return null;
      const q = (name) => ({ v: R.value(name, t, u), s: R.text(name, t, u, true) });
      const out = { h: q("hidden"), h_prev: R.prev("hidden", t, u, true) };
      const det = (name) => R.detail(u, name, t, true);
      const names = S.P.meta.details;
      const details = Object.fromEntries(names.map((n) => [n, det(n)]));
      if (names.some((n) => !details[n])) return { missing: true, ...out };
      for (const n of names) out[n] = details[n];
      if (cell === "lstm") {
        Object.assign(out, {
          f: q("forget"), i: q("input"), g: q("candidate"), o: q("output"), c: q("cell"),
          c_prev: R.prev("cell", t, u, true), kept: details.kept, written: details.written,
          tanh_c: details.tanh_c,
        });
      } else if (cell === "gru") {
        Object.assign(out, { r: q("reset"), z: q("update"), n: q("candidate"), keep: details.keep, write: details.write, one_minus_z: details.one_minus_z });
      } else if (details.pre_bound.v) {
        // saturated: h pins the pre-activation down only to a bound (payload._rnn_pre)
        const side = details.pre_bound.v > 0 ? "≥" : "≤";
        out.pre = { v: details.pre.v, s: `${side} ${details.pre.s.replace(/^\+/, "")}` };
      }
      return out;
    }

    function buildCell(S) {
      const m = S.P.meta;
      const title = el("div", { class: "stp-h3", "data-testid": "stp-cell-title" });
      const subs = el("div", { class: "stp-seg", role: "group", "aria-label": "Sub-step" });
      S.subButtons = [];
      if (m.cell === "lstm") {
        subs.append(el("span", { class: "stp-seg-label", text: "Sub-step" }));
        for (const s of [...SUBSTEPS, "all"]) {
          const b = el("button", { type: "button", class: "stp-seg-btn", "data-sub": s, text: s });
          b.onclick = () => S.api.set({ sub: s });
          subs.append(b);
          S.subButtons.push(b);
        }
      }
      const note = m.cell === "gru"
        ? el("div", { class: "stp-note", "data-testid": "stp-gru-note", text: "PyTorch's GRU: h_t = (1 − z)·n + z·h₍ₜ₋₁₎, so an update gate z ≈ 1 keeps the old state and z ≈ 0 writes the candidate n (many diagrams use the opposite convention)." })
        : null;
      const [parts, wires, ends] = LAYOUTS[m.cell];
      const root = svg("svg", { viewBox: `0 0 ${13.2 * CX} ${8.5 * CX}`, class: "stp-diagram", "data-testid": "stp-diagram" });
      root.append(svg("rect", { x: gx(0.8), y: gy(6.9), width: (11.0 - 0.8) * CX, height: (6.9 - 0.2) * CX, class: "stp-cellbox" }));
      const wireNodes = wires.map(([points, key, step]) => {
        const heavy = ["c_prev", "kept", "c"].includes(key) || (m.cell !== "lstm" && ["h_prev", "keep", "h"].includes(key));
        const node = svg("polyline", { points: points.map(([x, y]) => `${gx(x)},${gy(y)}`).join(" "), class: heavy ? "stp-wire heavy" : "stp-wire" });
        root.append(node);
        return { node, key, step };
      });
      const partNodes = parts.map(([kind, x, y, symbol, key, gate, step, label]) => {
        let shape;
        if (kind === "box") {
          const w = symbol === "σ" ? 0.55 : 0.7;
          shape = svg("rect", { x: gx(x - w), y: gy(y + 0.4), width: 2 * w * CX, height: 0.8 * CX, rx: 3, class: "stp-part" });
        } else {
          const r = symbol === "tanh" ? 0.5 : 0.32;
          shape = svg("ellipse", { cx: gx(x), cy: gy(y), rx: r * CX, ry: r * 0.9 * CX, class: "stp-part" });
        }
        const sym = svg("text", { x: gx(x), y: gy(y), class: "stp-symbol", "text-anchor": "middle", "dominant-baseline": "central", text: symbol });
        const below = kind === "box";
        const above = !below && y >= 6;
        const lx = below || above ? gx(x) : gx(x + (symbol === "tanh" ? 0.6 : 0.42));
        const ly = below ? gy(y - 0.55) + 10 : above ? gy(y + 0.45) - 22 : gy(y) - 10;
        const anchor = below || above ? "middle" : "start";
        const name = svg("text", { x: lx, y: ly, class: "stp-part-name", "text-anchor": anchor, text: label });
        const value = svg("text", { x: lx, y: ly + 19, class: "stp-part-value", "text-anchor": anchor, "data-key": key });
        const g = svg("g", { "data-key": key, class: "stp-part-g" }, [shape, sym, name, value]);
        root.append(g);
        return { g, shape, sym, value, key, gate, step, label };
      });
      const endNodes = ends.map(([x, y, text, key]) => {
        const name = svg("text", { x: gx(x), y: gy(y) - 6, class: "stp-end", "text-anchor": "middle", text });
        const value = svg("text", { x: gx(x), y: gy(y) + 14, class: "stp-part-value", "text-anchor": "middle" });
        root.append(name, value);
        return { value, key };
      });
      root.addEventListener("mousemove", (e) => {
        const g = e.target.closest && e.target.closest(".stp-part-g");
        if (!g || !S.cellShown) return S.api.tip.hide();
        const part = partNodes.find((p) => p.g === g);
        const v = S.cellShown[part.key];
        S.api.tip.show(e, v ? `${part.label} = ${v.s}` : `${part.label}: not computed yet`);
      });
      root.addEventListener("mouseleave", () => S.api.tip.hide());
      const legends = el("div", { class: "stp-cell-legend" }, [
        m.cell === "rnn" ? null : gradient(S, "gate", 0, 1, "σ gates"),
        gradient(S, "signed", -1, 1, { lstm: "h, g, c/|c|max", gru: "h, n", rnn: "h, (W x + U h + b)/3" }[m.cell]),
      ]);
      const eq = el("div", { class: "stp-equations", "data-testid": "stp-equations" });
      const wait = el("div", { class: "stp-wait stp-cell-wait", text: "loading this unit's numbers…" });
      S.cell = { title, root, wireNodes, partNodes, endNodes, eq, wait };
      return el("div", { class: "stp-cell" }, [
        title,
        el("div", { class: "stp-row-head" }, [subs, legends]),
        note,
        el("div", { class: "stp-diagram-frame" }, [root, wait]),
        eq,
      ]);
    }

    function drawCell(S, t) {
      const m = S.P.meta;
      const u = S.cursor.unit;
      const C = S.cell;
      const sub = m.cell === "lstm" && S.cursor.sub !== "all" ? S.cursor.sub : null;
      C.title.textContent = `Inside the ${m.cell.toUpperCase()} cell: unit ${u}, step ${t}`;
      for (const b of S.subButtons) b.classList.toggle("on", b.dataset.sub === (sub || "all"));
      const v = cellValues(S, u, t);
      if (!S.R.has(t)) S.api.need({ windows: [S.R.win(t)] });
      if (v && v.missing) {
        if (!S.api.standalone()) S.api.need({ units: [u] });
        C.wait.textContent = S.api.standalone() ? `This file holds no cell details for unit ${u}.` : "loading this unit's numbers…";
      }
      const ready = v && !v.missing;
      C.wait.hidden = !!ready;
      S.cellShown = ready ? v : null;
      const bound = { c: m.c_bound, c_prev: m.c_bound, kept: m.c_bound, pre: 3 };
      const colour = (key, gate) => (gate || GATES.has(key) ? S.api.colours.seqCss(v[key].v) : S.api.colours.divCss(v[key].v, bound[key] || 1));
      for (const w of C.wireNodes) {
        const ok = ready && w.key && done(w.step, sub);
        w.node.style.stroke = ok ? colour(w.key, false) : "#868e96";
      }
      for (const p of C.partNodes) {
        const ok = ready && done(p.step, sub);
        const fill = ok ? colour(p.key, p.gate) : "#e9ecef";
        p.shape.style.fill = fill;
        p.sym.style.fill = S.api.colours.ink(fill);
        const current = sub && p.step === sub;
        p.shape.classList.toggle("current", !!current);
        p.value.textContent = ok ? v[p.key].s : "…";
      }
      for (const e of C.endNodes) {
        const produced = m.cell === "lstm" ? { c: "cell", h: "hidden" }[e.key] : null;
        e.value.textContent = ready && e.key && done(produced, sub) ? v[e.key].s : "";
      }
      const eqKey = `${m.cell}:${sub || "all"}`;
      if (ready && C.eqKey !== eqKey) {
        C.eqKey = eqKey;
        C.template = equationTemplate(m.cell, sub);
        C.eq.replaceChildren(...C.template.lines);
      }
      C.eq.style.visibility = ready ? "" : "hidden";
      if (ready) fillEquations(C.template.slots, v);
    }

    // ---- equations with numbers (MathML) -----------------------------------------------
    const mi = (s) => math("mi", { text: s });
    const mo = (s) => math("mo", { text: s });
    const mn = (s) => math("mn", { text: s });
    const mt = (s) => math("mtext", { text: s });
    const row = (...xs) => math("mrow", {}, xs.map((x) => (typeof x === "string" ? mi(x) : x)));
    const sb = (b, s) => math("msub", {}, [typeof b === "string" ? mi(b) : b, typeof s === "string" ? mi(s) : s]);
    const tm1 = () => row(mi("t"), mo("−"), mn("1"));
    // The lines are built once per cell and sub-step as templates whose numbers are slots
    // (x = {slot: name}); each frame only fills the slots' text (fillEquations).
    let SLOTS = null;
    const num = (x) => {
      const node = mn("");
      SLOTS.push({ name: x.slot, node });
      return node;
    };
    const operand = (x) => {
      // a negative operand goes in parentheses, so 0.5·(-0.2) reads right
      const node = mn("");
      const open = mo("(");
      const close = mo(")");
      SLOTS.push({ name: x.slot, node, open, close });
      return row(open, node, close);
    };
    function equationTemplate(cell, sub) {
      SLOTS = [];
      const names = new Proxy({}, { get: (_, name) => ({ slot: name }) });
      const lines = equations(cell, names, sub);
      const slots = SLOTS;
      SLOTS = null;
      return { lines, slots };
    }
    function fillEquations(slots, v) {
      for (const slot of slots) {
        const text = v[slot.name].s.replace(/^\+/, "");
        if (slot.open) {
          // an empty <mo> would still take an operator's spacing: hide the parentheses
          const shown = text.startsWith("-") ? "" : "none";
          slot.open.style.display = shown;
          slot.close.style.display = shown;
        }
        if (slot.node.textContent !== text) slot.node.textContent = text;
      }
    }
    // an underlined group with its name below (a stretchy brace needs a math font)
    const brace = (body, label) => {
      const group = row(...body);
      group.setAttribute("class", "stp-brace");
      return math("munder", {}, [group, math("mtext", { class: "stp-brace-label", text: label })]);
    };
    // One equation: a piece of MathML per "= ..." step, in a row that wraps before an "="
    // where the column is too narrow for the whole line (MathML itself never wraps).
    const line = (...xs) => {
      const pieces = [[]];
      xs.forEach((x, i) => {
        if (i > 0 && x.tagName === "mo" && x.textContent === "=" && pieces[0].length > 2) pieces.push([]);
        pieces[pieces.length - 1].push(x);
      });
      return el("div", { class: "stp-eq" }, pieces.map((p) => math("math", { display: "block" }, [row(...p)])));
    };
    function gateLine(sym, w, pre, value, tanh) {
      const fn = tanh ? mi("tanh") : mi("σ");
      return line(
        sb(sym, "t"), mo("="), fn, mo("("), sb("W", w), sb("x", "t"), mo("+"), sb("U", w), sb("h", tm1()), mo("+"), sb("b", w), mo(")"),
        mo("="), fn.cloneNode(true), mo("("), num(pre), mo(")"), mo("="), num(value)
      );
    }
    function equations(cell, v, sub) {
      if (cell === "lstm") {
        const lines = {
          forget: () => gateLine("f", "f", v.pre_forget, v.f),
          input: () => gateLine("i", "i", v.pre_input, v.i),
          candidate: () => gateLine("g", "g", v.pre_candidate, v.g, true),
          cell: () =>
            line(
              sb("c", "t"), mo("="), brace([sb("f", "t"), sb("c", tm1())], "kept"), mo("+"), brace([sb("i", "t"), sb("g", "t")], "written"),
              mo("="), num(v.f), mo("·"), operand(v.c_prev), mo("+"), num(v.i), mo("·"), operand(v.g),
              mo("="), num(v.kept), mo("+"), operand(v.written), mo("="), num(v.c)
            ),
          output: () => gateLine("o", "o", v.pre_output, v.o),
          hidden: () =>
            line(
              sb("h", "t"), mo("="), sb("o", "t"), mi("tanh"), mo("("), sb("c", "t"), mo(")"),
              mo("="), num(v.o), mo("·"), mi("tanh"), mo("("), num(v.c), mo(")"),
              mo("="), num(v.o), mo("·"), operand(v.tanh_c), mo("="), num(v.h)
            ),
        };
        const last = sub ? SUBSTEPS.indexOf(sub) : SUBSTEPS.length - 1;
        return SUBSTEPS.slice(0, last + 1).map((s) => lines[s]());
      }
      if (cell === "gru") {
        return [
          gateLine("r", "r", v.pre_reset, v.r),
          gateLine("z", "z", v.pre_update, v.z),
          line(
            sb("n", "t"), mo("="), mi("tanh"), mo("("), sb("W", "n"), sb("x", "t"), mo("+"), sb("b", "n"), mo("+"), sb("r", "t"),
            mo("("), sb("U", "n"), sb("h", tm1()), mo("+"), sb("b", "hn"), mo(")"), mo(")"),
            mo("="), mi("tanh"), mo("("), num(v.pre_candidate), mo(")"), mo("="), num(v.n)
          ),
          line(
            sb("h", "t"), mo("="), brace([mo("("), mn("1"), mo("−"), sb("z", "t"), mo(")"), sb("n", "t")], "written"), mo("+"),
            brace([sb("z", "t"), sb("h", tm1())], "kept"),
            mo("="), num(v.one_minus_z), mo("·"), operand(v.n), mo("+"), num(v.z), mo("·"), operand(v.h_prev),
            mo("="), num(v.write), mo("+"), operand(v.keep), mo("="), num(v.h)
          ),
        ];
      }
      return [
        line(
          sb("h", "t"), mo("="), mi("tanh"), mo("("), mi("W"), sb("x", "t"), mo("+"), mi("U"), sb("h", tm1()), mo("+"), mi("b"), mo(")"),
          mo("="), mi("tanh"), mo("("), num(v.pre), mo(")"), mo("="), num(v.h),
          math("mspace", { width: "2em" }), mo("("), sb("h", tm1()), mo("="), num(v.h_prev), mo(")")
        ),
      ];
    }

    // ---- compare: the same text through other cells ------------------------------------
    function buildCompare(S) {
      const m = S.P.meta;
      if (!m.compare || m.compare.length < 1) return null;
      const series = m.compare.map((c) => S.P.arrays[`cmp:${c.cell}:surprise`]);
      const colours = m.compare.map((c) => (S.options.cell_colours || {})[c.cell] || "#3b5bdb");
      const chart = surpriseChart(S, series, colours, 1100);
      hoverSteps(S, chart, (t) =>
        [stepText(S, t), ...m.compare.map((c) => {
          const b = S.P.arrays[`cmp:${c.cell}:surprise`][t];
          return `${c.cell.toUpperCase()}: ${Number.isFinite(b) ? S.P.str(`cmp:${c.cell}:surprise`, t, 3) + " bits" : "–"}`;
        })].join("\n")
      );
      const legend = el("div", { class: "stp-legend-row" }, m.compare.map((c, i) => el("span", { class: "stp-key" }, [el("span", { class: "stp-swatch", style: `background:${colours[i]}` }), c.cell.toUpperCase()])));
      const cols = el("div", { class: "stp-cols stp-cols3" });
      S.cmpBars = m.compare.map((c) => {
        const bars = buildTopk(S, `cmp:${c.cell}:`);
        cols.append(el("div", { class: "stp-card", "data-testid": `stp-cmp-${c.cell}` }, [
          el("div", { class: "stp-card-title", text: `${c.cell.toUpperCase()} · ${c.model} · mean ${c.mean_bits} bits/token` }),
          bars.box,
        ]));
        return { bars, labels: c.labels || m.labels };
      });
      S.cmpChart = chart;
      return el("div", { class: "stp-compare", "data-testid": "stp-compare" }, [
        el("div", { class: "stp-h3", text: "Compare: the same text through each cell" }),
        card("Surprise per cell, same text", "stp-cmp-surprise", el("div", {}, [legend, chart.root])),
        cols,
      ]);
    }
    function drawCompare(S, t) {
      if (!S.cmpChart) return;
      drawCursor(S.cmpChart, t, null);
      for (const c of S.cmpBars) drawTopk(S, c.bars, t, c.labels);
    }

    function setUnit(S, u) {
      S.api.set({ unit: Math.max(0, Math.min(S.R.H - 1, u | 0)) });
    }

    // ---- mount and render --------------------------------------------------------------
    function mount(root, P, options, api) {
      const m = P.meta;
      const S = { P, api, options, R: reader(P), present: !!options.presenter };
      S.rowH = S.present ? 40 : 30;
      root.__step = S;
      const c = options.cursor;
      c.unit = Math.max(0, Math.min(m.units - 1, +c.unit || 0));
      if (!m.quantities.some((q) => q.name === c.view)) c.view = m.quantities[0].name;
      if (!m.orders.includes(c.order)) c.order = "index";
      if (![...SUBSTEPS, "all"].includes(c.sub)) c.sub = "all";
      root.classList.add("stp");
      root.classList.toggle("stp-present", S.present);
      S.topk = buildTopk(S);
      const bits = P.arrays.surprise;
      S.surprise = surpriseChart(S, [bits]);
      hoverSteps(S, S.surprise, (t) => {
        const b = bits[t];
        return `${stepText(S, t)}\nsurprise ${Number.isFinite(b) ? P.str("surprise", t, 3) + " bits" : t + 1 < m.n_steps ? "unknown token" : "–"}`;
      });
      S.embTitle = el("span");
      const unitInput = el("input", { type: "number", min: "0", max: String(m.units - 1), step: "1", class: "stp-unit", "aria-label": "Unit", "data-testid": "stp-unit" });
      unitInput.addEventListener("change", () => setUnit(S, +unitInput.value));
      S.unitInput = unitInput;
      const order = el("select", { class: "stp-order", "aria-label": "Unit order", title: "clustered: units with similar time courses sit together" }, m.orders.map((o) => el("option", { value: o, text: o })));
      order.value = c.order;
      order.onchange = () => api.set({ order: order.value });
      const strips = buildStrips(S);
      const legends = el("div", { class: "stp-legends" }, [
        gradient(S, "signed", -1, 1, m.cell === "gru" ? "h, n" : "h, g"),
        gradient(S, "gate", 0, 1, "gates"),
        m.cell === "lstm" ? gradient(S, "signed", -round2(m.c_bound), round2(m.c_bound), "c") : null,
      ]);
      const sections = [
        buildText(S),
        buildReadouts(S),
        el("div", { class: "stp-cols" }, [card("Next-token probabilities", "stp-topk", S.topk.box), card("Surprise −log₂ p(next token)", "stp-surprise", S.surprise.root)]),
        el("div", { class: "stp-cols" }, [
          card(S.embTitle, "stp-emb", buildEmbedding(S)),
          P.has("pca") ? card("The embedding table (PCA)", "stp-pca", buildMap(S)) : null,
        ]),
        el("div", { class: "stp-h3", text: "Every unit at this step" }),
        el("div", { class: "stp-row-head" }, [
          el("label", { class: "stp-field" }, [el("span", { text: "Unit (outlined; drawn in the cell below)" }), unitInput]),
          S.present ? null : el("label", { class: "stp-field" }, [el("span", { text: "Unit order" }), order]),
          legends,
        ]),
        strips,
        el("div", { class: "stp-caption", text: "Hover a unit for its exact value; click one to draw its cell." }),
        buildHeat(S),
        buildCell(S),
        buildCompare(S),
      ];
      root.append(...sections.filter(Boolean));
    }

    function render(root, P, t, options) {
      const S = root.__step;
      S.t = t;
      S.cursor = options.cursor;
      const m = P.meta;
      drawText(S, t);
      drawReadouts(S, t);
      drawTopk(S, S.topk, t, m.labels);
      drawCursor(S.surprise, t, P.arrays.surprise);
      S.embTitle.textContent = `Embedding of ${m.shown[t]}`;
      drawEmbedding(S, t);
      drawMap(S, t);
      if (document.activeElement !== S.unitInput && S.unitInput.getRootNode().activeElement !== S.unitInput) {
        S.unitInput.value = String(S.cursor.unit);
      }
      // prefetch the neighbouring window of states before the cursor gets there
      const k = S.R.win(t);
      const near = [k];
      if (t - k * S.R.W > (2 * S.R.W) / 3 && (k + 1) * S.R.W < m.n_steps) near.push(k + 1);
      if (t - k * S.R.W < S.R.W / 3 && k > 0) near.push(k - 1);
      const missing = near.filter((w) => !P.has(`w${w}:hidden`));
      if (missing.length && !S.api.standalone()) S.api.need({ windows: missing });
      drawStrips(S, t);
      drawHeat(S, t);
      drawCell(S, t);
      drawCompare(S, t);
      scrollText(S, t);
    }

    return {
      label: "Step (token index)",
      stepName: (P, t) => `reads ${P.meta.shown[t]}`,
      mount,
      render,
    };
  })()
);
