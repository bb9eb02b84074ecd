// The demo page: a checkpoint (file picker or the server's default), an optional X-ray JPEG, any subset of
// the clinical fields (generated from the checkpoint's schema), and the 14 probabilities as bars with the
// modalities and features used. Inference runs in worker.js; every request has a time limit, so a hostile
// or oversized checkpoint ends in an error message, never a hang.
const $ = (id) => document.getElementById(id);
const TIMEOUT_MS = 30000;

let worker = null, nextId = 1, pending = new Map();
let modelLoaded = false, imageBytes = null, fields = [];

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

function failAll(err) {
  for (const [, p] of pending) { clearTimeout(p.timer); p.reject(err); }
  pending.clear();
  worker.terminate();
  startWorker();
  modelLoaded = false;
  $('predict').disabled = true;
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

async function loadCheckpoint(bytes, name) {
  showError('');
  setState('loading');
  status(`Loading ${name} ...`);
  modelLoaded = false;
  $('predict').disabled = true;
  try {
    const info = await request({ type: 'load', bytes }, [bytes]);
    modelLoaded = true;
    fields = info.fields;
    $('model-info').textContent = `${name}: ${info.summary} (${info.backend})`;
    buildForm(info.fields);
    $('predict').disabled = false;
    setState('ready');
    status('Ready. Add an image and/or fields; predictions update as you type.');
    await predict();
  } catch (e) {
    $('model-info').textContent = 'No checkpoint loaded.';
    $('fields').innerHTML = '<p class="muted">The fields appear when a checkpoint is loaded.</p>';
    clearResults();
    status('');
    showError(`Cannot load ${name}: ${e.message}`);
  }
}

$('checkpoint').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  if (f) await loadCheckpoint(await f.arrayBuffer(), f.name);
});

// ---- image -------------------------------------------------------------------------------------------------

async function setImage(file) {
  if (!file) return;
  imageBytes = new Uint8Array(await file.arrayBuffer());
  const img = $('preview');
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  img.onerror = () => { img.hidden = true; };
  $('drop-text').firstChild.textContent = `${file.name} (${imageBytes.length.toLocaleString()} bytes). Drop another, or `;
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
  imageBytes = null;
  $('preview').hidden = true;
  $('image').value = '';
  $('drop-text').firstChild.textContent = 'Drop a JPEG here, or ';
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
    input.addEventListener('input', schedule);
    input.addEventListener('change', schedule);
    form.append(label, input);
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

let timer = 0;
function schedule() {
  clearTimeout(timer);
  timer = setTimeout(predict, 250);
}
$('predict').addEventListener('click', () => predict());

// ---- prediction --------------------------------------------------------------------------------------------

function clearResults() {
  $('bars').innerHTML = '';
  $('modalities').innerHTML = '';
  $('features').innerHTML = '';
}

let seq = 0;
async function predict() {
  if (!modelLoaded) return;
  const mine = ++seq;
  showError('');
  setState('predicting');
  try {
    const image = imageBytes ? imageBytes.slice() : null;
    const r = await request({ type: 'predict', image, table: tableFromForm() }, image ? [image.buffer] : []);
    if (mine !== seq) return;
    render(r);
    setState('ready');
    status('Probabilities of the 14 findings (independent sigmoids, so they need not sum to 1).');
  } catch (e) {
    if (mine !== seq) return;
    clearResults();
    showError(e.message);
  }
}

function render(r) {
  const m = $('modalities');
  m.innerHTML = '';
  for (const [name, on] of [['image', r.modalities.image], ['table', r.modalities.table]]) {
    const b = document.createElement('span');
    b.className = `badge ${on ? 'on' : 'off'}`;
    b.textContent = name;
    b.title = on ? `${name} used` : `no ${name}: the model ran without it`;
    m.append(b);
  }
  const bars = $('bars');
  bars.innerHTML = '';
  for (const [label, p] of Object.entries(r.probabilities)) {
    const row = document.createElement('div');
    row.className = 'bar';
    row.dataset.label = label;
    row.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="val"></span>';
    row.querySelector('.name').textContent = label;
    row.querySelector('.fill').style.width = `${(p * 100).toFixed(1)}%`;
    row.querySelector('.fill').style.display = 'block';
    // With the checkpoint's validation thresholds, the call beside the probability (positive: >= threshold).
    const call = r.calls ? (r.calls[label] ? ' pos' : ' neg') : '';
    if (r.calls) row.dataset.call = r.calls[label] ? 'positive' : 'negative';
    row.querySelector('.val').textContent = `${(p * 100).toFixed(1)}%${call}`;
    bars.append(row);
  }
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

// ---- start -------------------------------------------------------------------------------------------------

startWorker();
(async () => {
  try {
    const cfg = await (await fetch('/config.json')).json();
    if (!cfg.model) return;
    const res = await fetch('/model.safetensors');
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    await loadCheckpoint(await res.arrayBuffer(), cfg.model);
  } catch (e) {
    showError(`Cannot load the default checkpoint: ${e.message}`);
  }
})();
