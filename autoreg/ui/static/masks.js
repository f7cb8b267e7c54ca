// Masks: the raster order, one pixel at a time, stepped in the browser.
//
// Reads a raster payload (autoreg/pixelcnn/replay.py: raster_payload): one image of
// levels. Step s shows the first s pixels in raster order (left to right, top to
// bottom) and outlines the next one, the pixel a PixelCNN predicts from exactly those.

registerView(
  "masks",
  (() => {
    const { el, svg } = LIB;
    const BLANK = [233, 236, 239];

    function mount(root, P, options, api) {
      const m = P.meta;
      const size = m.size;
      const S = { P, api };
      root.__msk = S;
      root.classList.add("msk");
      root.classList.toggle("msk-present", !!options.presenter);
      const canvas = el("canvas", { class: "msk-canvas", width: String(size), height: String(size), "data-testid": "msk-image" });
      const sv = svg("svg", { class: "msk-overlay", viewBox: `0 0 ${size} ${size}`, preserveAspectRatio: "none" });
      S.next = svg("rect", { class: "msk-next", width: 1, height: 1 });
      sv.append(S.next);
      const frame = el("div", { class: "msk-frame" }, [canvas, sv]);
      frame.addEventListener("mousemove", (e) => {
        const r = frame.getBoundingClientRect();
        const c = Math.floor(((e.clientX - r.left) / r.width) * size);
        const row = Math.floor(((e.clientY - r.top) / r.height) * size);
        if (c < 0 || row < 0 || c >= size || row >= size) return api.tip.hide();
        const i = row * size + c;
        const shown = i < S.t ? `level ${P.arrays.image[i]}` : "not drawn yet";
        api.tip.show(e, `row ${row}, col ${c}\nstep ${i} in raster order · ${shown}\n(click: go to it)`);
      });
      frame.addEventListener("mouseleave", () => api.tip.hide());
      frame.addEventListener("click", (e) => {
        const r = frame.getBoundingClientRect();
        const c = Math.floor(((e.clientX - r.left) / r.width) * size);
        const row = Math.floor(((e.clientY - r.top) / r.height) * size);
        if (c >= 0 && row >= 0 && c < size && row < size) api.go(row * size + c);
      });
      S.ctx = canvas.getContext("2d");
      S.data = new ImageData(size, size);
      S.head = el("div", { class: "msk-head", "data-testid": "msk-head" });
      const legend = el("div", { class: "msk-legend" }, [
        el("span", { class: "msk-key" }, [el("span", { class: "msk-swatch msk-sw-next" }), "the next pixel: predicted from every pixel before it"]),
        el("span", { class: "msk-key" }, [el("span", { class: "msk-swatch msk-sw-blank" }), "not drawn yet"]),
        el("span", { class: "msk-key" }, [el("span", { class: "msk-swatch msk-sw-levels" }), `grey levels: ${m.level_names[0]} … ${m.level_names[m.levels - 1]}`]),
      ]);
      root.append(S.head, frame, legend);
    }
    function render(root, P, t) {
      const S = root.__msk;
      S.t = t;
      const m = P.meta;
      const size = m.size;
      const N = size * size;
      const img = P.arrays.image;
      const px = S.data.data;
      for (let i = 0; i < N; i++) {
        const o = 4 * i;
        if (i < t) {
          px[o] = px[o + 1] = px[o + 2] = Math.round((img[i] * 255) / Math.max(1, m.levels - 1));
        } else {
          px[o] = BLANK[0];
          px[o + 1] = BLANK[1];
          px[o + 2] = BLANK[2];
        }
        px[o + 3] = 255;
      }
      S.ctx.putImageData(S.data, 0, 0);
      if (t < N) {
        const r = Math.floor(t / size);
        const c = t % size;
        S.next.style.display = "";
        S.next.setAttribute("x", c);
        S.next.setAttribute("y", r);
        S.head.textContent = `${t} of ${N} pixels drawn · next: pixel (${r}, ${c}), predicted from the ${t} before it`;
      } else {
        S.next.style.display = "none";
        S.head.textContent = `All ${N} pixels drawn`;
      }
    }
    return {
      label: "Pixels drawn",
      stepName: (P, t) => (t < P.meta.size * P.meta.size ? `next (${Math.floor(t / P.meta.size)}, ${t % P.meta.size})` : "done"),
      mount,
      render,
    };
  })()
);
