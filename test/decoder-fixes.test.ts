import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  dumps,
  loads,
  NDArray,
  NumpyDtype,
  NumpyScalar,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  Registry,
} from '../src/codec/index.js';

/** CPython's pickles of one Python expression at each protocol, after running `setup`. */
function pickleEach(setup: string, expr: string, protocols: readonly number[]): Uint8Array[] {
  const script = `import pickle, sys, json, collections\n${setup}\nv = ${expr}\nsys.stdout.write(json.dumps([pickle.dumps(v, p).hex() for p in json.loads(sys.argv[1])]))`;
  const out = execFileSync('python3', ['-c', script, JSON.stringify(protocols)]).toString();
  return (JSON.parse(out) as string[]).map((hex) => Uint8Array.from(Buffer.from(hex, 'hex')));
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ALL = [0, 1, 2, 3, 4, 5] as const;

describe('BUILD with a state on a typed standard-library value', () => {
  const setup = 'od = collections.OrderedDict(a=1, b=[2])\nod.x = 5';

  it('decodes an OrderedDict with instance attributes as its reduction, which re-encodes byte for byte', () => {
    const pickles = pickleEach(setup, 'od', ALL);
    for (const protocol of ALL) {
      const v = loads(pickles[protocol]!);
      expect(v, `protocol ${protocol}`).toBeInstanceOf(PyObject);
      const o = v as PyObject;
      expect([o.module, o.name]).toEqual(['collections', 'OrderedDict']);
      expect(o.dictItems).toEqual([
        ['a', 1],
        ['b', [2]],
      ]);
      expect(o.state).toEqual({ x: 5 });
      expect(hex(dumps(v, { protocol }))).toBe(hex(pickles[protocol]!));
    }
  });

  it('memo references after the BUILD get the placeholder, even when memoized long before it', () => {
    const big = 'big = collections.OrderedDict((str(i), i) for i in range(6000))\nbig.tag = "t"';
    for (const [protocol, pickle] of pickleEach(big, '[big, big]', [2, 4]).entries()) {
      const v = loads(pickle) as unknown[];
      expect(v[0], `protocol ${[2, 4][protocol]}`).toBeInstanceOf(PyObject);
      expect(v[1]).toBe(v[0]);
      expect((v[0] as PyObject).dictItems).toHaveLength(6000);
      expect((v[0] as PyObject).state).toEqual({ tag: 't' });
    }
  });

  it('an OrderedDict without attributes is still a PyOrderedDict', () => {
    const v = loads(pickleEach('', 'collections.OrderedDict(a=1)', [4])[0]!);
    expect(v).toBeInstanceOf(PyOrderedDict);
  });

  it('BUILD with a state on a plain list is still refused, as CPython does', () => {
    const pickle = Uint8Array.from(Buffer.from('80025d7d710158010000007871024b0173622e', 'hex'));
    expect(() => loads(pickle)).toThrow(expect.objectContaining({ code: 'BAD_STACK' }));
  });
});

describe('maxContainerItems on dicts decoded as plain objects', () => {
  const keyed = "{'k%d' % i: i for i in range(2500)}";

  it('counts items across SETITEMS batches and single SETITEMs', () => {
    for (const protocol of ALL) {
      const pickle = pickleEach('', keyed, [protocol])[0]!;
      for (const dicts of ['auto', 'object'] as const) {
        expect(
          () => loads(pickle, { dicts, limits: { maxContainerItems: 2000 } }),
          `p${protocol} ${dicts}`,
        ).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }));
        expect(
          Object.keys(loads(pickle, { dicts, limits: { maxContainerItems: 2500 } }) as object),
        ).toHaveLength(2500);
      }
    }
  });

  it('many small dicts together may hold more items than the limit', () => {
    const expr = "([{'a': i, 'b': i} for i in range(1500)], [{'c': i} for i in range(1500)])";
    for (const protocol of ALL) {
      const v = loads(pickleEach('', expr, [protocol])[0]!, {
        limits: { maxContainerItems: 2000 },
      }) as unknown[][];
      expect(v[0]).toHaveLength(1500);
      expect(v[1]![1499]).toEqual({ c: 1499 });
    }
  });

  it('rewriting the same keys does not count as new items', () => {
    // SETITEMS writing 'k' 3000 times into one dict, in batches of 1000 (protocol 2, hand-built).
    const parts: number[] = [0x80, 0x02, 0x7d];
    for (let batch = 0; batch < 3; batch++) {
      parts.push(0x28);
      for (let i = 0; i < 1000; i++) parts.push(0x58, 1, 0, 0, 0, 0x6b, 0x4b, i & 0xff);
      parts.push(0x75);
    }
    parts.push(0x2e);
    expect(loads(Uint8Array.from(parts), { limits: { maxContainerItems: 1500 } })).toEqual({ k: 999 & 0xff });
  });
});

const hasNumpy = (() => {
  try {
    execFileSync('python3', ['-c', 'import numpy']);
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(hasNumpy)('numpy decodes without a registry', () => {
  const numpyPickles = (expr: string, protocols: readonly number[]): Uint8Array[] =>
    pickleEach('import numpy as np', expr, protocols);

  it('arrays, dtypes and scalars at protocols 2, 4 and 5 by default', () => {
    const [arrays, dtypes, scalars] = [
      numpyPickles("np.arange(6, dtype='<i4').reshape(2, 3)", [2, 4, 5]),
      numpyPickles("np.dtype('<f8')", [2, 4, 5]),
      numpyPickles('np.float64(1.5)', [2, 4, 5]),
    ];
    for (let i = 0; i < 3; i++) {
      const a = loads(arrays[i]!) as NDArray;
      expect(a).toBeInstanceOf(NDArray);
      expect(a.shape).toEqual([2, 3]);
      expect(Array.from(a.data as Int32Array)).toEqual([0, 1, 2, 3, 4, 5]);
      const d = loads(dtypes[i]!) as NumpyDtype;
      expect(d).toBeInstanceOf(NumpyDtype);
      expect(d.str).toBe('<f8');
      const s = loads(scalars[i]!) as NumpyScalar;
      expect(s).toBeInstanceOf(NumpyScalar);
      expect(s.value).toBe(1.5);
    }
  });

  it('also with a registry that has no numpy entries', () => {
    const registry = new Registry().register({ module: 'm', name: 'C', decoder: { construct: () => 'C' } });
    const a = loads(numpyPickles('np.zeros(3)', [4])[0]!, { registry });
    expect(a).toBeInstanceOf(NDArray);
  });

  it('numpy: false keeps placeholders', () => {
    const v = loads(numpyPickles('np.zeros(3)', [4])[0]!, { numpy: false });
    expect(v).toBeInstanceOf(PyObject);
    expect((v as PyObject).callable).toEqual(new PyGlobal('numpy._core.multiarray', '_reconstruct'));
  });

  it("the user's registration of a numpy global takes precedence", () => {
    const registry = new Registry().register({
      module: 'numpy._core.multiarray',
      name: 'scalar',
      decoder: { construct: (args) => ['mine', args.length] },
    });
    expect(loads(numpyPickles('np.float64(1.5)', [4])[0]!, { registry })).toEqual(['mine', 2]);
  });
});

describe('memoizing values before any OrderedDict was made', () => {
  it('None, ints and strs memoize as before', () => {
    expect(
      loads(
        Uint8Array.from(Buffer.from('\x80\x04N\x94K\x01\x94\x8c\x01a\x94h\x00h\x01h\x02\x87.', 'latin1')),
      ),
    ).toEqual([null, 1, 'a']);
  });
});

describe('bytes from a Node Buffer input', () => {
  // `pickle.dumps((b'ab', b'c'), 4)`; a Connection hands the decoder Buffers.
  const pickle = Buffer.from('8004950c0000000000000043026162944301639486942e', 'hex');

  it('are plain Uint8Array copies, not Buffers', () => {
    const [ab, c] = loads(pickle) as Uint8Array[];
    expect(Object.getPrototypeOf(ab)).toBe(Uint8Array.prototype);
    expect(Buffer.isBuffer(c)).toBe(false);
    expect([...ab!]).toEqual([0x61, 0x62]);
    expect(ab!.buffer).not.toBe(pickle.buffer);
  });

  it('zeroCopyBytes gives plain Uint8Array views of the input', () => {
    const [ab] = loads(pickle, { zeroCopyBytes: true }) as Uint8Array[];
    expect(Object.getPrototypeOf(ab)).toBe(Uint8Array.prototype);
    expect(ab!.buffer).toBe(pickle.buffer);
    expect([...ab!]).toEqual([0x61, 0x62]);
  });
});
