/** The ONNX opsets of the export, in a file of their own so the option declarations load no protobuf library. */

/** The opsets the export writes and the tests check (LayerNormalization needs 17). */
export const ONNX_OPSETS = [17, 18, 19, 20, 21] as const;
/** The default opset: the newest the tests check. */
export const DEFAULT_OPSET = 21;
