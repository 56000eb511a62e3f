/**
 * The provider emulators (`sluice/emulators`): one loopback server speaking every provider's wire
 * format, with pacing and fault injection, for demo mode, `sluice emulate`, tests and benchmarks.
 */
export { allDialects, dialectFor } from './dialects.js';
export { EmulatorServer, type EmulatorServerOptions, type ProviderCounters } from './server.js';
export type { EmulatorDialect, Fault, Scenario } from './types.js';
