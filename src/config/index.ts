/**
 * config: Berth's one configuration file (TOML, modelled on containerd's config.toml), its schema,
 * embedded defaults, validation with key-path errors, rendering (`berth config default`), the generated
 * reference (docs/config-reference.md) and Berth's default CNI conflist (written by berthd and `berth install`).
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
export {
  CNI_CONFIG_EXTENSIONS,
  DEFAULT_CNI_CONFIG_FILE,
  DEFAULT_CNI_SUBNET,
  defaultCniConfigList,
  isCniConfigFile,
  renderCniConfigList,
} from './default-cni.js';
export type { CniJson } from './default-cni.js';
export { configReference, renderConfigReference } from './reference.js';
export type { ReferenceKey, ReferenceSection } from './reference.js';
