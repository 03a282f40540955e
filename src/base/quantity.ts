/**
 * Sizes and durations written the way the kubelet's config writes them, so an operator can copy a value
 * across: `containerLogMaxSize: 10Mi` is a Kubernetes resource quantity, `containerLogMonitorInterval: 10s`
 * a Go duration.
 *
 * Quantities (k8s.io/apimachinery resource.Quantity): a decimal number, optionally with a fraction, then a
 * binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (k M G T P E) or an exponent (e3, E6). A byte count must
 * come out whole, as the kubelet's `quantity.AsInt64()` demands; it is computed exactly (BigInt), so `1.1k` is
 * 1100 and `0.5` is refused. Milli (`m`) and negative values mean nothing for a file size and are refused.
 *
 * Durations (Go time.ParseDuration): one or more `<number><unit>` with units ms, s, m, h, e.g. `10s`,
 * `1m30s`, `1.5s`, `250ms`; the result is whole milliseconds.
 */
import { BerthError } from './errors.js';

const QUANTITY = /^(\d+)(?:\.(\d+))?(?:(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;
const BINARY_SHIFT: Readonly<Record<string, bigint>> = Object.freeze({
  Ki: 10n,
  Mi: 20n,
  Gi: 30n,
  Ti: 40n,
  Pi: 50n,
  Ei: 60n,
});
const DECIMAL_EXPONENT: Readonly<Record<string, number>> = Object.freeze({ k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 });
/** An exponent beyond this cannot give a safe integer (and would make BigInt work hard). */
const MAX_EXPONENT = 30;

/** Bytes in a quantity like "10Mi", "64Ki", "1G", "5e6"; INVALID_ARGUMENT unless it is a whole number of bytes. */
export function parseByteQuantity(text: string): number {
  const m = QUANTITY.exec(text.trim());
  const refuse = (why: string): never => {
    throw new BerthError('INVALID_ARGUMENT', `size "${text}" ${why}`);
  };
  if (m === null) return refuse('is not a quantity like 10Mi, 64Ki, 1G or 5e6');
  const [, whole = '0', fraction = '', suffix, exponent] = m;
  // value = (whole.fraction) * multiplier, as numerator / denominator with integers only.
  let numerator = BigInt(whole + fraction);
  let denominator = 10n ** BigInt(fraction.length);
  if (suffix !== undefined && suffix in BINARY_SHIFT) {
    numerator <<= BINARY_SHIFT[suffix] ?? 0n;
  } else {
    const power = suffix !== undefined ? (DECIMAL_EXPONENT[suffix] ?? 0) : Number(exponent ?? '0');
    if (Math.abs(power) > MAX_EXPONENT) return refuse('is out of range');
    if (power >= 0) numerator *= 10n ** BigInt(power);
    else denominator *= 10n ** BigInt(-power);
  }
  if (numerator % denominator !== 0n) return refuse('is not a whole number of bytes');
  const bytes = numerator / denominator;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return refuse('is out of range');
  return Number(bytes);
}

const DURATION = /^(?:(?:\d+(?:\.\d+)?|\.\d+)(?:ms|s|m|h))+$/;
/** Used with matchAll only, which works on a copy: the module-level regex keeps no lastIndex state. */
const DURATION_PARTS = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/g;
const UNIT_MS: Readonly<Record<string, number>> = Object.freeze({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 });

/** Milliseconds in a Go-style duration like "10s", "1m30s", "250ms"; INVALID_ARGUMENT otherwise. */
export function parseDurationMs(text: string): number {
  const s = text.trim();
  if (!DURATION.test(s)) throw new BerthError('INVALID_ARGUMENT', `duration "${text}" is not like 10s, 1m30s or 250ms`);
  let totalMs = 0;
  for (const [, amount, unit] of s.matchAll(DURATION_PARTS)) totalMs += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  return Math.round(totalMs);
}
