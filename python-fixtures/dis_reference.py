"""Reference listings for mpwire's disassembler, taken from CPython's own pickletools.

Two modes, stdlib only (runs on 2.7 and 3.6+):

  dis_reference.py corpus [--handmade]
      Print a JSON list of {"name", "hex"}: the pickles this interpreter writes with pickle.dumps at every
      protocol it has, plus (with --handmade) hand-built pickles for opcodes pickle.dumps never writes and
      malformed pickles that pickletools rejects.

  dis_reference.py dis
      Read a JSON list of {"name", "hex", "indentlevel"?, "memo_group"?} from stdin and print the same list
      with "listing" (annotate=0), "annotated" (annotate=1), "annotated30" (annotate=30, as `pickletools -a`),
      "error" (str() of the exception, or null) and "error_type" added; each listing is the text printed before
      any exception (the annotated ones are null before Python 3.2). Cases that share a
      "memo_group" are disassembled in order with one shared memo.
"""
import binascii
import io
import json
import pickle
import pickletools
import struct
import sys
import warnings

try:
    import copyreg
except ImportError:  # Python 2
    import copy_reg as copyreg

try:
    from StringIO import StringIO  # Python 2: accepts the byte strings pickletools prints there
except ImportError:
    from io import StringIO

PY3 = sys.version_info[0] >= 3
ANNOTATE_SUPPORTED = sys.version_info >= (3, 2)  # pickletools.dis gained `annotate` in 3.2


class Plain(object):
    def __init__(self):
        self.a = 1
        self.b = [u"x"]


class Stateful(object):
    def __getstate__(self):
        return {u"s": 1}

    def __setstate__(self, state):
        self.__dict__.update(state)


class Reduced(object):
    def __reduce__(self):
        return (Reduced, ())


class NewArgsEx(object):
    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __getnewargs_ex__(self):
        return ((1,), {u"k": 2})


class Old:  # an old-style class on Python 2: protocols 0 and 1 write INST and OBJ
    def __init__(self):
        self.v = 1


class ExtA(object):
    pass


class ExtB(object):
    pass


class ExtC(object):
    pass


class Persistent(object):
    pass


class PersistentPickler(pickle.Pickler):
    def __init__(self, f, proto):
        pickle.Pickler.__init__(self, f, proto)
        self.protocol_number = proto

    def persistent_id(self, obj):
        if isinstance(obj, Persistent):
            return u"pid1" if self.protocol_number == 0 else (u"pid", 7)
        return None


def values():
    shared = [1, 2]
    recursive_list = []
    recursive_list.append(recursive_list)
    inner = []
    recursive_tuple = (inner, 1)
    inner.append(recursive_tuple)
    recursive_dict = {}
    recursive_dict[u"self"] = recursive_dict
    words = [u"w%d" % i for i in range(300)]
    cases = [
        ("none", None),
        ("bools", [True, False]),
        ("ints", [0, 1, -1, 255, 256, 65535, 65536, -65536, 2 ** 31 - 1, -2 ** 31, 2 ** 31, -2 ** 31 - 1]),
        ("longs", [2 ** 63, -2 ** 63, 2 ** 64, 10 ** 30, -10 ** 40, 127, 128, -128, -129]),
        ("long4", 2 ** 2100),
        ("long4_negative", -(3 ** 1500)),
        ("floats", [0.0, -0.0, 1.0, 1.5, -2.25, 0.1, 1 / 3.0, 100.0, 12345.678, 1e15, 1e16, 123456789012345678.0]),
        ("small_floats", [1e-4, 1e-5, 1.5e-7, 2.2250738585072014e-308, 5e-324, 0.00012]),
        ("big_floats", [1e22, 1e300, 1.7976931348623157e308, 9007199254740993.0, 1.2345e+17]),
        ("special_floats", [float("inf"), float("-inf"), float("nan")]),
        ("strings", [u"", u"abc", u"it's", u'say "hi"', u"both '\"", u"tab\t\n\r\\", u"\x00\x1a\x7f"]),
        ("latin1", [u"\x80\x9f\xa0\xad\xe9\xff"]),
        ("bmp", [u"\u20ac\u2028\u200b\ufeff\u0378\ue000\uffff"]),
        ("astral", [u"\U0001f600\U000e0001\U0010ffff\U00020000"]),
        ("long_string", u"x" * 300),
        ("bytes", [b"", b"abc", b"it's", b"\x00\xff\\'\"", b"\x7f\x80\t\n\r"]),
        ("all_bytes", bytes(bytearray(range(256)))),
        ("long_bytes", b"q" * 300),
        ("bytearrays", [bytearray(b""), bytearray(b"ab\x00")]),
        ("tuples", [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((), [()])]),
        ("dicts", [{}, {u"a": 1}, {u"a": 1, u"b": [2]}, {(3,): None}]),
        ("sets", [set(), set([1, 2]), frozenset(), frozenset([u"f"])]),
        ("shared", [shared, shared]),
        ("recursive_list", recursive_list),
        ("recursive_tuple", recursive_tuple),
        ("recursive_dict", recursive_dict),
        ("long_memo", [words, words[::-1]]),
        ("big_list", list(range(1200))),
        ("big_dict", dict((i, -i) for i in range(1001))),
        ("multi_frame", [u"%04d" % i + u"y" * 996 for i in range(100)]),
        ("big_unframed", [u"a" * 70000, b"b" * 70000, 1]),
        ("globals", [len, Plain, pickle.loads]),
        ("complex", complex(1, 2)),
        ("plain_object", Plain()),
        ("stateful_object", Stateful()),
        ("reduced_object", Reduced()),
        ("old_object", Old()),
        ("extensions", [ExtA, ExtB, ExtC, ExtA]),
    ]
    if PY3:
        cases.extend([
            ("newobj_ex", NewArgsEx()),
            ("lone_surrogates", [u"\ud800", u"\udfff\ud800", u"a\udc80b"]),
            ("surrogate_pair_code_points", u"\ud83d\ude00"),
            ("long4_too_many_digits", 2 ** 14300),
        ])
    return cases


def dumps_all():
    out = []
    copyreg.add_extension(__name__, "ExtA", 200)
    copyreg.add_extension(__name__, "ExtB", 65000)
    copyreg.add_extension(__name__, "ExtC", 100000)
    try:
        for name, value in values():
            for proto in range(pickle.HIGHEST_PROTOCOL + 1):
                try:
                    data = pickle.dumps(value, proto)
                except Exception:
                    continue  # not picklable at this protocol on this interpreter (e.g. a repr digit limit)
                out.append(("%s_p%d" % (name, proto), data))
    finally:
        copyreg.remove_extension(__name__, "ExtA", 200)
        copyreg.remove_extension(__name__, "ExtB", 65000)
        copyreg.remove_extension(__name__, "ExtC", 100000)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        f = io.BytesIO()
        PersistentPickler(f, proto).dump([Persistent(), 1, Persistent()])
        out.append(("persistent_p%d" % proto, f.getvalue()))
    if hasattr(pickle, "PickleBuffer"):
        readonly = pickle.PickleBuffer(b"abc")
        writable = pickle.PickleBuffer(bytearray(b"def"))
        out.append(("buffers_out_of_band_p5", pickle.dumps([readonly, writable], 5, buffer_callback=lambda b: False)))
        out.append(("buffers_in_band_p5", pickle.dumps([readonly, writable], 5)))
    return [{"name": name, "hex": hexlify(data)} for name, data in out]


def hexlify(data):
    return binascii.hexlify(data).decode("ascii")


def u64(n):
    return struct.pack("<Q", n)


HANDMADE = [
    # Opcodes pickle.dumps never writes on Python 3, and unusual argument spellings.
    ("string", b"S'abc'\np0\n."),
    ("string_double_quotes", b"S\"it's\"\n."),
    ("string_escapes", b"S'a\\x00\\n\\'b\\\\\\101\\q'\n."),
    ("binstring", b"T\x03\x00\x00\x00abc."),
    ("short_binstring_latin1", b"U\x02\xe9\xff."),
    ("dup", b"(N2t."),
    ("inst", b"(i__main__\nOld\np0\n(dp1\nS'v'\np2\nI1\nsb."),
    ("obj", b"(c__main__\nOld\no}b."),
    ("binunicode8", b"\x80\x04\x8d" + u64(3) + b"abc\x94."),
    ("binunicode8_non_ascii", b"\x80\x04\x8d" + u64(4) + b"\xe2\x82\xac!\x94."),
    ("binbytes8", b"\x80\x04\x8e" + u64(2) + b"\x00\xff\x94."),
    ("bytearray8", b"\x80\x05\x96" + u64(1) + b"'."),
    ("long_with_suffix", b"(L123L\nL-5\nL0\nt."),
    ("int_bool_spellings", b"(I00\nI01\nI 42\nI-0\nI1_000\nt."),
    ("put_true", b"Np01\n."),
    ("float_spellings", b"(F1.\nF-inf\nFnan\nF1_0.5\nF 2.5e-3\nFInfinity\nF.5\nt."),
    ("unicode_escapes", b"V\\u20ac\\U0001f600\\\\u0041\\x\\\\\\u0042\n."),
    ("proto6", b"\x80\x06N."),
    # MEMOIZE writes at the number of memo entries, not after the highest index a PUT wrote.
    ("memoize_after_put_hole", b"\x80\x04]\x94(K\x07q\x05K\x08\x94h\x05h\x02e."),
    ("ext1_handmade", b"\x80\x02\x82\x01\x83\x00\x01\x84\xff\xff\xff\xff\x87."),
    ("pop_mark_via_pop", b"(0N."),
    ("pop_mark", b"(NN1N."),
    ("nested_marks", b"(((Nttt."),
    ("stop_pops_mark", b"(."),
    ("global_escape", b"c__main\\x5f_\nOld\n."),
    ("persid_handmade", b"Pabc\n."),
    ("frame_handmade", b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00N\x94."),
    ("big_memo_index", b"Nr\xff\xff\xff\xffj\xff\xff\xff\xff0."),
    # Malformed pickles: pickletools stops with an exception after listing what it could.
    ("err_empty", b""),
    ("err_no_stop", b"N"),
    ("err_unknown_opcode", b"N\xff"),
    ("err_unknown_quote_opcode", b"'"),
    ("err_pop_underflow", b"0."),
    ("err_append_underflow", b"]a."),
    ("err_no_mark", b"t."),
    ("err_memo_missing", b"h\x00."),
    ("err_memo_missing_get", b"g7\n."),
    ("err_memo_mark", b"(q\x00."),
    ("err_memo_empty_stack", b"q\x00."),
    ("err_memo_redefined", b"Nq\x00q\x00."),
    ("err_memoize_redefined", b"\x80\x04Nq\x01\x94."),
    ("err_stack_not_empty", b"NN."),
    ("err_stack_not_empty_mixed", b"(]K\x01\x89."),
    ("err_mark_lost", b"(]a)t."),
    ("err_int4_truncated", b"J\x01\x00"),
    ("err_uint1_missing", b"K"),
    ("err_unicode4_truncated", b"X\x05\x00\x00\x00ab"),
    ("err_string_quote", b"S'abc\n."),
    ("err_string_no_quotes", b"Sabc\n."),
    ("err_string_no_newline", b"S'abc'"),
    ("err_string_bad_x_escape", b"S'\\x4'\n."),
    ("err_string_trailing_backslash", b"S'ab\\'\n."),
    ("err_string_non_ascii", b"S'\xe9'\n."),
    ("err_int_literal", b"I12L\n."),
    ("err_int_empty", b"I\n."),
    ("err_long_literal", b"L1__2L\n."),
    ("err_float_literal", b"Fxyz\n."),
    ("err_float_no_newline", b"F1.5"),
    ("err_unicode_no_newline", b"Vabc"),
    ("err_unicode_truncated_escape", b"Vab\\u00zz\n."),
    ("err_unicode_out_of_range", b"V\\U00110000\n."),
    ("err_utf8_start_byte", b"X\x01\x00\x00\x00\xff."),
    ("err_utf8_continuation", b"\x8c\x03\xe2\x82x."),
    ("err_utf8_end", b"\x8c\x02\xe2\x82."),
    ("err_utf8_lone_surrogate_prefix", b"\x8c\x02\xed\xa0."),
    ("err_string4_negative", b"T\xff\xff\xff\xff."),
    ("err_long4_negative", b"\x8b\xfe\xff\xff\xff."),
    ("err_long1_truncated", b"\x8a\x05\x01\x02."),
    ("err_bytes8_huge", b"\x8e" + u64(2 ** 63) + b"."),
    ("err_bytearray8_truncated", b"\x96" + u64(9) + b"abc"),
    ("err_float8_truncated", b"G\x00\x00"),
    ("err_global_no_newline", b"cmodule\nname"),
    ("err_decimal_too_long", b"L" + b"9" * 4301 + b"\n."),
]


def handmade():
    cases = [{"name": name, "hex": hexlify(data)} for name, data in HANDMADE]
    nested = pickle.dumps([[1, (2, [3])], {u"k": (4,)}], 0)
    for indent in (0, 2, 7):
        cases.append({"name": "indent_%d" % indent, "hex": hexlify(nested), "indentlevel": indent})
    # One Pickler writing two pickles: the second refers to the first one's memo.
    f = io.BytesIO()
    pickler = pickle.Pickler(f, 2)
    first_value = [u"shared", (1, 2)]
    pickler.dump(first_value)
    first = f.getvalue()
    pickler.dump([first_value, first_value[1]])
    second = f.getvalue()[len(first):]
    cases.append({"name": "memo_group_first", "hex": hexlify(first), "memo_group": "g"})
    cases.append({"name": "memo_group_second", "hex": hexlify(second), "memo_group": "g"})
    return cases


def disassemble(cases):
    warnings.simplefilter("ignore")
    memos = {}
    for case in cases:
        data = binascii.unhexlify(case["hex"])
        indent = case.get("indentlevel", 4)
        group = case.get("memo_group")
        for key, annotate in (("listing", 0), ("annotated", 1), ("annotated30", 30)):
            memo = None
            if group is not None:
                memo = memos.setdefault((group, key), {})
            if annotate and not ANNOTATE_SUPPORTED:
                case[key] = None
                continue
            out = StringIO()
            error = None
            error_type = None
            try:
                if annotate:
                    pickletools.dis(data, out, memo, indent, annotate)
                else:
                    pickletools.dis(data, out, memo, indent)
            except Exception as e:  # ValueError from pickletools, IndexError from its own stack emulation
                error = str(e)
                error_type = type(e).__name__
            case[key] = out.getvalue()
            case["error"] = error
            case["error_type"] = error_type
    return cases


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "corpus":
        cases = dumps_all()
        if "--handmade" in sys.argv[2:]:
            cases.extend(handmade())
        json.dump(cases, sys.stdout)
    elif mode == "dis":
        json.dump(disassemble(json.load(sys.stdin)), sys.stdout)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
