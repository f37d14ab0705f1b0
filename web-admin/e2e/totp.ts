// RFC 6238 codes computed by the tests themselves (HMAC-SHA1, 6 digits, 30 s), independently
// of the server, from the secret a page shows. A code works once: an authenticator that has
// used the current time step waits for the next one (exactly as long as needed) instead of
// sending the same code twice.

import { createHmac } from "node:crypto";

const PERIOD = 30;

/** The bytes of an RFC 4648 base32 text (case and padding ignored). */
export function base32Decode(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const clean = text.toUpperCase().replace(/[\s=-]/g, "");
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of clean) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The 6-digit TOTP code of `secret` (base32) at time step `step`. */
export function totpAt(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, "0");
}

/** The current time step. */
export function currentStep(): number {
  return Math.floor(Date.now() / 1000 / PERIOD);
}

/** An authenticator app: hands out each time step's code at most once. */
export class Authenticator {
  private lastStep = -1;

  constructor(readonly secret: string) {}

  /** The current step's code, after waiting for the next step if this one was used. */
  async nextCode(): Promise<{ code: string; step: number }> {
    let step = currentStep();
    if (step <= this.lastStep) {
      step = this.lastStep + 1;
      // Sleep exactly until that step starts (plus a little margin for clock granularity).
      const wait = step * PERIOD * 1000 - Date.now() + 100;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    this.lastStep = step;
    return { code: totpAt(this.secret, step), step };
  }

  /** A code that is wrong at any step near now (never one the server would accept). */
  wrongCode(): string {
    const now = currentStep();
    const near = new Set<string>();
    for (let s = now - 3; s <= now + 3; s++) near.add(totpAt(this.secret, s));
    for (let n = 0; ; n++) {
      const candidate = String((123456 + n * 7919) % 1_000_000).padStart(6, "0");
      if (!near.has(candidate)) return candidate;
    }
  }
}
