/*
 * tools/mockxen/guest_run.c — the guest script interpreter: runs one vCPU's instruction
 * array against the backend (guest_vcpus.c runs all vCPUs, one thread each).
 *
 * The per-vCPU state (variables, loop counters, timers) lives on the running thread's
 * stack; the script is shared read-only. The loop is a switch over pre-parsed
 * instructions whose constant operands are already folded, so a `time` loop around an
 * `out` costs a few loads and the backend call.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/mockxen/guest_internal.h"
#include "util/log.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "peek/poke assume a little-endian host, like the x86 guest they model"
#endif

#define MEM_CHUNK       4096
#define SLEEP_SLICE_NS  10000000ull     /* a sleeping vCPU notices `stop` this often */

typedef struct VcpuRun {
    const GuestScript *script;
    const GuestProgram *prog;
    const GuestBackendOps *ops;
    void *opaque;
    atomic_bool *stop;
    unsigned vcpu;
    Error **errp;
    uint64_t vars[GUEST_MAX_VARS];
    uint64_t loop_left[GUEST_MAX_NESTING];
    uint64_t loop_index[GUEST_MAX_NESTING];
    uint64_t loop_start_ns[GUEST_MAX_NESTING];
} VcpuRun;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "file:line: vcpu N: <statement>" — the prefix of every runtime message. */
static void where(const VcpuRun *r, const GuestInsn *in, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%u: vcpu %u: %.*s", r->script->files[in->file], in->line,
             r->vcpu, (int)(in->src_len > 200 ? 200 : in->src_len), in->src);
}

static int fail_at(const VcpuRun *r, const GuestInsn *in, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(const VcpuRun *r, const GuestInsn *in, int errnum, const char *fmt, ...)
{
    char loc[320], msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    where(r, in, loc, sizeof(loc));
    Error *err = NULL;
    error_setg(&err, "%s: %s", loc, msg);
    err->errnum = errnum;
    error_propagate(r->errp, err);
    return -errnum;
}

/* A backend op returned `ret` < 0 with (maybe) `err`: add the location, pass it on. */
static int backend_failed(const VcpuRun *r, const GuestInsn *in, const char *op, int ret,
                          Error *err)
{
    if (!err)
        return fail_at(r, in, -ret, "%s: %s", op, strerror(-ret));
    char loc[320];
    where(r, in, loc, sizeof(loc));
    error_prepend(&err, "%s: %s", loc, op);
    if (!err->errnum)
        err->errnum = -ret;
    error_propagate(r->errp, err);
    return ret;
}

static int no_op(const VcpuRun *r, const GuestInsn *in, const char *op)
{
    return fail_at(r, in, ENOSYS, "the backend has no %s operation", op);
}

static int eval(const VcpuRun *r, const GuestInsn *in, const GuestExpr *e, uint64_t *v)
{
    if (guest_expr_eval(r->script, e, r->vars, v))
        return fail_at(r, in, EDOM, "division by zero");
    return 0;
}

/* The value tail: store into `-> $v`, then check `CMP expr` (or non-zero for expect). */
static int apply_result(VcpuRun *r, const GuestInsn *in, uint64_t got)
{
    const GuestResult *res = &in->result;
    if (res->store_var >= 0)
        r->vars[res->store_var] = got;
    if (res->cmp == GCMP_NONE) {
        if (in->op == GOP_EXPECT && !got)
            return fail_at(r, in, EPROTO, "expected non-zero, got 0");
        return 0;
    }
    uint64_t want;
    int ret = eval(r, in, &res->expect, &want);
    if (ret)
        return ret;
    if (!guest_cmp_holds(res->cmp, got, want))
        return fail_at(r, in, EPROTO, "expected %s %#" PRIx64 ", got %#" PRIx64,
                       guest_cmp_name(res->cmp), want, got);
    return 0;
}

static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ull << (size * 8)) - 1;
}

static int send_ioreq(VcpuRun *r, const GuestInsn *in, ioreq_t *req, unsigned flags)
{
    if (!r->ops->ioreq)
        return no_op(r, in, "ioreq");
    Error *err = NULL;
    int ret = r->ops->ioreq(r->opaque, r->vcpu, req, flags, &err);
    return ret < 0 ? backend_failed(r, in, "ioreq", ret, err) : 0;
}

/* in/out/mmio-read/mmio-write and their rep forms. */
static int exec_access(VcpuRun *r, const GuestInsn *in)
{
    ioreq_t req = { .type = in->op == GOP_PIO ? IOREQ_TYPE_PIO : IOREQ_TYPE_COPY,
                    .size = in->size, .count = 1,
                    .dir = in->write ? IOREQ_WRITE : IOREQ_READ };
    int ret = eval(r, in, &in->addr, &req.addr);
    if (ret)
        return ret;
    if (in->op == GOP_PIO && req.addr > 0xffff)
        return fail_at(r, in, EINVAL, "port %#" PRIx64 " is above 0xffff", req.addr);
    if (in->rep) {
        uint64_t count;
        ret = eval(r, in, &in->count, &count);
        if (!ret)
            ret = eval(r, in, &in->buf, &req.data);
        if (ret)
            return ret;
        if (count == 0 || count > UINT32_MAX)
            return fail_at(r, in, EINVAL, "rep count %#" PRIx64 " is not 1..0xffffffff",
                           count);
        req.count = (uint32_t)count;
        req.data_is_ptr = 1;
        req.df = in->df;
    } else if (in->write) {
        ret = eval(r, in, &in->value, &req.data);
        if (ret)
            return ret;
        req.data &= size_mask(in->size);
    }
    ret = send_ioreq(r, in, &req, 0);
    if (ret || in->write || in->rep)
        return ret;
    return apply_result(r, in, req.data & size_mask(in->size));
}

/* raw: every field from the script, truncated to its width in ioreq_t. */
static int exec_raw(VcpuRun *r, const GuestInsn *in)
{
    uint64_t f[GRAW_NFIELDS];
    for (unsigned i = 0; i < GRAW_NFIELDS; i++) {
        int ret = eval(r, in, &in->raw[i], &f[i]);
        if (ret)
            return ret;
    }
    ioreq_t req = {
        .addr = f[GRAW_ADDR], .data = f[GRAW_DATA],
        .count = (uint32_t)f[GRAW_COUNT], .size = (uint32_t)f[GRAW_SIZE],
        .vp_eport = (uint32_t)f[GRAW_EPORT], .state = f[GRAW_STATE] & 0xf,
        .data_is_ptr = f[GRAW_PTR] & 1, .dir = f[GRAW_DIR] & 1, .df = f[GRAW_DF] & 1,
        .type = (uint8_t)f[GRAW_TYPE],
    };
    int ret = send_ioreq(r, in, &req, GUEST_IOREQ_RAW);
    return ret ? ret : apply_result(r, in, req.data);
}

static int mem_read(VcpuRun *r, const GuestInsn *in, uint64_t gpa, void *buf, size_t len)
{
    if (!r->ops->mem_read)
        return no_op(r, in, "mem_read");
    Error *err = NULL;
    int ret = r->ops->mem_read(r->opaque, r->vcpu, gpa, buf, len, &err);
    return ret < 0 ? backend_failed(r, in, "mem_read", ret, err) : 0;
}

static int mem_write(VcpuRun *r, const GuestInsn *in, uint64_t gpa, const void *buf,
                     size_t len)
{
    if (!r->ops->mem_write)
        return no_op(r, in, "mem_write");
    Error *err = NULL;
    int ret = r->ops->mem_write(r->opaque, r->vcpu, gpa, buf, len, &err);
    return ret < 0 ? backend_failed(r, in, "mem_write", ret, err) : 0;
}

/* peek/poke: one little-endian value of in->size bytes. */
static int exec_mem_word(VcpuRun *r, const GuestInsn *in)
{
    uint64_t gpa, v = 0;
    int ret = eval(r, in, &in->addr, &gpa);
    if (ret)
        return ret;
    if (in->write) {
        ret = eval(r, in, &in->value, &v);
        return ret ? ret : mem_write(r, in, gpa, &v, in->size);
    }
    ret = mem_read(r, in, gpa, &v, in->size);
    return ret ? ret : apply_result(r, in, v);
}

static int eval_range(VcpuRun *r, const GuestInsn *in, uint64_t *gpa, uint64_t *len)
{
    int ret = eval(r, in, &in->addr, gpa);
    if (!ret)
        ret = eval(r, in, &in->count, len);
    if (!ret && *gpa + *len < *gpa)
        return fail_at(r, in, EINVAL, "range %#" PRIx64 "+%#" PRIx64 " wraps", *gpa, *len);
    return ret;
}

static int eval_byte(VcpuRun *r, const GuestInsn *in, uint8_t *byte)
{
    uint64_t v;
    int ret = eval(r, in, &in->value, &v);
    if (!ret && v > 0xff)
        return fail_at(r, in, EINVAL, "byte value %#" PRIx64 " is above 0xff", v);
    *byte = (uint8_t)v;
    return ret;
}

/* fill GPA LEN BYTE, written in chunks. */
static int exec_fill(VcpuRun *r, const GuestInsn *in)
{
    uint64_t gpa, len;
    uint8_t byte, chunk[MEM_CHUNK];
    int ret = eval_range(r, in, &gpa, &len);
    if (!ret)
        ret = eval_byte(r, in, &byte);
    if (ret)
        return ret;
    memset(chunk, byte, sizeof(chunk));
    for (uint64_t off = 0; off < len && !ret; off += MEM_CHUNK)
        ret = mem_write(r, in, gpa + off, chunk, len - off < MEM_CHUNK ? len - off : MEM_CHUNK);
    return ret;
}

/* compare GPA LEN BYTE / compare-mem GPA GPA2 LEN: report the first differing byte. */
static int exec_compare(VcpuRun *r, const GuestInsn *in)
{
    uint64_t gpa, len, other = 0;
    uint8_t byte = 0, got[MEM_CHUNK], want[MEM_CHUNK];
    int ret = eval_range(r, in, &gpa, &len);
    if (!ret && in->op == GOP_COMPARE_BYTE)
        ret = eval_byte(r, in, &byte);
    if (!ret && in->op == GOP_COMPARE_MEM)
        ret = eval(r, in, &in->buf, &other);
    if (ret)
        return ret;
    memset(want, byte, sizeof(want));
    for (uint64_t off = 0; off < len; off += MEM_CHUNK) {
        size_t n = len - off < MEM_CHUNK ? (size_t)(len - off) : MEM_CHUNK;
        ret = mem_read(r, in, gpa + off, got, n);
        if (!ret && in->op == GOP_COMPARE_MEM)
            ret = mem_read(r, in, other + off, want, n);
        if (ret)
            return ret;
        for (size_t i = 0; i < n; i++)
            if (got[i] != want[i])
                return fail_at(r, in, EPROTO, "byte at %#" PRIx64 ": expected %#x, got %#x",
                               gpa + off + i, want[i], got[i]);
    }
    return 0;
}

const char *guest_irq_resolve(GuestIrq *irq, uint64_t a, uint64_t v, uint64_t c)
{
    switch (irq->kind) {
    case GUEST_IRQ_ISA:
        if (a > 15)
            return "ISA IRQ is above 15";
        irq->isa = (uint32_t)a;
        return NULL;
    case GUEST_IRQ_SPI:
        if (a < 32 || a > 1019)
            return "an SPI is a GIC id from 32 to 1019";
        irq->isa = (uint32_t)a;
        return NULL;
    case GUEST_IRQ_INTX:
        if (a > 255 || v > 31 || c > 3)
            return "INTx needs bus <= 255, device <= 31, pin a-d or 0-3";
        irq->bus = (uint8_t)a;
        irq->dev = (uint8_t)v;
        irq->intx = (uint8_t)c;
        return NULL;
    case GUEST_IRQ_MSI:
        if (v > UINT32_MAX)
            return "MSI data is above 32 bits";
        irq->msi_data = irq->match_data ? (uint32_t)v : 0;
        irq->msi_addr = irq->match_addr ? a : 0;
        return NULL;
    }
    return "unknown interrupt kind";
}

/* The interrupt of wait-irq/irq-level, from the statement's operands. */
static int eval_irq(VcpuRun *r, const GuestInsn *in, GuestIrq *irq)
{
    uint64_t a = 0, v = 0, c = 0;
    int ret = in->addr.present ? eval(r, in, &in->addr, &a) : 0;
    if (!ret && in->value.present)
        ret = eval(r, in, &in->value, &v);
    if (!ret && in->count.present)
        ret = eval(r, in, &in->count, &c);
    if (ret)
        return ret;
    *irq = in->irq;
    const char *why = guest_irq_resolve(irq, a, v, c);
    return why ? fail_at(r, in, EINVAL, "%s", why) : 0;
}

static int exec_wait_irq(VcpuRun *r, const GuestInsn *in)
{
    uint64_t timeout;
    GuestIrq irq;
    int ret = eval(r, in, &in->timeout_ns, &timeout);
    if (!ret)
        ret = eval_irq(r, in, &irq);
    if (ret)
        return ret;
    if (!r->ops->wait_irq)
        return no_op(r, in, "wait_irq");
    Error *err = NULL;
    GuestMsi msi = { 0 };
    ret = r->ops->wait_irq(r->opaque, r->vcpu, &irq, timeout, &msi, &err);
    if (ret < 0)
        return backend_failed(r, in, "wait-irq", ret, err);
    if (irq.kind != GUEST_IRQ_MSI)
        return 0;
    if (in->result.store_addr >= 0)
        r->vars[in->result.store_addr] = msi.addr;
    return apply_result(r, in, msi.data);
}

static int exec_irq_level(VcpuRun *r, const GuestInsn *in)
{
    GuestIrq irq;
    int ret = eval_irq(r, in, &irq);
    if (ret)
        return ret;
    if (!r->ops->irq_level)
        return no_op(r, in, "irq_level");
    Error *err = NULL;
    ret = r->ops->irq_level(r->opaque, r->vcpu, &irq, &err);
    return ret < 0 ? backend_failed(r, in, "irq-level", ret, err)
                   : apply_result(r, in, (uint64_t)ret);
}

static int exec_log_dirty(VcpuRun *r, const GuestInsn *in)
{
    if (!r->ops->log_dirty)
        return no_op(r, in, "log_dirty");
    Error *err = NULL;
    int ret = r->ops->log_dirty(r->opaque, r->vcpu, in->write, &err);
    return ret < 0 ? backend_failed(r, in, "log-dirty", ret, err) : 0;
}

/* dirty FIRST NR [clean]: the number of dirty pages among NR pfns. */
static int exec_dirty(VcpuRun *r, const GuestInsn *in)
{
    uint64_t first, nr;
    int ret = eval(r, in, &in->addr, &first);
    if (!ret)
        ret = eval(r, in, &in->count, &nr);
    if (ret)
        return ret;
    if (nr == 0 || nr > GUEST_MAX_DIRTY_PFNS)
        return fail_at(r, in, EINVAL, "pfn count %#" PRIx64 " is not 1..%#llx", nr,
                       GUEST_MAX_DIRTY_PFNS);
    if (!r->ops->dirty_bitmap)
        return no_op(r, in, "dirty_bitmap");
    size_t longs = (size_t)((nr + 63) / 64);
    unsigned long *bitmap = calloc(longs, sizeof(*bitmap));
    if (!bitmap)
        return fail_at(r, in, ENOMEM, "no memory for a %" PRIu64 "-page bitmap", nr);
    Error *err = NULL;
    ret = r->ops->dirty_bitmap(r->opaque, r->vcpu, first, nr, in->write, bitmap, &err);
    uint64_t count = 0;
    for (size_t i = 0; i < longs; i++)
        count += (uint64_t)__builtin_popcountl(bitmap[i]);
    free(bitmap);
    return ret < 0 ? backend_failed(r, in, "dirty", ret, err) : apply_result(r, in, count);
}

/* Evaluate e into *v, failing the statement above max. */
static int eval_max(VcpuRun *r, const GuestInsn *in, const GuestExpr *e, uint64_t max,
                    const char *what, uint64_t *v)
{
    int ret = eval(r, in, e, v);
    if (!ret && *v > max)
        return fail_at(r, in, EINVAL, "%s %#" PRIx64 " is above %#" PRIx64, what, *v, max);
    return ret;
}

static int exec_grant_table(VcpuRun *r, const GuestInsn *in)
{
    uint64_t gpa, frames;
    int ret = eval(r, in, &in->addr, &gpa);
    if (!ret)
        ret = eval_max(r, in, &in->count, UINT32_MAX, "frame count", &frames);
    if (ret)
        return ret;
    if (!r->ops->grant_table)
        return no_op(r, in, "grant_table");
    Error *err = NULL;
    ret = r->ops->grant_table(r->opaque, r->vcpu, gpa, (uint32_t)frames, &err);
    return ret < 0 ? backend_failed(r, in, "grant-table", ret, err) : 0;
}

static int exec_grant(VcpuRun *r, const GuestInsn *in)
{
    uint64_t ref, gfn, domid = 0;
    int ret = eval_max(r, in, &in->addr, UINT32_MAX, "grant ref", &ref);
    if (!ret)
        ret = eval_max(r, in, &in->value, UINT32_MAX, "frame", &gfn);
    if (!ret && in->count.present)
        ret = eval_max(r, in, &in->count, UINT16_MAX, "domid", &domid);
    if (ret)
        return ret;
    if (!r->ops->grant)
        return no_op(r, in, "grant");
    Error *err = NULL;
    ret = r->ops->grant(r->opaque, r->vcpu, (uint32_t)ref, (uint16_t)domid, (uint32_t)gfn,
                        !in->write, &err);
    return ret < 0 ? backend_failed(r, in, "grant", ret, err) : 0;
}

static int exec_grant_revoke(VcpuRun *r, const GuestInsn *in)
{
    uint64_t ref;
    int ret = eval_max(r, in, &in->addr, UINT32_MAX, "grant ref", &ref);
    if (ret)
        return ret;
    if (!r->ops->grant_revoke)
        return no_op(r, in, "grant_revoke");
    Error *err = NULL;
    ret = r->ops->grant_revoke(r->opaque, r->vcpu, (uint32_t)ref, &err);
    return ret < 0 ? backend_failed(r, in, "grant-revoke", ret, err)
                   : apply_result(r, in, (uint64_t)ret);
}

static int exec_count(VcpuRun *r, const GuestInsn *in)
{
    if (!r->ops->counter)
        return no_op(r, in, "counter");
    Error *err = NULL;
    uint64_t v = 0;
    int ret = r->ops->counter(r->opaque, r->vcpu, in->name, &v, &err);
    return ret < 0 ? backend_failed(r, in, "count", ret, err) : apply_result(r, in, v);
}

static int exec_echo(VcpuRun *r, const GuestInsn *in)
{
    char line[1024];
    size_t used = 0;
    line[0] = '\0';
    for (uint32_t i = 0; i < in->nparts && used < sizeof(line) - 1; i++) {
        const GuestEchoPart *part = &in->parts[i];
        uint64_t v;
        int n;
        if (part->text) {
            n = snprintf(line + used, sizeof(line) - used, "%s%s", i ? " " : "", part->text);
        } else {
            int ret = eval(r, in, &part->expr, &v);
            if (ret)
                return ret;
            n = snprintf(line + used, sizeof(line) - used, "%s%#" PRIx64, i ? " " : "", v);
        }
        used += (size_t)n < sizeof(line) - used ? (size_t)n : sizeof(line) - 1 - used;
    }
    if (r->ops->print) {
        r->ops->print(r->opaque, r->vcpu, line);
    } else {
        printf("vcpu%u: %s\n", r->vcpu, line);
        fflush(stdout);
    }
    return 0;
}

static int exec_sleep(VcpuRun *r, const GuestInsn *in)
{
    uint64_t ns;
    int ret = eval(r, in, &in->timeout_ns, &ns);
    while (!ret && ns) {
        if (r->stop && atomic_load(r->stop))
            return 0;       /* the main loop reports the stop */
        uint64_t slice = ns < SLEEP_SLICE_NS ? ns : SLEEP_SLICE_NS;
        struct timespec ts = { .tv_sec = (time_t)(slice / 1000000000ull),
                               .tv_nsec = (long)(slice % 1000000000ull) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        ns -= slice;
    }
    return ret;
}

static void report_time(VcpuRun *r, const GuestInsn *in, uint64_t iterations,
                        uint64_t total_ns)
{
    if (r->ops->report_time) {
        r->ops->report_time(r->opaque, r->vcpu, in->name, in->goal, iterations, total_ns);
        return;
    }
    printf("row\t%s\t%.1f\tns\t%s\n", in->name, (double)total_ns / (double)iterations,
           in->goal);
    fflush(stdout);
}

/* repeat/time entry: sets the next pc. */
static int exec_loop_begin(VcpuRun *r, const GuestInsn *in, uint32_t *pc)
{
    uint64_t n;
    int ret = eval(r, in, &in->addr, &n);
    if (ret)
        return ret;
    if (n == 0) {
        *pc = in->target;
        return 0;
    }
    r->loop_left[in->depth] = n;
    r->loop_index[in->depth] = 0;
    if (in->loop_var >= 0)
        r->vars[in->loop_var] = 0;
    if (in->timed)
        r->loop_start_ns[in->depth] = now_ns();
    (*pc)++;
    return 0;
}

static void exec_loop_end(VcpuRun *r, const GuestInsn *in, uint32_t *pc)
{
    uint64_t index = ++r->loop_index[in->depth];
    if (--r->loop_left[in->depth]) {
        if (in->loop_var >= 0)
            r->vars[in->loop_var] = index;
        *pc = in->target;
        return;
    }
    if (in->timed)
        report_time(r, in, index, now_ns() - r->loop_start_ns[in->depth]);
    (*pc)++;
}

/*
 * The head of a while loop, before each iteration: a false condition leaves the loop;
 * a true one past the loop's iteration or time bound fails the run, so a device that
 * never gets there cannot hang it.
 */
static int exec_while_test(VcpuRun *r, const GuestInsn *in, uint32_t *pc)
{
    uint64_t cond, max = UINT64_MAX, timeout;
    int ret = eval(r, in, &in->value, &cond);
    if (!ret && in->count.present)
        ret = eval(r, in, &in->count, &max);
    if (!ret)
        ret = eval(r, in, &in->timeout_ns, &timeout);
    if (ret)
        return ret;
    if (!cond) {
        *pc = in->target;
        return 0;
    }
    uint64_t done = r->loop_index[in->depth];
    uint64_t elapsed = now_ns() - r->loop_start_ns[in->depth];
    if (done >= max)
        return fail_at(r, in, ETIMEDOUT, "condition still true after %" PRIu64
                       " iterations (max %" PRIu64 ")", done, max);
    if (elapsed >= timeout)
        return fail_at(r, in, ETIMEDOUT, "condition still true after %" PRIu64
                       " iterations in %.3f ms (timeout %.3f ms)", done, elapsed / 1e6,
                       timeout / 1e6);
    r->loop_index[in->depth] = done + 1;
    (*pc)++;
    return 0;
}

/* Control flow: sets the next pc itself. */
static int exec_control(VcpuRun *r, const GuestInsn *in, uint32_t *pc)
{
    uint64_t v;
    int ret;
    switch ((enum GuestOp)in->op) {
    case GOP_LOOP_BEGIN:
        return exec_loop_begin(r, in, pc);
    case GOP_LOOP_END:
        exec_loop_end(r, in, pc);
        return 0;
    case GOP_WHILE_INIT:
        r->loop_index[in->depth] = 0;
        r->loop_start_ns[in->depth] = now_ns();
        (*pc)++;
        return 0;
    case GOP_WHILE_TEST:
        return exec_while_test(r, in, pc);
    case GOP_BRANCH:
        ret = eval(r, in, &in->value, &v);
        if (!ret)
            *pc = v ? *pc + 1 : in->target;
        return ret;
    case GOP_JUMP:
        *pc = in->target;
        return 0;
    case GOP_DONE:
        *pc = r->prog->ninsns;
        return 0;
    default:
        abort();    /* the caller sends only control flow here */
    }
}

static bool is_control(const GuestInsn *in)
{
    return in->op >= GOP_LOOP_BEGIN;
}

static int exec_one(VcpuRun *r, const GuestInsn *in)
{
    uint64_t v;
    int ret;
    switch ((enum GuestOp)in->op) {
    case GOP_PIO:
    case GOP_MMIO:          return exec_access(r, in);
    case GOP_RAW:           return exec_raw(r, in);
    case GOP_PEEK:
    case GOP_POKE:          return exec_mem_word(r, in);
    case GOP_FILL:          return exec_fill(r, in);
    case GOP_COMPARE_BYTE:
    case GOP_COMPARE_MEM:   return exec_compare(r, in);
    case GOP_SET:
    case GOP_EXPECT:
        ret = eval(r, in, &in->value, &v);
        return ret ? ret : apply_result(r, in, v);
    case GOP_WAIT_IRQ:      return exec_wait_irq(r, in);
    case GOP_IRQ_LEVEL:     return exec_irq_level(r, in);
    case GOP_LOG_DIRTY:     return exec_log_dirty(r, in);
    case GOP_DIRTY:         return exec_dirty(r, in);
    case GOP_COUNT:         return exec_count(r, in);
    case GOP_GRANT_TABLE:   return exec_grant_table(r, in);
    case GOP_GRANT:         return exec_grant(r, in);
    case GOP_GRANT_REVOKE:  return exec_grant_revoke(r, in);
    case GOP_ECHO:          return exec_echo(r, in);
    case GOP_SLEEP:         return exec_sleep(r, in);
    case GOP_FAIL:          return fail_at(r, in, EPROTO, "%s", in->name);
    default:
        abort();    /* control flow is exec_control's; nothing else exists */
    }
}

/* Every vCPU starts with the script's parameters set. */
static int init_params(VcpuRun *r, Error **errp)
{
    int ret = guest_script_check_params(r->script, errp);
    for (unsigned i = 0; !ret && i < r->script->nparams; i++)
        r->vars[r->script->params[i].var] = r->script->params[i].value;
    return ret;
}

int guest_run_program(const GuestScript *script, unsigned index,
                      const GuestBackendOps *ops, void *opaque, atomic_bool *stop,
                      Error **errp)
{
    assert(index < script->nprograms);
    VcpuRun *r = calloc(1, sizeof(*r));
    if (!r) {
        error_setg(errp, "vcpu %u: out of memory", script->programs[index].vcpu);
        return -ENOMEM;
    }
    *r = (VcpuRun){ .script = script, .prog = &script->programs[index], .ops = ops,
                    .opaque = opaque, .stop = stop, .errp = errp,
                    .vcpu = script->programs[index].vcpu };
    const GuestInsn *insns = r->prog->insns;
    uint32_t pc = 0, n = r->prog->ninsns;
    int ret = init_params(r, errp);
    while (pc < n && !ret) {
        const GuestInsn *in = &insns[pc];
        if (stop && atomic_load_explicit(stop, memory_order_relaxed)) {
            ret = fail_at(r, in, ECANCELED, "stopped: the run was cancelled");
            break;
        }
        if (is_control(in)) {
            ret = exec_control(r, in, &pc);
        } else {
            ret = exec_one(r, in);
            pc++;
        }
    }
    free(r);
    return ret;
}
