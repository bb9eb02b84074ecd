// The demo's inference worker: the edge bundle (one ES module + .wasm) in a module Web Worker, so a slow or
// hostile checkpoint can never freeze the page (app.js times requests out and replaces the worker). A
// checkpoint that fails to load leaves the loaded one in place.
let edge = null, engine = null, predictor = null;

/** Explanations in the page: exact feature values up to 8 present features (256 passes), else 12 sampled permutations. */
const EXPLAIN = { exactMax: 8, permutations: 12, seed: 0 };

/** What the page shows about where a model came from: the trainer's provenance entry, checked as hostile. */
function provenanceOf(meta) {
  const p = meta && typeof meta.provenance === 'object' && meta.provenance !== null ? meta.provenance : {};
  const text = (v) => (typeof v === 'string' && v.length <= 200 ? v : null);
  const v = p.validation && typeof p.validation === 'object' ? p.validation : null;
  const auroc = v && typeof v.macroAuroc === 'number' && v.macroAuroc >= 0 && v.macroAuroc <= 1 ? v.macroAuroc : null;
  const epoch = v && Number.isInteger(v.epoch) ? v.epoch : null;
  return { preset: text(p.preset), data: text(p.data), commit: text(p.commit), validationAuroc: auroc, epoch };
}

/** The checkpoint's decision thresholds (the evaluation's contract: metadata.thresholds = { values: number[14], rule, split }). */
function thresholdsOf(meta) {
  const t = meta && meta.thresholds;
  if (!t || !Array.isArray(t.values) || t.values.length !== 14 || !t.values.every((x) => typeof x === 'number' && x >= 0 && x <= 1)) return null;
  return { values: t.values, rule: typeof t.rule === 'string' ? t.rule.slice(0, 200) : '', split: typeof t.split === 'string' ? t.split.slice(0, 40) : '' };
}

async function handle(msg) {
  edge ??= await import(new URL('/edge/resilient-fusion.mjs', self.location.href).href);
  engine ??= await edge.loadEngine();
  if (msg.type === 'load') {
    const next = await edge.createPredictor(msg.bytes, { engine }); // throws: the loaded predictor stays
    predictor = next;
    const c = predictor.model.config;
    return {
      fields: predictor.fields(), labels: predictor.labels, backend: predictor.model.backend.name,
      summary: `${predictor.model.numParams.toLocaleString()} parameters, images ${c.imageSize} px, ${c.numFeatures} numeric + ${c.catCardinalities.length} categorical features`,
      undefinedFeatures: predictor.spec.undefinedFeatures,
      provenance: provenanceOf(predictor.model.metadata), thresholds: thresholdsOf(predictor.model.metadata),
    };
  }
  if (msg.type === 'predict') {
    if (!predictor) throw new Error('load a checkpoint first');
    return predictor.explain({ image: msg.image, table: msg.table }, EXPLAIN);
  }
  throw new Error(`unknown request ${msg.type}`);
}

self.onmessage = async (e) => {
  const { id } = e.data;
  try {
    self.postMessage({ id, ok: true, value: await handle(e.data) });
  } catch (err) {
    self.postMessage({ id, ok: false, error: err && err.message ? err.message : String(err) });
  }
};
