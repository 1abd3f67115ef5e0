// Python 2.7 reads pickle protocols 0 to 2 only, and no handshake says which Python is at the other end, so a
// program that may meet 2.7 says which protocol to write. The examples ask the interpreter they start.
import { execFileSync } from 'node:child_process';

/** `protocol: 2` for a Python 2 interpreter, nothing (the default, 4) for Python 3. */
export function protocolOptionsFor(python) {
  const major = execFileSync(python, ['-c', 'import sys; print(sys.version_info[0])']).toString().trim();
  return major === '2' ? { protocol: 2 } : {};
}
