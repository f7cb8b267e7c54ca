// The autoreg player: one in-browser stepper shared by every stepping view of the app.
//
// Python (autoreg/ui/player.py) sends a payload once (autoreg/seq/payload.py: a JSON
// header and little-endian typed arrays) plus options; from then on everything that
// moves a cursor runs here: previous/next, the arrow keys, Home/End, play/pause with a
// speed, and the slider, whose dragging redraws on every animation frame. Each draw
// calls the view's renderer:
//
//   registerView("step", {
//     label: "Step (token index)",          // the slider's name
//     mount(root, payload, options, api) {}, // build the DOM once per payload
//     render(root, payload, t, options) {},  // draw step t: cheap, synchronous
//   });
//
// The server hears the cursor only to keep the URL true: every draw dispatches an
// "arp:report" window event that the player's channel component (channel.js, in a
// small st.fragment) forwards, debounced, as its state; parts of a payload the view
// asks for (api.need) come back through the same channel as "arp:data" events.
// This file ends without an export; Python appends the views and
// `export default mountPlayer;` (in the app) or a call to mountPlayer (in a saved file).

const VIEWS = {};
function registerView(name, view) {
  VIEWS[name] = view;
}

// ---------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------

const CTORS = { u1: Uint8Array, i2: Int16Array, i4: Int32Array, f4: Float32Array, f8: Float64Array };
const DECODER = new TextDecoder();

function magic(u8, text) {
  for (let i = 0; i < 4; i++) if (u8[i] !== text.charCodeAt(i)) return false;
  return true;
}

// A payload blob -> {meta, arrays: name -> typed array, specs: name -> {dtype, shape, scale}}.
function decode(bytes) {
  let u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.byteOffset % 8) u8 = u8.slice(); // typed views need aligned offsets
  if (!magic(u8, "ARP1")) throw new Error("not a player payload");
  const n = new DataView(u8.buffer, u8.byteOffset, 8).getUint32(4, true);
  const header = JSON.parse(DECODER.decode(u8.subarray(8, 8 + n)));
  const start = u8.byteOffset + 8 + n + ((8 - ((8 + n) % 8)) % 8);
  const arrays = {};
  for (const [name, spec] of Object.entries(header.arrays)) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    arrays[name] = new CTORS[spec.dtype](u8.buffer, start + spec.offset, count);
  }
  return { meta: header.meta, arrays, specs: header.arrays };
}

// What Python's mount sends: "ARPO" | u32 n | options JSON | pad to 8 | payload blob.
function splitData(bytes) {
  let u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.byteOffset % 8) u8 = u8.slice();
  if (!magic(u8, "ARPO")) throw new Error("not a player mount");
  const n = new DataView(u8.buffer, u8.byteOffset, 8).getUint32(4, true);
  const options = JSON.parse(DECODER.decode(u8.subarray(8, 8 + n)));
  const start = 8 + n + ((8 - ((8 + n) % 8)) % 8);
  return { options, blob: u8.subarray(start) };
}

// Accessors views use: exact values and the exact strings that are printed.
function payloadApi(p) {
  p.has = (name) => name in p.arrays;
  p.scale = (name) => (p.specs[name] && p.specs[name].scale) || 0;
  p.num = (name, i) => {
    const s = p.scale(name);
    const v = p.arrays[name][i];
    return s ? v / s : v;
  };
  // The printed form of element i: quantised arrays print their own digits exactly.
  p.str = (name, i, decimals, plus = false) => {
    const s = p.scale(name);
    const v = p.arrays[name][i];
    if (s && Math.round(Math.log10(s)) === decimals) return fmtInt(v, decimals, plus);
    return fmt(s ? v / s : v, decimals, plus);
  };
  return p;
}

function mergeInto(p, part) {
  for (const [name, a] of Object.entries(part.arrays)) {
    p.arrays[name] = a;
    p.specs[name] = part.specs[name];
  }
}

// ---------------------------------------------------------------------------------------
// Exact formatting (as Python's format(): the binary value rounded, halves to even)
// ---------------------------------------------------------------------------------------

const F64 = new DataView(new ArrayBuffer(8));

function digits(q, decimals) {
  let s = q.toString();
  if (decimals === 0) return s;
  s = s.padStart(decimals + 1, "0");
  return s.slice(0, -decimals) + "." + s.slice(-decimals);
}

// An integer n standing for n / 10**decimals.
function fmtInt(n, decimals, plus = false) {
  const neg = n < 0;
  const body = digits(BigInt(Math.abs(n)), decimals);
  if (n === 0) return (plus ? "+" : "") + body;
  return (neg ? "-" : plus ? "+" : "") + body;
}

// Any double, rounded exactly: x = m * 2**e, and m * 10**d * 2**e is rounded in BigInt.
function fmt(x, decimals, plus = false) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const neg = x < 0;
  F64.setFloat64(0, Math.abs(x));
  const hi = F64.getUint32(0);
  const lo = F64.getUint32(4);
  let e = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (e === 0) e = 1;
  else m |= 1n << 52n;
  e -= 1075;
  let num = m * 10n ** BigInt(decimals);
  let den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  let q = num / den;
  const twice = 2n * (num % den);
  if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  const body = digits(q, decimals);
  if (q === 0n) return (plus ? "+" : "") + body; // no "-0.000"
  return (neg ? "-" : plus ? "+" : "") + body;
}

// ---------------------------------------------------------------------------------------
// Colours, tooltips, small DOM helpers
// ---------------------------------------------------------------------------------------

function parseColour(c) {
  if (c.startsWith("#")) {
    const h = c.slice(1);
    return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  }
  return c.slice(c.indexOf("(") + 1, -1).split(",").slice(0, 3).map(Number);
}

// A plotly colour scale ([[pos, colour], ...]) -> 256 RGB triples.
function lut(stops) {
  const s = stops.map(([p, c]) => [p, parseColour(c)]);
  const out = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    let k = 0;
    while (k < s.length - 2 && x > s[k + 1][0]) k++;
    const [p0, c0] = s[k];
    const [p1, c1] = s[k + 1];
    const f = p1 > p0 ? Math.min(1, Math.max(0, (x - p0) / (p1 - p0))) : 0;
    for (let j = 0; j < 3; j++) out[3 * i + j] = Math.round(c0[j] + f * (c1[j] - c0[j]));
  }
  return out;
}

function colourScales(options) {
  const div = lut(options.colours.diverging);
  const seq = lut(options.colours.sequential);
  const index = (x) => Math.max(0, Math.min(255, Math.round(x * 255)));
  const rgb = (table, i) => `rgb(${table[3 * i]},${table[3 * i + 1]},${table[3 * i + 2]})`;
  const inks = new Map();
  return {
    div,
    seq,
    // [0, 1] -> sequential; signed values diverge around 0 within ±bound
    seqIndex: (v) => index(Number.isFinite(v) ? v : 0),
    divIndex: (v, bound) => index(0.5 + 0.5 * Math.max(-1, Math.min(1, v / (bound || 1)))),
    seqCss: (v) => rgb(seq, index(v)),
    divCss: (v, bound) => rgb(div, index(0.5 + 0.5 * Math.max(-1, Math.min(1, v / (bound || 1))))),
    // black or white text on a fill
    ink: (css) => {
      let ink = inks.get(css);
      if (!ink) {
        const [r, g, b] = parseColour(css);
        ink = 0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#111" : "#fff";
        inks.set(css, ink);
      }
      return ink;
    },
  };
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of [].concat(children)) if (c != null) node.append(c);
  return node;
}

const SVGNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of [].concat(children)) if (c != null) node.append(c);
  return node;
}

const MATHNS = "http://www.w3.org/1998/Math/MathML";
function math(tag, attrs = {}, children = []) {
  const node = document.createElementNS(MATHNS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of [].concat(children)) if (c != null) node.append(c);
  return node;
}

function tooltip(host) {
  const tip = el("div", { class: "arp-tip", role: "tooltip", "data-testid": "arp-tip" });
  tip.hidden = true;
  host.append(tip);
  return {
    show(event, text) {
      tip.textContent = text;
      tip.hidden = false;
      const pad = 14;
      const w = tip.offsetWidth;
      const x = event.clientX + pad + w > window.innerWidth ? event.clientX - pad - w : event.clientX + pad;
      tip.style.left = `${Math.max(0, x)}px`;
      tip.style.top = `${event.clientY + pad}px`;
    },
    hide() {
      tip.hidden = true;
    },
  };
}

const LIB = { fmt, fmtInt, el, svg, math, decode };
globalThis.autoregPlayer = LIB; // the exact formatter and decoder, for tests and the console

// ---------------------------------------------------------------------------------------
// The player
// ---------------------------------------------------------------------------------------

const ICONS = {
  play: "M8 5v14l11-7z",
  pause: "M6 5h4v14H6zM14 5h4v14h-4z",
  prev: "M15.4 7.4 14 6l-6 6 6 6 1.4-1.4L10.8 12z",
  next: "M8.6 7.4 10 6l6 6-6 6-1.4-1.4 4.6-4.6z",
  first: "M6 6h2v12H6zm3.5 6 8.5 6V6z",
  last: "M6 18l8.5-6L6 6v12zM16 6h2v12h-2z",
  save: "M5 20h14v-2H5zM19 9h-4V3H9v6H5l7 7z",
};
function icon(name) {
  return svg("svg", { viewBox: "0 0 24 24", width: "20", height: "20", "aria-hidden": "true" }, [
    svg("path", { d: ICONS[name], fill: "currentColor" }),
  ]);
}

let ACTIVE = null; // the player the keyboard drives: the last one mounted or touched

function editable(node) {
  if (!node || !node.tagName) return false;
  const tag = node.tagName.toLowerCase();
  return tag === "input" || tag === "textarea" || tag === "select" || node.isContentEditable;
}

document.addEventListener("keydown", (e) => {
  const p = ACTIVE;
  if (!p || !p.host.isConnected || e.altKey || e.ctrlKey || e.metaKey) return;
  const target = e.composedPath()[0];
  const inside = p.host.contains(target) || (target.getRootNode && target.getRootNode() === p.host.getRootNode() && p.host.getRootNode() !== document);
  if (target !== p.slider) {
    if (editable(target)) return; // typing into a field, ours (unit) or the page's
    const tag = target.tagName && target.tagName.toLowerCase();
    if (!inside && (tag === "button" || tag === "a")) return; // the page's own controls
  }
  const keys = { ArrowRight: 1, ArrowLeft: -1 };
  if (e.key in keys) p.go(p.t + keys[e.key], true);
  else if (e.key === "Home") p.go(0, true);
  else if (e.key === "End") p.go(p.n - 1, true);
  else if (e.key === " " || e.key === "Spacebar") p.toggle();
  else return;
  e.preventDefault();
});

// A click anywhere (a widget of the page) first writes any URL the players still hold
// back, so the rerun that click causes reads the view on screen from the address bar.
document.addEventListener("pointerdown", () => PLAYERS.forEach((p) => p.flushUrl()), true);

// Generations already played from their start in this tab (a player remounted after a
// page change must not replay them).
const AUTOPLAYED = (window.__arpAutoplayed = window.__arpAutoplayed || new Set());

window.addEventListener("arp:data", (e) => {
  const { player, blob } = e.detail;
  for (const p of PLAYERS) if (p.key === player) p.receive(blob);
});

const PLAYERS = new Set();
const URL_DEBOUNCE_MS = 200; // a cursor at rest this long goes into the address bar
// Request numbers grow across every player of the tab (a remounted player must not reuse
// a number its channel has already sent).
function nextSeq() {
  window.__arpSeq = (window.__arpSeq || 0) + 1;
  return window.__arpSeq;
}
function sameCursor(a, b) {
  const ka = Object.keys(a || {});
  return ka.length === Object.keys(b || {}).length && ka.every((k) => String(a[k]) === String((b || {})[k]));
}

class Player {
  constructor(parent) {
    this.parent = parent;
    this.host = el("div", { class: "arp", "data-testid": "autoreg-player", tabindex: "-1" });
    this.bar = el("div", { class: "arp-bar" });
    this.view = el("div", { class: "arp-view" });
    this.host.append(this.bar, this.view);
    parent.append(this.host);
    this.tip = tooltip(this.host);
    this.t = 0;
    this.n = 1;
    this.frames = 0;
    this.playing = false;
    this.seq = 0;
    this.needs = { windows: new Set(), units: new Set() };
    this.asked = 0;
    this.fileAsk = null; // the kind of file asked for, until it arrives
    this.urlTimer = 0;
    this.buildBar();
    this.host.addEventListener("pointerdown", () => (ACTIVE = this), true);
    new ResizeObserver(() => this.options && this.options.presenter && this.fitText(true)).observe(this.host);
    PLAYERS.add(this);
  }

  buildBar() {
    const b = (cls, name, title) => {
      const node = el("button", { type: "button", class: `arp-btn ${cls}`, title, "aria-label": title }, [icon(name)]);
      this.bar.append(node);
      return node;
    };
    this.playBtn = el("button", { type: "button", class: "arp-btn arp-play", title: "Play or pause (space bar)", "data-testid": "arp-play" }, [icon("play"), el("span", { text: "Play" })]);
    this.bar.append(this.playBtn);
    this.firstBtn = b("arp-first", "first", "First step (Home)");
    this.prevBtn = b("arp-prev", "prev", "Previous step (←)");
    this.slider = el("input", { type: "range", class: "arp-slider", min: "0", max: "0", step: "1", value: "0", "data-testid": "arp-slider" });
    this.bar.append(this.slider);
    this.nextBtn = b("arp-next", "next", "Next step (→)");
    this.lastBtn = b("arp-last", "last", "Last step (End)");
    this.label = el("span", { class: "arp-label", "data-testid": "arp-label" });
    this.bar.append(this.label);
    this.speedSel = el("select", { class: "arp-speed", title: "Speed of play (steps per second)", "aria-label": "Speed (steps per second)" });
    this.speedBox = el("label", { class: "arp-speedbox" }, [this.speedSel, el("span", { text: "steps/s" })]);
    this.bar.append(this.speedBox);
    this.files = el("span", { class: "arp-files" }); // files made at the cursor, at the end
    this.bar.append(this.files);
    this.playBtn.onclick = () => this.toggle();
    this.firstBtn.onclick = () => this.go(0, true);
    this.prevBtn.onclick = () => this.go(this.t - 1, true);
    this.nextBtn.onclick = () => this.go(this.t + 1, true);
    this.lastBtn.onclick = () => this.go(this.n - 1, true);
    // Dragging the slider: every input event asks for the newest step; one draw per frame.
    this.slider.addEventListener("input", () => {
      this.pending = +this.slider.value;
      if (this.playing) this.pause(false);
      if (!this.frame) {
        this.frame = requestAnimationFrame(() => {
          this.frame = 0;
          if (this.pending != null) this.go(this.pending, false);
          this.pending = null;
        });
      }
    });
    this.speedSel.onchange = () => {
      this.speed = +this.speedSel.value;
      this.cursor.speed = this.speed;
      this.report();
    };
  }

  // (Re)mount with what Python sent. The same trace again keeps the browser's cursor
  // unless the server moved it on purpose (a link, the browser's back button).
  mount(options, blob) {
    const payload = payloadApi(decode(blob));
    const same = this.payload && this.payload.meta.id === payload.meta.id && this.payload.meta.view === payload.meta.view;
    const server = options.cursor || {};
    let cursor = server;
    if (this.payload && (sameCursor(server, this.lastServer) || sameCursor(server, this.lastReported))) {
      cursor = { ...server, ...this.cursor };
    }
    this.lastServer = server;
    this.key = options.key;
    if (same) {
      mergeInto(this.payload, payload); // keep the windows and units fetched so far
      this.payload.meta = payload.meta; // a payload that grows (a live generation) updates its meta
    }
    else {
      this.payload = payload;
      this.needs = { windows: new Set(), units: new Set() };
    }
    const optionsChanged = JSON.stringify(options) !== this.optionsText;
    this.optionsText = JSON.stringify(options);
    this.options = options;
    this.cursor = { ...cursor };
    this.n = Math.max(1, payload.meta.n_steps);
    this.t = Math.max(0, Math.min(this.n - 1, Math.round(+cursor.step || 0)));
    this.cursor.step = this.t;
    const speeds = options.speeds || [1, 2, 4, 8];
    this.speed = speeds.includes(+cursor.speed) ? +cursor.speed : options.speed || speeds[0];
    this.cursor.speed = this.speed;
    this.speedSel.replaceChildren(...speeds.map((s) => el("option", { value: String(s), text: `${s}` })));
    this.speedSel.value = String(this.speed);
    this.speedBox.hidden = !!options.presenter && !options.show_speed;
    this.speedBox.lastChild.textContent = options.speed_unit || "steps/s"; // e.g. "pixels/s"
    this.host.classList.toggle("arp-present", !!options.presenter);
    this.host.dataset.view = payload.meta.view;
    if (optionsChanged) this.buildFiles(options.files || []);
    this.slider.max = String(this.n - 1);
    const view = VIEWS[payload.meta.view];
    if (!view) throw new Error(`no renderer for view ${payload.meta.view}`);
    this.slider.setAttribute("aria-label", view.label || "Step");
    if (!same || optionsChanged || this.viewName !== payload.meta.view) {
      this.viewName = payload.meta.view;
      this.view.replaceChildren();
      this.impl = view;
      this.api = this.makeApi();
      view.mount(this.view, this.payload, this.viewOptions(), this.api);
    }
    ACTIVE = this;
    // options.autoplay: the id of a payload (a generation just started) to play from its
    // start, once; the server sends it with every update of that run, so whichever update
    // reaches the browser first starts the play.
    if (options.autoplay && options.autoplay === payload.meta.id && !AUTOPLAYED.has(payload.meta.id)) {
      AUTOPLAYED.add(payload.meta.id);
      this.t = 0;
      this.play();
    } else this.draw();
  }

  viewOptions() {
    return { ...this.options, cursor: this.cursor, colours: this.options.colours };
  }

  makeApi() {
    const scales = colourScales(this.options);
    return {
      lib: LIB,
      colours: scales,
      tip: this.tip,
      // The view's own part of the cursor (unit, sub-step...): into the URL, then redraw.
      set: (fields, redraw = true) => {
        Object.assign(this.cursor, fields);
        if (redraw) this.draw();
        else this.report();
      },
      go: (t) => this.go(t, true),
      need: (what) => this.need(what),
      cursor: () => this.cursor,
      standalone: () => !!this.options.standalone,
    };
  }

  go(t, manual) {
    if (manual && this.playing) this.pause(false);
    this.t = Math.max(0, Math.min(this.n - 1, Math.round(t)));
    this.draw();
  }

  draw() {
    this.cursor.step = this.t;
    this.impl.render(this.view, this.payload, this.t, this.viewOptions());
    if (this.options.presenter) this.fitText(false);
    this.slider.value = String(this.t);
    const name = this.impl.stepName ? this.impl.stepName(this.payload, this.t) : "";
    this.label.textContent = `${this.t} of ${this.n - 1}${name ? " · " + name : ""}`;
    this.prevBtn.disabled = this.firstBtn.disabled = this.t <= 0;
    this.nextBtn.disabled = this.lastBtn.disabled = this.t >= this.n - 1;
    this.frames += 1;
    const d = this.host.dataset;
    d.step = String(this.t);
    d.frames = String(this.frames);
    d.playing = String(this.playing);
    d.drawnAt = String(performance.now());
    this.report();
  }

  // Presenter mode: text inside a chart keeps its size on screen however wide the chart
  // is drawn. Each SVG's --arp-k is its user units per screen pixel; the views' presenter
  // rules multiply their sizes by it. Measured once per SVG, again when the page resizes.
  fitText(all) {
    for (const root of this.view.querySelectorAll("svg[viewBox]")) {
      if (!all && root.style.getPropertyValue("--arp-k")) continue;
      const w = root.clientWidth || root.getBoundingClientRect().width;
      const vb = root.viewBox.baseVal;
      if (w > 0 && vb && vb.width > 0) root.style.setProperty("--arp-k", (vb.width / w).toFixed(3));
    }
  }

  toggle() {
    if (this.playing) this.pause(true);
    else this.play();
  }

  play() {
    if (this.t >= this.n - 1) this.t = 0; // Play at the end plays from the start again
    this.playing = true;
    this.setPlayLabel();
    let last = performance.now();
    this.draw();
    const tick = (now) => {
      if (!this.playing) return;
      const every = 1000 / this.speed;
      if (now - last >= every) {
        // options.burst: at speeds above the frame rate a frame may take up to that many
        // steps (a pixel replay); otherwise a slow frame plays late, never twice
        const k = Math.max(1, Math.min(this.options.burst || 1, Math.floor((now - last) / every)));
        last = now - last > (k + 1) * every ? now : last + k * every;
        const before = this.t;
        this.t = Math.min(this.n - 1, this.t + k);
        // options.live: the data still grows, so the end waits for more instead of pausing
        if (this.t >= this.n - 1 && !this.options.live) this.pause(false);
        if (this.t !== before || !this.playing) this.draw();
      }
      if (this.playing) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  // Pause on the frame on screen: the cursor is the step drawn last.
  pause(redraw) {
    this.playing = false;
    this.setPlayLabel();
    this.host.dataset.playing = "false";
    if (redraw) this.report();
  }

  setPlayLabel() {
    this.playBtn.replaceChildren(icon(this.playing ? "pause" : "play"), el("span", { text: this.playing ? "Pause" : "Play" }));
    this.playBtn.classList.toggle("arp-on", this.playing);
  }

  need(what) {
    let fresh = false;
    for (const w of what.windows || []) if (!this.needs.windows.has(w)) (this.needs.windows.add(w), (fresh = true));
    for (const u of what.units || []) if (!this.needs.units.has(u)) (this.needs.units.add(u), (fresh = true));
    const stale = performance.now() - this.asked > 4000; // ask again if an answer got lost
    if (fresh || (stale && this.needs.windows.size + this.needs.units.size)) {
      this.seq = nextSeq();
      this.asked = performance.now();
      this.report();
    }
  }

  // Files made at the cursor (a saved view, the batch at this step): a button asks the
  // server through the channel, with the cursor; the bytes come back as a payload.
  buildFiles(files) {
    this.fileButtons = {};
    this.files.replaceChildren(
      ...files.map((f) => {
        const btn = el("button", { type: "button", class: "arp-btn arp-file", title: f.help || f.label, "data-testid": `arp-file-${f.kind}` }, [icon("save"), el("span", { text: f.label })]);
        btn.onclick = () => this.askFile(f.kind);
        this.fileButtons[f.kind] = btn;
        return f.size ? el("span", { class: "arp-filebox" }, [btn, el("span", { class: "arp-filesize", text: f.size })]) : btn;
      })
    );
  }

  askFile(kind) {
    this.fileAsk = kind;
    const btn = this.fileButtons[kind];
    if (btn) btn.disabled = true;
    clearTimeout(this.fileTimer); // an answer that never comes frees the button again
    this.fileTimer = setTimeout(() => {
      if (this.fileAsk === kind) this.fileAsk = null;
      if (btn) btn.disabled = false;
    }, 60_000);
    this.seq = nextSeq();
    this.asked = performance.now();
    this.report();
  }

  saveFile(part) {
    const kind = this.fileAsk;
    this.fileAsk = null;
    clearTimeout(this.fileTimer);
    const btn = kind && this.fileButtons[kind];
    if (btn) btn.disabled = false;
    if (!kind || !part.arrays.bytes) return;
    const url = URL.createObjectURL(new Blob([part.arrays.bytes], { type: part.meta.mime || "application/octet-stream" }));
    const a = el("a", { href: url, download: part.meta.file });
    this.host.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  // The view's state lives in the address bar, written here with replaceState: the server
  // reads it on its next run (every rerun sends the URL), and Back leaves the page
  // instead of walking through steps. Not while playing: the pause writes it.
  scheduleUrl() {
    clearTimeout(this.urlTimer);
    this.urlTimer = 0;
    if (!this.options.url || this.playing) return;
    this.urlTimer = setTimeout(() => this.flushUrl(), URL_DEBOUNCE_MS);
  }

  flushUrl() {
    if (!this.urlTimer) return;
    clearTimeout(this.urlTimer);
    this.urlTimer = 0;
    if (!this.host.isConnected) return;
    const u = new URL(window.location.href);
    const defaults = this.options.defaults || {};
    for (const [field, param] of Object.entries(this.options.url)) {
      if (!(field in this.cursor)) continue;
      const v = String(this.cursor[field]);
      if (field in defaults && String(defaults[field]) === v) u.searchParams.delete(param);
      else u.searchParams.set(param, v);
    }
    if (u.href !== window.location.href) window.history.replaceState(window.history.state, "", u.href);
  }

  receive(blob) {
    let part;
    try {
      part = decode(blob);
    } catch {
      return;
    }
    if (part.meta.file) return this.saveFile(part);
    if (!this.payload || part.meta.id !== this.payload.meta.id || !Object.keys(part.arrays).length) return;
    mergeInto(this.payload, part);
    for (const name of Object.keys(part.arrays)) {
      const m = /^([wu])(\d+):/.exec(name);
      if (m) this.needs[m[1] === "w" ? "windows" : "units"].delete(+m[2]);
    }
    this.draw();
  }

  report() {
    if (!this.key || this.options.standalone) return;
    const need = { windows: [...this.needs.windows], units: [...this.needs.units] };
    if (this.fileAsk) need.file = this.fileAsk;
    const cursor = { ...this.cursor };
    // Until something changes, the server knows the cursor already (it sent it): saying
    // so would cost a rerun on every page load.
    const asking = need.windows.length + need.units.length > 0 || !!need.file;
    if (!this.reported && !asking && sameCursor(cursor, this.lastServer)) return;
    this.reported = true;
    this.lastReported = cursor;
    this.scheduleUrl();
    window.dispatchEvent(
      new CustomEvent("arp:report", { detail: { player: this.key, id: this.payload.meta.id, cursor, playing: this.playing, need, seq: this.seq } })
    );
  }
}

function mountPlayer(component) {
  const { data, parentElement } = component;
  if (!data) return undefined;
  const { options, blob } = splitData(data);
  let player = parentElement.__arp;
  if (!player || !player.host.isConnected) {
    player = new Player(parentElement);
    parentElement.__arp = player;
  }
  player.mount(options, blob);
  return () => {};
}
