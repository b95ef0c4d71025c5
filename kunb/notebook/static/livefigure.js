// kunb LiveFigure front end (anywidget ESM), shared by two widget kinds (the model's `_role`):
//  - "library": kunb.notebook.plotlyjs.PlotlyLibrary, one per kernel. Receives plotly.js once (a gzip
//    binary message), evaluates it, and files it in a page-wide registry keyed by plotly.js version. If
//    the page restored the widget after the push (reload, second tab), it asks the kernel once.
//  - "figure": kunb.notebook.figure.LiveFigure. Keeps the figure's data per model (state snapshot, then
//    numbered delta messages), draws it with the registry's plotly.js in each view, at most once per
//    animation frame and only while the view is visible. Never sends anything back but a resync request.

const REGISTRY = Symbol.for("kunb.livefigure.v1");

function registry() {
  if (!globalThis[REGISTRY]) {
    globalThis[REGISTRY] = {
      libraries: new Map(), // plotly.js version -> entry
      // counters for tests and benchmarks reading the page
      stats: { bundles: 0, evaluations: 0, requests: 0, draws: 0, resyncs: 0 },
    };
  }
  return globalThis[REGISTRY];
}

function libraryEntry(version) {
  const { libraries } = registry();
  let entry = libraries.get(version);
  if (!entry) {
    entry = { version, status: "waiting", plotly: null, error: null };
    entry.promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    entry.promise.catch(() => {}); // views report the error themselves
    libraries.set(version, entry);
  }
  return entry;
}

// plotly.min.js is a UMD bundle: given a CommonJS-like `module` it stores itself there instead of
// needing a loader; the wrapper turns it into an ES module importable from a Blob URL.
const PREFIX = "const module = { exports: {} }; const exports = module.exports;\n";
const SUFFIX = "\nexport default module.exports;\n";

async function evaluate(entry, data, encoding) {
  entry.status = "loading";
  const stats = registry().stats;
  performance.mark("kunb:plotly-received");
  try {
    if (encoding !== "gzip") throw new Error(`unknown plotly.js encoding ${encoding}`);
    const inflated = new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip"));
    const source = await new Response(inflated).blob();
    const url = URL.createObjectURL(new Blob([PREFIX, source, SUFFIX], { type: "text/javascript" }));
    // plotly.min.js also assigns window.Plotly: put back whatever the page had there
    const had = Object.prototype.hasOwnProperty.call(globalThis, "Plotly");
    const previous = globalThis.Plotly;
    let module;
    try {
      module = await import(/* webpackIgnore: true */ url);
    } finally {
      URL.revokeObjectURL(url);
      if (had) globalThis.Plotly = previous;
      else delete globalThis.Plotly;
    }
    stats.evaluations += 1;
    performance.mark("kunb:plotly-ready");
    entry.plotly = module.default;
    entry.status = "ready";
    entry.resolve(entry.plotly);
  } catch (error) {
    entry.status = "failed";
    entry.error = error;
    entry.reject(error);
  }
}

function initializeLibrary(model) {
  const version = model.get("version");
  const entry = libraryEntry(version);
  const onMessage = (msg, buffers) => {
    if (!msg || msg.type !== "bundle" || msg.version !== version) return;
    registry().stats.bundles += 1;
    if (entry.status === "waiting" || entry.status === "requested") {
      evaluate(entry, buffers[0], msg.encoding);
    }
  };
  // the kernel pushed the bundle before this page saw the widget: ask for it, once per page
  const request = () => {
    if (entry.status !== "waiting" || !model.get("pushed")) return;
    entry.status = "requested";
    registry().stats.requests += 1;
    model.send({ type: "request", version });
  };
  model.on("msg:custom", onMessage);
  // `pushed` turns true right after the push message, so a page that saw the push is loading by then
  model.on("change:pushed", request);
  request();
  return () => {
    model.off("msg:custom", onMessage);
    model.off("change:pushed", request);
  };
}

// ---- the figure's data, per model --------------------------------------------------------------

function float64(view) {
  // a copy: the message's buffer may not be 8-byte aligned, and must not be kept alive by the figure
  const out = new Float64Array(view.byteLength / 8);
  new Uint8Array(out.buffer).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  return out;
}

function extended(old, added, maxPoints, replaceLast) {
  // drop the last `replaceLast` points first: they are sent again (a forming candle)
  if (old && replaceLast) old = old.subarray(0, Math.max(old.length - replaceLast, 0));
  const total = (old ? old.length : 0) + added.length;
  const keep = maxPoints == null ? total : Math.min(total, maxPoints);
  const out = new Float64Array(keep);
  const fromAdded = Math.min(added.length, keep);
  const fromOld = keep - fromAdded;
  if (fromOld > 0) out.set(old.subarray(old.length - fromOld), 0);
  out.set(added.subarray(added.length - fromAdded), fromOld);
  return out;
}

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== "object") node[key] = {};
    node = node[key];
  }
  const last = keys[keys.length - 1];
  if (value === null || value === undefined) delete node[last];
  else node[last] = value;
}

function columnsOf(encoded, buffers) {
  const out = {};
  for (const [key, ref] of Object.entries(encoded || {})) {
    out[key] = float64(typeof ref === "number" ? buffers[ref] : ref);
  }
  return out;
}

class FigureData {
  constructor(model) {
    this.model = model;
    this.views = new Set();
    this.resyncing = false;
    this.load(model.get("_snapshot_state"), []);
  }

  load(snapshot, buffers) {
    this.seq = snapshot.seq;
    this.layout = snapshot.layout || {};
    this.config = snapshot.config || {};
    this.budget = snapshot.draw_budget || 0;
    this.traces = snapshot.traces.map((t) => ({
      attributes: t.attributes,
      columns: columnsOf(t.columns, buffers),
    }));
    for (const view of this.views) view.reset();
  }

  onMessage(msg, buffers) {
    if (!msg) return;
    if (msg.type === "snapshot") {
      if (msg.seq >= this.seq || this.resyncing) this.load(msg, buffers);
      this.resyncing = false;
      return;
    }
    if (msg.type !== "ops" || this.resyncing || msg.seq <= this.seq) return;
    if (msg.seq !== this.seq + 1) {
      // a message this page never got (it connected in between): ask for the whole state
      this.resyncing = true;
      registry().stats.resyncs += 1;
      this.model.send({ type: "sync" });
      return;
    }
    this.seq = msg.seq;
    for (const op of msg.ops) this.apply(op, buffers);
    for (const view of this.views) view.changed(msg.ops);
  }

  apply(op, buffers) {
    if (op.op === "relayout") {
      for (const [path, value] of Object.entries(op.update)) setPath(this.layout, path, value);
      return;
    }
    const trace = this.traces[op.trace];
    if (op.op === "restyle") {
      for (const [path, value] of Object.entries(op.update)) setPath(trace.attributes, path, value);
    } else if (op.op === "replace") {
      Object.assign(trace.columns, columnsOf(op.columns, buffers));
    } else if (op.op === "extend") {
      for (const [key, ref] of Object.entries(op.columns)) {
        trace.columns[key] = extended(trace.columns[key], float64(buffers[ref]), op.max_points, op.replace_last);
      }
    }
  }
}

// `_key` -> FigureData: anywidget hands initialize and render different proxies of one model, so the
// model's own unique key (set by the kernel) joins them
const DATA = new Map();

function initializeFigure(model) {
  const key = model.get("_key");
  const data = new FigureData(model);
  DATA.set(key, data);
  const onMessage = (msg, buffers) => data.onMessage(msg, buffers);
  model.on("msg:custom", onMessage);
  return () => {
    model.off("msg:custom", onMessage);
    if (DATA.get(key) === data) DATA.delete(key);
  };
}

// ---- one view of a figure ------------------------------------------------------------------------

class FigureView {
  constructor(data, el) {
    this.data = data;
    this.el = el;
    this.plotly = null;
    this.plotted = false;
    this.dirty = true;
    this.resized = false;
    this.visible = false;
    this.frame = 0;
    this.timer = 0;
    this.stopped = false;
    this.error = null;
    this.revision = 0;
    this.draws = 0;
    this.cost = 0; // main-thread ms per draw (moving average): script plus the rendering it causes
    this.nextAllowed = 0; // performance.now() before which no draw starts
    this.status = document.createElement("div");
    this.status.className = "kunb-figure-status";
    this.status.style.cssText = "padding:8px;color:#666;font:13px sans-serif";
    this.status.textContent = "loading plotly.js…";
    this.plot = document.createElement("div");
    this.plot.className = "kunb-figure-plot";
    el.classList.add("kunb-live-figure");
    el.append(this.status, this.plot);
    this.reset();
  }

  reset() {
    // the view's own copies: plotly.js writes into its inputs (zoom ranges, legend clicks), and
    // those must not leak into another view of the same model
    this.layout = structuredClone(this.data.layout);
    this.traces = this.data.traces.map((t) => structuredClone(t.attributes));
    // the figure's height before it is drawn (no jump when it is), and layout/paint containment: plotly.js
    // measures text after changing its SVG, and those forced layouts need not look outside the figure
    this.plot.style.height = `${this.layout.height || 450}px`;
    this.plot.style.contain = "content";
    this.dirty = true;
    this.schedule();
  }

  changed(ops) {
    for (const op of ops) {
      if (op.op === "relayout") {
        for (const [path, value] of Object.entries(op.update)) setPath(this.layout, path, value);
      } else if (op.op === "restyle") {
        for (const [path, value] of Object.entries(op.update)) setPath(this.traces[op.trace], path, value);
      }
    }
    this.dirty = true;
    this.schedule();
  }

  setVisible(visible) {
    this.visible = visible;
    this.el.dataset.visible = String(visible);
    this.schedule();
  }

  schedule() {
    if (this.stopped || !this.plotly || !this.visible || this.frame || this.timer || !(this.dirty || this.resized)) return;
    if (this.nextAllowed === Infinity) return; // the last draw's cost is being measured: measured() calls back
    const wait = this.nextAllowed - performance.now();
    if (wait > 0) {
      // within this view's budget: updates arriving meanwhile are coalesced into that next draw
      this.timer = setTimeout(() => {
        this.timer = 0;
        this.schedule();
      }, wait);
      return;
    }
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  measured(start, created) {
    // runs as the first task after the frame that drew: style, layout and paint are done by now
    const cost = performance.now() - start;
    if (created && !this.cost) {
      // creating the plot (newPlot: fonts, SVG scaffolding) costs several updates; it says nothing about
      // what an update costs, so the first update is drawn at once and measured instead
      this.nextAllowed = 0;
      this.schedule();
      return;
    }
    this.cost = this.cost ? 0.7 * this.cost + 0.3 * cost : cost;
    const budget = this.data.budget;
    this.nextAllowed = budget > 0 ? start + this.cost / budget : 0;
    this.el.dataset.drawMs = this.cost.toFixed(1);
    this.schedule();
  }

  draw() {
    if (!this.visible) return; // hidden since the frame was asked for: draw when visible again
    const Plotly = this.plotly;
    const start = performance.now();
    const created = !this.plotted;
    if (this.dirty) {
      this.traces.forEach((trace, i) => {
        for (const [key, array] of Object.entries(this.data.traces[i].columns)) setPath(trace, key, array);
      });
      // new arrays every time, and datarevision tells plotly.js to recompute them
      this.layout.datarevision = ++this.revision;
      this.plot.style.height = `${this.layout.height || 450}px`;
      try {
        if (this.plotted) {
          Plotly.react(this.plot, this.traces, this.layout, this.data.config);
        } else {
          Plotly.newPlot(this.plot, this.traces, this.layout, this.data.config);
          this.plotted = true;
          this.status.remove();
          performance.mark("kunb:first-draw");
        }
      } catch (error) {
        // shown in the figure and logged once; tried again with the next update, not in a loop
        if (!this.error) console.error("kunb LiveFigure: plotly.js could not draw", error);
        this.error = error;
        this.status.textContent = `kunb: plotly.js could not draw this figure: ${error}`;
        if (!this.status.isConnected) this.el.prepend(this.status);
        this.dirty = false;
        return;
      }
      this.draws += 1;
      registry().stats.draws += 1;
      this.el.dataset.draws = String(this.draws);
    }
    if (this.resized && this.plotted) Plotly.Plots.resize(this.plot);
    this.dirty = false;
    this.resized = false;
    this.nextAllowed = Infinity; // until the cost of this draw is known
    const channel = new MessageChannel();
    channel.port1.onmessage = () => this.measured(start, created);
    channel.port2.postMessage(null);
  }

  async start(model) {
    const ref = model.get("_library");
    const library = await model.widget_manager.get_model(ref.replace(/^IPY_MODEL_/, ""));
    const entry = libraryEntry(library.get("version"));
    try {
      this.plotly = await entry.promise;
    } catch (error) {
      this.status.textContent = `kunb: plotly.js could not be loaded: ${error}`;
      return;
    }
    this.schedule();
  }

  stop() {
    this.stopped = true;
    if (this.frame) cancelAnimationFrame(this.frame);
    if (this.timer) clearTimeout(this.timer);
    this.frame = 0;
    this.timer = 0;
    if (this.plotted) this.plotly.purge(this.plot);
  }
}

function renderFigure(model, el) {
  const data = DATA.get(model.get("_key"));
  const view = new FigureView(data, el);
  data.views.add(view);
  const update = (visibleOnScreen) => view.setVisible(visibleOnScreen && document.visibilityState === "visible");
  let onScreen = false;
  // zero-size (display:none in a hidden tab or collapsed output) or outside every scrolling ancestor's
  // clip counts as not intersecting
  const intersection = new IntersectionObserver((entries) => {
    onScreen = entries[entries.length - 1].isIntersecting;
    update(onScreen);
  });
  intersection.observe(el);
  const onVisibility = () => update(onScreen);
  document.addEventListener("visibilitychange", onVisibility);
  let width = 0;
  const resize = new ResizeObserver((entries) => {
    const w = entries[entries.length - 1].contentRect.width;
    if (w !== width && width !== 0) {
      view.resized = true;
      view.schedule();
    }
    width = w;
  });
  resize.observe(el);
  view.start(model);
  return () => {
    intersection.disconnect();
    resize.disconnect();
    document.removeEventListener("visibilitychange", onVisibility);
    data.views.delete(view);
    view.stop();
  };
}

export default {
  initialize({ model }) {
    return model.get("_role") === "library" ? initializeLibrary(model) : initializeFigure(model);
  },
  render({ model, el }) {
    if (model.get("_role") === "figure") return renderFigure(model, el);
  },
};
