import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LinuxContainerResources } from '../../../src/api/gen/cri.js';
import { checkResources, nulPathOf } from '../../../src/runtime/oci-spec.js';
import { createFailureCode } from '../../../src/runtime/conmon-runtime.js';
import { resolveUser } from '../../../src/runtime/index.js';

const resources = (json: Record<string, unknown>) => LinuxContainerResources.fromJSON(json);

describe('hostile container input', () => {
  it('refuses limits the kernel would refuse, by name', () => {
    for (const [bad, field] of [
      [{ cpuPeriod: 999 }, /cpu_period/],
      [{ cpuPeriod: 2_000_000 }, /cpu_period/],
      [{ cpuQuota: 5 }, /cpu_quota/],
      [{ cpuShares: -2 }, /cpu_shares/],
      [{ memoryLimitInBytes: -1 }, /memory/],
      [{ oomScoreAdj: 1001 }, /oom_score_adj/],
      [{ cpusetCpus: 'zzz' }, /cpuset_cpus/],
      [{ cpusetMems: '0-' }, /cpuset_mems/],
    ] as const) {
      assert.throws(() => checkResources(resources(bad)), field, JSON.stringify(bad));
    }
  });

  it('accepts what kubelet sends', () => {
    checkResources(resources({ cpuPeriod: 100000, cpuQuota: 50000, cpuShares: 512, memoryLimitInBytes: 1 << 26 }));
    checkResources(resources({ cpuQuota: -1, oomScoreAdj: -997, cpusetCpus: '0-1,3', cpusetMems: '0' }));
    checkResources(resources({}));
  });

  it('finds NUL bytes anywhere in a spec', () => {
    assert.equal(nulPathOf({ process: { args: ['a', 'b'] } }, 'spec'), undefined);
    assert.equal(nulPathOf({ process: { args: ['a', 'b\0c'] } }, 'spec'), 'spec.process.args[1]');
    assert.equal(nulPathOf({ annotations: { 'k\0': 'v' } }, 'spec'), 'spec.annotations."k\\u0000"');
  });

  it("names runc refusals that are the caller's doing", () => {
    assert.equal(
      createFailureCode(
        'runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH',
      ),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      createFailureCode('failed to write "9999": write /sys/fs/cgroup/cpuset/berth/x/cpuset.cpus: invalid argument'),
      'INVALID_ARGUMENT',
    );
    assert.equal(createFailureCode('runc create failed: mount proc: operation not permitted'), 'UNKNOWN');
  });

  it('refuses ids outside uid_t', () => {
    for (const runAsUser of [-1, 2 ** 32 - 1, 2 ** 40]) {
      assert.throws(() => resolveUser({ imageUser: '', runAsUser }, [], []), /not a valid id/);
    }
  });
});
