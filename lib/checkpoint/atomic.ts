// The atomic writer lives in the base layer (lib/atomic_file.ts) so that
// report/ can use it too; this re-export keeps checkpoint's old entry point for
// the files that still import it from here (train/trainer.ts, data/opixray.ts).
export { writeFileAtomic, removeStaleTempFiles, tempFileWriter } from '../atomic_file.js';
