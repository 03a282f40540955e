import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { NamespaceMode } from '../../../src/api/gen/cri.js';
import { defineRunCommand } from '../../../src/cli/commands/run.js';
import type { RunCliOptions } from '../../../src/cli/commands/run.js';
import { containerConfigFromDoc } from '../../../src/cli/cri-config-file.js';
import {
  attachStdio,
  buildImageRunConfigs,
  exitCodeForSignal,
  exitCodeForStartFailure,
  parseEnv,
  parseUser,
  parseVolume,
  selectRunMode,
} from '../../../src/cli/run-options.js';
import type { ImageRunOptions } from '../../../src/cli/run-options.js';

const files = new Set(['ctr.yaml', 'pod.yaml']);
const isFile = (p: string): boolean => files.has(p);

/** Parses a `berth ... run ...` command line (after "berth") and returns what the action would get. */
function parseRun(argv: readonly string[]): { args: string[]; opts: RunCliOptions } {
  const program = new Command('berth').enablePositionalOptions().exitOverride();
  program.option('-v, --version').option('-a, --address <a>');
  let captured: { args: string[]; opts: RunCliOptions } | undefined;
  defineRunCommand(program)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .action((args: string[], opts: RunCliOptions) => {
      captured = { args, opts };
    });
  program.parse(argv, { from: 'user' });
  assert.ok(captured, 'the action ran');
  return captured;
}

function hexOf(bytes: number): string {
  return 'a1'.repeat(bytes);
}

const BASE: ImageRunOptions = {
  image: 'busybox',
  command: ['ls', '-l'],
  env: [],
  volumes: [],
  isHostNetwork: false,
  logRoot: '/var/log/pods',
  isInteractive: false,
  isTty: false,
};

describe('berth run: mode selection', () => {
  it('is config mode when the first argument is an existing file', () => {
    assert.deepEqual(selectRunMode(['ctr.yaml', 'pod.yaml'], isFile), {
      kind: 'config',
      containerFile: 'ctr.yaml',
      podFile: 'pod.yaml',
    });
  });

  it('is image mode otherwise, the rest being the command', () => {
    assert.deepEqual(selectRunMode(['busybox', 'ls', '-l'], isFile), {
      kind: 'image',
      image: 'busybox',
      command: ['ls', '-l'],
    });
    assert.deepEqual(selectRunMode(['busybox'], isFile), { kind: 'image', image: 'busybox', command: [] });
    // The second argument being a file changes nothing: only the first decides.
    assert.equal(selectRunMode(['busybox', 'pod.yaml'], isFile).kind, 'image');
  });

  it('refuses config mode with the wrong number of files, or with image-only options', () => {
    assert.throws(() => selectRunMode(['ctr.yaml'], isFile), /exactly CONTAINER_CONFIG POD_CONFIG \(got 1/);
    assert.throws(() => selectRunMode(['ctr.yaml', 'pod.yaml', '--rm'], isFile), /options go before the files/);
    assert.throws(
      () => selectRunMode(['ctr.yaml', 'pod.yaml'], isFile, ['rm', 'env']),
      /^CliError: --rm, -e\/--env: only for run IMAGE; "ctr.yaml" is a file/,
    );
    assert.throws(
      () => selectRunMode(['ctr.yaml', 'pod.yaml'], isFile, ['interactive', 'tty']),
      /^CliError: -i\/--interactive, -t\/--tty: only for run IMAGE/,
    );
    assert.throws(() => selectRunMode([], isFile), /run needs/);
  });
});

describe('berth run: command line', () => {
  it('gives everything after IMAGE to the command, options included', () => {
    const { args, opts } = parseRun(['run', '--rm', '-e', 'A=1', '-e', 'B=2', 'busybox', 'ls', '-l', '--rm', '-e']);
    assert.deepEqual(args, ['busybox', 'ls', '-l', '--rm', '-e']);
    assert.equal(opts.rm, true);
    assert.deepEqual(opts.env, ['A=1', 'B=2']);
  });

  it('takes -v as a volume (not the program version) and -- before a dashed image argument', () => {
    const { args, opts } = parseRun(['run', '-v', '/a:/b', '--net', 'host', '--', 'busybox', '--help']);
    assert.deepEqual(opts.volume, ['/a:/b']);
    assert.equal(opts.net, 'host');
    assert.deepEqual(args, ['busybox', '--help']);
  });

  it('defaults: pull, no rm, pod network, the kubelet log root', () => {
    const { opts } = parseRun(['run', 'ctr.yaml', 'pod.yaml']);
    assert.equal(opts.pull, true);
    assert.equal(opts.rm, false);
    assert.equal(opts.net, 'pod');
    assert.equal(opts.logRoot, '/var/log/pods');
    assert.equal(parseRun(['run', '--no-pull', '-r', 'crun', 'ctr.yaml', 'pod.yaml']).opts.pull, false);
  });

  it("takes -i and -t before IMAGE, alone or as -it; after IMAGE they are the command's", () => {
    const both = parseRun(['run', '--rm', '-it', 'busybox', 'sh']);
    assert.equal(both.opts.interactive, true);
    assert.equal(both.opts.tty, true);
    assert.deepEqual(both.args, ['busybox', 'sh']);
    const long = parseRun(['run', '--interactive', 'busybox', 'cat']).opts;
    assert.deepEqual([long.interactive, long.tty], [true, false]);
    const tty = parseRun(['run', '-t', 'busybox']).opts;
    assert.deepEqual([tty.interactive, tty.tty], [false, true]);
    const none = parseRun(['run', 'busybox', 'ls', '-it']);
    assert.deepEqual([none.opts.interactive, none.opts.tty], [false, false], 'off by default');
    assert.deepEqual(none.args, ['busybox', 'ls', '-it']);
  });

  it('refuses an unknown --net', () => {
    assert.throws(() => parseRun(['run', '--net', 'bridge', 'busybox']), /--net <mode>' argument 'bridge' is invalid/);
  });
});

describe('berth run: option values', () => {
  it('-e sets KEY=VALUE, copies a bare KEY from the environment and drops it when unset', () => {
    assert.deepEqual(parseEnv(['A=1', 'B', 'C', 'D=x=y', 'E='], { B: 'from-host' }), [
      { key: 'A', value: '1' },
      { key: 'B', value: 'from-host' },
      { key: 'D', value: 'x=y' },
      { key: 'E', value: '' },
    ]);
    assert.throws(() => parseEnv(['=1'], {}), /-e "=1" must be KEY=VALUE/);
  });

  it('-v binds host paths, read-only with :ro, relative ones from the current directory', () => {
    assert.deepEqual(parseVolume('/srv/data:/data', '/home/u'), {
      hostPath: '/srv/data',
      containerPath: '/data',
      isReadOnly: false,
    });
    assert.deepEqual(parseVolume('./d/../e:/e:ro', '/home/u'), {
      hostPath: '/home/u/e',
      containerPath: '/e',
      isReadOnly: true,
    });
    assert.throws(() => parseVolume('data:/data', '/'), /named volumes are not supported/);
    assert.throws(() => parseVolume('/a:b', '/'), /container path "b" must be absolute/);
    assert.throws(() => parseVolume('/a:/b:z', '/'), /mode "z" must be ro or rw/);
    assert.throws(() => parseVolume('/a', '/'), /must be SRC:DST/);
  });

  it('--user takes UID or NAME, and a numeric GID', () => {
    assert.deepEqual(parseUser('1000'), { uid: 1000n });
    assert.deepEqual(parseUser('1000:50'), { uid: 1000n, gid: 50n });
    assert.deepEqual(parseUser('app'), { username: 'app' });
    assert.deepEqual(parseUser('app:0'), { username: 'app', gid: 0n });
    assert.throws(() => parseUser('app:staff'), /group must be a numeric GID/);
    assert.throws(() => parseUser('1:2:3'), /must be UID\[:GID\]/);
    assert.throws(() => parseUser(':1'), /must be UID\[:GID\]/);
  });

  it('maps signals and start failures to docker exit codes', () => {
    assert.equal(exitCodeForSignal('SIGINT'), 130);
    assert.equal(exitCodeForSignal('SIGTERM'), 143);
    assert.equal(exitCodeForStartFailure('exec: "/nope": stat /nope: no such file or directory'), 127);
    assert.equal(exitCodeForStartFailure('exec: "x": executable file not found in $PATH'), 127);
    assert.equal(exitCodeForStartFailure('exec: "/etc": permission denied'), 126);
    assert.equal(exitCodeForStartFailure('DEADLINE_EXCEEDED: runc start'), 125);
    assert.equal(exitCodeForStartFailure('mount /srv/x: no such file or directory'), 125, 'not the command');
  });
});

describe('berth run: the throw-away pod', () => {
  it('names the pod berth-run-<8 hex> in namespace default, logging under <root>/<ns>_<name>_<uid>', () => {
    const { podConfig, containerConfig } = buildImageRunConfigs(BASE, hexOf);
    assert.deepEqual(podConfig.metadata, {
      name: 'berth-run-a1a1a1a1',
      namespace: 'default',
      uid: hexOf(16),
      attempt: 0,
    });
    assert.equal(podConfig.logDirectory, `/var/log/pods/default_berth-run-a1a1a1a1_${hexOf(16)}`);
    assert.equal(podConfig.labels['berth.run'], 'true');
    assert.equal(containerConfig.metadata?.name, 'berth-run-a1a1a1a1');
    assert.equal(containerConfig.logPath, 'berth-run-a1a1a1a1/0.log');
    assert.equal(containerConfig.image?.image, 'busybox');
    // docker's CMD is CRI's args; the image's entrypoint stays.
    assert.deepEqual(containerConfig.command, []);
    assert.deepEqual(containerConfig.args, ['ls', '-l']);
    const ns = podConfig.linux?.securityContext?.namespaceOptions;
    assert.equal(ns?.network, NamespaceMode.POD);
    assert.equal(ns?.pid, NamespaceMode.CONTAINER, 'no shared PID namespace');
    assert.deepEqual(containerConfig.linux?.securityContext?.namespaceOptions, ns);
  });

  it('carries --name, -e, -v, -w, --user, --entrypoint and --net host into the configs', () => {
    const { podConfig, containerConfig } = buildImageRunConfigs(
      {
        ...BASE,
        name: 'job1',
        command: [],
        env: [{ key: 'A', value: 'é' }],
        volumes: [{ hostPath: '/srv', containerPath: '/data', isReadOnly: true }],
        workdir: '/tmp',
        user: { uid: 1000n, gid: 50n },
        entrypoint: '/bin/echo',
        isHostNetwork: true,
      },
      hexOf,
    );
    assert.equal(podConfig.metadata?.name, 'job1');
    assert.equal(containerConfig.metadata?.name, 'job1');
    assert.equal(podConfig.hostname, '', 'host network: the node hostname');
    assert.equal(podConfig.linux?.securityContext?.namespaceOptions?.network, NamespaceMode.NODE);
    assert.deepEqual(containerConfig.command, ['/bin/echo']);
    assert.deepEqual(containerConfig.args, [], 'an entrypoint without CMD runs with no arguments');
    assert.deepEqual(
      containerConfig.envs.map((e) => [e.key, e.value.toString()]),
      [['A', 'é']],
    );
    assert.deepEqual(
      containerConfig.mounts.map((m) => [m.hostPath, m.containerPath, m.readonly]),
      [['/srv', '/data', true]],
    );
    assert.equal(containerConfig.workingDir, '/tmp');
    const sc = containerConfig.linux?.securityContext;
    assert.equal(sc?.runAsUser?.value, 1000n);
    assert.equal(sc?.runAsGroup?.value, 50n);
    assert.equal(sc?.runAsUsername, '');
    const named = buildImageRunConfigs({ ...BASE, user: { username: 'app' } }, hexOf).containerConfig;
    assert.equal(named.linux?.securityContext?.runAsUsername, 'app');
    assert.equal(named.linux?.securityContext?.runAsUser, undefined);
  });

  it("-i gives the container stdin that closes with berth's (stdin_once), -t a terminal; neither by default", () => {
    const plain = buildImageRunConfigs(BASE, hexOf).containerConfig;
    assert.deepEqual([plain.stdin, plain.stdinOnce, plain.tty], [false, false, false]);
    const interactive = buildImageRunConfigs({ ...BASE, isInteractive: true }, hexOf).containerConfig;
    assert.deepEqual([interactive.stdin, interactive.stdinOnce, interactive.tty], [true, true, false]);
    const tty = buildImageRunConfigs({ ...BASE, isTty: true }, hexOf).containerConfig;
    assert.deepEqual([tty.stdin, tty.stdinOnce, tty.tty], [false, false, true]);
  });

  it('attaches with stdin for -i, and without a stderr stream for -t (the terminal has one output)', () => {
    assert.deepEqual(attachStdio(true, false), { stdin: true, tty: false, stdout: true, stderr: true });
    assert.deepEqual(attachStdio(false, true), { stdin: false, tty: true, stdout: true, stderr: false });
    assert.deepEqual(attachStdio(true, true), { stdin: true, tty: true, stdout: true, stderr: false });
  });

  it('refuses names Kubernetes would refuse, a relative workdir and an empty entrypoint', () => {
    assert.throws(() => buildImageRunConfigs({ ...BASE, name: 'Job_1' }, hexOf), /--name "Job_1" must be lower-case/);
    assert.throws(() => buildImageRunConfigs({ ...BASE, workdir: 'tmp' }, hexOf), /-w "tmp" must be an absolute path/);
    assert.throws(() => buildImageRunConfigs({ ...BASE, entrypoint: '' }, hexOf), /--entrypoint must name a command/);
  });
});

describe('container config files', () => {
  it('takes env values as written (crictl files), not as base64', () => {
    const config = containerConfigFromDoc({
      metadata: { name: 'c' },
      envs: [{ key: 'GREETING', value: 'hello' }, { key: 'N', value: 3 }, { key: 'EMPTY' }],
    });
    assert.deepEqual(
      config.envs.map((e) => [e.key, e.value.toString()]),
      [
        ['GREETING', 'hello'],
        ['N', '3'],
        ['EMPTY', ''],
      ],
    );
    assert.throws(() => containerConfigFromDoc({ envs: [{ value: 'x' }] }), /envs\[0\] must have a string key/);
  });
});
