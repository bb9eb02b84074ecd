// The engine's exports. Every kernel takes byte pointers into the one imported linear memory and i32
// dimensions (llm.c argument order: outputs first, then saved activations, inputs, weights, dimensions),
// never allocates, and is deterministic. ASC_FEATURE_RELAXED_SIMD selects the fused multiply-add build.
export * from './peak';
export * from './gemm';
export * from './attention';
export * from './norm';
export * from './activation';
export * from './elementwise';
export * from './rows';
export * from './loss';
export * from './optim';
