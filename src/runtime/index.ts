/**
 * runtime: OCI runtimes (runc, crun) under conmon — spec generation, lifecycle, exec, exit watching and
 * recovery (issue #5). For now: whether the configured runtime and conmon are present (RuntimeReady).
 */
export { RuntimeReadiness } from './readiness.js';
export type { RuntimeReadinessConfig } from './readiness.js';
export type { Condition } from '../base/condition.js';
