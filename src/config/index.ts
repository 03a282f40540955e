/**
 * config: Berth's one configuration file (TOML, modelled on containerd's config.toml), its schema,
 * embedded defaults, validation with key-path errors, and rendering (`berth config default`).
 */
export { ConfigSchema, DEFAULT_RUNTIMES } from './schema.js';
export type { Config, CriConfig, RuntimeConfig } from './schema.js';
export {
  DEFAULT_CONFIG_PATH,
  defaultConfig,
  formatIssues,
  loadConfig,
  parseConfig,
  parseConfigToml,
  redactConfig,
  renderConfigToml,
} from './load.js';
