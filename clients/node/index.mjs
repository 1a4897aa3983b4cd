// ESM entry point: the same middleware as the CommonJS one (index.js).
import cjs from './index.js';

export default cjs;
export const session = cjs.session;
export const Session = cjs.Session;
export const SessionStoreError = cjs.SessionStoreError;
