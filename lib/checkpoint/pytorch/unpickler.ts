// A restricted reader of Python's pickle format (protocols 0-5), the format of
// torch.save's data.pkl. It builds plain data (numbers, strings, bytes, tuples,
// lists, dicts) and hands everything else to a policy (globals.ts): which
// globals may be named, what "calling" them means, what BUILD does. Nothing in
// a pickle is ever executed; a global the policy does not know is refused.
//
// Bounds, so a hostile pickle cannot exhaust memory or the stack: the pickle's
// byte length (the caller's), the value stack, MARK nesting, the memo, the
// number of objects made and the size of a Python int.
import { LaxrayError } from '../../errors.js';

/** A Python tuple (a JS array is a Python list). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** A Python dict (or OrderedDict); keys of primitive type compare by value, others by identity. */
export class PyDict {
  readonly map = new Map<unknown, unknown>();
  /** Attributes set by BUILD (e.g. a state dict's `_metadata`). */
  attributes: unknown = undefined;
}

/** A Python set or frozenset. */
export class PySet {
  constructor(readonly items: unknown[] = []) {}
}

export interface UnpicklerPolicy {
  /** GLOBAL / STACK_GLOBAL: the value standing for module.name, or throw to refuse it. */
  findGlobal(module: string, name: string): unknown;
  /** REDUCE, NEWOBJ, NEWOBJ_EX: the value of callable(*args, **kwargs). */
  call(callable: unknown, args: readonly unknown[], kwargs: PyDict | null): unknown;
  /** BUILD: obj.__setstate__(state); returns the object that stays on the stack. */
  build(object: unknown, state: unknown): unknown;
  /** PERSID / BINPERSID: torch's storage references. */
  persistentLoad(pid: unknown): unknown;
}

export interface PickleLimits {
  /** Values on the stack at once. */
  maxStack: number;
  /** Nested MARKs (tuples/lists/dicts being built inside each other). */
  maxMarkDepth: number;
  /** Memo entries. */
  maxMemo: number;
  /** Containers, strings and container items made, in all. */
  maxObjects: number;
  /** Bytes of one Python int (LONG1/LONG4/text LONG). */
  maxIntBytes: number;
}

export const DEFAULT_PICKLE_LIMITS: PickleLimits = {
  maxStack: 100_000,
  maxMarkDepth: 1_000,
  maxMemo: 1_000_000,
  maxObjects: 10_000_000,
  maxIntBytes: 64,
};

/** The pickle ended before STOP: the caller may retry with more bytes (legacy files) or report truncation. */
export class PickleEndError extends LaxrayError {}

/** Unpickles `bytes` (one pickle, up to its STOP). `end` is the offset after STOP. */
export function unpickle(
  bytes: Uint8Array,
  policy: UnpicklerPolicy,
  what: string,
  limits: PickleLimits = DEFAULT_PICKLE_LIMITS,
): { value: unknown; end: number } {
  return new Unpickler(bytes, policy, what, limits).run();
}

class Unpickler {
  private pos = 0;
  private stack: unknown[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, unknown>();
  private objects = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly policy: UnpicklerPolicy,
    private readonly what: string,
    private readonly limits: PickleLimits,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(problem: string): never {
    throw new LaxrayError('CHECKPOINT_ERROR', `${this.what}: ${problem}`);
  }

  run(): { value: unknown; end: number } {
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      if (op === 0x2e /* . STOP */) {
        if (this.stack.length !== 1 || this.marks.length !== 0) this.fail(`malformed pickle: STOP at byte ${at} with ${this.stack.length} values on the stack`);
        return { value: this.stack[0], end: this.pos };
      }
      this.step(op, at);
    }
  }

  // ------------------------------------------------------------ the opcodes

  private step(op: number, at: number): void {
    switch (op) {
      case 0x80: { // PROTO
        const protocol = this.u8();
        if (protocol > 5) this.fail(`pickle protocol ${protocol} is newer than any laxray knows (0-5)`);
        return;
      }
      case 0x95: // FRAME: a length hint; the frame's opcodes follow inline
        this.take(8);
        return;
      case 0x28: // ( MARK
        if (this.marks.length >= this.limits.maxMarkDepth) this.fail(`pickle nests deeper than ${this.limits.maxMarkDepth} levels (hostile or corrupt file)`);
        this.marks.push(this.stack.length);
        return;
      case 0x30: // 0 POP
        if (this.stack.length === 0) this.underflow(at);
        this.stack.pop();
        return;
      case 0x31: // 1 POP_MARK
        this.popMark(at);
        return;
      case 0x32: // 2 DUP
        this.push(this.top(at));
        return;
      case 0x4e: // N NONE
        return this.push(null);
      case 0x88: // NEWTRUE
        return this.push(true);
      case 0x89: // NEWFALSE
        return this.push(false);
      case 0x49: // I INT (text; I01/I00 are booleans)
        return this.push(this.textInt(this.line()));
      case 0x4a: // J BININT
        return this.push(this.view.getInt32(this.advance(4), true));
      case 0x4b: // K BININT1
        return this.push(this.u8());
      case 0x4d: // M BININT2
        return this.push(this.view.getUint16(this.advance(2), true));
      case 0x4c: { // L LONG (text)
        const text = this.line().replace(/L$/, '');
        if (text.length > this.limits.maxIntBytes * 3) this.fail(`a Python int of ${text.length} digits is too large for a checkpoint`);
        return this.push(this.textInt(text));
      }
      case 0x8a: // LONG1
        return this.push(this.longBytes(this.u8()));
      case 0x8b: // LONG4
        return this.push(this.longBytes(this.view.getInt32(this.advance(4), true)));
      case 0x46: { // F FLOAT (text)
        const value = Number(this.line());
        return this.push(value);
      }
      case 0x47: // G BINFLOAT (big-endian double)
        return this.push(this.view.getFloat64(this.advance(8), false));
      case 0x53: // S STRING (text, quoted repr of a Python 2 str)
        return this.push(this.counted(unquote(this.line(), (p) => this.fail(p))));
      case 0x54: // T BINSTRING (Python 2 str; read as UTF-8 like torch.load's default encoding)
        return this.push(this.counted(utf8(this.bytesOf(this.view.getInt32(this.advance(4), true)))));
      case 0x55: // U SHORT_BINSTRING
        return this.push(this.counted(utf8(this.bytesOf(this.u8()))));
      case 0x56: // V UNICODE (raw-unicode-escape text)
        return this.push(this.counted(rawUnicodeEscape(this.line())));
      case 0x8c: // SHORT_BINUNICODE
        return this.push(this.counted(utf8(this.bytesOf(this.u8()))));
      case 0x58: // X BINUNICODE
        return this.push(this.counted(utf8(this.bytesOf(this.view.getUint32(this.advance(4), true)))));
      case 0x8d: // BINUNICODE8
        return this.push(this.counted(utf8(this.bytesOf(this.u64()))));
      case 0x43: // C SHORT_BINBYTES
        return this.push(this.counted(Uint8Array.from(this.bytesOf(this.u8()))));
      case 0x42: // B BINBYTES
        return this.push(this.counted(Uint8Array.from(this.bytesOf(this.view.getUint32(this.advance(4), true)))));
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        return this.push(this.counted(Uint8Array.from(this.bytesOf(this.u64()))));
      case 0x29: // ) EMPTY_TUPLE
        return this.push(this.counted(new PyTuple([])));
      case 0x74: // t TUPLE
        return this.push(this.counted(new PyTuple(this.popMark(at))));
      case 0x85: // TUPLE1
        return this.push(this.counted(new PyTuple(this.popN(1, at))));
      case 0x86: // TUPLE2
        return this.push(this.counted(new PyTuple(this.popN(2, at))));
      case 0x87: // TUPLE3
        return this.push(this.counted(new PyTuple(this.popN(3, at))));
      case 0x5d: // ] EMPTY_LIST
        return this.push(this.counted([]));
      case 0x6c: // l LIST
        return this.push(this.counted(this.popMark(at)));
      case 0x61: { // a APPEND
        const [item] = this.popN(1, at);
        this.listAt(at).push(this.counted(item));
        return;
      }
      case 0x65: { // e APPENDS
        const items = this.popMark(at);
        const list = this.listAt(at);
        for (const item of items) list.push(this.counted(item));
        return;
      }
      case 0x7d: // } EMPTY_DICT
        return this.push(this.counted(new PyDict()));
      case 0x64: { // d DICT
        const dict = this.counted(new PyDict());
        this.setItems(dict, this.popMark(at), at);
        return this.push(dict);
      }
      case 0x73: { // s SETITEM
        const pair = this.popN(2, at);
        this.setItems(this.dictAt(at), pair, at);
        return;
      }
      case 0x75: { // u SETITEMS
        const items = this.popMark(at);
        this.setItems(this.dictAt(at), items, at);
        return;
      }
      case 0x8f: // EMPTY_SET
        return this.push(this.counted(new PySet()));
      case 0x90: { // ADDITEMS
        const items = this.popMark(at);
        const set = this.top(at);
        if (!(set instanceof PySet)) this.fail(`malformed pickle: ADDITEMS at byte ${at} on a non-set`);
        for (const item of items) set.items.push(this.counted(item));
        return;
      }
      case 0x91: // FROZENSET
        return this.push(this.counted(new PySet(this.popMark(at))));
      case 0x67: // g GET
        return this.push(this.memoGet(this.textIndex(this.line()), at));
      case 0x68: // h BINGET
        return this.push(this.memoGet(this.u8(), at));
      case 0x6a: // j LONG_BINGET
        return this.push(this.memoGet(this.view.getUint32(this.advance(4), true), at));
      case 0x70: // p PUT
        return this.memoPut(this.textIndex(this.line()), at);
      case 0x71: // q BINPUT
        return this.memoPut(this.u8(), at);
      case 0x72: // r LONG_BINPUT
        return this.memoPut(this.view.getUint32(this.advance(4), true), at);
      case 0x94: // MEMOIZE
        return this.memoPut(this.memo.size, at);
      case 0x63: { // c GLOBAL "module\nname\n"
        const module = this.line();
        const name = this.line();
        return this.push(this.policy.findGlobal(module, name));
      }
      case 0x93: { // STACK_GLOBAL
        const [module, name] = this.popN(2, at);
        if (typeof module !== 'string' || typeof name !== 'string') this.fail(`malformed pickle: STACK_GLOBAL at byte ${at} without two strings`);
        return this.push(this.policy.findGlobal(module, name));
      }
      case 0x52: { // R REDUCE
        const [callable, args] = this.popN(2, at);
        return this.push(this.policy.call(callable, this.tupleItems(args, 'REDUCE', at), null));
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const [cls, args] = this.popN(2, at);
        return this.push(this.policy.call(cls, this.tupleItems(args, 'NEWOBJ', at), null));
      }
      case 0x92: { // NEWOBJ_EX
        const [cls, args, kwargs] = this.popN(3, at);
        if (!(kwargs instanceof PyDict)) this.fail(`malformed pickle: NEWOBJ_EX at byte ${at} without keyword arguments`);
        return this.push(this.policy.call(cls, this.tupleItems(args, 'NEWOBJ_EX', at), kwargs));
      }
      case 0x62: { // b BUILD
        const [object, state] = this.popN(2, at);
        return this.push(this.policy.build(object, state));
      }
      case 0x50: // P PERSID (text)
        return this.push(this.policy.persistentLoad(this.line()));
      case 0x51: { // Q BINPERSID
        const [pid] = this.popN(1, at);
        return this.push(this.policy.persistentLoad(pid));
      }
      case 0x69: // i INST (protocol 0 class instantiation)
      case 0x6f: // o OBJ
        return this.fail(`the pickle instantiates a class with the old INST/OBJ opcodes at byte ${at}, which a tensor state dict never uses: refused`);
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        return this.fail(`the pickle uses the copyreg extension registry (EXT opcodes) at byte ${at}, which a tensor state dict never uses: refused`);
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        return this.fail(`the pickle uses out-of-band buffers (protocol 5) at byte ${at}, which torch.save never writes: refused`);
      default:
        return this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at} (corrupt file, or not a PyTorch checkpoint)`);
    }
  }

  // ------------------------------------------------------------ the stack

  private push(value: unknown): void {
    if (this.stack.length >= this.limits.maxStack) this.fail(`the pickle puts more than ${this.limits.maxStack} values on its stack (hostile or corrupt file)`);
    this.stack.push(value);
  }

  private top(at: number): unknown {
    if (this.stack.length === 0 || this.stack.length === this.marks.at(-1)) this.underflow(at);
    return this.stack[this.stack.length - 1];
  }

  private underflow(at: number): never {
    this.fail(`malformed pickle: stack underflow at byte ${at} (corrupt or truncated file)`);
  }

  private popMark(at: number): unknown[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail(`malformed pickle: no MARK before the opcode at byte ${at}`);
    return this.stack.splice(mark);
  }

  private popN(n: number, at: number): unknown[] {
    const floor = this.marks.at(-1) ?? 0;
    if (this.stack.length - floor < n) this.underflow(at);
    return this.stack.splice(this.stack.length - n);
  }

  private listAt(at: number): unknown[] {
    const list = this.top(at);
    if (!Array.isArray(list)) this.fail(`malformed pickle: APPEND at byte ${at} on a non-list`);
    return list;
  }

  private dictAt(at: number): PyDict {
    const dict = this.top(at);
    if (!(dict instanceof PyDict)) this.fail(`malformed pickle: SETITEM at byte ${at} on a non-dict`);
    return dict;
  }

  private setItems(dict: PyDict, items: unknown[], at: number): void {
    if (items.length % 2 !== 0) this.fail(`malformed pickle: odd number of dict items at byte ${at}`);
    for (let i = 0; i < items.length; i += 2) {
      dict.map.set(items[i], items[i + 1]);
      this.counted(null);
    }
  }

  private tupleItems(args: unknown, opcode: string, at: number): readonly unknown[] {
    if (!(args instanceof PyTuple)) this.fail(`malformed pickle: ${opcode} at byte ${at} without an argument tuple`);
    return args.items;
  }

  private counted<T>(value: T): T {
    if (++this.objects > this.limits.maxObjects) this.fail(`the pickle makes more than ${this.limits.maxObjects} objects (hostile or corrupt file)`);
    return value;
  }

  // ------------------------------------------------------------ the memo

  private memoGet(index: number, at: number): unknown {
    if (!this.memo.has(index)) this.fail(`malformed pickle: memo entry ${index} read at byte ${at} was never written`);
    return this.memo.get(index);
  }

  private memoPut(index: number, at: number): void {
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) this.fail(`the pickle's memo grows beyond ${this.limits.maxMemo} entries (hostile or corrupt file)`);
    this.memo.set(index, this.top(at));
  }

  // ------------------------------------------------------------ reading bytes

  private advance(n: number): number {
    if (this.pos + n > this.bytes.length) this.truncated();
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private truncated(): never {
    throw new PickleEndError('CHECKPOINT_ERROR', `${this.what}: the pickle ends before its STOP opcode, at byte ${this.bytes.length} (truncated file)`);
  }

  private u8(): number {
    return this.bytes[this.advance(1)]!;
  }

  private u64(): number {
    const value = this.view.getBigUint64(this.advance(8), true);
    if (value > BigInt(this.bytes.length)) this.truncated();
    return Number(value);
  }

  private take(n: number): Uint8Array {
    const at = this.advance(n);
    return this.bytes.subarray(at, at + n);
  }

  private bytesOf(length: number): Uint8Array {
    if (length < 0) this.fail(`malformed pickle: negative length ${length} at byte ${this.pos}`);
    return this.take(length);
  }

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.truncated();
    const text = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, end - this.pos).toString('latin1');
    this.pos = end + 1;
    return text;
  }

  private textInt(text: string): number | bigint | boolean {
    if (text === '01') return true;
    if (text === '00') return false;
    if (!/^[+-]?\d+$/.test(text)) this.fail(`malformed pickle: '${text.slice(0, 40)}' is not an integer`);
    return normalInt(BigInt(text));
  }

  private textIndex(text: string): number {
    if (!/^\d{1,10}$/.test(text)) this.fail(`malformed pickle: memo index '${text.slice(0, 40)}'`);
    return Number(text);
  }

  /** Two's-complement little-endian integer of n bytes. */
  private longBytes(n: number): number | bigint {
    if (n < 0) this.fail(`malformed pickle: negative int length at byte ${this.pos}`);
    if (n > this.limits.maxIntBytes) this.fail(`a Python int of ${n} bytes is too large for a checkpoint (limit ${this.limits.maxIntBytes})`);
    const bytes = this.take(n);
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
    if (n > 0 && bytes[n - 1]! & 0x80) value -= 1n << BigInt(8 * n);
    return normalInt(value);
  }
}

/** A Python int as a number where exact, else a bigint. */
function normalInt(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** The text of a protocol-0 STRING: a quoted Python 2 repr. */
function unquote(text: string, fail: (problem: string) => never): string {
  const quote = text[0];
  if ((quote !== "'" && quote !== '"') || text.length < 2 || text.at(-1) !== quote) fail(`malformed pickle: STRING ${text.slice(0, 40)} is not quoted`);
  return text
    .slice(1, -1)
    .replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) =>
      e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : /^[0-7]/.test(e) ? String.fromCharCode(parseInt(e, 8)) : (ESCAPES[e] ?? e),
    );
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };

/** Protocol-0 UNICODE: latin-1 text with \uXXXX and \UXXXXXXXX escapes. */
function rawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u?: string, U?: string) => String.fromCodePoint(parseInt((u ?? U)!, 16)));
}
