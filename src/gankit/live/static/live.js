// gankit live: draws the frames the server sends (a game) or the rows of a run directory (a followed run).
// window.gankitRedraws counts redraws (tests and benchmarks/live_speed.py read it).
"use strict";
const $ = (id) => document.getElementById(id);
const fmt = (v, d = 4) => (v === null || v === undefined ? "–" : Number(v).toPrecision(d));
let meta = null;
let history = [];
window.gankitRedraws = 0;

async function send(name, value) {
  await fetch("api/control", { method: "POST", headers: { "Content-Type": "application/json" },
                               body: JSON.stringify({ name, value }) });
}

async function init() {
  meta = await (await fetch("api/meta")).json();
  if (meta.mode === "game") initGame(); else initRun();
}

function initGame() {
  document.body.classList.add("game");
  $("title").textContent = "· " + meta.preset;
  for (const [id, name] of [["play", "play"], ["pause", "pause"], ["step-one", "step"], ["reset", "reset"], ["save", "save"]])
    $(id).onclick = () => send(name);
  if (!meta.writes) { $("save").disabled = true; $("save").title = "start gankit live with --out RUN to write a run directory"; }
  const sel = $("objective");
  for (const o of meta.objectives) { const opt = document.createElement("option"); opt.value = o; opt.textContent = o; sel.appendChild(opt); }
  sel.onchange = () => send("objective", sel.value);
  for (const k of ["lr_g", "lr_d", "d_steps", "batch_size"]) $(k).onchange = () => send(k, Number($(k).value));
  $("legend").textContent = meta.dim === 2
    ? "Left: D(x) (blue 0, white ½, red 1) over the density of p_data (grey), G's samples (green) and the gradient each receives from G's loss (arrows). Right: losses, V(D, G) against −log 4, JSD and the modes covered."
    : "Left: p_data (black), p_g exact (green), D (blue), D* = p_data/(p_data + p_g) (orange, dashed), G's samples with their gradients (arrows). Right: losses, V(D, G) against −log 4, JSD.";
  const events = new EventSource("api/events");
  events.onmessage = (e) => {
    const f = JSON.parse(e.data);
    if (f.history) history = f.history;
    else history.push([f.step, f.loss_d, f.loss_g, f.V, f.jsd, f.modes ?? null]);
    if (history.length > 2000) history.splice(0, history.length - 2000);
    drawFrame(f);
  };
}

function drawFrame(f) {
  $("step").textContent = f.step;
  $("rate").textContent = fmt(f.steps_per_s, 3);
  $("jsd").textContent = fmt(f.jsd);
  $("value").textContent = fmt(f.V);
  $("modes").textContent = f.modes !== undefined ? `· modes ${f.modes} · high quality ${fmt(f.high_quality, 3)}` : "";
  for (const [k, v] of Object.entries(f.settings)) {
    const el = $(k);
    if (el && document.activeElement !== el) el.value = v;
  }
  $("play").disabled = f.playing; $("pause").disabled = !f.playing;
  if (meta.dim === 2) draw2d(f); else draw1d(f);
  const series = [
    ["loss D", history.map((h) => h[1])], ["loss G", history.map((h) => h[2])],
    ["V(D, G) (−log 4 dashed)", history.map((h) => h[3]), meta.log4], ["JSD", history.map((h) => h[4])],
  ];
  if (meta.modes && meta.modes.length) series.push([`modes covered (of ${meta.modes.length})`, history.map((h) => h[5]), meta.modes.length]);
  drawCurves($("curves"), history.map((h) => h[0]), series);
  window.gankitRedraws += 1;
}

function color(d) {  // D in [0, 1] → blue, white, red
  const t = Math.max(0, Math.min(1, d));
  return t < 0.5 ? [Math.round(60 + 390 * t), Math.round(90 + 330 * t), 255]
                 : [255, Math.round(255 - 330 * (t - 0.5)), Math.round(255 - 390 * (t - 0.5))];
}

let densityLayer = null;
function draw2d(f) {
  const c = $("view"), ctx = c.getContext("2d"), n = Math.round(Math.sqrt(f.heat.length));
  const heat = document.createElement("canvas"); heat.width = n; heat.height = n;
  const img = heat.getContext("2d").createImageData(n, n);
  for (let r = 0; r < n; r++) for (let k = 0; k < n; k++) {
    const [R, G, B] = color(f.heat[r * n + k]), i = 4 * ((n - 1 - r) * n + k);
    img.data[i] = R; img.data[i + 1] = G; img.data[i + 2] = B; img.data[i + 3] = 255;
  }
  heat.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(heat, 0, 0, c.width, c.height);
  if (!densityLayer) densityLayer = densityCanvas(n);
  ctx.drawImage(densityLayer, 0, 0, c.width, c.height);
  const X = (x) => ((x - meta.lo[0]) / (meta.hi[0] - meta.lo[0])) * c.width;
  const Y = (y) => c.height - ((y - meta.lo[1]) / (meta.hi[1] - meta.lo[1])) * c.height;
  let big = 1e-12;
  for (const g of f.grad) big = Math.max(big, Math.hypot(g[0], g[1]));
  ctx.strokeStyle = "rgba(0,0,0,0.55)"; ctx.lineWidth = 1; ctx.beginPath();
  f.samples.forEach((s, i) => {  // arrows: the longest 25 px, the others in proportion
    const g = f.grad[i], k = 25 / big;
    ctx.moveTo(X(s[0]), Y(s[1])); ctx.lineTo(X(s[0]) + g[0] * k, Y(s[1]) - g[1] * k);
  });
  ctx.stroke();
  ctx.fillStyle = "#0a0";
  for (const s of f.samples) ctx.fillRect(X(s[0]) - 1.5, Y(s[1]) - 1.5, 3, 3);
}

function densityCanvas(n) {
  const layer = document.createElement("canvas"); layer.width = n; layer.height = n;
  const img = layer.getContext("2d").createImageData(n, n);
  const top = Math.max(...meta.density);
  for (let r = 0; r < n; r++) for (let k = 0; k < n; k++) {
    const i = 4 * ((n - 1 - r) * n + k), a = Math.exp(meta.density[r * n + k] - top);
    img.data[i] = img.data[i + 1] = img.data[i + 2] = 40; img.data[i + 3] = Math.round(200 * Math.sqrt(a));
  }
  layer.getContext("2d").putImageData(img, 0, 0);
  return layer;
}

function draw1d(f) {
  const c = $("view"), ctx = c.getContext("2d"), W = c.width, H = c.height, x = meta.x;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  const X = (v) => ((v - meta.lo[0]) / (meta.hi[0] - meta.lo[0])) * W;
  const top = Math.max(...meta.p_data, ...f.p_g, 1e-12);
  const line = (ys, scale, style, dash = []) => {
    ctx.strokeStyle = style; ctx.setLineDash(dash); ctx.beginPath();
    ys.forEach((y, i) => { const py = H - 40 - (y / scale) * (H - 60); i ? ctx.lineTo(X(x[i]), py) : ctx.moveTo(X(x[i]), py); });
    ctx.stroke(); ctx.setLineDash([]);
  };
  line(meta.p_data, top, "#000"); line(f.p_g, top, "#0a0"); line(f.D, 1, "#1565c0"); line(f.D_star, 1, "#ef6c00", [6, 4]);
  let big = 1e-12;
  for (const g of f.grad) big = Math.max(big, Math.abs(g));
  ctx.strokeStyle = "#0a0"; ctx.beginPath();
  f.samples.forEach((s, i) => { ctx.moveTo(X(s), H - 20); ctx.lineTo(X(s) + (f.grad[i] / big) * 25, H - 20); ctx.moveTo(X(s), H - 26); ctx.lineTo(X(s), H - 14); });
  ctx.stroke();
}

function drawCurves(c, steps, series) {
  const ctx = c.getContext("2d"), W = c.width, H = c.height, rows = series.length, h = H / rows;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H); ctx.font = "11px sans-serif";
  series.forEach(([name, ys, ref], r) => {
    const vals = ys.filter((v) => v !== null && Number.isFinite(v));
    if (ref !== undefined) vals.push(ref);
    const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || 1, y0 = r * h;
    const Y = (v) => y0 + h - 6 - ((v - lo) / span) * (h - 18);
    const X = (i) => (steps.length > 1 ? (i / (steps.length - 1)) * (W - 10) + 5 : 5);
    ctx.fillStyle = "#333"; ctx.fillText(`${name}: ${fmt(ys[ys.length - 1])}`, 6, y0 + 11);
    if (ref !== undefined) { ctx.strokeStyle = "#999"; ctx.setLineDash([4, 3]); ctx.beginPath(); ctx.moveTo(0, Y(ref)); ctx.lineTo(W, Y(ref)); ctx.stroke(); ctx.setLineDash([]); }
    ctx.strokeStyle = "#1565c0"; ctx.beginPath();
    let started = false;
    ys.forEach((v, i) => { if (v === null || !Number.isFinite(v)) return; started ? ctx.lineTo(X(i), Y(v)) : ctx.moveTo(X(i), Y(v)); started = true; });
    ctx.stroke();
    ctx.strokeStyle = "#eee"; ctx.beginPath(); ctx.moveTo(0, y0 + h); ctx.lineTo(W, y0 + h); ctx.stroke();
  });
}

// --- a followed run directory -----------------------------------------------------------------------
let rows = [], shownSample = null;
function initRun() {
  document.body.classList.add("run");
  $("title").textContent = "· " + meta.run;
  pollRun();
  setInterval(pollRun, 1000);
}

async function pollRun() {
  const s = await (await fetch(`api/run?since=${rows.length}`)).json();
  rows = rows.concat(s.rows);
  const last = rows.length ? rows[rows.length - 1] : {};
  $("step").textContent = last.step ?? "–";
  $("jsd").textContent = fmt(last["toy/jsd"]);
  $("value").textContent = fmt(last.V);
  if (s.sample && s.sample !== shownSample) { shownSample = s.sample; $("sample").src = "files/" + s.sample; }
  const keys = ["loss/d", "loss/g", "V"].concat(Object.keys(last).filter((k) => /^(eval|toy)\//.test(k) && !k.startsWith("raw/")).slice(0, 3));
  const have = keys.filter((k) => rows.some((r) => r[k] !== undefined));
  const steps = rows.map((r) => r.step);
  drawCurves($("run-curves"), steps, have.map((k) => [k, rows.map((r) => (r[k] === undefined ? null : r[k]))]));
  if (s.eval && s.eval.metrics) {
    let html = `<tr><th>metric (${s.eval.features_info ?? s.eval.features}, n ${s.eval.n})</th><th>value</th><th>floor</th><th>raw G</th></tr>`;
    for (const [k, m] of Object.entries(s.eval.metrics))
      html += `<tr><td>${k}</td><td>${fmt(m.value)}</td><td>${fmt(m.floor)}</td><td>${fmt(m.raw)}</td></tr>`;
    $("eval").innerHTML = html;
  }
  window.gankitRedraws += 1;
}

init();
