/*
 * The compiled kernels of strategies/lattice.py: LLL on a triangular factor and
 * Schnorr–Euchner enumeration, in plain C99 over the CPython C API.
 *
 * Each function is a line-for-line port of its Python reference in lattice.py
 * (reduce: _lll_columns, _mu_rows and _size_reduce; search: _enumerate), in
 * double precision with the same operations in the same order, so both give
 * the same points, distances and node counts. Python's round() is rint() here
 * (halves to even in the default rounding mode); setup.py turns off the
 * contraction of a*b + c into one fused multiply-add, which would round
 * differently.
 *
 * Safety: every size is checked against the others before anything is read;
 * a value the C types cannot hold (a non-finite number, a lot count past int64,
 * a centre past 2^51) makes a function return None, and the caller then runs
 * the Python reference, which works on Python's unbounded integers. The search
 * releases the GIL, reads only its own copies of the inputs, checks the clock
 * every CHECK_EVERY nodes and Python's signal handlers every SIGNALS_EVERY
 * nodes (so Ctrl-C stops it: the handler's exception is raised).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h> /* first: it sets the feature macros (clock_gettime among them) */

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <time.h>
#endif

/* Bump with every change of a signature; lattice.py refuses another version. */
#define VERSION 1
#define MAX_VECTORS 4096 /* far past any book; keeps n * n allocations small */
#define CHECK_EVERY 4096 /* nodes between two looks at the clock (lattice._CHECK_CLOCK_EVERY) */
#define SIGNALS_EVERY 65536 /* nodes between two runs of Python's signal handlers */
#define CENTRE_LIMIT 2251799813685248.0 /* 2^51: every integer below it, and x ± 1, is a double */
#define QUOTIENT_LIMIT 4611686018427387904.0 /* 2^62: round(b / a) fits in int64 */

/* --- reading and writing Python values --- */

/* The n doubles of a sequence into out; -1 with ValueError/TypeError set. */
static int
read_doubles(PyObject *sequence, Py_ssize_t n, double *out, const char *name)
{
    PyObject *fast = PySequence_Fast(sequence, name);
    Py_ssize_t i;

    if (fast == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(fast) != n) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd entries, got %zd", name, n,
                     PySequence_Fast_GET_SIZE(fast));
        Py_DECREF(fast);
        return -1;
    }
    for (i = 0; i < n; i++) {
        out[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        if (out[i] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

/* A sequence of n sequences into out, entry j at out + j * n: j + 1 numbers
   when triangular (columns down to the diagonal), else n. */
static int
read_rows(PyObject *rows, Py_ssize_t n, int triangular, double *out, const char *name)
{
    Py_ssize_t j, count = PySequence_Size(rows);

    if (count < 0)
        return -1;
    if (count != n) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd rows, got %zd", name, n, count);
        return -1;
    }
    for (j = 0; j < n; j++) {
        PyObject *row = PySequence_GetItem(rows, j);
        int failed;
        if (row == NULL)
            return -1;
        failed = read_doubles(row, triangular ? j + 1 : n, out + j * n, name);
        Py_DECREF(row);
        if (failed)
            return -1;
    }
    return 0;
}

static int
all_finite(const double *values, Py_ssize_t n)
{
    Py_ssize_t i;

    for (i = 0; i < n; i++)
        if (!isfinite(values[i]))
            return 0;
    return 1;
}

static PyObject *
double_at(const void *values, Py_ssize_t i)
{
    return PyFloat_FromDouble(((const double *)values)[i]);
}

static PyObject *
int_at(const void *values, Py_ssize_t i)
{
    return PyLong_FromLongLong((long long)((const int64_t *)values)[i]);
}

/* A new list of n values, each made by item(values, i); NULL with an error set. */
static PyObject *
new_list(const void *values, Py_ssize_t n, PyObject *(*item)(const void *, Py_ssize_t))
{
    PyObject *list = PyList_New(n);
    Py_ssize_t i;

    if (list == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *entry = item(values, i);
        if (entry == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, entry);
    }
    return list;
}

/* The number of entries of a sequence argument, checked against 1..MAX_VECTORS. */
static Py_ssize_t
vector_count(PyObject *sequence, const char *name)
{
    Py_ssize_t n = PySequence_Size(sequence);

    if (n < 0)
        return -1;
    if (n < 1 || n > MAX_VECTORS) {
        PyErr_Format(PyExc_ValueError, "%s: expected 1 to %d entries, got %zd", name,
                     MAX_VECTORS, n);
        return -1;
    }
    return n;
}

/* --- reduce: LLL of the triangular factor --- */

/* *out = p - m * q, or 0 when that overflows int64 (no undefined behaviour). */
static int
sub_product(int64_t p, int64_t m, int64_t q, int64_t *out)
{
    int64_t product;

    if (m > 0) {
        if (q > INT64_MAX / m || q < INT64_MIN / m)
            return 0;
    }
    else if (m == -1) {
        if (q == INT64_MIN)
            return 0;
    }
    else if (m < 0) {
        if (q < INT64_MAX / m || q > INT64_MIN / m)
            return 0;
    }
    product = m * q;
    if ((product > 0 && p < INT64_MIN + product) || (product < 0 && p > INT64_MAX + product))
        return 0;
    *out = p - product;
    return 1;
}

/* round(b / a) as Python computes it, or 0 when it is not finite or past 2^62. */
static int
nearest_quotient(double b, double a, double *rounded, int64_t *whole)
{
    double quotient = b / a;

    if (!(fabs(quotient) < QUOTIENT_LIMIT))
        return 0;
    *rounded = rint(quotient);
    *whole = (int64_t)*rounded;
    return 1;
}

/* Column `target` -= m * column `source`, rows 0..rows-1 of R and all n of U. */
static int
subtract_column(double *r_target, const double *r_source, Py_ssize_t rows, int64_t *u_target,
                const int64_t *u_source, Py_ssize_t n, double m, int64_t whole)
{
    Py_ssize_t i;

    for (i = 0; i < rows; i++)
        r_target[i] = r_target[i] - m * r_source[i];
    for (i = 0; i < n; i++)
        if (!sub_product(u_target[i], whole, u_source[i], &u_target[i]))
            return 0;
    return 1;
}

/*
 * Effective LLL (lattice._lll_columns), then, when some |R[j,k] / R[j,j]| is
 * above size_reduce_above, full size reduction (lattice._size_reduce).
 * col[j] points to column j of R (n doubles, zero below the diagonal), u[j] to
 * column j of U. 1 on success, 0 on overflow, a non-finite value or max_steps.
 */
static int
reduce_columns(double **col, int64_t **u, Py_ssize_t n, double delta, double size_reduce_above,
               long long max_steps)
{
    Py_ssize_t k = 1, j, i;
    long long steps = 0;
    double m, largest;
    int64_t whole;

    while (k < n) {
        double *ck = col[k], *cj = col[k - 1];
        double a = cj[k - 1], b = ck[k - 1], c, norm, cos, sin;

        if (++steps > max_steps)
            return 0;
        if (!nearest_quotient(b, a, &m, &whole))
            return 0;
        if (whole != 0) {
            if (!subtract_column(ck, cj, k, u[k], u[k - 1], n, m, whole))
                return 0;
            b = ck[k - 1];
        }
        c = ck[k];
        if (delta * a * a <= b * b + c * c) {
            k += 1;
            continue;
        }
        /* Swap: column k moves to k-1, where its row k is rotated to 0; column k-1
           moves to k and gains row k. */
        norm = sqrt(b * b + c * c);
        cos = b / norm;
        sin = c / norm;
        ck[k] = 0.0;
        ck[k - 1] = norm;
        cj[k - 1] = cos * a;
        cj[k] = -sin * a;
        for (j = k + 1; j < n; j++) {
            double x = col[j][k - 1], y = col[j][k];
            col[j][k - 1] = cos * x + sin * y;
            col[j][k] = cos * y - sin * x;
        }
        col[k - 1] = ck;
        col[k] = cj;
        {
            int64_t *swap = u[k - 1];
            u[k - 1] = u[k];
            u[k] = swap;
        }
        if (k > 1)
            k -= 1;
    }
    /* The largest |mu| as lattice._mu_rows computes it: R[k, j] * (1 / R[k, k]). */
    largest = 0.0;
    for (k = 0; k < n; k++) {
        double inverse = 1 / col[k][k];
        for (j = k + 1; j < n; j++) {
            double mu = fabs(col[j][k] * inverse);
            if (!(mu <= largest)) /* NaN included: it makes the check below fail */
                largest = mu;
        }
    }
    if (!isfinite(largest))
        return 0;
    if (largest > size_reduce_above) {
        for (k = 1; k < n; k++)
            for (j = k - 1; j >= 0; j--) {
                if (!nearest_quotient(col[k][j], col[j][j], &m, &whole))
                    return 0;
                if (whole != 0 && !subtract_column(col[k], col[j], j + 1, u[k], u[j], n, m, whole))
                    return 0;
            }
    }
    for (j = 0; j < n; j++)
        for (i = 0; i <= j; i++)
            if (!isfinite(col[j][i]))
                return 0;
    return 1;
}

static PyObject *
lattice_reduce(PyObject *module, PyObject *args)
{
    PyObject *cols_arg, *result = NULL, *cols_out = NULL, *u_out = NULL, *mu_out = NULL;
    PyObject *mu_row;
    double delta, size_reduce_above;
    long long max_steps;
    Py_ssize_t n, j, k;
    double *r_store = NULL, **col = NULL, *row = NULL;
    int64_t *u_store = NULL, **u = NULL;
    int done;

    (void)module;
    if (!PyArg_ParseTuple(args, "OddL:reduce", &cols_arg, &delta, &size_reduce_above,
                          &max_steps))
        return NULL;
    if (!(delta > 0.25 && delta < 1.0)) {
        PyErr_SetString(PyExc_ValueError, "delta: expected 0.25 < delta < 1");
        return NULL;
    }
    n = vector_count(cols_arg, "cols");
    if (n < 0)
        return NULL;
    r_store = PyMem_Calloc((size_t)(n * n), sizeof(double));
    col = PyMem_Calloc((size_t)n, sizeof(double *));
    u_store = PyMem_Calloc((size_t)(n * n), sizeof(int64_t));
    u = PyMem_Calloc((size_t)n, sizeof(int64_t *));
    row = PyMem_Calloc((size_t)n, sizeof(double));
    if (r_store == NULL || col == NULL || u_store == NULL || u == NULL || row == NULL) {
        PyErr_NoMemory();
        goto finally;
    }
    for (j = 0; j < n; j++) {
        col[j] = r_store + j * n;
        u[j] = u_store + j * n;
        u[j][j] = 1;
    }
    if (read_rows(cols_arg, n, 1, r_store, "cols (column j down to the diagonal)") < 0)
        goto finally;
    if (!all_finite(r_store, n * n)) {
        result = Py_NewRef(Py_None);
        goto finally;
    }
    Py_BEGIN_ALLOW_THREADS
    done = reduce_columns(col, u, n, delta, size_reduce_above, max_steps);
    Py_END_ALLOW_THREADS
    if (!done) {
        result = Py_NewRef(Py_None);
        goto finally;
    }
    cols_out = PyList_New(n);
    u_out = PyList_New(n);
    mu_out = PyList_New(n);
    if (cols_out == NULL || u_out == NULL || mu_out == NULL)
        goto finally;
    for (j = 0; j < n; j++) {
        PyObject *column = new_list(col[j], j + 1, double_at);
        if (column == NULL)
            goto finally;
        PyList_SET_ITEM(cols_out, j, column);
        column = new_list(u[j], n, int_at);
        if (column == NULL)
            goto finally;
        PyList_SET_ITEM(u_out, j, column);
    }
    /* mu by rows, as lattice._mu_rows: R[k, j] * (1 / R[k, k]) right of the diagonal. */
    for (k = 0; k < n; k++) {
        double inverse = 1 / col[k][k];
        for (j = 0; j < n; j++)
            row[j] = j > k ? col[j][k] * inverse : 0.0;
        mu_row = new_list(row, n, double_at);
        if (mu_row == NULL)
            goto finally;
        PyList_SET_ITEM(mu_out, k, mu_row);
    }
    result = PyTuple_Pack(3, cols_out, u_out, mu_out);
finally:
    Py_XDECREF(cols_out);
    Py_XDECREF(u_out);
    Py_XDECREF(mu_out);
    PyMem_Free(row);
    PyMem_Free(r_store);
    PyMem_Free(col);
    PyMem_Free(u_store);
    PyMem_Free(u);
    return result;
}

/* --- search: Schnorr–Euchner enumeration --- */

static double
monotonic_seconds(void)
{
#ifdef _WIN32
    LARGE_INTEGER count, frequency;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    return (double)count.QuadPart / (double)frequency.QuadPart;
#else
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
#endif
}

typedef struct {
    Py_ssize_t n;
    const double *mu; /* n x n by rows: mu[k * n + j] = R[k, j] / R[k, k] for j > k, else 0 */
    const double *rr; /* R[k, k]^2 */
    const double *zz; /* the target, z / diag(R) */
    double radius;    /* only points nearer than this count */
    const double *prune; /* NULL (exact), or per level k: descend only below radius * prune[k] */
    long long budget; /* stop at this many nodes (never when <= 0, as in lattice.py) */
    double deadline;  /* CLOCK_MONOTONIC seconds; NaN: none */
} Search;

typedef enum { FINISHED, STOPPED, OUT_OF_RANGE, INTERRUPTED } Outcome;

typedef struct {
    double *best;  /* the best point; the start (or 0) until a nearer one is found */
    int moved;     /* whether a point nearer than the radius was found */
    double distance;
    long long nodes;
    double lower;  /* the least distance of any unexplored subtree (distance when FINISHED) */
} Found;

static Outcome
check_signals(void)
{
    Outcome outcome = FINISHED;
    PyGILState_STATE state = PyGILState_Ensure();
    if (PyErr_CheckSignals() < 0)
        outcome = INTERRUPTED;
    PyGILState_Release(state);
    return outcome;
}

/* The next of the node counts past `nodes` at which enumerate() has something to do. */
static long long
next_event(long long nodes, long long budget, long long check, long long signals)
{
    long long event = signals;

    if (budget > nodes && budget < event)
        event = budget;
    if (check > nodes && check < event)
        event = check;
    return event;
}

/* What a node's partial distance must stay below at each level: the best
   distance, or with pruning a fraction of it (the leaves, level 0, keep all of it). */
static void
set_limits(const Search *s, double *limit, double best)
{
    Py_ssize_t k;

    for (k = 0; k < s->n; k++)
        limit[k] = s->prune == NULL ? best : best * s->prune[k];
}

/* The doubles and the integers enumerate() works in, for n vectors. */
#define WORK_DOUBLES(n) (3 * (n) + ((n) + 1) * ((n) + 1))
#define WORK_INTS(n) (3 * (n) + 1)

/*
 * lattice._enumerate, line for line: x, center, partial and sig (the partial
 * centre sums, one row of n + 1 per level) in work; step, turn and begin in ints.
 * x holds integers as doubles (exact below 2^53).
 */
static Outcome
enumerate(const Search *s, Found *found, double *work, Py_ssize_t *ints)
{
    const Py_ssize_t n = s->n, stride = n + 1;
    double *restrict x = work, *restrict center = x + n, *restrict partial = center + n;
    double *restrict sig = partial + stride, *restrict limit = sig + n * stride;
    Py_ssize_t *restrict step = ints, *restrict turn = step + n, *restrict begin = turn + n;
    const double *restrict mu = s->mu, *restrict rr = s->rr;
    double best_distance = s->radius, distance, diff, c, nearest, lower, following;
    const double *mu_0 = mu;
    double *row_0 = sig, rr_0 = rr[0];
    long long nodes = 0, budget = s->budget > 0 ? s->budget : -1;
    long long check = isnan(s->deadline) ? -1 : CHECK_EVERY, signals = SIGNALS_EVERY;
    long long event = next_event(0, budget, check, signals);
    Py_ssize_t k, j, level;
    Outcome outcome = FINISHED;

    for (k = 0; k < n; k++) {
        x[k] = center[k] = 0.0;
        step[k] = turn[k] = 0;
        memset(sig + k * stride, 0, (size_t)n * sizeof(double));
        sig[k * stride + n] = s->zz[k];
    }
    memset(partial, 0, (size_t)stride * sizeof(double));
    for (k = 0; k <= n; k++)
        begin[k] = n - 1;
    set_limits(s, limit, best_distance);
    k = n - 1;
    c = s->zz[k];
    if (!(fabs(c) < CENTRE_LIMIT))
        return OUT_OF_RANGE;
    center[k] = c;
    x[k] = rint(c);
    step[k] = turn[k] = c >= x[k] ? 1 : -1;
    for (;;) {
        nodes += 1;
        if (nodes == event) { /* one comparison per node for the three below */
            if (nodes == budget) {
                outcome = STOPPED;
                break;
            }
            if (nodes == check) {
                check += CHECK_EVERY;
                if (monotonic_seconds() > s->deadline) {
                    outcome = STOPPED;
                    break;
                }
            }
            if (nodes == signals) {
                signals += SIGNALS_EVERY;
                if (check_signals() == INTERRUPTED)
                    return INTERRUPTED;
            }
            event = next_event(nodes, budget, check, signals);
        }
        diff = center[k] - x[k];
        distance = partial[k + 1] + diff * diff * rr[k];
        if (distance < limit[k]) {
            if (k > 1) {
                double *row = sig + (k - 1) * stride;
                const double *coefficients = mu + (k - 1) * n;
                partial[k] = distance;
                for (j = begin[k]; j > k - 1; j--)
                    row[j] = row[j + 1] - coefficients[j] * x[j];
                if (begin[k] > begin[k - 1])
                    begin[k - 1] = begin[k];
                begin[k] = k;
                k -= 1;
                c = row[k + 1];
                if (!(fabs(c) < CENTRE_LIMIT))
                    return OUT_OF_RANGE;
                center[k] = c;
                nearest = rint(c);
                x[k] = nearest;
                step[k] = turn[k] = c >= nearest ? 1 : -1;
                continue;
            }
            if (k == 1) {
                /* Level 0 has one candidate worth a look, its nearest integer. */
                double leaf;
                for (j = begin[1]; j > 0; j--)
                    row_0[j] = row_0[j + 1] - mu_0[j] * x[j];
                begin[1] = 1;
                c = row_0[1];
                nearest = rint(c);
                diff = c - nearest;
                leaf = distance + diff * diff * rr_0;
                if (leaf < best_distance) {
                    if (!(fabs(c) < CENTRE_LIMIT))
                        return OUT_OF_RANGE;
                    best_distance = leaf;
                    set_limits(s, limit, best_distance);
                    x[0] = nearest;
                    memcpy(found->best, x, (size_t)n * sizeof(double));
                    found->moved = 1;
                }
                x[1] += step[1];
                turn[1] = -turn[1];
                step[1] = turn[1] - step[1];
                continue;
            }
            best_distance = distance;
            set_limits(s, limit, best_distance);
            memcpy(found->best, x, (size_t)n * sizeof(double));
            found->moved = 1;
        }
        /* Candidates at this level come in increasing distance: go up a level. */
        k += 1;
        if (k == n)
            break;
        x[k] += step[k];
        turn[k] = -turn[k];
        step[k] = turn[k] - step[k];
    }
    found->distance = best_distance;
    found->nodes = nodes;
    if (outcome == FINISHED) {
        found->lower = best_distance;
        return FINISHED;
    }
    /* Unexplored: this candidate's subtree and the next candidate of every level above. */
    diff = center[k] - x[k];
    lower = partial[k + 1] + diff * diff * rr[k];
    lower = lower < best_distance ? lower : best_distance;
    for (level = k + 1; level < n; level++) {
        following = center[level] - (x[level] + step[level]);
        following = partial[level + 1] + following * following * rr[level];
        lower = following < lower ? following : lower;
    }
    found->lower = lower;
    return STOPPED;
}

/* lattice._distance: ‖z − R x‖² in the reduced coordinates, summed as Python 3.11's sum(). */
static double
point_distance(const Search *s, const double *x)
{
    const Py_ssize_t n = s->n;
    double total = 0.0, gap, sum;
    Py_ssize_t k, j;

    for (k = 0; k < n; k++) {
        sum = 0.0;
        for (j = 0; j < n; j++)
            sum += s->mu[k * n + j] * x[j];
        gap = s->zz[k] - x[k] - sum;
        total += s->rr[k] * gap * gap;
    }
    return total;
}

static PyObject *
lattice_search(PyObject *module, PyObject *args)
{
    PyObject *mu_arg, *rr_arg, *zz_arg, *start_arg, *radius_arg, *limit_arg, *prune_arg = Py_None;
    PyObject *result = NULL, *point = NULL;
    long long max_nodes;
    Py_ssize_t n, k;
    double *store = NULL, *mu, *rr, *zz, *best, *prune, *work;
    int64_t *start_values = NULL, *point_values = NULL;
    Py_ssize_t *ints = NULL;
    Search search;
    Found found;
    Outcome outcome;
    int use_start = 0;

    (void)module;
    if (!PyArg_ParseTuple(args, "OOOOOLO|O:search", &mu_arg, &rr_arg, &zz_arg, &start_arg,
                          &radius_arg, &max_nodes, &limit_arg, &prune_arg))
        return NULL;
    n = vector_count(zz_arg, "zz");
    if (n < 0)
        return NULL;
    /* mu (n * n), rr, zz, best and prune, then the search's work. */
    store = PyMem_Calloc((size_t)(n * n + 4 * n + WORK_DOUBLES(n)), sizeof(double));
    ints = PyMem_Calloc((size_t)WORK_INTS(n), sizeof(Py_ssize_t));
    start_values = PyMem_Calloc((size_t)n, sizeof(int64_t));
    point_values = PyMem_Calloc((size_t)n, sizeof(int64_t));
    if (store == NULL || ints == NULL || start_values == NULL || point_values == NULL) {
        PyErr_NoMemory();
        goto finally;
    }
    mu = store;
    rr = mu + n * n;
    zz = rr + n;
    best = zz + n;
    prune = best + n;
    work = prune + n;
    if (read_rows(mu_arg, n, 0, mu, "mu (R / diag(R) by rows)") < 0)
        goto finally;
    if (read_doubles(rr_arg, n, rr, "rr") < 0 || read_doubles(zz_arg, n, zz, "zz") < 0)
        goto finally;
    if (start_arg != Py_None) {
        PyObject *fast = PySequence_Fast(start_arg, "start: expected a sequence of ints");
        if (fast == NULL)
            goto finally;
        if (PySequence_Fast_GET_SIZE(fast) != n) {
            PyErr_SetString(PyExc_ValueError, "start: expected one entry per entry of zz");
            Py_DECREF(fast);
            goto finally;
        }
        for (k = 0; k < n; k++) {
            long long value = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, k));
            if (value == -1 && PyErr_Occurred()) {
                Py_DECREF(fast);
                goto finally;
            }
            start_values[k] = (int64_t)value;
            best[k] = (double)value;
        }
        Py_DECREF(fast);
        use_start = 1;
    }
    search.prune = NULL;
    if (prune_arg != Py_None) {
        if (read_doubles(prune_arg, n, prune, "pruning") < 0)
            goto finally;
        for (k = 0; k < n; k++)
            if (!(prune[k] > 0.0 && prune[k] <= 1.0)) {
                PyErr_SetString(PyExc_ValueError, "pruning: expected factors in (0, 1]");
                goto finally;
            }
        search.prune = prune;
    }
    search.n = n;
    search.mu = mu;
    search.rr = rr;
    search.zz = zz;
    search.budget = max_nodes;
    search.radius = INFINITY;
    if (radius_arg != Py_None) {
        search.radius = PyFloat_AsDouble(radius_arg);
        if (search.radius == -1.0 && PyErr_Occurred())
            goto finally;
    }
    search.deadline = NAN;
    if (limit_arg != Py_None) {
        double limit = PyFloat_AsDouble(limit_arg);
        if (limit == -1.0 && PyErr_Occurred())
            goto finally;
        if (isfinite(limit))
            search.deadline = monotonic_seconds() + limit;
    }
    if (!all_finite(mu, n * n) || !all_finite(rr, n) || !all_finite(zz, n)) {
        result = Py_NewRef(Py_None);
        goto finally;
    }
    found.best = best;
    found.moved = 0;
    Py_BEGIN_ALLOW_THREADS
    if (use_start && radius_arg == Py_None) /* as lattice._enumerate: just past the start */
        search.radius = point_distance(&search, best) * (1 + 1e-12) + 1e-300;
    outcome = enumerate(&search, &found, work, ints);
    Py_END_ALLOW_THREADS
    if (outcome == INTERRUPTED)
        goto finally;
    if (outcome == OUT_OF_RANGE) {
        result = Py_NewRef(Py_None);
        goto finally;
    }
    if (use_start && !found.moved) {
        point = new_list(start_values, n, int_at); /* exactly as given, even past 2^53 */
    }
    else {
        for (k = 0; k < n; k++) {
            if (!(fabs(best[k]) < QUOTIENT_LIMIT)) { /* unreachable: centres are checked */
                result = Py_NewRef(Py_None);
                goto finally;
            }
            point_values[k] = (int64_t)best[k];
        }
        point = new_list(point_values, n, int_at);
    }
    if (point == NULL)
        goto finally;
    result = Py_BuildValue("(OdLOd)", point, found.distance, found.nodes,
                           outcome == FINISHED ? Py_True : Py_False, found.lower);
finally:
    Py_XDECREF(point);
    PyMem_Free(store);
    PyMem_Free(ints);
    PyMem_Free(start_values);
    PyMem_Free(point_values);
    return result;
}

static PyMethodDef methods[] = {
    {"reduce", lattice_reduce, METH_VARARGS,
     "reduce(cols, delta, size_reduce_above, max_steps) -> (cols, u, mu) | None\n\n"
     "LLL of an upper-triangular R given by its columns down to the diagonal, then size\n"
     "reduction when some |R[j, k] / R[j, j]| exceeds size_reduce_above. Returns the\n"
     "reduced columns, the columns of U and R / diag(R) by rows (0 on and below the\n"
     "diagonal), or None on int64 overflow, a non-finite value or more than max_steps\n"
     "LLL steps (then run lattice._lll_columns)."},
    {"search", lattice_search, METH_VARARGS,
     "search(mu, rr, zz, start, radius, max_nodes, time_limit)\n"
     "    -> (x, distance, nodes, finished, lower) | None\n\n"
     "Schnorr-Euchner enumeration, as lattice._enumerate: the closest x to zz under\n"
     "sum_k rr[k] * (zz[k] - x[k] - sum_j mu[k][j] * x[j])^2 among points nearer than\n"
     "radius (None: just past start's distance, or no limit without a start).\n"
     "max_nodes <= 0 and time_limit None mean no budget. None when a centre passes\n"
     "2^51 or a value is not finite (then run lattice._enumerate)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "strategies._lattice",
    "Compiled kernels of strategies.lattice: LLL and Schnorr-Euchner enumeration.",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__lattice(void)
{
    PyObject *module = PyModule_Create(&module_def);

    if (module == NULL)
        return NULL;
    if (PyModule_AddIntConstant(module, "VERSION", VERSION) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
