/**
 * Berth's layering (STYLE.md section 5.1), checked in CI: layers point down, domains are reached only
 * through their index.ts, the CLI talks gRPC only, and there are no cycles.
 */
const DOMAINS = 'config|store|events|metrics|content|snapshots|network|stats|images|sandbox|runtime|streaming';

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
    {
      name: 'base-is-a-leaf',
      comment: 'base/ (layer 0) imports only node:* and npm packages',
      severity: 'error',
      from: { path: '^src/base/' },
      to: { path: '^src/', pathNot: '^src/base/' },
    },
    {
      name: 'api-is-a-leaf',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/', pathNot: '^src/api/' },
    },
    {
      name: 'layer-1-points-down',
      comment: 'config, store, events, metrics import only layer 1 and 0 (metrics: the events types)',
      severity: 'error',
      from: { path: '^src/(config|store|events|metrics)/' },
      to: { path: '^src/(content|snapshots|network|stats|images|sandbox|runtime|streaming|cri|admin|daemon|cli)/' },
    },
    {
      name: 'layer-2-points-down',
      severity: 'error',
      from: { path: '^src/(content|snapshots|network|stats)/' },
      to: { path: '^src/(images|sandbox|runtime|streaming|cri|admin|daemon|cli)/' },
    },
    {
      name: 'layer-3-points-down',
      severity: 'error',
      from: { path: '^src/(images|sandbox|runtime|streaming)/' },
      to: { path: '^src/(cri|admin|daemon|cli)/' },
    },
    {
      name: 'rpc-layer-points-down',
      severity: 'error',
      from: { path: '^src/(cri|admin)/' },
      to: { path: '^src/(daemon|cli)/' },
    },
    {
      name: 'admin-uses-only-the-cri-wrapper',
      comment: 'admin is served through the same instrumented wrapper as CRI, reached through cri/index.ts',
      severity: 'error',
      from: { path: '^src/admin/' },
      to: { path: '^src/cri/', pathNot: '^src/cri/index\\.ts$' },
    },
    {
      name: 'cri-does-not-use-admin',
      severity: 'error',
      from: { path: '^src/cri/' },
      to: { path: '^src/admin/' },
    },
    {
      name: 'no-deep-domain-imports',
      comment: 'a domain is reached only through its index.ts',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: `^src/(${DOMAINS}|cri|admin)/.+`, pathNot: ['^src/$1/', '/index\\.ts$'] },
    },
    {
      name: 'cli-talks-grpc-only',
      comment: 'the CLI may import api/, config/ and base/ only',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(api|config|base|cli)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
