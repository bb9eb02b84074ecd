// The demo page: a checkpoint (file picker or the server's default), an optional X-ray, any subset of the
// clinical fields (generated from the checkpoint's schema), and, once something is given, the 14
// probabilities as bars (with the checkpoint's calls where it has thresholds), the modalities and features
// used, and why: each modality's contribution and the top features for the selected finding, measured from
// a named baseline. Inference runs in worker.js; every request has a time limit, so a hostile or oversized
// checkpoint ends in an error message, never a hang, and a checkpoint that fails to load keeps the loaded one.
const $ = (id) => document.getElementById(id);
const TIMEOUT_MS = 30000;

let worker = null, nextId = 1, pending = new Map();
let modelLoaded = false, imageInput = null, fields = [], labels = [], thresholds = null;
/** The loaded checkpoint (a copy of its bytes), reloaded into a fresh worker when a request times out. */
let current = null;
let selected = null, lastResult = null;

function setState(state) { document.body.dataset.state = state; }
function status(text) { $('status').textContent = text; }
function showError(text) {
  const e = $('error');
  e.textContent = text;
  e.hidden = !text;
  if (text) setState('error');
}

function startWorker() {
  worker = new Worker('/worker.js', { type: 'module' });
  worker.onmessage = (e) => {
    const p = pending.get(e.data.id);
    if (!p) return;
    pending.delete(e.data.id);
    clearTimeout(p.timer);
    e.data.ok ? p.resolve(e.data.value) : p.reject(new Error(e.data.error));
  };
  worker.onerror = (e) => {
    e.preventDefault();
    failAll(new Error(`the inference worker failed: ${e.message || 'script error'}`));
  };
}

/** Stop the worker (a hang or a crash), start a fresh one, and load the last good checkpoint into it again. */
function failAll(err) {
  for (const [, p] of pending) { clearTimeout(p.timer); p.reject(err); }
  pending.clear();
  worker.terminate();
  startWorker();
  if (current) {
    const bytes = current.bytes.slice();
    request({ type: 'load', bytes }, [bytes.buffer]).catch(() => { modelLoaded = false; $('predict').disabled = true; });
  } else {
    modelLoaded = false;
    $('predict').disabled = true;
  }
}

function request(msg, transfer = []) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => failAll(new Error(`no answer in ${TIMEOUT_MS / 1000} s: the checkpoint is too large for this device, or hostile; the worker was stopped`)), TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer });
    worker.postMessage({ ...msg, id }, transfer);
  });
}

// ---- checkpoint --------------------------------------------------------------------------------------------

async function loadCheckpoint(buffer, name, date) {
  showError('');
  setState('loading');
  status(`Loading ${name} ...`);
  const keep = new Uint8Array(buffer).slice(); // the worker takes the buffer; this copy survives a worker restart
  try {
    const info = await request({ type: 'load', bytes: buffer }, [buffer]);
    current = { bytes: keep, name };
    modelLoaded = true;
    fields = info.fields;
    labels = info.labels;
    thresholds = info.thresholds;
    if (!labels.includes(selected)) selected = null;
    $('model-info').textContent = `${name}: ${info.summary} (${info.backend})`;
    showProvenance(info.provenance, date, info.thresholds);
    buildForm(info.fields);
    $('predict').disabled = false;
    clearResults();
    setState('ready');
    await predict();
  } catch (e) {
    // The worker keeps the predictor it had: so does the page (form, fields, results).
    setState(modelLoaded ? 'ready' : 'idle');
    showError(`Cannot load ${name}: ${e.message}${current ? `\nStill using ${current.name}.` : ''}`);
    if (!current) status('Load a checkpoint to start.');
  }
}

$('checkpoint').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  if (f) await loadCheckpoint(await f.arrayBuffer(), f.name, new Date(f.lastModified));
});

/** Where the model came from: the trainer's provenance entry and the file's date; what is absent says so. */
function showProvenance(p, date, th) {
  const dl = $('provenance');
  dl.innerHTML = '';
  const row = (k, v) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v ?? 'not recorded in this checkpoint';
    dd.dataset.key = k;
    dl.append(dt, dd);
  };
  row('preset', p.preset);
  row('training data', p.data);
  row('file date', date && !Number.isNaN(date.getTime()) ? date.toISOString().slice(0, 10) : null);
  row('commit', p.commit ? p.commit.slice(0, 12) + (p.commit.endsWith('+dirty') ? '+dirty' : '') : null);
  row('validation macro AUROC', p.validationAuroc === null ? null : `${p.validationAuroc.toFixed(3)}${p.epoch ? ` (epoch ${p.epoch})` : ''}`);
  row('thresholds', th ? `${th.rule || 'from the checkpoint'}${th.split ? ` (${th.split} split)` : ''}` : null);
}

// ---- image -------------------------------------------------------------------------------------------------

/**
 * A JPEG goes to the engine as bytes (its own decoder, as `predict` with jpeg-js); any other format the
 * browser reads (PNG, WebP, ...) is decoded here into RGBA pixels, as the edge bundle takes ImageData.
 */
async function imageOf(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return bytes;
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes]));
  } catch {
    throw new Error(`${file.name}: not an image this browser can read`);
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  const d = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  return { width: d.width, height: d.height, data: d.data, channels: 4 };
}

async function setImage(file) {
  if (!file) return;
  try {
    imageInput = await imageOf(file);
  } catch (e) {
    showError(e.message);
    return;
  }
  const img = $('preview');
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  img.onerror = () => { img.hidden = true; };
  $('drop-text').firstChild.textContent = `${file.name} (${file.size.toLocaleString()} bytes). Drop another, or `;
  $('clear-image').disabled = false;
  await predict();
}
$('image').addEventListener('change', (e) => setImage(e.target.files[0]));
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  setImage(e.dataTransfer.files[0]);
});
$('clear-image').addEventListener('click', async () => {
  imageInput = null;
  $('preview').hidden = true;
  $('image').value = '';
  $('drop-text').firstChild.textContent = 'Drop an image here, or ';
  $('clear-image').disabled = true;
  await predict();
});

// ---- fields ------------------------------------------------------------------------------------------------

function buildForm(list) {
  const form = $('fields');
  form.innerHTML = '';
  if (!list.length) form.innerHTML = '<p class="muted">This model has no tabular fields.</p>';
  for (const f of list) {
    const label = document.createElement('label');
    label.htmlFor = `f-${f.name}`;
    label.textContent = f.name;
    let input;
    if (f.kind === 'categorical') {
      input = document.createElement('select');
      input.add(new Option('(not recorded)', ''));
      for (const v of f.vocab) input.add(new Option(v, v));
    } else {
      input = document.createElement('input');
      input.type = 'text';
      input.inputMode = f.text ? 'text' : 'decimal';
      // The valid range as --fields lists it (in the unit the field takes, shown beside the label): a value
      // inside it is used as given, one beyond it is clipped or, further out, ignored.
      const range = f.valid ? `${f.valid[0]} to ${f.valid[1]}` : '';
      input.placeholder = f.text ? `${range}, or text such as 4-5` : range;
      const hint = document.createElement('span');
      hint.className = 'unit';
      hint.textContent = f.unit && !f.text ? ` (${f.unit})` : '';
      label.append(hint);
    }
    input.id = `f-${f.name}`;
    input.name = f.name;
    if (f.untrained) {
      // No training sample had this field: the model never learned it, and a value would be ignored.
      input.disabled = true;
      input.title = 'no training sample had this field: the model never learned it';
      const hint = document.createElement('span');
      hint.className = 'unit';
      hint.textContent = ' (never learned)';
      label.append(hint);
    }
    input.addEventListener('input', schedule);
    input.addEventListener('change', schedule);
    const note = document.createElement('span');
    note.className = 'field-note';
    note.id = `note-${f.name}`;
    note.hidden = true;
    form.append(label, input, note);
  }
}

function tableFromForm() {
  const t = {};
  for (const f of fields) {
    const el = $(`f-${f.name}`);
    const v = el ? el.value.trim() : '';
    if (v === '') continue;
    t[f.name] = f.kind === 'numeric' && !f.text && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return t;
}

/** Mark each ignored field at the field (its reason beside it); clear the marks of the others. */
function markFields(invalid) {
  const why = new Map(invalid.map((x) => [x.name, x.reason]));
  for (const f of fields) {
    const el = $(`f-${f.name}`), note = $(`note-${f.name}`);
    if (!el || !note) continue;
    const reason = why.get(f.name);
    el.classList.toggle('ignored', !!reason);
    el.setAttribute('aria-invalid', reason ? 'true' : 'false');
    note.hidden = !reason;
    note.textContent = reason ? `ignored: ${reason}` : '';
  }
}

let timer = 0;
function schedule() {
  clearTimeout(timer);
  timer = setTimeout(predict, 250);
}
$('predict').addEventListener('click', () => predict());

// ---- prediction --------------------------------------------------------------------------------------------

function clearResults() {
  for (const id of ['bars', 'modalities', 'features', 'why']) $(id).innerHTML = '';
  $('finding-row').hidden = true;
  lastResult = null;
}

let seq = 0;
async function predict() {
  if (!modelLoaded) return;
  const table = tableFromForm();
  const mine = ++seq;
  if (!imageInput && Object.keys(table).length === 0) {
    // Nothing given: the model's output would be its priors, not a prediction. Wait for input.
    clearResults();
    markFields([]);
    showError('');
    setState('waiting');
    status('Waiting for input: add an X-ray and/or a clinical field. With nothing given, the model would only repeat its priors.');
    return;
  }
  showError('');
  setState('predicting');
  try {
    const image = imageInput instanceof Uint8Array ? imageInput.slice() : imageInput;
    const r = await request({ type: 'predict', image, table }, image instanceof Uint8Array ? [image.buffer] : []);
    if (mine !== seq) return;
    markFields(r.features.invalid);
    if (!r.modalities.image && !r.modalities.table) {
      clearResults();
      setState('waiting');
      status('Waiting for input: none of the values given could be used (see the fields marked ignored).');
      return;
    }
    render(r);
    setState('ready');
    status(`Probabilities of the 14 findings (independent sigmoids, so they need not sum to 1)${r.calls ? '; calls at the checkpoint\'s thresholds' : '; this checkpoint has no decision thresholds'}.`);
  } catch (e) {
    if (mine !== seq) return;
    clearResults();
    showError(e.message);
  }
}

const pct = (p) => `${(p * 100).toFixed(1)}%`;
const signed = (x, digits = 2) => `${x >= 0 ? '+' : '\u2212'}${Math.abs(x).toFixed(digits)}`;

function render(r) {
  lastResult = r;
  const m = $('modalities');
  m.innerHTML = '';
  for (const [name, on] of [['image', r.modalities.image], ['table', r.modalities.table]]) {
    const b = document.createElement('span');
    b.className = `badge ${on ? 'on' : 'off'}`;
    b.textContent = name;
    b.title = on ? `${name} used` : `no ${name}: the model ran without it`;
    m.append(b);
  }
  if (!selected) selected = Object.entries(r.probabilities).sort((a, b) => b[1] - a[1])[0][0];
  const bars = $('bars');
  bars.innerHTML = '';
  labels.forEach((label, k) => {
    const p = r.probabilities[label];
    const row = document.createElement('div');
    row.className = 'bar';
    row.dataset.label = label;
    row.tabIndex = 0;
    row.title = 'Select to see why';
    row.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span><span class="tick" hidden></span></span><span class="val"></span><span class="call"></span>';
    row.querySelector('.name').textContent = label;
    row.querySelector('.fill').style.width = pct(p);
    row.querySelector('.fill').style.display = 'block';
    row.querySelector('.val').textContent = pct(p);
    if (thresholds) {
      const tick = row.querySelector('.tick');
      tick.hidden = false;
      tick.style.left = pct(thresholds.values[k]);
      tick.title = `threshold ${pct(thresholds.values[k])}`;
    }
    if (r.calls && label in r.calls) {
      row.dataset.call = r.calls[label] ? 'positive' : 'negative';
      row.querySelector('.call').textContent = r.calls[label] ? 'positive' : 'negative';
    }
    row.classList.toggle('selected', label === selected);
    const choose = () => { selected = label; render(lastResult); };
    row.addEventListener('click', choose);
    row.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); choose(); } });
    bars.append(row);
  });
  renderWhy(r);
  const f = $('features');
  f.innerHTML = '';
  const list = (title, items) => {
    if (!items.length) return;
    const h = document.createElement('h2');
    h.textContent = title;
    const ul = document.createElement('ul');
    for (const it of items) {
      const li = document.createElement('li');
      li.textContent = it;
      ul.append(li);
    }
    f.append(h, ul);
  };
  list(`Features used (${r.features.used.length})`, r.features.used.map((n) => (r.features.clipped.includes(n) ? `${n} (clipped into the valid range)` : n)));
  list('Ignored values (treated as missing)', r.features.invalid.map((x) => `${x.name}: ${x.reason}`));
  list(`Not given (${r.features.missing.length})`, [r.features.missing.join(', ')].filter(Boolean));
}

/** Why, for the selected finding: a bar per modality (probability points) and the top features (logit). */
function renderWhy(r) {
  const x = r.explanation, why = $('why');
  why.innerHTML = '';
  if (!x) return;
  $('finding-row').hidden = false;
  const sel = $('finding');
  if (sel.options.length !== labels.length) {
    sel.innerHTML = '';
    for (const l of labels) sel.add(new Option(l, l));
  }
  sel.value = selected;
  const pm = x.probability[selected], lm = x.modalities[selected];
  const head = document.createElement('p');
  head.className = 'baseline';
  head.textContent = `Baseline: the model with no input at all gives ${pct(pm.base)}; with this study, ${pct(pm.full)}. Each input's share (exact Shapley values over image and table, 4 passes):`;
  why.append(head);
  const scale = Math.max(0.05, Math.abs(pm.image), Math.abs(pm.table));
  for (const name of ['image', 'table']) {
    const v = pm[name];
    const row = document.createElement('div');
    row.className = 'contrib';
    row.dataset.modality = name;
    row.innerHTML = '<span class="name"></span><span class="axis"><span class="part"></span></span><span class="val"></span>';
    row.querySelector('.name').textContent = name;
    const part = row.querySelector('.part');
    part.classList.add(v >= 0 ? 'up' : 'down');
    part.style.width = `${(50 * Math.abs(v)) / scale}%`;
    row.querySelector('.val').textContent = `${signed(v * 100, 1)} pts`;
    row.title = `logit ${signed(lm[name], 3)}`;
    why.append(row);
  }
  const ff = x.features.findings[selected];
  const h = document.createElement('h3');
  h.textContent = `Top clinical fields for ${selected}`;
  why.append(h);
  const base = document.createElement('p');
  base.className = 'baseline';
  base.textContent = ff.values.length
    ? `Measured from the model with the image ${r.modalities.image ? 'as given' : 'absent'} and no clinical field (each field masked, the model's own "missing"; no imputed values): logit ${ff.base.toFixed(3)} to ${ff.full.toFixed(3)}. ${x.features.method === 'exact' ? 'Exact Shapley values.' : `Sampled: ${x.features.permutations} permutations (seed ${x.features.seed}), \u00b1 one standard error.`}`
    : 'No clinical field was used.';
  why.append(base);
  if (ff.values.length) {
    const ol = document.createElement('ol');
    ol.className = 'top-features';
    for (const v of ff.values.slice(0, 5)) {
      const li = document.createElement('li');
      li.dataset.feature = v.name;
      li.textContent = `${v.name}: ${signed(v.value, 3)} logit${v.se !== undefined ? ` \u00b1 ${v.se.toFixed(3)}` : ''}`;
      ol.append(li);
    }
    why.append(ol);
  }
}
$('finding').addEventListener('change', (e) => {
  selected = e.target.value;
  if (lastResult) render(lastResult);
});

// ---- start -------------------------------------------------------------------------------------------------

startWorker();
(async () => {
  try {
    const cfg = await (await fetch('/config.json')).json();
    if (!cfg.model) return;
    const res = await fetch('/model.safetensors');
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    const modified = res.headers.get('last-modified');
    await loadCheckpoint(await res.arrayBuffer(), cfg.model, modified ? new Date(modified) : null);
  } catch (e) {
    showError(`Cannot load the default checkpoint: ${e.message}`);
  }
})();
