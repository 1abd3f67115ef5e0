// The pickler's memo of strings, by value: CPython memoizes every str it writes, so an equal string written
// again must come out as a memo GET with the same index CPython would use.

/** `String.prototype.charCodeAt` for the hashing loop (see text-encode.ts's copy for why). */
const charCodeAt = String.prototype.charCodeAt;

// FNV-1a, the memo's hash: over every UTF-16 unit (sampling would let strings that differ only in the middle
// all collide), from a basis random to each process, mixed with the length. `encodeUtf8Hashing` computes the
// same while it encodes. With the standard basis, anyone could compute 100k distinct strings of one hash in
// seconds, and pickling them took quadratic time (8000 of them: 190 ms; 100k: about 30 s): a service that
// pickles strings it was sent could be stalled. Without the basis such strings cannot be chosen, and a memo
// that still meets a run of equal hashes moves to a Map (see `#find`).
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** The basis of this process's string hashes; XOR the length in for a string's seed. */
export const STRING_HASH_SEED = (FNV_OFFSET ^ Math.floor(Math.random() * 0x1_0000_0000)) | 0;
/** Different strings of one hash met in one lookup before the memo moves to a Map (never by chance). */
const EQUAL_HASHES_MAX = 32;
/** Occupied slots one insertion may pass before the memo moves to a Map (only a flood of equal hashes). */
const PROBE_MAX = 4096;

/** Slots of the recent-strings cache (a power of two). */
const RECENT_SLOTS = 256;
/** Recent-cache slots logged for a cheap `clear`; a memo of at most this many entries is cleared entry by entry. */
const SMALL_CLEAR = 64;
/** Entries a memo has room for when made (a power of two). */
const INITIAL_ENTRIES = 1 << 10;
/** Table slots when the first lookup needs the table (a power of two). */
const INITIAL_TABLE_SLOTS = 1 << 10;
/**
 * Filter bits per entry of room: with two bits per string, 1.4 % of new strings at most (0.5 % on average
 * between doublings) are taken for possible repeats and looked up in the table.
 */
const FILTER_BITS_PER_ENTRY = 16;
/**
 * A memo with room for up to this many entries (at most about 13 MiB with its filter and table) is emptied and
 * kept by `clear`, so repeated large pickles do not regrow it (3e5 new strings took 76 ms a dump when it was
 * regrown each time, 56 ms when kept); a bigger one, or one the last pickle used less than 1/16 of, is
 * dropped (memory).
 */
const RETAINED_ENTRIES = 1 << 19;

/**
 * Strings memoized by value. Every string written is looked up, and in bulk data most are new, so the path
 * for a new string is what counts. A hash table sized for hundreds of thousands of strings is far larger
 * than the CPU cache, and V8's strings give no locality to exploit (CPython's memo is keyed by object
 * address, and objects made one after another sit one after another): each new string's probe and insert
 * missed the cache, 20-40 % of a profile of the strings and records encodes.
 *
 * So new strings are told apart by a Bloom filter (two bits of 16 per entry, small enough to stay in the
 * CPU's cache) and only appended, in order, to the entry arrays. The table (open addressing, linear
 * probing, load <= 3/4) is brought up to date only when the filter says a string may have been seen, and
 * then takes all the pending entries in one tight loop, whose independent cache misses the CPU overlaps.
 * Its slots hold only entry numbers, so it is half the size it would be with the hashes beside them: an
 * insert needs no hash, and a lookup reads the entry's hash only for an occupied slot. 3e5 new strings
 * pickle in 50 ms instead of 100-110 (CPython: 54 ms), 1e5 record dicts in 140 ms instead of 190.
 */
export class StringMemo {
  /**
   * A direct-mapped cache of strings written recently, in front of the filter and table: dict keys and other
   * repeated strings are found by one comparison. A string enters it when it is found in the table, from
   * its second occurrence on, so strings written once (names, ids) do not evict the repeated ones.
   */
  #recentKeys: (string | undefined)[] = new Array<string | undefined>(RECENT_SLOTS).fill(undefined);
  #recentIndexes = new Int32Array(RECENT_SLOTS);
  /** The first SMALL_CLEAR recent slots filled since `clear` (a byte each, below RECENT_SLOTS). */
  #recentLog = new Uint8Array(SMALL_CLEAR);
  #recentCount = 0;

  /** The memoized strings in the order they were added, with their hashes and memo indexes. */
  #keys: (string | undefined)[] = [];
  #hashes = new Int32Array(0);
  #indexes = new Int32Array(0);
  #count = 0;

  /** The Bloom filter: FILTER_BITS_PER_ENTRY bits per entry of room, two set per string. */
  #filter = new Int32Array(0);
  #filterMask = 0;
  /** Shift that leaves the filter's bit-number width of the top of a 32-bit product. */
  #filterShift = 0;

  /** Per slot: entry number + 1 (0 = empty). */
  #table = new Int32Array(0);
  #tableMask = -1;
  /** Entries below this one are in the table; the rest are pending. */
  #indexed = 0;
  /** Set once equal hashes flooded the table (see `#find`): from then until `clear`, the memo is this Map. */
  #byMap: Map<string, number> | undefined;

  constructor() {
    this.#allocate(INITIAL_ENTRIES);
  }

  /** The memo's hash of `text`. */
  static hash(text: string): number {
    const length = text.length;
    let hash = STRING_HASH_SEED ^ length;
    for (let i = 0; i < length; i++) hash = Math.imul(hash ^ charCodeAt.call(text, i), FNV_PRIME);
    return hash;
  }

  /** Where `text` sits in the recent-strings cache: its length and end characters, mixed. */
  static recentSlot(text: string): number {
    const length = text.length;
    if (length === 0) return 0;
    return (
      (Math.imul(length, 31) + Math.imul(charCodeAt.call(text, 0), 7) + charCodeAt.call(text, length - 1)) &
      (RECENT_SLOTS - 1)
    );
  }

  /** The memo index of `text` if it is the string cached at `slot`, else -1. */
  recent(text: string, slot: number): number {
    return this.#recentKeys[slot] === text ? this.#recentIndexes[slot]! : -1;
  }

  /** Caches `text` (memoized under `index`) at `slot`. */
  remember(text: string, slot: number, index: number): void {
    this.#recentKeys[slot] = text;
    this.#recentIndexes[slot] = index;
    if (this.#recentCount < SMALL_CLEAR) this.#recentLog[this.#recentCount] = slot;
    this.#recentCount++;
  }

  /** True once a flood of equal hashes moved the memo to a Map, until `clear`. */
  get byMap(): boolean {
    return this.#byMap !== undefined;
  }

  /** The memo index of `text` if present; otherwise records it under `index` and returns -1. */
  lookupOrAdd(text: string, hash: number, index: number): number {
    if (this.#byMap !== undefined) return this.#lookupOrAddByMap(text, index);
    const filter = this.#filter;
    const bit1 = this.#firstBit(hash);
    const bit2 = this.#secondBit(hash);
    const mask1 = 1 << (bit1 & 31);
    const mask2 = 1 << (bit2 & 31);
    if ((filter[bit1 >>> 5]! & mask1) === 0 || (filter[bit2 >>> 5]! & mask2) === 0) {
      filter[bit1 >>> 5]! |= mask1;
      filter[bit2 >>> 5]! |= mask2;
    } else {
      const found = this.#find(text, hash);
      if (found >= 0) return found;
      if (this.#byMap !== undefined) return this.#lookupOrAddByMap(text, index);
    }
    const count = this.#count;
    if (count === this.#keys.length) {
      this.#grow();
      // The filter was rebuilt without this string.
      this.#setFilterBits(hash);
    }
    this.#keys[count] = text;
    this.#hashes[count] = hash;
    this.#indexes[count] = index;
    this.#count = count + 1;
    return -1;
  }

  /** Forgets every string (CPython's `clear_memo`), keeping the arrays unless they are large or mostly idle. */
  clear(): void {
    const recent = this.#recentCount;
    if (recent > SMALL_CLEAR) this.#recentKeys.fill(undefined);
    else for (let i = 0; i < recent; i++) this.#recentKeys[this.#recentLog[i]!] = undefined;
    this.#recentCount = 0;
    const count = this.#count;
    const room = this.#keys.length;
    if (this.#byMap !== undefined) {
      this.#byMap = undefined;
      this.#allocate(INITIAL_ENTRIES);
      return;
    }
    if (room > RETAINED_ENTRIES || (room > INITIAL_ENTRIES && 16 * count < room)) {
      this.#allocate(INITIAL_ENTRIES);
      return;
    }
    if (count > SMALL_CLEAR) {
      this.#keys.fill(undefined, 0, count);
      this.#filter.fill(0);
      this.#table.fill(0);
    } else {
      // Zero the filter words and table slots these few entries set: every set bit and filled slot is theirs.
      const filter = this.#filter;
      const table = this.#table;
      const mask = this.#tableMask;
      for (let i = 0; i < count; i++) {
        const hash = this.#hashes[i]!;
        filter[this.#firstBit(hash) >>> 5] = 0;
        filter[this.#secondBit(hash) >>> 5] = 0;
        this.#keys[i] = undefined;
        if (i >= this.#indexed) continue;
        let slot = hash & mask;
        while (table[slot] !== i + 1) slot = (slot + 1) & mask;
        table[slot] = 0;
      }
    }
    this.#count = 0;
    this.#indexed = 0;
  }

  /**
   * The memo index of `text`, after adding the pending entries to the table, or -1. More than
   * EQUAL_HASHES_MAX other strings of its hash (which chance does not give with a random basis, only a
   * flood of strings chosen for one hash, each lookup of which would walk them all) move the memo to a Map.
   */
  #find(text: string, hash: number): number {
    if (this.#indexed < this.#count && !this.#indexPending()) return this.#moveToMap(text);
    const table = this.#table;
    const mask = this.#tableMask;
    let slot = hash & mask;
    let equalHashes = 0;
    for (;;) {
      const stored = table[slot]!;
      if (stored === 0) return -1;
      if (this.#hashes[stored - 1] === hash) {
        if (this.#keys[stored - 1] === text) return this.#indexes[stored - 1]!;
        if (++equalHashes > EQUAL_HASHES_MAX) return this.#moveToMap(text);
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Moves every entry to `#byMap` and returns the memo index of `text`, or -1. */
  #moveToMap(text: string): number {
    const byMap = new Map<string, number>();
    for (let i = 0; i < this.#count; i++) byMap.set(this.#keys[i]!, this.#indexes[i]!);
    this.#byMap = byMap;
    return byMap.get(text) ?? -1;
  }

  #lookupOrAddByMap(text: string, index: number): number {
    const byMap = this.#byMap!;
    const found = byMap.get(text);
    if (found !== undefined) return found;
    byMap.set(text, index);
    return -1;
  }

  /**
   * Adds the entries not yet in the table (none of which equals another entry) to it; false, leaving the
   * rest out, if one passed PROBE_MAX occupied slots.
   */
  #indexPending(): boolean {
    const count = this.#count;
    let slots = this.#tableMask + 1;
    if (4 * count > 3 * slots) {
      slots = Math.max(slots, INITIAL_TABLE_SLOTS);
      while (4 * count > 3 * slots) slots *= 2;
      this.#table = new Int32Array(slots);
      this.#tableMask = slots - 1;
      this.#indexed = 0;
    }
    const table = this.#table;
    const hashes = this.#hashes;
    const mask = this.#tableMask;
    for (let i = this.#indexed; i < count; i++) {
      const hash = hashes[i]!;
      let slot = hash & mask;
      let probes = 0;
      while (table[slot] !== 0) {
        slot = (slot + 1) & mask;
        if (++probes > PROBE_MAX) {
          this.#indexed = i;
          return false;
        }
      }
      table[slot] = i + 1;
    }
    this.#indexed = count;
    return true;
  }

  /** The filter bits of a hash: its low bits, and the top bits of its Fibonacci product. */
  #firstBit(hash: number): number {
    return hash & this.#filterMask;
  }

  #secondBit(hash: number): number {
    return Math.imul(hash, 0x9e3779b1) >>> this.#filterShift;
  }

  #setFilterBits(hash: number): void {
    const bit1 = this.#firstBit(hash);
    const bit2 = this.#secondBit(hash);
    this.#filter[bit1 >>> 5]! |= 1 << (bit1 & 31);
    this.#filter[bit2 >>> 5]! |= 1 << (bit2 & 31);
  }

  /** Empty, with room for `entries` strings (a power of two) and no table. */
  #allocate(entries: number): void {
    this.#keys = new Array<string | undefined>(entries).fill(undefined);
    this.#hashes = new Int32Array(entries);
    this.#indexes = new Int32Array(entries);
    this.#count = 0;
    this.#sizeFilter(entries);
    this.#table = new Int32Array(0);
    this.#tableMask = -1;
    this.#indexed = 0;
  }

  #sizeFilter(entries: number): void {
    const bits = entries * FILTER_BITS_PER_ENTRY;
    this.#filter = new Int32Array(bits >>> 5);
    this.#filterMask = bits - 1;
    this.#filterShift = 32 - Math.log2(bits);
  }

  /** Doubles the room for entries and rebuilds the filter at its new size; the table is left as it is. */
  #grow(): void {
    const count = this.#count;
    const entries = 2 * this.#keys.length;
    const keys = this.#keys;
    this.#keys = new Array<string | undefined>(entries).fill(undefined);
    for (let i = 0; i < count; i++) this.#keys[i] = keys[i];
    const hashes = new Int32Array(entries);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    const indexes = new Int32Array(entries);
    indexes.set(this.#indexes);
    this.#indexes = indexes;
    this.#sizeFilter(entries);
    for (let i = 0; i < count; i++) this.#setFilterBits(hashes[i]!);
  }
}
