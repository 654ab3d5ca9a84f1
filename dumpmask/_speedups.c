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

#include <stdlib.h>
#include <string.h>

typedef unsigned char uchar;

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

static Py_ssize_t
body_end_impl(const uchar *d, Py_ssize_t n, Py_ssize_t i)
{
    for (;;) {
        Py_ssize_t e;
        while (i < n && !BODY_STOP[d[i]])
            i++;
        if (i >= n)
            return n;
        switch (d[i]) {
        case '\'':
            e = sq_end(d, n, i);
            break;
        case '"':
            e = dq_end(d, n, i);
            break;
        case '`':
            e = bt_end(d, n, i);
            break;
        case '/':
            if (i + 1 < n && d[i + 1] == '*')
                return i;
            e = i + 1;
            break;
        case '-':
            if (i + 1 < n && d[i + 1] == '-')
                return i;
            e = i + 1;
            break;
        default: /* ';' '#' */
            return i;
        }
        if (e < 0)
            return i; /* unterminated string / identifier: stop at its opening quote */
        i = e;
    }
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
    while (i < n) {
        unsigned long long w = 0;
        int b;
        for (b = 0; b < 8 && i + b < n; b++)
            w |= (unsigned long long)d[i + b] << (8 * b);
        h = vh_rotl((h ^ (w * VH_P3)) * VH_P2, 29);
        i += 8;
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
    uchar *blk = bits + 64 * ((h >> 32) % nblocks);
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

/* ------------------------------------------------------------------------------------------
 * Module
 * ---------------------------------------------------------------------------------------- */

static PyMethodDef speedups_methods[] = {
    {"body_end", speedups_body_end, METH_VARARGS, body_end_doc},
    {"tuple_spans", speedups_tuple_spans, METH_VARARGS, tuple_spans_doc},
    {"splice", speedups_splice, METH_VARARGS, splice_doc},
    {"copy_spans", speedups_copy_spans, METH_VARARGS, copy_spans_doc},
    {"key_spans", speedups_key_spans, METH_VARARGS, key_spans_doc},   /* passes */
    {"vhash", speedups_vhash, METH_VARARGS, vhash_doc},               /* passes: verify */
    {"bloom_add", speedups_bloom_add, METH_VARARGS, bloom_add_doc},
    {"bloom_has", speedups_bloom_has, METH_VARARGS, bloom_has_doc},
    {"probe_tokens", speedups_probe_tokens, METH_VARARGS, probe_tokens_doc},
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
    return PyModule_Create(&speedups_module);
}
