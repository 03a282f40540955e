/**
 * The cgroup check of `berth plugins`: which hierarchy the node has (v1, hybrid, v2; see cgroup-layout.ts) and
 * whether the configured driver can work. The systemd driver needs a running systemd (runc asks it over D-Bus
 * to create each scope); systemd's own marker for that is the directory /run/systemd/system (sd_booted(3)).
 */
import { stat } from 'node:fs/promises';
import type { ProbeResult } from '../base/condition.js';
import { messageOf } from '../base/errors.js';
import { readCgroupLayout } from './cgroup-layout.js';
import type { CgroupDriver } from './cgroup-path.js';

export interface CgroupProbeOptions {
  readonly mountinfoPath?: string;
  /** Default /run/systemd/system. */
  readonly systemdMarker?: string;
}

export async function probeCgroups(driver: CgroupDriver, options: CgroupProbeOptions = {}): Promise<ProbeResult> {
  let layout;
  try {
    layout = await readCgroupLayout(options.mountinfoPath);
  } catch (err) {
    return { isReady: false, reason: messageOf(err), details: { driver } };
  }
  const details = {
    driver,
    version: layout.mode,
    ...(layout.unified === undefined ? {} : { unified: layout.unified }),
    ...(layout.v1.size === 0 ? {} : { v1Controllers: [...layout.v1.keys()].sort().join(',') }),
  };
  const what = `cgroup ${layout.mode}${layout.mode === 'hybrid' ? ' (v1 controllers, v2 tree beside)' : ''}, driver ${driver}`;
  if (driver === 'systemd') {
    const marker = options.systemdMarker ?? '/run/systemd/system';
    const isBooted = await stat(marker).then(
      (st) => st.isDirectory(),
      () => false,
    );
    if (!isBooted) {
      return {
        isReady: false,
        reason: `${what}: systemd is not running (no ${marker}); set plugins.cri.cgroup_driver = "cgroupfs"`,
        details,
      };
    }
  }
  return { isReady: true, reason: what, details };
}
