// Entry point of a queue job's training thread: registers tsx (worker threads do not inherit the parent's
// loader for a .ts entry file) and loads the TypeScript thread code, which starts on its workerData.
import { register } from 'tsx/esm/api';

register();
await import('./train-thread.ts');
