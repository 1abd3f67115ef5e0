/**
 * Per-instance registry of user types: maps a Python global `module.name` to a JavaScript constructor for
 * decoding, and a JavaScript class to a Python reduction for encoding. Nothing here is global: each
 * `Unpickler`/`Pickler` (or `loads`/`dumps` call) uses the registry it is given.
 */
import type { PyObject } from './values.js';

/** How `loads` turns a pickled `module.name` into a JavaScript value. */
export interface ClassDecoder<T = unknown> {
  /**
   * REDUCE, NEWOBJ or NEWOBJ_EX of this global (or INST/OBJ): build the value from the positional
   * arguments and, for NEWOBJ_EX, the keyword arguments.
   */
  construct(args: readonly unknown[], kwargs: ReadonlyMap<string, unknown> | undefined): T;
  /** BUILD: apply the pickled state. Return a replacement value, or nothing to keep `obj`. */
  setState?(obj: T, state: unknown): T | undefined;
  /** APPEND/APPENDS onto the value. */
  append?(obj: T, item: unknown): void;
  /** SETITEM/SETITEMS onto the value. */
  setItem?(obj: T, key: unknown, value: unknown): void;
}

/** What a reducer is told about the pickle being written. */
export interface ReduceContext {
  /** The protocol being written, as Python's `__reduce_ex__(protocol)` receives it. */
  readonly protocol: number;
}

/**
 * How `dumps` writes instances of a JavaScript class: return the Python reduction as a PyObject
 * (callable, args, state, list/dict items), exactly what Python's `__reduce_ex__(context.protocol)` would give.
 */
export type ClassReducer<T = unknown> = (value: T, context: ReduceContext) => PyObject;

// biome-ignore lint/suspicious/noExplicitAny: a constructor of any signature.
type Constructor<T> = abstract new (...args: any[]) => T;

/** A user type registered in both directions. */
export interface ClassCodec<T = unknown> {
  readonly module: string;
  readonly name: string;
  /** Decode side; omit to decode this global as a placeholder. */
  readonly decoder?: ClassDecoder<T>;
  /** Encode side: values that are `instanceof type` are written through `reduce`. */
  readonly type?: Constructor<T>;
  readonly reduce?: ClassReducer<T>;
}

/** Decides whether a global may appear in a pickle at all (strict mode). */
export type GlobalFilter = (module: string, name: string) => boolean;

export class Registry {
  readonly #decoders = new Map<string, ClassDecoder>();
  /** The reducer of each registered type by its prototype (the latest registration of a type wins). */
  readonly #reducersByPrototype = new Map<object, ClassReducer>();
  /** Registered types that decide `instanceof` themselves (`Symbol.hasInstance`), asked after the prototypes. */
  readonly #customInstanceOf: { type: Constructor<unknown>; reduce: ClassReducer }[] = [];

  /** Registers a user type; returns `this` for chaining. */
  register<T>(codec: ClassCodec<T>): this {
    if (codec.decoder) this.#decoders.set(`${codec.module}\n${codec.name}`, codec.decoder as ClassDecoder);
    if (codec.type && codec.reduce) {
      this.#reducersByPrototype.set(codec.type.prototype as object, codec.reduce as ClassReducer);
      if (codec.type[Symbol.hasInstance] !== Function.prototype[Symbol.hasInstance])
        this.#customInstanceOf.push({ type: codec.type, reduce: codec.reduce as ClassReducer });
    } else if (codec.type || codec.reduce) {
      throw new TypeError('register: `type` and `reduce` go together');
    }
    return this;
  }

  /** The decoder registered for `module.name`, if any. */
  decoderFor(module: string, name: string): ClassDecoder | undefined {
    return this.#decoders.get(`${module}\n${name}`);
  }

  /**
   * The reducer of the most specific registered class `value` is an instance of: its own class's, else its
   * nearest registered base class's, whatever order they were registered in. A type that decides `instanceof`
   * itself (`Symbol.hasInstance`) is asked last, the latest registered first.
   */
  reducerFor(value: object): ClassReducer | undefined {
    for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
      const reduce = this.#reducersByPrototype.get(proto as object);
      if (reduce !== undefined) return reduce;
    }
    for (let i = this.#customInstanceOf.length - 1; i >= 0; i--) {
      const entry = this.#customInstanceOf[i]!;
      if (value instanceof entry.type) return entry.reduce;
    }
    return undefined;
  }

  get hasReducers(): boolean {
    return this.#reducersByPrototype.size > 0;
  }
}

/**
 * Builds a GlobalFilter from an allow-list of `'module.name'` strings; `'module.*'` allows every name of a
 * module.
 */
export function allowList(names: Iterable<string>): GlobalFilter {
  const exact = new Set<string>();
  const modules = new Set<string>();
  for (const n of names) {
    if (n.endsWith('.*')) modules.add(n.slice(0, -2));
    else exact.add(n);
  }
  return (module, name) => modules.has(module) || exact.has(`${module}.${name}`);
}
