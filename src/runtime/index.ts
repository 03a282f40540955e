/**
 * runtime: containers under OCI runtimes (runc, crun) and conmon (issue #5): the OCI spec built from the CRI
 * config and the image, the container service (lifecycle, state, recovery), the readiness check, and the
 * log rotator for containers no kubelet rotates (log-rotation.ts: files and naming, as the kubelet's).
 */
export { RuntimeReadiness } from './readiness.js';
export type { RuntimeReadinessConfig } from './readiness.js';
export type { Condition } from '../base/condition.js';
export { ContainerService, stopSignalOf } from './container-service.js';
export type {
  Container,
  ContainerDeps,
  ContainerFilter,
  ContainerStatusFields,
  ContainerUsage,
} from './container-service.js';
export type {
  ContainerExit,
  ContainerRuntime,
  CreateRequest,
  ExecSyncResult,
  InteractiveExecRequest,
  RuntimeState,
} from './container-runtime.js';
export { attachToMonitor } from './monitor-attach.js';
export type { MonitorAttachIo } from './monitor-attach.js';
export { buildOciSpec, capabilitiesOf, cgroupsPathOf, DEFAULT_CAPABILITIES } from './oci-spec.js';
export type { HostFacts, ImageRuntimeConfig, PodContext, SpecInput } from './oci-spec.js';
export type { OciSpec } from './oci-types.js';
export { boundingCapabilities, hostDevices, ownOomScoreAdj } from './host-facts.js';
export { defaultSeccompProfile } from './seccomp-default.js';
export { parseGroup, parsePasswd, resolveUser } from './image-user.js';
export { ConmonRuntime } from './conmon-runtime.js';
export type { ConmonRuntimeOptions } from './conmon-runtime.js';
export { LogRotator } from './log-rotator.js';
export type { ContainerLogFile, LogRotatorOptions, RotationOutcome } from './log-rotator.js';
export { isRotatedByBerth, KUBELET_POD_UID_LABEL, planRotation, rotationTimestamp } from './log-rotation.js';
export type { LogRotationMode, RotationPlan } from './log-rotation.js';
export { probeBinary, versionLine } from './binary-probe.js';
