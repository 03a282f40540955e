// berth install, then berthd started without systemctl from the unit's own ExecStart (as CI and a
// systemd-less host do): the installed command line and config really run the daemon.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultConfig, renderConfigToml } from '../../../src/config/index.js';
import { baseConfigToml, integrationSkipReason, makeTempDir, runBerth, waitForExit } from '../../harness/berthd.js';

const skip = integrationSkipReason();
const START_TIMEOUT_MS = 20_000;

/** ExecStart's words with the --config value replaced. */
function execStart(unit: string, configPath: string): string[] {
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart='));
  assert.ok(line !== undefined, unit);
  assert.ok(!line.includes('"'), 'a plain command line (no quoted words) in this checkout');
  const words = line.slice('ExecStart='.length).split(' ');
  const i = words.indexOf('--config');
  assert.ok(i > 0, line);
  words[i + 1] = configPath;
  return words;
}

describe('berth install, then berthd from the unit without systemctl', { skip, timeout: 60_000 }, () => {
  it('the ExecStart command accepts the installed config and serves the socket', async (t) => {
    const dir = await makeTempDir();
    t.after(() => rm(dir, { recursive: true, force: true }));
    const stage = join(dir, 'stage');
    const res = runBerth(['install', '--root-dir', stage]);
    assert.equal(res.status, 0, res.stderr);
    const unit = await readFile(join(stage, 'etc/systemd/system/berthd.service'), 'utf8');

    const [file, ...args] = execStart(unit, join(stage, 'etc/berth/config.toml'));
    assert.ok(file !== undefined);
    const dry = spawnSync(file, [...args, '--dry-run'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(dry.status, 0, dry.stderr);
    assert.equal(dry.stdout, renderConfigToml(defaultConfig()));

    // The same command on a config with this test's own paths, in the foreground with text logs.
    await mkdir(join(dir, 'cni'));
    const config = join(dir, 'config.toml');
    await writeFile(config, baseConfigToml(dir, join(dir, 'cni')));
    const [file2, ...args2] = execStart(unit, config);
    assert.ok(file2 !== undefined);
    const proc = spawn(file2, [...args2, '--log-format', 'text'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    t.after(async () => {
      proc.kill('SIGKILL');
      await waitForExit(proc, 10_000);
    });
    const address = `unix://${join(dir, 'state', 'berth.sock')}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    let version = runBerth(['-a', address, 'version']);
    while (version.status !== 0 && Date.now() < deadline && proc.exitCode === null) {
      await sleep(100);
      version = runBerth(['-a', address, 'version']);
    }
    assert.equal(version.status, 0, `${version.stderr}\n${stderr}`);
    assert.match(version.stdout, /^RuntimeName:\s+berth$/m);
    proc.kill('SIGTERM');
    assert.equal(await waitForExit(proc, 15_000), 0, stderr);
    assert.match(stderr, / INFO {2}berthd: berthd is serving /);
  });
});
