export { type Environment, loadSettings, type Settings } from './config.js';
export { type ConfigFile, loadConfigFile, parseConfig } from './config-file.js';
export * from './protocol/index.js';
export { PROVIDERS } from './providers/registry.js';
export type { ProviderDefinition } from './providers/types.js';
export { type Gateway, type GatewayOptions, startGateway } from './server/gateway.js';
