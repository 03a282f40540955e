#!/usr/bin/env node
/**
 * berth: the operator's CLI (crictl's commands, docker's missing ones, containerd's ctr admin).
 * Talks to berthd over gRPC only. Errors print one line "berth: ..." and exit 1.
 */
import { messageOf } from '../base/errors.js';
import { CliError } from './errors.js';
import { buildProgram } from './program.js';

async function main(): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      // commander already printed help, version or its own error.
      process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
      return;
    }
    const isDebug = process.argv.includes('--debug') || process.argv.includes('-D');
    process.stderr.write(`berth: ${messageOf(err)}\n`);
    if (isDebug && !(err instanceof CliError) && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack}\n`);
    }
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}

await main();
