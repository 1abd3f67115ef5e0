// Peak RSS of one operation in a fresh Node process (run by bench/lib/memory.mjs).
//   node memory-node.mjs decode mpwire|pickleparser PICKLE_FILE
//   node memory-node.mjs recv mpwire FAMILY ADDRESS AUTHKEY_HEX SIZE
// Prints {"baseline": bytes, "peak": bytes}: RSS just before the operation and the high-water mark after it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadMpwire } from '../lib/mpwire.mjs';
import { connectMpwire } from '../lib/mpwire-client.mjs';

function statusBytes(field) {
  try {
    const m = new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return null;
}

const rss = () => statusBytes('VmRSS') ?? process.memoryUsage().rss;
const peak = () => statusBytes('VmHWM') ?? process.resourceUsage().maxRSS * 1024;

const [mode, impl, ...rest] = process.argv.slice(2);
let out;
if (mode === 'decode') {
  const data = new Uint8Array(readFileSync(rest[0]));
  let loads;
  if (impl === 'mpwire') {
    loads = (await loadMpwire()).mod.loads;
  } else {
    const { Parser } = createRequire(import.meta.url)('pickleparser');
    loads = (d) => new Parser().parse(d);
  }
  const baseline = rss();
  const value = loads(data);
  out = { baseline, peak: peak(), items: value.length };
} else if (mode === 'recv') {
  const { mod } = await loadMpwire();
  const [family, address, authkeyHex, size] = rest;
  const [host, port] = address.split(':');
  const addr =
    family === 'AF_UNIX' ? { family: 'unix', path: address } : { family: 'tcp', host, port: Number(port) };
  const conn = await connectMpwire(mod, addr, Buffer.from(authkeyHex, 'hex'));
  const enc = new TextEncoder();
  await conn.sendBytes(enc.encode(JSON.stringify({ mode: 'source', size: Number(size), count: 1 })));
  await conn.recvBytes();
  const baseline = rss();
  await conn.sendBytes(enc.encode('go'));
  const msg = await conn.recvBytes();
  out = { baseline, peak: peak(), received: msg.length };
  await conn.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
console.log(JSON.stringify(out));
