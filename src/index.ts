export { type Environment, loadSettings, type Settings } from './config.js';
export { EmulatorServer, type EmulatorServerOptions, type ProviderCounters } from './emulators/server.js';
export type { Fault, Scenario } from './emulators/types.js';
export * from './protocol/index.js';
export { PROVIDERS } from './providers/registry.js';
export type { ProviderDefinition } from './providers/types.js';
export { type Gateway, type GatewayOptions, startGateway } from './server/gateway.js';
