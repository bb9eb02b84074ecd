// Entry point of the image-decoding worker for Piscina: registers tsx (a no-op where the parent already
// runs under tsx, needed when the library is used from plain node) and loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./decode.ts');
export default mod.default;
