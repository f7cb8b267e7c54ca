// Generate text, one token at a time: every stage of every draw, drawn in the browser.
//
// Reads a generation payload (autoreg/seq/generation_payload.py): for each drawn token
// the SHOWN highest logits with z, z/T, kept, p and softmax(z), the drawn token's own
// values wherever it ranks, and the comparison at three temperatures. The stages are
// rows of one table (token | logits | ÷T | top-k | p): a token is followed across a
// row, and long word labels never run into each other. Every printed number is
// P.str(...): the payload's float32 value, rounded exactly.

registerView(
  "generate",
  (() => {
    const { el, svg } = LIB;
    const MODES = ["All at once", "One token at a time"];
    const PRESENT_ROWS = 12;

    function card(title, testid, body, extra) {
      return el("div", { class: "gen-card", "data-testid": testid }, [el("div", { class: "gen-card-title" }, [title]), extra || null, body]);
    }
    function niceCeil(x) {
      if (!(x > 0)) return 1;
      const p = 10 ** Math.floor(Math.log10(x));
      for (const f of [1, 2, 2.5, 5, 10]) if (f * p >= x - 1e-12) return f * p;
      return 10 * p;
    }
    function hoverTips(S, box, selector) {
      box.addEventListener("mousemove", (e) => {
        const node = e.target.closest && e.target.closest(selector);
        if (node && node.__tip) S.api.tip.show(e, node.__tip);
        else S.api.tip.hide();
      });
      box.addEventListener("mouseleave", () => S.api.tip.hide());
    }

    // ---- the text ------------------------------------------------------------------------
    function buildText(S) {
      const m = S.P.meta;
      const box = el("div", { class: "gen-text", "data-testid": "gen-text" });
      box.append(el("span", { class: "gen-prompt", text: m.prompt }));
      const sep = m.word_level ? " " : "";
      S.spans = m.tokens.map((tok, i) => {
        const shown = tok === "\n" ? "⏎\n" : tok;
        const span = el("span", { class: "gen-tok", "data-i": String(i), text: sep + shown });
        span.__tip = `token ${i}: p = ${S.P.str("d_p", i, 4)}`;
        box.append(span);
        return span;
      });
      box.addEventListener("click", (e) => {
        const i = e.target.dataset && e.target.dataset.i;
        if (i != null) S.api.go(+i);
      });
      hoverTips(S, box, ".gen-tok");
      const seg = el("div", { class: "gen-seg", role: "group", "aria-label": "Show the text" });
      S.modeButtons = MODES.map((mode) => {
        const b = el("button", { type: "button", class: "gen-seg-btn", text: mode, "data-mode": mode });
        b.onclick = () => S.api.set({ mode });
        seg.append(b);
        return b;
      });
      S.textBox = box;
      return el("div", { class: "gen-textwrap" }, [el("div", { class: "gen-row-head" }, [el("span", { class: "gen-h4", text: "Show the text" }), seg]), box]);
    }
    function drawText(S, t) {
      const one = S.cursor.mode === MODES[1];
      for (const b of S.modeButtons) b.classList.toggle("on", b.dataset.mode === S.cursor.mode);
      S.spans.forEach((s, i) => {
        const cls = `gen-tok${i === t ? " cur" : ""}${one && i > t ? " gone" : ""}`;
        if (s.className !== cls) s.className = cls;
      });
    }
    // Reads layout, so it runs after every write of the frame: one layout, not two.
    function scrollText(S, t) {
      const span = S.spans[t];
      const box = S.textBox;
      const top = span.offsetTop - box.offsetTop;
      if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - 30) box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }

    // ---- readouts ------------------------------------------------------------------------
    function buildReadouts(S) {
      const box = el("div", { class: "gen-readouts" });
      S.read = {};
      for (const [k, label] of [["tok", "Token drawn"], ["p", "p when drawn"], ["rank", "Rank by logit"], ["bits", "Entropy of p"]]) {
        const value = el("div", { class: "gen-metric-value", "data-testid": `gen-${k}` });
        const name = el("div", { class: "gen-metric-label", text: label });
        S.read[k] = { value, name };
        box.append(el("div", { class: "gen-metric" }, [name, value]));
      }
      return box;
    }
    function drawReadouts(S, t) {
      const P = S.P;
      const m = P.meta;
      S.read.tok.name.textContent = `Token ${t} drawn`;
      S.read.tok.value.textContent = m.shown_tokens[t];
      S.read.p.value.textContent = P.str("d_p", t, 3);
      S.read.rank.value.textContent = `${P.arrays.d_rank[t]} of ${m.vocab.toLocaleString("en-US")}`;
      S.read.bits.value.textContent = `${P.str("entropy", t, 2)} bits`;
    }

    // ---- the pipeline table --------------------------------------------------------------
    function headers(m) {
      const k = m.top_k ? `top-k = ${m.top_k}` : "no top-k";
      return [
        "token",
        "1. logits z (the dense layer's output)",
        m.greedy ? "2. z ÷ T: skipped at T = 0" : `2. z ÷ T (${m.t_text})`,
        `3. ${k}: grey bars are cut (set to −∞; <unk> is never drawn)`,
        m.greedy ? "4. p: all mass on the argmax (T = 0)" : "4. p = softmax; the drawn token in orange",
      ];
    }
    function buildPipeline(S) {
      const m = S.P.meta;
      const K = S.present ? Math.min(PRESENT_ROWS, m.shown) : m.shown;
      S.K = K;
      const grid = el("div", { class: "gen-pipe", "data-testid": "gen-pipeline", role: "table" });
      const head = headers(m).map((h, i) => el("div", { class: `gen-head gen-col${i}`, role: "columnheader", text: h }));
      grid.append(...head);
      S.pscale = el("span", { class: "gen-scale" });
      head[4].append(" ", S.pscale);
      S.rows = [];
      for (let j = 0; j <= K; j++) {
        const label = el("div", { class: "gen-label", role: "rowheader" });
        const cells = [1, 2, 3, 4].map((c) => {
          const bar = el("span", { class: "gen-bar" });
          const tick = c === 4 ? el("span", { class: "gen-tick", title: "" }) : null;
          const zero = c < 4 ? el("span", { class: "gen-zero" }) : null;
          const value = el("span", { class: "gen-value" });
          const track = el("span", { class: "gen-track" }, [zero, bar, tick]);
          const cell = el("div", { class: `gen-cell gen-col${c}`, role: "cell" }, [track, value]);
          if (c === 1) grid.append(label);
          grid.append(cell);
          return { cell, bar, tick, zero, value };
        });
        S.rows.push({ label, cells });
      }
      hoverTips(S, grid, ".gen-cell, .gen-label");
      const key = el("div", { class: "gen-legend", "data-testid": "gen-legend" }, [
        el("span", { class: "gen-key" }, [el("span", { class: "gen-swatch", style: "background:var(--arp-accent)" }), "kept, sampled from"]),
        el("span", { class: "gen-key" }, [el("span", { class: "gen-swatch", style: "background:var(--arp-highlight)" }), "the drawn token"]),
        el("span", { class: "gen-key" }, [el("span", { class: "gen-swatch gen-cut" }), "cut by top-k or never drawn"]),
        el("span", { class: "gen-key", "data-testid": "gen-legend-t1" }, [el("span", { class: "gen-swatch-tick" }), "p at T = 1: softmax(z), before ÷ T and top-k"]),
      ]);
      return card("One draw, stage by stage", "gen-pipe-card", grid, key);
    }
    function pipelineRows(S, t) {
      const P = S.P;
      const m = P.meta;
      const K = S.K;
      const base = t * m.shown;
      const rows = [];
      const drawnId = P.arrays.ids[t];
      for (let j = 0; j < K; j++) {
        const i = base + j;
        rows.push({ id: P.arrays.top[i], get: (name) => ({ v: P.num(name, i), s: (d) => P.str(name, i, d) }), kept: P.arrays.kept[i] === 1 });
      }
      const rank = P.arrays.d_rank[t];
      if (rank > K) rows.push({ id: drawnId, rank, get: (name) => ({ v: P.num(`d_${name}`, t), s: (d) => P.str(`d_${name}`, t, d) }), kept: P.arrays.d_kept[t] === 1 });
      return rows;
    }
    function setText(node, text) {
      if (node.textContent !== text) node.textContent = text;
    }
    function placeSigned(part, v, lo, hi) {
      const f = (x) => (100 * (x - lo)) / (hi - lo || 1);
      const a = Math.min(f(0), f(v));
      part.bar.style.left = `${a}%`;
      part.bar.style.width = `${Math.max(0.3, Math.abs(f(v) - f(0)))}%`;
      part.zero.style.left = `${f(0)}%`;
    }
    function drawPipeline(S, t) {
      const P = S.P;
      const m = P.meta;
      const rows = pipelineRows(S, t);
      const drawnId = P.arrays.ids[t];
      let zlo = 0;
      let zhi = 0;
      let slo = 0;
      let shi = 0;
      let pmax = 0;
      for (const r of rows) {
        const z = r.get("z").v;
        const s = r.get("zt").v;
        zlo = Math.min(zlo, z);
        zhi = Math.max(zhi, z);
        slo = Math.min(slo, s);
        shi = Math.max(shi, s);
        pmax = Math.max(pmax, r.get("p").v, r.get("p1").v);
      }
      pmax = Math.min(1, niceCeil(pmax * 1.08));
      S.pscale.textContent = `(bars from 0 to ${pmax})`;
      S.rows.forEach((row, j) => {
        const r = rows[j];
        const hidden = !r;
        row.label.hidden = hidden;
        for (const c of row.cells) c.cell.hidden = hidden;
        if (hidden) return;
        const label = m.labels[r.id];
        const drawn = r.id === drawnId;
        row.label.textContent = r.rank ? `${label} (rank ${r.rank})` : label;
        row.label.classList.toggle("drawn", drawn);
        row.label.classList.toggle("extra", !!r.rank);
        const z = r.get("z");
        const zt = r.get("zt");
        const p = r.get("p");
        const p1 = r.get("p1");
        const [c1, c2, c3, c4] = row.cells;
        placeSigned(c1, z.v, zlo, zhi);
        setText(c1.value, z.s(2));
        placeSigned(c2, zt.v, slo, shi);
        setText(c2.value, zt.s(2));
        placeSigned(c3, zt.v, slo, shi);
        setText(c3.value, r.kept ? zt.s(2) : "−∞");
        c3.bar.classList.toggle("cut", !r.kept);
        c4.bar.style.left = "0";
        c4.bar.style.width = `${(100 * p.v) / pmax}%`;
        c4.bar.classList.toggle("drawn", drawn);
        c4.tick.style.left = `${(100 * p1.v) / pmax}%`;
        setText(c4.value, p.s(3));
        for (const c of row.cells) c.cell.classList.toggle("extra", !!r.rank);
        const tip = `${label}${drawn ? " (drawn)" : ""}\nz = ${z.s(4)}\nz/T = ${zt.s(4)}${r.kept ? "" : " (cut: outside the top k, or never drawn)"}\np = ${p.s(4)}\np at T = 1: ${p1.s(4)}`;
        row.label.__tip = tip;
        for (const c of row.cells) c.cell.__tip = tip;
      });
    }

    // ---- the same logits at three temperatures -------------------------------------------
    function buildTemps(S) {
      const m = S.P.meta;
      const M = m.temp_shown;
      const cols = el("div", { class: "gen-temps", "data-testid": "gen-temps" });
      S.temps = m.temperatures.map((T, c) => {
        const title = el("div", { class: "gen-card-title" });
        const rows = [];
        const body = el("div", { class: "gen-tbars" });
        for (let j = 0; j < M; j++) {
          const label = el("span", { class: "gen-tlabel" });
          const bar = el("span", { class: "gen-bar" });
          const value = el("span", { class: "gen-value" });
          const row = el("div", { class: "gen-trow" }, [label, el("span", { class: "gen-track" }, [bar]), value]);
          body.append(row);
          rows.push({ row, label, bar, value });
        }
        hoverTips(S, body, ".gen-trow");
        cols.append(el("div", { class: "gen-card", "data-testid": `gen-temp-${c}` }, [title, body]));
        return { T, title, rows };
      });
      return el("div", {}, [
        el("div", { class: "gen-h3", text: "The same logits at three temperatures" }),
        cols,
        el("div", { class: "gen-caption", text: "Low temperature: safe, repetitive text. High temperature: surprising, then broken text. The order of the tokens never changes; only how sharply the mass is shared. Bars run from 0 to 1." }),
      ]);
    }
    function drawTemps(S, t) {
      const P = S.P;
      const m = P.meta;
      const M = m.temp_shown;
      const C = m.temperatures.length;
      const drawnId = P.arrays.ids[t];
      S.temps.forEach((panel, c) => {
        panel.title.textContent = `T = ${panel.T}: entropy ${P.str("temp_h", t * C + c, 2)} bits`;
        panel.rows.forEach((r, j) => {
          const i = (t * C + c) * M + j;
          const id = P.arrays.top[t * m.shown + j];
          const label = m.labels[id];
          r.label.textContent = label;
          r.bar.style.width = `${100 * P.num("temp_p", i)}%`;
          r.row.classList.toggle("drawn", id === drawnId);
          r.value.textContent = P.str("temp_p", i, 3);
          r.row.__tip = `${label}: p = ${P.str("temp_p", i, 4)} at T = ${panel.T}`;
        });
      });
    }

    // ---- how likely each drawn token was -------------------------------------------------
    const DV = { w: 900, h: 190, l: 44, r: 10, t: 10, b: 38 };
    function buildDrawn(S) {
      const P = S.P;
      const N = P.meta.n_steps;
      const pw = DV.w - DV.l - DV.r;
      const ph = DV.h - DV.t - DV.b;
      const x = (i) => DV.l + (i / N) * pw;
      const y = (p) => DV.t + ph - p * ph;
      const root = svg("svg", { viewBox: `0 0 ${DV.w} ${DV.h}`, class: "gen-chart", "data-testid": "gen-drawn-chart" });
      for (const v of [0, 0.5, 1]) {
        root.append(svg("line", { x1: DV.l, x2: DV.w - DV.r, y1: y(v), y2: y(v), class: "gen-grid" }));
        root.append(svg("text", { x: DV.l - 6, y: y(v) + 5, class: "gen-tick-label", "text-anchor": "end", text: String(v) }));
      }
      const every = niceCeil(N / 10);
      for (let i = 0; i < N; i += every) root.append(svg("text", { x: x(i + 0.5), y: DV.h - DV.b + 18, class: "gen-tick-label", "text-anchor": "middle", text: String(i) }));
      root.append(svg("text", { x: DV.l + pw / 2, y: DV.h - 3, class: "gen-axis", "text-anchor": "middle", text: "generated token" }));
      root.append(svg("text", { x: 12, y: DV.t + ph / 2, class: "gen-axis", "text-anchor": "middle", transform: `rotate(-90 12 ${DV.t + ph / 2})`, text: "p when drawn" }));
      let d = "";
      const bw = Math.max(0.5, (pw / N) * 0.8);
      for (let i = 0; i < N; i++) {
        const p = P.num("d_p", i);
        d += `M${(x(i) + (pw / N) * 0.1).toFixed(2)},${y(0).toFixed(2)}v${(y(p) - y(0)).toFixed(2)}h${bw.toFixed(2)}v${(y(0) - y(p)).toFixed(2)}z`;
      }
      root.append(svg("path", { d, class: "gen-pbars" }));
      const cur = svg("rect", { class: "gen-pcur", width: bw.toFixed(2) });
      root.append(cur);
      const at = (e) => {
        const r = root.getBoundingClientRect();
        const mx = ((e.clientX - r.left) / r.width) * DV.w;
        const i = Math.floor(((mx - DV.l) / pw) * N);
        return i >= 0 && i < N ? i : null;
      };
      root.addEventListener("mousemove", (e) => {
        const i = at(e);
        if (i == null) return S.api.tip.hide();
        S.api.tip.show(e, `token ${i}: ${P.meta.shown_tokens[i]}\np = ${P.str("d_p", i, 4)}`);
      });
      root.addEventListener("mouseleave", () => S.api.tip.hide());
      root.addEventListener("click", (e) => {
        const i = at(e);
        if (i != null) S.api.go(i);
      });
      S.drawn = { cur, x, y, pw, N };
      return card("How likely each drawn token was", "gen-drawn", root);
    }
    function drawDrawn(S, t) {
      if (!S.drawn) return;
      const { cur, x, y, pw, N } = S.drawn;
      const p = S.P.num("d_p", t);
      cur.setAttribute("x", (x(t) + (pw / N) * 0.1).toFixed(2));
      cur.setAttribute("y", y(p).toFixed(2));
      cur.setAttribute("height", Math.max(1, y(0) - y(p)).toFixed(2));
    }

    // ---- mount and render ----------------------------------------------------------------
    function mount(root, P, options, api) {
      const S = { P, api, options, present: !!options.presenter };
      root.__gen = S;
      const c = options.cursor;
      if (!MODES.includes(c.mode)) c.mode = MODES[0];
      root.classList.add("gen");
      root.classList.toggle("gen-present", S.present);
      root.append(buildText(S), buildReadouts(S), buildPipeline(S), buildTemps(S));
      if (!S.present) root.append(buildDrawn(S));
    }
    function render(root, P, t, options) {
      const S = root.__gen;
      S.cursor = options.cursor;
      drawText(S, t);
      drawReadouts(S, t);
      drawPipeline(S, t);
      drawTemps(S, t);
      drawDrawn(S, t);
      scrollText(S, t);
    }
    return {
      label: "Generated token",
      stepName: (P, t) => `draws ${P.meta.shown_tokens[t]}`,
      mount,
      render,
    };
  })()
);
