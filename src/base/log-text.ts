/**
 * `berthd --log-format text`: pino's JSON lines turned into one readable line each, for a daemon run in a
 * terminal (JSON stays the default, for journald and log shippers). A small formatter instead of
 * pino-pretty: no extra dependency, and it writes synchronously like the JSON logger does.
 *
 *   2026-11-22 10:04:05.123 INFO  berthd: serving socket=/run/berth/berth.sock
 *   2026-11-22 10:04:06.001 ERROR berthd: startup failed err="socket ... in use"
 *       Error: socket ... in use
 *           at ...
 */

const LEVEL_NAMES: Readonly<Record<number, string>> = Object.freeze({
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
});

/** Fields every line has; shown in the prefix (or, for pid and hostname, not at all). */
const PREFIX_KEYS = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);
const LEVEL_WIDTH = 5;
const STACK_INDENT = '    ';

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local time "YYYY-MM-DD HH:MM:SS.mmm". */
function formatTime(ms: number): string {
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${date} ${time}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** key=value: bare when the value is a plain word, JSON otherwise (quotes, spaces, objects). */
function formatField(key: string, value: unknown): string {
  if (typeof value === 'string' && /^[\w./:@+-]+$/.test(value)) return `${key}=${value}`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return `${key}=${String(value)}`;
  return `${key}=${JSON.stringify(value)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One pino JSON line as text (ending in "\n"); a line that is not pino JSON is passed through. */
export function formatLogLine(line: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  if (!isRecord(entry)) return `${line.trimEnd()}\n`;
  const level = typeof entry['level'] === 'number' ? (LEVEL_NAMES[entry['level']] ?? String(entry['level'])) : '?';
  const time = typeof entry['time'] === 'number' ? formatTime(entry['time']) : '';
  const name = typeof entry['name'] === 'string' ? `${entry['name']}: ` : '';
  const msg = typeof entry['msg'] === 'string' ? entry['msg'] : '';
  const fields: string[] = [];
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (PREFIX_KEYS.has(key)) continue;
    // pino serializes errors as {type, message, stack}: the message goes on the line, the stack below it.
    if (isRecord(value) && typeof value['stack'] === 'string') {
      fields.push(formatField(key, typeof value['message'] === 'string' ? value['message'] : value['type']));
      stacks.push(value['stack']);
      continue;
    }
    fields.push(formatField(key, value));
  }
  const head = [`${time} ${level.padEnd(LEVEL_WIDTH)} ${name}${msg}`, ...fields].join(' ');
  const tail = stacks.flatMap((s) => s.split('\n').map((l) => `${STACK_INDENT}${l}`));
  return [head, ...tail].join('\n') + '\n';
}
