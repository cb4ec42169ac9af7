/* The call site's first try, compiled: perfdoctor.callsite.capture_caller.
 *
 * Every captured operation asks for its call site.  In steady state the answer
 * is one of the paths its site holds (callsite._Site.hot: those expected next,
 * the one answered last): a few frames looked up by distance and compared by
 * code object and instruction.  In Python that
 * check is about a hundred opcodes and a generic attribute read for each frame
 * field; here it is the same steps without the interpreter.  Anything past the
 * first try (a new path, a trigger's names, a walk) is the Python code's:
 * callsite._search and triggers.extract, called from here with the same
 * arguments the Python version passes, so the two give the same answers
 * (tests/unit/test_callsite.py runs both).
 *
 * Built only where the frame API it reads exists (Python 3.11+, where
 * PyFrame_GetLasti is public) and the GIL guards its state; elsewhere the
 * module has no capture_caller and the Python version runs (a free-threaded
 * Python imports it without turning its GIL back on).  The build is optional: without a compiler,
 * perfdoctor installs and runs the same, a little slower.
 *
 * Also here: untrack_spans, which the recorder calls on each finished trace
 * (see below; any Python with a GIL), and json_outline, which it calls on a
 * JSON response's body (any Python).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <string.h>

#if PY_VERSION_HEX >= 0x030B0000 && !defined(Py_GIL_DISABLED)

/* sys._getframe, and perfdoctor.callsite's globals (read at each use, so a
 * test's monkeypatch of _search is seen as the Python version would see it). */
static PyObject *getframe = NULL;
static PyObject *globals = NULL;
static PyObject *str_paths, *str_search, *str_triggers, *str_extract;
static PyObject *str_hot, *str_frame, *str_names, *str_last;

/* sys._getframe(n) from the Python function that called capture_caller: new
 * reference, or NULL with an exception set (ValueError: a shallower stack). */
static PyObject *
frame_at(Py_ssize_t n)
{
    PyObject *arg = PyLong_FromSsize_t(n);
    if (arg == NULL) {
        return NULL;
    }
    PyObject *frame = PyObject_Vectorcall(getframe, &arg, 1, NULL);
    Py_DECREF(arg);
    return frame;
}

/* 1 when frame runs code at offset, 0 when not. */
static int
frame_is(PyObject *frame, PyObject *code, PyObject *offset)
{
    PyCodeObject *found = PyFrame_GetCode((PyFrameObject *)frame);
    int same = (PyObject *)found == code;
    Py_DECREF(found);
    if (!same) {
        return 0;
    }
    return PyLong_AsLong(offset) == PyFrame_GetLasti((PyFrameObject *)frame);
}

/* 1 when none of a site's first user frames stands where ``absent`` lists them
 * (callsite._Hot's absent: a path with no user frame, at a site that has paths
 * with some, is taken only then, as _search takes it), 0 when one does, -1 with
 * an exception set.  ``verified``: the absent tuple this operation has already
 * passed (every held path of a site shares one), checked once per operation. */
static int
absent_holds(PyObject *absent, Py_ssize_t base, PyObject **verified)
{
    if (absent == *verified) {
        return 1;
    }
    if (!PyTuple_CheckExact(absent)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(absent); i++) {
        PyObject *entry = PyTuple_GET_ITEM(absent, i);
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2
            || !PyDict_Check(PyTuple_GET_ITEM(entry, 1))) {
            return 0;
        }
        Py_ssize_t step = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 0));
        if (step == -1 && PyErr_Occurred()) {
            return -1;
        }
        PyObject *there = frame_at(base + step);
        if (there == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
                return -1;
            }
            PyErr_Clear();  /* a shallower stack: no user frame there */
            continue;
        }
        PyCodeObject *there_code = PyFrame_GetCode((PyFrameObject *)there);
        PyObject *code_id = PyLong_FromVoidPtr(there_code);
        Py_DECREF(there_code);
        PyObject *offset = code_id ? PyLong_FromLong(PyFrame_GetLasti((PyFrameObject *)there))
                                   : NULL;
        Py_DECREF(there);
        PyObject *key = offset ? PyTuple_Pack(2, code_id, offset) : NULL;
        Py_XDECREF(code_id);
        Py_XDECREF(offset);
        if (key == NULL) {
            return -1;
        }
        int known = PyDict_Contains(PyTuple_GET_ITEM(entry, 1), key);
        Py_DECREF(key);
        if (known) {
            return known < 0 ? -1 : 0;
        }
    }
    *verified = absent;
    return 1;
}

/* The hot path's answer, a new reference; Py_None (new) for "not this path";
 * NULL with an exception set for an error that is not a shallower stack. */
static PyObject *
try_hot(PyObject *hot, PyObject *first, Py_ssize_t base, Py_ssize_t depth,
        PyObject *anchor, int names, PyObject *site, PyObject **verified)
{
    PyObject *frame = NULL, *other = NULL, *result = NULL;
    if (!PyTuple_CheckExact(hot) || PyTuple_GET_SIZE(hot) != 9) {
        Py_RETURN_NONE;
    }
    Py_ssize_t hot_depth = PyLong_AsSsize_t(PyTuple_GET_ITEM(hot, 0));
    if (hot_depth != depth) {
        if (hot_depth == -1 && PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *checks = PyTuple_GET_ITEM(hot, 1);
    Py_ssize_t anchor_step = PyLong_AsSsize_t(PyTuple_GET_ITEM(hot, 2));
    PyObject *hot_anchor = PyTuple_GET_ITEM(hot, 3);
    int own = PyObject_IsTrue(PyTuple_GET_ITEM(hot, 4));
    PyObject *trigger_at = PyTuple_GET_ITEM(hot, 5);
    PyObject *answer = PyTuple_GET_ITEM(hot, 6);
    PyObject *absent = PyTuple_GET_ITEM(hot, 7);
    PyObject *last = PyTuple_GET_ITEM(hot, 8);
    if (PyErr_Occurred()) {
        return NULL;
    }
    /* The shapes callsite._Site.hot is built with (anything else: not this path). */
    if (!PyTuple_CheckExact(checks) || !PyTuple_CheckExact(answer)
        || PyTuple_GET_SIZE(answer) != 3
        || (trigger_at != Py_None
            && (!PyTuple_CheckExact(trigger_at) || PyTuple_GET_SIZE(trigger_at) != 6))) {
        Py_RETURN_NONE;
    }
    frame = Py_NewRef(first);
    /* Its user frames where they were... */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(checks); i++) {
        PyObject *check = PyTuple_GET_ITEM(checks, i);
        if (!PyTuple_CheckExact(check) || PyTuple_GET_SIZE(check) != 3) {
            goto not_this;
        }
        Py_ssize_t step = PyLong_AsSsize_t(PyTuple_GET_ITEM(check, 0));
        Py_SETREF(frame, frame_at(base + step));
        if (frame == NULL) {
            goto missed;
        }
        if (!frame_is(frame, PyTuple_GET_ITEM(check, 1), PyTuple_GET_ITEM(check, 2))) {
            goto not_this;
        }
    }
    /* ...then its end. */
    if (anchor_step < 0) {
        /* The depth limit, or the bottom of the thread's stack there. */
        if (anchor_step == -1) {
            goto checked;
        }
        other = frame_at(base - anchor_step - 2);
        if (other == NULL) {
            goto missed;
        }
        PyFrameObject *back = PyFrame_GetBack((PyFrameObject *)other);
        if (back == NULL) {
            goto checked;
        }
        Py_DECREF(back);
        goto not_this;
    }
    /* The answer was joined with this very anchor. */
    if (hot_anchor != anchor || anchor == Py_None) {
        goto not_this;
    }
    if (own) {
        other = frame_at(base + anchor_step);
        if (other == NULL) {
            goto missed;
        }
    }
    PyObject *stop = PyObject_GetAttr(anchor, str_frame);
    if (stop == NULL) {
        goto done;
    }
    int at_anchor = (own ? other : frame) == stop;
    Py_DECREF(stop);
    if (!at_anchor) {
        goto not_this;
    }
    {
        /* Last, as the costliest check and the same for every path of the site. */
        int holds = absent_holds(absent, base, verified);
        if (holds < 0) {
            goto done;
        }
        if (!holds) {
            goto not_this;
        }
    }
    if (trigger_at == Py_None) {
        goto hit;
    }
    {
        Py_ssize_t step = PyLong_AsSsize_t(PyTuple_GET_ITEM(trigger_at, 0));
        PyObject *trigger_frame = step ? frame_at(base + step) : Py_NewRef(first);
        if (trigger_frame == NULL) {
            goto missed;
        }
        PyCodeObject *code = PyFrame_GetCode((PyFrameObject *)trigger_frame);
        int same = (PyObject *)code == PyTuple_GET_ITEM(trigger_at, 1);
        Py_DECREF(code);
        if (!same) {
            Py_DECREF(trigger_frame);
            goto not_this;
        }
        if (step) {
            /* The frame it called, at the instruction it stood at (see
             * callsite._trigger_frame): another template node further out
             * renders its children from elsewhere. */
            PyObject *called = step > 1 ? frame_at(base + step - 1) : Py_NewRef(first);
            if (called == NULL) {
                Py_DECREF(trigger_frame);
                goto missed;
            }
            same = frame_is(called, PyTuple_GET_ITEM(trigger_at, 4), PyTuple_GET_ITEM(trigger_at, 5));
            Py_DECREF(called);
            if (!same) {
                Py_DECREF(trigger_frame);
                if (PyErr_Occurred()) {
                    goto done;
                }
                goto not_this;
            }
        }
        if (!names) {
            Py_DECREF(trigger_frame);
            goto hit;
        }
        PyObject *triggers = PyDict_GetItemWithError(globals, str_triggers);
        PyObject *extract = triggers ? PyObject_GetAttr(triggers, str_extract) : NULL;
        PyObject *anchor_names = extract ? PyObject_GetAttr(anchor, str_names) : NULL;
        PyObject *extracted = NULL;
        if (anchor_names != NULL) {
            extracted = PyObject_CallFunctionObjArgs(
                extract, PyTuple_GET_ITEM(trigger_at, 2), trigger_frame,
                PyTuple_GET_ITEM(trigger_at, 3), anchor_names, NULL);
        }
        Py_XDECREF(anchor_names);
        Py_XDECREF(extract);
        Py_DECREF(trigger_frame);
        if (extracted == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_RuntimeError, "perfdoctor.callsite has no triggers");
            }
            goto done;
        }
        result = PyTuple_Pack(
            3, PyTuple_GET_ITEM(answer, 0), PyTuple_GET_ITEM(answer, 1), extracted);
        Py_DECREF(extracted);
        goto found;
    }
checked:
    {
        int holds = absent_holds(absent, base, verified);
        if (holds < 0) {
            goto done;
        }
        if (!holds) {
            goto not_this;
        }
    }
hit:
    result = Py_NewRef(answer);
found:
    /* The anchor's distance a path with no user frame was found at, for _search's
     * guess of the next one (_Site.last). */
    if (result != NULL && last != Py_None && PyObject_SetAttr(site, str_last, last) < 0) {
        Py_CLEAR(result);
    }
    goto done;
missed:
    if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
        goto done;  /* result NULL: the error goes up */
    }
    PyErr_Clear();  /* a shallower stack than the path's */
not_this:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(frame);
    Py_XDECREF(other);
    return result;
}

static PyObject *
capture_caller(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *arg_skip, *arg_depth, *anchor, *arg_names;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "capture_caller(skip, depth, anchor=None, names=True)");
        return NULL;
    }
    PyObject *slots[4] = {NULL, NULL, Py_None, Py_True};
    for (Py_ssize_t i = 0; i < nargs; i++) {
        slots[i] = args[i];
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, i));
        Py_ssize_t at = -1;
        if (name == NULL) {
            return NULL;
        }
        if (strcmp(name, "skip") == 0) at = 0;
        else if (strcmp(name, "depth") == 0) at = 1;
        else if (strcmp(name, "anchor") == 0) at = 2;
        else if (strcmp(name, "names") == 0) at = 3;
        if (at < 0 || at < nargs) {
            PyErr_Format(PyExc_TypeError, "capture_caller() got an unexpected argument %R",
                         PyTuple_GET_ITEM(kwnames, i));
            return NULL;
        }
        slots[at] = args[nargs + i];
    }
    arg_skip = slots[0];
    arg_depth = slots[1];
    anchor = slots[2];
    arg_names = slots[3];
    if (arg_skip == NULL || arg_depth == NULL) {
        PyErr_SetString(PyExc_TypeError, "capture_caller(skip, depth, anchor=None, names=True)");
        return NULL;
    }
    if (globals == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "perfdoctor._speedups is not bound");
        return NULL;
    }
    Py_ssize_t skip = PyLong_AsSsize_t(arg_skip);
    Py_ssize_t depth = PyLong_AsSsize_t(arg_depth);
    int names = PyObject_IsTrue(arg_names);
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *first = frame_at(skip);
    if (first == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
            return NULL;
        }
        PyErr_Clear();
        PyObject *frames = PyList_New(0);
        if (frames == NULL) {
            return NULL;
        }
        PyObject *empty = PyTuple_Pack(3, frames, Py_None, Py_None);
        Py_DECREF(frames);
        return empty;
    }
    PyObject *result = NULL, *key = NULL, *site = NULL;
    PyCodeObject *code = PyFrame_GetCode((PyFrameObject *)first);
    PyObject *code_id = PyLong_FromVoidPtr(code);
    Py_DECREF(code);
    PyObject *offset = code_id ? PyLong_FromLong(PyFrame_GetLasti((PyFrameObject *)first)) : NULL;
    if (offset != NULL) {
        key = PyTuple_Pack(2, code_id, offset);
    }
    Py_XDECREF(code_id);
    Py_XDECREF(offset);
    if (key == NULL) {
        goto done;
    }
    PyObject *paths = PyDict_GetItemWithError(globals, str_paths);
    if (paths == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError, "perfdoctor.callsite has no _paths");
        }
        goto done;
    }
    site = PyDict_GetItemWithError(paths, key);
    if (site == NULL && PyErr_Occurred()) {
        goto done;
    }
    Py_XINCREF(site);
    if (site != NULL) {
        PyObject *hot = PyObject_GetAttr(site, str_hot);
        if (hot == NULL) {
            goto done;
        }
        /* The paths held for the first try, in the order held (_Site.hot). */
        if (PyTuple_CheckExact(hot)) {
            PyObject *verified = NULL;
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(hot); i++) {
                result = try_hot(PyTuple_GET_ITEM(hot, i), first, skip, depth, anchor, names,
                                 site, &verified);
                if (result == NULL || result != Py_None) {
                    break;
                }
                Py_CLEAR(result);
            }
        }
        Py_DECREF(hot);
        if (result != NULL) {
            goto done;
        }
        if (PyErr_Occurred()) {
            goto done;
        }
    }
    {
        /* One frame deeper there: _search's own frame sits above the caller's. */
        PyObject *search = PyDict_GetItemWithError(globals, str_search);
        if (search == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_RuntimeError, "perfdoctor.callsite has no _search");
            }
            goto done;
        }
        PyObject *base = PyLong_FromSsize_t(skip + 1);
        if (base == NULL) {
            goto done;
        }
        PyObject *call[7] = {
            first, key, site ? site : Py_None, base, arg_depth, anchor,
            names ? Py_True : Py_False,
        };
        result = PyObject_Vectorcall(search, call, 7, NULL);
        Py_DECREF(base);
    }
done:
    Py_XDECREF(site);
    Py_XDECREF(key);
    Py_DECREF(first);
    return result;
}

static PyObject *
bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_Check(args[0]) || !PyCallable_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "bind(callsite globals, sys._getframe)");
        return NULL;
    }
    Py_XSETREF(globals, Py_NewRef(args[0]));
    Py_XSETREF(getframe, Py_NewRef(args[1]));
    Py_RETURN_NONE;
}

#endif

#ifndef Py_GIL_DISABLED
/* untrack_spans(spans): a finished trace's spans taken out of the cyclic
 * garbage collector's view, as perfdoctor.capture.recorder hands them over.
 *
 * A trace waits in the recorder's queue until its next cycle (0.1 to 1 s), long
 * enough for its span tuples, their running row counts and attribute dicts
 * (about three objects a query) to survive two collections and be moved to the
 * oldest generation, where they add to the count that starts a full collection
 * of the app's whole heap.  So do the lists of frames joined for this request
 * (callsite.Anchor.joined), which the encoder's cache then keeps.  None of them
 * can be part of a reference cycle: only the trace's list holds a span, nothing
 * a span holds refers back to it (strings, numbers, code objects, facts made of
 * those, a trigger's names with its class, template or schema: long-lived
 * objects, by design of perfdoctor.triggers, and still tracked themselves), and
 * a list of frames holds (code, offset) pairs only.  Reference counting frees
 * them as it did; the collector no longer walks them.  (Parameter values, kept
 * only when asked for, stay tracked.)
 *
 * Positions are those of context.record_db's tuple (12 items: the frames at 3,
 * the row count at 9, the attributes at 11) and record_span's (6 items: the
 * frames at 3, the attributes at 5).  Anything else is left as it is. */
static void
untrack_exact(PyObject *item, PyTypeObject *type)
{
    if (Py_IS_TYPE(item, type)) {
        PyObject_GC_UnTrack(item);
    }
}

/* A span's attributes, and the tuples among their values (a trigger's names
 * with its class or template, which the collector would keep walking). */
static void
untrack_attributes(PyObject *attributes)
{
    if (!PyDict_CheckExact(attributes)) {
        return;
    }
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(attributes, &position, &key, &value)) {
        untrack_exact(value, &PyTuple_Type);
    }
    PyObject_GC_UnTrack(attributes);
}

static PyObject *
untrack_spans(PyObject *module, PyObject *spans)
{
    if (!PyList_CheckExact(spans)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t count = PyList_GET_SIZE(spans);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *span = PyList_GET_ITEM(spans, i);
        if (!PyTuple_CheckExact(span)) {
            continue;
        }
        Py_ssize_t size = PyTuple_GET_SIZE(span);
        if (size == 12 || size == 6) {
            untrack_exact(PyTuple_GET_ITEM(span, 3), &PyList_Type);
        }
        if (size == 12) {
            untrack_exact(PyTuple_GET_ITEM(span, 9), &PyList_Type);
            untrack_attributes(PyTuple_GET_ITEM(span, 11));
        }
        else if (size == 6) {
            untrack_attributes(PyTuple_GET_ITEM(span, 5));
        }
        PyObject_GC_UnTrack(span);
    }
    PyObject_GC_UnTrack(spans);
    Py_RETURN_NONE;
}
#endif

/* json_outline(body): what perfdoctor.capture.response.summarize_json needs of a
 * JSON response body (how many items its list has), without building the
 * body's objects: json.loads made every item's dict and strings only to count
 * them, the recorder's largest cost on a list endpoint after its spans.
 *
 * The grammar is json.loads's own (strict strings, NaN and Infinity allowed).
 * Returns None for a body json.loads rejects; Ellipsis where this scan cannot
 * be sure to agree with it (a NUL among the first four bytes, which json.loads
 * takes for UTF-16 or UTF-32; nesting past OUTLINE_MAX_DEPTH; a number of over
 * OUTLINE_MAX_DIGITS characters, perhaps past int()'s digit limit): the caller parses
 * then.  Else (non_ascii, outline): non_ascii is True when a byte is past
 * ASCII (the caller checks the body decodes as UTF-8 as json.loads would); the
 * outline is the top array's item count, or for a top object its members in
 * order as (key, items) pairs: items is the member's array's count, -1 for any
 * other value; the key is a str, or its raw bytes when it holds an escape or a
 * byte past ASCII. */
#define OUTLINE_MAX_DEPTH 500
/* The least digit limit int() can be given (sys.set_int_max_str_digits). */
#define OUTLINE_MAX_DIGITS 640

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int non_ascii;
    int unsure;
} Outline;

static void
outline_ws(Outline *s)
{
    while (s->p < s->end
           && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static int
outline_word(Outline *s, const char *word)
{
    size_t size = strlen(word);
    if ((size_t)(s->end - s->p) < size || memcmp(s->p, word, size) != 0) {
        return -1;
    }
    s->p += size;
    return 0;
}

static int
outline_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Bytes a string's inside needs no look at: printable ASCII but the quote and
 * the backslash (filled when the module is made). */
static unsigned char outline_plain[256];

static void
outline_fill(void)
{
    for (int c = 0x20; c < 0x80; c++) {
        outline_plain[c] = c != '"' && c != '\\';
    }
}

/* After the opening quote; 1 in *escaped when the string holds an escape. */
static int
outline_string(Outline *s, int *escaped)
{
    while (s->p < s->end) {
        const unsigned char *p = s->p, *end = s->end;
        while (p < end && outline_plain[*p]) {
            p++;
        }
        s->p = p;
        if (p >= end) {
            break;
        }
        unsigned char c = *s->p++;
        if (c == '"') {
            return 0;
        }
        if (c == '\\') {
            if (s->p >= s->end) {
                return -1;
            }
            *escaped = 1;
            c = *s->p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++) {
                    if (s->p >= s->end || !outline_hex(*s->p)) {
                        return -1;
                    }
                    s->p++;
                }
            }
            else if (!strchr("\"\\/bfnrt", c) || c == 0) {
                return -1;
            }
        }
        else if (c < 0x20) {
            return -1;
        }
        else if (c >= 0x80) {
            s->non_ascii = 1;
        }
    }
    return -1;
}

static int
outline_digits(Outline *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    return s->p > start ? 0 : -1;
}

static int
outline_number(Outline *s)
{
    const unsigned char *start = s->p;
    if (*s->p == '-') {
        s->p++;
        if (s->p < s->end && *s->p == 'I') {
            return outline_word(s, "Infinity");
        }
    }
    if (s->p >= s->end) {
        return -1;
    }
    if (*s->p == '0') {
        s->p++;
    }
    else if (outline_digits(s) < 0) {
        return -1;
    }
    /* A fraction or an exponent without digits ends the number before it, as
     * json.loads reads it; what follows is then an unexpected character. */
    if (s->end - s->p >= 2 && *s->p == '.' && s->p[1] >= '0' && s->p[1] <= '9') {
        s->p++;
        outline_digits(s);
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        const unsigned char *mark = s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (outline_digits(s) < 0) {
            s->p = mark;
        }
    }
    if (s->p - start > OUTLINE_MAX_DIGITS) {
        s->unsure = 1;
    }
    return 0;
}

static int outline_value(Outline *s, int depth, Py_ssize_t *items);

/* After an item of an array or a member of an object: 0 past its closing
 * bracket, 1 past a comma (and the space after), -1 anything else. */
static int
outline_next(Outline *s, unsigned char close)
{
    outline_ws(s);
    if (s->p >= s->end) {
        return -1;
    }
    if (*s->p == close) {
        s->p++;
        return 0;
    }
    if (*s->p != ',') {
        return -1;
    }
    s->p++;
    outline_ws(s);
    return 1;
}

/* After '['; the item count in *items. */
static int
outline_array(Outline *s, int depth, Py_ssize_t *items)
{
    Py_ssize_t count = 0;
    outline_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        *items = 0;
        return 0;
    }
    for (;;) {
        if (outline_value(s, depth, NULL) < 0) {
            return -1;
        }
        count++;
        int next = outline_next(s, ']');
        if (next <= 0) {
            *items = count;
            return next;
        }
    }
}

/* After '{'; with members not NULL, each (key, items) appended to it. */
static int
outline_object(Outline *s, int depth, PyObject *members)
{
    outline_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (s->p >= s->end || *s->p != '"') {
            return -1;
        }
        const unsigned char *key = ++s->p;
        int escaped = 0, non_ascii = s->non_ascii;
        s->non_ascii = 0;
        if (outline_string(s, &escaped) < 0) {
            return -1;
        }
        int plain = !escaped && !s->non_ascii;
        s->non_ascii |= non_ascii;
        Py_ssize_t key_size = (s->p - 1) - key;
        outline_ws(s);
        if (s->p >= s->end || *s->p != ':') {
            return -1;
        }
        s->p++;
        outline_ws(s);
        Py_ssize_t items = -1;
        if (outline_value(s, depth, members != NULL ? &items : NULL) < 0) {
            return -1;
        }
        if (members != NULL) {
            PyObject *name = plain
                ? PyUnicode_DecodeASCII((const char *)key, key_size, NULL)
                : PyBytes_FromStringAndSize((const char *)key, key_size);
            if (name == NULL) {
                return -2;
            }
            PyObject *pair = Py_BuildValue("(Nn)", name, items);
            if (pair == NULL || PyList_Append(members, pair) < 0) {
                Py_XDECREF(pair);
                return -2;
            }
            Py_DECREF(pair);
        }
        int next = outline_next(s, '}');
        if (next <= 0) {
            return next;
        }
    }
}

/* One value at s->p; with items not NULL, an array's count in it. -1: not
 * JSON, or unsure (s->unsure set); -2: a Python error. */
static int
outline_value(Outline *s, int depth, Py_ssize_t *items)
{
    if (s->p >= s->end) {
        return -1;
    }
    if (depth >= OUTLINE_MAX_DEPTH) {
        s->unsure = 1;
        return -1;
    }
    unsigned char c = *s->p;
    int escaped = 0;
    Py_ssize_t count;
    switch (c) {
    case '{':
        s->p++;
        return outline_object(s, depth + 1, NULL);
    case '[':
        s->p++;
        if (outline_array(s, depth + 1, &count) < 0) {
            return -1;
        }
        if (items != NULL) {
            *items = count;
        }
        return 0;
    case '"':
        s->p++;
        return outline_string(s, &escaped);
    case 'n':
        return outline_word(s, "null");
    case 't':
        return outline_word(s, "true");
    case 'f':
        return outline_word(s, "false");
    case 'N':
        return outline_word(s, "NaN");
    case 'I':
        return outline_word(s, "Infinity");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            return outline_number(s);
        }
        return -1;
    }
}

static PyObject *
json_outline(PyObject *module, PyObject *body)
{
    Py_buffer view;
    if (PyObject_GetBuffer(body, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Outline s = {(const unsigned char *)view.buf,
                 (const unsigned char *)view.buf + view.len, 0, 0};
    PyObject *result = NULL;
    Py_ssize_t head = view.len < 4 ? view.len : 4;
    if (memchr(view.buf, 0, (size_t)head) != NULL) {
        Py_INCREF(Py_Ellipsis);
        result = Py_Ellipsis;
        goto done;
    }
    outline_ws(&s);
    PyObject *outline = NULL;
    int status = -1;
    if (s.p < s.end && *s.p == '{') {
        outline = PyList_New(0);
        if (outline == NULL) {
            goto done;
        }
        s.p++;
        status = outline_object(&s, 1, outline);
    }
    else if (s.p < s.end && *s.p == '[') {
        Py_ssize_t count = 0;
        s.p++;
        status = outline_array(&s, 1, &count);
        if (status == 0) {
            outline = PyLong_FromSsize_t(count);
            if (outline == NULL) {
                goto done;
            }
        }
    }
    else {
        Py_ssize_t ignored;
        status = outline_value(&s, 0, &ignored);
        if (status == 0) {
            Py_INCREF(Py_None);
            outline = Py_None;
        }
    }
    if (status == -2) {
        Py_XDECREF(outline);
        goto done;
    }
    if (status == 0) {
        outline_ws(&s);
        if (s.p != s.end) {
            status = -1;
        }
    }
    if (s.unsure) {
        Py_XDECREF(outline);
        Py_INCREF(Py_Ellipsis);
        result = Py_Ellipsis;
    }
    else if (status < 0) {
        Py_XDECREF(outline);
        Py_INCREF(Py_None);
        result = Py_None;
    }
    else {
        result = Py_BuildValue("(ON)", s.non_ascii ? Py_True : Py_False, outline);
    }
done:
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
#if PY_VERSION_HEX >= 0x030B0000 && !defined(Py_GIL_DISABLED)
    {"capture_caller", (PyCFunction)(void (*)(void))capture_caller,
     METH_FASTCALL | METH_KEYWORDS,
     "perfdoctor.callsite.capture_caller's first try, compiled."},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(callsite globals, sys._getframe)"},
#endif
#ifndef Py_GIL_DISABLED
    {"untrack_spans", untrack_spans, METH_O,
     "untrack_spans(spans): a finished trace's spans out of the cyclic collector's view."},
#endif
    {"json_outline", json_outline, METH_O,
     "json_outline(body): a JSON body's top list's item count, or its top object's members."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups = {
    PyModuleDef_HEAD_INIT, "perfdoctor._speedups",
    "Compiled parts of perfdoctor's capture hot path (optional).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
#if PY_VERSION_HEX >= 0x030B0000 && !defined(Py_GIL_DISABLED)
    str_paths = PyUnicode_InternFromString("_paths");
    str_search = PyUnicode_InternFromString("_search");
    str_triggers = PyUnicode_InternFromString("triggers");
    str_extract = PyUnicode_InternFromString("extract");
    str_hot = PyUnicode_InternFromString("hot");
    str_frame = PyUnicode_InternFromString("frame");
    str_names = PyUnicode_InternFromString("names");
    str_last = PyUnicode_InternFromString("last");
    if (!str_paths || !str_search || !str_triggers || !str_extract || !str_hot
        || !str_frame || !str_names || !str_last) {
        return NULL;
    }
#endif
    outline_fill();
    PyObject *module = PyModule_Create(&speedups);
#ifdef Py_GIL_DISABLED
    if (module != NULL && PyUnstable_Module_SetGIL(module, Py_MOD_GIL_NOT_USED) < 0) {
        Py_CLEAR(module);
    }
#endif
    return module;
}
