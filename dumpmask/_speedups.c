/*
 * dumpmask._speedups: C versions of the hot byte scanners used on mysqldump INSERT statements
 * and on PostgreSQL COPY text data.
 *
 * Every function here is an exact equivalent of a pure-Python implementation in
 * dumpmask/dialects/fast.py (py_body_end, py_tuple_spans, py_splice, py_copy_spans); the
 * differential tests in tests/test_speedups.py hold them to that. The input is untrusted dump data: every
 * read is bounds-checked against the buffer length, nothing is ever written outside a buffer
 * allocated here with its exact size.
 *
 * C99, CPython C API only.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char uchar;

/* BLOCK (at the end of the file): declared here for the method table */
static PyObject *speedups_block_copy(PyObject *self, PyObject *args);
static PyObject *speedups_block_tuples(PyObject *self, PyObject *args);
static PyObject *speedups_block_memo(PyObject *self, PyObject *noargs);
PyDoc_STRVAR(block_memo_doc,
"block_memo() -> bytearray\n\n"
"A new, empty memo of digests for one column of block_copy / block_tuples (a speed-up only).");
PyDoc_STRVAR(block_copy_doc,
"block_copy(data, ncols, idxs, cols, unchanged, null) -> (bytes, rows, counts) | int | None\n\n"
"COPY text data (lines as copy_spans reads them) with the fields at idxs (ascending) masked:\n"
"cols[j] = (cache, miss, spec) for idxs[j] (spec: None, or a FAKES pick/assembly, see\n"
"blk_col_fast). counts = (changed, nulls) per column, flat. The 0-based index of the first\n"
"line without ncols fields (nothing masked), or None when a masked field is longer than 1 MiB.");

PyDoc_STRVAR(block_tuples_doc,
"block_tuples(data, start, ncols, idxs, cols, unchanged, null) -> (bytes, rows, counts) | None\n\n"
"A mysqldump INSERT whose VALUES list starts at data[start] (read as tuple_spans reads it) with\n"
"the fields at idxs masked, as block_copy. None when tuple_spans would give None (not the plain\n"
"shape) or a masked field is longer than 1 MiB: nothing is masked then.");


/* ------------------------------------------------------------------------------------------
 * Byte classes (filled once at module init)
 * ---------------------------------------------------------------------------------------- */

static uchar BODY_STOP[256];   /* ' " ` ; / # -  : bytes body_end must look at */
static uchar SQ_STOP[256];     /* ' \                                           */
static uchar DQ_STOP[256];     /* " \                                           */
static uchar FIELD_STOP[256];  /* , ( ) '  : end a run of plain field text      */
static uchar IS_SPACE[256];    /* Python bytes regex \s and bytes.strip(): space \t \n \r \v \f */

static void
init_tables(void)
{
    const char *p;
    memset(BODY_STOP, 0, sizeof BODY_STOP);
    memset(SQ_STOP, 0, sizeof SQ_STOP);
    memset(DQ_STOP, 0, sizeof DQ_STOP);
    memset(FIELD_STOP, 0, sizeof FIELD_STOP);
    memset(IS_SPACE, 0, sizeof IS_SPACE);
    for (p = "'\"`;/#-"; *p; p++)
        BODY_STOP[(uchar)*p] = 1;
    SQ_STOP['\''] = SQ_STOP['\\'] = 1;
    DQ_STOP['"'] = DQ_STOP['\\'] = 1;
    for (p = ",()'"; *p; p++)
        FIELD_STOP[(uchar)*p] = 1;
    for (p = " \t\n\r\v\f"; *p; p++)
        IS_SPACE[(uchar)*p] = 1;
}

/* ------------------------------------------------------------------------------------------
 * Quoted strings. Each takes d[i] == the opening quote (i < n) and returns the offset just
 * past the closing quote, or -1 when the string is not closed before n.
 * ---------------------------------------------------------------------------------------- */

/* '...' : backslash escapes any next byte; no doubled-quote rule ('' = two strings).
 * Regex: '[^'\\]*+(?:\\.[^'\\]*+)*+'  (DOTALL) */
static Py_ssize_t
sq_end(const uchar *d, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t j = i + 1;
    for (;;) {
        while (j < n && !SQ_STOP[d[j]])
            j++;
        if (j >= n)
            return -1;
        if (d[j] == '\'')
            return j + 1;
        /* backslash: needs one more byte */
        if (j + 1 >= n)
            return -1;
        j += 2;
    }
}

/* "..." : backslash escapes any next byte, "" inside. Possessive, so an even run of quotes
 * never closes the string.  Regex: "[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"  (DOTALL) */
static Py_ssize_t
dq_end(const uchar *d, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t j = i + 1;
    for (;;) {
        while (j < n && !DQ_STOP[d[j]])
            j++;
        if (j >= n)
            return -1;
        if (d[j] == '"') {
            if (j + 1 < n && d[j + 1] == '"') {
                j += 2;
                continue;
            }
            return j + 1;
        }
        if (j + 1 >= n)
            return -1;
        j += 2;
    }
}

/* `...` : `` inside, no escapes.  Regex: `[^`]*+(?:``[^`]*+)*+`  */
static Py_ssize_t
bt_end(const uchar *d, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t j = i + 1;
    for (;;) {
        const uchar *q;
        if (j >= n)
            return -1;
        q = (const uchar *)memchr(d + j, '`', (size_t)(n - j));
        if (q == NULL)
            return -1;
        j = (Py_ssize_t)(q - d);
        if (j + 1 < n && d[j + 1] == '`') {
            j += 2;
            continue;
        }
        return j + 1;
    }
}

/* ------------------------------------------------------------------------------------------
 * body_end
 * ---------------------------------------------------------------------------------------- */

/* The end of the token at d[i], a byte of BODY_STOP: past a quoted string or identifier, past a
 * '/' or '-' that starts no comment; -1 when the body ends at i (';', '#', a comment, or a
 * string / identifier not closed: the body stops at its opening quote). */
static inline Py_ssize_t
body_token(const uchar *d, Py_ssize_t n, Py_ssize_t i)
{
    switch (d[i]) {
    case '\'':
        return sq_end(d, n, i);
    case '"':
        return dq_end(d, n, i);
    case '`':
        return bt_end(d, n, i);
    case '/':
        return i + 1 < n && d[i + 1] == '*' ? -1 : i + 1;
    case '-':
        return i + 1 < n && d[i + 1] == '-' ? -1 : i + 1;
    default: /* ';' '#' */
        return -1;
    }
}

static Py_ssize_t
body_end_scalar(const uchar *d, Py_ssize_t n, Py_ssize_t i)
{
    for (;;) {
        Py_ssize_t e;
        while (i < n && !BODY_STOP[d[i]])
            i++;
        if (i >= n)
            return n;
        e = body_token(d, n, i);
        if (e < 0)
            return i;
        i = e;
    }
}

/* body_end 64 bytes at a time (the same result as body_end_scalar, which stays for short
 * inputs and is the reference the tests hold it to). Per window of 64 bytes: bit masks of ',
 * backslash and the other stops (" ` ; / # -); the bytes escaped by a backslash (a loop over
 * the backslashes, which are rare); the bytes inside '...' strings as the prefix XOR of the
 * unescaped quotes (opening quote included, closing quote excluded). The first stop outside a
 * string is handled by the scalar code; so is a backslash outside a string (a plain byte there,
 * though the masks took it for an escape: the window restarts after it). Strings longer than
 * a window carry their state (inside, the next byte escaped, where the string opened) over. */
#define BE_WIN 64

static inline uint64_t
be_prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

#if defined(__SSE2__)
#include <emmintrin.h>
static inline uint32_t
be_mask16(const uchar *p, uint32_t *bs, uint32_t *st)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('\''));
    __m128i b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    __m128i s = _mm_or_si128(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('`'))),
                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(';')), _mm_cmpeq_epi8(v, _mm_set1_epi8('/')))),
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('#')), _mm_cmpeq_epi8(v, _mm_set1_epi8('-'))));
    *bs = (uint32_t)_mm_movemask_epi8(b);
    *st = (uint32_t)_mm_movemask_epi8(s);
    return (uint32_t)_mm_movemask_epi8(q);
}
#endif

/* the masks of 64 bytes at p: quotes (returned), backslashes, other stops */
static inline uint64_t
be_masks(const uchar *p, uint64_t *bs, uint64_t *st)
{
    uint64_t q = 0, b = 0, s = 0;
#if defined(__SSE2__)
    int k;
    for (k = 0; k < BE_WIN; k += 16) {
        uint32_t b1, s1, q1 = be_mask16(p + k, &b1, &s1);
        q |= (uint64_t)q1 << k;
        b |= (uint64_t)b1 << k;
        s |= (uint64_t)s1 << k;
    }
#else
    int k;
    for (k = 0; k < BE_WIN; k++) {
        uchar c = p[k];
        if (c == '\'')
            q |= 1ULL << k;
        else if (c == '\\')
            b |= 1ULL << k;
        else if (BODY_STOP[c])
            s |= 1ULL << k;
    }
#endif
    *bs = b;
    *st = s;
    return q;
}

static Py_ssize_t
body_end_impl(const uchar *d, Py_ssize_t n, Py_ssize_t i)
{
    int in_sq = 0, esc_next = 0;      /* the state at d[i] */
    Py_ssize_t open = -1;             /* in_sq: where the open string's quote is */
    while (n - i >= BE_WIN) {
        uint64_t bs, st, q = be_masks(d + i, &bs, &st);
        uint64_t esc = 0, b = bs, inside, stop;
        if (esc_next) {
            esc = 1;
            b &= ~1ULL;
        }
        esc_next = 0;
        while (b) {
            int k = __builtin_ctzll(b);
            if (k == BE_WIN - 1) {
                esc_next = 1;
                break;
            }
            esc |= 1ULL << (k + 1);
            b &= ~(3ULL << k);
        }
        q &= ~esc;
        inside = be_prefix_xor(q);
        if (in_sq)
            inside = ~inside;
        /* a stop outside a string, or a backslash there (where the masks are wrong from on) */
        stop = (st | bs) & ~inside;
        if (stop) {
            int k = __builtin_ctzll(stop);
            Py_ssize_t p = i + k, e;
            if (d[p] == '\\') {          /* a plain byte outside a string: go on after it */
                i = p + 1;
                in_sq = esc_next = 0;
                continue;
            }
            e = body_token(d, n, p);     /* (not a quote: those are in the masks) */
            if (e < 0)
                return p;
            i = e;
            in_sq = esc_next = 0;
            continue;
        }
        if (q)
            open = i + 63 - __builtin_clzll(q);    /* the last quote: it opened a string if in one */
        in_sq = (int)(inside >> 63);
        if (!in_sq)
            esc_next = 0;   /* (a backslash as the last byte, outside: impossible, it is a stop) */
        i += BE_WIN;
    }
    if (in_sq) {
        /* the rest of the open string, as sq_end goes on */
        Py_ssize_t j = i + esc_next;
        if (j > n)
            return open;
        for (;;) {
            while (j < n && !SQ_STOP[d[j]])
                j++;
            if (j >= n)
                return open;
            if (d[j] == '\'')
                break;
            if (j + 1 >= n)
                return open;
            j += 2;
        }
        i = j + 1;
    }
    return body_end_scalar(d, n, i);
}

static Py_ssize_t
clamp_pos(Py_ssize_t pos, Py_ssize_t n)
{
    if (pos < 0)
        return 0;
    if (pos > n)
        return n;
    return pos;
}

PyDoc_STRVAR(body_end_doc,
"body_end(data, pos) -> int\n\n"
"End of the INSERT body starting at pos: plain bytes, complete '..' \"..\" `..` strings,\n"
"'/' not before '*', '-' not before '-'. Stops at ';', '#', '/*', '--' or an unterminated\n"
"quote; len(data) when it runs to the end.");

static PyObject *
speedups_body_end(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t pos, r;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*n:body_end", &buf, &pos))
        return NULL;
    r = body_end_impl((const uchar *)buf.buf, buf.len, clamp_pos(pos, buf.len));
    PyBuffer_Release(&buf);
    return PyLong_FromSsize_t(r);
}

/* ------------------------------------------------------------------------------------------
 * tuple_spans
 * ---------------------------------------------------------------------------------------- */

/* One tuple field starting at i; returns its end, or -1 when no field starts at i.
 * Regex (all possessive, so the match is unique):
 *   A: [^,()'\s][^,()']*+(?:'S'[^,()']*+)*+
 *   B: 'S'(?:[^,()'\s][^,()']*+|'S')*+
 * A string that is not closed ends the field at its quote (the caller then fails). In B,
 * whitespace right after a string ends the field (the caller then fails too); in A, text after
 * a string may contain whitespace. */
static Py_ssize_t
field_end(const uchar *d, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t j, k;
    uchar c;
    if (i >= n)
        return -1;
    c = d[i];
    if (c == '\'') {
        j = sq_end(d, n, i);
        if (j < 0)
            return -1;
        for (;;) {
            if (j >= n)
                return j;
            c = d[j];
            if (c == '\'') {
                k = sq_end(d, n, j);
                if (k < 0)
                    return j;
                j = k;
                continue;
            }
            if (FIELD_STOP[c] || IS_SPACE[c])
                return j;
            j++;
            while (j < n && !FIELD_STOP[d[j]])
                j++;
        }
    }
    if (FIELD_STOP[c] || IS_SPACE[c])
        return -1;
    j = i + 1;
    for (;;) {
        while (j < n && !FIELD_STOP[d[j]])
            j++;
        if (j < n && d[j] == '\'') {
            k = sq_end(d, n, j);
            if (k < 0)
                return j;
            j = k;
            continue;
        }
        return j;
    }
}

static int
cmp_ssize(const void *a, const void *b)
{
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/* a growable array of offsets */
typedef struct {
    Py_ssize_t *v;
    Py_ssize_t len, cap;
} offsets;

static int
offsets_push2(offsets *o, Py_ssize_t a, Py_ssize_t b)
{
    if (o->cap - o->len < 2) {
        Py_ssize_t cap = o->cap ? o->cap : 256;
        Py_ssize_t *nv;
        while (cap - o->len < 2) {
            if (cap > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)sizeof(Py_ssize_t)) {
                PyErr_NoMemory();
                return -1;
            }
            cap *= 2;
        }
        nv = PyMem_Realloc(o->v, (size_t)cap * sizeof(Py_ssize_t));
        if (nv == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        o->v = nv;
        o->cap = cap;
    }
    o->v[o->len++] = a;
    o->v[o->len++] = b;
    return 0;
}

/* the sorted, duplicate-free column indexes of idxs that name one of ncols columns, in a new
 * PyMem array (*out, length *nout); -1 with an exception set on error */
static int
column_set(PyObject *idxs, Py_ssize_t ncols, Py_ssize_t **out, Py_ssize_t *nout)
{
    PyObject *seq;
    Py_ssize_t *masked, nidx, nm = 0, i;
    *out = NULL;
    *nout = 0;
    /* a tuple we own: __index__ below may run Python code */
    seq = PySequence_Tuple(idxs);
    if (seq == NULL)
        return -1;
    nidx = PyTuple_GET_SIZE(seq);
    masked = PyMem_New(Py_ssize_t, nidx > 0 ? nidx : 1);
    if (masked == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < nidx; i++) {
        PyObject *ix = PyNumber_Index(PyTuple_GET_ITEM(seq, i));
        Py_ssize_t v;
        if (ix == NULL)
            goto fail;
        v = PyLong_AsSsize_t(ix);
        Py_DECREF(ix);
        if (v == -1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                goto fail;
            PyErr_Clear();     /* out of range: names no column */
            continue;
        }
        if (v >= 0 && v < ncols)
            masked[nm++] = v;
    }
    if (nm > 1) {
        Py_ssize_t w = 1;
        qsort(masked, (size_t)nm, sizeof(Py_ssize_t), cmp_ssize);
        for (i = 1; i < nm; i++)
            if (masked[i] != masked[w - 1])
                masked[w++] = masked[i];
        nm = w;
    }
    Py_DECREF(seq);
    *out = masked;
    *nout = nm;
    return 0;
fail:
    Py_DECREF(seq);
    PyMem_Free(masked);
    return -1;
}

PyDoc_STRVAR(tuple_spans_doc,
"tuple_spans(data, start, ncols, idxs) -> list[int] | None\n\n"
"Flat [start, end, ...] of the fields whose column index is in idxs (ascending column order)\n"
"of every tuple of a mysqldump VALUES list at data[start], or None when the list is not in\n"
"mysqldump's plain shape or is not followed by ';' or ON (within 64 bytes).");

static PyObject *
speedups_tuple_spans(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t start, ncols, nm = 0, i, pos, n, lim;
    PyObject *idxs, *out = NULL;
    Py_ssize_t *masked = NULL;
    offsets offs = {NULL, 0, 0};
    const uchar *d;
    int ok = 0;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*nnO:tuple_spans", &buf, &start, &ncols, &idxs))
        return NULL;
    if (ncols < 0)
        ncols = 0;
    if (column_set(idxs, ncols, &masked, &nm) < 0)
        goto done;

    d = (const uchar *)buf.buf;
    n = buf.len;
    pos = clamp_pos(start, n);
    for (;;) {
        Py_ssize_t p, f, k = 0;
        if (pos >= n || d[pos] != '(')
            goto fail;
        p = pos + 1;
        for (f = 0; f < ncols; f++) {
            Py_ssize_t e = field_end(d, n, p);
            if (e < 0)
                goto fail;
            if (k < nm && masked[k] == f) {
                if (offsets_push2(&offs, p, e) < 0)
                    goto done;
                k++;
            }
            p = e;
            if (f + 1 < ncols) {
                if (p >= n || d[p] != ',')
                    goto fail;
                p++;
            }
        }
        if (p >= n || d[p] != ')')
            goto fail;
        pos = p + 1;
        /* separator: ,[ \t\r\n]*+  (then another tuple must follow) */
        if (pos < n && d[pos] == ',') {
            pos++;
            while (pos < n && (d[pos] == ' ' || d[pos] == '\t' || d[pos] == '\r' || d[pos] == '\n'))
                pos++;
            continue;
        }
        break;
    }
    /* rest = data[pos:pos + 64].lstrip(); must start with ';' or (case-insensitively) ON */
    lim = (n - pos > 64) ? pos + 64 : n;
    while (pos < lim && IS_SPACE[d[pos]])
        pos++;
    if (pos < lim && d[pos] == ';')
        ok = 1;
    else if (lim - pos >= 2 && (d[pos] | 0x20) == 'o' && (d[pos + 1] | 0x20) == 'n')
        ok = 1;
    if (ok) {
        out = PyList_New(offs.len);
        if (out == NULL)
            goto done;
        for (i = 0; i < offs.len; i++) {
            PyObject *o = PyLong_FromSsize_t(offs.v[i]);
            if (o == NULL) {
                Py_CLEAR(out);
                goto done;
            }
            PyList_SET_ITEM(out, i, o);
        }
        goto done;
    }
fail:
    out = Py_None;
    Py_INCREF(out);
done:
    if (PyErr_Occurred())
        Py_CLEAR(out);
    PyMem_Free(offs.v);
    PyMem_Free(masked);
    PyBuffer_Release(&buf);
    return out;
}

/* ------------------------------------------------------------------------------------------
 * splice
 * ---------------------------------------------------------------------------------------- */

PyDoc_STRVAR(splice_doc,
"splice(data, spans, repl) -> bytes\n\n"
"data with data[s_i:e_i] replaced by repl[i] for every repl[i] that is a bytes object\n"
"(anything else keeps the original bytes). spans = [s0, e0, s1, e1, ...], ordered and\n"
"non-overlapping within data; len(repl) == len(spans) // 2.");

static PyObject *
speedups_splice(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    PyObject *spans_obj, *repl_obj, *spans = NULL, *repl = NULL, *res = NULL;
    Py_ssize_t *sp = NULL;
    Py_ssize_t nsp, nrep, i, n, prev, total;
    const char *d;
    char *w;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*OO:splice", &buf, &spans_obj, &repl_obj))
        return NULL;
    spans = PySequence_Fast(spans_obj, "splice: spans must be a sequence of ints");
    if (spans == NULL)
        goto done;
    /* a tuple owns references to the replacements for the whole call */
    repl = PySequence_Tuple(repl_obj);
    if (repl == NULL)
        goto done;
    nsp = PySequence_Fast_GET_SIZE(spans);
    nrep = PyTuple_GET_SIZE(repl);
    if (nsp % 2 != 0 || nrep != nsp / 2) {
        PyErr_Format(PyExc_ValueError,
                     "splice: %zd span offsets for %zd replacements", nsp, nrep);
        goto done;
    }
    sp = PyMem_New(Py_ssize_t, nsp > 0 ? nsp : 1);
    if (sp == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    n = buf.len;
    d = (const char *)buf.buf;
    prev = 0;
    total = 0;
    for (i = 0; i < nrep; i++) {
        PyObject *so = PySequence_Fast_GET_ITEM(spans, 2 * i);
        PyObject *eo = PySequence_Fast_GET_ITEM(spans, 2 * i + 1);
        PyObject *r = PyTuple_GET_ITEM(repl, i);
        Py_ssize_t s, e, add;
        if (!PyLong_Check(so) || !PyLong_Check(eo)) {
            PyErr_Format(PyExc_TypeError, "splice: span offsets must be int, not %.100s",
                         Py_TYPE(PyLong_Check(so) ? eo : so)->tp_name);
            goto done;
        }
        s = PyLong_AsSsize_t(so);
        if (s == -1 && PyErr_Occurred())
            goto bad_span;
        e = PyLong_AsSsize_t(eo);
        if (e == -1 && PyErr_Occurred())
            goto bad_span;
        if (s < prev || e < s || e > n)
            goto bad_span;
        sp[2 * i] = s;
        sp[2 * i + 1] = e;
        /* kept gap before the span, then the span or its replacement */
        add = s - prev;
        if (PyBytes_Check(r))
            add += PyBytes_GET_SIZE(r);
        else
            add += e - s;
        if (add > PY_SSIZE_T_MAX - total) {
            PyErr_SetString(PyExc_OverflowError, "splice: result too large");
            goto done;
        }
        total += add;
        prev = e;
    }
    if (n - prev > PY_SSIZE_T_MAX - total) {
        PyErr_SetString(PyExc_OverflowError, "splice: result too large");
        goto done;
    }
    total += n - prev;

    res = PyBytes_FromStringAndSize(NULL, total);
    if (res == NULL)
        goto done;
    w = PyBytes_AS_STRING(res);
    prev = 0;
    for (i = 0; i < nrep; i++) {
        Py_ssize_t s = sp[2 * i], e = sp[2 * i + 1];
        PyObject *r = PyTuple_GET_ITEM(repl, i);
        if (s > prev) {
            memcpy(w, d + prev, (size_t)(s - prev));
            w += s - prev;
        }
        if (PyBytes_Check(r)) {
            Py_ssize_t rl = PyBytes_GET_SIZE(r);
            if (rl > 0) {
                memcpy(w, PyBytes_AS_STRING(r), (size_t)rl);
                w += rl;
            }
        }
        else if (e > s) {
            memcpy(w, d + s, (size_t)(e - s));
            w += e - s;
        }
        prev = e;
    }
    if (n > prev)
        memcpy(w, d + prev, (size_t)(n - prev));
    goto done;

bad_span:
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            goto done;
        PyErr_Clear();
    }
    PyErr_Format(PyExc_ValueError,
                 "splice: span %zd is out of order or outside the data (length %zd)", i, buf.len);
done:
    PyMem_Free(sp);
    Py_XDECREF(spans);
    Py_XDECREF(repl);
    PyBuffer_Release(&buf);
    return res;
}

/* ------------------------------------------------------------------------------------------
 * count_nl
 * ---------------------------------------------------------------------------------------- */

PyDoc_STRVAR(count_nl_doc,
"count_nl(data) -> int\n\n"
"data.count(b'\\n'), by memchr: bytes.count looks at every byte in a loop of its own (~1 byte\n"
"a cycle); memchr skips the bytes between line breaks several times faster.");

static PyObject *
speedups_count_nl(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    const uchar *d, *end, *nl;
    Py_ssize_t lines = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:count_nl", &buf))
        return NULL;
    d = (const uchar *)buf.buf;
    end = d + buf.len;
    Py_BEGIN_ALLOW_THREADS
    while (d < end && (nl = (const uchar *)memchr(d, '\n', (size_t)(end - d))) != NULL) {
        lines++;
        d = nl + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return PyLong_FromSsize_t(lines);
}

/* ------------------------------------------------------------------------------------------
 * copy_scan
 * ---------------------------------------------------------------------------------------- */

PyDoc_STRVAR(copy_scan_doc,
"copy_scan(window) -> (term, lines, cut)\n\n"
"One pass over a chunk of PostgreSQL COPY text data for the reader (postgres.copy_scan is its\n"
"pure twin): term is where the first terminator line (backslash, dot, then '\\n' or '\\r\\n')\n"
"that follows a '\\n' begins (the index of its backslash), or -1; lines is the number of '\\n'\n"
"in window[:term] (term >= 0) or in the whole window; cut is the end of the last '\\n'\n"
"(rfind + 1), 0 when there is none.");

static PyObject *
speedups_copy_scan(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    const uchar *d, *nl;
    Py_ssize_t n, pos = 0, lines = 0, term = -1, cut = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:copy_scan", &buf))
        return NULL;
    d = (const uchar *)buf.buf;
    n = buf.len;
    Py_BEGIN_ALLOW_THREADS
    while (pos < n && (nl = (const uchar *)memchr(d + pos, '\n', (size_t)(n - pos))) != NULL) {
        Py_ssize_t i = (Py_ssize_t)(nl - d);
        lines++;
        cut = i + 1;
        if (i + 3 < n && d[i + 1] == '\\' && d[i + 2] == '.'
                && (d[i + 3] == '\n' || (d[i + 3] == '\r' && i + 4 < n && d[i + 4] == '\n'))) {
            term = i + 1;
            break;
        }
        pos = i + 1;
    }
    Py_END_ALLOW_THREADS
    if (term >= 0) {
        /* cut: the end of the window's last line break, as rfind gives it */
        const uchar *last = d + n;
        while (last > d && last[-1] != '\n')
            last--;
        cut = (Py_ssize_t)(last - d);
    }
    PyBuffer_Release(&buf);
    return Py_BuildValue("nnn", term, lines, cut);
}

/* ------------------------------------------------------------------------------------------
 * copy_spans
 * ---------------------------------------------------------------------------------------- */

PyDoc_STRVAR(copy_spans_doc,
"copy_spans(data, ncols, idxs) -> list[int] | int\n\n"
"PostgreSQL COPY text data: lines ending in '\\n' (a last line without one counts too), fields\n"
"split on '\\t'. Flat [start, end, ...] of the fields whose column index is in idxs (ascending\n"
"column order) of every line, or the 0-based index of the first line that does not have\n"
"exactly ncols fields. ncols must be >= 1.");

static PyObject *
speedups_copy_spans(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    PyObject *ncols_obj, *idxs, *nc = NULL, *out = NULL;
    Py_ssize_t ncols, nm = 0, i, pos, n, line = 0;
    Py_ssize_t *masked = NULL;
    offsets offs = {NULL, 0, 0};
    const uchar *d;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*OO:copy_spans", &buf, &ncols_obj, &idxs))
        return NULL;
    nc = PyNumber_Index(ncols_obj);
    if (nc == NULL)
        goto done;
    /* clamped: no line has more than PY_SSIZE_T_MAX fields, so that is as good as any bigger
     * count (and any count below 1 is refused either way) */
    ncols = PyNumber_AsSsize_t(nc, NULL);
    if (ncols == -1 && PyErr_Occurred())
        goto done;
    if (ncols < 1) {
        PyErr_Format(PyExc_ValueError, "copy_spans: ncols must be >= 1, not %zd", ncols);
        goto done;
    }
    if (column_set(idxs, ncols, &masked, &nm) < 0)
        goto done;

    d = (const uchar *)buf.buf;
    n = buf.len;
    pos = 0;
    while (pos < n) {
        /* one line: d[pos:eol], then the '\n' at eol (or eol == n) */
        const uchar *nl = (const uchar *)memchr(d + pos, '\n', (size_t)(n - pos));
        Py_ssize_t eol = nl ? (Py_ssize_t)(nl - d) : n;
        Py_ssize_t s = pos, f = 0, k = 0;
        for (;;) {
            const uchar *tab = s < eol ? (const uchar *)memchr(d + s, '\t', (size_t)(eol - s)) : NULL;
            Py_ssize_t e = tab ? (Py_ssize_t)(tab - d) : eol;
            if (k < nm && masked[k] == f) {
                if (offsets_push2(&offs, s, e) < 0)
                    goto done;
                k++;
            }
            f++;
            if (tab == NULL)
                break;
            if (f >= ncols)        /* a tab after the last field: too many fields */
                goto bad_line;
            s = e + 1;
        }
        if (f != ncols)
            goto bad_line;
        line++;
        pos = eol + 1;
    }

    out = PyList_New(offs.len);
    if (out == NULL)
        goto done;
    for (i = 0; i < offs.len; i++) {
        PyObject *o = PyLong_FromSsize_t(offs.v[i]);
        if (o == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, o);
    }
    goto done;

bad_line:
    out = PyLong_FromSsize_t(line);
done:
    if (PyErr_Occurred())
        Py_CLEAR(out);
    PyMem_Free(offs.v);
    PyMem_Free(masked);
    Py_XDECREF(nc);
    PyBuffer_Release(&buf);
    return out;
}

/* ==========================================================================================
 * FAKES (the speed area): the keyed PRF of dumpmask.crypto.Key.hasher (BLAKE2b, RFC 7693)
 * and the test that lets a raw field skip its decoding. Twins: dumpmask/transformers/fastprf.py
 * (py_prf_state, py_prf_digest, py_prf_field, py_pick_field, py_plain_utf8).
 * ======================================================================================== */

static const uint64_t B2_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uchar B2_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

/* The state after the key block and a prefix: what Key.hasher() holds, as a bytes object. */
typedef struct {
    uint64_t h[8];
    uint64_t t;          /* bytes compressed so far (inputs stay far below 2^64) */
    uint32_t buflen;
    uint32_t outlen;
    uchar buf[128];
} b2_state;

static inline uint64_t b2_rotr(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t b2_load64(const uchar *p)
{
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24)
        | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

#define B2_G(a, b, c, d, x, y) do { \
    a = a + b + (x); d = b2_rotr(d ^ a, 32); c = c + d; b = b2_rotr(b ^ c, 24); \
    a = a + b + (y); d = b2_rotr(d ^ a, 16); c = c + d; b = b2_rotr(b ^ c, 63); } while (0)

static void
b2_compress(b2_state *s, const uchar *block, int last)
{
    uint64_t m[16], v[16];
    int i;
    for (i = 0; i < 16; i++)
        m[i] = b2_load64(block + 8 * i);
    for (i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = B2_IV[i];
    }
    v[12] ^= s->t;          /* the counter's high word stays 0 */
    if (last)
        v[14] = ~v[14];
    /* the twelve rounds written out: the message schedule's indexes are constants, and v stays
     * in registers (a loop over B2_SIGMA[r] costs about half as much again) */
#define B2_ROUND(r) do { \
        B2_G(v[0], v[4], v[8], v[12], m[B2_SIGMA[r][0]], m[B2_SIGMA[r][1]]); \
        B2_G(v[1], v[5], v[9], v[13], m[B2_SIGMA[r][2]], m[B2_SIGMA[r][3]]); \
        B2_G(v[2], v[6], v[10], v[14], m[B2_SIGMA[r][4]], m[B2_SIGMA[r][5]]); \
        B2_G(v[3], v[7], v[11], v[15], m[B2_SIGMA[r][6]], m[B2_SIGMA[r][7]]); \
        B2_G(v[0], v[5], v[10], v[15], m[B2_SIGMA[r][8]], m[B2_SIGMA[r][9]]); \
        B2_G(v[1], v[6], v[11], v[12], m[B2_SIGMA[r][10]], m[B2_SIGMA[r][11]]); \
        B2_G(v[2], v[7], v[8], v[13], m[B2_SIGMA[r][12]], m[B2_SIGMA[r][13]]); \
        B2_G(v[3], v[4], v[9], v[14], m[B2_SIGMA[r][14]], m[B2_SIGMA[r][15]]); } while (0)
    B2_ROUND(0); B2_ROUND(1); B2_ROUND(2); B2_ROUND(3); B2_ROUND(4); B2_ROUND(5);
    B2_ROUND(6); B2_ROUND(7); B2_ROUND(8); B2_ROUND(9); B2_ROUND(10); B2_ROUND(11);
#undef B2_ROUND
    for (i = 0; i < 8; i++)
        s->h[i] ^= v[i] ^ v[i + 8];
}

/* Appends data; a full buffer is compressed only when more data follows (the last block is
 * compressed by b2_final with the last-block flag). */
static void
b2_update(b2_state *s, const uchar *p, Py_ssize_t n)
{
    while (n > 0) {
        if (s->buflen == 128) {
            s->t += 128;
            b2_compress(s, s->buf, 0);
            s->buflen = 0;
        }
        Py_ssize_t k = 128 - s->buflen;
        if (k > n)
            k = n;
        memcpy(s->buf + s->buflen, p, (size_t)k);
        s->buflen += (uint32_t)k;
        p += k;
        n -= k;
    }
}

static void
b2_final(b2_state *s, uchar *out)
{
    uchar full[64];
    int i, j;
    s->t += s->buflen;
    memset(s->buf + s->buflen, 0, 128 - s->buflen);
    b2_compress(s, s->buf, 1);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    (void)full, (void)i, (void)j;
    memcpy(out, s->h, s->outlen);     /* h's bytes in memory are the digest's (little-endian) */
#else
    for (i = 0; i < 8; i++)
        for (j = 0; j < 8; j++)
            full[8 * i + j] = (uchar)(s->h[i] >> (8 * j));
    memcpy(out, full, s->outlen);
#endif
}

/* Strictly valid UTF-8 (what bytes.decode("utf-8") accepts) with no byte below 0x20 and no
 * backslash (and, when `quotes`, no ' or "): a field that needs no unescaping, whose bytes are
 * the value's UTF-8 and are written back as they are. */
/* The length of the strictly valid UTF-8 sequence of 2-4 bytes at p[i] (lead byte >= 0x80),
 * or 0: overlong forms, surrogates and code points past U+10FFFF are not valid. */
static inline Py_ssize_t
utf8_multi(const uchar *p, Py_ssize_t i, Py_ssize_t n)
{
    uchar c = p[i];
    if (c >= 0xC2 && c <= 0xDF)
        return i + 1 < n && (p[i + 1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        uchar lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return i + 2 < n && p[i + 1] >= lo && p[i + 1] <= hi && (p[i + 2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        uchar lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return i + 3 < n && p[i + 1] >= lo && p[i + 1] <= hi && (p[i + 2] & 0xC0) == 0x80
            && (p[i + 3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

static int
plain_utf8(const uchar *p, Py_ssize_t n, int quotes)
{
    Py_ssize_t i = 0;
    while (i < n) {
        uchar c = p[i];
        if (c < 0x80) {
            if (c < 0x20 || c == '\\' || (quotes && (c == '\'' || c == '"')))
                return 0;
            i++;
            continue;
        }
        Py_ssize_t len = utf8_multi(p, i, n);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

static int
get_state(PyObject *obj, b2_state *s)
{
    if (!PyBytes_Check(obj) || PyBytes_GET_SIZE(obj) != (Py_ssize_t)sizeof(b2_state)) {
        PyErr_SetString(PyExc_TypeError, "not a PRF state (from prf_state)");
        return -1;
    }
    memcpy(s, PyBytes_AS_STRING(obj), sizeof(b2_state));
    if (s->outlen < 1 || s->outlen > 64 || s->buflen > 128) {
        PyErr_SetString(PyExc_ValueError, "corrupt PRF state");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(prf_state_doc,
"prf_state(key, prefix, digest_size) -> bytes\n\n"
"The state of hashlib.blake2b(key=key, digest_size=digest_size) after update(prefix).");

static PyObject *
speedups_prf_state(PyObject *self, PyObject *args)
{
    Py_buffer key, prefix;
    int size;
    b2_state s;
    uchar block[128];
    if (!PyArg_ParseTuple(args, "y*y*i", &key, &prefix, &size))
        return NULL;
    if (key.len < 1 || key.len > 64 || size < 1 || size > 64) {
        PyBuffer_Release(&key);
        PyBuffer_Release(&prefix);
        PyErr_SetString(PyExc_ValueError, "key must be 1-64 bytes and digest_size 1-64");
        return NULL;
    }
    memset(&s, 0, sizeof s);
    memcpy(s.h, B2_IV, sizeof s.h);
    s.h[0] ^= 0x01010000ULL ^ ((uint64_t)key.len << 8) ^ (uint64_t)size;
    s.outlen = (uint32_t)size;
    memset(block, 0, sizeof block);
    memcpy(block, key.buf, (size_t)key.len);
    b2_update(&s, block, 128);
    b2_update(&s, prefix.buf, prefix.len);
    PyBuffer_Release(&key);
    PyBuffer_Release(&prefix);
    return PyBytes_FromStringAndSize((const char *)&s, sizeof s);
}

PyDoc_STRVAR(prf_digest_doc,
"prf_digest(state, data) -> bytes\n\n"
"The digest of the state (prf_state) updated with data: Key.prf's bytes.");

static PyObject *
speedups_prf_digest(PyObject *self, PyObject *args)
{
    PyObject *st;
    Py_buffer data;
    b2_state s;
    uchar out[64];
    if (!PyArg_ParseTuple(args, "Oy*", &st, &data))
        return NULL;
    if (get_state(st, &s) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    b2_update(&s, data.buf, data.len);
    PyBuffer_Release(&data);
    b2_final(&s, out);
    return PyBytes_FromStringAndSize((const char *)out, s.outlen);
}

/* Strictly valid UTF-8 (what bytes.decode("utf-8") accepts), nothing else checked. */
static int
utf8_valid(const uchar *p, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        Py_ssize_t len = utf8_multi(p, i, n);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

#define FIELD_BUF 1024

/* The value's bytes of a *plain* raw field: mode 0 a COPY text field, mode 1 a MySQL '...'
 * literal (between the quotes). Plain: every byte is an ordinary byte of its mode or a
 * backslash escape that the dialect's encoder writes itself (mode 0, copy_encode: \\ \b \f
 * \n \r \t \v; ordinary: not below 0x20, not a backslash. Mode 1, encode_string: \0 \n \r
 * \\ \' \" \Z; ordinary: not NUL, LF, CR, ^Z, quote, double quote, backslash), and the value
 * is strict UTF-8. Then the value written back by the dialect's encoder is the raw field
 * again, byte for byte. Escaped values longer than FIELD_BUF are not plain (the caller's
 * general path). *body points into the field or into buf. 0 when not plain. */
/* The byte that a backslash escape \e of a plain field stands for (mode as plain_field's), or
 * -1 for an escape the dialect's encoder never writes. */
static inline int
plain_unescape(int mode, uchar e)
{
    if (mode == 0) {
        switch (e) {
        case '\\': return '\\';
        case 'b': return 0x08;
        case 'f': return 0x0c;
        case 'n': return 0x0a;
        case 'r': return 0x0d;
        case 't': return 0x09;
        case 'v': return 0x0b;
        default: return -1;
        }
    }
    switch (e) {
    case '0': return 0x00;
    case 'n': return 0x0a;
    case 'r': return 0x0d;
    case '\\': return '\\';
    case '\'': return '\'';
    case '"': return '"';
    case 'Z': return 0x1a;
    default: return -1;
    }
}

static int
plain_field(const uchar *p, Py_ssize_t n, int mode, uchar *buf, const uchar **body, Py_ssize_t *blen)
{
    Py_ssize_t i, o = 0;
    int escaped = 0;
    if (mode == 1) {
        if (n < 2 || p[0] != '\'' || p[n - 1] != '\'')
            return 0;
        p++;
        n -= 2;
    }
    for (i = 0; i < n; i++) {
        uchar c = p[i];
        if (c == '\\') {
            uchar e, v;
            int k;
            if (i + 1 >= n || n > FIELD_BUF)
                return 0;
            if (!escaped) {
                memcpy(buf, p, (size_t)i);
                o = i;
                escaped = 1;
            }
            e = p[++i];
            if ((k = plain_unescape(mode, e)) < 0)
                return 0;
            v = (uchar)k;
            buf[o++] = v;
            continue;
        }
        if (mode == 0 ? c < 0x20
                      : (c == 0x00 || c == 0x0a || c == 0x0d || c == 0x1a || c == '\'' || c == '"'))
            return 0;
        if (escaped)
            buf[o++] = c;
    }
    if (escaped) {
        p = buf;
        n = o;
    }
    if (!utf8_valid(p, n))
        return 0;
    *body = p;
    *blen = n;
    return 1;
}

PyDoc_STRVAR(prf_field_doc,
"prf_field(state, mode, raw) -> bytes | None\n\n"
"prf_digest(state, value) when the raw field is plain (mode 0: a COPY text field; 1: a MySQL\n"
"'...' literal; see plain_field in _speedups.c); else None (also for a raw that is not bytes).");

static PyObject *
speedups_prf_field(PyObject *self, PyObject *args)
{
    uchar fbuf[FIELD_BUF];
    PyObject *st, *rawobj;
    int mode;
    b2_state s;
    uchar out[64];
    const uchar *body;
    Py_ssize_t blen;
    if (!PyArg_ParseTuple(args, "OiO", &st, &mode, &rawobj))
        return NULL;
    if (get_state(st, &s) < 0)
        return NULL;
    if (!PyBytes_CheckExact(rawobj)
        || !plain_field((const uchar *)PyBytes_AS_STRING(rawobj), PyBytes_GET_SIZE(rawobj), mode, fbuf, &body, &blen))
        Py_RETURN_NONE;
    b2_update(&s, body, blen);
    b2_final(&s, out);
    return PyBytes_FromStringAndSize((const char *)out, s.outlen);
}

PyDoc_STRVAR(pick_field_doc,
"pick_field(state, mode, pool, start, end, keep_empty, raw) -> object | None\n\n"
"pool[int.from_bytes(d[start:end], 'big') % len(pool)] with d = prf_field(state, raw, mode);\n"
"None when the field is not plain; raw itself for an empty value when keep_empty.");

static PyObject *
speedups_pick_field(PyObject *self, PyObject *args)
{
    uchar fbuf[FIELD_BUF];
    PyObject *st, *pool, *rawobj;
    int mode, start, end, keep_empty;
    b2_state s;
    uchar out[64];
    const uchar *body;
    Py_ssize_t blen, n;
    uint64_t x = 0;
    int i;
    if (!PyArg_ParseTuple(args, "OiO!iipO", &st, &mode, &PyTuple_Type, &pool, &start, &end, &keep_empty,
                          &rawobj))
        return NULL;
    if (get_state(st, &s) < 0)
        return NULL;
    n = PyTuple_GET_SIZE(pool);
    if (n < 1 || start < 0 || end <= start || end - start > 8 || (uint32_t)end > s.outlen) {
        PyErr_SetString(PyExc_ValueError, "pick_field: empty pool or bad digest range");
        return NULL;
    }
    if (!PyBytes_CheckExact(rawobj)
        || !plain_field((const uchar *)PyBytes_AS_STRING(rawobj), PyBytes_GET_SIZE(rawobj), mode, fbuf, &body, &blen))
        Py_RETURN_NONE;
    if (blen == 0 && keep_empty) {
        Py_INCREF(rawobj);
        return rawobj;
    }
    b2_update(&s, body, blen);
    b2_final(&s, out);
    for (i = start; i < end; i++)
        x = (x << 8) | out[i];
    PyObject *r = PyTuple_GET_ITEM(pool, (Py_ssize_t)(x % (uint64_t)n));
    Py_INCREF(r);
    return r;
}

PyDoc_STRVAR(assemble_field_doc,
"assemble_field(state, mode, keep_empty, heads, start, end, tails, tail_at, sfx_len, table, raw)\n"
"    -> bytes | None\n\n"
"For a plain raw field (see prf_field), with d its digest: heads[i] + the first sfx_len bytes\n"
"of d mapped through the 256-byte table + tails[d[tail_at] % len(tails)], where i =\n"
"int.from_bytes(d[start:end], 'big') % len(heads). raw itself for an empty value when\n"
"keep_empty; None when the field is not plain or heads[i] is empty (the caller's general path).");

static PyObject *
speedups_assemble_field(PyObject *self, PyObject *args)
{
    uchar fbuf[FIELD_BUF];
    PyObject *st, *heads, *tails, *table, *rawobj, *head, *tail, *out;
    int mode, keep_empty, start, end, tail_at, sfx_len, i;
    b2_state s;
    uchar d[64];
    const uchar *body;
    Py_ssize_t blen, nh, nt, hl, tl;
    uint64_t x = 0;
    if (!PyArg_ParseTuple(args, "OipO!iiO!iiSO", &st, &mode, &keep_empty, &PyTuple_Type, &heads, &start, &end,
                          &PyTuple_Type, &tails, &tail_at, &sfx_len, &table, &rawobj))
        return NULL;
    if (get_state(st, &s) < 0)
        return NULL;
    nh = PyTuple_GET_SIZE(heads);
    nt = PyTuple_GET_SIZE(tails);
    if (nh < 1 || nt < 1 || start < 0 || end <= start || end - start > 8 || (uint32_t)end > s.outlen
        || tail_at < 0 || (uint32_t)tail_at >= s.outlen || sfx_len < 0 || (uint32_t)sfx_len > s.outlen
        || PyBytes_GET_SIZE(table) != 256) {
        PyErr_SetString(PyExc_ValueError, "assemble_field: bad pools, digest ranges or table");
        return NULL;
    }
    if (!PyBytes_CheckExact(rawobj)
        || !plain_field((const uchar *)PyBytes_AS_STRING(rawobj), PyBytes_GET_SIZE(rawobj), mode, fbuf, &body, &blen))
        Py_RETURN_NONE;
    if (blen == 0 && keep_empty) {
        Py_INCREF(rawobj);
        return rawobj;
    }
    b2_update(&s, body, blen);
    b2_final(&s, d);
    for (i = start; i < end; i++)
        x = (x << 8) | d[i];
    head = PyTuple_GET_ITEM(heads, (Py_ssize_t)(x % (uint64_t)nh));
    tail = PyTuple_GET_ITEM(tails, (Py_ssize_t)(d[tail_at] % (uint64_t)nt));
    if (!PyBytes_Check(head) || !PyBytes_Check(tail)) {
        PyErr_SetString(PyExc_TypeError, "assemble_field: heads and tails must be bytes");
        return NULL;
    }
    hl = PyBytes_GET_SIZE(head);
    if (hl == 0)
        Py_RETURN_NONE;
    tl = PyBytes_GET_SIZE(tail);
    out = PyBytes_FromStringAndSize(NULL, hl + sfx_len + tl);
    if (out == NULL)
        return NULL;
    {
        uchar *o = (uchar *)PyBytes_AS_STRING(out);
        const uchar *tb = (const uchar *)PyBytes_AS_STRING(table);
        memcpy(o, PyBytes_AS_STRING(head), (size_t)hl);
        for (i = 0; i < sfx_len; i++)
            o[hl + i] = tb[d[i]];
        memcpy(o + hl + sfx_len, PyBytes_AS_STRING(tail), (size_t)tl);
    }
    return out;
}

PyDoc_STRVAR(plain_utf8_doc,
"plain_utf8(raw, quotes) -> bool\n\n"
"Strict UTF-8 with no byte below 0x20 and no backslash (and no ' or \" when quotes).");

static PyObject *
speedups_plain_utf8(PyObject *self, PyObject *args)
{
    Py_buffer raw;
    int quotes, ok;
    if (!PyArg_ParseTuple(args, "y*p", &raw, &quotes))
        return NULL;
    ok = plain_utf8(raw.buf, raw.len, quotes);
    PyBuffer_Release(&raw);
    return PyBool_FromLong(ok);
}

/* ======================================================================== end of FAKES */

/* ==========================================================================================
 * Key columns (area: passes): integer key fields of a block remapped (or kept) in C.
 * The pure-Python twin is dumpmask/keyspans.py py_key_spans; tests/test_speedups.py holds
 * them to the same results.
 * ========================================================================================== */

/* one segment of a key domain: x in [a, b] -> enc(x - a) + a + add, where enc is the keyed
 * Feistel permutation of [0, b - a] (8 rounds of table look-ups, cycle-walking), the identity
 * when the domain has one value; unusable segments send their values to the Python miss */
typedef struct {
    long long a, b, add;
    int usable, identity, wb, ntabs;
    unsigned long long mask_b, n;
    Py_buffer tabs[8];
    Py_ssize_t tablen[8];
} key_segment;

static void
key_segments_release(key_segment *g, Py_ssize_t ng)
{
    Py_ssize_t i;
    int t;
    for (i = 0; i < ng; i++)
        for (t = 0; t < g[i].ntabs; t++)
            PyBuffer_Release(&g[i].tabs[t]);
}

/* segments: a sequence of (a, b, add, wb, tables): tables None (not usable: Python), () (the
 * identity), or 8 buffers of C int (array('i')) holding the round values */
static int
key_segments_load(PyObject *segs, key_segment **out, Py_ssize_t *nout)
{
    PyObject *fast = PySequence_Fast(segs, "key_spans: segments must be a sequence");
    Py_ssize_t ng, i;
    key_segment *g;
    if (fast == NULL)
        return -1;
    ng = PySequence_Fast_GET_SIZE(fast);
    g = (key_segment *)PyMem_Calloc(ng ? (size_t)ng : 1, sizeof(key_segment));
    if (g == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < ng; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(fast, i), *tabs;
        key_segment *s = &g[i];
        int ov1 = 0, ov2 = 0, ov3 = 0, k;
        long wb;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 5) {
            PyErr_SetString(PyExc_TypeError, "key_spans: a segment is (a, b, add, wb, tables)");
            goto fail;
        }
        s->a = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(t, 0), &ov1);
        if (s->a == -1 && PyErr_Occurred())
            goto fail;
        s->b = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(t, 1), &ov2);
        if (s->b == -1 && PyErr_Occurred())
            goto fail;
        s->add = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(t, 2), &ov3);
        if (s->add == -1 && PyErr_Occurred())
            goto fail;
        wb = PyLong_AsLong(PyTuple_GET_ITEM(t, 3));
        if (wb == -1 && PyErr_Occurred())
            goto fail;
        tabs = PyTuple_GET_ITEM(t, 4);
        /* only ranges whose outputs fit in 62 bits are taken here; anything wider goes to Python */
        if (ov1 || ov2 || ov3 || s->a < 0 || s->b < s->a || s->b > (1LL << 62)
                || s->add > (1LL << 62) || s->add < -(1LL << 62) || tabs == Py_None)
            continue;
        s->n = (unsigned long long)(s->b - s->a) + 1;
        if (PyTuple_Check(tabs) && PyTuple_GET_SIZE(tabs) == 0) {
            s->identity = s->n == 1;
            s->usable = s->identity;
            continue;
        }
        if (!PyTuple_Check(tabs) || PyTuple_GET_SIZE(tabs) != 8 || wb < 1 || wb > 31) {
            PyErr_SetString(PyExc_TypeError, "key_spans: tables must be None, () or 8 int arrays");
            goto fail;
        }
        for (k = 0; k < 8; k++) {
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(tabs, k), &s->tabs[k], PyBUF_FORMAT) < 0)
                goto fail;
            s->ntabs = k + 1;
            if (s->tabs[k].itemsize != (Py_ssize_t)sizeof(int) || s->tabs[k].format == NULL
                    || strcmp(s->tabs[k].format, "i") != 0) {
                PyErr_SetString(PyExc_TypeError, "key_spans: round tables must be array('i')");
                goto fail;
            }
            s->tablen[k] = s->tabs[k].len / (Py_ssize_t)sizeof(int);
        }
        s->wb = (int)wb;
        s->mask_b = (1ULL << wb) - 1;
        s->usable = 1;
    }
    Py_DECREF(fast);
    *out = g;
    *nout = ng;
    return 0;
fail:
    key_segments_release(g, ng);
    PyMem_Free(g);
    Py_DECREF(fast);
    return -1;
}

/* one Feistel pass; -1 (as unsigned) when a table entry is missing or out of range */
static unsigned long long
key_feistel(const key_segment *s, unsigned long long x)
{
    unsigned long long a = x >> s->wb, b = x & s->mask_b, t;
    int r;
    for (r = 0; r < 8; r++) {
        int f;
        if (b >= (unsigned long long)s->tablen[r])
            return (unsigned long long)-1;
        f = ((const int *)s->tabs[r].buf)[b];
        if (f < 0)
            return (unsigned long long)-1;
        t = b;
        b = a ^ (unsigned long long)f;
        a = t;
    }
    return (a << s->wb) | b;
}

/* the remapped value of x, or -1 when C cannot tell (the Python miss decides) */
static long long
key_map(const key_segment *g, Py_ssize_t ng, long long x)
{
    Py_ssize_t i;
    for (i = 0; i < ng; i++) {
        const key_segment *s = &g[i];
        unsigned long long y;
        int walks = 0;
        if (x < s->a || x > s->b)
            continue;
        if (!s->usable)
            return -1;
        if (s->identity)
            return x + s->add;
        y = key_feistel(s, (unsigned long long)(x - s->a));
        while (y != (unsigned long long)-1 && y >= s->n) {
            if (++walks > 1000000)
                return -1;
            y = key_feistel(s, y);
        }
        if (y == (unsigned long long)-1)
            return -1;
        return (long long)y + s->a + s->add;
    }
    return -1;
}

PyDoc_STRVAR(key_spans_doc,
"key_spans(data, spans, k, j, repl, segments, cache, miss, unchanged, null) -> (changed, nulls, max)\n\n"
"Field j of every k fields of the flat spans: plain ASCII digits (1-18) in a usable segment are\n"
"remapped (segments None: kept, repl UNCHANGED); any other field goes through cache/miss like\n"
"the generated span loop. repl[n*k+j] is set for every row n; max is the largest value C wrote\n"
"(-1 if none).");

static PyObject *
speedups_key_spans(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    PyObject *spans, *repl, *segs, *cache, *miss, *unchanged, *null_obj, *sfast = NULL, *res = NULL;
    Py_ssize_t k, j, nspans, row, nrows, ng = 0, changed = 0, nulls = 0;
    long long maxv = -1;
    key_segment *g = NULL;
    int keep_only;
    const uchar *d;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*OnnO!OOOOO:key_spans", &buf, &spans, &k, &j, &PyList_Type, &repl,
                          &segs, &cache, &miss, &unchanged, &null_obj))
        return NULL;
    if (!PyDict_Check(cache) || !PyBytes_Check(null_obj)) {
        PyErr_SetString(PyExc_TypeError, "key_spans: cache must be a dict and null bytes");
        goto done;
    }
    keep_only = segs == Py_None;
    if (!keep_only && key_segments_load(segs, &g, &ng) < 0)
        goto done;
    sfast = PySequence_Fast(spans, "key_spans: spans must be a sequence");
    if (sfast == NULL)
        goto done;
    nspans = PySequence_Fast_GET_SIZE(sfast);
    if (k < 1 || j < 0 || j >= k || nspans % (2 * k) != 0 || PyList_GET_SIZE(repl) != nspans / 2) {
        PyErr_SetString(PyExc_ValueError, "key_spans: spans, k, j and repl do not agree");
        goto done;
    }
    d = (const uchar *)buf.buf;
    nrows = nspans / (2 * k);
    for (row = 0; row < nrows; row++) {
        Py_ssize_t at = row * k + j, s, e, p;
        PyObject *r = NULL;
        s = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(sfast, 2 * at));
        if (s == -1 && PyErr_Occurred())
            goto done;
        e = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(sfast, 2 * at + 1));
        if (e == -1 && PyErr_Occurred())
            goto done;
        if (s < 0 || e < s || e > buf.len) {
            PyErr_SetString(PyExc_ValueError, "key_spans: a span is outside the data");
            goto done;
        }
        if (e - s >= 1 && e - s <= 18) {
            long long x = 0;
            for (p = s; p < e && d[p] >= '0' && d[p] <= '9'; p++)
                x = x * 10 + (d[p] - '0');
            if (p == e) {
                if (keep_only) {
                    Py_INCREF(unchanged);
                    r = unchanged;
                } else {
                    long long y = key_map(g, ng, x);
                    if (y >= 0) {
                        char tmp[32];
                        int len = snprintf(tmp, sizeof tmp, "%lld", y);
                        r = PyBytes_FromStringAndSize(tmp, len);
                        if (r == NULL)
                            goto done;
                        changed++;
                        if (y > maxv)
                            maxv = y;
                    }
                }
            }
        }
        if (r == NULL) {
            /* the generated loop's way: memo, else miss; count changed values and NULLs */
            PyObject *raw = PyBytes_FromStringAndSize((const char *)d + s, e - s);
            if (raw == NULL)
                goto done;
            r = PyDict_GetItemWithError(cache, raw);
            if (r != NULL) {
                Py_INCREF(r);
            } else if (PyErr_Occurred()) {
                Py_DECREF(raw);
                goto done;
            } else {
                r = PyObject_CallOneArg(miss, raw);
                if (r == NULL) {
                    Py_DECREF(raw);
                    goto done;
                }
            }
            if (r == unchanged) {
                if (PyBytes_GET_SIZE(raw) == PyBytes_GET_SIZE(null_obj)
                        && memcmp(PyBytes_AS_STRING(raw), PyBytes_AS_STRING(null_obj), (size_t)PyBytes_GET_SIZE(raw)) == 0)
                    nulls++;
            } else {
                changed++;
                if (r == null_obj)
                    nulls++;
            }
            Py_DECREF(raw);
        }
        if (PyList_SetItem(repl, at, r) < 0)   /* steals r */
            goto done;
    }
    res = Py_BuildValue("nnL", changed, nulls, maxv);
done:
    Py_XDECREF(sfast);
    if (g != NULL) {
        key_segments_release(g, ng);
        PyMem_Free(g);
    }
    PyBuffer_Release(&buf);
    return res;
}

/* ==========================================================================================
 * verify (area: passes): a keyed 64-bit hash, a blocked Bloom filter in a bytearray, and the
 * token probe of a row's raw bytes. Pure-Python twins: dumpmask/verifyfast.py.
 * ========================================================================================== */

#define VH_P1 0x9E3779B185EBCA87ULL
#define VH_P2 0xC2B2AE3D27D4EB4FULL
#define VH_P3 0x165667B19E3779F9ULL

static unsigned long long
vh_rotl(unsigned long long x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* h = seed ^ (len * P1); per 8-byte little-endian word w (the last one zero-padded):
 * h = rotl((h ^ (w * P3)) * P2, 29); then the murmur3 finaliser */
static unsigned long long
vhash_impl(const uchar *d, Py_ssize_t n, unsigned long long seed)
{
    unsigned long long h = seed ^ ((unsigned long long)n * VH_P1);
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {   /* whole words: 8 bytes, little-endian */
        unsigned long long w = 0;
        int b;
        for (b = 0; b < 8; b++)
            w |= (unsigned long long)d[i + b] << (8 * b);
        h = vh_rotl((h ^ (w * VH_P3)) * VH_P2, 29);
    }
    if (i < n) {                   /* the last word, zero-padded */
        unsigned long long w = 0;
        int b;
        for (b = 0; i + b < n; b++)
            w |= (unsigned long long)d[i + b] << (8 * b);
        h = vh_rotl((h ^ (w * VH_P3)) * VH_P2, 29);
    }
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    return h;
}

PyDoc_STRVAR(vhash_doc, "vhash(data, seed) -> int: the keyed 64-bit hash of verify (see verifyfast.py).");

static PyObject *
speedups_vhash(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    unsigned long long seed, h;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*K:vhash", &buf, &seed))
        return NULL;
    h = vhash_impl((const uchar *)buf.buf, buf.len, seed);
    PyBuffer_Release(&buf);
    return PyLong_FromUnsignedLongLong(h);
}

/* blocked Bloom filter: 64-byte blocks; block (h >> 32) % nblocks, 6 bits in it at
 * (lo + i * (((h >> 16) & 0xffffffff) | 1)) & 511, lo = h & 0xffffffff */
static int
bloom_op(uchar *bits, Py_ssize_t nbytes, unsigned long long h, int add)
{
    unsigned long long nblocks = (unsigned long long)(nbytes / 64);
    /* (a power of two, as verify's filters are: a mask, the same block as %) */
    uchar *blk = bits + 64 * ((nblocks & (nblocks - 1)) ? (h >> 32) % nblocks : (h >> 32) & (nblocks - 1));
    unsigned long long lo = h & 0xFFFFFFFFULL, step = ((h >> 16) & 0xFFFFFFFFULL) | 1;
    int i, present = 1;
    for (i = 0; i < 6; i++) {
        unsigned p = (unsigned)((lo + (unsigned long long)i * step) & 511);
        uchar m = (uchar)(1u << (p & 7));
        if (!(blk[p >> 3] & m)) {
            present = 0;
            if (add)
                blk[p >> 3] |= m;
            else
                return 0;
        }
    }
    return present;
}

static int
bloom_buffer(PyObject *obj, Py_buffer *view, int writable)
{
    if (PyObject_GetBuffer(obj, view, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len < 64 || view->len % 64) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "bloom: the filter must be a multiple of 64 bytes (at least 64)");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(bloom_add_doc, "bloom_add(bits, h) -> bool: set h's bits; True when one was not set (new).");

static PyObject *
speedups_bloom_add(PyObject *self, PyObject *args)
{
    PyObject *obj;
    unsigned long long h;
    Py_buffer view;
    int present;
    (void)self;
    if (!PyArg_ParseTuple(args, "OK:bloom_add", &obj, &h))
        return NULL;
    if (bloom_buffer(obj, &view, 1) < 0)
        return NULL;
    present = bloom_op((uchar *)view.buf, view.len, h, 1);
    PyBuffer_Release(&view);
    return PyBool_FromLong(!present);
}

PyDoc_STRVAR(bloom_has_doc, "bloom_has(bits, h) -> bool: h may be in the filter.");

static PyObject *
speedups_bloom_has(PyObject *self, PyObject *args)
{
    PyObject *obj;
    unsigned long long h;
    Py_buffer view;
    int present;
    (void)self;
    if (!PyArg_ParseTuple(args, "OK:bloom_has", &obj, &h))
        return NULL;
    if (bloom_buffer(obj, &view, 0) < 0)
        return NULL;
    present = bloom_op((uchar *)view.buf, view.len, h, 0);
    PyBuffer_Release(&view);
    return PyBool_FromLong(present);
}

PyDoc_STRVAR(bloom_add_all_doc,
"bloom_add_all(bits, hashes) -> int: bloom_add of every native uint64 of hashes (an array('Q'));\n"
"how many were new.");

static PyObject *
speedups_bloom_add_all(PyObject *self, PyObject *args)
{
    PyObject *obj;
    Py_buffer view, hb;
    Py_ssize_t i, added = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*:bloom_add_all", &obj, &hb))
        return NULL;
    if (hb.len % 8) {
        PyBuffer_Release(&hb);
        PyErr_SetString(PyExc_ValueError, "bloom_add_all: hashes must be 8-byte integers");
        return NULL;
    }
    if (bloom_buffer(obj, &view, 1) < 0) {
        PyBuffer_Release(&hb);
        return NULL;
    }
    for (i = 0; i < hb.len; i += 8) {
        uint64_t h;
        memcpy(&h, (const uchar *)hb.buf + i, 8);
        if (!bloom_op((uchar *)view.buf, view.len, h, 1))
            added++;
    }
    PyBuffer_Release(&view);
    PyBuffer_Release(&hb);
    return PyLong_FromSsize_t(added);
}

/* ------------------------------------------------------------------------------------------
 * verify passes 1-3 over one piece of a dump, row by row, without a Python object per row:
 * learn_piece (pass 1), search_piece (pass 2), confirm_piece (pass 3). Twins:
 * verifyfast.py_learn_piece / py_search_piece / py_confirm_piece, and vtokens (the tokens of
 * one decoded value) / py_vtokens.
 *
 * A piece is (layout, data, start, ncols, line0, decode):
 *   layout 0: data = a COPY chunk (whole lines); a row is a line, its fields split on \t
 *             after trailing \r are stripped from a line that ended in \n; decoded as COPY text.
 *   layout 1: data = a MySQL INSERT, its VALUES list at `start`, ncols fields a tuple
 *             (mysqldump's plain shape, as tuple_spans reads it; else the result is None);
 *             'strings' without concatenation, digits and NULL decoded here, any other
 *             literal by decode(bytes).
 *   layout 2: data = a list of (line, [raw field bytes]) rows; every field decoded by decode.
 * A row's line: line0 + its index + 1 (layout 0), line0 + the line breaks before its "("
 * (layout 1), its own (layout 2). A value's tokens: the runs of characters that are letters or
 * digits (str.isalnum) of its UTF-8 (invalid bytes separate), case-folded, joined by one space;
 * a token run is hashed (vhash) as those bytes.
 * ---------------------------------------------------------------------------------------- */

#define VT_MAX_TOKENS 8

typedef struct {
    uchar *v;
    Py_ssize_t len, cap;
} vbuf;

static int
vbuf_reserve(vbuf *b, Py_ssize_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    {
        Py_ssize_t cap = b->cap ? b->cap : 256;
        uchar *nv;
        while (cap - b->len < extra) {
            if (cap > PY_SSIZE_T_MAX / 4) {
                PyErr_NoMemory();
                return -1;
            }
            cap *= 2;
        }
        nv = PyMem_Realloc(b->v, (size_t)cap);
        if (nv == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->v = nv;
        b->cap = cap;
    }
    return 0;
}

static int
vbuf_put(vbuf *b, const uchar *p, Py_ssize_t n)
{
    if (vbuf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->v + b->len, p, (size_t)n);
    b->len += n;
    return 0;
}

static uchar VT_LOWER[256];   /* an ASCII letter or digit, lower-cased; 0: a separator */

static void
vt_init(void)
{
    int c;
    for (c = 0; c < 256; c++)
        VT_LOWER[c] = (uchar)(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) ? c
                              : (c >= 'A' && c <= 'Z') ? c + 32 : 0);
}

static int
vt_put_cp(vbuf *b, Py_UCS4 cp)
{
    uchar u[4];
    Py_ssize_t k;
    if (cp < 0x80) {
        u[0] = (uchar)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (uchar)(0xC0 | (cp >> 6));
        u[1] = (uchar)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (uchar)(0xE0 | (cp >> 12));
        u[1] = (uchar)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (uchar)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        u[0] = (uchar)(0xF0 | (cp >> 18));
        u[1] = (uchar)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (uchar)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (uchar)(0x80 | (cp & 0x3F));
        k = 4;
    }
    return vbuf_put(b, u, k);
}

static inline int
vt_push2(offsets *o, Py_ssize_t a, Py_ssize_t b)
{
    if (o->cap - o->len < 2)
        return offsets_push2(o, a, b);
    o->v[o->len++] = a;
    o->v[o->len++] = b;
    return 0;
}

/* the tokens of UTF-8 text p[0:n] into tb (joined by one space) and tok (start, end pairs in
 * tb); both are reset first */
static int vt_ready;

static int
vt_tokenise(const uchar *p, Py_ssize_t n, vbuf *tb, offsets *tok)
{
    Py_ssize_t i = 0, start = -1;
    if (!vt_ready) {
        vt_init();
        vt_ready = 1;
    }
    tb->len = 0;
    tok->len = 0;
    if (vbuf_reserve(tb, n + 1) < 0)
        return -1;
    while (i < n) {
        uchar c = p[i], low;
        Py_ssize_t len;
        Py_UCS4 cp;
        if (c < 0x80) {
            low = VT_LOWER[c];
            if (low) {
                /* (room for 2 bytes: a space and this one) */
                if (tb->cap - tb->len < 2 && vbuf_reserve(tb, 2) < 0)
                    return -1;
                if (start < 0) {
                    if (tok->len)
                        tb->v[tb->len++] = ' ';
                    start = tb->len;
                }
                tb->v[tb->len++] = low;
            } else if (start >= 0) {
                if (vt_push2(tok, start, tb->len) < 0)
                    return -1;
                start = -1;
            }
            i++;
            continue;
        }
        len = utf8_multi(p, i, n);
        if (!len) {
            cp = 0;   /* an invalid byte (surrogateescape: not a letter): a separator */
            len = 1;
        } else if (len == 2) {
            cp = ((Py_UCS4)(c & 0x1F) << 6) | (p[i + 1] & 0x3F);
        } else if (len == 3) {
            cp = ((Py_UCS4)(c & 0x0F) << 12) | ((Py_UCS4)(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
        } else {
            cp = ((Py_UCS4)(c & 0x07) << 18) | ((Py_UCS4)(p[i + 1] & 0x3F) << 12)
                 | ((Py_UCS4)(p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
        }
        if (cp && Py_UNICODE_ISALNUM(cp)) {
            Py_UCS4 folded[3];
            int k, nf;
            if (start < 0) {
                if (tok->len && vbuf_put(tb, (const uchar *)" ", 1) < 0)
                    return -1;
                start = tb->len;
            }
            nf = _PyUnicode_ToFoldedFull(cp, folded);
            for (k = 0; k < nf; k++)
                if (vt_put_cp(tb, folded[k]) < 0)
                    return -1;
        } else if (start >= 0) {
            if (vt_push2(tok, start, tb->len) < 0)
                return -1;
            start = -1;
        }
        i += len;
    }
    if (start >= 0 && vt_push2(tok, start, tb->len) < 0)
        return -1;
    return 0;
}

PyDoc_STRVAR(vtokens_doc,
"vtokens(data) -> list[bytes]: the tokens of UTF-8 text data (invalid bytes separate): the runs\n"
"of letters and digits (str.isalnum), case-folded, as UTF-8 (verifyfast.py_vtokens).");

static PyObject *
speedups_vtokens(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    vbuf tb = {NULL, 0, 0};
    offsets tok = {NULL, 0, 0};
    PyObject *out = NULL;
    Py_ssize_t i;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:vtokens", &buf))
        return NULL;
    if (vt_tokenise((const uchar *)buf.buf, buf.len, &tb, &tok) < 0)
        goto done;
    out = PyList_New(tok.len / 2);
    if (out == NULL)
        goto done;
    for (i = 0; i < tok.len / 2; i++) {
        PyObject *o = PyBytes_FromStringAndSize((const char *)tb.v + tok.v[2 * i], tok.v[2 * i + 1] - tok.v[2 * i]);
        if (o == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, o);
    }
done:
    PyMem_Free(tb.v);
    PyMem_Free(tok.v);
    PyBuffer_Release(&buf);
    return out;
}

#define VT_BATCH 64

/* a hash target: a Bloom filter (bytearray) and/or an exact set of ints; a hash is in when it
 * passes the filter (if any) and is in the set (if any) */
typedef struct {
    Py_buffer view;
    int has_bloom;
    PyObject *set;
} vt_target;

/* start loading the filter block hash h will test (verify probes many hashes of one field:
 * their cache misses overlap instead of following each other) */
static inline void
vt_target_prefetch(const vt_target *t, unsigned long long h)
{
    if (t->has_bloom) {
        unsigned long long nblocks = (unsigned long long)(t->view.len / 64);
        unsigned long long b = (nblocks & (nblocks - 1)) ? (h >> 32) % nblocks : (h >> 32) & (nblocks - 1);
        __builtin_prefetch((const uchar *)t->view.buf + 64 * b);
    }
}

static int
vt_target_open(PyObject *pair, vt_target *t)
{
    PyObject *bloom, *set;
    t->has_bloom = 0;
    t->set = NULL;
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_TypeError, "a hash target is a (bloom or None, set or None) pair");
        return -1;
    }
    bloom = PyTuple_GET_ITEM(pair, 0);
    set = PyTuple_GET_ITEM(pair, 1);
    if (set != Py_None) {
        if (!PyAnySet_Check(set)) {
            PyErr_SetString(PyExc_TypeError, "a hash target's set must be a set");
            return -1;
        }
        t->set = set;
    }
    if (bloom != Py_None) {
        if (bloom_buffer(bloom, &t->view, 0) < 0)
            return -1;
        t->has_bloom = 1;
    }
    return 0;
}

static void
vt_target_close(vt_target *t)
{
    if (t->has_bloom)
        PyBuffer_Release(&t->view);
    t->has_bloom = 0;
}

static int
vt_target_has(vt_target *t, unsigned long long h)
{
    PyObject *o;
    int r;
    if (t->has_bloom && !bloom_op((uchar *)t->view.buf, t->view.len, h, 0))
        return 0;
    if (t->set == NULL)
        return 1;
    o = PyLong_FromUnsignedLongLong(h);
    if (o == NULL)
        return -1;
    r = PySet_Contains(t->set, o);
    Py_DECREF(o);
    return r;
}

/* the rows of a layout 0/1 piece: rows = (first span index, field count) pairs, lines =
 * (line, 0) pairs, spans = (start, end) pairs; 1, 0 (layout 1 not in the plain shape) or -1 */
static int
vt_rows(int layout, const uchar *d, Py_ssize_t n, Py_ssize_t start, Py_ssize_t ncols, Py_ssize_t line0,
        offsets *rows, offsets *lines, offsets *spans)
{
    if (layout == 0) {
        Py_ssize_t pos = 0, row = 0;
        while (pos < n) {
            const uchar *nl = memchr(d + pos, '\n', (size_t)(n - pos));
            Py_ssize_t end = nl ? nl - d : n, e = end, p = pos, first = spans->len / 2, nf = 0;
            if (nl)
                while (e > pos && (d[e - 1] == '\r'))
                    e--;
            for (;;) {
                const uchar *tab = memchr(d + p, '\t', (size_t)(e - p));
                Py_ssize_t fe = tab ? tab - d : e;
                if (vt_push2(spans, p, fe) < 0)
                    return -1;
                nf++;
                if (!tab)
                    break;
                p = fe + 1;
            }
            if (vt_push2(rows, first, nf) < 0 || vt_push2(lines, line0 + ++row, 0) < 0)
                return -1;
            pos = nl ? end + 1 : n;
        }
        return 1;
    } else {
        Py_ssize_t pos = start < 0 ? 0 : (start > n ? n : start), counted = 0, line = line0, lim;
        if (ncols < 1)
            return 0;
        for (;;) {
            Py_ssize_t p, f, first = spans->len / 2;
            if (pos >= n || d[pos] != '(')
                return 0;
            while (counted < pos) {
                const uchar *nl = memchr(d + counted, '\n', (size_t)(pos - counted));
                if (nl == NULL) {
                    counted = pos;
                    break;
                }
                line++;
                counted = nl - d + 1;
            }
            p = pos + 1;
            for (f = 0; f < ncols; f++) {
                Py_ssize_t e = field_end(d, n, p);
                if (e < 0)
                    return 0;
                if (vt_push2(spans, p, e) < 0)
                    return -1;
                p = e;
                if (f + 1 < ncols) {
                    if (p >= n || d[p] != ',')
                        return 0;
                    p++;
                }
            }
            if (p >= n || d[p] != ')')
                return 0;
            if (vt_push2(rows, first, ncols) < 0 || vt_push2(lines, line, 0) < 0)
                return -1;
            pos = p + 1;
            if (pos < n && d[pos] == ',') {
                pos++;
                while (pos < n && (d[pos] == ' ' || d[pos] == '\t' || d[pos] == '\r' || d[pos] == '\n'))
                    pos++;
                continue;
            }
            break;
        }
        lim = (n - pos > 64) ? pos + 64 : n;
        while (pos < lim && IS_SPACE[d[pos]])
            pos++;
        if (pos < lim && d[pos] == ';')
            return 1;
        if (lim - pos >= 2 && (d[pos] | 0x20) == 'o' && (d[pos + 1] | 0x20) == 'n')
            return 1;
        return 0;
    }
}

/* MySQL unescaping (mysql_lex._UNESC): the byte(s) a backslash and c stand for */
static Py_ssize_t
vt_my_unesc(uchar c, uchar *out)
{
    switch (c) {
    case '0': out[0] = 0; return 1;
    case 'b': out[0] = 8; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'Z': out[0] = 0x1A; return 1;
    case '%': case '_': out[0] = '\\'; out[1] = c; return 2;
    default: out[0] = c; return 1;
    }
}

static int
vt_octal(uchar c)
{
    return c >= '0' && c <= '7';
}

static int
vt_hexval(uchar c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* the decoded value of one field as UTF-8 (surrogates as surrogatepass writes them) in *out /
 * *outlen (pointing into f or into dec): 1, 0 (NULL) or -1 */
static int
vt_decode(int layout, const uchar *f, Py_ssize_t len, PyObject *fobj, PyObject *decode, vbuf *dec,
          const uchar **out, Py_ssize_t *outlen)
{
    PyObject *arg, *res, *enc;
    if (layout == 0) {
        Py_ssize_t i;
        if (len == 2 && f[0] == '\\' && f[1] == 'N')
            return 0;
        if (memchr(f, '\\', (size_t)len) == NULL) {
            *out = f;
            *outlen = len;
            return 1;
        }
        dec->len = 0;
        if (vbuf_reserve(dec, len) < 0)
            return -1;
        for (i = 0; i < len;) {
            uchar c = f[i];
            if (c != '\\' || i + 1 >= len) {
                dec->v[dec->len++] = c;
                i++;
                continue;
            }
            c = f[i + 1];
            if (vt_octal(c)) {
                int v = c - '0', k = 1;
                while (k < 3 && i + 1 + k < len && vt_octal(f[i + 1 + k])) {
                    v = v * 8 + (f[i + 1 + k] - '0');
                    k++;
                }
                dec->v[dec->len++] = (uchar)(v & 0xFF);
                i += 1 + k;
            } else if (c == 'x' && i + 2 < len && vt_hexval(f[i + 2]) >= 0) {
                int v = vt_hexval(f[i + 2]), k = 1;
                if (i + 3 < len && vt_hexval(f[i + 3]) >= 0) {
                    v = v * 16 + vt_hexval(f[i + 3]);
                    k = 2;
                }
                dec->v[dec->len++] = (uchar)v;
                i += 2 + k;
            } else {
                dec->v[dec->len++] = c == 'b' ? 8 : c == 'f' ? 12 : c == 'n' ? 10 : c == 'r' ? 13
                                     : c == 't' ? 9 : c == 'v' ? 11 : c;
                i += 2;
            }
        }
        *out = dec->v;
        *outlen = dec->len;
        return 1;
    }
    if (layout == 1) {
        Py_ssize_t i;
        if (len == 4 && memcmp(f, "NULL", 4) == 0)
            return 0;
        if (len > 0 && f[0] >= '0' && f[0] <= '9') {
            for (i = 1; i < len && f[i] >= '0' && f[i] <= '9'; i++)
                ;
            if (i == len) {
                *out = f;
                *outlen = len;
                return 1;
            }
        } else if (len >= 2 && f[0] == '\'') {
            dec->len = 0;
            if (vbuf_reserve(dec, 2 * len) < 0)
                return -1;
            for (i = 1; i < len;) {
                uchar c = f[i];
                if (c == '\\') {
                    if (i + 1 >= len)
                        break;
                    dec->len += vt_my_unesc(f[i + 1], dec->v + dec->len);
                    i += 2;
                } else if (c == '\'') {
                    if (i + 1 < len && f[i + 1] == '\'') {
                        dec->v[dec->len++] = '\'';
                        i += 2;
                        continue;
                    }
                    if (i == len - 1) {   /* the closing quote, last: one plain string */
                        *out = dec->v;
                        *outlen = dec->len;
                        return 1;
                    }
                    break;
                } else {
                    dec->v[dec->len++] = c;
                    i++;
                }
            }
        }
        /* anything else: the dialect's decoder */
    }
    if (fobj != NULL) {
        arg = fobj;
        Py_INCREF(arg);
    } else if ((arg = PyBytes_FromStringAndSize((const char *)f, len)) == NULL) {
        return -1;
    }
    res = PyObject_CallOneArg(decode, arg);
    Py_DECREF(arg);
    if (res == NULL)
        return -1;
    if (res == Py_None) {
        Py_DECREF(res);
        return 0;
    }
    if (!PyUnicode_Check(res)) {
        Py_DECREF(res);
        PyErr_SetString(PyExc_TypeError, "decode must return str or None");
        return -1;
    }
    enc = PyUnicode_AsEncodedString(res, "utf-8", "surrogatepass");
    Py_DECREF(res);
    if (enc == NULL)
        return -1;
    dec->len = 0;
    if (vbuf_put(dec, (const uchar *)PyBytes_AS_STRING(enc), PyBytes_GET_SIZE(enc)) < 0) {
        Py_DECREF(enc);
        return -1;
    }
    Py_DECREF(enc);
    *out = dec->v;
    *outlen = dec->len;
    return 1;
}

/* one piece being read: its rows, and the current field's decoded tokens */
typedef struct {
    int layout;
    PyObject *data, *decode;
    Py_buffer buf;
    int have_buf;
    const uchar *d;
    Py_ssize_t n, nrows;
    offsets rows, lines, spans;
    vbuf dec, tb;
    offsets tok;
} vt_piece;

/* 1 (rows read), 0 (layout 1 not in the plain shape) or -1 */
static int
vt_piece_open(vt_piece *pc, int layout, PyObject *data, Py_ssize_t start, Py_ssize_t ncols, Py_ssize_t line0,
              PyObject *decode)
{
    memset(pc, 0, sizeof *pc);
    pc->layout = layout;
    pc->data = data;
    pc->decode = decode;
    if (layout < 0 || layout > 2) {
        PyErr_SetString(PyExc_ValueError, "layout must be 0 (COPY), 1 (MySQL VALUES) or 2 (rows)");
        return -1;
    }
    if (!PyCallable_Check(decode)) {
        PyErr_SetString(PyExc_TypeError, "decode must be callable");
        return -1;
    }
    if (layout == 2) {
        Py_ssize_t i;
        if (!PyList_Check(data)) {
            PyErr_SetString(PyExc_TypeError, "layout 2: data must be a list of (line, [fields]) rows");
            return -1;
        }
        pc->nrows = PyList_GET_SIZE(data);
        for (i = 0; i < pc->nrows; i++) {
            PyObject *row = PyList_GET_ITEM(data, i);
            Py_ssize_t k;
            if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 2 || !PyLong_Check(PyTuple_GET_ITEM(row, 0))
                    || !PyList_Check(PyTuple_GET_ITEM(row, 1))) {
                PyErr_SetString(PyExc_TypeError, "layout 2: a row must be (line, [fields])");
                return -1;
            }
            for (k = 0; k < PyList_GET_SIZE(PyTuple_GET_ITEM(row, 1)); k++)
                if (!PyBytes_Check(PyList_GET_ITEM(PyTuple_GET_ITEM(row, 1), k))) {
                    PyErr_SetString(PyExc_TypeError, "layout 2: a field must be bytes");
                    return -1;
                }
        }
        return 1;
    }
    if (PyObject_GetBuffer(data, &pc->buf, PyBUF_SIMPLE) < 0)
        return -1;
    pc->have_buf = 1;
    pc->d = (const uchar *)pc->buf.buf;
    pc->n = pc->buf.len;
    {
        int r = vt_rows(layout, pc->d, pc->n, start, ncols, line0, &pc->rows, &pc->lines, &pc->spans);
        if (r <= 0)
            return r;
    }
    pc->nrows = pc->rows.len / 2;
    return 1;
}

static void
vt_piece_close(vt_piece *pc)
{
    if (pc->have_buf)
        PyBuffer_Release(&pc->buf);
    PyMem_Free(pc->rows.v);
    PyMem_Free(pc->lines.v);
    PyMem_Free(pc->spans.v);
    PyMem_Free(pc->dec.v);
    PyMem_Free(pc->tb.v);
    PyMem_Free(pc->tok.v);
}

static Py_ssize_t
vt_nfields(vt_piece *pc, Py_ssize_t r)
{
    if (pc->layout == 2)
        return PyList_GET_SIZE(PyTuple_GET_ITEM(PyList_GET_ITEM(pc->data, r), 1));
    return pc->rows.v[2 * r + 1];
}

static Py_ssize_t
vt_line(vt_piece *pc, Py_ssize_t r)
{
    if (pc->layout == 2)
        return PyLong_AsSsize_t(PyTuple_GET_ITEM(PyList_GET_ITEM(pc->data, r), 0));
    return pc->lines.v[2 * r];
}

/* field f of row r: its span in data (-1, -1 for layout 2), decoded and tokenised into
 * pc->tb / pc->tok: 1, 0 (NULL) or -1 */
static int
vt_field_tokens(vt_piece *pc, Py_ssize_t r, Py_ssize_t f, Py_ssize_t *fs, Py_ssize_t *fe)
{
    const uchar *p, *v;
    Py_ssize_t len, vlen;
    PyObject *fobj = NULL;
    int got;
    if (pc->layout == 2) {
        fobj = PyList_GET_ITEM(PyTuple_GET_ITEM(PyList_GET_ITEM(pc->data, r), 1), f);
        p = (const uchar *)PyBytes_AS_STRING(fobj);
        len = PyBytes_GET_SIZE(fobj);
        *fs = *fe = -1;
    } else {
        Py_ssize_t k = pc->rows.v[2 * r] + f;
        *fs = pc->spans.v[2 * k];
        *fe = pc->spans.v[2 * k + 1];
        p = pc->d + *fs;
        len = *fe - *fs;
    }
    got = vt_decode(pc->layout, p, len, fobj, pc->decode, &pc->dec, &v, &vlen);
    if (got <= 0)
        return got;
    if (vt_tokenise(v, vlen, &pc->tb, &pc->tok) < 0)
        return -1;
    return 1;
}

/* the hash of table \0 ordinal \0 run (verify's value@row) */
static unsigned long long
vt_row_hash(vbuf *scratch, const uchar *table, Py_ssize_t tlen, long long ordinal, const uchar *run,
            Py_ssize_t rlen, unsigned long long seed, int *err)
{
    char num[32];
    int k = snprintf(num, sizeof num, "%lld", ordinal);
    scratch->len = 0;
    if (vbuf_put(scratch, table, tlen) < 0 || vbuf_put(scratch, (const uchar *)"", 1) < 0
            || vbuf_put(scratch, (const uchar *)num, k) < 0 || vbuf_put(scratch, (const uchar *)"", 1) < 0
            || vbuf_put(scratch, run, rlen) < 0) {
        *err = 1;
        return 0;
    }
    return vhash_impl(scratch->v, scratch->len, seed);
}

/* the column indexes of a tuple of ints, as a 0/1 map of ncap entries (indexes past it: none) */
static int
vt_index_map(PyObject *idx, uchar **map, Py_ssize_t *ncap)
{
    Py_ssize_t *cols = NULL, nc = 0, i, top = 0;
    if (column_set(idx, 1 << 16, &cols, &nc) < 0)
        return -1;
    for (i = 0; i < nc; i++)
        if (cols[i] + 1 > top)
            top = cols[i] + 1;
    *map = PyMem_Calloc((size_t)(top > 0 ? top : 1), 1);
    if (*map == NULL) {
        PyMem_Free(cols);
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < nc; i++)
        (*map)[cols[i]] = 1;
    *ncap = top;
    PyMem_Free(cols);
    return 0;
}

PyDoc_STRVAR(learn_piece_doc,
"learn_piece(layout, data, start, ncols, line0, decode, idx, seed, table, ordinal0, kept=None)\n"
"  -> None | (nrows, runs, firsts, rows, lengths, nvalues)\n\n"
"Pass 1 of verify over one piece (see the VERIFY part of _speedups.c): for every non-NULL\n"
"value with tokens of the fields at idx of row k (ordinal ordinal0 + k + 1), its first 8\n"
"tokens joined (a run): native uint64 (bytes) vhash(run) in `runs`, vhash(first token) in\n"
"`firsts` (each left out when the same hash is in its slot h % 1024 of a cache of the last\n"
"ones written), vhash(table \\0 ordinal \\0 run) in `rows`; `lengths` has bit t set for a run\n"
"of t tokens. kept (a bytes-like, one byte per row of the piece, or None): row k's ordinal is\n"
"then ordinal0 + the number of rows j <= k with kept[j] != 0, and a row with kept[k] == 0 (or\n"
"past the end of kept) gets no value@row hash (it is not in the masked dump).");

static PyObject *
speedups_learn_piece(PyObject *self, PyObject *args)
{
    int layout;
    PyObject *data, *decode, *idx, *res = NULL;
    Py_ssize_t start, ncols, line0, ncap = 0, r, nvalues = 0;
    unsigned long long seed, lengths = 0;
    long long ordinal0;
    Py_buffer table;
    uchar *map = NULL;
    vt_piece pc;
    vbuf out[3] = {{NULL, 0, 0}, {NULL, 0, 0}, {NULL, 0, 0}}, scratch = {NULL, 0, 0};
    unsigned long long *seen = NULL;   /* [2][1024]: the last run / first-token hash of each slot */
    int opened;
    PyObject *keptobj = Py_None;
    Py_buffer kept = {0};
    long long kept_ordinal = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "iOnnnOOKy*L|O:learn_piece", &layout, &data, &start, &ncols, &line0, &decode,
                          &idx, &seed, &table, &ordinal0, &keptobj))
        return NULL;
    if (keptobj != Py_None && PyObject_GetBuffer(keptobj, &kept, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&table);
        return NULL;
    }
    kept_ordinal = ordinal0;
    opened = vt_piece_open(&pc, layout, data, start, ncols, line0, decode);
    if (opened <= 0) {
        if (opened == 0)
            { Py_INCREF(Py_None); res = Py_None; }
        goto done;
    }
    if (vt_index_map(idx, &map, &ncap) < 0)
        goto done;
    if ((seen = PyMem_Calloc(2 * 1024, sizeof *seen)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (r = 0; r < pc.nrows; r++) {
        Py_ssize_t nf = vt_nfields(&pc, r), f, fs, fe;
        long long ordinal = ordinal0 + r + 1;
        int present = 1;
        if (kept.buf != NULL) {
            present = r < kept.len && ((const uchar *)kept.buf)[r] != 0;
            if (present)
                kept_ordinal++;
            ordinal = kept_ordinal;
        }
        for (f = 0; f < nf && f < ncap; f++) {
            Py_ssize_t ntok, end;
            unsigned long long h[3];
            int got, j, err = 0;
            if (!map[f])
                continue;
            got = vt_field_tokens(&pc, r, f, &fs, &fe);
            if (got < 0)
                goto done;
            ntok = pc.tok.len / 2;
            if (!got || !ntok)
                continue;
            if (ntok > VT_MAX_TOKENS)
                ntok = VT_MAX_TOKENS;
            lengths |= 1ULL << ntok;
            end = pc.tok.v[2 * ntok - 1];
            h[0] = vhash_impl(pc.tb.v, end, seed);
            h[1] = vhash_impl(pc.tb.v, pc.tok.v[1], seed);
            h[2] = present ? vt_row_hash(&scratch, (const uchar *)table.buf, table.len, ordinal, pc.tb.v, end, seed, &err) : 0;
            if (err)
                goto done;
            for (j = 0; j < (present ? 3 : 2); j++) {
                unsigned long long *slot = j < 2 ? &seen[j * 1024 + (h[j] % 1024)] : NULL;
                /* (a fresh cache holds 0: a hash of 0 is always written) */
                if (slot != NULL && *slot == h[j] && h[j] != 0)
                    continue;
                if (slot != NULL)
                    *slot = h[j];
                if (vbuf_put(&out[j], (const uchar *)&h[j], 8) < 0)
                    goto done;
            }
            nvalues++;
        }
    }
    res = Py_BuildValue("(ny#y#y#Kn)", pc.nrows, (const char *)(out[0].v ? out[0].v : (uchar *)""), out[0].len,
                        (const char *)(out[1].v ? out[1].v : (uchar *)""), out[1].len,
                        (const char *)(out[2].v ? out[2].v : (uchar *)""), out[2].len, lengths, nvalues);
done:
    vt_piece_close(&pc);
    PyMem_Free(map);
    PyMem_Free(seen);
    PyMem_Free(out[0].v);
    PyMem_Free(out[1].v);
    PyMem_Free(out[2].v);
    PyMem_Free(scratch.v);
    PyBuffer_Release(&table);
    if (kept.buf != NULL)
        PyBuffer_Release(&kept);
    return res;
}

PyDoc_STRVAR(search_piece_doc,
"search_piece(layout, data, start, ncols, line0, decode, seed, first, values, lengths, row_values,\n"
"             idx, table, ordinal0) -> None | (nrows, hits)\n\n"
"Pass 2 of verify over one piece: for every token i of every value of row k whose hash is in\n"
"`first`, every run of n tokens from it (n in `lengths`, ascending) whose hash h is in\n"
"`values`: a hit (k, field, line, field start, field end, i, n, h, own), own = 1 when the field\n"
"is at idx and vhash(table \\0 ordinal \\0 run) is in row_values. Targets are (bloom, set) pairs.");

static PyObject *
speedups_search_piece(PyObject *self, PyObject *args)
{
    int layout;
    PyObject *data, *decode, *firstp, *valuesp, *lengthsp, *rowp, *idx, *res = NULL, *hits = NULL, *lens = NULL;
    Py_ssize_t start, ncols, line0, ncap = 0, r, nlen = 0, li;
    Py_ssize_t lenv[VT_MAX_TOKENS + 1];
    unsigned long long seed, th[VT_BATCH], rh[VT_MAX_TOKENS + 1];
    long long ordinal0;
    Py_buffer table;
    uchar *map = NULL;
    vt_piece pc;
    vt_target first = {0}, values = {0}, rowv = {0};
    vbuf scratch = {NULL, 0, 0};
    int opened;
    (void)self;
    if (!PyArg_ParseTuple(args, "iOnnnOKOOOOOy*L:search_piece", &layout, &data, &start, &ncols, &line0, &decode,
                          &seed, &firstp, &valuesp, &lengthsp, &rowp, &idx, &table, &ordinal0))
        return NULL;
    memset(&pc, 0, sizeof pc);
    if (vt_target_open(firstp, &first) < 0 || vt_target_open(valuesp, &values) < 0 || vt_target_open(rowp, &rowv) < 0)
        goto done;
    lens = PySequence_Tuple(lengthsp);
    if (lens == NULL)
        goto done;
    for (li = 0; li < PyTuple_GET_SIZE(lens); li++) {
        Py_ssize_t v = PyLong_AsSsize_t(PyTuple_GET_ITEM(lens, li));
        if (v == -1 && PyErr_Occurred())
            goto done;
        if (v < 1 || v > VT_MAX_TOKENS || (nlen && v <= lenv[nlen - 1])) {
            PyErr_SetString(PyExc_ValueError, "lengths must ascend within 1..8");
            goto done;
        }
        lenv[nlen++] = v;
    }
    if (vt_index_map(idx, &map, &ncap) < 0)
        goto done;
    opened = vt_piece_open(&pc, layout, data, start, ncols, line0, decode);
    if (opened <= 0) {
        if (opened == 0)
            { Py_INCREF(Py_None); res = Py_None; }
        goto done;
    }
    if ((hits = PyList_New(0)) == NULL)
        goto done;
    for (r = 0; r < pc.nrows; r++) {
        Py_ssize_t nf = vt_nfields(&pc, r), f, fs, fe;
        for (f = 0; f < nf; f++) {
            Py_ssize_t ntok, i;
            int got = vt_field_tokens(&pc, r, f, &fs, &fe);
            if (got < 0)
                goto done;
            ntok = pc.tok.len / 2;
            if (!got)
                continue;
            /* the tokens' hashes first, their filter blocks prefetched (up to VT_BATCH at a time) */
            for (i = 0; i < ntok && i < VT_BATCH; i++) {
                Py_ssize_t s = pc.tok.v[2 * i];
                th[i] = vhash_impl(pc.tb.v + s, pc.tok.v[2 * i + 1] - s, seed);
                vt_target_prefetch(&first, th[i]);
            }
            for (i = 0; i < ntok; i++) {
                Py_ssize_t s = pc.tok.v[2 * i];
                int in = vt_target_has(&first, i < VT_BATCH ? th[i] : vhash_impl(pc.tb.v + s, pc.tok.v[2 * i + 1] - s, seed));
                if (in < 0)
                    goto done;
                if (!in)
                    continue;
                for (li = 0; li < nlen && i + lenv[li] <= ntok; li++) {
                    Py_ssize_t e = pc.tok.v[2 * (i + lenv[li]) - 1];
                    rh[li] = vhash_impl(pc.tb.v + s, e - s, seed);
                    vt_target_prefetch(&values, rh[li]);
                }
                for (li = 0; li < nlen && i + lenv[li] <= ntok; li++) {
                    Py_ssize_t e = pc.tok.v[2 * (i + lenv[li]) - 1];
                    unsigned long long h = rh[li];
                    int own = 0;
                    PyObject *hit;
                    in = vt_target_has(&values, h);
                    if (in < 0)
                        goto done;
                    if (!in)
                        continue;
                    if (f < ncap && map[f]) {
                        int err = 0;
                        unsigned long long hr = vt_row_hash(&scratch, (const uchar *)table.buf, table.len,
                                                            ordinal0 + r + 1, pc.tb.v + s, e - s, seed, &err);
                        if (err || (own = vt_target_has(&rowv, hr)) < 0)
                            goto done;
                    }
                    hit = Py_BuildValue("(nnnnnnnKi)", r, f, vt_line(&pc, r), fs, fe, i, lenv[li], h, own);
                    if (hit == NULL || PyList_Append(hits, hit) < 0) {
                        Py_XDECREF(hit);
                        goto done;
                    }
                    Py_DECREF(hit);
                }
            }
        }
    }
    res = Py_BuildValue("(nO)", pc.nrows, hits);
done:
    vt_piece_close(&pc);
    vt_target_close(&first);
    vt_target_close(&values);
    vt_target_close(&rowv);
    Py_XDECREF(hits);
    Py_XDECREF(lens);
    PyMem_Free(map);
    PyMem_Free(scratch.v);
    PyBuffer_Release(&table);
    return res;
}

PyDoc_STRVAR(confirm_piece_doc,
"confirm_piece(layout, data, start, ncols, line0, decode, seed, candidates, idx)\n"
"  -> None | (nrows, hits)\n\n"
"Pass 3 of verify over one piece: a hit (k, field, field start, field end, h, 1) for a field at\n"
"idx of row k whose first 8 tokens joined hash (h) into `candidates`; (k, field, start, end, h,\n"
"0) for every token of another field that does (a (bloom, set) target).");

static PyObject *
speedups_confirm_piece(PyObject *self, PyObject *args)
{
    unsigned long long th[VT_BATCH];
    int layout;
    PyObject *data, *decode, *candp, *idx, *res = NULL, *hits = NULL;
    Py_ssize_t start, ncols, line0, ncap = 0, r;
    unsigned long long seed;
    uchar *map = NULL;
    vt_piece pc;
    vt_target cand = {0};
    int opened;
    (void)self;
    if (!PyArg_ParseTuple(args, "iOnnnOKOO:confirm_piece", &layout, &data, &start, &ncols, &line0, &decode,
                          &seed, &candp, &idx))
        return NULL;
    memset(&pc, 0, sizeof pc);
    if (vt_target_open(candp, &cand) < 0 || vt_index_map(idx, &map, &ncap) < 0)
        goto done;
    opened = vt_piece_open(&pc, layout, data, start, ncols, line0, decode);
    if (opened <= 0) {
        if (opened == 0)
            { Py_INCREF(Py_None); res = Py_None; }
        goto done;
    }
    if ((hits = PyList_New(0)) == NULL)
        goto done;
    for (r = 0; r < pc.nrows; r++) {
        Py_ssize_t nf = vt_nfields(&pc, r), f, fs, fe;
        for (f = 0; f < nf; f++) {
            Py_ssize_t ntok, i, ntest;
            int masked = f < ncap && map[f];
            int got = vt_field_tokens(&pc, r, f, &fs, &fe);
            if (got < 0)
                goto done;
            ntok = pc.tok.len / 2;
            if (!got || !ntok)
                continue;
            ntest = masked ? 1 : ntok;
            for (i = 0; i < ntest && i < VT_BATCH; i++) {   /* hashes first, filter blocks prefetched */
                Py_ssize_t s = masked ? 0 : pc.tok.v[2 * i];
                Py_ssize_t e = masked ? pc.tok.v[2 * (ntok > VT_MAX_TOKENS ? VT_MAX_TOKENS : ntok) - 1] : pc.tok.v[2 * i + 1];
                th[i] = vhash_impl(pc.tb.v + s, e - s, seed);
                vt_target_prefetch(&cand, th[i]);
            }
            for (i = 0; i < ntest; i++) {
                Py_ssize_t s = masked ? 0 : pc.tok.v[2 * i];
                Py_ssize_t e = masked ? pc.tok.v[2 * (ntok > VT_MAX_TOKENS ? VT_MAX_TOKENS : ntok) - 1] : pc.tok.v[2 * i + 1];
                unsigned long long h = i < VT_BATCH ? th[i] : vhash_impl(pc.tb.v + s, e - s, seed);
                int in = vt_target_has(&cand, h);
                PyObject *hit;
                if (in < 0)
                    goto done;
                if (!in)
                    continue;
                hit = Py_BuildValue("(nnnnKi)", r, f, fs, fe, h, masked);
                if (hit == NULL || PyList_Append(hits, hit) < 0) {
                    Py_XDECREF(hit);
                    goto done;
                }
                Py_DECREF(hit);
            }
        }
    }
    res = Py_BuildValue("(nO)", pc.nrows, hits);
done:
    vt_piece_close(&pc);
    vt_target_close(&cand);
    Py_XDECREF(hits);
    PyMem_Free(map);
    return res;
}

static int
is_alnum_ascii(uchar c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

PyDoc_STRVAR(probe_tokens_doc,
"probe_tokens(raw, seed, target) -> True | False | list[bytes]\n\n"
"raw split into chunks (maximal runs of ASCII letters, digits and bytes >= 0x80; ASCII upper\n"
"case folded): True when an all-ASCII chunk hashes (vhash) into target (a set of ints, or a\n"
"Bloom filter bytearray); else the chunks holding bytes >= 0x80, for the caller to tokenise\n"
"(False when there are none).");

static PyObject *
speedups_probe_tokens(PyObject *self, PyObject *args)
{
    Py_buffer buf, view;
    unsigned long long seed;
    PyObject *target, *res = NULL, *rest = NULL;
    int is_set, have_view = 0, found = 0;
    const uchar *d;
    Py_ssize_t n, i, j;
    uchar tok[256];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*KO:probe_tokens", &buf, &seed, &target))
        return NULL;
    d = (const uchar *)buf.buf;
    n = buf.len;
    is_set = PyAnySet_Check(target);
    if (!is_set) {
        if (bloom_buffer(target, &view, 0) < 0)
            goto done;
        have_view = 1;
    }
    i = 0;
    while (i < n && !found) {
        uchar *t, *heap = NULL;
        Py_ssize_t len, q;
        int ascii = 1;
        while (i < n && !(is_alnum_ascii(d[i]) || d[i] >= 0x80))
            i++;
        if (i >= n)
            break;
        j = i;
        while (j < n && (is_alnum_ascii(d[j]) || d[j] >= 0x80)) {
            if (d[j] >= 0x80)
                ascii = 0;
            j++;
        }
        len = j - i;
        t = tok;
        if (len > (Py_ssize_t)sizeof tok) {
            heap = (uchar *)PyMem_Malloc((size_t)len);
            if (heap == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            t = heap;
        }
        for (q = 0; q < len; q++) {
            uchar c = d[i + q];
            t[q] = (c >= 'A' && c <= 'Z') ? (uchar)(c + 32) : c;
        }
        if (!ascii) {
            PyObject *o = PyBytes_FromStringAndSize((const char *)t, len);
            PyMem_Free(heap);
            if (o == NULL)
                goto done;
            if (rest == NULL && (rest = PyList_New(0)) == NULL) {
                Py_DECREF(o);
                goto done;
            }
            if (PyList_Append(rest, o) < 0) {
                Py_DECREF(o);
                goto done;
            }
            Py_DECREF(o);
        } else {
            unsigned long long h = vhash_impl(t, len, seed);
            PyMem_Free(heap);
            if (is_set) {
                PyObject *o = PyLong_FromUnsignedLongLong(h);
                int r;
                if (o == NULL)
                    goto done;
                r = PySet_Contains(target, o);
                Py_DECREF(o);
                if (r < 0)
                    goto done;
                found = r;
            } else {
                found = bloom_op((uchar *)view.buf, view.len, h, 0);
            }
        }
        i = j;
    }
    if (found || rest == NULL) {
        res = PyBool_FromLong(found);
    } else {
        res = rest;
        rest = NULL;
    }
done:
    Py_XDECREF(rest);
    if (have_view)
        PyBuffer_Release(&view);
    PyBuffer_Release(&buf);
    return res;
}

/* ==========================================================================================
 * MUTATIONS (area: mutfast): the computed fakes assembled from the PRF digest of a plain raw
 * field (ssn, creditCard, iban, ipv4, ipv6, date, dateTime, url, text, hash: fake_field), and the
 * text key permutation of remap.TextKeyPermutation on a plain raw field (text_key_field).
 * Twins: the transformers' make() (transformers/computed.py, faker_based.py: the bytes of the
 * fast path of PrfTransformer.field_fast) and remap.py_text_key_field; tests/test_mutfast.py
 * holds them to the same bytes. Needs a 128-bit integer type (GCC, Clang): without one the
 * section is left out and the transformers keep their Python paths.
 * ======================================================================================== */
#if defined(__SIZEOF_INT128__)
#define MUTATIONS_C 1
typedef unsigned __int128 u128;

#define MUT_OUT 4200          /* room for a made value: text's 4000 characters, quotes */
#define MUT_TEXT_CAP 4000     /* Text.MAX */

enum { FK_SSN = 1, FK_CARD = 2, FK_IBAN = 3, FK_IPV4 = 4, FK_IPV6 = 5, FK_DATE = 6, FK_URL = 7, FK_TEXT = 8, FK_HASH = 9 };

static const char B32_CHARS[] = "0123456789abcdefghjkmnpqrstvwxyz";   /* common.B32_ALPHABET */
static const char HEX_CHARS[] = "0123456789abcdef";

static inline uint64_t
mut_be(const uchar *p, int n)
{
    uint64_t x = 0;
    int i;
    for (i = 0; i < n; i++)
        x = (x << 8) | p[i];
    return x;
}

/* v in decimal, zero-padded to `width` digits (more when v needs them); the count written */
static int
mut_dec(uchar *o, u128 v, int width)
{
    uchar t[40];
    int n = 0, i;
    do {
        t[n++] = (uchar)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    while (n < width)
        t[n++] = '0';
    for (i = 0; i < n; i++)
        o[i] = t[n - 1 - i];
    return n;
}

/* date.fromordinal(o).isoformat() (proleptic Gregorian, 1 = 0001-01-01): 10 bytes */
static int
mut_iso_date(uchar *o, long long ordinal)
{
    long long z = ordinal - 719163 + 719468;   /* days since 0000-03-01 */
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long d = doy - (153 * mp + 2) / 5 + 1;
    long long m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 1 || y > 9999)
        return -1;
    mut_dec(o, (u128)y, 4);
    o[4] = '-';
    mut_dec(o + 5, (u128)m, 2);
    o[7] = '-';
    mut_dec(o + 8, (u128)d, 2);
    return 10;
}

static int
mut_long(PyObject *params, Py_ssize_t i, long long *out)
{
    PyObject *o = PyTuple_GET_ITEM(params, i);
    if (!PyLong_Check(o))
        return -1;
    *out = PyLong_AsLongLong(o);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* make() of fake `kind` from digest d (dlen bytes): the value's ASCII bytes into out (MUT_OUT
 * bytes), before the column's limit. nchars: the original value's length in characters (text).
 * The length; -2 when C does not make this one (the caller's Python path); -1 with an
 * exception set for bad parameters. */
static Py_ssize_t
fake_make(int kind, PyObject *params, const uchar *d, Py_ssize_t dlen, Py_ssize_t nchars, Py_ssize_t limit,
          uchar *out)
{
    static const int need[] = {0, 8, 8, 1, 7, 12, 12, 24, 16, 1};
    Py_ssize_t np = PyTuple_GET_SIZE(params), o = 0;
    if (kind < FK_SSN || kind > FK_HASH || dlen < need[kind])
        goto bad;
    switch (kind) {
    case FK_SSN: {   /* computed.Ssn: NNN-NN-NNNN, area never 000, 666 or 9xx */
        uint64_t n = mut_be(d, 8), a = n % 898, g;
        n /= 898;
        g = n % 99;
        n /= 99;
        o += mut_dec(out + o, (u128)(a < 665 ? a + 1 : a + 2), 3);
        out[o++] = '-';
        o += mut_dec(out + o, (u128)(g + 1), 2);
        out[o++] = '-';
        o += mut_dec(out + o, (u128)(n % 9999 + 1), 4);
        return o;
    }
    case FK_CARD: {  /* computed.CreditCard: 4 + 14 digits + the Luhn digit */
        int i, total = 0;
        out[0] = '4';
        mut_dec(out + 1, (u128)(mut_be(d, 8) % 100000000000000ULL), 14);
        for (i = 14; i >= 0; i -= 2) {          /* payload[::-2]: doubled */
            int x = 2 * (out[i] - '0');
            total += x > 9 ? x - 9 : x;
        }
        for (i = 13; i >= 0; i -= 2)            /* payload[-2::-2] */
            total += out[i] - '0';
        out[15] = (uchar)('0' + (10 - total % 10) % 10);
        return 16;
    }
    case FK_IBAN: {  /* computed.Iban: (country bytes, layout bytes: pairs kind 'n'/'a', count) */
        PyObject *country, *layout;
        const uchar *lp, *cc;
        Py_ssize_t ll, k;
        u128 n = 0;
        unsigned acc = 0;
        int i;
        uchar bban[64];
        Py_ssize_t bl = 0;
        if (np != 2 || dlen > 16)
            goto bad;
        country = PyTuple_GET_ITEM(params, 0);
        layout = PyTuple_GET_ITEM(params, 1);
        if (!PyBytes_Check(country) || PyBytes_GET_SIZE(country) != 2 || !PyBytes_Check(layout)
            || PyBytes_GET_SIZE(layout) % 2 || PyBytes_GET_SIZE(layout) == 0)
            goto bad;
        cc = (const uchar *)PyBytes_AS_STRING(country);
        if (cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z')
            goto bad;
        lp = (const uchar *)PyBytes_AS_STRING(layout);
        ll = PyBytes_GET_SIZE(layout);
        for (i = 0; i < dlen; i++)
            n = (n << 8) | d[i];
        for (k = 0; k < ll; k += 2) {
            int count = lp[k + 1];
            if (count < 1 || count > 18 || bl + count > (Py_ssize_t)sizeof bban)
                goto bad;
            if (lp[k] == 'n') {
                u128 p10 = 1;
                for (i = 0; i < count; i++)
                    p10 *= 10;
                bl += mut_dec(bban + bl, n % p10, count);
                n /= p10;
            } else if (lp[k] == 'a') {
                for (i = 0; i < count; i++) {
                    bban[bl++] = (uchar)('A' + (int)(n % 26));
                    n /= 26;
                }
            } else {
                goto bad;
            }
        }
        /* (bban + country) with letters as 10..35, then "00", mod 97 */
        for (k = 0; k < bl; k++) {
            uchar c = bban[k];
            acc = c <= '9' ? (acc * 10 + (unsigned)(c - '0')) % 97 : (acc * 100 + (unsigned)(c - 'A' + 10)) % 97;
        }
        for (k = 0; k < 2; k++)
            acc = (acc * 100 + (unsigned)(cc[k] - 'A' + 10)) % 97;
        acc = (acc * 100) % 97;
        out[o++] = cc[0];
        out[o++] = cc[1];
        o += mut_dec(out + o, (u128)(98 - acc), 2);
        memcpy(out + o, bban, (size_t)bl);
        return o + bl;
    }
    case FK_IPV4: {  /* computed.Ipv4: (private,) */
        long long priv;
        uint64_t first;
        if (np != 1 || mut_long(params, 0, &priv) < 0)
            goto bad;
        first = mut_be(d + 3, 4) % 221 + 1;    /* _V4_FIRST: 1..223 without 10 and 127 */
        if (first >= 10)
            first++;
        if (first >= 127)
            first++;
        if (priv)
            first = 10;
        o += mut_dec(out + o, (u128)first, 1);
        for (int i = 0; i < 3; i++) {
            out[o++] = '.';
            o += mut_dec(out + o, (u128)d[i], 1);
        }
        return o;
    }
    case FK_IPV6: {  /* computed.Ipv6: 2001:db8: and 6 groups of the digest's hex */
        memcpy(out, "2001:db8", 8);
        o = 8;
        for (int i = 0; i < 12; i++) {
            if (i % 2 == 0)
                out[o++] = ':';
            out[o++] = (uchar)HEX_CHARS[d[i] >> 4];
            out[o++] = (uchar)HEX_CHARS[d[i] & 15];
        }
        return o;
    }
    case FK_DATE: {  /* computed._DateBase without preserveYear: (lo, span, ts, with_time) */
        long long lo, span, ts, with_time;
        int r;
        if (np != 4 || mut_long(params, 0, &lo) < 0 || mut_long(params, 1, &span) < 0
            || mut_long(params, 2, &ts) < 0 || mut_long(params, 3, &with_time) < 0 || span < 1 || lo < 1)
            goto bad;
        r = mut_iso_date(out, lo + (long long)(mut_be(d, 8) % (uint64_t)span));
        if (r < 0)
            return -2;
        o = r;
        if (ts) {
            unsigned t = with_time ? (unsigned)(mut_be(d + 8, 4) % 86400) : 0;
            out[o++] = ' ';
            o += mut_dec(out + o, (u128)(t / 3600), 2);
            out[o++] = ':';
            o += mut_dec(out + o, (u128)(t / 60 % 60), 2);
            out[o++] = ':';
            o += mut_dec(out + o, (u128)(t % 60), 2);
        }
        return o;
    }
    case FK_URL: {   /* faker_based.Url: (path pool, the three domains), all ASCII bytes */
        PyObject *pool, *doms, *path, *dom;
        Py_ssize_t pl, dl;
        if (np != 2)
            goto bad;
        pool = PyTuple_GET_ITEM(params, 0);
        doms = PyTuple_GET_ITEM(params, 1);
        if (!PyTuple_Check(pool) || PyTuple_GET_SIZE(pool) < 1 || !PyTuple_Check(doms) || PyTuple_GET_SIZE(doms) != 3)
            goto bad;
        path = PyTuple_GET_ITEM(pool, (Py_ssize_t)(mut_be(d + 14, 8) % (uint64_t)PyTuple_GET_SIZE(pool)));
        dom = PyTuple_GET_ITEM(doms, d[22] % 3);
        if (!PyBytes_Check(path) || !PyBytes_Check(dom))
            goto bad;
        pl = PyBytes_GET_SIZE(path);
        dl = PyBytes_GET_SIZE(dom);
        if (8 + 4 + dl + 1 + pl + 1 + 8 > MUT_OUT)
            return -2;
        memcpy(out, "https://", 8);
        o = 8;
        if (!(d[23] & 1)) {
            memcpy(out + o, "www.", 4);
            o += 4;
        }
        memcpy(out + o, PyBytes_AS_STRING(dom), (size_t)dl);
        o += dl;
        out[o++] = '/';
        memcpy(out + o, PyBytes_AS_STRING(path), (size_t)pl);
        o += pl;
        out[o++] = '/';
        for (int i = 0; i < 8; i++)
            out[o++] = (uchar)B32_CHARS[d[i] & 31];
        return o;
    }
    case FK_HASH: {  /* basic.Hash: (0 hex, 1 an integer lo + d mod span, 2 a version-4 UUID; lo; span) */
        long long hmode, lo;
        unsigned long long span;
        int i;
        if (np != 3 || mut_long(params, 0, &hmode) < 0 || mut_long(params, 1, &lo) < 0 || lo < 0
            || !PyLong_Check(PyTuple_GET_ITEM(params, 2)))
            goto bad;
        span = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(params, 2));
        if (span == (unsigned long long)-1 && PyErr_Occurred())
            return -1;
        if (span < 1)
            goto bad;
        if (hmode == 0) {
            for (i = 0; i < dlen; i++) {
                out[o++] = (uchar)HEX_CHARS[d[i] >> 4];
                out[o++] = (uchar)HEX_CHARS[d[i] & 15];
            }
            return o;
        }
        if (hmode == 1) {
            u128 r = 0;
            for (i = 0; i < dlen; i++)
                r = (r * 256 + d[i]) % (u128)span;
            return mut_dec(out, (u128)lo + r, 1);
        }
        if (hmode == 2 && dlen >= 16) {
            for (i = 0; i < 16; i++) {
                uchar b = d[i];
                if (i == 6)
                    b = (uchar)((b & 0x0F) | 0x40);
                if (i == 8)
                    b = (uchar)((b & 0x3F) | 0x80);
                if (i == 4 || i == 6 || i == 8 || i == 10)
                    out[o++] = '-';
                out[o++] = (uchar)HEX_CHARS[b >> 4];
                out[o++] = (uchar)HEX_CHARS[b & 15];
            }
            return o;
        }
        goto bad;
    }
    case FK_TEXT: {  /* faker_based.Text: (sentence pool,), limit: the column's; ASCII sentences */
        PyObject *pool, *s;
        Py_ssize_t n, target = nchars < MUT_TEXT_CAP ? nchars : MUT_TEXT_CAP, total, i, want;
        if (np != 1)
            goto bad;
        pool = PyTuple_GET_ITEM(params, 0);
        if (!PyTuple_Check(pool) || (n = PyTuple_GET_SIZE(pool)) < 1)
            goto bad;
        if (limit >= 0 && limit < target)
            target = limit;
        if (target <= 0)
            return 0;
        want = target + 1;              /* s[:target] and s[target] decide the result */
        i = (Py_ssize_t)(mut_be(d, 8) % (uint64_t)n);
        s = PyTuple_GET_ITEM(pool, i);
        if (!PyBytes_Check(s))
            goto bad;
        total = PyBytes_GET_SIZE(s);
        memcpy(out, PyBytes_AS_STRING(s), (size_t)(total < want ? total : want));
        if (total < target) {           /* more sentences, every step-th of the pool */
            Py_ssize_t step = (Py_ssize_t)(mut_be(d + 8, 8) % (uint64_t)(n - 1 > 1 ? n - 1 : 1)) + 1;
            while (total < target) {
                Py_ssize_t l;
                i = (i + step) % n;
                s = PyTuple_GET_ITEM(pool, i);
                if (!PyBytes_Check(s))
                    goto bad;
                l = PyBytes_GET_SIZE(s);
                if (total < want)
                    out[total] = ' ';
                if (total + 1 < want)
                    memcpy(out + total + 1, PyBytes_AS_STRING(s), (size_t)(total + 1 + l < want ? l : want - total - 1));
                total += l + 1;
            }
        }
        if (total > target) {
            Py_ssize_t cut = target, k;
            if (out[target] != ' ') {
                Py_ssize_t sp = -1;
                for (k = target - 1; k >= 0; k--)
                    if (out[k] == ' ') {
                        sp = k;
                        break;
                    }
                if (sp >= target / 3)
                    cut = sp;
            }
            k = cut;
            while (k > 0 && out[k - 1] == ' ')   /* rstrip (the pool holds no other blank) */
                k--;
            return k ? k : cut;
        }
        return total;
    }
    }
bad:
    PyErr_SetString(PyExc_ValueError, "fake_field: bad kind, parameters or digest size");
    return -1;
}

PyDoc_STRVAR(fake_format_doc,
"fake_format(kind, limit, params, digest, nchars) -> bytes | None\n\n"
"make(digest, value) of a computed fake as ASCII bytes (limit: the column's, -1 for none;\n"
"nchars: the value's length in characters, for text); None when C does not make it.");

static PyObject *
speedups_fake_format(PyObject *self, PyObject *args)
{
    int kind;
    Py_ssize_t limit, nchars, r;
    PyObject *params;
    Py_buffer d;
    uchar out[MUT_OUT];
    if (!PyArg_ParseTuple(args, "inO!y*n", &kind, &limit, &PyTuple_Type, &params, &d, &nchars))
        return NULL;
    r = fake_make(kind, params, d.buf, d.len, nchars, limit, out);
    PyBuffer_Release(&d);
    if (r == -1)
        return NULL;
    if (r == -2)
        Py_RETURN_NONE;
    if (limit >= 0 && r > limit)
        r = limit;
    return PyBytes_FromStringAndSize((const char *)out, r);
}

PyDoc_STRVAR(fake_field_doc,
"fake_field(state, mode, keep_empty, kind, limit, params, raw) -> bytes | None\n\n"
"For a plain raw field (see prf_field), with d its digest: the field of fake_format(kind,\n"
"limit, params, d, the value's length in characters) as the dialect writes it (mode 1:\n"
"quoted). raw itself for an empty value when keep_empty; None when the field is not plain\n"
"(or C does not make it): the caller's general path.");

/* an int argument of a METH_FASTCALL function (-1 with an exception set when it is not one) */
static int
mut_int_arg(PyObject *o, long lo, long hi, long *out)
{
    long v = PyLong_Check(o) ? PyLong_AsLong(o) : -1;
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!PyLong_Check(o) || v < lo || v > hi) {
        PyErr_SetString(PyExc_TypeError, "fake_field / text_key_field: an argument is not an int in its range");
        return -1;
    }
    *out = v;
    return 0;
}

/* METH_FASTCALL (no argument tuple is parsed: it runs once per distinct value) */
static PyObject *
speedups_fake_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uchar fbuf[FIELD_BUF], d[64], out[MUT_OUT + 2];
    PyObject *st, *params, *rawobj;
    long mode, kind, limit_l;
    int keep_empty;
    Py_ssize_t limit, blen, r, k, nchars = 0;
    const uchar *body;
    b2_state s;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "fake_field takes 7 arguments");
        return NULL;
    }
    st = args[0];
    params = args[5];
    rawobj = args[6];
    if (mut_int_arg(args[1], 0, 1, &mode) < 0 || mut_int_arg(args[3], 0, 1000, &kind) < 0
        || mut_int_arg(args[4], -1, PY_SSIZE_T_MAX > LONG_MAX ? LONG_MAX : (long)PY_SSIZE_T_MAX, &limit_l) < 0)
        return NULL;
    if ((keep_empty = PyObject_IsTrue(args[2])) < 0)
        return NULL;
    if (!PyTuple_Check(params)) {
        PyErr_SetString(PyExc_TypeError, "fake_field: params must be a tuple");
        return NULL;
    }
    limit = (Py_ssize_t)limit_l;
    if (get_state(st, &s) < 0)
        return NULL;
    if (!PyBytes_CheckExact(rawobj)
        || !plain_field((const uchar *)PyBytes_AS_STRING(rawobj), PyBytes_GET_SIZE(rawobj), (int)mode, fbuf, &body, &blen))
        Py_RETURN_NONE;
    if (blen == 0 && keep_empty) {
        Py_INCREF(rawobj);
        return rawobj;
    }
    if (kind == FK_TEXT)
        for (k = 0; k < blen; k++)
            nchars += (body[k] & 0xC0) != 0x80;
    b2_update(&s, body, blen);
    b2_final(&s, d);
    r = fake_make((int)kind, params, d, s.outlen, nchars, limit, out + 1);
    if (r == -1)
        return NULL;
    if (r == -2)
        Py_RETURN_NONE;
    if (limit >= 0 && r > limit)
        r = limit;
    if (mode == 0)
        return PyBytes_FromStringAndSize((const char *)out + 1, r);
    out[0] = out[r + 1] = '\'';
    return PyBytes_FromStringAndSize((const char *)out, r + 2);
}

/* --- text keys: remap.TextKeyPermutation._transform (forward), on a plain field's value --- */

#define TK_CHUNKS (FIELD_BUF + 1)

static int
u128_bits(u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
    if (hi)
        return 128 - __builtin_clzll(hi);
    return lo ? 64 - __builtin_clzll(lo) : 0;
}

/* The first 8 digest bytes, as a big-endian integer, of a BLAKE2b state whose whole remaining
 * input is one last block: h the state's chain value, blk the block (the buffered bytes, the
 * message, zeros), t the count of every input byte. What b2_update + b2_final give, with no
 * state copy and no buffer handling: one compression. */
static inline uint64_t
b2_last8(const uint64_t *h, const uchar *blk, uint64_t t)
{
    b2_state w;
    uint64_t x = 0, h0;
    int k;
    memcpy(w.h, h, sizeof w.h);
    w.t = t;
    b2_compress(&w, blk, 1);
    h0 = w.h[0];                  /* the digest's bytes 0..7 are h[0], little-endian */
#if defined(__GNUC__)
    (void)k;
    x = __builtin_bswap64(h0);
#else
    for (k = 0; k < 8; k++)
        x = (x << 8) | ((h0 >> (8 * k)) & 0xFF);
#endif
    return x;
}

/* remap._TweakedFeistel(n).run(base, x): 8 rounds on `bits` bits, cycle-walking below n. Round
 * i hashes base's input + [i] + the half's nin bytes: when that fits in base's last block (the
 * common case), the block is laid out once and each round value is one b2_last8. */
static u128
tk_feistel(const b2_state *base, u128 n, u128 x)
{
    int bits = u128_bits(n - 1), wa, wb, i, nmax, bl = (int)base->buflen;
    uchar blk[128];
    if (bits < 2)
        bits = 2;
    wa = bits / 2;
    wb = bits - wa;
    nmax = (wb + 7) / 8;
    if (bl + 1 + nmax <= 128) {
        memcpy(blk, base->buf, (size_t)bl);
        memset(blk + bl, 0, (size_t)(128 - bl));
    } else {
        bl = -1;
    }
    do {
        uint64_t a = (uint64_t)(x >> wb), b = (uint64_t)(x & ((((u128)1) << wb) - 1));
        for (i = 0; i < 8; i++) {
            int w_in = i % 2 == 0 ? wb : wa, w_out = i % 2 == 0 ? wa : wb, nin = (w_in + 7) / 8, j;
            uint64_t mout = w_out >= 64 ? ~(uint64_t)0 : (((uint64_t)1) << w_out) - 1, f;
            if (bl >= 0) {
                blk[bl] = (uchar)i;
                for (j = 0; j < nin; j++)
                    blk[bl + 1 + j] = (uchar)(b >> (8 * (nin - 1 - j)));
                for (j = nin; j < nmax; j++)
                    blk[bl + 1 + j] = 0;
                f = b2_last8(base->h, blk, base->t + (uint64_t)(bl + 1 + nin)) & mout;
            } else {
                uchar msg[9], dg[64];
                b2_state s = *base;
                msg[0] = (uchar)i;
                for (j = 0; j < nin; j++)
                    msg[1 + j] = (uchar)(b >> (8 * (nin - 1 - j)));
                b2_update(&s, msg, 1 + nin);
                b2_final(&s, dg);
                f = mut_be(dg, 8) & mout;
            }
            {
                uint64_t t = a ^ f;
                a = b;
                b = t;
            }
        }
        x = ((u128)a << wb) | b;
    } while (x >= n);
    return x;
}

/* A text key's value in the making: its digit/letter positions (remap._positions) as indexes
 * of the raw field (a plain field's letters and digits are never escaped, so the dialect's
 * encoder writes the new value as the raw field with those bytes changed), each one's radix
 * and its first character ('0', 'a', 'A'), their chunks' sizes and current values
 * (TextKeyPermutation._chunks), and the hasher after the length and the shape (`head`). Shared
 * by text_key_field (one value) and the lanes of text_key_fields (many values, four Feistels at
 * a time). */
typedef struct {
    const uchar *raw;               /* the raw field (borrowed for the call) and its length */
    Py_ssize_t rn;
    short pos[FIELD_BUF];
    uchar radix[FIELD_BUF], bch[FIELD_BUF];
    Py_ssize_t np, nc;
    Py_ssize_t cstart[TK_CHUNKS];
    u128 csize[TK_CHUNKS], vals[TK_CHUNKS];
    b2_state head;
} tk_value;

/* tk_prepare's byte classes per mode (plain_field's rules): 0 an ordinary byte other than a
 * digit or ASCII letter, 1 a backslash, 2 never in a plain field, 3 the lead of UTF-8 (or a
 * byte that is never valid there), 4 a digit, 5 a lower-case and 6 an upper-case ASCII letter */
static uchar TK_CLASS[2][256];
static int tk_class_ready;

static void
tk_class_init(void)
{
    int c, m;
    for (m = 0; m < 2; m++)
        for (c = 0; c < 256; c++)
            TK_CLASS[m][c] = c >= 0x80 ? 3 : c == '\\' ? 1
                : (m == 0 ? c < 0x20 : (c == 0x00 || c == 0x0a || c == 0x0d || c == 0x1a || c == '\'' || c == '"')) ? 2
                : (c >= '0' && c <= '9') ? 4 : (c >= 'a' && c <= 'z') ? 5 : (c >= 'A' && c <= 'Z') ? 6 : 0;
    tk_class_ready = 1;
}

/* -1: not a plain field of at most FIELD_BUF bytes (the caller's general path); 0: no digit
 * or ASCII letter (the field is its own image); 1: v is ready for its chunks' Feistels. One
 * pass over the raw field: plain_field's checks (an escape decodes to a byte that is no digit
 * or letter; the escapes' bytes are ASCII, so the raw bytes' UTF-8 is valid exactly when the
 * decoded value's is), remap._positions and text_shape. */
static int
tk_prepare(const b2_state *base, int mode, const uchar *raw, Py_ssize_t rn, tk_value *v)
{
    uchar hbuf[8 + FIELD_BUF], dig[FIELD_BUF], *shape = hbuf + 8;   /* the length, then the shape */
    const uchar *p = raw, *cls;
    Py_ssize_t n = rn, i, o = 0, np = 0, nc = 0, off = 0, len;
    if (!tk_class_ready)
        tk_class_init();
    cls = TK_CLASS[mode];
    if (mode == 1) {
        if (n < 2 || p[0] != '\'' || p[n - 1] != '\'')
            return -1;
        p++;
        n -= 2;
        off = 1;
    }
    if (n > FIELD_BUF)      /* plain_field: an escaped one is not plain, a longer value not taken */
        return -1;
    for (i = 0; i < n; i++) {
        uchar c = p[i], e;
        int k;
        switch (cls[c]) {
        case 0:
            shape[o++] = c;
            break;
        case 4:
            v->pos[np] = (short)(i + off);
            v->radix[np] = 10;
            v->bch[np] = '0';
            dig[np++] = (uchar)(c - '0');
            shape[o++] = '9';
            break;
        case 5:
            v->pos[np] = (short)(i + off);
            v->radix[np] = 26;
            v->bch[np] = 'a';
            dig[np++] = (uchar)(c - 'a');
            shape[o++] = 'a';
            break;
        case 6:
            v->pos[np] = (short)(i + off);
            v->radix[np] = 26;
            v->bch[np] = 'A';
            dig[np++] = (uchar)(c - 'A');
            shape[o++] = 'A';
            break;
        case 3:
            len = utf8_multi(p, i, n);
            if (!len)
                return -1;
            memcpy(shape + o, p + i, (size_t)len);
            o += len;
            i += len - 1;
            break;
        case 1:
            if (i + 1 >= n)
                return -1;
            e = p[++i];
            if ((k = plain_unescape(mode, e)) < 0)
                return -1;
            c = (uchar)k;
            shape[o++] = c;
            break;
        default:
            return -1;
        }
    }
    v->raw = raw;
    v->rn = rn;
    v->np = np;
    if (np == 0)
        return 0;
    {   /* TextKeyPermutation._chunks (each at most 2**128 strings) and each chunk's value,
         * mixed radix, first position most significant: in 64 bits while the size is below
         * 2**58 (no chunk ends there), then groups of positions made in 64 bits the same way
         * and taken at once while the chunk's size times theirs fits in 128 bits (then no
         * position of the group ends the chunk), else position by position */
        const u128 lim10 = ~(u128)0 / 10, lim26 = ~(u128)0 / 26;
        i = 0;
        v->cstart[0] = 0;
        for (;;) {
            uint64_t s64 = 1, x64 = 0;
            u128 size, x;
            for (; i < np && s64 < ((uint64_t)1 << 58); i++) {
                s64 *= v->radix[i];
                x64 = x64 * v->radix[i] + dig[i];
            }
            size = s64;
            x = x64;
            while (i < np) {
                uint64_t gs = 1, gx = 0;
                Py_ssize_t g = i;
                u128 plo, phi;
                for (; g < np && gs < ((uint64_t)1 << 58); g++) {
                    gs *= v->radix[g];
                    gx = gx * v->radix[g] + dig[g];
                }
                plo = (u128)(uint64_t)size * gs;
                phi = (u128)(uint64_t)(size >> 64) * gs + (uint64_t)(plo >> 64);
                if ((phi >> 64) == 0) {     /* size * gs < 2**128 */
                    size *= gs;
                    x = x * gs + gx;
                    i = g;
                    continue;
                }
                for (; i < np && size <= (v->radix[i] == 10 ? lim10 : lim26); i++) {
                    size *= v->radix[i];
                    x = x * v->radix[i] + dig[i];
                }
                break;
            }
            v->csize[nc] = size;
            v->vals[nc++] = x;
            v->cstart[nc] = i;
            if (i >= np)
                break;
        }
    }
    v->nc = nc;
    v->head = *base;
    {
        uint64_t be = __builtin_bswap64((uint64_t)o);
        memcpy(hbuf, &be, 8);
    }
    b2_update(&v->head, hbuf, 8 + o);
    return 1;
}

/* chunk j's hasher: head + j + (with several chunks) every other chunk's current value */
static void
tk_chunk_state(const tk_value *v, Py_ssize_t j, b2_state *bj)
{
    uchar be[16];
    uint32_t j32 = __builtin_bswap32((uint32_t)j);
    Py_ssize_t k;
    *bj = v->head;
    memcpy(be, &j32, 4);
    b2_update(bj, be, 4);
    if (v->nc > 1)
        for (k = 0; k < v->nc; k++) {
            uint64_t hi, lo;
            if (k == j)
                continue;
            hi = __builtin_bswap64((uint64_t)(v->vals[k] >> 64));
            lo = __builtin_bswap64((uint64_t)v->vals[k]);
            memcpy(be, &hi, 8);
            memcpy(be + 8, &lo, 8);
            b2_update(bj, be, 16);
        }
}

/* *x / r (r a small constant once inlined) with the remainder returned: three 64-bit
 * divisions by a constant (multiplications) instead of a 128-bit division's call */
static inline __attribute__((always_inline)) int
tk_divmod(u128 *x, uint64_t r)
{
    uint64_t hi = (uint64_t)(*x >> 64), lo = (uint64_t)*x, qh, q1, q0, rem, cur;
    qh = hi / r;
    rem = hi - qh * r;
    cur = (rem << 32) | (lo >> 32);
    q1 = cur / r;
    rem = cur - q1 * r;
    cur = (rem << 32) | (lo & 0xFFFFFFFFu);
    q0 = cur / r;
    rem = cur - q0 * r;
    *x = ((u128)qh << 64) | (q1 << 32) | q0;
    return (int)rem;
}

/* v's chunks written back with the same radices: the raw field with its digits and letters
 * changed, which is what the dialect's encoder writes for the new value */
static PyObject *
tk_finish(tk_value *v, int mode)
{
    Py_ssize_t i, j;
    PyObject *out = PyBytes_FromStringAndSize(NULL, v->rn);   /* (never a shared 1-byte object) */
    uchar *o;
    (void)mode;
    if (out == NULL)
        return NULL;
    o = (uchar *)PyBytes_AS_STRING(out);
    memcpy(o, v->raw, (size_t)v->rn);
    for (j = 0; j < v->nc; j++) {
        u128 x = v->vals[j];
        uint64_t w;
        Py_ssize_t lo = v->cstart[j];
        for (i = v->cstart[j + 1] - 1; i >= lo && (x >> 64); i--)
            o[v->pos[i]] = (uchar)(v->bch[i] + (v->radix[i] == 10 ? tk_divmod(&x, 10) : tk_divmod(&x, 26)));
        for (w = (uint64_t)x; i >= lo; i--) {   /* 64-bit divisions by a constant once the rest fits */
            uint64_t q = v->radix[i] == 10 ? w / 10 : w / 26;
            o[v->pos[i]] = (uchar)(v->bch[i] + (w - q * v->radix[i]));
            w = q;
        }
    }
    return out;
}

/* the text key state's argument: a PRF state of digest size 8 */
static int
tk_base_arg(PyObject *st, b2_state *base, const char *who)
{
    if (get_state(st, base) < 0)
        return -1;
    if (base->outlen != 8) {
        PyErr_Format(PyExc_ValueError, "%s: the state's digest size must be 8", who);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(text_key_field_doc,
"text_key_field(state, mode, raw) -> bytes | None\n\n"
"The text key permutation (remap.TextKeyPermutation.map, state: its base hasher's) of a plain\n"
"raw field's value (see prf_field; at most 1024 bytes), written back as the dialect writes it\n"
"(mode 0: COPY text, 1: a MySQL '...' literal). raw itself when the value has no digit or\n"
"ASCII letter; None when the field is not plain or longer: the caller's general path.");

/* text_key_field's result for a bytes object raw (v: room for its value): a new reference,
 * or NULL with no exception set for None (not plain), NULL with one on error */
static PyObject *
tk_one(const b2_state *base, int mode, PyObject *raw, tk_value *v)
{
    Py_ssize_t j;
    int r = tk_prepare(base, mode, (const uchar *)PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), v);
    if (r <= 0) {
        if (r < 0)
            return NULL;
        Py_INCREF(raw);
        return raw;
    }
    for (j = 0; j < v->nc; j++) {
        b2_state bj;
        if (v->csize[j] == 1)
            continue;
        tk_chunk_state(v, j, &bj);
        v->vals[j] = tk_feistel(&bj, v->csize[j], v->vals[j]);
    }
    return tk_finish(v, mode);
}

static PyObject *
speedups_text_key_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *rawobj, *res;
    long mode;
    b2_state base;
    tk_value *v;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "text_key_field takes 3 arguments");
        return NULL;
    }
    rawobj = args[2];
    if (mut_int_arg(args[1], 0, 1, &mode) < 0)
        return NULL;
    if (tk_base_arg(args[0], &base, "text_key_field") < 0)
        return NULL;
    if (!PyBytes_CheckExact(rawobj))
        Py_RETURN_NONE;
    v = (tk_value *)PyMem_Malloc(sizeof(tk_value));
    if (v == NULL)
        return PyErr_NoMemory();
    res = tk_one(&base, (int)mode, rawobj, v);
    PyMem_Free(v);
    if (res == NULL && !PyErr_Occurred())
        Py_RETURN_NONE;
    return res;
}

/* --- text keys, many at a time: four Feistels in four lanes of one BLAKE2b compression ---
 *
 * The rounds of one Feistel depend on each other, but the values of a column do not: the
 * lanes run four values' rounds side by side (AVX2: one 64-bit lane of each vector a message;
 * elsewhere the same compressions one after the other). Each lane holds one value; a lane
 * whose value is done (every chunk's Feistel, cycle-walking included) takes the next one. The
 * result of every value is what text_key_field gives it (tests/test_textkey_batch.py). A chunk
 * whose round input does not fit in its hasher's last block (long shapes) is done by
 * tk_feistel before the lane goes on. */

#define TKB_LANES 4

typedef struct {
    uint64_t H[8][TKB_LANES];       /* each lane's chain value */
    uint64_t M[16][TKB_LANES];      /* each lane's last block, as words */
    uint64_t T[TKB_LANES];          /* each lane's byte count */
    uint64_t F[TKB_LANES];          /* out: each lane's h[0] after the compression */
} tkb_vec;

static void
tkb_compress_scalar(tkb_vec *x)
{
    int l, w;
    for (l = 0; l < TKB_LANES; l++) {
        b2_state s;
        uchar blk[128];
        for (w = 0; w < 8; w++)
            s.h[w] = x->H[w][l];
        for (w = 0; w < 16; w++) {
            uint64_t m = x->M[w][l];
            int b;
            for (b = 0; b < 8; b++)
                blk[8 * w + b] = (uchar)(m >> (8 * b));
        }
        s.t = x->T[l];
        b2_compress(&s, blk, 1);
        x->F[l] = s.h[0];
    }
}

#if defined(__GNUC__) && defined(__x86_64__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TKB_AVX2 1
#include <immintrin.h>

__attribute__((target("avx2"))) static void
tkb_compress_avx2(tkb_vec *x)
{
    const __m256i r16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
                                         2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
    const __m256i r24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
                                         3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
    __m256i v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, h0;
#define X4_LD(p) _mm256_loadu_si256((const __m256i *)(p))
#define X4_M(i) X4_LD(x->M[i])
#define X4_G(a, b, c, d, mx, my) do { \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), mx); \
        d = _mm256_shuffle_epi32(_mm256_xor_si256(d, a), _MM_SHUFFLE(2, 3, 0, 1)); \
        c = _mm256_add_epi64(c, d); \
        b = _mm256_shuffle_epi8(_mm256_xor_si256(b, c), r24); \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), my); \
        d = _mm256_shuffle_epi8(_mm256_xor_si256(d, a), r16); \
        c = _mm256_add_epi64(c, d); \
        b = _mm256_xor_si256(b, c); \
        b = _mm256_or_si256(_mm256_srli_epi64(b, 63), _mm256_add_epi64(b, b)); } while (0)
#define X4_ROUND(r) do { \
        X4_G(v0, v4, v8, v12, X4_M(B2_SIGMA[r][0]), X4_M(B2_SIGMA[r][1])); \
        X4_G(v1, v5, v9, v13, X4_M(B2_SIGMA[r][2]), X4_M(B2_SIGMA[r][3])); \
        X4_G(v2, v6, v10, v14, X4_M(B2_SIGMA[r][4]), X4_M(B2_SIGMA[r][5])); \
        X4_G(v3, v7, v11, v15, X4_M(B2_SIGMA[r][6]), X4_M(B2_SIGMA[r][7])); \
        X4_G(v0, v5, v10, v15, X4_M(B2_SIGMA[r][8]), X4_M(B2_SIGMA[r][9])); \
        X4_G(v1, v6, v11, v12, X4_M(B2_SIGMA[r][10]), X4_M(B2_SIGMA[r][11])); \
        X4_G(v2, v7, v8, v13, X4_M(B2_SIGMA[r][12]), X4_M(B2_SIGMA[r][13])); \
        X4_G(v3, v4, v9, v14, X4_M(B2_SIGMA[r][14]), X4_M(B2_SIGMA[r][15])); } while (0)
    h0 = X4_LD(x->H[0]);
    v0 = h0;
    v1 = X4_LD(x->H[1]);
    v2 = X4_LD(x->H[2]);
    v3 = X4_LD(x->H[3]);
    v4 = X4_LD(x->H[4]);
    v5 = X4_LD(x->H[5]);
    v6 = X4_LD(x->H[6]);
    v7 = X4_LD(x->H[7]);
    v8 = _mm256_set1_epi64x((long long)B2_IV[0]);
    v9 = _mm256_set1_epi64x((long long)B2_IV[1]);
    v10 = _mm256_set1_epi64x((long long)B2_IV[2]);
    v11 = _mm256_set1_epi64x((long long)B2_IV[3]);
    v12 = _mm256_xor_si256(_mm256_set1_epi64x((long long)B2_IV[4]), X4_LD(x->T));
    v13 = _mm256_set1_epi64x((long long)B2_IV[5]);
    v14 = _mm256_set1_epi64x((long long)~B2_IV[6]);     /* the last block */
    v15 = _mm256_set1_epi64x((long long)B2_IV[7]);
    X4_ROUND(0); X4_ROUND(1); X4_ROUND(2); X4_ROUND(3); X4_ROUND(4); X4_ROUND(5);
    X4_ROUND(6); X4_ROUND(7); X4_ROUND(8); X4_ROUND(9); X4_ROUND(10); X4_ROUND(11);
    _mm256_storeu_si256((__m256i *)x->F, _mm256_xor_si256(h0, _mm256_xor_si256(v0, v8)));
#undef X4_ROUND
#undef X4_G
#undef X4_M
#undef X4_LD
}
#endif

/* 1: AVX2 lanes; 0: no AVX2 here, so one value at a time (text_key_field's loop: lanes of
 * scalar compressions would only add their bookkeeping); 2: lanes of scalar compressions
 * (text_key_simd(False): the tests' way to run the lanes' logic without AVX2); -1: not yet
 * decided (the CPU is asked once) */
static int tkb_simd = -1;

static int
tkb_decide(void)
{
    if (tkb_simd < 0) {
#ifdef TKB_AVX2
        __builtin_cpu_init();
        tkb_simd = __builtin_cpu_supports("avx2") ? 1 : 0;
#else
        tkb_simd = 0;
#endif
    }
    return tkb_simd;
}

static void
tkb_compress(tkb_vec *x)
{
#ifdef TKB_AVX2
    if (tkb_simd == 1) {
        tkb_compress_avx2(x);
        return;
    }
#endif
    tkb_compress_scalar(x);
}

typedef struct {
    int busy;
    Py_ssize_t q, j;                /* the value (its index in the input) and its chunk */
    u128 n;
    int wa, wb, nmax, bl, round;
    uint64_t a, b;
    int w0, shift, two;             /* where the round input goes (tkb_round_input): word w0 */
    uint64_t base0, base1;          /* (and w0 + 1 when two) whose other bytes are these */
    int nin[2];                     /* per round parity: the input half's bytes, */
    uint64_t mout[2], t[2];         /* the output half's mask, the byte count */
} tkb_lane;

typedef struct {
    const b2_state *base;
    int mode;
    PyObject *const *raws;
    Py_ssize_t nq, next;
    PyObject **out;                 /* new references; NULL: not plain (the general path) */
    tk_value *val;                  /* one per lane */
    tkb_lane lane[TKB_LANES];
    tkb_vec x;
} tkb_run;

/* lane l's round input and byte count for its current round: byte bl the round, then the
 * half's nin bytes (big-endian), zeros to nmax; at most 9 bytes, so within words w0 and w0 + 1
 * (bl + 1 + nmax <= 128), whose other bytes (base0, base1) and the shift are set when its chunk
 * starts */
static inline void
tkb_round_input(tkb_vec *x, int l, const tkb_lane *L)
{
    int par = L->round & 1;
    int sh = L->shift;              /* 0..56: ((lo >> 1) >> (63 - sh)) is lo's top sh bits */
    uint64_t hb = __builtin_bswap64(L->b) >> (64 - 8 * L->nin[par]);   /* nin >= 1 */
    uint64_t lo = (hb << 8) | (uint64_t)L->round, top = hb >> 56;
    x->M[L->w0][l] = L->base0 | (lo << sh);
    if (L->two)
        x->M[L->w0 + 1][l] = L->base1 | (top << sh) | ((lo >> 1) >> (63 - sh));
    x->T[l] = L->t[par];
}

/* lane l goes on with its value's chunk L->j or a later one; the value is finished (its bytes
 * in out) when no chunk is left. -1 on error. */
static int
tkb_chunk(tkb_run *R, int l)
{
    tkb_lane *L = &R->lane[l];
    tk_value *v = &R->val[l];
    for (; L->j < v->nc; L->j++) {
        b2_state bj;
        const b2_state *src = &bj;
        int bits, w, nb;
        if (v->csize[L->j] == 1)
            continue;
        bits = u128_bits(v->csize[L->j] - 1);
        if (bits < 2)
            bits = 2;
        L->wa = bits / 2;
        L->wb = bits - L->wa;
        L->nmax = (L->wb + 7) / 8;
        if (v->nc == 1 && v->head.buflen + 4 + 1 + L->nmax <= 128) {
            /* one chunk, and head + its index (four zero bytes) + the round input within head's
             * buffer: tk_chunk_state's hasher is head with those zeros, read in place */
            src = &v->head;
            L->bl = (int)v->head.buflen + 4;
        } else {
            tk_chunk_state(v, L->j, &bj);
            L->bl = (int)bj.buflen;
            if (L->bl + 1 + L->nmax > 128) {   /* the round input crosses the block: one at a time */
                v->vals[L->j] = tk_feistel(&bj, v->csize[L->j], v->vals[L->j]);
                continue;
            }
        }
        nb = (int)src->buflen;      /* the buffered bytes: then zeros */
        L->n = v->csize[L->j];
        L->a = (uint64_t)(v->vals[L->j] >> L->wb);
        L->b = (uint64_t)(v->vals[L->j] & ((((u128)1) << L->wb) - 1));
        L->round = 0;
        {   /* the round input's bytes [bl, bl + 1 + nmax) in words w0, w0 + 1 */
            u128 mask = ((((u128)1) << (8 * (1 + L->nmax))) - 1) << (8 * (L->bl & 7));
            int par;
            L->w0 = L->bl >> 3;
            L->shift = 8 * (L->bl & 7);
            L->two = (uint64_t)(mask >> 64) != 0;
            for (par = 0; par < 2; par++) {
                int w_in = par == 0 ? L->wb : L->wa, w_out = par == 0 ? L->wa : L->wb;
                L->nin[par] = (w_in + 7) / 8;
                L->mout[par] = w_out >= 64 ? ~(uint64_t)0 : (((uint64_t)1) << w_out) - 1;
                L->t[par] = src->t + (uint64_t)(L->bl + 1 + L->nin[par]);
            }
        }
        for (w = 0; w < 8; w++)
            R->x.H[w][l] = src->h[w];
        for (w = 0; w < nb >> 3; w++)
            R->x.M[w][l] = b2_load64(src->buf + 8 * w);
        if (nb & 7) {   /* (the buffer's 128 bytes hold the whole word) */
            R->x.M[w][l] = b2_load64(src->buf + 8 * w) & ((((uint64_t)1) << (8 * (nb & 7))) - 1);
            w++;
        }
        for (; w < 16; w++)
            R->x.M[w][l] = 0;
        L->base0 = R->x.M[L->w0][l];        /* the round input's bytes are zeros there (bl >= nb) */
        L->base1 = L->two ? R->x.M[L->w0 + 1][l] : 0;
        L->busy = 1;
        tkb_round_input(&R->x, l, L);
        return 0;
    }
    L->busy = 0;
    R->out[L->q] = tk_finish(v, R->mode);
    return R->out[L->q] == NULL ? -1 : 0;
}

/* lane l takes values until one needs its rounds (or none is left) */
static int
tkb_fill(tkb_run *R, int l)
{
    tkb_lane *L = &R->lane[l];
    while (!L->busy && R->next < R->nq) {
        Py_ssize_t q = R->next++;
        PyObject *raw = R->raws[q];
        int r;
        if (!PyBytes_CheckExact(raw))
            continue;                               /* out[q] stays NULL */
        r = tk_prepare(R->base, R->mode, (const uchar *)PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), &R->val[l]);
        if (r < 0)
            continue;
        if (r == 0) {
            Py_INCREF(raw);
            R->out[q] = raw;
            continue;
        }
        L->q = q;
        L->j = 0;
        if (tkb_chunk(R, l) < 0)
            return -1;
    }
    return 0;
}

/* out[i] = text_key_field(base, mode, raws[i]) for every i (NULL where that is None). -1 on
 * error (out's references then belong to the caller, who frees them). */
static int
tkb_all(const b2_state *base, int mode, PyObject *const *raws, Py_ssize_t n, PyObject **out)
{
    tkb_run *R;
    int l, busy, rc = -1;
    R = (tkb_run *)PyMem_Calloc(1, sizeof(tkb_run));
    if (R == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    R->val = (tk_value *)PyMem_Malloc(TKB_LANES * sizeof(tk_value));
    if (R->val == NULL) {
        PyMem_Free(R);
        PyErr_NoMemory();
        return -1;
    }
    if (tkb_decide() == 0) {       /* no AVX2: one value at a time */
        Py_ssize_t i;
        for (i = 0; i < n; i++) {
            if (!PyBytes_CheckExact(raws[i]))
                continue;
            out[i] = tk_one(base, mode, raws[i], R->val);
            if (out[i] == NULL && PyErr_Occurred())
                goto done;
        }
        rc = 0;
        goto done;
    }
    R->base = base;
    R->mode = mode;
    R->raws = raws;
    R->nq = n;
    R->out = out;
    for (l = 0; l < TKB_LANES; l++)
        if (tkb_fill(R, l) < 0)
            goto done;
    for (;;) {     /* each busy lane's round input is in place (tkb_chunk, then below) */
        busy = 0;
        for (l = 0; l < TKB_LANES; l++)
            busy |= R->lane[l].busy;
        if (!busy)
            break;
        tkb_compress(&R->x);
        for (l = 0; l < TKB_LANES; l++) {
            tkb_lane *L = &R->lane[l];
            uint64_t f, t;
            if (!L->busy)
                continue;
            f = __builtin_bswap64(R->x.F[l]) & L->mout[L->round & 1];   /* the digest's first 8 bytes, big-endian */
            t = L->a ^ f;
            L->a = L->b;
            L->b = t;
            if (++L->round < 8) {
                tkb_round_input(&R->x, l, L);
                continue;
            }
            {
                u128 xv = ((u128)L->a << L->wb) | L->b;
                if (xv >= L->n) {           /* cycle-walking: the rounds again */
                    L->a = (uint64_t)(xv >> L->wb);
                    L->b = (uint64_t)(xv & ((((u128)1) << L->wb) - 1));
                    L->round = 0;
                    tkb_round_input(&R->x, l, L);
                    continue;
                }
                R->val[l].vals[L->j] = xv;
            }
            L->j++;
            if (tkb_chunk(R, l) < 0 || tkb_fill(R, l) < 0)
                goto done;
        }
    }
    rc = 0;
done:
    PyMem_Free(R->val);
    PyMem_Free(R);
    return rc;
}

PyDoc_STRVAR(text_key_fields_doc,
"text_key_fields(state, mode, raws) -> list\n\n"
"[text_key_field(state, mode, raw) for raw in raws], four values' Feistel rounds at a time\n"
"(AVX2 lanes where the CPU has them): the same bytes, one list.");

static PyObject *
speedups_text_key_fields(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq, *res = NULL, **out;
    long mode;
    b2_state base;
    Py_ssize_t n, i;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "text_key_fields takes 3 arguments");
        return NULL;
    }
    if (mut_int_arg(args[1], 0, 1, &mode) < 0)
        return NULL;
    if (tk_base_arg(args[0], &base, "text_key_fields") < 0)
        return NULL;
    seq = PySequence_Fast(args[2], "text_key_fields: raws must be a sequence");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    out = (PyObject **)PyMem_Calloc(n ? (size_t)n : 1, sizeof(PyObject *));
    if (out == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    if (tkb_all(&base, (int)mode, PySequence_Fast_ITEMS(seq), n, out) == 0 && (res = PyList_New(n)) != NULL)
        for (i = 0; i < n; i++) {
            PyObject *r = out[i] ? out[i] : Py_None;
            if (!out[i])
                Py_INCREF(r);
            PyList_SET_ITEM(res, i, r);
            out[i] = NULL;
        }
    for (i = 0; i < n; i++)
        Py_XDECREF(out[i]);
    PyMem_Free(out);
    Py_DECREF(seq);
    return res;
}

PyDoc_STRVAR(text_key_simd_doc,
"text_key_simd(flag=None) -> str\n\n"
"How text_key_fields runs: 'avx2' (four values in the lanes of AVX2 vectors), 'one-at-a-time'\n"
"(no AVX2 here) or 'scalar-lanes' (the lanes with scalar compressions). For tests: flag\n"
"False or 'scalar-lanes', 'one-at-a-time' set that way; True or 'auto' asks the CPU again.");

static PyObject *
speedups_text_key_simd(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "text_key_simd takes at most 1 argument");
        return NULL;
    }
    if (nargs == 1 && PyUnicode_Check(args[0])) {
        if (PyUnicode_CompareWithASCIIString(args[0], "auto") == 0)
            tkb_simd = -1;
        else if (PyUnicode_CompareWithASCIIString(args[0], "scalar-lanes") == 0)
            tkb_simd = 2;
        else if (PyUnicode_CompareWithASCIIString(args[0], "one-at-a-time") == 0)
            tkb_simd = 0;
        else {
            PyErr_SetString(PyExc_ValueError, "text_key_simd: 'auto', 'scalar-lanes' or 'one-at-a-time'");
            return NULL;
        }
    } else if (nargs == 1 && args[0] != Py_None) {
        int on = PyObject_IsTrue(args[0]);
        if (on < 0)
            return NULL;
        tkb_simd = on ? -1 : 2;
    }
    switch (tkb_decide()) {
    case 1:
        return PyUnicode_FromString("avx2");
    case 2:
        return PyUnicode_FromString("scalar-lanes");
    default:
        return PyUnicode_FromString("one-at-a-time");
    }
}
#endif   /* __SIZEOF_INT128__ */

/* ===================================================================== end of MUTATIONS */

/* ==========================================================================================
 * JSON (area: transformers/jsonpaths): the spans that the `json` mutation's paths name inside
 * one JSON document (UTF-8 bytes), found in one pass that also checks the whole document is
 * JSON as jsonpaths' Python walker reads it (RFC 8259: strings without raw control bytes,
 * escapes \" \\ \/ \b \f \n \r \t \uXXXX; numbers -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)?;
 * true false null; blanks space \t \n \r; nothing after the value but blanks).
 *
 * json_spans gives the hits to Python (jsonpaths.JsonPaths._c_call does the mutations and the
 * splice); json_field does a whole raw field (a COPY text field or a mysqldump '...' literal):
 * it decodes it, finds the hits, calls the string leaves' mutations, splices the new JSON
 * strings in and encodes the field again (jsonpaths.JsonPaths.field_fast). The pure twins are
 * jsonpaths' walker (_walk) and, for json_field, work.py's general miss (copy_decode /
 * decode_literal, the transformer, copy_encode / encode_string): the same bytes for every
 * document (tests/test_json_fast.py).
 *
 * The path trie comes as int32 words (jsonpaths._c_table):
 *   words[0] = the root ref; a node at word w: nkeys, nidx, wild ref, flags (1: a member is
 *   deleted, 2: the node has string keys), then nkeys x (offset in `keys`, length, ref), then
 *   nidx x (index, ref).
 *   ref >= 0: a node's word; -1: none; <= -2: leaf (-ref - 2) >> 1, a deletion if odd.
 * Hits, in the walker's order of edits: (leaf, start, end, first byte of the value; 92 for a
 * string holding a backslash), and (-1, start, end, 0) for a span a deletion removes. A JSON
 * null at a leaf is no hit (it stays null). Not JSON, or not for this scanner (nested deeper
 * than JS_DEPTH, an object key holding a backslash where the node has string keys): None, and
 * the caller runs the walker, which says what is wrong the way it always did.
 * ========================================================================================== */

#define JS_DEPTH 200
static uchar JS_STR_PLAIN[256];  /* a byte a JSON string holds as it is: not " \\ or a control byte */
#define JS_BAD (-1)      /* not JSON */
#define JS_PUNT (-2)     /* the walker decides */
#define JS_ERR (-3)      /* a Python exception is set */

typedef struct {
    long leaf;
    Py_ssize_t s, e;
    int kind;
} js_hit_t;

typedef struct {
    const uchar *d;
    Py_ssize_t n;
    const int32_t *w;
    Py_ssize_t nw;
    const uchar *keys;
    Py_ssize_t nkeys;
    js_hit_t *hits;
    Py_ssize_t nhits, caphits;
} js_ctx;

static int
js_blank(uchar c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static Py_ssize_t
js_ws(const js_ctx *x, Py_ssize_t i)
{
    while (i < x->n && js_blank(x->d[i]))
        i++;
    return i;
}

static int
js_hex(uchar c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* d[i] == '"': the offset past the closing quote, or JS_BAD; *esc set when it holds a backslash */
static Py_ssize_t
js_string(const js_ctx *x, Py_ssize_t i, int *esc)
{
    const uchar *d = x->d;
    Py_ssize_t n = x->n, j = i + 1;
    *esc = 0;
    for (;;) {
        uchar c;
        while (j < n && JS_STR_PLAIN[d[j]])
            j++;
        if (j >= n)
            return JS_BAD;
        c = d[j];
        if (c == '"')
            return j + 1;
        if (c < 0x20)
            return JS_BAD;
        *esc = 1;
        if (j + 1 >= n)
            return JS_BAD;
        c = d[j + 1];
        if (c == 'u') {
            if (j + 6 > n || !js_hex(d[j + 2]) || !js_hex(d[j + 3]) || !js_hex(d[j + 4]) || !js_hex(d[j + 5]))
                return JS_BAD;
            j += 6;
        }
        else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't')
            j += 2;
        else
            return JS_BAD;
    }
}

/* a number at d[i]: its end (the longest number there, as json's scanner reads it), or JS_BAD */
static Py_ssize_t
js_number(const js_ctx *x, Py_ssize_t i)
{
    const uchar *d = x->d;
    Py_ssize_t n = x->n, j = i;
    if (j < n && d[j] == '-')
        j++;
    if (j >= n)
        return JS_BAD;
    if (d[j] == '0')
        j++;
    else if (d[j] >= '1' && d[j] <= '9') {
        while (j < n && d[j] >= '0' && d[j] <= '9')
            j++;
    }
    else
        return JS_BAD;
    if (j + 1 < n && d[j] == '.' && d[j + 1] >= '0' && d[j + 1] <= '9') {
        j += 2;
        while (j < n && d[j] >= '0' && d[j] <= '9')
            j++;
    }
    if (j < n && (d[j] == 'e' || d[j] == 'E')) {
        Py_ssize_t k = j + 1;
        if (k < n && (d[k] == '-' || d[k] == '+'))
            k++;
        if (k < n && d[k] >= '0' && d[k] <= '9') {
            while (k < n && d[k] >= '0' && d[k] <= '9')
                k++;
            j = k;
        }
    }
    return j;
}

static int
js_word(const js_ctx *x, Py_ssize_t i, const char *word, Py_ssize_t len)
{
    return i + len <= x->n && memcmp(x->d + i, word, (size_t)len) == 0;
}

/* a scalar at d[i]: its end, or JS_BAD (containers are the caller's) */
static Py_ssize_t
js_scalar(const js_ctx *x, Py_ssize_t i)
{
    int esc;
    if (i >= x->n)
        return JS_BAD;
    switch (x->d[i]) {
    case '"':
        return js_string(x, i, &esc);
    case 't':
        return js_word(x, i, "true", 4) ? i + 4 : JS_BAD;
    case 'f':
        return js_word(x, i, "false", 5) ? i + 5 : JS_BAD;
    case 'n':
        return js_word(x, i, "null", 4) ? i + 4 : JS_BAD;
    default:
        return js_number(x, i);
    }
}

static Py_ssize_t js_value(js_ctx *x, Py_ssize_t i, int32_t ref, int depth);

static int
js_hit(js_ctx *x, long leaf, Py_ssize_t s, Py_ssize_t e, int kind)
{
    if (x->nhits == x->caphits) {
        Py_ssize_t cap = x->caphits ? 2 * x->caphits : 16;
        js_hit_t *g = (js_hit_t *)PyMem_Realloc(x->hits, (size_t)cap * sizeof(js_hit_t));
        if (g == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        x->hits = g;
        x->caphits = cap;
    }
    x->hits[x->nhits].leaf = leaf;
    x->hits[x->nhits].s = s;
    x->hits[x->nhits].e = e;
    x->hits[x->nhits++].kind = kind;
    return 0;
}

/* a leaf's value at d[i]: its end, a hit appended (none for null) */
static Py_ssize_t
js_leaf(js_ctx *x, Py_ssize_t i, long leaf, int depth)
{
    Py_ssize_t e;
    int kind, esc = 0;
    if (i >= x->n)
        return JS_BAD;
    kind = x->d[i];
    if (kind == '"')
        e = js_string(x, i, &esc);
    else if (kind == '{' || kind == '[')
        e = js_value(x, i, -1, depth);
    else
        e = js_scalar(x, i);
    if (e < 0)
        return e;
    if (kind == 'n')
        return e;
    if (js_hit(x, leaf, i, e, esc ? '\\' : kind) < 0)
        return JS_ERR;
    return e;
}

/* ref's child for object key `key` (the bytes between the quotes; esc: it holds a backslash)
 * or for array index k: the child ref, the wildcard's when no key names it, -1 for none;
 * *punt set when the key is escaped and the node has string keys */
static int32_t
js_child(const js_ctx *x, int32_t ref, int is_object, const uchar *key, Py_ssize_t klen, int esc,
         Py_ssize_t k, int *punt)
{
    const int32_t *w = x->w;
    int32_t nk, ni, m;
    if (ref < 0)
        return -1;
    nk = w[ref];
    ni = w[ref + 1];
    if (is_object) {
        if (esc) {
            if (w[ref + 3] & 2)
                *punt = 1;
            return w[ref + 2];
        }
        for (m = 0; m < nk; m++) {
            const int32_t *e = w + ref + 4 + 3 * m;
            if (e[1] == klen && memcmp(x->keys + e[0], key, (size_t)klen) == 0)
                return e[2];
        }
    }
    else {
        for (m = 0; m < ni; m++) {
            const int32_t *e = w + ref + 4 + 3 * nk + 2 * m;
            if (e[0] == k)
                return e[1];
        }
    }
    return w[ref + 2];
}

typedef struct {
    Py_ssize_t s, e;
    int deleted;
} js_span;

static int
js_span_add(js_span **spans, Py_ssize_t *n, Py_ssize_t *cap, Py_ssize_t s, Py_ssize_t e, int deleted)
{
    if (*n == *cap) {
        Py_ssize_t c = *cap ? 2 * *cap : 8;
        js_span *g = (js_span *)PyMem_Realloc(*spans, (size_t)c * sizeof(js_span));
        if (g == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        *spans = g;
        *cap = c;
    }
    (*spans)[*n].s = s;
    (*spans)[*n].e = e;
    (*spans)[(*n)++].deleted = deleted;
    return 0;
}

/* the object or array at d[i] (ref: its trie node, -1: none): its end */
static Py_ssize_t
js_members(js_ctx *x, Py_ssize_t i, int32_t ref, int depth)
{
    const uchar *d = x->d;
    Py_ssize_t n = x->n, j, k = 0, result = JS_BAD;
    int is_object = d[i] == '{';
    uchar close = is_object ? '}' : ']';
    int spans_on = ref >= 0 && (x->w[ref + 3] & 1);
    js_span *spans = NULL;
    Py_ssize_t nspans = 0, cap = 0;
    int any_deleted = 0;

    if (depth > JS_DEPTH)
        return JS_PUNT;
    j = js_ws(x, i + 1);
    if (j < n && d[j] == close)
        return j + 1;
    for (;;) {
        Py_ssize_t start = j;
        int32_t child;
        int punt = 0;
        if (is_object) {
            Py_ssize_t ke;
            int esc;
            if (j >= n || d[j] != '"')
                goto done;
            ke = js_string(x, j, &esc);
            if (ke < 0)
                goto done;
            child = js_child(x, ref, 1, d + j + 1, ke - j - 2, esc, 0, &punt);
            if (punt) {
                result = JS_PUNT;
                goto done;
            }
            j = js_ws(x, ke);
            if (j >= n || d[j] != ':')
                goto done;
            j = js_ws(x, j + 1);
        }
        else
            child = js_child(x, ref, 0, NULL, 0, 0, k++, &punt);
        if (child <= -2 && ((-child - 2) & 1)) {          /* a deleted member */
            j = js_value(x, j, -1, depth + 1);
            if (j < 0) {
                result = j;
                goto done;
            }
            if (js_span_add(&spans, &nspans, &cap, start, j, 1) < 0) {
                result = JS_ERR;
                goto done;
            }
            any_deleted = 1;
        }
        else {
            if (child <= -2)
                j = js_leaf(x, j, (long)((-child - 2) >> 1), depth + 1);
            else
                j = js_value(x, j, child, depth + 1);
            if (j < 0) {
                result = j;
                goto done;
            }
            if (spans_on && js_span_add(&spans, &nspans, &cap, start, j, 0) < 0) {
                result = JS_ERR;
                goto done;
            }
        }
        j = js_ws(x, j);
        if (j >= n)
            goto done;
        if (d[j] == ',') {
            j = js_ws(x, j + 1);
            continue;
        }
        if (d[j] != close)
            goto done;
        break;
    }
    /* d[j] is the closing bracket: the deletions (jsonpaths._deletions) */
    if (any_deleted) {
        Py_ssize_t m;
        int kept_before = 0, all = 1;
        for (m = 0; m < nspans; m++)
            if (!spans[m].deleted)
                all = 0;
        if (all) {
            if (js_hit(x, -1, i + 1, j, 0) < 0) {
                result = JS_ERR;
                goto done;
            }
        }
        else {
            for (m = 0; m < nspans; m++) {
                int r;
                if (!spans[m].deleted) {
                    kept_before = 1;
                    continue;
                }
                r = kept_before ? js_hit(x, -1, spans[m - 1].e, spans[m].e, 0)
                                : js_hit(x, -1, spans[m].s, spans[m + 1].s, 0);
                if (r < 0) {
                    result = JS_ERR;
                    goto done;
                }
            }
        }
    }
    result = j + 1;
done:
    PyMem_Free(spans);
    return result;
}

/* the value at d[i] under trie node ref (-1: none): its end */
static Py_ssize_t
js_value(js_ctx *x, Py_ssize_t i, int32_t ref, int depth)
{
    if (i >= x->n)
        return JS_BAD;
    if (x->d[i] == '{' || x->d[i] == '[')
        return js_members(x, i, ref, depth);
    return js_scalar(x, i);
}

static int
js_ref_ok(const js_ctx *x, int32_t r)
{
    return r < 0 || (r >= 1 && (Py_ssize_t)r + 4 <= x->nw);
}

/* the table's words, checked on every call (a few words): every node inside the array, every
 * key inside `keys`, every ref a node's word or a leaf */
static int
js_table_ok(const js_ctx *x)
{
    Py_ssize_t o = 1;
    if (x->nw < 1 || !js_ref_ok(x, x->w[0]))
        return 0;
    while (o < x->nw) {
        int32_t nk, ni, m;
        if (o + 4 > x->nw)
            return 0;
        nk = x->w[o];
        ni = x->w[o + 1];
        if (nk < 0 || ni < 0 || o + 4 + 3 * (Py_ssize_t)nk + 2 * (Py_ssize_t)ni > x->nw || !js_ref_ok(x, x->w[o + 2]))
            return 0;
        for (m = 0; m < nk; m++) {
            const int32_t *e = x->w + o + 4 + 3 * m;
            if (e[0] < 0 || e[1] < 0 || (Py_ssize_t)e[0] + e[1] > x->nkeys || !js_ref_ok(x, e[2]))
                return 0;
        }
        for (m = 0; m < ni; m++)
            if (!js_ref_ok(x, x->w[o + 4 + 3 * nk + 2 * m + 1]))
                return 0;
        o += 4 + 3 * (Py_ssize_t)nk + 2 * (Py_ssize_t)ni;
    }
    return 1;
}

/* d[0:n] read under the table: 1 (the hits in x), 0 (None: not JSON, or the walker's), -1 (an
 * exception is set) */
static int
js_run(js_ctx *x, const uchar *d, Py_ssize_t n, Py_buffer *words, Py_buffer *keys)
{
    Py_ssize_t i, e;
    int32_t root;
    x->d = d;
    x->n = n;
    x->w = (const int32_t *)words->buf;
    x->nw = words->len / (Py_ssize_t)sizeof(int32_t);
    x->keys = (const uchar *)keys->buf;
    x->nkeys = keys->len;
    x->hits = NULL;
    x->nhits = x->caphits = 0;
    if (words->len % (Py_ssize_t)sizeof(int32_t) || ((uintptr_t)words->buf % sizeof(int32_t)) || !js_table_ok(x)) {
        PyErr_SetString(PyExc_ValueError, "json: not a path table");
        return -1;
    }
    root = x->w[0];
    i = js_ws(x, 0);
    if (root <= -2) {
        if ((-root - 2) & 1) {      /* $ is never deleted (refused at rules load) */
            PyErr_SetString(PyExc_ValueError, "json: the root is deleted");
            return -1;
        }
        e = js_leaf(x, i, (long)((-root - 2) >> 1), 0);
    }
    else
        e = js_value(x, i, root, 0);
    if (e == JS_ERR)
        return -1;
    return e >= 0 && js_ws(x, e) == x->n;
}

PyDoc_STRVAR(json_spans_doc,
"json_spans(doc, words, keys) -> list | None\n\n"
"The hits (leaf, start, end, kind) of the path trie `words` (int32, key bytes in `keys`) in the\n"
"JSON document `doc` (UTF-8 bytes), or None when it is not JSON or the walker must read it\n"
"(see the JSON section of _speedups.c).");

static PyObject *
speedups_json_spans(PyObject *self, PyObject *args)
{
    Py_buffer doc, words, keys;
    js_ctx x;
    PyObject *out = NULL;
    int r;
    Py_ssize_t m;

    if (!PyArg_ParseTuple(args, "y*y*y*", &doc, &words, &keys))
        return NULL;
    r = js_run(&x, (const uchar *)doc.buf, doc.len, &words, &keys);
    if (r == 0) {
        out = Py_None;
        Py_INCREF(out);
    }
    else if (r > 0) {
        out = PyList_New(x.nhits);
        for (m = 0; out != NULL && m < x.nhits; m++) {
            PyObject *t = Py_BuildValue("(lnni)", x.hits[m].leaf, x.hits[m].s, x.hits[m].e, x.hits[m].kind);
            if (t == NULL)
                Py_CLEAR(out);
            else
                PyList_SET_ITEM(out, m, t);
        }
    }
    PyMem_Free(x.hits);
    PyBuffer_Release(&doc);
    PyBuffer_Release(&words);
    PyBuffer_Release(&keys);
    return out;
}

/* ------------------------------------------------------------------------------------------
 * json_field: a whole raw field
 * ---------------------------------------------------------------------------------------- */

static uchar JS_COPY_ENC[256];   /* COPY text: the letter after the backslash, 0: raw (copy_encode) */
static uchar JS_MY_ENC[256];     /* mysqldump: the same (encode_string)                            */
static uchar JS_MY_UNESC[256];   /* mysql_lex._UNESC_TABLE: 0 = keep the backslash too (\% \_)      */

static void
js_init_tables(void)
{
    int c;
    memset(JS_COPY_ENC, 0, sizeof JS_COPY_ENC);
    memset(JS_MY_ENC, 0, sizeof JS_MY_ENC);
    JS_COPY_ENC['\\'] = '\\';
    JS_COPY_ENC['\b'] = 'b';
    JS_COPY_ENC['\f'] = 'f';
    JS_COPY_ENC['\n'] = 'n';
    JS_COPY_ENC['\r'] = 'r';
    JS_COPY_ENC['\t'] = 't';
    JS_COPY_ENC['\v'] = 'v';
    JS_MY_ENC['\\'] = '\\';
    JS_MY_ENC[0] = '0';
    JS_MY_ENC['\n'] = 'n';
    JS_MY_ENC['\r'] = 'r';
    JS_MY_ENC['\''] = '\'';
    JS_MY_ENC['"'] = '"';
    JS_MY_ENC[0x1a] = 'Z';
    for (c = 0; c < 256; c++) {
        JS_MY_UNESC[c] = (uchar)c;
        JS_STR_PLAIN[c] = c >= 0x20 && c != '"' && c != '\\';
    }
    JS_MY_UNESC['0'] = 0;       /* 0 is written below as NUL: see js_my_decode */
    JS_MY_UNESC['b'] = '\b';
    JS_MY_UNESC['n'] = '\n';
    JS_MY_UNESC['r'] = '\r';
    JS_MY_UNESC['t'] = '\t';
    JS_MY_UNESC['Z'] = 0x1a;
}

static int
js_octal(uchar c)
{
    return c >= '0' && c <= '7';
}

static int
js_hexval(uchar c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* postgres.copy_decode's bytes (before its UTF-8 decoding) of d[0:n] into out (n bytes at
 * most): \NNN (1-3 octal digits, & 0xFF), \xH[H], \b \f \n \r \t \v, \c -> c, a last lone
 * backslash kept */
static Py_ssize_t
js_copy_decode(const uchar *d, Py_ssize_t n, uchar *out)
{
    Py_ssize_t i = 0, o = 0;
    while (i < n) {
        uchar c = d[i];
        if (c != '\\' || i + 1 >= n) {
            out[o++] = c;
            i++;
            continue;
        }
        c = d[i + 1];
        if (js_octal(c)) {
            int v = c - '0', k = 1;
            while (k < 3 && i + 1 + k < n && js_octal(d[i + 1 + k])) {
                v = v * 8 + (d[i + 1 + k] - '0');
                k++;
            }
            out[o++] = (uchar)(v & 0xFF);
            i += 1 + k;
        }
        else if (c == 'x' && i + 2 < n && js_hex(d[i + 2])) {
            int v = js_hexval(d[i + 2]), k = 1;
            if (i + 3 < n && js_hex(d[i + 3])) {
                v = v * 16 + js_hexval(d[i + 3]);
                k = 2;
            }
            out[o++] = (uchar)v;
            i += 2 + k;
        }
        else {
            switch (c) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'v': c = '\v'; break;
            default: break;
            }
            out[o++] = c;
            i += 2;
        }
    }
    return o;
}

/* the body of a mysqldump '...' literal raw[0:n] (one literal, nothing around it), unescaped
 * as mysql_lex.decode_literal does it, into out (n bytes at most); -1: not one plain literal
 * (decode_literal's other shapes are the general path's) */
static Py_ssize_t
js_my_decode(const uchar *raw, Py_ssize_t n, uchar *out)
{
    Py_ssize_t i = 1, o = 0;
    if (n < 2 || raw[0] != '\'' || raw[n - 1] != '\'')
        return -1;
    while (i < n - 1) {
        uchar c = raw[i];
        if (c == '\\') {
            uchar e;
            if (i + 1 >= n - 1)
                return -1;          /* the closing quote escaped */
            e = raw[i + 1];
            if (e == '%' || e == '_') {
                out[o++] = '\\';
                out[o++] = e;
            }
            else
                out[o++] = e == '0' ? 0 : JS_MY_UNESC[e];
            i += 2;
        }
        else if (c == '\'') {
            if (i + 1 >= n - 1 || raw[i + 1] != '\'')
                return -1;          /* 'a' 'b', or a quote alone */
            out[o++] = '\'';
            i += 2;
        }
        else
            out[o++] = raw[i++];
    }
    return o;
}

typedef struct {
    Py_ssize_t s, e;
    const char *p;
    Py_ssize_t n;
    PyObject *owner;
} js_edit;

#define JS_FIELD_PUNT 1

/* the new JSON text of string hit h under fn (the leaf's text mutation): into *ed; 0 done (no
 * edit when ed->p stays NULL), JS_FIELD_PUNT, -1 an exception set */
static int
js_field_string(const js_ctx *x, const js_hit_t *h, PyObject *fn, PyObject *enc, PyObject *scanstring,
                js_edit *ed)
{
    PyObject *v, *nv, *js;
    int eq;
    if (h->kind == '\\') {
        PyObject *span = PyUnicode_DecodeUTF8((const char *)x->d + h->s, h->e - h->s, "surrogateescape");
        PyObject *r, *one;
        if (span == NULL)
            return -1;
        one = PyLong_FromLong(1);
        if (one == NULL) {
            Py_DECREF(span);
            return -1;
        }
        r = PyObject_CallFunctionObjArgs(scanstring, span, one, NULL);
        Py_DECREF(span);
        Py_DECREF(one);
        if (r == NULL)
            return -1;
        if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(r, 0))) {
            Py_DECREF(r);
            return JS_FIELD_PUNT;
        }
        v = PyTuple_GET_ITEM(r, 0);
        Py_INCREF(v);
        Py_DECREF(r);
    }
    else {
        v = PyUnicode_DecodeUTF8((const char *)x->d + h->s + 1, h->e - h->s - 2, "surrogateescape");
        if (v == NULL)
            return -1;
    }
    nv = PyObject_CallOneArg(fn, v);
    if (nv == NULL) {
        Py_DECREF(v);
        /* the walker calls it again and says what failed (_mutate); never swallowed: what is
         * not an Exception (an interrupt, the run being stopped) */
        if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyErr_Clear();
            return JS_FIELD_PUNT;
        }
        return -1;
    }
    if (nv == Py_None) {
        Py_DECREF(v);
        Py_DECREF(nv);
        ed->s = h->s;
        ed->e = h->e;
        ed->p = "null";
        ed->n = 4;
        ed->owner = NULL;
        return 0;
    }
    if (!PyUnicode_CheckExact(nv)) {
        Py_DECREF(v);
        Py_DECREF(nv);
        return JS_FIELD_PUNT;
    }
    eq = PyUnicode_Compare(nv, v) == 0;
    Py_DECREF(v);
    if (PyErr_Occurred()) {
        Py_DECREF(nv);
        return -1;
    }
    if (eq) {
        Py_DECREF(nv);
        return 0;
    }
    js = PyObject_CallOneArg(enc, nv);
    Py_DECREF(nv);
    if (js == NULL)
        return -1;
    if (!PyUnicode_CheckExact(js)) {
        Py_DECREF(js);
        return JS_FIELD_PUNT;
    }
    ed->p = PyUnicode_AsUTF8AndSize(js, &ed->n);
    if (ed->p != NULL) {
        ed->owner = js;
    }
    else {
        PyObject *b;
        PyErr_Clear();
        b = PyUnicode_AsEncodedString(js, "utf-8", "surrogateescape");
        Py_DECREF(js);
        if (b == NULL) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                PyErr_Clear();
                return JS_FIELD_PUNT;   /* a lone surrogate: what the general path does with it */
            }
            return -1;
        }
        ed->p = PyBytes_AS_STRING(b);
        ed->n = PyBytes_GET_SIZE(b);
        ed->owner = b;
    }
    ed->s = h->s;
    ed->e = h->e;
    return 0;
}


#define JS_FIELD_SLOW 2

/* encode_basestring (ascii: encode_basestring_ascii) of the UTF-8 bytes p[0:n], quotes
 * included, as bytes; NULL with no exception set when ascii and a byte is not ASCII (the
 * caller's str path then) */
static PyObject *
js_json_string(const uchar *p, Py_ssize_t n, int ascii)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t i, k = 2;
    PyObject *out;
    uchar *o;
    for (i = 0; i < n; i++) {
        uchar c = p[i];
        if (c >= 0x80 && ascii)
            return NULL;
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            k += 2;
        else if (c < 0x20 || (c == 0x7f && ascii))
            k += 6;
        else
            k++;
    }
    out = PyBytes_FromStringAndSize(NULL, k);
    if (out == NULL)
        return NULL;
    o = (uchar *)PyBytes_AS_STRING(out);
    *o++ = '"';
    for (i = 0; i < n; i++) {
        uchar c = p[i];
        switch (c) {
        case '"': *o++ = '\\'; *o++ = '"'; break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\b': *o++ = '\\'; *o++ = 'b'; break;
        case '\f': *o++ = '\\'; *o++ = 'f'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        default:
            if (c < 0x20 || (c == 0x7f && ascii)) {
                *o++ = '\\';
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
            else
                *o++ = c;
        }
    }
    *o = '"';
    return out;
}

/* string hit h (no escapes) through the leaf's field function `fast` (its field_fast(mode,
 * encode): a raw field -> the new raw field, the same bytes as decode, the mutation, encode):
 * the value's plain field is made from the JSON string's bytes, the new field decoded back to
 * bytes and written as a JSON string. 0 done (ed->p NULL: no edit), JS_FIELD_SLOW (the
 * mutation's own call), -1 an exception set */
static int
js_field_fast(const js_ctx *x, const js_hit_t *h, int mode, PyObject *fast, int ascii, js_edit *ed)
{
    const uchar *c = x->d + h->s + 1;
    Py_ssize_t n = h->e - h->s - 2, i, k, m;
    PyObject *in, *r, *js;
    const uchar *rp;
    Py_ssize_t rn;
    uchar *dec;
    if (mode == 0)
        in = PyBytes_FromStringAndSize((const char *)c, n);
    else {
        uchar *o;
        for (i = 0, k = n + 2; i < n; i++)
            if (c[i] == '\'')
                k++;
        in = PyBytes_FromStringAndSize(NULL, k);
        if (in == NULL)
            return -1;
        o = (uchar *)PyBytes_AS_STRING(in);
        *o++ = '\'';
        for (i = 0; i < n; i++) {
            if (c[i] == '\'')
                *o++ = '\\';
            *o++ = c[i];
        }
        *o = '\'';
    }
    if (in == NULL)
        return -1;
    r = PyObject_CallOneArg(fast, in);
    if (r == NULL) {
        Py_DECREF(in);
        if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyErr_Clear();
            return JS_FIELD_SLOW;
        }
        return -1;
    }
    if (r == Py_None || !PyBytes_Check(r)) {
        Py_DECREF(in);
        Py_DECREF(r);
        return JS_FIELD_SLOW;
    }
    rp = (const uchar *)PyBytes_AS_STRING(r);
    rn = PyBytes_GET_SIZE(r);
    if (r == in || (rn == PyBytes_GET_SIZE(in) && memcmp(rp, PyBytes_AS_STRING(in), (size_t)rn) == 0)) {
        Py_DECREF(in);
        Py_DECREF(r);
        return 0;                           /* the value stays */
    }
    Py_DECREF(in);
    if ((mode == 0 && rn == 2 && rp[0] == '\\' && rp[1] == 'N') || (mode == 1 && rn == 4 && memcmp(rp, "NULL", 4) == 0)) {
        Py_DECREF(r);
        ed->s = h->s;
        ed->e = h->e;
        ed->p = "null";
        ed->n = 4;
        return 0;
    }
    dec = (uchar *)PyMem_Malloc((size_t)rn + 1);
    if (dec == NULL) {
        Py_DECREF(r);
        PyErr_NoMemory();
        return -1;
    }
    m = mode == 0 ? js_copy_decode(rp, rn, dec) : js_my_decode(rp, rn, dec);
    Py_DECREF(r);
    if (m < 0) {
        PyMem_Free(dec);
        return JS_FIELD_SLOW;
    }
    js = js_json_string(dec, m, ascii);
    PyMem_Free(dec);
    if (js == NULL)
        return PyErr_Occurred() ? -1 : JS_FIELD_SLOW;
    ed->s = h->s;
    ed->e = h->e;
    ed->p = PyBytes_AS_STRING(js);
    ed->n = PyBytes_GET_SIZE(js);
    ed->owner = js;
    return 0;
}

static Py_ssize_t
js_enc_len(const uchar *tab, const uchar *p, Py_ssize_t n)
{
    Py_ssize_t k = n, i;
    for (i = 0; i < n; i++)
        if (tab[p[i]])
            k++;
    return k;
}

static uchar *
js_enc_put(const uchar *tab, const uchar *p, Py_ssize_t n, uchar *o)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        uchar c = p[i], t = tab[c];
        if (t) {
            *o++ = '\\';
            *o++ = t;
        }
        else
            *o++ = c;
    }
    return o;
}

PyDoc_STRVAR(json_field_doc,
"json_field(mode, words, keys, fns, enc, enc_ascii, scanstring, raw) -> bytes | None\n\n"
"A raw field (mode 0: a COPY text field, 1: a mysqldump '...' literal) with the JSON document\n"
"it holds masked by the path trie (words, keys as json_spans): fns[leaf] is the text mutation\n"
"of a mutating leaf (False: it has none; or (mutation, its field_fast(mode, encode)), tried\n"
"first on a string without escapes), None for a leaf that writes null; enc / enc_ascii\n"
"json's encode_basestring(_ascii), scanstring json's. `raw` itself when nothing changes; None\n"
"when the general path must do it (not plain, not JSON, a hit that is not a string, a mutation\n"
"failing or writing what is not text).");

static PyObject *
speedups_json_field(PyObject *self, PyObject *args)
{
    int mode;
    Py_buffer words, keys;
    PyObject *fns, *enc, *enc_ascii, *scanstring, *rawobj;
    const uchar *raw, *d;
    Py_ssize_t nraw, nd, m, ne = 0, total, pos;
    uchar *buf = NULL, *o;
    js_ctx x;
    js_edit *edits = NULL;
    PyObject *out = NULL, *style = NULL, *fast;
    int r;

    if (!PyArg_ParseTuple(args, "iy*y*O!OOOS", &mode, &words, &keys, &PyTuple_Type, &fns, &enc, &enc_ascii,
                          &scanstring, &rawobj))
        return NULL;
    x.hits = NULL;
    raw = (const uchar *)PyBytes_AS_STRING(rawobj);
    nraw = PyBytes_GET_SIZE(rawobj);
    if (mode == 0) {
        if (nraw == 2 && raw[0] == '\\' && raw[1] == 'N') {      /* NULL stays NULL */
            out = rawobj;
            Py_INCREF(out);
            goto done;
        }
        if (memchr(raw, '\\', (size_t)nraw) == NULL) {
            d = raw;
            nd = nraw;
        }
        else {
            buf = (uchar *)PyMem_Malloc((size_t)nraw + 1);
            if (buf == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            nd = js_copy_decode(raw, nraw, buf);
            d = buf;
        }
    }
    else if (mode == 1) {
        buf = (uchar *)PyMem_Malloc((size_t)nraw + 1);
        if (buf == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        nd = js_my_decode(raw, nraw, buf);
        d = buf;
        if (nd < 0)
            goto general;
    }
    else {
        PyErr_SetString(PyExc_ValueError, "json_field: mode is 0 or 1");
        goto done;
    }
    r = js_run(&x, d, nd, &words, &keys);
    if (r < 0)
        goto done;
    if (r == 0)
        goto general;
    if (x.nhits == 0) {
        out = rawobj;
        Py_INCREF(out);
        goto done;
    }
    edits = (js_edit *)PyMem_Calloc((size_t)x.nhits, sizeof(js_edit));
    if (edits == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (m = 0; m < x.nhits; m++) {
        const js_hit_t *h = &x.hits[m];
        js_edit *ed = &edits[ne];
        PyObject *fn;
        if (h->leaf < 0) {
            ed->s = h->s;
            ed->e = h->e;
            ed->p = "";
            ed->n = 0;
            ne++;
            continue;
        }
        if (h->leaf >= PyTuple_GET_SIZE(fns)) {
            PyErr_SetString(PyExc_ValueError, "json_field: a leaf without its function");
            goto done;
        }
        fn = PyTuple_GET_ITEM(fns, h->leaf);
        fast = NULL;
        if (PyTuple_Check(fn)) {            /* (mutation, its field function) */
            if (PyTuple_GET_SIZE(fn) != 2) {
                PyErr_SetString(PyExc_ValueError, "json_field: a leaf's (mutation, field function) pair");
                goto done;
            }
            fast = PyTuple_GET_ITEM(fn, 1);
            fn = PyTuple_GET_ITEM(fn, 0);
        }
        if (fn == Py_None) {                /* the leaf writes null */
            ed->s = h->s;
            ed->e = h->e;
            ed->p = "null";
            ed->n = 4;
            ne++;
            continue;
        }
        if ((h->kind != '"' && h->kind != '\\') || fn == Py_False)
            goto general;                   /* a number, boolean or container: the walker's */
        if (style == NULL) {
            /* jsonpaths._string: \uXXXX escapes in an ASCII document that uses them */
            int ascii = 1;
            Py_ssize_t q;
            for (q = 0; q < nd && ascii; q++)
                if (d[q] >= 0x80)
                    ascii = 0;
            style = enc;
            if (ascii)
                for (q = 0; q + 1 < nd; q++)
                    if (d[q] == '\\' && d[q + 1] == 'u') {
                        style = enc_ascii;
                        break;
                    }
        }
        r = JS_FIELD_SLOW;
        if (fast != NULL && h->kind == '"')
            r = js_field_fast(&x, h, mode, fast, style == enc_ascii, ed);
        if (r == JS_FIELD_SLOW)
            r = js_field_string(&x, h, fn, style, scanstring, ed);
        if (r < 0)
            goto done;
        if (r == JS_FIELD_PUNT)
            goto general;
        if (ed->p != NULL)
            ne++;
    }
    if (ne == 0) {
        out = rawobj;
        Py_INCREF(out);
        goto done;
    }
    /* in document order (the starts are distinct) */
    for (m = 1; m < ne; m++) {
        js_edit t = edits[m];
        Py_ssize_t q = m;
        while (q > 0 && edits[q - 1].s > t.s) {
            edits[q] = edits[q - 1];
            q--;
        }
        edits[q] = t;
    }
    {
        const uchar *tab = mode == 0 ? JS_COPY_ENC : JS_MY_ENC;
        total = mode == 1 ? 2 : 0;
        pos = 0;
        for (m = 0; m < ne; m++) {
            if (edits[m].s < pos || edits[m].e > nd || edits[m].s > edits[m].e) {
                PyErr_SetString(PyExc_SystemError, "json_field: overlapping edits");
                goto done;
            }
            total += js_enc_len(tab, d + pos, edits[m].s - pos) + js_enc_len(tab, (const uchar *)edits[m].p, edits[m].n);
            pos = edits[m].e;
        }
        total += js_enc_len(tab, d + pos, nd - pos);
        out = PyBytes_FromStringAndSize(NULL, total);
        if (out == NULL)
            goto done;
        o = (uchar *)PyBytes_AS_STRING(out);
        if (mode == 1)
            *o++ = '\'';
        pos = 0;
        for (m = 0; m < ne; m++) {
            o = js_enc_put(tab, d + pos, edits[m].s - pos, o);
            o = js_enc_put(tab, (const uchar *)edits[m].p, edits[m].n, o);
            pos = edits[m].e;
        }
        o = js_enc_put(tab, d + pos, nd - pos, o);
        if (mode == 1)
            *o++ = '\'';
    }
    goto done;
general:
    out = Py_None;
    Py_INCREF(out);
done:
    if (edits != NULL) {
        for (m = 0; m < x.nhits; m++)
            Py_XDECREF(edits[m].owner);
        PyMem_Free(edits);
    }
    PyMem_Free(x.hits);
    PyMem_Free(buf);
    PyBuffer_Release(&words);
    PyBuffer_Release(&keys);
    return out;
}

/* ======================================================================== end of JSON */

/* ==========================================================================================
 * NUMFAST (area: the numeric mutations, issue #13): a raw number or date field of noise,
 * generalize.bucket, generalize.topcode or generalize.date made here, without decoding and
 * without Decimal, in exact 128-bit integer arithmetic; None whenever identity with the
 * general path (decode, the transformer's __call__ with Decimal, encode) is not proven, and
 * the caller takes that path. The plan (12 integers), the forms taken and the proof of the
 * roundings: dumpmask/transformers/numfast.py, whose py_num_field is the pure twin
 * (tests/test_numfast.py). Without a 128-bit integer type every call returns None.
 * ======================================================================================== */

#if defined(__SIZEOF_INT128__)
typedef __int128 nf_i128;
typedef unsigned __int128 nf_u128;

enum { NF_NOISE = 1, NF_DAYS = 2, NF_BUCKET = 3, NF_TOPCODE = 4, NF_TRUNC = 5 };
#define NF_PLAN 12
#define NF_MAXD 18
#define NF_TOPK 19
#define NF_TWO63 ((nf_i128)1 << 63)

static const int64_t NF_P10[19] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL, 1000000000LL,
    10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL, 100000000000000LL,
    1000000000000000LL, 10000000000000000LL, 100000000000000000LL, 1000000000000000000LL,
};

static nf_i128
nf_p10(int e)           /* 10^e, 0 <= e <= 38 */
{
    nf_i128 r = 1;
    while (e-- > 0)
        r *= 10;
    return r;
}

/* -?[0-9]+(\.[0-9]+)? with at most 18 digits -> V, s (the value V * 10^-s); 0 otherwise */
static int
nf_parse(const uchar *p, Py_ssize_t n, int64_t *V, int *s)
{
    Py_ssize_t i = 0, st;
    int neg = 0, nd = 0, sc = 0;
    int64_t v = 0;
    if (n > 0 && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    st = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        if (++nd > NF_MAXD)
            return 0;
        v = v * 10 + (p[i++] - '0');
    }
    if (i == st)
        return 0;
    if (i < n) {
        Py_ssize_t fs;
        if (p[i] != '.')
            return 0;
        fs = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (++nd > NF_MAXD)
                return 0;
            v = v * 10 + (p[i++] - '0');
            sc++;
        }
        if (i == fs || i != n)
            return 0;
    }
    *V = neg ? -v : v;
    *s = sc;
    return 1;
}

/* str(Decimal) of q * 10^-k into out (64 bytes); -1 for zero or where it writes an exponent */
static Py_ssize_t
nf_fmt(nf_i128 q, int k, uchar *out)
{
    char c[48];
    int nc = 0, i;
    nf_u128 a;
    uchar *o = out;
    if (q == 0)
        return -1;
    a = q < 0 ? (nf_u128)0 - (nf_u128)q : (nf_u128)q;
    while (a) {
        c[nc++] = (char)('0' + (int)(a % 10));
        a /= 10;
    }
    if (nc - 1 - k < -6)
        return -1;
    if (q < 0)
        *o++ = '-';
    if (k == 0)
        for (i = nc - 1; i >= 0; i--)
            *o++ = (uchar)c[i];
    else if (nc > k) {
        for (i = nc - 1; i >= k; i--)
            *o++ = (uchar)c[i];
        *o++ = '.';
        for (i = k - 1; i >= 0; i--)
            *o++ = (uchar)c[i];
    }
    else {
        *o++ = '0';
        *o++ = '.';
        for (i = 0; i < k - nc; i++)
            *o++ = '0';
        for (i = nc - 1; i >= 0; i--)
            *o++ = (uchar)c[i];
    }
    return o - out;
}

static int
nf_digits(nf_i128 q)
{
    nf_u128 a = q < 0 ? (nf_u128)0 - (nf_u128)q : (nf_u128)q;
    int n = 0;
    while (a) {
        n++;
        a /= 10;
    }
    return n;
}

static void
nf_divmod(nf_i128 m, nf_i128 d, nf_i128 *f, nf_i128 *r)   /* floor division, d > 0 */
{
    *f = m / d;
    *r = m % d;
    if (*r < 0) {
        *r += d;
        *f -= 1;
    }
}

static int
nf_digest8(PyObject *st, const uchar *p, Py_ssize_t n, uint64_t *N)
{
    b2_state s;
    uchar d[64];
    int i;
    if (PyBytes_Check(st) && PyBytes_GET_SIZE(st) == 8)
        memcpy(d, PyBytes_AS_STRING(st), 8);   /* a digest given (the tests: chosen digests) */
    else {
        if (get_state(st, &s) < 0)
            return -1;
        if (s.outlen < 8)
            return 0;
        b2_update(&s, p, n);
        b2_final(&s, d);
    }
    *N = 0;
    for (i = 0; i < 8; i++)
        *N = (*N << 8) | d[i];
    return 1;
}

static const int NF_DBM[13] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
static const int NF_DIM[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static int nf_leap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

static int64_t
nf_ordinal(int64_t y, int m, int d)     /* date(y, m, d).toordinal(), 0 when not a date */
{
    int dim;
    int64_t y1 = y - 1;
    if (y < 1 || y > 9999 || m < 1 || m > 12)
        return 0;
    dim = m == 2 && nf_leap(y) ? 29 : NF_DIM[m];
    if (d < 1 || d > dim)
        return 0;
    return y1 * 365 + y1 / 4 - y1 / 100 + y1 / 400 + NF_DBM[m] + (m > 2 && nf_leap(y)) + d;
}

static void
nf_from_ordinal(int64_t n, int *y, int *m, int *d)    /* datetime's ord2ymd */
{
    int64_t n400, n100, n4, n1, yy;
    int leap, mm, before;
    n -= 1;
    n400 = n / 146097;
    n %= 146097;
    yy = n400 * 400 + 1;
    n100 = n / 36524;
    n %= 36524;
    n4 = n / 1461;
    n %= 1461;
    n1 = n / 365;
    n %= 365;
    yy += n100 * 100 + n4 * 4 + n1;
    if (n1 == 4 || n100 == 4) {
        *y = (int)(yy - 1);
        *m = 12;
        *d = 31;
        return;
    }
    leap = n1 == 3 && (n4 != 24 || n100 == 3);
    mm = (int)((n + 50) >> 5);
    before = NF_DBM[mm] + (mm > 2 && leap);
    if (before > n) {
        mm -= 1;
        before -= NF_DIM[mm] + (mm == 2 && leap);
    }
    *y = (int)yy;
    *m = mm;
    *d = (int)(n - before + 1);
}

static int nf_dig(uchar c) { return c >= '0' && c <= '9'; }

/* printable ASCII but \ ' ", no blank at either end */
static int
nf_rest_ok(const uchar *p, Py_ssize_t n)
{
    Py_ssize_t i;
    if (n > 0 && (p[0] == ' ' || p[n - 1] == ' '))
        return 0;
    for (i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7E || p[i] == '\\' || p[i] == '\'' || p[i] == '"')
            return 0;
    return 1;
}

/* generalize.date's zone (numfast._tz): the start of the leftmost match reaching the end, n if none */
static Py_ssize_t
nf_tz(const uchar *r, Py_ssize_t n)
{
    Py_ssize_t best = n, s;
    int L, i, ok;
    if (n >= 1 && r[n - 1] == 'Z')
        best = n - 1;
    s = n - 3;
    if (s >= 0 && (r[s] == '+' || r[s] == '-') && nf_dig(r[s + 1]) && nf_dig(r[s + 2]) && s < best)
        best = s;
    s = n - 5;
    if (s >= 0 && (r[s] == '+' || r[s] == '-') && nf_dig(r[s + 1]) && nf_dig(r[s + 2]) && nf_dig(r[s + 3])
            && nf_dig(r[s + 4]) && s < best)
        best = s;
    s = n - 6;
    if (s >= 0 && (r[s] == '+' || r[s] == '-') && nf_dig(r[s + 1]) && nf_dig(r[s + 2]) && r[s + 3] == ':'
            && nf_dig(r[s + 4]) && nf_dig(r[s + 5]) && s < best)
        best = s;
    for (L = 3; L <= 5; L++) {
        s = n - L - 1;
        if (s < 0 || r[s] != ' ')
            continue;
        for (ok = 1, i = 1; i <= L; i++)
            if (r[s + i] < 'A' || r[s + i] > 'Z')
                ok = 0;
        if (ok && s < best)
            best = s;
    }
    return best;
}

/* the new field: the value's bytes, quoted for a '...' literal */
static PyObject *
nf_out(const uchar *p, Py_ssize_t n, int quoted)
{
    PyObject *r;
    uchar *o;
    if (!quoted)
        return PyBytes_FromStringAndSize((const char *)p, n);
    r = PyBytes_FromStringAndSize(NULL, n + 2);
    if (r == NULL)
        return NULL;
    o = (uchar *)PyBytes_AS_STRING(r);
    o[0] = '\'';
    memcpy(o + 1, p, (size_t)n);
    o[n + 1] = '\'';
    return r;
}

#define NF_NONE do { Py_RETURN_NONE; } while (0)
#define NF_SAME do { Py_INCREF(rawobj); return rawobj; } while (0)

PyDoc_STRVAR(num_field_doc,
"num_field(plan, extra, state, mode, raw) -> bytes | None\n\n"
"A raw number or date field (mode 0: COPY text, 1: a mysqldump literal, '...' or a bare number)\n"
"of noise / generalize.bucket / generalize.topcode / generalize.date after `plan` (12 ints,\n"
"dumpmask.transformers.numfast): the new field, `raw` itself when the value stays, None when\n"
"the general path must do it. `extra`: topcode's written caps; `state`: noise's PRF state.");

static PyObject *
speedups_num_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *planobj, *extra, *st, *rawobj;
    int64_t P[NF_PLAN];
    long mode;
    int quoted = 0, i, s, k;
    const uchar *raw, *b;
    Py_ssize_t n, bn, on;
    int64_t V;
    uchar out[160];
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "num_field takes 5 arguments");
        return NULL;
    }
    planobj = args[0];
    extra = args[1];
    st = args[2];
    rawobj = args[4];
    mode = PyLong_AsLong(args[3]);
    if (mode == -1 && PyErr_Occurred())
        return NULL;
    if (!PyTuple_Check(planobj) || PyTuple_GET_SIZE(planobj) != NF_PLAN) {
        PyErr_SetString(PyExc_TypeError, "num_field: plan is a tuple of 12 integers");
        return NULL;
    }
    if (!PyBytes_Check(rawobj))
        NF_NONE;
    for (i = 0; i < NF_PLAN; i++) {
        P[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(planobj, i));
        if (P[i] == -1 && PyErr_Occurred())
            return NULL;
    }
    raw = (const uchar *)PyBytes_AS_STRING(rawobj);
    n = PyBytes_GET_SIZE(rawobj);
    b = raw;
    bn = n;
    if (mode == 1 && n > 0 && raw[0] == '\'') {
        if (n < 2 || raw[n - 1] != '\'')
            NF_NONE;
        b = raw + 1;
        bn = n - 2;
        quoted = 1;
    }
    else if (mode == 1 && (!P[2] || P[0] == NF_DAYS || P[0] == NF_TRUNC))
        NF_NONE;
    if (bn == 0 || bn > 100)
        NF_NONE;

    if (P[0] == NF_DAYS || P[0] == NF_TRUNC) {
        if (!nf_rest_ok(b, bn))
            NF_NONE;
        if (P[0] == NF_DAYS) {
            int64_t ord, span = P[8];
            uint64_t N;
            int y, m, d, r;
            if (bn < 10 || b[4] != '-' || b[7] != '-' || !nf_dig(b[0]) || !nf_dig(b[1]) || !nf_dig(b[2])
                    || !nf_dig(b[3]) || !nf_dig(b[5]) || !nf_dig(b[6]) || !nf_dig(b[8]) || !nf_dig(b[9]))
                NF_NONE;
            ord = nf_ordinal((b[0] - '0') * 1000 + (b[1] - '0') * 100 + (b[2] - '0') * 10 + (b[3] - '0'),
                             (b[5] - '0') * 10 + (b[6] - '0'), (b[8] - '0') * 10 + (b[9] - '0'));
            if (ord == 0 || span <= 0 || span >= ((int64_t)1 << 62))
                NF_NONE;
            r = nf_digest8(st, b, bn, &N);
            if (r < 0)
                return NULL;
            if (r == 0)
                NF_NONE;
            ord += (int64_t)(N % (uint64_t)(2 * span + 1)) - span;
            if (ord < 1 || ord > 3652059)
                NF_SAME;                        /* past the calendar: the value stays */
            nf_from_ordinal(ord, &y, &m, &d);
            out[0] = (uchar)('0' + y / 1000);      /* "%04d-%02d-%02d" (1 <= y <= 9999) */
            out[1] = (uchar)('0' + y / 100 % 10);
            out[2] = (uchar)('0' + y / 10 % 10);
            out[3] = (uchar)('0' + y % 10);
            out[4] = '-';
            out[5] = (uchar)('0' + m / 10);
            out[6] = (uchar)('0' + m % 10);
            out[7] = '-';
            out[8] = (uchar)('0' + d / 10);
            out[9] = (uchar)('0' + d % 10);
            memcpy(out + 10, b + 10, (size_t)(bn - 10));
            return nf_out(out, bn, quoted);
        }
        else {
            Py_ssize_t j = b[0] == '-' ? 1 : 0, y0 = j, rn, tz;
            const uchar *rest;
            while (j < bn && nf_dig(b[j]))
                j++;
            if (j - y0 < 4 || j + 6 > bn || b[j] != '-' || !nf_dig(b[j + 1]) || !nf_dig(b[j + 2])
                    || b[j + 3] != '-' || !nf_dig(b[j + 4]) || !nf_dig(b[j + 5]))
                NF_NONE;
            memcpy(out, b, (size_t)j);
            on = j;
            if (P[8])
                memcpy(out + on, "-01-01", 6);
            else {
                out[on] = '-';
                out[on + 1] = b[j + 1];
                out[on + 2] = b[j + 2];
                memcpy(out + on + 3, "-01", 3);
            }
            on += 6;
            rest = b + j + 6;
            rn = bn - j - 6;
            if (P[9] || rn == 0) {
                Py_ssize_t a = 0, e = rn;
                while (a < e && rest[a] == ' ')
                    a++;
                while (e > a && rest[e - 1] == ' ')
                    e--;
                if (e - a == 2 && (rest[a] | 0x20) == 'b' && (rest[a + 1] | 0x20) == 'c') {
                    memcpy(out + on, " BC", 3);
                    on += 3;
                }
                return nf_out(out, on, quoted);
            }
            memcpy(out + on, " 00:00:00", 9);
            on += 9;
            tz = nf_tz(rest, rn);
            memcpy(out + on, rest + tz, (size_t)(rn - tz));
            on += rn - tz;
            return nf_out(out, on, quoted);
        }
    }

    if (!nf_parse(b, bn, &V, &s))
        NF_NONE;
    if (P[0] == NF_TOPCODE) {
        PyObject *tab, *o;
        if (P[9] < 0 || P[9] > NF_MAXD)
            NF_NONE;
        if ((nf_i128)V * NF_P10[P[9]] <= (nf_i128)P[8] * NF_P10[s])
            NF_SAME;
        k = P[1] ? 0 : s;
        if (k >= NF_TOPK || !PyTuple_Check(extra) || PyTuple_GET_SIZE(extra) != 2)
            NF_NONE;
        tab = PyTuple_GET_ITEM(extra, mode == 0 || quoted ? 0 : 1);
        if (!PyTuple_Check(tab) || PyTuple_GET_SIZE(tab) != NF_TOPK)
            NF_NONE;
        o = PyTuple_GET_ITEM(tab, k);
        if (!PyBytes_Check(o))
            NF_NONE;
        Py_INCREF(o);
        return o;
    }
    if (P[1] && s)
        NF_NONE;
    k = s;
    if (P[0] == NF_BUCKET) {
        int64_t W = P[8];
        int ew = (int)P[9];
        nf_i128 fl, r, low, q;
        if (W <= 0 || ew < 0 || ew > 9)
            NF_NONE;
        nf_divmod((nf_i128)V * NF_P10[ew], (nf_i128)W * NF_P10[s], &fl, &r);
        low = fl * W;
        if (P[3] && low < (nf_i128)P[4] * NF_P10[ew]) {
            on = snprintf((char *)out, 32, "%lld", (long long)P[4]);
            return nf_out(out, on, quoted);
        }
        if (P[1]) {
            on = nf_fmt(low / NF_P10[ew], 0, out);
            if (on < 0) {                       /* an integer 0: str(int(low)) */
                out[0] = '0';
                on = 1;
            }
            return nf_out(out, on, quoted);
        }
        if (k >= ew)
            q = low * NF_P10[k - ew];
        else {
            nf_i128 f2, r2, t;
            nf_divmod(low, NF_P10[ew - k], &f2, &r2);
            t = 2 * r2 - NF_P10[ew - k];
            q = t > 0 || (t == 0 && (f2 & 1)) ? f2 + 1 : f2;
        }
        if (nf_digits(q) > 27)
            NF_NONE;
        on = nf_fmt(q, k, out);
        if (on < 0)
            NF_NONE;
        return nf_out(out, on, quoted);
    }
    if (P[0] == NF_NOISE) {
        int64_t a = P[9];
        int ea = (int)P[10], e, rel = (int)P[8], rc;
        uint64_t N;
        nf_i128 B, D, M, f, r, t, o;
        if (V == 0 && rel)
            NF_NONE;
        if (a <= 0 || ea < 0 || ea > NF_MAXD)
            NF_NONE;
        rc = nf_digest8(st, b, bn, &N);
        if (rc < 0)
            return NULL;
        if (rc == 0)
            NF_NONE;
        B = rel ? (nf_i128)(V < 0 ? -V : V) * a : (nf_i128)a;
        e = rel ? -ea : s - ea;
        if (e >= 0) {
            if (B > (NF_TWO63 - 1) / NF_P10[e])
                NF_NONE;
            B *= NF_P10[e];
            D = NF_TWO63;
        }
        else
            D = NF_TWO63 * NF_P10[-e];
        if (B >= NF_TWO63)
            NF_NONE;
        M = B * ((nf_i128)N - NF_TWO63);
        nf_divmod(M, D, &f, &r);
        t = 2 * r - D;
        if ((t < 0 ? -t : t) <= (D >> 19))
            NF_NONE;                            /* too close to a tie: Decimal's roundings decide */
        o = (nf_i128)V + f + (t > 0 ? 1 : 0);
        if (o == 0)
            NF_NONE;
        if (P[3] && o < P[4])
            o = P[4];
        if (P[5] && o > P[6])
            o = P[6];
        if (P[7] >= 0 && P[7] + k < 20) {
            nf_i128 top = nf_p10((int)(P[7] + k)) - 1;
            if (top == 0)
                NF_NONE;
            if (o > top)
                o = top;
            if (o < -top)
                o = -top;
        }
        if (o == 0) {
            out[0] = '0';
            on = 1;
        }
        else {
            on = nf_fmt(o, k, out);
            if (on < 0)
                NF_NONE;
        }
        return nf_out(out, on, quoted);
    }
    NF_NONE;
}

#else   /* no 128-bit integers: the general path for every field */

PyDoc_STRVAR(num_field_doc, "num_field(plan, extra, state, mode, raw) -> None (not built with 128-bit integers)");

static PyObject *
speedups_num_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_RETURN_NONE;
}
#endif

/* ====================================================================== end of NUMFAST */

/* ==========================================================================================
 * KEYS (area: remap): remap._Feistel, the integer key permutation, in C: one value's Feistel
 * pass (8 rounds, cycle-walking) with the round function memoised in the permutation's own
 * round tables (array('i'), shared with the Python twin and keyspans), filled lazily or all at
 * once (feistel_fill), and the integer strategy's raw-field hook (key_int_field: digits ->
 * the remapped digits, the observed maximum kept). The round function is Key.prf's bytes: the
 * PRF states of the FAKES section (prf_state: the key block and the round's domain), one
 * compression per round value. Twins: remap._Feistel's Python methods and Remapper's raw_int;
 * tests/test_remap.py holds them to the same values.
 * ======================================================================================== */

typedef struct {
    b2_state st[8];            /* Key.hasher(f"{base}:r{i}", 8) per round (digest size 8) */
    uchar blk[8][128];         /* each round's last block: st's buffered bytes, the input, zeros */
    int off[8];                /* where the input goes in blk (st's buffered length), -1: no room */
    uint64_t nmax;             /* the range is [0, nmax] */
    uint64_t mask_b, mout[8];
    int wa, wb, nin[8];
    int tables, ntabs, full;   /* round tables in use; buffers held; every entry filled */
    long long calls, fill_after;
    Py_buffer tabs[8];
    int *tab[8];
} kf_ctx;

#define KF_NAME "dumpmask.feistel"
#define KM_NAME "dumpmask.keymap"

static inline uint64_t
kf_prf(kf_ctx *c, int i, uint64_t v)
{
    b2_state s;
    uchar msg[8], dg[64];
    int k, nin = c->nin[i];
    uint64_t x = 0;
    if (c->off[i] >= 0) {   /* one compression of the laid-out block (b2_last8) */
        uchar *p = c->blk[i] + c->off[i];
        for (k = 0; k < nin; k++)
            p[k] = (uchar)(v >> (8 * (nin - 1 - k)));
        return b2_last8(c->st[i].h, c->blk[i], c->st[i].t + (uint64_t)(c->off[i] + nin)) & c->mout[i];
    }
    s = c->st[i];
    for (k = 0; k < nin; k++)
        msg[k] = (uchar)(v >> (8 * (nin - 1 - k)));
    b2_update(&s, msg, nin);
    b2_final(&s, dg);
    for (k = 0; k < 8; k++)
        x = (x << 8) | dg[k];
    return x & c->mout[i];
}

static inline uint64_t
kf_round(kf_ctx *c, int i, uint64_t v)
{
    if (c->tables) {
        int f = c->tab[i][v];
        if (f < 0)
            f = c->tab[i][v] = (int)kf_prf(c, i, v);
        return (uint64_t)f;
    }
    return kf_prf(c, i, v);
}

static uint64_t
kf_pass(kf_ctx *c, uint64_t x, int inverse)
{
    uint64_t a = x >> c->wb, b = x & c->mask_b, t;
    int i;
    if (inverse) {
        for (i = 7; i >= 0; i--) {
            t = b ^ kf_round(c, i, a);
            b = a;
            a = t;
        }
    } else {
        for (i = 0; i < 8; i++) {
            t = a ^ kf_round(c, i, b);
            a = b;
            b = t;
        }
    }
    return (a << c->wb) | b;
}

static void
kf_fill(kf_ctx *c)
{
    int i;
    if (!c->tables)
        return;
    for (i = 0; i < 8; i++) {
        uint64_t v, len = (uint64_t)1 << (i % 2 == 0 ? c->wb : c->wa);
        for (v = 0; v < len; v++)
            if (c->tab[i][v] < 0)
                c->tab[i][v] = (int)kf_prf(c, i, v);
    }
    c->full = 1;
}

/* _Feistel.encrypt / decrypt of x in [0, nmax] (the caller checks the range) */
static uint64_t
kf_run(kf_ctx *c, uint64_t x, int inverse)
{
    uint64_t y;
    if (!inverse && c->tables && !c->full && ++c->calls > c->fill_after)
        kf_fill(c);
    y = kf_pass(c, x, inverse);
    while (y > c->nmax)
        y = kf_pass(c, y, inverse);
    return y;
}

static void
kf_destroy(PyObject *cap)
{
    kf_ctx *c = (kf_ctx *)PyCapsule_GetPointer(cap, KF_NAME);
    int i;
    if (c == NULL)
        return;
    for (i = 0; i < c->ntabs; i++)
        PyBuffer_Release(&c->tabs[i]);
    PyMem_Free(c);
}

static kf_ctx *
kf_get(PyObject *cap)
{
    if (!PyCapsule_IsValid(cap, KF_NAME)) {
        PyErr_SetString(PyExc_TypeError, "not a Feistel context (from feistel_new)");
        return NULL;
    }
    return (kf_ctx *)PyCapsule_GetPointer(cap, KF_NAME);
}

PyDoc_STRVAR(feistel_new_doc,
"feistel_new(states, nmax, wb, wa, tables, fill_after) -> capsule\n\n"
"remap._Feistel of [0, nmax] (nmax < 2**64; halves of wb and wa bits, wa <= wb <= 32) in C:\n"
"states, the 8 rounds' prf_state (digest size 8); tables None, or the 8 round tables\n"
"(array('i') of 2**wb, 2**wa, ... entries, -1 where not computed yet: filled in place); after\n"
"fill_after encryptions every table entry is computed (_Feistel.FILL_AFTER).");

static PyObject *
speedups_feistel_new(PyObject *self, PyObject *args)
{
    PyObject *states, *tables, *cap;
    unsigned long long nmax;
    int wb, wa, i;
    long long fill_after;
    kf_ctx *c;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!KiiOL:feistel_new", &PyTuple_Type, &states, &nmax, &wb, &wa, &tables, &fill_after))
        return NULL;
    if (PyTuple_GET_SIZE(states) != 8 || wa < 1 || wb < wa || wb > 32 || wa + wb > 64 || wb - wa > 1
        || (wa + wb < 64 && nmax >> (wa + wb)) || (tables != Py_None && (wb > 16 || !PyTuple_Check(tables)
                                                                        || PyTuple_GET_SIZE(tables) != 8))) {
        PyErr_SetString(PyExc_ValueError, "feistel_new: bad states, widths, range or tables");
        return NULL;
    }
    c = (kf_ctx *)PyMem_Calloc(1, sizeof(kf_ctx));
    if (c == NULL)
        return PyErr_NoMemory();
    c->nmax = nmax;
    c->wa = wa;
    c->wb = wb;
    c->mask_b = ((uint64_t)1 << wb) - 1;
    c->fill_after = fill_after;
    for (i = 0; i < 8; i++) {
        int w_in = i % 2 == 0 ? wb : wa, w_out = i % 2 == 0 ? wa : wb;
        c->nin[i] = (w_in + 7) / 8;
        c->mout[i] = ((uint64_t)1 << w_out) - 1;
        if (get_state(PyTuple_GET_ITEM(states, i), &c->st[i]) < 0)
            goto fail;
        if (c->st[i].outlen != 8) {
            PyErr_SetString(PyExc_ValueError, "feistel_new: the states' digest size must be 8");
            goto fail;
        }
        c->off[i] = -1;
        if ((int)c->st[i].buflen + c->nin[i] <= 128) {
            c->off[i] = (int)c->st[i].buflen;
            memcpy(c->blk[i], c->st[i].buf, c->st[i].buflen);   /* (the rest stays zero: calloc) */
        }
    }
    if (tables != Py_None) {
        for (i = 0; i < 8; i++) {
            Py_ssize_t want = (Py_ssize_t)1 << (i % 2 == 0 ? wb : wa);
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(tables, i), &c->tabs[i], PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
                goto fail;
            c->ntabs = i + 1;
            if (c->tabs[i].itemsize != (Py_ssize_t)sizeof(int) || c->tabs[i].format == NULL
                || strcmp(c->tabs[i].format, "i") != 0 || c->tabs[i].len != want * (Py_ssize_t)sizeof(int)) {
                PyErr_SetString(PyExc_TypeError, "feistel_new: round tables must be array('i') of 2**width entries");
                goto fail;
            }
            c->tab[i] = (int *)c->tabs[i].buf;
        }
        c->tables = 1;
    }
    cap = PyCapsule_New(c, KF_NAME, kf_destroy);
    if (cap == NULL)
        goto fail;
    return cap;
fail:
    for (i = 0; i < c->ntabs; i++)
        PyBuffer_Release(&c->tabs[i]);
    PyMem_Free(c);
    return NULL;
}

PyDoc_STRVAR(feistel_int_doc,
"feistel_int(ctx, x, inverse) -> int\n\n"
"_Feistel.encrypt(x) (inverse false) or decrypt(x) of x in [0, nmax].");

static PyObject *
speedups_feistel_int(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    kf_ctx *c;
    unsigned long long x;
    int inverse;
    (void)self;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "feistel_int takes 3 arguments");
        return NULL;
    }
    if ((c = kf_get(args[0])) == NULL)
        return NULL;
    if (!PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "feistel_int: x must be an int");
        return NULL;
    }
    x = PyLong_AsUnsignedLongLong(args[1]);
    if (x == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (x > c->nmax) {
        PyErr_SetString(PyExc_ValueError, "feistel_int: x is outside the range");
        return NULL;
    }
    if ((inverse = PyObject_IsTrue(args[2])) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(kf_run(c, x, inverse));
}

PyDoc_STRVAR(feistel_fill_doc,
"feistel_fill(ctx) -> bool\n\n"
"Compute every round-table entry not computed yet (_Feistel._fill_all); true when the tables\n"
"are full (false: the context has no tables).");

static PyObject *
speedups_feistel_fill(PyObject *self, PyObject *cap)
{
    kf_ctx *c = kf_get(cap);
    (void)self;
    if (c == NULL)
        return NULL;
    kf_fill(c);
    return PyBool_FromLong(c->full);
}

PyDoc_STRVAR(feistel_full_doc,
"feistel_full(ctx) -> bool\n\n"
"Whether every round-table entry is computed (after feistel_fill or fill_after encryptions).");

static PyObject *
speedups_feistel_full(PyObject *self, PyObject *cap)
{
    kf_ctx *c = kf_get(cap);
    (void)self;
    if (c == NULL)
        return NULL;
    return PyBool_FromLong(c->full);
}

/* --- the integer strategy's raw-field hook: Remapper.for_column's raw_int --- */

typedef struct {
    int nseg;
    struct {
        long long lo, hi, add;
        PyObject *cap;         /* a feistel_new capsule (NULL until made) */
        PyObject *maker;       /* makes the capsule at the segment's first value (or NULL) */
        kf_ctx *f;
        int identity;          /* a one-value segment: x + add */
    } seg[2];
    PyObject *observed, *fallback, *max_key;
} km_ctx;

static void
km_destroy(PyObject *cap)
{
    km_ctx *m = (km_ctx *)PyCapsule_GetPointer(cap, KM_NAME);
    int i;
    if (m == NULL)
        return;
    for (i = 0; i < m->nseg; i++) {
        Py_XDECREF(m->seg[i].cap);
        Py_XDECREF(m->seg[i].maker);
    }
    Py_XDECREF(m->observed);
    Py_XDECREF(m->fallback);
    Py_XDECREF(m->max_key);
    PyMem_Free(m);
}

PyDoc_STRVAR(key_int_new_doc,
"key_int_new(segments, observed, fallback) -> capsule\n\n"
"The context of key_int_field: segments, 1 or 2 of (lo, hi, add, ctx): x in [lo, hi] ->\n"
"feistel_int(ctx, x - lo, False) + lo + add (ctx None: x + add, for lo == hi; ctx a callable:\n"
"called once, at the segment's first value, for the context); 0 <= lo <= hi <= 2**62,\n"
"|add| <= 2**62. observed: the column's dict whose 'max' is the largest value written;\n"
"fallback(raw): the Python hook, for every raw field C does not take.");

static PyObject *
speedups_key_int_new(PyObject *self, PyObject *args)
{
    PyObject *segs, *observed, *fallback, *cap;
    km_ctx *m;
    Py_ssize_t i, n;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!O:key_int_new", &PyTuple_Type, &segs, &PyDict_Type, &observed, &fallback))
        return NULL;
    n = PyTuple_GET_SIZE(segs);
    if (n < 1 || n > 2) {
        PyErr_SetString(PyExc_ValueError, "key_int_new: 1 or 2 segments");
        return NULL;
    }
    m = (km_ctx *)PyMem_Calloc(1, sizeof(km_ctx));
    if (m == NULL)
        return PyErr_NoMemory();
    for (i = 0; i < n; i++) {
        PyObject *t = PyTuple_GET_ITEM(segs, i), *ctx;
        long long lim = 1LL << 62;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 4) {
            PyErr_SetString(PyExc_TypeError, "key_int_new: a segment is (lo, hi, add, ctx)");
            goto fail;
        }
        m->seg[i].lo = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 0));
        m->seg[i].hi = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 1));
        m->seg[i].add = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 2));
        if (PyErr_Occurred())
            goto fail;
        ctx = PyTuple_GET_ITEM(t, 3);
        if (m->seg[i].lo < 0 || m->seg[i].hi < m->seg[i].lo || m->seg[i].hi > lim || m->seg[i].add > lim
            || m->seg[i].add < -lim) {
            PyErr_SetString(PyExc_ValueError, "key_int_new: a segment is outside the C range");
            goto fail;
        }
        m->nseg = (int)i + 1;
        if (ctx == Py_None) {
            if (m->seg[i].hi != m->seg[i].lo) {
                PyErr_SetString(PyExc_ValueError, "key_int_new: only a one-value segment has no context");
                goto fail;
            }
            m->seg[i].identity = 1;
        } else if (PyCapsule_CheckExact(ctx)) {
            if ((m->seg[i].f = kf_get(ctx)) == NULL)
                goto fail;
            if (m->seg[i].f->nmax != (uint64_t)(m->seg[i].hi - m->seg[i].lo)) {
                PyErr_SetString(PyExc_ValueError, "key_int_new: the context's range is not the segment's");
                goto fail;
            }
            Py_INCREF(ctx);
            m->seg[i].cap = ctx;
        } else if (PyCallable_Check(ctx)) {
            Py_INCREF(ctx);
            m->seg[i].maker = ctx;
        } else {
            PyErr_SetString(PyExc_TypeError, "key_int_new: ctx must be None, a capsule or a callable");
            goto fail;
        }
    }
    if ((m->max_key = PyUnicode_InternFromString("max")) == NULL)
        goto fail;
    Py_INCREF(observed);
    m->observed = observed;
    Py_INCREF(fallback);
    m->fallback = fallback;
    cap = PyCapsule_New(m, KM_NAME, km_destroy);
    if (cap == NULL)
        goto fail;
    return cap;
fail:
    for (i = 0; i < m->nseg; i++) {
        Py_XDECREF(m->seg[i].cap);
        Py_XDECREF(m->seg[i].maker);
    }
    Py_XDECREF(m->max_key);
    PyMem_Free(m);
    return NULL;
}

/* the remapped value of the n ASCII digits at p (1-18) into *y, observed['max'] raised to it:
 * 1; 0 when C does not take them (not digits, outside every segment, observed not an int dict
 * entry: the Python path); -1 with an exception set */
static int
km_map(km_ctx *m, const uchar *p, Py_ssize_t n, long long *y)
{
    PyObject *cur;
    Py_ssize_t i;
    long long x = 0, c;
    int ov = 0;
    if (n < 1 || n > 18)
        return 0;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        x = x * 10 + (p[i] - '0');
    }
    for (i = 0; i < m->nseg; i++)
        if (x >= m->seg[i].lo && x <= m->seg[i].hi)
            break;
    if (i == m->nseg)
        return 0;
    cur = PyDict_GetItemWithError(m->observed, m->max_key);
    if (cur == NULL && PyErr_Occurred())
        return -1;
    if (cur == NULL || !PyLong_CheckExact(cur))
        return 0;
    c = PyLong_AsLongLongAndOverflow(cur, &ov);
    if (c == -1 && PyErr_Occurred())
        return -1;
    if (ov < 0)
        return 0;
    if (m->seg[i].identity) {
        *y = x;
    } else {
        if (m->seg[i].f == NULL) {   /* the segment's first value: its context */
            PyObject *cap = PyObject_CallNoArgs(m->seg[i].maker);
            kf_ctx *f;
            if (cap == NULL)
                return -1;
            if ((f = kf_get(cap)) == NULL || f->nmax != (uint64_t)(m->seg[i].hi - m->seg[i].lo)) {
                if (f != NULL)
                    PyErr_SetString(PyExc_ValueError, "key_int_field: the context's range is not the segment's");
                Py_DECREF(cap);
                return -1;
            }
            m->seg[i].cap = cap;
            m->seg[i].f = f;
            Py_CLEAR(m->seg[i].maker);
        }
        *y = (long long)kf_run(m->seg[i].f, (uint64_t)(x - m->seg[i].lo), 0) + m->seg[i].lo;
    }
    *y += m->seg[i].add;
    if (!ov && *y > c) {
        PyObject *v = PyLong_FromLongLong(*y);
        if (v == NULL || PyDict_SetItem(m->observed, m->max_key, v) < 0) {
            Py_XDECREF(v);
            return -1;
        }
        Py_DECREF(v);
    }
    return 1;
}

static km_ctx *
km_get(PyObject *const *args, Py_ssize_t nargs, const char *name)
{
    if (nargs != 2 || !PyCapsule_IsValid(args[0], KM_NAME)) {
        PyErr_Format(PyExc_TypeError, "%s(ctx, raw): ctx from key_int_new", name);
        return NULL;
    }
    return (km_ctx *)PyCapsule_GetPointer(args[0], KM_NAME);
}

PyDoc_STRVAR(key_int_field_doc,
"key_int_field(ctx, raw) -> bytes\n\n"
"Remapper's raw_int of a raw field of 1-18 ASCII digits inside a segment (key_int_new): the\n"
"remapped value's digits, observed['max'] raised to it; fallback(raw) for any other raw.");

static PyObject *
speedups_key_int_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    km_ctx *m = km_get(args, nargs, "key_int_field");
    long long y;
    char tmp[32];
    int r, len;
    (void)self;
    if (m == NULL)
        return NULL;
    if (!PyBytes_CheckExact(args[1]))
        return PyObject_CallOneArg(m->fallback, args[1]);
    r = km_map(m, (const uchar *)PyBytes_AS_STRING(args[1]), PyBytes_GET_SIZE(args[1]), &y);
    if (r < 0)
        return NULL;
    if (r == 0)
        return PyObject_CallOneArg(m->fallback, args[1]);
    len = snprintf(tmp, sizeof tmp, "%lld", y);
    return PyBytes_FromStringAndSize(tmp, len);
}

PyDoc_STRVAR(key_int_literal_doc,
"key_int_literal(ctx, raw) -> bytes | None\n\n"
"The integer strategy on a MySQL string literal of 1-18 ASCII digits ('123') inside a segment\n"
"(key_int_new): the remapped value as the literal the general path writes ('456'),\n"
"observed['max'] raised to it; None for any other raw (the general path).");

static PyObject *
speedups_key_int_literal(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    km_ctx *m = km_get(args, nargs, "key_int_literal");
    const uchar *p;
    Py_ssize_t n;
    long long y;
    char tmp[32];
    int r, len;
    (void)self;
    if (m == NULL)
        return NULL;
    if (!PyBytes_CheckExact(args[1]))
        Py_RETURN_NONE;
    p = (const uchar *)PyBytes_AS_STRING(args[1]);
    n = PyBytes_GET_SIZE(args[1]);
    if (n < 3 || p[0] != '\'' || p[n - 1] != '\'')
        Py_RETURN_NONE;
    r = km_map(m, p + 1, n - 2, &y);
    if (r < 0)
        return NULL;
    if (r == 0)
        Py_RETURN_NONE;
    len = snprintf(tmp, sizeof tmp, "'%lld'", y);
    return PyBytes_FromStringAndSize(tmp, len);
}

/* ========================================================================= end of KEYS */

/* ==========================================================================================
 * STRFIELD (area: strfield): the text mutations whose work is a small Python function, on a
 * *plain* raw field (plain_field of the FAKES section: mode 0 a COPY text field, 1 a MySQL
 * '...' literal) without decoding and encoding it in Python.
 *
 * str_field decodes the value to a str in C, calls the mutation's function on it and writes
 * the result the way the dialect's encoder writes it (postgres.copy_encode /
 * mysql_lex.encode_string of its UTF-8); list_field splits the value on a separator, strips
 * each element's blanks (str.strip) and sends it through the element mutation's own field
 * function; cum_pick_field is the weighted pick of `choice` (bisect over cumulative weights).
 * Whatever C cannot do exactly as the general path (decode, the mutation, encode in work.py)
 * gives None: the caller's general path, which also raises the mutation's errors.
 * Twins: dumpmask/transformers/fastprf.py (py_str_field, py_list_field, py_cum_pick_field);
 * tests/test_strfield.py holds them, and both against the general path, to the same bytes.
 * ======================================================================================== */

/* the second byte of a value byte's escape (0: written as it is): copy_encode (mode 0),
 * encode_string (mode 1, inside the quotes) */
static const uchar SF_ESC[2][256] = {
    {['\\'] = '\\', [0x08] = 'b', [0x0c] = 'f', [0x0a] = 'n', [0x0d] = 'r', [0x09] = 't', [0x0b] = 'v'},
    {[0x00] = '0', [0x0a] = 'n', [0x0d] = 'r', ['\\'] = '\\', ['\''] = '\'', ['"'] = '"', [0x1a] = 'Z'},
};

/* a value's bytes written as the dialect writes them: a new bytes object */
static PyObject *
sf_encode(int mode, const uchar *p, Py_ssize_t n)
{
    const uchar *esc = SF_ESC[mode];
    Py_ssize_t k = n + (mode == 1 ? 2 : 0), i;
    PyObject *out;
    uchar *o;
    for (i = 0; i < n; i++)
        if (esc[p[i]])
            k++;
    out = PyBytes_FromStringAndSize(NULL, k);
    if (out == NULL)
        return NULL;
    o = (uchar *)PyBytes_AS_STRING(out);
    if (mode == 1)
        *o++ = '\'';
    if (k == n + (mode == 1 ? 2 : 0)) {
        memcpy(o, p, (size_t)n);
        o += n;
    } else {
        for (i = 0; i < n; i++) {
            uchar c = p[i], e = esc[c];
            if (e) {
                *o++ = '\\';
                *o++ = e;
            } else {
                *o++ = c;
            }
        }
    }
    if (mode == 1)
        *o = '\'';
    return out;
}

/* a field as the dialect's encoder writes it (sf_encode's output) -> the value's bytes into
 * dst (room for n bytes; NULL: only the check); -1 when it is not such a field */
static Py_ssize_t
sf_decode(int mode, const uchar *p, Py_ssize_t n, uchar *dst)
{
    Py_ssize_t i, o = 0;
    if (mode == 1) {
        if (n < 2 || p[0] != '\'' || p[n - 1] != '\'')
            return -1;
        p++;
        n -= 2;
    }
    for (i = 0; i < n; i++) {
        uchar c = p[i], v;
        if (c != '\\') {
            if (mode == 1 && c == '\'')
                return -1;
            if (SF_ESC[mode][c])      /* a byte the encoder escapes, written raw */
                return -1;
            if (dst)
                dst[o++] = c;
            continue;
        }
        if (++i >= n)
            return -1;
        switch (p[i]) {
        case '\\': v = '\\'; break;
        case 'n': v = 0x0a; break;
        case 'r': v = 0x0d; break;
        case 'b': if (mode != 0) return -1; v = 0x08; break;
        case 'f': if (mode != 0) return -1; v = 0x0c; break;
        case 't': if (mode != 0) return -1; v = 0x09; break;
        case 'v': if (mode != 0) return -1; v = 0x0b; break;
        case '0': if (mode != 1) return -1; v = 0x00; break;
        case '\'': if (mode != 1) return -1; v = '\''; break;
        case '"': if (mode != 1) return -1; v = '"'; break;
        case 'Z': if (mode != 1) return -1; v = 0x1a; break;
        default: return -1;
        }
        if (dst)
            dst[o++] = v;
    }
    return o;
}

static int
sf_mode(PyObject *o, int *mode)
{
    long m = PyLong_AsLong(o);
    if (m == -1 && PyErr_Occurred())
        return -1;
    if (m != 0 && m != 1) {
        PyErr_SetString(PyExc_ValueError, "mode is 0 (COPY text) or 1 (a MySQL '...' literal)");
        return -1;
    }
    *mode = (int)m;
    return 0;
}

/* A Python call's failure: an Exception is the general path's to raise again (None), anything
 * else (KeyboardInterrupt, SystemExit) goes up. */
static PyObject *
sf_failed(void)
{
    if (PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return NULL;
}

/* a str's UTF-8 (strict: a str with surrogates gives 0, no error set); *tmp the bytes object
 * that holds it (NULL for an ASCII str's own data); -1 an error set */
static int
sf_utf8(PyObject *s, const uchar **p, Py_ssize_t *n, PyObject **tmp)
{
    *tmp = NULL;
    if (PyUnicode_IS_ASCII(s)) {
        *p = (const uchar *)PyUnicode_DATA(s);
        *n = PyUnicode_GET_LENGTH(s);
        return 1;
    }
    *tmp = PyUnicode_AsUTF8String(s);
    if (*tmp == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    *p = (const uchar *)PyBytes_AS_STRING(*tmp);
    *n = PyBytes_GET_SIZE(*tmp);
    return 1;
}

PyDoc_STRVAR(str_field_doc,
"str_field(mode, fn, null, keep_empty, raw) -> bytes | None\n\n"
"For a plain raw field (see prf_field; mode 0: a COPY text field, 1: a MySQL '...' literal):\n"
"fn(value) written as the dialect writes it (postgres.copy_encode / mysql_lex.encode_string\n"
"of its UTF-8), `null` itself when fn gives None, raw itself when it gives the value back (or\n"
"for an empty value when keep_empty). None when the field is not plain, fn raises an\n"
"Exception or gives what is not a str, or a str with surrogates: the caller's general path.");

static PyObject *
speedups_str_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uchar fbuf[FIELD_BUF];
    PyObject *fn, *null, *rawobj, *s, *r, *tmp, *out;
    const uchar *body, *rp;
    Py_ssize_t blen, rn;
    int mode, keep_empty, ok;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "str_field takes 5 arguments");
        return NULL;
    }
    if (sf_mode(args[0], &mode) < 0)
        return NULL;
    fn = args[1];
    null = args[2];
    keep_empty = PyObject_IsTrue(args[3]);
    if (keep_empty < 0)
        return NULL;
    rawobj = args[4];
    if (!PyBytes_CheckExact(rawobj)
        || !plain_field((const uchar *)PyBytes_AS_STRING(rawobj), PyBytes_GET_SIZE(rawobj), mode, fbuf, &body, &blen))
        Py_RETURN_NONE;
    if (blen == 0 && keep_empty) {
        Py_INCREF(rawobj);
        return rawobj;
    }
    s = PyUnicode_DecodeUTF8((const char *)body, blen, NULL);   /* plain: strict UTF-8 */
    if (s == NULL)
        return NULL;
    r = PyObject_CallOneArg(fn, s);
    Py_DECREF(s);
    if (r == NULL)
        return sf_failed();
    if (r == Py_None) {
        Py_DECREF(r);
        Py_INCREF(null);
        return null;
    }
    if (!PyUnicode_Check(r)) {
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    ok = sf_utf8(r, &rp, &rn, &tmp);
    if (ok <= 0) {
        Py_DECREF(r);
        if (ok < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if (rn == blen && memcmp(rp, body, (size_t)rn) == 0) {   /* the value back: its bytes as written */
        out = rawobj;
        Py_INCREF(out);
    } else {
        out = sf_encode(mode, rp, rn);
    }
    Py_XDECREF(tmp);
    Py_DECREF(r);
    return out;
}

/* the code point of the strictly valid UTF-8 sequence at p (len bytes) */
static inline Py_UCS4
sf_cp(const uchar *p, Py_ssize_t len)
{
    switch (len) {
    case 1: return p[0];
    case 2: return ((Py_UCS4)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3: return ((Py_UCS4)(p[0] & 0x0F) << 12) | ((Py_UCS4)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default:
        return ((Py_UCS4)(p[0] & 0x07) << 18) | ((Py_UCS4)(p[1] & 0x3F) << 12) | ((Py_UCS4)(p[2] & 0x3F) << 6)
            | (p[3] & 0x3F);
    }
}

/* the length of the UTF-8 sequence whose lead byte is c (the bytes are valid UTF-8) */
static inline Py_ssize_t
sf_seqlen(uchar c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

typedef struct {
    uchar *p;
    Py_ssize_t n, cap;
} sf_buf;

static int
sf_put(sf_buf *b, const uchar *p, Py_ssize_t n)
{
    if (n == 0)
        return 0;
    if (b->n + n > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 256;
        uchar *q;
        while (cap < b->n + n)
            cap *= 2;
        q = (uchar *)PyMem_Realloc(b->p, (size_t)cap);
        if (q == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, (size_t)n);
    b->n += n;
    return 0;
}

PyDoc_STRVAR(list_field_doc,
"list_field(mode, sep, inner, null, raw) -> bytes | None\n\n"
"The `list` mutation on a plain raw field (see prf_field): the value (UTF-8) split on sep (the\n"
"separator's UTF-8, not empty), each element stripped of its blanks (str.strip) and, when\n"
"something is left, written as the dialect writes it and given to inner (the element\n"
"mutation's field function: a field -> the new field, None for its general path), whose new\n"
"field is read back (`null`'s bytes: an empty element); the elements joined again with their\n"
"blanks and sep, written as the dialect writes it; raw itself when that is the value. None when\n"
"the field is not plain or inner gives None, raises an Exception or what is not such a field.");

static PyObject *
speedups_list_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uchar fbuf[FIELD_BUF];
    PyObject *sep, *inner, *null, *rawobj, *out = NULL;
    const uchar *body, *sp, *np;
    Py_ssize_t blen, sn, nn, pos;
    int mode;
    sf_buf b = {NULL, 0, 0};
    uchar *dec = NULL;
    Py_ssize_t deccap = 0;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "list_field takes 5 arguments");
        return NULL;
    }
    if (sf_mode(args[0], &mode) < 0)
        return NULL;
    sep = args[1];
    inner = args[2];
    null = args[3];
    rawobj = args[4];
    if (!PyBytes_Check(sep) || PyBytes_GET_SIZE(sep) == 0 || !PyBytes_Check(null)) {
        PyErr_SetString(PyExc_TypeError, "list_field: sep (not empty) and null are bytes");
        return NULL;
    }
    sp = (const uchar *)PyBytes_AS_STRING(sep);
    sn = PyBytes_GET_SIZE(sep);
    np = (const uchar *)PyBytes_AS_STRING(null);
    nn = PyBytes_GET_SIZE(null);
    if (!PyBytes_CheckExact(rawobj)
        || !plain_field((const uchar *)PyBytes_AS_STRING(rawobj), PyBytes_GET_SIZE(rawobj), mode, fbuf, &body, &blen))
        Py_RETURN_NONE;
    if (blen > 0 && !Py_UNICODE_ISSPACE(sf_cp(body, sf_seqlen(body[0])))) {
        /* one element, no blanks around it (the usual value): the field is the element's, and
         * the element's new field the list's */
        Py_ssize_t k = blen - 1, i;
        int one = 1;
        while (k > 0 && (body[k] & 0xC0) == 0x80)
            k--;
        if (Py_UNICODE_ISSPACE(sf_cp(body + k, blen - k)))
            one = 0;
        for (i = 0; one && i + sn <= blen; i++)
            if (body[i] == sp[0] && memcmp(body + i, sp, (size_t)sn) == 0)
                one = 0;
        if (one) {
            PyObject *r = PyObject_CallOneArg(inner, rawobj);
            const uchar *rp;
            Py_ssize_t rn;
            if (r == NULL)
                return sf_failed();
            if (r == rawobj)
                return r;
            if (!PyBytes_Check(r)) {
                Py_DECREF(r);
                Py_RETURN_NONE;
            }
            rp = (const uchar *)PyBytes_AS_STRING(r);
            rn = PyBytes_GET_SIZE(r);
            if (rn == nn && memcmp(rp, np, (size_t)nn) == 0) {    /* NULL: the list is "" */
                Py_DECREF(r);
                return PyBytes_FromStringAndSize("''", mode == 1 ? 2 : 0);
            }
            if (sf_decode(mode, rp, rn, NULL) < 0) {
                Py_DECREF(r);
                Py_RETURN_NONE;
            }
            if (rn == PyBytes_GET_SIZE(rawobj) && memcmp(rp, PyBytes_AS_STRING(rawobj), (size_t)rn) == 0) {
                Py_DECREF(r);
                Py_INCREF(rawobj);
                return rawobj;
            }
            return r;
        }
    }
    pos = 0;
    for (;;) {
        Py_ssize_t end = pos, a, z;
        int last = 0;
        /* the next separator (value.split(sep): left to right, not overlapping; UTF-8 matches
         * only at character boundaries) */
        while (end + sn <= blen && (body[end] != sp[0] || memcmp(body + end, sp, (size_t)sn) != 0))
            end++;
        if (end + sn > blen) {
            end = blen;
            last = 1;
        }
        a = pos;
        while (a < end) {                     /* lstrip */
            Py_ssize_t len = sf_seqlen(body[a]);
            if (!Py_UNICODE_ISSPACE(sf_cp(body + a, len)))
                break;
            a += len;
        }
        z = end;
        while (z > a) {                       /* rstrip */
            Py_ssize_t k = z - 1;
            while (k > a && (body[k] & 0xC0) == 0x80)
                k--;
            if (!Py_UNICODE_ISSPACE(sf_cp(body + k, z - k)))
                break;
            z = k;
        }
        if (sf_put(&b, body + pos, a - pos) < 0)
            goto fail;
        if (z > a) {
            PyObject *in = sf_encode(mode, body + a, z - a), *r;
            const uchar *rp;
            Py_ssize_t rn, m;
            if (in == NULL)
                goto fail;
            r = PyObject_CallOneArg(inner, in);
            if (r == NULL) {
                Py_DECREF(in);
                out = sf_failed();
                goto done;
            }
            if (r == in) {
                Py_DECREF(r);
                Py_DECREF(in);
                if (sf_put(&b, body + a, z - a) < 0)
                    goto fail;
            } else {
                Py_DECREF(in);
                if (!PyBytes_Check(r)) {
                    Py_DECREF(r);
                    out = Py_None;
                    Py_INCREF(out);
                    goto done;
                }
                rp = (const uchar *)PyBytes_AS_STRING(r);
                rn = PyBytes_GET_SIZE(r);
                if (!(rn == nn && memcmp(rp, np, (size_t)nn) == 0)) {   /* NULL: an empty element */
                    if (rn > deccap) {
                        uchar *q = (uchar *)PyMem_Realloc(dec, (size_t)rn);
                        if (q == NULL) {
                            Py_DECREF(r);
                            PyErr_NoMemory();
                            goto fail;
                        }
                        dec = q;
                        deccap = rn;
                    }
                    m = sf_decode(mode, rp, rn, dec);
                    if (m < 0 || sf_put(&b, dec, m) < 0) {
                        Py_DECREF(r);
                        if (m < 0) {
                            out = Py_None;
                            Py_INCREF(out);
                            goto done;
                        }
                        goto fail;
                    }
                }
                Py_DECREF(r);
            }
        }
        if (sf_put(&b, body + z, end - z) < 0)
            goto fail;
        if (last)
            break;
        if (sf_put(&b, sp, sn) < 0)
            goto fail;
        pos = end + sn;
    }
    if (b.n == blen && (blen == 0 || memcmp(b.p, body, (size_t)blen) == 0)) {
        out = rawobj;
        Py_INCREF(out);
    } else {
        out = sf_encode(mode, b.p ? b.p : (const uchar *)"", b.n);
    }
    goto done;
fail:
    out = NULL;
done:
    PyMem_Free(b.p);
    PyMem_Free(dec);
    return out;
}

PyDoc_STRVAR(cum_pick_field_doc,
"cum_pick_field(state, mode, pool, cum, keep_empty, raw) -> object | None\n\n"
"pool[bisect.bisect_right(cum, x % cum[-1])] with x = int.from_bytes(d[:8], 'big'), d the\n"
"digest of a plain raw field's value (see prf_field; the state's digest is 8 bytes or more);\n"
"cum: the cumulative weights, ascending, as native uint64 (array('Q')), one per pool entry.\n"
"None when the field is not plain; raw itself for an empty value when keep_empty.");

static PyObject *
speedups_cum_pick_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uchar fbuf[FIELD_BUF];
    PyObject *pool, *cumobj, *rawobj, *r;
    const uchar *body;
    Py_ssize_t blen, n, lo, hi;
    int mode, keep_empty, i;
    b2_state s;
    uchar d[64];
    uint64_t x = 0, rem, cum[1];
    const char *cb;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "cum_pick_field takes 6 arguments");
        return NULL;
    }
    if (get_state(args[0], &s) < 0 || sf_mode(args[1], &mode) < 0)
        return NULL;
    pool = args[2];
    cumobj = args[3];
    keep_empty = PyObject_IsTrue(args[4]);
    if (keep_empty < 0)
        return NULL;
    rawobj = args[5];
    if (!PyTuple_Check(pool) || !PyBytes_Check(cumobj)) {
        PyErr_SetString(PyExc_TypeError, "cum_pick_field: pool is a tuple, cum bytes");
        return NULL;
    }
    n = PyTuple_GET_SIZE(pool);
    if (n < 1 || PyBytes_GET_SIZE(cumobj) != n * (Py_ssize_t)sizeof(uint64_t) || s.outlen < 8) {
        PyErr_SetString(PyExc_ValueError, "cum_pick_field: one weight per pool entry, a digest of 8 bytes or more");
        return NULL;
    }
    cb = PyBytes_AS_STRING(cumobj);
    memcpy(cum, cb + (n - 1) * sizeof(uint64_t), sizeof(uint64_t));
    if (cum[0] == 0) {
        PyErr_SetString(PyExc_ValueError, "cum_pick_field: the weights' total is 0");
        return NULL;
    }
    if (!PyBytes_CheckExact(rawobj)
        || !plain_field((const uchar *)PyBytes_AS_STRING(rawobj), PyBytes_GET_SIZE(rawobj), mode, fbuf, &body, &blen))
        Py_RETURN_NONE;
    if (blen == 0 && keep_empty) {
        Py_INCREF(rawobj);
        return rawobj;
    }
    b2_update(&s, body, blen);
    b2_final(&s, d);
    for (i = 0; i < 8; i++)
        x = (x << 8) | d[i];
    rem = x % cum[0];
    lo = 0;                    /* bisect_right: the first entry > rem */
    hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        uint64_t c;
        memcpy(&c, cb + mid * sizeof(uint64_t), sizeof c);
        if (rem < c)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo >= n)               /* cum not ascending: nothing to pick (the caller's general path) */
        Py_RETURN_NONE;
    r = PyTuple_GET_ITEM(pool, lo);
    Py_INCREF(r);
    return r;
}

/* the byte offset of code point k (k <= the number of code points) of valid UTF-8 */
static Py_ssize_t
sf_offset(const uchar *p, Py_ssize_t n, Py_ssize_t k)
{
    Py_ssize_t i = 0;
    while (k > 0 && i < n) {
        i += sf_seqlen(p[i]);
        k--;
    }
    return i;
}

static Py_ssize_t
sf_count(const uchar *p, Py_ssize_t n)
{
    Py_ssize_t i, k = 0;
    for (i = 0; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            k++;
    return k;
}

/* body[:hb] + fill * k + body[tb:], written as the dialect writes it; raw itself when that is
 * the value */
static PyObject *
sf_splice(int mode, PyObject *rawobj, const uchar *body, Py_ssize_t blen, Py_ssize_t hb, const uchar *fill,
          Py_ssize_t fn, Py_ssize_t k, Py_ssize_t tb)
{
    Py_ssize_t n = hb + fn * k + (blen - tb), i;
    uchar *v, *o;
    PyObject *out;
    if (fn == 0)
        n = hb + (blen - tb);
    v = (uchar *)PyMem_Malloc((size_t)(n ? n : 1));
    if (v == NULL)
        return PyErr_NoMemory();
    memcpy(v, body, (size_t)hb);
    o = v + hb;
    if (fn)
        for (i = 0; i < k; i++, o += fn)
            memcpy(o, fill, (size_t)fn);
    memcpy(o, body + tb, (size_t)(blen - tb));
    if (n == blen && memcmp(v, body, (size_t)n) == 0) {
        out = rawobj;
        Py_INCREF(out);
    } else {
        out = sf_encode(mode, v, n);
    }
    PyMem_Free(v);
    return out;
}

PyDoc_STRVAR(shape_field_doc,
"shape_field(mode, kind, a, b, fill, raw) -> bytes | None\n\n"
"A plain raw field's value (see prf_field) with some characters replaced by fill (the fill\n"
"character's UTF-8), written as the dialect writes it (raw itself when that is the value):\n"
"kind 1 `partial` (a: first, b: last), 2 `partial.email` (a: 1 keep the first character of\n"
"the local part), 3 `generalize.prefix` (a: length; fill may be empty): the characters as\n"
"their __call__ keeps them. None when the field is not plain.");

static PyObject *
speedups_shape_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uchar fbuf[FIELD_BUF];
    PyObject *fillobj, *rawobj;
    const uchar *body, *fill;
    Py_ssize_t blen, fn, a, b, n, hb, tb, k;
    int mode;
    long kind;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "shape_field takes 6 arguments");
        return NULL;
    }
    if (sf_mode(args[0], &mode) < 0)
        return NULL;
    kind = PyLong_AsLong(args[1]);
    a = PyLong_AsSsize_t(args[2]);
    b = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred())
        return NULL;
    fillobj = args[4];
    rawobj = args[5];
    if (kind < 1 || kind > 3 || a < 0 || b < 0 || a > ((Py_ssize_t)1 << 40) || b > ((Py_ssize_t)1 << 40)
        || !PyBytes_Check(fillobj)) {
        PyErr_SetString(PyExc_ValueError, "shape_field: kind 1-3, 0 <= a, b <= 2**40, fill bytes");
        return NULL;
    }
    fill = (const uchar *)PyBytes_AS_STRING(fillobj);
    fn = PyBytes_GET_SIZE(fillobj);
    if (!PyBytes_CheckExact(rawobj)
        || !plain_field((const uchar *)PyBytes_AS_STRING(rawobj), PyBytes_GET_SIZE(rawobj), mode, fbuf, &body, &blen))
        Py_RETURN_NONE;
    n = sf_count(body, blen);
    if (n == 0) {                  /* "" stays "" (each of them) */
        Py_INCREF(rawobj);
        return rawobj;
    }
    if (kind == 1) {               /* Partial.__call__ */
        if (n <= a + b) {
            hb = 0;
            k = n;
            tb = blen;
        } else {
            hb = sf_offset(body, blen, a);
            tb = sf_offset(body, blen, n - b);
            k = n - a - b;
        }
    } else if (kind == 2) {        /* PartialEmail.__call__: value.rpartition("@") */
        Py_ssize_t at = blen - 1, L;
        while (at >= 0 && body[at] != '@')
            at--;
        if (at < 0) {
            hb = 0;
            k = n;
            tb = blen;
        } else {
            L = sf_count(body, at);
            tb = at;
            if (a && L > 1) {
                hb = sf_seqlen(body[0]);
                k = L - 1;
            } else {
                hb = 0;
                k = L;
            }
        }
    } else {                       /* Prefix.__call__ */
        Py_ssize_t m = n < a ? n : a;
        hb = sf_offset(body, blen, m);
        k = n - m;
        tb = blen;
    }
    return sf_splice(mode, rawobj, body, blen, hb, fill, fn, k, tb);
}

/* is code point c in the set: items (kind, lo, hi) as uint32 triples, kind 0 the range lo-hi,
 * 1-6 a category of sre's Unicode str patterns (digit, not digit, space, not space, word,
 * not word) */
static int
sf_in_set(Py_UCS4 c, const uint32_t *items, Py_ssize_t nitems, int negate)
{
    Py_ssize_t i;
    int in = 0;
    for (i = 0; i < nitems && !in; i++) {
        const uint32_t *it = items + 3 * i;
        switch (it[0]) {
        case 0: in = c >= it[1] && c <= it[2]; break;
        case 1: in = Py_UNICODE_ISDECIMAL(c) != 0; break;
        case 2: in = !Py_UNICODE_ISDECIMAL(c); break;
        case 3: in = Py_UNICODE_ISSPACE(c) != 0; break;
        case 4: in = !Py_UNICODE_ISSPACE(c); break;
        case 5: in = Py_UNICODE_ISALNUM(c) || c == '_'; break;
        case 6: in = !(Py_UNICODE_ISALNUM(c) || c == '_'); break;
        }
    }
    return in != negate;
}

PyDoc_STRVAR(charsub_field_doc,
"charsub_field(mode, items, negate, plus, repl, limit, raw) -> bytes | None\n\n"
"re.sub of a one-character pattern (the set: items, negate; see sf_in_set) with a literal\n"
"replacement (repl: its UTF-8) on a plain raw field's value (see prf_field): each character in\n"
"the set (plus: each run of them) replaced by repl, written as the dialect writes it; raw\n"
"itself when that is the value (and for an empty one). None when the field is not plain, or\n"
"the new value has more than limit characters (>= 0): the general path's error.");

static PyObject *
speedups_charsub_field(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uchar fbuf[FIELD_BUF];
    PyObject *itemsobj, *replobj, *rawobj, *out;
    const uchar *body, *repl;
    const uint32_t *items;
    Py_ssize_t blen, rn, nitems, limit, i, o = 0, chars = 0, rchars, cap;
    int mode, negate, plus, prev = 0;
    uchar *v;
    uint32_t ibuf[3 * 64];
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "charsub_field takes 7 arguments");
        return NULL;
    }
    if (sf_mode(args[0], &mode) < 0)
        return NULL;
    itemsobj = args[1];
    negate = PyObject_IsTrue(args[2]);
    plus = PyObject_IsTrue(args[3]);
    replobj = args[4];
    limit = PyLong_AsSsize_t(args[5]);
    rawobj = args[6];
    if (negate < 0 || plus < 0 || (limit == -1 && PyErr_Occurred()))
        return NULL;
    if (!PyBytes_Check(itemsobj) || !PyBytes_Check(replobj) || PyBytes_GET_SIZE(itemsobj) % 12 != 0
        || PyBytes_GET_SIZE(itemsobj) > (Py_ssize_t)sizeof ibuf) {
        PyErr_SetString(PyExc_ValueError, "charsub_field: items (at most 64 uint32 triples) and repl are bytes");
        return NULL;
    }
    nitems = PyBytes_GET_SIZE(itemsobj) / 12;
    memcpy(ibuf, PyBytes_AS_STRING(itemsobj), (size_t)PyBytes_GET_SIZE(itemsobj));
    items = ibuf;
    repl = (const uchar *)PyBytes_AS_STRING(replobj);
    rn = PyBytes_GET_SIZE(replobj);
    rchars = sf_count(repl, rn);
    if (!PyBytes_CheckExact(rawobj)
        || !plain_field((const uchar *)PyBytes_AS_STRING(rawobj), PyBytes_GET_SIZE(rawobj), mode, fbuf, &body, &blen))
        Py_RETURN_NONE;
    if (blen == 0) {               /* Regex.__call__: "" stays "" */
        Py_INCREF(rawobj);
        return rawobj;
    }
    /* each character (one byte or more) stays or becomes repl */
    if (rn > 1 && blen > (PY_SSIZE_T_MAX - 4) / rn)
        Py_RETURN_NONE;
    cap = blen * (rn > 1 ? rn : 1) + 4;
    v = (uchar *)PyMem_Malloc((size_t)cap);
    if (v == NULL)
        return PyErr_NoMemory();
    for (i = 0; i < blen;) {
        Py_ssize_t len = sf_seqlen(body[i]);
        if (sf_in_set(sf_cp(body + i, len), items, nitems, negate)) {
            if (!(plus && prev)) {
                memcpy(v + o, repl, (size_t)rn);
                o += rn;
                chars += rchars;
            }
            prev = 1;
        } else {
            memcpy(v + o, body + i, (size_t)len);
            o += len;
            chars++;
            prev = 0;
        }
        i += len;
    }
    if (o == blen && memcmp(v, body, (size_t)o) == 0) {
        out = rawobj;
        Py_INCREF(out);
    } else if (limit >= 0 && chars > limit) {
        out = Py_None;             /* longer than the column: the general path raises */
        Py_INCREF(out);
    } else {
        out = sf_encode(mode, v, o);
    }
    PyMem_Free(v);
    return out;
}

PyDoc_STRVAR(memo_first_doc,
"memo_first(plain, slow, cache, cache_max, max_field, unchanged, raw) -> object\n\n"
"work.py's memo miss with a plain-field path first (_plain_first): r = plain(raw); slow(raw)\n"
"when r is None; else `unchanged` when r == raw, remembered in the dict cache (cleared when it\n"
"holds cache_max entries) when len(raw) <= max_field, and returned.");

static PyObject *
speedups_memo_first(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *plain, *slow, *cache, *unchanged, *raw, *r;
    Py_ssize_t cache_max, max_field, n;
    int eq;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "memo_first takes 7 arguments");
        return NULL;
    }
    plain = args[0];
    slow = args[1];
    cache = args[2];
    unchanged = args[5];
    raw = args[6];
    cache_max = PyLong_AsSsize_t(args[3]);
    max_field = PyLong_AsSsize_t(args[4]);
    if (PyErr_Occurred())
        return NULL;
    if (!PyDict_Check(cache)) {
        PyErr_SetString(PyExc_TypeError, "memo_first: cache is a dict");
        return NULL;
    }
    r = PyObject_CallOneArg(plain, raw);
    if (r == NULL)
        return NULL;
    if (r == Py_None) {
        Py_DECREF(r);
        return PyObject_CallOneArg(slow, raw);
    }
    if (r == raw)
        eq = 1;
    else if (PyBytes_CheckExact(r) && PyBytes_CheckExact(raw))
        eq = PyBytes_GET_SIZE(r) == PyBytes_GET_SIZE(raw)
            && memcmp(PyBytes_AS_STRING(r), PyBytes_AS_STRING(raw), (size_t)PyBytes_GET_SIZE(r)) == 0;
    else if ((eq = PyObject_RichCompareBool(r, raw, Py_EQ)) < 0) {
        Py_DECREF(r);
        return NULL;
    }
    if (eq) {
        Py_DECREF(r);
        r = unchanged;
        Py_INCREF(r);
    }
    n = PyObject_Length(raw);
    if (n < 0) {
        Py_DECREF(r);
        return NULL;
    }
    if (n <= max_field) {
        if (PyDict_GET_SIZE(cache) >= cache_max)
            PyDict_Clear(cache);
        if (PyDict_SetItem(cache, raw, r) < 0) {
            Py_DECREF(r);
            return NULL;
        }
    }
    return r;
}

/* ===================================================================== end of STRFIELD */

/* ------------------------------------------------------------------------------------------
 * Module
 * ---------------------------------------------------------------------------------------- */

/* ==========================================================================================
 * HEAP (area: workers): glibc's malloc told to keep freed blocks (mallopt), so the ~1 MB
 * buffers a run allocates and frees per block are reused instead of given back to the kernel
 * and faulted in (and cleared) again. Called by speedups.keep_heap; no import cost.
 * ======================================================================================== */
#if defined(__GLIBC__)
#include <malloc.h>
#endif

PyDoc_STRVAR(keep_heap_doc,
"keep_heap(mmap_threshold, trim_threshold) -> bool\n\n"
"glibc: mallopt(M_MMAP_THRESHOLD, mmap_threshold) then mallopt(M_TRIM_THRESHOLD,\n"
"trim_threshold); True when both took. False (nothing done) where the C library is not glibc.");

static PyObject *
speedups_keep_heap(PyObject *self, PyObject *args)
{
    int mmap_threshold, trim_threshold;
    if (!PyArg_ParseTuple(args, "ii:keep_heap", &mmap_threshold, &trim_threshold))
        return NULL;
#if defined(__GLIBC__)
    /* the mmap threshold first: setting either one stops glibc's own adjustment of both */
    return PyBool_FromLong(mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
                           && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1);
#else
    (void)mmap_threshold;
    (void)trim_threshold;
    Py_RETURN_FALSE;
#endif
}
/* ======================================================================== end of HEAP */

/* ==========================================================================================
 * WRITEBACK (area: outputs): a file output's pages handed to the disk while the run goes on
 * (Linux sync_file_range with SYNC_FILE_RANGE_WRITE: start the writes, do not wait for them),
 * so the fsync at commit waits for the last stretch only, not for the whole dump. Called by
 * speedups.start_writeback (atomic.AtomicFile). A hint: durability is the commit's fsync, and
 * a write error surfaces there (sync_file_range without its WAIT flags reports none).
 * ======================================================================================== */
#if defined(__linux__)
#include <fcntl.h>
#endif

PyDoc_STRVAR(start_writeback_doc,
"start_writeback(fd, offset) -> bool\n\n"
"Linux: sync_file_range(fd, offset, 0, SYNC_FILE_RANGE_WRITE), which starts writing the file's\n"
"dirty pages from offset to its end and returns without waiting; True when the call took.\n"
"False (nothing done) elsewhere, or when the file does not support it (a pipe).");

static PyObject *
speedups_start_writeback(PyObject *self, PyObject *args)
{
    int fd;
    long long offset;
    if (!PyArg_ParseTuple(args, "iL:start_writeback", &fd, &offset))
        return NULL;
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sync_file_range(fd, (off_t)offset, 0, SYNC_FILE_RANGE_WRITE);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(rc == 0);
#else
    (void)fd;
    (void)offset;
    Py_RETURN_FALSE;
#endif
}
/* =================================================================== end of WRITEBACK */

static PyMethodDef speedups_methods[] = {
    {"keep_heap", speedups_keep_heap, METH_VARARGS, keep_heap_doc},              /* workers: the heap */
    {"start_writeback", speedups_start_writeback, METH_VARARGS, start_writeback_doc},   /* outputs */
    {"body_end", speedups_body_end, METH_VARARGS, body_end_doc},
    {"tuple_spans", speedups_tuple_spans, METH_VARARGS, tuple_spans_doc},
    {"splice", speedups_splice, METH_VARARGS, splice_doc},
    {"copy_spans", speedups_copy_spans, METH_VARARGS, copy_spans_doc},
    {"copy_scan", speedups_copy_scan, METH_VARARGS, copy_scan_doc},
    {"count_nl", speedups_count_nl, METH_VARARGS, count_nl_doc},
    /* fakes */
    {"prf_state", speedups_prf_state, METH_VARARGS, prf_state_doc},
    {"prf_digest", speedups_prf_digest, METH_VARARGS, prf_digest_doc},
    {"prf_field", speedups_prf_field, METH_VARARGS, prf_field_doc},
    {"pick_field", speedups_pick_field, METH_VARARGS, pick_field_doc},
    {"assemble_field", speedups_assemble_field, METH_VARARGS, assemble_field_doc},
    {"plain_utf8", speedups_plain_utf8, METH_VARARGS, plain_utf8_doc},
    {"key_spans", speedups_key_spans, METH_VARARGS, key_spans_doc},   /* passes */
    {"vhash", speedups_vhash, METH_VARARGS, vhash_doc},               /* passes: verify */
    {"bloom_add", speedups_bloom_add, METH_VARARGS, bloom_add_doc},
    {"bloom_has", speedups_bloom_has, METH_VARARGS, bloom_has_doc},
    {"bloom_add_all", speedups_bloom_add_all, METH_VARARGS, bloom_add_all_doc},
    {"vtokens", speedups_vtokens, METH_VARARGS, vtokens_doc},
    {"learn_piece", speedups_learn_piece, METH_VARARGS, learn_piece_doc},
    {"search_piece", speedups_search_piece, METH_VARARGS, search_piece_doc},
    {"confirm_piece", speedups_confirm_piece, METH_VARARGS, confirm_piece_doc},
    {"probe_tokens", speedups_probe_tokens, METH_VARARGS, probe_tokens_doc},
#ifdef MUTATIONS_C
    {"fake_format", speedups_fake_format, METH_VARARGS, fake_format_doc},        /* mutations */
    {"fake_field", (PyCFunction)(void (*)(void))speedups_fake_field, METH_FASTCALL, fake_field_doc},
    {"text_key_field", (PyCFunction)(void (*)(void))speedups_text_key_field, METH_FASTCALL, text_key_field_doc},
    {"text_key_fields", (PyCFunction)(void (*)(void))speedups_text_key_fields, METH_FASTCALL, text_key_fields_doc},
    {"text_key_simd", (PyCFunction)(void (*)(void))speedups_text_key_simd, METH_FASTCALL, text_key_simd_doc},
#endif
    {"json_spans", speedups_json_spans, METH_VARARGS, json_spans_doc},         /* transformers: JSON */
    {"json_field", speedups_json_field, METH_VARARGS, json_field_doc},
    {"block_copy", speedups_block_copy, METH_VARARGS, block_copy_doc},         /* cloop: BLOCK */
    {"block_tuples", speedups_block_tuples, METH_VARARGS, block_tuples_doc},
    {"block_memo", speedups_block_memo, METH_NOARGS, block_memo_doc},
    {"num_field", (PyCFunction)(void (*)(void))speedups_num_field, METH_FASTCALL, num_field_doc},   /* NUMFAST */
    {"feistel_new", speedups_feistel_new, METH_VARARGS, feistel_new_doc},         /* remap: KEYS */
    {"feistel_int", (PyCFunction)(void (*)(void))speedups_feistel_int, METH_FASTCALL, feistel_int_doc},
    {"feistel_fill", speedups_feistel_fill, METH_O, feistel_fill_doc},
    {"feistel_full", speedups_feistel_full, METH_O, feistel_full_doc},
    {"key_int_new", speedups_key_int_new, METH_VARARGS, key_int_new_doc},
    {"key_int_field", (PyCFunction)(void (*)(void))speedups_key_int_field, METH_FASTCALL, key_int_field_doc},
    {"key_int_literal", (PyCFunction)(void (*)(void))speedups_key_int_literal, METH_FASTCALL, key_int_literal_doc},
    {"str_field", (PyCFunction)(void (*)(void))speedups_str_field, METH_FASTCALL, str_field_doc},   /* STRFIELD */
    {"list_field", (PyCFunction)(void (*)(void))speedups_list_field, METH_FASTCALL, list_field_doc},
    {"cum_pick_field", (PyCFunction)(void (*)(void))speedups_cum_pick_field, METH_FASTCALL, cum_pick_field_doc},
    {"shape_field", (PyCFunction)(void (*)(void))speedups_shape_field, METH_FASTCALL, shape_field_doc},
    {"charsub_field", (PyCFunction)(void (*)(void))speedups_charsub_field, METH_FASTCALL, charsub_field_doc},
    {"memo_first", (PyCFunction)(void (*)(void))speedups_memo_first, METH_FASTCALL, memo_first_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "dumpmask._speedups",
    "C scanners for mysqldump INSERT statements and PostgreSQL COPY data\n"
    "(see dumpmask.dialects.fast).",
    -1,
    speedups_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    init_tables();
    js_init_tables();
    return PyModule_Create(&speedups_module);
}

/* ==========================================================================================
 * BLOCK (area: cloop): the masked fields of a whole block in one call: the lines of a COPY
 * block (block_copy) or the tuples of a mysqldump INSERT (block_tuples) are walked in C, each
 * masked field is found, and its new bytes are written into the output. A column whose value
 * function is a C pick or assembly of the FAKES section (pick_field / assemble_field bound to
 * its arguments: the transformer's field_fast) has a *plain* field (plain_field) computed here
 * without a Python object; every other field (not plain, an empty head, a column without a C
 * path) goes the generated span loop's way: the column's memo, else its miss function (Python).
 * The pure twin is the path of dumpmask/work.py without these functions (copy_spans /
 * tuple_spans, span_masker, splice): the same bytes and counts (tests/test_block.py).
 * Fail closed: a field longer than BLK_HUGE (work.py's HUGE_FIELD: decoded in place there)
 * or an INSERT not in mysqldump's plain shape returns None before anything is written, and the
 * caller takes its usual path.
 * ========================================================================================== */

#define BLK_HUGE ((Py_ssize_t)1 << 20)

/* BLK_KEEP: a kept column; BLK_KEY: a remapped integer key (the KEYS section's segments). For
 * both, a field of plain ASCII digits (1-18) is done here as key_spans does it (kept, or
 * remapped when its segment is usable); any other field goes to the memo and the miss. */
enum { BLK_PY = 0, BLK_PICK = 1, BLK_ASSEMBLE = 2, BLK_KEEP = 3, BLK_KEY = 4, BLK_TKEY = 5 };
/* BLK_TKEY: a remapped text key (text_key_field bound to its state and mode). Before the
 * masking pass, the block's fields of the column that are not in its memo go through
 * text_key_fields' lanes together (blk_tkey_pass); the results go into the memo as memo_first
 * would put them, and the pass takes them from there. */

/* A column's memo of digests for the C path (a bytearray from block_memo(), kept by the
 * caller across blocks): a raw field seen before skips plain_field and the PRF. Two-way set
 * associative, one cache line a slot, keyed by the raw bytes (compared in full); only plain
 * fields are stored, each with the digest's first `need` bytes after it (raw + need <= 54). A
 * column whose values rarely repeat (fewer than 1 in 4 of its first BLK_MEMO_TRIAL lookups)
 * stops using it. Only a speed-up: a hit gives the digest the PRF gives. */
#define BLK_MEMO_SETS 1024
#define BLK_MEMO_DATA 54
#define BLK_MEMO_DG 32
#define BLK_MEMO_TRIAL 8192

typedef struct {
    uint64_t h;
    uint16_t len1;                   /* the raw field's length + 1 (0: empty slot) */
    uchar data[BLK_MEMO_DATA];       /* the raw field, then the digest's first bytes */
} blk_memo_slot;

/* The memo also holds the column's pool (pick) or heads (assembly) packed: entry i at
 * packed[i * stride], its length then its bytes, for one cache line read per pick instead of
 * the tuple's pointer and the bytes object (the picks are random). Packed once per memo, when
 * every entry is bytes (not the NULL object itself) of at most 63 bytes and they fit in
 * BLK_PACK_MAX; else the tuple. A memo is about 230 KB. */
#define BLK_PACK_MAX (2048 * 48)

typedef struct {
    uint64_t lookups, hits, off;
    uint64_t pool_id;                /* the pool packed (0: not yet tried) */
    uint32_t stride, npacked;        /* stride 0: not packable */
    uint64_t pad[3];                 /* the slots start on a cache line */
    blk_memo_slot slot[2 * BLK_MEMO_SETS];
    uchar packed[BLK_PACK_MAX];
} blk_memo;

typedef char blk_memo_slot_is_a_cache_line[sizeof(blk_memo_slot) == 64 ? 1 : -1];

/* the memo inside its bytearray: aligned to 64 bytes (the bytearray is 63 bytes longer) */
#define BLK_MEMO_BYTES ((Py_ssize_t)sizeof(blk_memo) + 63)

typedef struct {
    PyObject *cache, *miss;          /* borrowed from the cols tuple */
    int kind, mode, keep_empty, start, end, tail_at, sfx_len, need;
    b2_state st;
    PyObject *pool, *tails;          /* pick: pool; assemble: heads (in pool) and tails */
    const uchar *table;
    Py_ssize_t npool, ntails;
    Py_ssize_t changed, nulls;
    Py_buffer memobuf;               /* held while the call runs (the bytearray cannot resize) */
    blk_memo *memo;                  /* NULL: none */
    const uchar *packed;             /* the pool in the memo (NULL: use the tuple) */
    Py_ssize_t stride;
    key_segment *segs;               /* BLK_KEY: the key domain's segments (owned) */
    Py_ssize_t nsegs;
    long long maxv;                  /* BLK_KEY: the largest value written here (-1: none) */
    Py_ssize_t cache_max, max_field; /* BLK_TKEY: memo_first's bounds of the memo */
    PyObject **pre;                  /* BLK_TKEY: per row, its field's result (NULL: the usual way) */
    Py_ssize_t npre;
} blk_col;

/* plain_field in one pass for a field without a backslash (most of them): a byte class table per
 * mode (0 ordinary ASCII, 1 backslash, 2 never in a plain field, 3 the lead of UTF-8), the
 * UTF-8 checked as it goes; a backslash hands the field to plain_field itself (escapes). */
static uchar BLK_CLASS[2][256];
static int blk_class_ready;

static void
blk_class_init(void)
{
    int c, m;
    if (blk_class_ready)
        return;
    for (m = 0; m < 2; m++)
        for (c = 0; c < 256; c++)
            BLK_CLASS[m][c] = c >= 0x80 ? 3 : c == '\\' ? 1
                : (m == 0 ? c < 0x20 : (c == 0x00 || c == 0x0a || c == 0x0d || c == 0x1a || c == '\'' || c == '"')) ? 2
                : 0;
    blk_class_ready = 1;
}

static int
blk_plain(const uchar *raw, Py_ssize_t rn, int mode, uchar *buf, const uchar **body, Py_ssize_t *blen)
{
    const uchar *p = raw, *cls = BLK_CLASS[mode];
    Py_ssize_t n = rn, i = 0;
    if (mode == 1) {
        if (n < 2 || p[0] != '\'' || p[n - 1] != '\'')
            return 0;
        p++;
        n -= 2;
    }
    while (i < n) {
        uchar k = cls[p[i]];
        if (k == 0) {
            i++;
            continue;
        }
        if (k == 3) {
            Py_ssize_t len = utf8_multi(p, i, n);
            if (!len)
                return 0;
            i += len;
            continue;
        }
        if (k == 2)
            return 0;
        return plain_field(raw, rn, mode, buf, body, blen);   /* an escape */
    }
    *body = p;
    *blen = n;
    return 1;
}

/* a growable output buffer: the bytes object returned (resized to its length at the end) */
typedef struct {
    PyObject *obj;
    uchar *v;
    Py_ssize_t len, cap;
} blk_out;

static int
blk_reserve(blk_out *o, Py_ssize_t more)
{
    Py_ssize_t cap;
    if (o->cap - o->len >= more)
        return 0;
    cap = o->cap ? o->cap : 4096;
    while (cap - o->len < more) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    if (o->obj == NULL)
        o->obj = PyBytes_FromStringAndSize(NULL, cap);
    else if (_PyBytes_Resize(&o->obj, cap) < 0)
        o->obj = NULL;       /* freed by _PyBytes_Resize */
    if (o->obj == NULL)
        return -1;
    o->v = (uchar *)PyBytes_AS_STRING(o->obj);
    o->cap = cap;
    return 0;
}

static int
blk_write(blk_out *o, const void *p, Py_ssize_t n)
{
    if (n <= 0)
        return 0;
    if (blk_reserve(o, n) < 0)
        return -1;
    memcpy(o->v + o->len, p, (size_t)n);
    o->len += n;
    return 0;
}

/* the C path of a column from its spec: None (Python only), or (1, state, mode, pool, start,
 * end, keep_empty) = pick_field's arguments, or (2, state, mode, keep_empty, heads, start,
 * end, tails, tail_at, sfx_len, table) = assemble_field's. Arguments pick_field/assemble_field
 * would refuse, or another mode than the block's, leave the column to Python (whose call of the
 * same function then raises as before). */
static void
blk_col_fast(blk_col *c, PyObject *spec, int mode)
{
    Py_ssize_t n;
    int kind;
    c->kind = BLK_PY;
    c->maxv = -1;
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 1 || !PyLong_Check(PyTuple_GET_ITEM(spec, 0)))
        return;
    kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    if (kind == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return;
    }
    n = PyTuple_GET_SIZE(spec);
    c->maxv = -1;
    if (kind == BLK_KEEP && n == 1) {
        c->kind = BLK_KEEP;
        return;
    }
    if (kind == BLK_KEY && n == 2) {
        if (key_segments_load(PyTuple_GET_ITEM(spec, 1), &c->segs, &c->nsegs) < 0) {
            PyErr_Clear();
            c->segs = NULL;
            c->nsegs = 0;
            return;
        }
        c->kind = BLK_KEY;
        return;
    }
#ifdef MUTATIONS_C
    if (kind == BLK_TKEY && n == 5) {
        PyObject *st;
        if (!PyArg_ParseTuple(spec, "iOinn", &kind, &st, &c->mode, &c->cache_max, &c->max_field)) {
            PyErr_Clear();
            return;
        }
        if (tk_base_arg(st, &c->st, "block") < 0) {
            PyErr_Clear();
            return;
        }
        if (c->mode == mode && c->cache_max > 0)
            c->kind = BLK_TKEY;
        return;
    }
#endif
    if (kind == BLK_PICK && n == 7) {
        PyObject *st;
        if (!PyArg_ParseTuple(spec, "iOiO!iip", &kind, &st, &c->mode, &PyTuple_Type, &c->pool, &c->start,
                              &c->end, &c->keep_empty)) {
            PyErr_Clear();
            return;
        }
        if (get_state(st, &c->st) < 0) {
            PyErr_Clear();
            return;
        }
        c->npool = PyTuple_GET_SIZE(c->pool);
        if (c->mode != mode || c->npool < 1 || c->start < 0 || c->end <= c->start || c->end - c->start > 8
            || (uint32_t)c->end > c->st.outlen)
            return;
        c->kind = BLK_PICK;
        c->need = c->end;
    } else if (kind == BLK_ASSEMBLE && n == 11) {
        PyObject *st, *table;
        if (!PyArg_ParseTuple(spec, "iOipO!iiO!iiS", &kind, &st, &c->mode, &c->keep_empty, &PyTuple_Type, &c->pool,
                              &c->start, &c->end, &PyTuple_Type, &c->tails, &c->tail_at, &c->sfx_len, &table)) {
            PyErr_Clear();
            return;
        }
        if (get_state(st, &c->st) < 0) {
            PyErr_Clear();
            return;
        }
        c->npool = PyTuple_GET_SIZE(c->pool);
        c->ntails = PyTuple_GET_SIZE(c->tails);
        if (c->mode != mode || c->npool < 1 || c->ntails < 1 || c->start < 0 || c->end <= c->start
            || c->end - c->start > 8 || (uint32_t)c->end > c->st.outlen || c->tail_at < 0
            || (uint32_t)c->tail_at >= c->st.outlen || c->sfx_len < 0 || (uint32_t)c->sfx_len > c->st.outlen
            || PyBytes_GET_SIZE(table) != 256)
            return;
        c->table = (const uchar *)PyBytes_AS_STRING(table);
        c->kind = BLK_ASSEMBLE;
        c->need = c->end;
        if (c->tail_at + 1 > c->need)
            c->need = c->tail_at + 1;
        if (c->sfx_len > c->need)
            c->need = c->sfx_len;
    }
}

/* c->pool packed into the memo (once per memo), when it can be */
static void
blk_pack(blk_col *c, PyObject *null)
{
    blk_memo *m = c->memo;
    Py_ssize_t i, maxlen = 0, stride;
    if (m == NULL)
        return;
    if (m->pool_id != (uint64_t)(uintptr_t)c->pool) {
        m->pool_id = (uint64_t)(uintptr_t)c->pool;
        m->stride = 0;
        m->npacked = 0;
        for (i = 0; i < c->npool; i++) {
            PyObject *it = PyTuple_GET_ITEM(c->pool, i);
            if (!PyBytes_CheckExact(it) || it == null || PyBytes_GET_SIZE(it) > 63)
                return;
            if (PyBytes_GET_SIZE(it) > maxlen)
                maxlen = PyBytes_GET_SIZE(it);
        }
        stride = (maxlen + 1 + 15) & ~(Py_ssize_t)15;
        if (c->npool > BLK_PACK_MAX / stride)
            return;
        for (i = 0; i < c->npool; i++) {
            PyObject *it = PyTuple_GET_ITEM(c->pool, i);
            uchar *e = m->packed + i * stride;
            e[0] = (uchar)PyBytes_GET_SIZE(it);
            memcpy(e + 1, PyBytes_AS_STRING(it), (size_t)PyBytes_GET_SIZE(it));
        }
        m->stride = (uint32_t)stride;
        m->npacked = (uint32_t)c->npool;
    }
    if (m->stride && m->npacked == (uint32_t)c->npool) {
        c->packed = m->packed;
        c->stride = m->stride;
    }
}

static void
blk_cols_free(blk_col *c, Py_ssize_t k)
{
    Py_ssize_t i;
    if (c == NULL)
        return;
    for (i = 0; i < k; i++) {
        if (c[i].memo != NULL)
            PyBuffer_Release(&c[i].memobuf);
        if (c[i].segs != NULL) {
            key_segments_release(c[i].segs, c[i].nsegs);
            PyMem_Free(c[i].segs);
        }
        if (c[i].pre != NULL) {
            Py_ssize_t r;
            for (r = 0; r < c[i].npre; r++)
                Py_XDECREF(c[i].pre[r]);
            PyMem_Free(c[i].pre);
        }
    }
    PyMem_Free(c);
}

/* cols: a sequence of (cache, miss, spec, memo) per masked column (memo: a bytearray from
 * block_memo(), or None); -1 with an exception set */
static int
blk_cols_load(PyObject *cols, int mode, PyObject *null, PyObject **fast_out, blk_col **out, Py_ssize_t *nout)
{
    PyObject *fast = PySequence_Fast(cols, "block: cols must be a sequence");
    Py_ssize_t k, i;
    blk_col *c;
    if (fast == NULL)
        return -1;
    blk_class_init();
    k = PySequence_Fast_GET_SIZE(fast);
    c = (blk_col *)PyMem_Calloc(k ? (size_t)k : 1, sizeof(blk_col));
    if (c == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < k; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(fast, i);
        PyObject *memo;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 4 || !PyDict_Check(PyTuple_GET_ITEM(t, 0))
            || !PyCallable_Check(PyTuple_GET_ITEM(t, 1))) {
            PyErr_SetString(PyExc_TypeError, "block: a column is (cache dict, miss, spec, memo)");
            blk_cols_free(c, i);
            Py_DECREF(fast);
            return -1;
        }
        c[i].cache = PyTuple_GET_ITEM(t, 0);
        c[i].miss = PyTuple_GET_ITEM(t, 1);
        blk_col_fast(&c[i], PyTuple_GET_ITEM(t, 2), mode);
        memo = PyTuple_GET_ITEM(t, 3);
        if ((c[i].kind == BLK_PICK || c[i].kind == BLK_ASSEMBLE) && c[i].need <= BLK_MEMO_DG
            && PyByteArray_CheckExact(memo)) {
            if (PyObject_GetBuffer(memo, &c[i].memobuf, PyBUF_WRITABLE) < 0) {
                blk_cols_free(c, i);
                Py_DECREF(fast);
                return -1;
            }
            if (c[i].memobuf.len == BLK_MEMO_BYTES) {
                c[i].memo = (blk_memo *)(((uintptr_t)c[i].memobuf.buf + 63) & ~(uintptr_t)63);
                blk_pack(&c[i], null);
            } else {
                PyBuffer_Release(&c[i].memobuf);
            }
        }
    }
    *fast_out = fast;
    *out = c;
    *nout = k;
    return 0;
}

static inline int
blk_same(const uchar *a, Py_ssize_t na, const uchar *b, Py_ssize_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na) == 0);
}

/* The C path of one plain field: 1 when its new bytes are written (counted), 0 when the field
 * is not for C (the caller's Python path), -1 on error. */
static inline uint64_t
blk_hash(const uchar *p, Py_ssize_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 29;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, p + i, (size_t)(n - i));
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
    }
    h ^= h >> 32;
    h *= 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
}

static int
blk_fast_field(blk_col *c, const uchar *raw, Py_ssize_t rlen, blk_out *o, PyObject *null)
{
    uchar fbuf[FIELD_BUF];
    uchar dbuf[64];
    const uchar *body, *w, *dg = dbuf, *ibytes;
    Py_ssize_t blen, at, wl, ilen;
    uint64_t x = 0, h = 0;
    b2_state s;
    PyObject *item;
    blk_memo_slot *set = NULL;
    int i, way;
    blk_memo *memo = c->memo;
    if (memo != NULL && !memo->off && rlen + c->need <= BLK_MEMO_DATA) {
        h = blk_hash(raw, rlen);
        set = &memo->slot[2 * (h & (BLK_MEMO_SETS - 1))];
        memo->lookups++;
        for (way = 0; way < 2; way++)
            if (set[way].len1 == (uint16_t)(rlen + 1) && set[way].h == h
                && memcmp(set[way].data, raw, (size_t)rlen) == 0) {
                memo->hits++;
                dg = set[way].data + rlen;   /* stored only for a plain field with a value to mask */
                goto have_digest;
            }
        if (memo->lookups >= BLK_MEMO_TRIAL && memo->hits * 4 < memo->lookups)
            memo->off = 1;      /* rarely a repeat: not worth it for this column */
    }
    if (!blk_plain(raw, rlen, c->mode, fbuf, &body, &blen))
        return 0;
    if (blen == 0 && c->keep_empty) {
        /* raw itself: unchanged (a NULL field is never plain, so no NULL to count) */
        if (blk_write(o, raw, rlen) < 0)
            return -1;
        if (PyBytes_GET_SIZE(null) == rlen && memcmp(PyBytes_AS_STRING(null), raw, (size_t)rlen) == 0)
            c->nulls++;
        return 1;
    }
    s = c->st;
    b2_update(&s, body, blen);
    b2_final(&s, dbuf);
    if (set != NULL) {
        /* the newest in way 0, the one it displaces in way 1 */
        set[1] = set[0];
        set[0].h = h;
        set[0].len1 = (uint16_t)(rlen + 1);
        memcpy(set[0].data, raw, (size_t)rlen);
        memcpy(set[0].data + rlen, dbuf, (size_t)c->need);
    }
have_digest:
    for (i = c->start; i < c->end; i++)
        x = (x << 8) | dg[i];
    x %= (uint64_t)c->npool;
    if (c->packed != NULL) {
        const uchar *e = c->packed + (Py_ssize_t)x * c->stride;
        item = NULL;                /* never the NULL object (see blk_pack) */
        ibytes = e + 1;
        ilen = e[0];
    } else {
        item = PyTuple_GET_ITEM(c->pool, (Py_ssize_t)x);
        if (!PyBytes_CheckExact(item))
            return 0;
        ibytes = (const uchar *)PyBytes_AS_STRING(item);
        ilen = PyBytes_GET_SIZE(item);
    }
    at = o->len;
    if (c->kind == BLK_PICK) {
        if (blk_write(o, ibytes, ilen) < 0)
            return -1;
    } else {
        PyObject *tail = PyTuple_GET_ITEM(c->tails, (Py_ssize_t)(dg[c->tail_at] % (uint64_t)c->ntails));
        Py_ssize_t hl = ilen, tl;
        uchar *p;
        if (hl == 0 || !PyBytes_CheckExact(tail))
            return 0;
        tl = PyBytes_GET_SIZE(tail);
        if (blk_reserve(o, hl + c->sfx_len + tl) < 0)
            return -1;
        p = o->v + o->len;
        memcpy(p, ibytes, (size_t)hl);
        for (i = 0; i < c->sfx_len; i++)
            p[hl + i] = c->table[dg[i]];
        memcpy(p + hl + c->sfx_len, PyBytes_AS_STRING(tail), (size_t)tl);
        o->len += hl + c->sfx_len + tl;
    }
    w = o->v + at;
    wl = o->len - at;
    if (blk_same(w, wl, raw, rlen)) {
        /* the same bytes as the original: UNCHANGED (as _plain_first makes it) */
        if (PyBytes_GET_SIZE(null) == rlen && memcmp(PyBytes_AS_STRING(null), raw, (size_t)rlen) == 0)
            c->nulls++;
    } else {
        c->changed++;
        if (c->kind == BLK_PICK && item == null)
            c->nulls++;
    }
    return 1;
}

/* One masked field d[s:e]: the C path, else the memo, else the miss; its new bytes (or the
 * original ones) are written and counted like the generated span loop does. -1 on error. */
static int
blk_field(blk_col *c, const uchar *d, Py_ssize_t s, Py_ssize_t e, blk_out *o, PyObject *unchanged,
          PyObject *null, PyObject *pre)
{
    PyObject *raw = NULL, *r;
    int done;
    if (pre != NULL) {      /* BLK_TKEY: the result blk_tkey_pass found (a reference taken over) */
        r = pre;
        goto have_result;
    }
    if (c->kind == BLK_KEEP || c->kind == BLK_KEY) {
        Py_ssize_t p;
        long long x = 0;
        if (e - s >= 1 && e - s <= 18) {
            for (p = s; p < e && d[p] >= '0' && d[p] <= '9'; p++)
                x = x * 10 + (d[p] - '0');
            if (p == e) {
                if (c->kind == BLK_KEEP)
                    return blk_write(o, d + s, e - s) < 0 ? -1 : 1;
                x = key_map(c->segs, c->nsegs, x);
                if (x >= 0) {
                    char tmp[32];
                    int len = snprintf(tmp, sizeof tmp, "%lld", x);
                    if (blk_write(o, tmp, len) < 0)
                        return -1;
                    c->changed++;
                    if (x > c->maxv)
                        c->maxv = x;
                    return 1;
                }
            }
        }
    } else if (c->kind == BLK_PICK || c->kind == BLK_ASSEMBLE) {
        done = blk_fast_field(c, d + s, e - s, o, null);
        if (done != 0)
            return done;
    }
    raw = PyBytes_FromStringAndSize((const char *)d + s, e - s);
    if (raw == NULL)
        return -1;
    r = PyDict_GetItemWithError(c->cache, raw);
    if (r != NULL) {
        Py_INCREF(r);
    } else if (PyErr_Occurred()) {
        Py_DECREF(raw);
        return -1;
    } else {
        r = PyObject_CallOneArg(c->miss, raw);
        if (r == NULL) {
            Py_DECREF(raw);
            return -1;
        }
    }
have_result:
    if (r == unchanged) {
        if (e - s == PyBytes_GET_SIZE(null) && memcmp(d + s, PyBytes_AS_STRING(null), (size_t)(e - s)) == 0)
            c->nulls++;
        done = blk_write(o, d + s, e - s);
    } else {
        c->changed++;
        if (r == null)
            c->nulls++;
        /* splice keeps the original bytes for a replacement that is not bytes */
        if (PyBytes_Check(r))
            done = blk_write(o, PyBytes_AS_STRING(r), PyBytes_GET_SIZE(r));
        else
            done = blk_write(o, d + s, e - s);
    }
    Py_DECREF(r);
    Py_XDECREF(raw);
    return done;
}

#ifdef MUTATIONS_C
/* Column j (BLK_TKEY) of the block: each field found in the memo, or (the first time it
 * appears) plain enough for text_key_field, gets its result into c->pre[row] before the
 * masking pass; the new ones go through the lanes together and into the memo as memo_first
 * puts them (UNCHANGED when the same bytes; remembered up to max_field bytes, the memo cleared
 * when it holds cache_max). Every other field (not plain, too long, seen twice in the block)
 * is left to the usual way: the memo, then the miss. -1 on error. */
static int
blk_tkey_pass(const uchar *d, const offsets *offs, blk_col *c, Py_ssize_t k, Py_ssize_t j, PyObject *unchanged)
{
    Py_ssize_t rows = offs->len / 2 / k, r, nq = 0, q;
    PyObject **pre, **qraw, **qout;
    Py_ssize_t *qrow, *seen;        /* seen: open addressing over the queue (index + 1; 0 empty) */
    size_t m = rows ? (size_t)rows : 1, nseen = 16;
    int rc = -1;
    while (nseen < 2 * m)
        nseen *= 2;
    pre = (PyObject **)PyMem_Calloc(m, sizeof(PyObject *));
    qraw = (PyObject **)PyMem_Calloc(m, sizeof(PyObject *));
    qout = (PyObject **)PyMem_Calloc(m, sizeof(PyObject *));
    qrow = (Py_ssize_t *)PyMem_Calloc(m, sizeof(Py_ssize_t));
    seen = (Py_ssize_t *)PyMem_Calloc(nseen, sizeof(Py_ssize_t));
    if (pre == NULL || qraw == NULL || qout == NULL || qrow == NULL || seen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (r = 0; r < rows; r++) {
        Py_ssize_t s = offs->v[2 * (r * k + j)], e = offs->v[2 * (r * k + j) + 1];
        PyObject *raw, *hit;
        size_t slot;
        if (e - s > 2 * FIELD_BUF + 2)
            continue;               /* never a plain field text_key_field takes */
        raw = PyBytes_FromStringAndSize((const char *)d + s, e - s);
        if (raw == NULL)
            goto done;
        hit = PyDict_GetItemWithError(c->cache, raw);
        if (hit != NULL) {
            Py_INCREF(hit);
            pre[r] = hit;
            Py_DECREF(raw);
            continue;
        }
        if (PyErr_Occurred()) {
            Py_DECREF(raw);
            goto done;
        }
        for (slot = (size_t)blk_hash(d + s, e - s) & (nseen - 1); seen[slot]; slot = (slot + 1) & (nseen - 1)) {
            PyObject *o = qraw[seen[slot] - 1];
            if (blk_same((const uchar *)PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o), d + s, e - s))
                break;
        }
        if (seen[slot]) {           /* already queued: this one goes the usual way (the memo) */
            Py_DECREF(raw);
            continue;
        }
        seen[slot] = nq + 1;
        qraw[nq] = raw;
        qrow[nq++] = r;
    }
    if (tkb_all(&c->st, c->mode, qraw, nq, qout) < 0)
        goto done;
    for (q = 0; q < nq; q++) {
        PyObject *out = qout[q], *raw = qraw[q];
        if (out == NULL)
            continue;               /* not plain: the usual way */
        if (out == raw || (PyBytes_GET_SIZE(out) == PyBytes_GET_SIZE(raw)
                           && memcmp(PyBytes_AS_STRING(out), PyBytes_AS_STRING(raw), (size_t)PyBytes_GET_SIZE(raw)) == 0)) {
            Py_DECREF(out);
            Py_INCREF(unchanged);
            out = unchanged;
        }
        qout[q] = NULL;
        pre[qrow[q]] = out;
        if (PyBytes_GET_SIZE(raw) <= c->max_field) {
            if (PyDict_GET_SIZE(c->cache) >= c->cache_max)
                PyDict_Clear(c->cache);
            if (PyDict_SetItem(c->cache, raw, out) < 0)
                goto done;
        }
    }
    c->pre = pre;
    c->npre = rows;
    pre = NULL;
    rc = 0;
done:
    for (q = 0; q < nq; q++) {
        Py_DECREF(qraw[q]);
        Py_XDECREF(qout[q]);
    }
    if (pre != NULL) {
        for (r = 0; r < rows; r++)
            Py_XDECREF(pre[r]);
        PyMem_Free(pre);
    }
    PyMem_Free(qraw);
    PyMem_Free(qout);
    PyMem_Free(qrow);
    PyMem_Free(seen);
    return rc;
}
#endif

/* (bytes, rows, counts): counts = (changed, nulls) per column, flat, then per column the
 * largest key value written in C (-1: none; only BLK_KEY columns write any) */
static PyObject *
blk_result(blk_out *o, Py_ssize_t rows, blk_col *c, Py_ssize_t k)
{
    PyObject *counts = PyTuple_New(3 * k), *data, *res;
    Py_ssize_t i;
    if (counts == NULL)
        return NULL;
    for (i = 0; i < k; i++) {
        PyObject *m = PyLong_FromLongLong(c[i].maxv);
        if (m == NULL) {
            Py_DECREF(counts);
            return NULL;
        }
        PyTuple_SET_ITEM(counts, 2 * k + i, m);
    }
    for (i = 0; i < k; i++) {
        PyObject *a = PyLong_FromSsize_t(c[i].changed), *b = PyLong_FromSsize_t(c[i].nulls);
        if (a == NULL || b == NULL) {
            Py_XDECREF(a);
            Py_XDECREF(b);
            Py_DECREF(counts);
            return NULL;
        }
        PyTuple_SET_ITEM(counts, 2 * i, a);
        PyTuple_SET_ITEM(counts, 2 * i + 1, b);
    }
    if (o->obj == NULL && blk_reserve(o, 1) < 0) {
        Py_DECREF(counts);
        return NULL;
    }
    data = o->obj;          /* taken from o */
    o->obj = NULL;
    if (_PyBytes_Resize(&data, o->len) < 0) {
        Py_DECREF(counts);
        return NULL;
    }
    res = Py_BuildValue("(NnN)", data, rows, counts);   /* N: steals data and counts */
    return res;
}

/* The masking pass over the flat (start, end) pairs of offs, k fields per row, in column order:
 * the bytes between fields as they are, each field through blk_field. */
static PyObject *
blk_mask(const uchar *d, Py_ssize_t n, const offsets *offs, blk_col *c, Py_ssize_t k, Py_ssize_t rows,
         PyObject *unchanged, PyObject *null)
{
    blk_out o = {NULL, NULL, 0, 0};
    Py_ssize_t i, prev = 0;
    PyObject *res = NULL;
#ifdef MUTATIONS_C
    for (i = 0; i < k; i++)
        if (c[i].kind == BLK_TKEY && blk_tkey_pass(d, offs, &c[i], k, i, unchanged) < 0)
            return NULL;
#endif
    if (blk_reserve(&o, n + n / 4 + 64) < 0)
        return NULL;
    for (i = 0; i < offs->len; i += 2) {
        Py_ssize_t s = offs->v[i], e = offs->v[i + 1];
        blk_col *cc = &c[(i / 2) % k];
        PyObject *pre = NULL;
        if (cc->pre != NULL) {
            pre = cc->pre[(i / 2) / k];
            cc->pre[(i / 2) / k] = NULL;
        }
        if (blk_write(&o, d + prev, s - prev) < 0) {
            Py_XDECREF(pre);
            goto done;
        }
        if (blk_field(cc, d, s, e, &o, unchanged, null, pre) < 0)
            goto done;
        prev = e;
    }
    if (blk_write(&o, d + prev, n - prev) < 0)
        goto done;
    res = blk_result(&o, rows, c, k);
done:
    Py_XDECREF(o.obj);
    return res;
}

/* idxs: the masked columns, strictly ascending, each < ncols, one per column of cols */
static int
blk_idxs(PyObject *idxs, Py_ssize_t ncols, Py_ssize_t k, Py_ssize_t **out)
{
    PyObject *fast = PySequence_Fast(idxs, "block: idxs must be a sequence");
    Py_ssize_t i, *v;
    if (fast == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(fast) != k || k < 1) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "block: one index per column, at least one");
        return -1;
    }
    v = PyMem_New(Py_ssize_t, k);
    if (v == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < k; i++) {
        v[i] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(fast, i));
        if (v[i] == -1 && PyErr_Occurred())
            goto fail;
        if (v[i] < 0 || v[i] >= ncols || (i > 0 && v[i] <= v[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "block: idxs must be ascending column indexes below ncols");
            goto fail;
        }
    }
    Py_DECREF(fast);
    *out = v;
    return 0;
fail:
    Py_DECREF(fast);
    PyMem_Free(v);
    return -1;
}

static PyObject *
speedups_block_copy(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    PyObject *idxs, *cols, *unchanged, *null, *cfast = NULL, *res = NULL;
    Py_ssize_t ncols, k = 0, pos, n, line = 0, *masked = NULL;
    offsets offs = {NULL, 0, 0};
    blk_col *c = NULL;
    const uchar *d;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*nOOOS:block_copy", &buf, &ncols, &idxs, &cols, &unchanged, &null))
        return NULL;
    if (ncols < 1) {
        PyErr_SetString(PyExc_ValueError, "block_copy: ncols must be >= 1");
        goto done;
    }
    if (blk_cols_load(cols, 0, null, &cfast, &c, &k) < 0 || blk_idxs(idxs, ncols, k, &masked) < 0)
        goto done;
    d = (const uchar *)buf.buf;
    n = buf.len;
    /* pass 1 (copy_spans): the masked fields' offsets; a bad line before anything is masked */
    pos = 0;
    while (pos < n) {
        const uchar *nl = (const uchar *)memchr(d + pos, '\n', (size_t)(n - pos));
        Py_ssize_t eol = nl ? (Py_ssize_t)(nl - d) : n;
        Py_ssize_t s = pos, f = 0, m = 0;
        for (;;) {
            const uchar *tab = s < eol ? (const uchar *)memchr(d + s, '\t', (size_t)(eol - s)) : NULL;
            Py_ssize_t e = tab ? (Py_ssize_t)(tab - d) : eol;
            if (m < k && masked[m] == f) {
                if (e - s > BLK_HUGE) {
                    res = Py_None;
                    Py_INCREF(res);
                    goto done;
                }
                if (offsets_push2(&offs, s, e) < 0)
                    goto done;
                m++;
            }
            f++;
            if (tab == NULL)
                break;
            if (f >= ncols)
                goto bad_line;
            s = e + 1;
        }
        if (f != ncols)
            goto bad_line;
        line++;
        pos = eol + 1;
    }
    /* pass 2: masked */
    res = blk_mask(d, n, &offs, c, k, line, unchanged, null);
    goto done;
bad_line:
    res = PyLong_FromSsize_t(line);
done:
    PyMem_Free(offs.v);
    PyMem_Free(masked);
    blk_cols_free(c, k);
    Py_XDECREF(cfast);
    PyBuffer_Release(&buf);
    return res;
}

static PyObject *
speedups_block_tuples(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    PyObject *idxs, *cols, *unchanged, *null, *cfast = NULL, *res = NULL;
    Py_ssize_t start, ncols, k = 0, pos, n, lim, rows = 0, *masked = NULL;
    offsets offs = {NULL, 0, 0};
    blk_col *c = NULL;
    const uchar *d;
    int ok = 0;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*nnOOOS:block_tuples", &buf, &start, &ncols, &idxs, &cols, &unchanged, &null))
        return NULL;
    if (ncols < 1) {
        PyErr_SetString(PyExc_ValueError, "block_tuples: ncols must be >= 1");
        goto done;
    }
    if (blk_cols_load(cols, 1, null, &cfast, &c, &k) < 0 || blk_idxs(idxs, ncols, k, &masked) < 0)
        goto done;
    d = (const uchar *)buf.buf;
    n = buf.len;
    /* pass 1 (tuple_spans): the masked fields' offsets */
    pos = clamp_pos(start, n);
    for (;;) {
        Py_ssize_t p, f, m = 0;
        if (pos >= n || d[pos] != '(')
            goto plain_python;
        p = pos + 1;
        for (f = 0; f < ncols; f++) {
            Py_ssize_t e = field_end(d, n, p);
            if (e < 0)
                goto plain_python;
            if (m < k && masked[m] == f) {
                if (e - p > BLK_HUGE)
                    goto plain_python;
                if (offsets_push2(&offs, p, e) < 0)
                    goto done;
                m++;
            }
            p = e;
            if (f + 1 < ncols) {
                if (p >= n || d[p] != ',')
                    goto plain_python;
                p++;
            }
        }
        if (p >= n || d[p] != ')')
            goto plain_python;
        rows++;
        pos = p + 1;
        if (pos < n && d[pos] == ',') {
            pos++;
            while (pos < n && (d[pos] == ' ' || d[pos] == '\t' || d[pos] == '\r' || d[pos] == '\n'))
                pos++;
            continue;
        }
        break;
    }
    lim = (n - pos > 64) ? pos + 64 : n;
    while (pos < lim && IS_SPACE[d[pos]])
        pos++;
    if (pos < lim && d[pos] == ';')
        ok = 1;
    else if (lim - pos >= 2 && (d[pos] | 0x20) == 'o' && (d[pos + 1] | 0x20) == 'n')
        ok = 1;
    if (!ok)
        goto plain_python;
    /* pass 2: masked */
    res = blk_mask(d, n, &offs, c, k, rows, unchanged, null);
    goto done;
plain_python:
    res = Py_None;
    Py_INCREF(res);
done:
    PyMem_Free(offs.v);
    PyMem_Free(masked);
    blk_cols_free(c, k);
    Py_XDECREF(cfast);
    PyBuffer_Release(&buf);
    return res;
}

static PyObject *
speedups_block_memo(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    PyObject *memo = PyByteArray_FromStringAndSize(NULL, BLK_MEMO_BYTES);
    if (memo != NULL)
        memset(PyByteArray_AS_STRING(memo), 0, (size_t)BLK_MEMO_BYTES);
    return memo;
}

/* ======================================================================== end of BLOCK */
