// The demo's inference worker: the edge bundle (one ES module + .wasm) in a module Web Worker, so a slow or
// hostile checkpoint can never freeze the page (app.js times requests out and replaces the worker).
let edge = null, engine = null, predictor = null;

async function handle(msg) {
  edge ??= await import(new URL('/edge/resilient-fusion.mjs', self.location.href).href);
  engine ??= await edge.loadEngine();
  if (msg.type === 'load') {
    predictor = null;
    predictor = await edge.createPredictor(msg.bytes, { engine });
    const c = predictor.model.config;
    return {
      fields: predictor.fields(), labels: predictor.labels, backend: predictor.model.backend.name,
      summary: `${predictor.model.numParams.toLocaleString()} parameters, images ${c.imageSize} px, ${c.numFeatures} numeric + ${c.catCardinalities.length} categorical features`,
      undefinedFeatures: predictor.spec.undefinedFeatures,
    };
  }
  if (msg.type === 'predict') {
    if (!predictor) throw new Error('load a checkpoint first');
    return predictor.predict({ image: msg.image, table: msg.table });
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
