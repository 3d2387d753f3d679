/*
 * The compiled kernel of gateway/venue/auction/hull.py: many tiny bounded integer
 * programs, each solved exactly,
 *
 *     max r.x  subject to  lo_k <= g_k.x <= hi_k (k < m),  x_j in {0, 1, ..., u_j} (j < n),
 *
 * for n <= MAX_N columns and m <= MAX_M rows (a bundle's legs and its own rows).
 *
 * Depth-first search over the columns, the most valuable first. Each node above
 * depth FIT_DEPTH fits Lagrange multipliers of the rows for its subproblem
 * (coordinate descent, each step an exact line minimisation over the breakpoints
 * of the piecewise-linear dual function); deeper nodes inherit their parent's. For
 * any multipliers of the right signs, max over the box of (r + lam.g).x plus the
 * multipliers' side terms bounds the subproblem from above, so a node whose bound
 * is not above the incumbent is cut; the bound is linear in the value of the column
 * being branched on, so the values are tried in the order that lowers it and the
 * loop stops at the first one that fails. Rows are also checked by interval: the
 * columns left can only add their least and greatest contributions. The last
 * column takes the best end of the interval its rows leave.
 *
 * The data are a bundle's rows over lot counts, which admission scales to whole
 * numbers (gateway.solver.milp.ScaledRow) bounded by MAX_ROW_*: every row sum is a
 * whole number of at most MAX_ROW_ACTIVITY (2^53), so doubles hold them exactly (TOL
 * only guards the comparisons). The answer is a start for HiGHS, which checks it, and the auction's
 * fill is verified exactly in any case.
 *
 * Safety: sizes are checked before anything is read; a non-finite r, g or u, a
 * negative or fractional u, or u above MAX_UPPER raises ValueError. The solve
 * releases the GIL. The search is exponential in the worst case (8 legs of 10^5
 * lots), so one call visits at most `budget` nodes over all its problems; past it,
 * every search stops at once and the call says so (its answers are then feasible
 * fills, not proven optima). A budget, not a clock: the answer depends on the data
 * alone.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <string.h>

/* Bump with every change of a signature; hull.py refuses another version. */
#define VERSION 2
#define MAX_N 8
#define MAX_M 4
#define FIT_DEPTH 4
#define FIT_ROUNDS 12
#define MAX_UPPER 1000000.0
#define TOL 1e-7

typedef struct {
    int n, m, order[MAX_N];
    double r[MAX_N], u[MAX_N], g[MAX_M][MAX_N], lo[MAX_M], hi[MAX_M];
    double least[MAX_M][MAX_N + 1], most[MAX_M][MAX_N + 1]; /* row ranges of the suffixes */
    double best, x[MAX_N], best_x[MAX_N];
    long long *nodes, budget; /* nodes visited by the whole call, and its most */
} Problem;

/* The Lagrangian bound over the columns order[d..] with the prefix's row sums s,
   without the prefix's own value: max over the box of sum (r + lam.g) x, plus
   lam_k (s_k - side_k) where side_k is lo_k for lam_k > 0 and hi_k for lam_k < 0. */
static double
lagrangian(const Problem *p, int d, const double *s, const double *lam)
{
    double v = 0;
    int e, k;

    for (k = 0; k < p->m; k++) {
        if (lam[k] > 0)
            v += lam[k] * (s[k] - p->lo[k]);
        else if (lam[k] < 0)
            v += lam[k] * (s[k] - p->hi[k]);
    }
    for (e = d; e < p->n; e++) {
        int j = p->order[e];
        double a = p->r[j];
        for (k = 0; k < p->m; k++)
            a += lam[k] * p->g[k][j];
        if (a > 0)
            v += a * p->u[j];
    }
    return v;
}

/* Lower the bound by coordinate descent on the multipliers (in place). A multiplier
   of a row without a lower side stays <= 0, without an upper side >= 0. */
static void
fit(const Problem *p, int d, const double *s, double *lam)
{
    double current = lagrangian(p, d, s, lam);
    int round, k, e, q;

    for (round = 0; round < FIT_ROUNDS; round++) {
        double before = current;
        for (k = 0; k < p->m; k++) {
            double keep = lam[k], best_lam = lam[k], best_v = current;
            for (e = d - 1; e < p->n; e++) {
                double t;
                if (e < d) {
                    t = 0;
                } else {
                    int j = p->order[e];
                    double a = p->r[j];
                    if (p->g[k][j] == 0)
                        continue;
                    for (q = 0; q < p->m; q++)
                        if (q != k)
                            a += lam[q] * p->g[q][j];
                    t = -a / p->g[k][j];
                }
                if ((t > 0 && isinf(p->lo[k])) || (t < 0 && isinf(p->hi[k])))
                    continue;
                lam[k] = t;
                {
                    double v = lagrangian(p, d, s, lam);
                    if (v < best_v - 1e-12 * (1 + fabs(best_v))) {
                        best_v = v;
                        best_lam = t;
                    }
                }
                lam[k] = keep;
            }
            lam[k] = best_lam;
            current = best_v;
        }
        if (current > before - 1e-9 * (1 + fabs(before)))
            break;
    }
}

static void
search(Problem *p, int d, double value, const double *s, const double *parent)
{
    int j = p->order[d], k;
    double lam[MAX_M], adjusted, base;
    int ascending, steps, step;

    if (++*p->nodes > p->budget)
        return;
    if (d == p->n - 1) {
        /* the last column: the interval its rows leave, then its better end */
        double a = 0, b = p->u[j], t, v;
        for (k = 0; k < p->m; k++) {
            double gk = p->g[k][j], low = p->lo[k] - s[k], high = p->hi[k] - s[k];
            if (gk > 0) {
                if (!isinf(low))
                    a = fmax(a, ceil(low / gk - 1e-9));
                if (!isinf(high))
                    b = fmin(b, floor(high / gk + 1e-9));
            } else if (gk < 0) {
                if (!isinf(high))
                    a = fmax(a, ceil(high / gk - 1e-9));
                if (!isinf(low))
                    b = fmin(b, floor(low / gk + 1e-9));
            } else if (low > TOL || high < -TOL) {
                return;
            }
        }
        if (a > b)
            return;
        t = p->r[j] > 0 ? b : a;
        for (k = 0; k < p->m; k++) {
            double row = s[k] + p->g[k][j] * t;
            if (row < p->lo[k] - TOL || row > p->hi[k] + TOL)
                return;
        }
        v = value + p->r[j] * t;
        if (v > p->best + 1e-9) {
            p->best = v;
            memcpy(p->best_x, p->x, sizeof p->best_x);
            p->best_x[j] = t;
        }
        return;
    }
    memcpy(lam, parent, sizeof lam);
    if (d < FIT_DEPTH) {
        fit(p, d, s, lam);
        if (value + lagrangian(p, d, s, lam) <= p->best + 1e-9)
            return;
    }
    adjusted = p->r[j];
    for (k = 0; k < p->m; k++)
        adjusted += lam[k] * p->g[k][j];
    /* the bound of value t for column j: base + adjusted * t */
    base = value + lagrangian(p, d + 1, s, lam);
    ascending = adjusted <= 0;
    steps = (int)p->u[j];
    for (step = 0; step <= steps; step++) {
        double t = ascending ? step : steps - step, sums[MAX_M];
        int fits = 1;
        if (base + adjusted * t <= p->best + 1e-9)
            break;
        for (k = 0; k < p->m; k++) {
            sums[k] = s[k] + p->g[k][j] * t;
            if (sums[k] + p->most[k][d + 1] < p->lo[k] - TOL ||
                sums[k] + p->least[k][d + 1] > p->hi[k] + TOL) {
                fits = 0;
                break;
            }
        }
        if (!fits)
            continue;
        p->x[j] = t;
        search(p, d + 1, value + p->r[j] * t, sums, lam);
        if (*p->nodes > p->budget)
            return;
    }
}

/* One problem: its optimum into x and *value (-inf and x = 0 if none is feasible). */
static void
solve_one(Problem *p, double *x, double *value)
{
    double lam[MAX_M] = {0}, s[MAX_M] = {0}, weight[MAX_N];
    int a, b, j, k, d;

    for (j = 0; j < p->n; j++)
        p->order[j] = j;
    fit(p, 0, s, lam);
    for (j = 0; j < p->n; j++) {
        weight[j] = p->r[j];
        for (k = 0; k < p->m; k++)
            weight[j] += lam[k] * p->g[k][j];
        weight[j] = fabs(weight[j]) * p->u[j];
    }
    for (a = 0; a < p->n; a++) /* the heaviest first; ties keep the column order */
        for (b = a + 1; b < p->n; b++)
            if (weight[p->order[b]] > weight[p->order[a]]) {
                int t = p->order[a];
                p->order[a] = p->order[b];
                p->order[b] = t;
            }
    for (k = 0; k < p->m; k++) {
        p->least[k][p->n] = 0;
        p->most[k][p->n] = 0;
        for (d = p->n - 1; d >= 0; d--) {
            double c = p->g[k][p->order[d]] * p->u[p->order[d]];
            p->least[k][d] = p->least[k][d + 1] + fmin(0, c);
            p->most[k][d] = p->most[k][d + 1] + fmax(0, c);
        }
    }
    p->best = -INFINITY;
    memset(p->best_x, 0, sizeof p->best_x);
    {
        int empty = 1;
        for (k = 0; k < p->m; k++)
            if (p->lo[k] > TOL || p->hi[k] < -TOL)
                empty = 0;
        if (empty)
            p->best = 0;
    }
    if (p->n > 0)
        search(p, 0, 0, s, lam);
    memcpy(x, p->best_x, sizeof(double) * p->n);
    *value = p->best;
}

static int
check_buffer(const Py_buffer *buffer, Py_ssize_t count, const char *name)
{
    if (buffer->len != count * (Py_ssize_t)sizeof(double)) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd doubles, got %zd bytes", name, count,
                     buffer->len);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(solve_doc,
             "solve(problems, n, m, r, u, g, lo, hi, budget, /) -> (x, values, nodes)\n\n"
             "Each of `problems` integer programs, its data as native float64 bytes: r and u\n"
             "(problems x n), g (problems x m x n), lo and hi (problems x m). Returns the\n"
             "optima as float64 bytes, x (problems x n) and values (problems; -inf where\n"
             "none is feasible), and the search nodes visited: above `budget`, the searches\n"
             "stopped there and x holds the best fills found, not proven optima.");

static PyObject *
solve(PyObject *self, PyObject *args)
{
    Py_ssize_t problems, i;
    int n, m, failed = 0;
    long long budget, nodes = 0;
    Py_buffer r, u, g, lo, hi;
    PyObject *x_out = NULL, *v_out = NULL, *result = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "niiy*y*y*y*y*L:solve", &problems, &n, &m, &r, &u, &g, &lo, &hi,
                          &budget))
        return NULL;
    if (problems < 0 || n < 0 || n > MAX_N || m < 0 || m > MAX_M || budget < 0) {
        PyErr_Format(PyExc_ValueError, "sizes out of range: %zd problems, n %d (<= %d), m %d (<= %d)",
                     problems, n, MAX_N, m, MAX_M);
        goto done;
    }
    if (check_buffer(&r, problems * n, "r") || check_buffer(&u, problems * n, "u") ||
        check_buffer(&g, problems * m * n, "g") || check_buffer(&lo, problems * m, "lo") ||
        check_buffer(&hi, problems * m, "hi"))
        goto done;
    {
        const double *rv = r.buf, *uv = u.buf, *gv = g.buf;
        for (i = 0; i < problems * n; i++)
            if (!isfinite(rv[i]) || !isfinite(uv[i]) || uv[i] < 0 || uv[i] > MAX_UPPER ||
                uv[i] != floor(uv[i])) {
                PyErr_SetString(PyExc_ValueError,
                                "r must be finite and u whole numbers in [0, 10^6]");
                goto done;
            }
        for (i = 0; i < problems * m * n; i++)
            if (!isfinite(gv[i])) {
                PyErr_SetString(PyExc_ValueError, "g must be finite");
                goto done;
            }
    }
    x_out = PyBytes_FromStringAndSize(NULL, problems * n * (Py_ssize_t)sizeof(double));
    v_out = PyBytes_FromStringAndSize(NULL, problems * (Py_ssize_t)sizeof(double));
    if (x_out == NULL || v_out == NULL)
        goto done;
    {
        const double *rv = r.buf, *uv = u.buf, *gv = g.buf, *lov = lo.buf, *hiv = hi.buf;
        double *xv = (double *)PyBytes_AS_STRING(x_out), *vv = (double *)PyBytes_AS_STRING(v_out);
        Py_BEGIN_ALLOW_THREADS
        for (i = 0; i < problems; i++) {
            Problem p;
            int j, k;
            memset(&p, 0, sizeof p);
            p.n = n;
            p.m = m;
            p.nodes = &nodes;
            p.budget = budget;
            for (j = 0; j < n; j++) {
                p.r[j] = rv[i * n + j];
                p.u[j] = uv[i * n + j];
            }
            for (k = 0; k < m; k++) {
                p.lo[k] = lov[i * m + k];
                p.hi[k] = hiv[i * m + k];
                if (isnan(p.lo[k]) || isnan(p.hi[k]))
                    failed = 1;
                for (j = 0; j < n; j++)
                    p.g[k][j] = gv[(i * m + k) * n + j];
            }
            solve_one(&p, xv + i * n, vv + i);
        }
        Py_END_ALLOW_THREADS
    }
    if (failed) {
        PyErr_SetString(PyExc_ValueError, "lo and hi must not be NaN");
        goto done;
    }
    result = Py_BuildValue("(OOL)", x_out, v_out, nodes);
done:
    Py_XDECREF(x_out);
    Py_XDECREF(v_out);
    PyBuffer_Release(&r);
    PyBuffer_Release(&u);
    PyBuffer_Release(&g);
    PyBuffer_Release(&lo);
    PyBuffer_Release(&hi);
    return result;
}

static PyMethodDef methods[] = {
    {"solve", solve, METH_VARARGS, solve_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_hull",
    "The compiled kernel of gateway.venue.auction.hull: tiny integer programs, exactly.", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__hull(void)
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
