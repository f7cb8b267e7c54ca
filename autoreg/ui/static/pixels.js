// Generate pixels, replayed in the browser: the raster order one pixel at a time.
//
// Reads a replay payload (autoreg/pixelcnn/replay.py). Step s means "after s pixels were
// drawn" (step 0 is the start): the image at step s is the start with the first s
// positions of the raster order taken from the batch as it ended. At each step the view
// draws, for the sample shown large, the image so far with the current pixel and the
// receptive-field tint of that pixel (the stencil moved onto it), the pixel's
// distribution over the levels, the entropy map of the pixels drawn so far, and the
// whole batch. The payload may grow while the server still generates (same id).

registerView(
  "pixels",
  (() => {
    const { el, svg } = LIB;
    const BLANK = [233, 236, 239]; // not generated yet

    function card(title, testid, body, extra) {
      return el("div", { class: "pix-card", "data-testid": testid }, [el("div", { class: "pix-card-title" }, [title]), body, extra || null]);
    }
    function computed(P) {
      return P.specs.probs.shape[0];
    }
    function reader(P) {
      const m = P.meta;
      const size = m.size;
      const N = size * size;
      const pos = P.arrays.pos;
      const stepOf = new Int32Array(N); // 1-based step that draws (r, c); 0: given everywhere
      for (let k = 0; k < pos.length / 2; k++) stepOf[pos[2 * k] * size + pos[2 * k + 1]] = k + 1;
      return {
        size,
        N,
        n: m.n,
        L: m.levels,
        stepOf,
        at(k) {
          return [pos[2 * k], pos[2 * k + 1]];
        },
        // the pixel shown at step s: the s-th drawn, or the first to draw at the start
        current(s) {
          const total = pos.length / 2;
          if (!total) return null;
          return this.at(Math.max(0, Math.min(total, s) - 1));
        },
        // levels of image f after s steps (-1 = not there yet) into out (Int16Array N)
        image(f, s, out) {
          const o = f * N;
          const known = P.arrays.known;
          const img0 = P.arrays.image0;
          const fin = P.arrays.final;
          for (let i = 0; i < N; i++) out[i] = known[o + i] ? img0[o + i] : -1;
          for (let k = 0; k < s; k++) {
            const i = pos[2 * k] * size + pos[2 * k + 1];
            out[i] = fin[o + i];
          }
          return out;
        },
      };
    }
    function grey(level, L) {
      return Math.round((level * 255) / Math.max(1, L - 1));
    }
    function paint(image, levels, L, offset, width) {
      // levels (N) -> RGBA into image at tile offset (x0, y0) of a wider canvas
      const px = image.data;
      const size = Math.sqrt(levels.length) | 0;
      const [x0, y0] = offset;
      for (let r = 0; r < size; r++) {
        for (let c = 0; c < size; c++) {
          const v = levels[r * size + c];
          const o = 4 * ((y0 + r) * width + x0 + c);
          if (v < 0) {
            px[o] = BLANK[0];
            px[o + 1] = BLANK[1];
            px[o + 2] = BLANK[2];
          } else {
            px[o] = px[o + 1] = px[o + 2] = grey(v, L);
          }
          px[o + 3] = 255;
        }
      }
    }
    // the border of a boolean region (N cells) as one SVG path along pixel edges
    function outline(mask, size) {
      let d = "";
      const on = (r, c) => r >= 0 && c >= 0 && r < size && c < size && mask[r * size + c];
      for (let r = 0; r < size; r++) {
        for (let c = 0; c < size; c++) {
          if (!on(r, c)) continue;
          if (!on(r - 1, c)) d += `M${c},${r}h1`;
          if (!on(r + 1, c)) d += `M${c},${r + 1}h1`;
          if (!on(r, c - 1)) d += `M${c},${r}v1`;
          if (!on(r, c + 1)) d += `M${c + 1},${r}v1`;
        }
      }
      return d;
    }
    function cellAt(node, e, size) {
      const r = node.getBoundingClientRect();
      const c = Math.floor(((e.clientX - r.left) / r.width) * size);
      const row = Math.floor(((e.clientY - r.top) / r.height) * size);
      return row >= 0 && c >= 0 && row < size && c < size ? [row, c] : null;
    }

    // ---- the image so far ------------------------------------------------------------------
    function buildImage(S) {
      const { size } = S.R;
      const canvas = el("canvas", { class: "pix-canvas", width: String(size), height: String(size), "data-testid": "pix-image" });
      const sv = svg("svg", { class: "pix-overlay", viewBox: `0 0 ${size} ${size}`, preserveAspectRatio: "none" });
      const tint = svg("path", { class: "pix-field" });
      const fieldLine = svg("path", { class: "pix-field-line" });
      const known = svg("path", { class: "pix-known" });
      const cur = svg("rect", { class: "pix-cur", width: 1, height: 1 });
      sv.append(tint, fieldLine, known, cur);
      const frame = el("div", { class: "pix-frame" }, [canvas, sv]);
      frame.addEventListener("mousemove", (e) => {
        const hit = cellAt(frame, e, size);
        if (!hit) return S.api.tip.hide();
        const [r, c] = hit;
        const i = r * size + c;
        const v = S.levels[i];
        const given = S.P.arrays.known[S.focus * S.R.N + i];
        const what = v < 0 ? "not generated yet" : `level ${v}${given ? " (given)" : ""}`;
        const k = S.R.stepOf[i];
        S.api.tip.show(e, `row ${r}, col ${c}\n${what}${k ? `\ndrawn at step ${k} (click to go there)` : ""}`);
      });
      frame.addEventListener("mouseleave", () => S.api.tip.hide());
      frame.addEventListener("click", (e) => {
        const hit = cellAt(frame, e, size);
        if (!hit) return;
        const k = S.R.stepOf[hit[0] * size + hit[1]];
        if (k && k <= computed(S.P)) S.api.go(k);
      });
      S.img = { canvas, ctx: canvas.getContext("2d"), data: new ImageData(size, size), tint, fieldLine, known, cur, knownFor: -1 };
      S.imgTitle = el("span");
      const legend = el("div", { class: "pix-legend" }, [
        el("span", { class: "pix-key" }, [el("span", { class: "pix-swatch pix-sw-field" }), "the context it can see (receptive field, by autograd)"]),
        el("span", { class: "pix-key" }, [el("span", { class: "pix-swatch pix-sw-cur" }), "the current pixel"]),
        el("span", { class: "pix-key" }, [el("span", { class: "pix-swatch pix-sw-known" }), "given by the start (inside the blue line)"]),
      ]);
      return card(S.imgTitle, "pix-image-card", frame, legend);
    }
    function drawImage(S, t) {
      const { size, N } = S.R;
      const f = S.focus;
      const m = S.P.meta;
      paint(S.img.data, S.levels, m.levels, [0, 0], size);
      S.img.ctx.putImageData(S.img.data, 0, 0);
      const cur = S.R.current(t);
      if (S.img.knownFor !== f) {
        const mask = S.P.arrays.known.subarray(f * N, (f + 1) * N);
        S.img.known.setAttribute("d", outline(mask, size));
        S.img.knownFor = f;
      }
      if (!cur) {
        S.img.cur.style.display = "none";
        S.img.tint.setAttribute("d", "");
        S.img.fieldLine.setAttribute("d", "");
        return;
      }
      const [r, c] = cur;
      S.img.cur.style.display = "";
      S.img.cur.setAttribute("x", c);
      S.img.cur.setAttribute("y", r);
      // the stencil's centre lands on (r, c); cut at the borders (FieldStencil.at)
      const F = S.P.specs.field.shape[0];
      const field = S.P.arrays.field;
      const k = m.centre;
      const mask = S.fieldMask;
      mask.fill(0);
      let d = "";
      let count = 0;
      for (let a = 0; a < F; a++) {
        const rr = r + a - k;
        if (rr < 0 || rr >= size) continue;
        for (let b = 0; b < F; b++) {
          const cc = c + b - k;
          if (cc < 0 || cc >= size || !field[a * F + b]) continue;
          mask[rr * size + cc] = 1;
          d += `M${cc},${rr}h1v1h-1z`;
          count += 1;
        }
      }
      S.img.tint.setAttribute("d", d);
      S.img.fieldLine.setAttribute("d", outline(mask, size));
      S.root.dataset.field = String(count);
      const step = t ? `pixel (${r}, ${c})` : `next: pixel (${r}, ${c})`;
      S.imgTitle.textContent = `sample ${f}: ${step} · click a pixel to go to it`;
    }

    // ---- the current pixel's distribution over the levels ----------------------------------
    const BV = { w: 330, h: 240, l: 44, r: 8, t: 26, b: 44 };
    function buildProbs(S) {
      const L = S.R.L;
      const names = S.P.meta.level_names;
      const pw = BV.w - BV.l - BV.r;
      const ph = BV.h - BV.t - BV.b;
      const y = (p) => BV.t + ph - p * ph;
      const root = svg("svg", { viewBox: `0 0 ${BV.w} ${BV.h}`, class: "pix-chart", "data-testid": "pix-probs" });
      for (const v of [0, 0.25, 0.5, 0.75, 1]) {
        root.append(svg("line", { x1: BV.l, x2: BV.w - BV.r, y1: y(v), y2: y(v), class: "pix-grid" }));
        root.append(svg("text", { x: BV.l - 6, y: y(v) + 5, class: "pix-tick", "text-anchor": "end", text: String(v) }));
      }
      root.append(svg("text", { x: 12, y: BV.t + ph / 2, class: "pix-axis", "text-anchor": "middle", transform: `rotate(-90 12 ${BV.t + ph / 2})`, text: "probability" }));
      const bw = pw / L;
      const bars = [];
      for (let l = 0; l < L; l++) {
        const x = BV.l + l * bw + bw * 0.15;
        const rect = svg("rect", { x: x.toFixed(2), width: (bw * 0.7).toFixed(2), class: "pix-bar", "data-l": String(l) });
        const value = svg("text", { x: (x + bw * 0.35).toFixed(2), class: "pix-bar-value", "text-anchor": "middle" });
        root.append(rect, value);
        root.append(svg("text", { x: (x + bw * 0.35).toFixed(2), y: BV.h - BV.b + 20, class: "pix-tick", "text-anchor": "middle", text: names[l] }));
        bars.push({ rect, value });
      }
      root.append(svg("text", { x: BV.l + pw / 2, y: BV.h - 4, class: "pix-axis", "text-anchor": "middle", text: "level (orange = drawn)" }));
      const note = el("div", { class: "pix-note", "data-testid": "pix-probs-note" });
      root.addEventListener("mousemove", (e) => {
        const l = e.target.dataset && e.target.dataset.l;
        if (l == null || !S.probsAt) return S.api.tip.hide();
        S.api.tip.show(e, `${names[+l]}: p = ${S.P.str("probs", S.probsAt + +l, 4)}`);
      });
      root.addEventListener("mouseleave", () => S.api.tip.hide());
      S.bars = { bars, y, note, root };
      S.probsTitle = el("span");
      return card(S.probsTitle, "pix-probs-card", el("div", {}, [note, root]));
    }
    function drawProbs(S, t) {
      const { bars, y, note, root } = S.bars;
      const m = S.P.meta;
      const L = S.R.L;
      const cur = S.R.current(t);
      const f = S.focus;
      if (!t || !cur) {
        note.hidden = false;
        note.textContent = cur ? `Next: pixel (${cur[0]}, ${cur[1]}). Press Play or →.` : "Nothing to draw.";
        root.style.visibility = "hidden";
        S.probsTitle.textContent = `p(level), T = ${m.temperature}`;
        S.probsAt = null;
        return;
      }
      note.hidden = true;
      root.style.visibility = "";
      const base = ((t - 1) * S.R.n + f) * L;
      S.probsAt = base;
      const drawn = S.levels[cur[0] * S.R.size + cur[1]];
      const given = S.P.arrays.known[f * S.R.N + cur[0] * S.R.size + cur[1]];
      S.probsTitle.textContent = `p(level) at (${cur[0]}, ${cur[1]}), T = ${m.temperature}${given ? " (given in this sample: kept)" : ""}`;
      for (let l = 0; l < L; l++) {
        const p = S.P.num("probs", base + l);
        const b = bars[l];
        b.rect.setAttribute("y", y(p).toFixed(2));
        b.rect.setAttribute("height", Math.max(0, y(0) - y(p)).toFixed(2));
        b.rect.classList.toggle("drawn", l === drawn && !given);
        b.value.setAttribute("y", (y(p) - 6).toFixed(2));
        b.value.textContent = S.P.str("probs", base + l, 2);
      }
    }

    // ---- the entropy map ---------------------------------------------------------------------
    function buildEntropy(S) {
      const { size } = S.R;
      const canvas = el("canvas", { class: "pix-canvas", width: String(size), height: String(size), "data-testid": "pix-entropy" });
      const sv = svg("svg", { class: "pix-overlay", viewBox: `0 0 ${size} ${size}`, preserveAspectRatio: "none" });
      const cur = svg("rect", { class: "pix-cur", width: 1, height: 1 });
      sv.append(cur);
      const frame = el("div", { class: "pix-frame pix-frame-small" }, [canvas, sv]);
      frame.addEventListener("mousemove", (e) => {
        const hit = cellAt(frame, e, size);
        if (!hit) return S.api.tip.hide();
        const [r, c] = hit;
        const k = S.entStep[r * size + c];
        const text = k ? `entropy ${S.P.str("entropy", (k - 1) * S.R.n + S.focus, 3)} bits` : S.P.arrays.known[S.focus * S.R.N + r * size + c] ? "given, not drawn" : "not drawn yet";
        S.api.tip.show(e, `row ${r}, col ${c}\n${text}`);
      });
      frame.addEventListener("mouseleave", () => S.api.tip.hide());
      const c = S.api.colours;
      const stops = [];
      for (let i = 0; i <= 10; i++) stops.push(`${c.seqCss(i / 10)} ${i * 10}%`);
      const max = S.P.meta.max_bits;
      const legend = el("div", { class: "pix-colorbar", "data-testid": "pix-entropy-legend" }, [
        el("span", { text: "0 bits" }),
        el("span", { class: "pix-colorbar-bar", style: `background: linear-gradient(90deg, ${stops.join(",")})` }),
        el("span", { text: `${+max.toFixed(3)} bits (log₂ ${S.R.L})` }),
      ]);
      S.ent = { canvas, ctx: canvas.getContext("2d"), data: new ImageData(size, size), cur };
      S.entStep = new Int32Array(size * size);
      return card("Entropy of each drawn pixel", "pix-entropy-card", frame, legend);
    }
    function drawEntropy(S, t) {
      const { size, N, n } = S.R;
      const f = S.focus;
      const known = S.P.arrays.known;
      const ent = S.P.arrays.entropy;
      const max = S.P.meta.max_bits;
      const seq = S.api.colours.seq;
      const px = S.ent.data.data;
      const steps = S.entStep;
      steps.fill(0);
      for (let k = 0; k < t; k++) {
        const [r, c] = S.R.at(k);
        const i = r * size + c;
        if (!known[f * N + i]) steps[i] = k + 1;
      }
      for (let i = 0; i < N; i++) {
        const o = 4 * i;
        const k = steps[i];
        if (!k) {
          px[o] = BLANK[0];
          px[o + 1] = BLANK[1];
          px[o + 2] = BLANK[2];
        } else {
          const j = Math.max(0, Math.min(255, Math.round((ent[(k - 1) * n + f] / max) * 255)));
          px[o] = seq[3 * j];
          px[o + 1] = seq[3 * j + 1];
          px[o + 2] = seq[3 * j + 2];
        }
        px[o + 3] = 255;
      }
      S.ent.ctx.putImageData(S.ent.data, 0, 0);
      const cur = S.R.current(t);
      S.ent.cur.style.display = cur && t ? "" : "none";
      if (cur) {
        S.ent.cur.setAttribute("x", cur[1]);
        S.ent.cur.setAttribute("y", cur[0]);
      }
    }

    // ---- the batch -----------------------------------------------------------------------------
    function buildGrid(S) {
      const { size, n } = S.R;
      const cols = Math.ceil(Math.sqrt(n));
      const rows = Math.ceil(n / cols);
      const W = cols * (size + 1) - 1;
      const H = rows * (size + 1) - 1;
      const canvas = el("canvas", { class: "pix-canvas", width: String(W), height: String(H), "data-testid": "pix-grid" });
      const focus = el("div", { class: "pix-focus" });
      const frame = el("div", { class: "pix-gridframe" }, [canvas, focus]);
      frame.style.aspectRatio = `${W} / ${H}`;
      const data = new ImageData(W, H);
      data.data.fill(255);
      const tileAt = (e) => {
        const r = canvas.getBoundingClientRect();
        const x = Math.floor(((e.clientX - r.left) / r.width) * W);
        const y = Math.floor(((e.clientY - r.top) / r.height) * H);
        const i = Math.floor(y / (size + 1)) * cols + Math.floor(x / (size + 1));
        return i >= 0 && i < n ? i : null;
      };
      frame.addEventListener("mousemove", (e) => {
        const i = tileAt(e);
        if (i == null) return S.api.tip.hide();
        S.api.tip.show(e, `sample ${i} (click to show it large)`);
      });
      frame.addEventListener("mouseleave", () => S.api.tip.hide());
      frame.addEventListener("click", (e) => {
        const i = tileAt(e);
        if (i != null) S.api.set({ focus: i });
      });
      S.grid = { canvas, ctx: canvas.getContext("2d"), data, focus, cols, W, H, tmp: new Int16Array(size * size) };
      const m = S.P.meta;
      return card(`The batch: ${n} samples, seed ${m.seed} · click one to show it large`, "pix-grid-card", frame);
    }
    function drawGrid(S, t) {
      const { size, n } = S.R;
      const g = S.grid;
      for (let i = 0; i < n; i++) {
        const levels = i === S.focus ? S.levels : S.R.image(i, t, g.tmp);
        const r = Math.floor(i / g.cols);
        const c = i % g.cols;
        paint(g.data, levels, S.R.L, [c * (size + 1), r * (size + 1)], g.W);
      }
      g.ctx.putImageData(g.data, 0, 0);
      const r = Math.floor(S.focus / g.cols);
      const c = S.focus % g.cols;
      g.focus.style.left = `${(100 * c * (size + 1)) / g.W}%`;
      g.focus.style.top = `${(100 * r * (size + 1)) / g.H}%`;
      g.focus.style.width = `${(100 * size) / g.W}%`;
      g.focus.style.height = `${(100 * size) / g.H}%`;
    }

    // ---- readouts ------------------------------------------------------------------------------
    function buildReadouts(S) {
      const box = el("div", { class: "pix-readouts" });
      S.read = {};
      for (const [k, label] of [["pixel", "Pixel"], ["level", "Drawn level"], ["p", "p(drawn level)"], ["bits", "Entropy"]]) {
        const v = el("div", { class: "pix-metric-value", "data-testid": `pix-${k}` });
        S.read[k] = v;
        box.append(el("div", { class: "pix-metric" }, [el("div", { class: "pix-metric-label", text: label }), v]));
      }
      S.progress = el("div", { class: "pix-progress", "data-testid": "pix-progress" });
      return el("div", {}, [box, S.progress]);
    }
    function drawReadouts(S, t) {
      const m = S.P.meta;
      const cur = S.R.current(t);
      const f = S.focus;
      const S_ = computed(S.P);
      S.progress.textContent = `Pixels drawn: ${t} of ${m.total}` + (S_ < m.total ? ` · computed so far: ${S_}${m.stopped ? " (stopped)" : ""}` : "");
      if (!t || !cur) {
        S.read.pixel.textContent = cur ? `next (${cur[0]}, ${cur[1]})` : "–";
        S.read.level.textContent = S.read.p.textContent = S.read.bits.textContent = "–";
        return;
      }
      const i = cur[0] * S.R.size + cur[1];
      S.read.pixel.textContent = `(${cur[0]}, ${cur[1]})`;
      if (S.P.arrays.known[f * S.R.N + i]) {
        S.read.level.textContent = `${m.level_names[S.levels[i]]} (given)`;
        S.read.p.textContent = S.read.bits.textContent = "–";
        return;
      }
      const level = S.levels[i];
      S.read.level.textContent = m.level_names[level];
      S.read.p.textContent = S.P.str("probs", ((t - 1) * S.R.n + f) * S.R.L + level, 3);
      S.read.bits.textContent = `${S.P.str("entropy", (t - 1) * S.R.n + f, 3)} bits`;
    }

    // ---- mount and render ----------------------------------------------------------------------
    function mount(root, P, options, api) {
      const S = { P, api, options, root, present: !!options.presenter };
      root.__pix = S;
      S.R = reader(P);
      const c = options.cursor;
      c.focus = Math.max(0, Math.min(S.R.n - 1, +c.focus || 0));
      S.levels = new Int16Array(S.R.N);
      S.fieldMask = new Uint8Array(S.R.N);
      root.classList.add("pix");
      root.classList.toggle("pix-present", S.present);
      // presenter mode: the readouts go beside the image, so the image is on the first screen
      const readouts = buildReadouts(S);
      const right = el("div", { class: "pix-side" }, [S.present ? readouts : null, buildProbs(S), buildEntropy(S)]);
      if (!S.present) root.append(readouts);
      root.append(el("div", { class: "pix-main" }, [buildImage(S), right]), buildGrid(S));
    }
    function render(root, P, t, options) {
      const S = root.__pix;
      S.P = P;
      S.cursor = options.cursor;
      S.focus = Math.max(0, Math.min(S.R.n - 1, +S.cursor.focus || 0));
      S.R.image(S.focus, t, S.levels);
      drawReadouts(S, t);
      drawImage(S, t);
      drawProbs(S, t);
      drawEntropy(S, t);
      drawGrid(S, t);
    }
    return {
      label: "Pixels drawn",
      stepName: (P, t) => {
        if (!t) return "the start";
        const pos = P.arrays.pos;
        return `pixel (${pos[2 * (t - 1)]}, ${pos[2 * (t - 1) + 1]})`;
      },
      mount,
      render,
    };
  })()
);
