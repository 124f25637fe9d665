/*
 * Unit tests for the mockxen guest script language (tools/mockxen/guest*.c): parser,
 * parse errors, interpreter against a fake backend, multi-vCPU runs, and a fuzz test
 * that feeds garbage to the parser and runs whatever parses.
 */
#include "tests/unit/support.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/mockxen/guest.h"
#include "util/log.h"
#include "util/macros.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the fake backend ------------------------------------------------------------- */

#define FAKE_RAM_SIZE  (64 * 1024)
#define FAKE_LOG_MAX   4096
#define FAKE_PAGE      4096

typedef struct FakeReq {
    unsigned vcpu;
    unsigned flags;
    ioreq_t req;
} FakeReq;

typedef struct Fake {
    pthread_mutex_t lock;
    uint8_t ram[FAKE_RAM_SIZE];
    uint64_t regs[256];             /* "device registers", indexed by addr & 0xff */
    bool reg_written[256];
    FakeReq log[FAKE_LOG_MAX];
    unsigned nlog;
    unsigned long calls;            /* every op call */
    int ioreq_errno;                /* inject: ioreq fails with this */
    bool ioreq_error_silent;        /* ... without setting an Error */
    bool isa_raised[16];
    uint32_t msi_data_raised;
    uint64_t msi_addr_raised;
    bool msi_pending;
    uint64_t last_timeout_ns;
    GuestIrq last_irq;
    bool log_dirty;
    bool dirty[FAKE_RAM_SIZE / FAKE_PAGE];
    uint64_t modified_memory;
    char printed[8][128];
    unsigned nprinted;
    char time_name[64], time_goal[64];
    uint64_t time_iterations, time_total_ns;
    unsigned time_reports;
    atomic_bool *stop_after;        /* fuzz: raise this after `stop_calls` op calls */
    unsigned long stop_calls;
} Fake;

static void fake_call(Fake *f)
{
    f->calls++;
    if (f->stop_after && f->calls > f->stop_calls)
        atomic_store(f->stop_after, true);
}

static bool fake_range_ok(uint64_t gpa, size_t len)
{
    return gpa <= FAKE_RAM_SIZE && len <= FAKE_RAM_SIZE - gpa;
}

static int fake_ram_write(Fake *f, uint64_t gpa, const void *buf, size_t len, Error **errp)
{
    if (!fake_range_ok(gpa, len)) {
        error_setg(errp, "gpa %#llx+%zu outside fake RAM", (unsigned long long)gpa, len);
        return -EFAULT;
    }
    memcpy(f->ram + gpa, buf, len);
    for (uint64_t pfn = gpa / FAKE_PAGE; len && pfn <= (gpa + len - 1) / FAKE_PAGE; pfn++)
        f->dirty[pfn] |= f->log_dirty;
    return 0;
}

static int fake_ioreq(void *opaque, unsigned vcpu, ioreq_t *req, unsigned flags,
                      Error **errp)
{
    Fake *f = opaque;
    pthread_mutex_lock(&f->lock);
    fake_call(f);
    if (f->nlog < FAKE_LOG_MAX)
        f->log[f->nlog++] = (FakeReq){ .vcpu = vcpu, .flags = flags, .req = *req };
    int ret = 0;
    if (f->ioreq_errno) {
        ret = -f->ioreq_errno;
        if (!f->ioreq_error_silent)
            error_setg_errno(errp, f->ioreq_errno, "slot of vcpu %u", vcpu);
    } else if (req->data_is_ptr) {
        uint64_t len = (uint64_t)req->count * req->size;
        if (req->dir == IOREQ_READ) {           /* ins: the device fills guest memory */
            uint8_t pattern[256];
            for (unsigned i = 0; i < sizeof(pattern); i++)
                pattern[i] = (uint8_t)i;
            ret = fake_ram_write(f, req->data, pattern, len > 256 ? 256 : len, errp);
        }
    } else if (req->dir == IOREQ_WRITE) {
        f->regs[req->addr & 0xff] = req->data;
        f->reg_written[req->addr & 0xff] = true;
    } else {
        req->data = f->reg_written[req->addr & 0xff] ? f->regs[req->addr & 0xff]
                                                     : UINT64_MAX;
    }
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static int fake_mem_read(void *opaque, unsigned vcpu, uint64_t gpa, void *buf, size_t len,
                         Error **errp)
{
    Fake *f = opaque;
    pthread_mutex_lock(&f->lock);
    fake_call(f);
    int ret = 0;
    if (!fake_range_ok(gpa, len)) {
        error_setg(errp, "gpa %#llx+%zu outside fake RAM", (unsigned long long)gpa, len);
        ret = -EFAULT;
    } else {
        memcpy(buf, f->ram + gpa, len);
    }
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static int fake_mem_write(void *opaque, unsigned vcpu, uint64_t gpa, const void *buf,
                          size_t len, Error **errp)
{
    Fake *f = opaque;
    pthread_mutex_lock(&f->lock);
    fake_call(f);
    int ret = fake_ram_write(f, gpa, buf, len, errp);
    pthread_mutex_unlock(&f->lock);
    return ret;
}

static bool fake_msi_matches(const Fake *f, const GuestIrq *irq)
{
    return f->msi_pending && (!irq->match_data || irq->msi_data == f->msi_data_raised) &&
           (!irq->match_addr || irq->msi_addr == f->msi_addr_raised);
}

static int fake_wait_irq(void *opaque, unsigned vcpu, const GuestIrq *irq,
                         uint64_t timeout_ns, GuestMsi *msi, Error **errp)
{
    Fake *f = opaque;
    pthread_mutex_lock(&f->lock);
    fake_call(f);
    f->last_timeout_ns = timeout_ns;
    f->last_irq = *irq;
    bool raised = false;
    if (irq->kind == GUEST_IRQ_ISA)
        raised = f->isa_raised[irq->isa];
    else if (irq->kind == GUEST_IRQ_MSI)
        raised = fake_msi_matches(f, irq);
    if (raised && irq->kind == GUEST_IRQ_MSI) {
        f->msi_pending = false;
        *msi = (GuestMsi){ .addr = f->msi_addr_raised, .data = f->msi_data_raised };
    }
    pthread_mutex_unlock(&f->lock);
    if (!raised) {
        error_setg(errp, "no interrupt within %llu ns", (unsigned long long)timeout_ns);
        return -ETIMEDOUT;
    }
    return 0;
}

static int fake_irq_level(void *opaque, unsigned vcpu, const GuestIrq *irq, Error **errp)
{
    Fake *f = opaque;
    fake_call(f);
    if (irq->kind == GUEST_IRQ_MSI)
        return fake_msi_matches(f, irq);
    return irq->kind == GUEST_IRQ_ISA ? f->isa_raised[irq->isa] : 0;
}

static int fake_log_dirty(void *opaque, unsigned vcpu, bool enable, Error **errp)
{
    Fake *f = opaque;
    fake_call(f);
    f->log_dirty = enable;
    if (!enable)
        memset(f->dirty, 0, sizeof(f->dirty));
    return 0;
}

static int fake_dirty_bitmap(void *opaque, unsigned vcpu, uint64_t first_pfn, uint64_t nr,
                             bool clean, unsigned long *bitmap, Error **errp)
{
    Fake *f = opaque;
    fake_call(f);
    if (!f->log_dirty) {
        error_setg(errp, "log-dirty is off");
        return -EINVAL;
    }
    for (uint64_t i = 0; i < nr; i++) {
        uint64_t pfn = first_pfn + i;
        if (pfn < FAKE_RAM_SIZE / FAKE_PAGE && f->dirty[pfn]) {
            bitmap[i / (8 * sizeof(long))] |= 1ul << (i % (8 * sizeof(long)));
            if (clean)
                f->dirty[pfn] = false;
        }
    }
    return 0;
}

static int fake_counter(void *opaque, unsigned vcpu, const char *name, uint64_t *value,
                        Error **errp)
{
    Fake *f = opaque;
    fake_call(f);
    if (strcmp(name, "modified_memory")) {
        error_setg(errp, "no counter named '%s'", name);
        return -ENOENT;
    }
    *value = f->modified_memory;
    return 0;
}

static void fake_print(void *opaque, unsigned vcpu, const char *text)
{
    Fake *f = opaque;
    pthread_mutex_lock(&f->lock);
    if (f->nprinted < 8)
        snprintf(f->printed[f->nprinted++], sizeof(f->printed[0]), "%u:%s", vcpu, text);
    pthread_mutex_unlock(&f->lock);
}

static void fake_report_time(void *opaque, unsigned vcpu, const char *name,
                             const char *goal, uint64_t iterations, uint64_t total_ns)
{
    Fake *f = opaque;
    snprintf(f->time_name, sizeof(f->time_name), "%s", name);
    snprintf(f->time_goal, sizeof(f->time_goal), "%s", goal);
    f->time_iterations = iterations;
    f->time_total_ns = total_ns;
    f->time_reports++;
}

static const GuestBackendOps fake_ops = {
    .ioreq = fake_ioreq,
    .mem_read = fake_mem_read,
    .mem_write = fake_mem_write,
    .wait_irq = fake_wait_irq,
    .irq_level = fake_irq_level,
    .log_dirty = fake_log_dirty,
    .dirty_bitmap = fake_dirty_bitmap,
    .counter = fake_counter,
    .print = fake_print,
    .report_time = fake_report_time,
};

static Fake *fake_new(void)
{
    Fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

static void fake_free(Fake *f)
{
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static GuestScript *parse_ok(const char *text)
{
    Error *err = NULL;
    GuestScript *s = guest_script_parse("t.gs", text, strlen(text), &err);
    if (!s)
        fail_msg("unexpected parse error: %s", error_get_pretty(err));
    return s;
}

/* Parse and run `text`; returns guest_run's result, the message in *errp. */
static int run_text(Fake *f, const char *text, Error **errp)
{
    GuestScript *s = parse_ok(text);
    int ret = guest_run(s, &fake_ops, f, errp);
    guest_script_free(s);
    return ret;
}

static void run_ok(Fake *f, const char *text)
{
    Error *err = NULL;
    int ret = run_text(f, text, &err);
    if (ret)
        fail_msg("run failed (%d): %s", ret, err ? error_get_pretty(err) : "?");
}

/* Run `text`, which must fail with `errnum` and a message containing `needle`. */
static void run_fails(Fake *f, const char *text, int errnum, const char *needle)
{
    Error *err = NULL;
    int ret = run_text(f, text, &err);
    assert_int_equal(ret, -errnum);
    assert_non_null(err);
    if (!strstr(error_get_pretty(err), needle))
        fail_msg("message '%s' lacks '%s'", error_get_pretty(err), needle);
    error_free(err);
}

/* ---- parser ----------------------------------------------------------------------- */

static void parse_builds_programs(void **state)
{
    GuestScript *s = parse_ok("# a comment\n"
                              "out 0x3f8, 1, 0x41   # trailing comment\n"
                              "vcpu 2 {\n"
                              "  in 0x3fd 1 -> $lsr; expect $lsr & 0x20 == 0x20\n"
                              "}\n"
                              "repeat 3 { out 0x80 1 (1 << 4) | 2 }\n");
    assert_int_equal(s->nprograms, 2);
    assert_int_equal(guest_script_nr_vcpus(s), 3);
    const GuestProgram *p0 = &s->programs[0], *p2 = &s->programs[1];
    assert_int_equal(p0->vcpu, 0);
    assert_int_equal(p2->vcpu, 2);
    assert_int_equal(p0->ninsns, 4);            /* out, LOOP_BEGIN, out, LOOP_END */
    assert_int_equal(p0->insns[0].op, GOP_PIO);
    assert_true(p0->insns[0].write);
    assert_true(p0->insns[0].value.is_const);
    assert_int_equal(p0->insns[0].value.value, 0x41);
    assert_int_equal(p0->insns[0].line, 2);
    assert_int_equal(p0->insns[2].value.value, 0x12);     /* folded */
    assert_int_equal(p0->insns[1].op, GOP_LOOP_BEGIN);
    assert_int_equal(p0->insns[1].target, 4);
    assert_int_equal(p0->insns[3].target, 2);
    assert_int_equal(p2->ninsns, 2);
    assert_int_equal(p2->insns[1].op, GOP_EXPECT);
    assert_int_equal(p2->insns[1].result.cmp, GCMP_EQ);
    assert_false(p2->insns[1].value.is_const);
    assert_memory_equal(p2->insns[0].src, "in 0x3fd 1 -> $lsr", p2->insns[0].src_len);
    guest_script_free(s);
}

static void parse_empty_script(void **state)
{
    GuestScript *s = parse_ok("\n\n# nothing\n");
    assert_int_equal(s->nprograms, 0);
    assert_int_equal(guest_script_nr_vcpus(s), 0);
    Error *err = NULL;
    assert_int_equal(guest_run(s, &fake_ops, NULL, &err), 0);
    guest_script_free(s);
}

static const struct {
    const char *text;
    const char *message;
} parse_errors[] = {
    { "bogus 1", "t.gs:1:1: unknown statement 'bogus'" },
    { "out 0x80 3 0", "t.gs:1:10: bad access size 3 (allowed: 1, 2, 4)" },
    { "mmio-read 0 16", "t.gs:1:13: bad access size 16" },
    { "\nrepeat 2 {\n out 0x80 1 0\n", "t.gs:4:1: expected '}', got end of file" },
    { "}", "t.gs:1:1: expected a statement ('}' has no '{')" },
    { "out 0x80 1 99999999999999999999", "t.gs:1:12: number does not fit in 64 bits" },
    { "out 0x80 1 1/0", "t.gs:1:12: division by zero" },
    { "vcpu 128 { }", "t.gs:1:6: vcpu id 128 is not below 128" },
    { "vcpu 1 { vcpu 2 { } }", "t.gs:1:10: 'vcpu' blocks cannot be nested" },
    { "echo \"abc", "t.gs:1:6: unterminated string" },
    { "out 0x80 1 \001", "t.gs:1:12: unexpected character 0x01" },
    { "raw colour=1", "t.gs:1:5: expected an ioreq field" },
    { "expect-count modified_memory", "expected a comparison" },
    { "wait-irq isa 16", "t.gs:1:10: ISA IRQ is above 15" },
    { "wait-irq msi data 0x100000000", "t.gs:1:10: MSI data is above 32 bits" },
    { "wait-irq intx 0 3 e", "t.gs:1:19: expected a number, $variable or '(', got 'e'" },
    { "wait-irq intx 0 32 a", "INTx needs bus <= 255, device <= 31, pin a-d or 0-3" },
    { "irq-level pci", "expected 'isa', 'spi', 'intx' or 'msi'" },
    { "wait-irq spi 31", "an SPI is a GIC id from 32 to 1019" },
    { "out 0x80 1 5ms", "unit 'ms' is only allowed in a duration" },
    { "sleep 5 parsecs", "expected end of statement, got 'parsecs'" },
    { "in 0x80 1 $x", "expected end of statement, got $x" },
    { "in 0x80 1 -> 5", "expected a $variable after '->'" },
    { "out 0x80 1 (1", "expected ')', got end of file" },
    { "fill 0 16 0x100", "byte value 0x100 is above 0xff" },
    { "vcpu $x { }", "vcpu id must be a constant" },
    { "log-dirty maybe", "expected 'on' or 'off'" },
    { "dirty 0 0x1000001", "at most 16777216 pfns" },
    { "sleep 99999999999s", "duration too long" },
    { "$x-y = 1", "t.gs:1:3: expected '=', got '-'" },
    { "$ = 1", "'$' must start a variable name" },
    { "$x.y = 1", "unexpected character 0x2e" },
    { "out 0x80 1 0x", "number without digits" },
    { "out 0x80 1 12abc", "bad character in number" },
    { "echo '\\q'", "unknown escape in string" },
    { "echo 'ab'", "character literal must hold one character" },
    { "include 5", "expected a file name in quotes" },
    { "echo \"\\x4g\"", "t.gs:1:6: \\x needs two hex digits" },
    { "repeat 2 as 5 { }", "expected a $variable after 'as'" },
    { "out 0x80 1 1+(1+(1+(1+(1+(1+(1+(1+(1+(1+(1+(1+(1+(1+(1+(1+(1+1))))))))))))))))",
      "t.gs:1:12: expression nested too deeply" },
    { "out 0x80 1 0b", "bad character in number" },
    { "include \"/nonexistent/x.gs\"", "t.gs:1:9: include: cannot open /nonexistent/x.gs" },
    { "break", "t.gs:1:1: 'break' outside a loop" },
    { "if 1 { break }", "t.gs:1:8: 'break' outside a loop" },
    { "repeat 2 { }\nbreak", "t.gs:2:1: 'break' outside a loop" },
    { "repeat 2 { break 1 }", "t.gs:1:18: expected end of statement, got number 0x1" },
    { "if 1 { }\nelse { }", "t.gs:2:1: 'else' must follow the '}' of an 'if' on the same line" },
    { "else { }", "t.gs:1:1: 'else' must follow" },
    { "if 1 out 0x80 1 0", "t.gs:1:6: expected '{', got 'out'" },
    { "if { }", "t.gs:1:4: expected a number, $variable or '('" },
    { "if 1 { } else out 0x80 1 0", "t.gs:1:15: expected '{', got 'out'" },
    { "if 1 { } else if { }", "t.gs:1:18: expected a number" },
    { "while 1 max 3 max 4 { }", "t.gs:1:15: expected '{', got 'max'" },
    { "while 1 timeout { }", "t.gs:1:17: expected a number" },
    { "while 1", "t.gs:1:8: expected '{', got end of file" },
    { "while 1 { ", "t.gs:1:11: expected '}', got end of file" },
    { "if 1 { vcpu 1 { } }", "t.gs:1:8: 'vcpu' blocks cannot be nested" },
    { "param 5", "t.gs:1:7: expected a $variable after 'param'" },
    { "param $a\nparam $a = 2", "t.gs:2:7: parameter $a is declared twice" },
    { "param $a = $b", "t.gs:1:12: a parameter's default must be a constant" },
    { "param $a 5", "t.gs:1:10: expected end of statement" },
    { "repeat 1 { param $a }", "t.gs:1:12: 'param' belongs outside blocks" },
    { "vcpu 1 { param $a }", "t.gs:1:10: 'param' belongs outside blocks" },
    { "wait-irq isa 4 -> $x", "t.gs:1:16: only 'wait-irq msi' has a value" },
    { "wait-irq msi -> $d,", "expected a $variable after '->'" },
    { "irq-level msi -> $d, $a", "expected end of statement, got ','" },
};

static void parse_errors_have_positions(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(parse_errors); i++) {
        Error *err = NULL;
        const char *text = parse_errors[i].text;
        GuestScript *s = guest_script_parse("t.gs", text, strlen(text), &err);
        if (s)
            fail_msg("'%s' parsed but should not", text);
        assert_non_null(err);
        if (!strstr(error_get_pretty(err), parse_errors[i].message))
            fail_msg("'%s': message '%s' lacks '%s'", text, error_get_pretty(err),
                     parse_errors[i].message);
        error_free(err);
    }
}

static void lexical_forms(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "out 0x80, \\\n 1, 0b1010_0101   # continued line\n"
              "in 0x80 1 == 0xa5\n"
              "expect 1_000 == 1000\n"
              "expect '\\n' == 10; expect '\\r' == 13; expect '\\0' == 0\n"
              "expect '\\\\' == 92; expect '\\'' == 39; expect '\\x41' == 'A'\n"
              "expect 1 < 2; expect 2 <= 2; expect 3 > 2; expect 3 >= 3; expect 1 != 2\n"
              "$a = 5\nexpect $a < 6\nexpect $a <= 5\nexpect $a > 4\n"
              "echo \"a\\tb\\\"c\\\"\"\n");
    assert_string_equal(f->printed[0], "0:a\tb\"c\"");
    fake_free(f);
}

static void parse_limits(void **state)
{
    /* nesting deeper than GUEST_MAX_NESTING loops */
    char text[4096] = "";
    for (int i = 0; i <= GUEST_MAX_NESTING; i++)
        strcat(text, "repeat 1 {\n");
    Error *err = NULL;
    assert_null(guest_script_parse("t.gs", text, strlen(text), &err));
    assert_non_null(strstr(error_get_pretty(err), "blocks nested deeper than 16"));
    error_free(err);
    err = NULL;

    /* ifs and whiles count too; exactly GUEST_MAX_NESTING blocks are fine */
    text[0] = '\0';
    for (int i = 0; i < GUEST_MAX_NESTING; i++)
        strcat(text, i & 1 ? "if 1 {\n" : "while 0 {\n");
    for (int i = 0; i < GUEST_MAX_NESTING; i++)
        strcat(text, "}\n");
    guest_script_free(parse_ok(text));
    text[0] = '\0';
    for (int i = 0; i <= GUEST_MAX_NESTING; i++)
        strcat(text, i & 1 ? "if 1 {\n" : "while 0 {\n");
    assert_null(guest_script_parse("t.gs", text, strlen(text), &err));
    assert_non_null(strstr(error_get_pretty(err), "blocks nested deeper than 16"));
    error_free(err);
    err = NULL;

    /* a long else-if chain is not nesting */
    strcpy(text, "$x = 59\nif $x == 0 { }");
    for (int i = 1; i < 60; i++)
        sprintf(text + strlen(text), " else if $x == %d { out 0x80 1 %d }", i, i);
    Fake *f = fake_new();
    run_ok(f, text);
    assert_int_equal(f->nlog, 1);
    assert_int_equal(f->log[0].req.data, 59);
    fake_free(f);

    /* parentheses beyond the evaluation stack */
    memset(text, 0, sizeof(text));
    strcpy(text, "out 0x80 1 ");
    for (int i = 0; i < 200; i++)
        strcat(text, "(");
    assert_null(guest_script_parse("t.gs", text, strlen(text), &err));
    assert_non_null(strstr(error_get_pretty(err), "nested too deeply"));
    error_free(err);
    err = NULL;

    /* a long but valid expression hits the step limit, not a crash */
    strcpy(text, "out 0x80 1 1");
    for (int i = 0; i < 100; i++)
        strcat(text, "+1");
    assert_null(guest_script_parse("t.gs", text, strlen(text), &err));
    assert_non_null(strstr(error_get_pretty(err), "expression too long"));
    error_free(err);
    err = NULL;

    /* too many variables */
    char *big = calloc(1, GUEST_MAX_VARS * 16 + 16);
    assert_non_null(big);
    for (int i = 0; i <= GUEST_MAX_VARS; i++)
        sprintf(big + strlen(big), "$v%d = 1\n", i);
    assert_null(guest_script_parse("t.gs", big, strlen(big), &err));
    assert_non_null(strstr(error_get_pretty(err), "t.gs:65:1: too many variables (at most 64)"));
    error_free(err);
    err = NULL;
    free(big);

    /* over-long names and strings */
    char word[600];
    memset(word, 'x', sizeof(word) - 1);
    word[sizeof(word) - 1] = '\0';
    assert_null(guest_script_parse("t.gs", word, strlen(word), &err));
    assert_non_null(strstr(error_get_pretty(err), "name too long"));
    error_free(err);
    err = NULL;
    word[0] = '"';
    assert_null(guest_script_parse("t.gs", word, strlen(word), &err));
    assert_non_null(strstr(error_get_pretty(err), "string too long"));
    error_free(err);
    err = NULL;

    /* a script above the size limit is refused before it is read */
    size_t huge = (16u << 20) + 1;
    big = calloc(1, huge);
    assert_non_null(big);
    assert_null(guest_script_parse("t.gs", big, huge, &err));
    assert_non_null(strstr(error_get_pretty(err), "above the 16777216 byte limit"));
    error_free(err);
    err = NULL;
    free(big);

    /* NUL bytes inside the text are errors, not terminators */
    static const char with_nul[] = "out 0x80 1 0\0out 0x80 1 1";
    assert_null(guest_script_parse("t.gs", with_nul, sizeof(with_nul) - 1, &err));
    assert_non_null(strstr(error_get_pretty(err), "t.gs:1:13: unexpected character 0x00"));
    error_free(err);
}

/* ---- interpreter: port and MMIO I/O ----------------------------------------------- */

static void pio_out_in_and_expect(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "out 0x3f8, 1, 0x155\n"           /* masked to the access size */
              "in 0x3f8 1 == 0x55\n"
              "in 0x3f8 1 -> $v\n"
              "expect $v & 0x50 == 0x50\n"
              "expect $v != 0 \n"
              "expect $v\n"
              "in 0x3f9 2 == 0xffff            # unwritten: all ones, masked\n");
    assert_int_equal(f->nlog, 4);
    const ioreq_t *w = &f->log[0].req;
    assert_int_equal(w->type, IOREQ_TYPE_PIO);
    assert_int_equal(w->addr, 0x3f8);
    assert_int_equal(w->size, 1);
    assert_int_equal(w->count, 1);
    assert_int_equal(w->dir, IOREQ_WRITE);
    assert_int_equal(w->data, 0x55);
    assert_int_equal(w->data_is_ptr, 0);
    assert_int_equal(f->log[0].flags, 0);
    assert_int_equal(f->log[1].req.dir, IOREQ_READ);
    assert_int_equal(f->log[3].req.size, 2);
    fake_free(f);
}

static void expect_mismatch_reports_line(void **state)
{
    Fake *f = fake_new();
    run_fails(f, "out 0x3f8 1 0x55\n\nin 0x3f8 1 == 0x56\n", EPROTO,
              "t.gs:3: vcpu 0: in 0x3f8 1 == 0x56: expected == 0x56, got 0x55");
    run_fails(f, "$a = 3\nexpect $a > 4\n", EPROTO, "t.gs:2: vcpu 0: expect $a > 4: "
              "expected > 0x4, got 0x3");
    run_fails(f, "$a = 0\nexpect $a\n", EPROTO, "expected non-zero, got 0");
    run_fails(f, "fail \"broken\"\n", EPROTO, "t.gs:1: vcpu 0: fail \"broken\": broken");
    fake_free(f);
}

static void mmio_sizes_and_fields(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "mmio-write 0xfed00010 8 0x1122334455667788\n"
              "mmio-read 0xfed00010 8 == 0x1122334455667788\n"
              "mmio-read 0xfed00010 4 == 0x55667788\n");
    assert_int_equal(f->log[0].req.type, IOREQ_TYPE_COPY);
    assert_int_equal(f->log[0].req.size, 8);
    assert_int_equal(f->log[0].req.addr, 0xfed00010);
    assert_int_equal(f->log[2].req.size, 4);
    fake_free(f);
}

static void rep_forms_set_ptr_and_df(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "rep-out 0x80, 2, 4, 0x1000\n"
              "rep-in 0x80 1 8 0x2000 df\n"
              "rep-mmio-write 0xe0000000 4 2 0x3000\n"
              "rep-mmio-read 0xe0000000 8 3 0x4000 df\n"
              "compare-mem 0x2000 0x2000 8\n"
              "peek 0x2007 1 == 7\n");
    assert_int_equal(f->nlog, 4);
    const ioreq_t *r = &f->log[0].req;
    assert_int_equal(r->type, IOREQ_TYPE_PIO);
    assert_int_equal(r->data_is_ptr, 1);
    assert_int_equal(r->data, 0x1000);
    assert_int_equal(r->count, 4);
    assert_int_equal(r->size, 2);
    assert_int_equal(r->dir, IOREQ_WRITE);
    assert_int_equal(r->df, 0);
    r = &f->log[1].req;
    assert_int_equal(r->dir, IOREQ_READ);
    assert_int_equal(r->df, 1);
    r = &f->log[3].req;
    assert_int_equal(r->type, IOREQ_TYPE_COPY);
    assert_int_equal(r->count, 3);
    assert_int_equal(r->size, 8);
    assert_int_equal(r->df, 1);
    run_fails(f, "rep-out 0x80 1 0 0x1000", EINVAL, "rep count 0 is not 1..0xffffffff");
    run_fails(f, "$p = 0x10000\nout $p 1 0", EINVAL, "port 0x10000 is above 0xffff");
    fake_free(f);
}

static void raw_sends_every_field(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "raw type=0x77 addr=0xdead data=0xbeef count=0xffffffff size=3 dir=read "
              "df=1 ptr=1 state=0xf eport=42\n"
              "raw\n"
              "raw type=pci-config, dir=write, data_is_ptr=0, vp_eport=7, size=0x1ffffffff\n");
    assert_int_equal(f->nlog, 3);
    const ioreq_t *r = &f->log[0].req;
    assert_int_equal(f->log[0].flags, GUEST_IOREQ_RAW);
    assert_int_equal(r->type, 0x77);
    assert_int_equal(r->addr, 0xdead);
    assert_int_equal(r->data, 0xbeef);
    assert_int_equal(r->count, 0xffffffff);
    assert_int_equal(r->size, 3);
    assert_int_equal(r->dir, 1);
    assert_int_equal(r->df, 1);
    assert_int_equal(r->data_is_ptr, 1);
    assert_int_equal(r->state, 0xf);
    assert_int_equal(r->vp_eport, 42);
    r = &f->log[1].req;             /* defaults */
    assert_int_equal(r->type, IOREQ_TYPE_PIO);
    assert_int_equal(r->count, 1);
    assert_int_equal(r->size, 1);
    assert_int_equal(r->state, STATE_IOREQ_READY);
    assert_int_equal(r->dir, IOREQ_WRITE);
    r = &f->log[2].req;
    assert_int_equal(r->type, IOREQ_TYPE_PCI_CONFIG);
    assert_int_equal(r->vp_eport, 7);
    assert_int_equal(r->size, 0xffffffff);  /* truncated to the field */
    fake_free(f);
}

/* ---- interpreter: memory ---------------------------------------------------------- */

static void memory_poke_peek_fill_compare(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "poke 0x100 4 0xaabbccdd\n"
              "peek 0x100 1 == 0xdd\n"
              "peek 0x102 2 == 0xaabb\n"
              "peek 0x100 8 -> $q\n"
              "expect $q == 0xaabbccdd\n"
              "fill 0x1000 5000 0x5a\n"
              "compare 0x1000 5000 0x5a\n"
              "compare 0x2388 1 0\n"
              "fill 0x8000 16 'x'\n"
              "compare-mem 0x8000 0x1000 0\n");
    assert_int_equal(f->ram[0x1000 + 4999], 0x5a);
    assert_int_equal(f->ram[0x1000 + 5000], 0);
    run_fails(f, "poke 0x1010 1 0x11\ncompare 0x1000 32 0x5a", EPROTO,
              "t.gs:2: vcpu 0: compare 0x1000 32 0x5a: byte at 0x1010: expected 0x5a, "
              "got 0x11");
    run_fails(f, "compare-mem 0x1000 0x8000 16", EPROTO, "byte at 0x1000: expected 0x78");
    run_fails(f, "compare-mem 0x1000 0xfff8 16", EFAULT, "mem_read: gpa 0xfff8+16 outside");
    run_fails(f, "peek 0xfffff 4", EFAULT,
              "t.gs:1: vcpu 0: peek 0xfffff 4: mem_read: gpa 0xfffff+4 outside fake RAM");
    run_fails(f, "$b = 256\nfill 0 1 $b", EINVAL, "byte value 0x100 is above 0xff");
    run_fails(f, "fill 0xffffffffffffffff 2 0", EINVAL, "wraps");
    fake_free(f);
}

/* ---- interpreter: control flow ---------------------------------------------------- */

static void loops_and_variables(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "$n = 0\n"
              "repeat 5 as $i { out 0x80 1 $i }\n"
              "repeat 3 {\n"
              "  repeat 2 as $j { $n = $n + 1 }\n"
              "}\n"
              "expect $n == 6\n"
              "repeat 0 { fail \"never\" }\n"
              "$k = 2\n"
              "repeat $k * 2 { out 0x81 1 0x7 }\n"
              "expect ($n >= 6) == 1\n"
              "expect -1 == 0xffffffffffffffff\n"
              "expect ~0 >> 63 == 1\n"
              "expect 1 << 64 == 0\n"
              "expect (7 % 4) * 3 - 1 / 1 ^ 1 == 9\n"
              "expect !0 == 1\n");
    assert_int_equal(f->nlog, 9);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(f->log[i].req.data, i);
    assert_int_equal(f->log[8].req.addr, 0x81);
    run_fails(f, "$z = 0\nexpect 1 / $z", EDOM, "t.gs:2: vcpu 0: expect 1 / $z: division by zero");
    fake_free(f);
}

static void done_ends_vcpu(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "out 0x80 1 1\ndone\nfail \"not reached\"\n");
    run_ok(f, "repeat 10 { out 0x80 1 2; exit }\n");
    assert_int_equal(f->nlog, 2);
    fake_free(f);
}

static void time_block_reports(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "time 1000 \"pio-out\" \"under 5 us\" { out 0x3ff 1 0x55 }\n");
    assert_int_equal(f->time_reports, 1);
    assert_string_equal(f->time_name, "pio-out");
    assert_string_equal(f->time_goal, "under 5 us");
    assert_int_equal(f->time_iterations, 1000);
    assert_true(f->time_total_ns > 0);
    assert_int_equal(f->nlog, 1000);
    run_ok(f, "\ntime 3 { }\n");
    assert_string_equal(f->time_name, "t.gs:2");
    assert_int_equal(f->time_iterations, 3);
    fake_free(f);
}

static void echo_and_sleep(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "$x = 0x2a\necho \"x is\" $x, \"tab\\there\"\nsleep 1ms\nsleep 10us\n"
              "sleep 0\nsleep $x ns\n");
    assert_int_equal(f->nprinted, 1);
    assert_string_equal(f->printed[0], "0:x is 0x2a tab\there");
    fake_free(f);
}

/* Without print/report_time ops, echo and time go to stdout. */
static void default_output_goes_to_stdout(void **state)
{
    char path[] = "/tmp/guest-stdout-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);

    GuestBackendOps only_ioreq = { .ioreq = fake_ioreq };
    Fake *f = fake_new();
    GuestScript *s = parse_ok("vcpu 2 { echo \"hi\" 16; time 2 \"t\" \"g\" { out 0x80 1 0 } }");
    Error *err = NULL;
    int ret = guest_run(s, &only_ioreq, f, &err);
    guest_script_free(s);

    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    assert_int_equal(ret, 0);
    char buf[256] = "";
    assert_true(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
    close(fd);
    unlink(path);
    assert_string_equal(strtok(buf, "\n"), "vcpu2: hi 0x10");
    char *row = strtok(NULL, "\n");
    assert_non_null(row);
    assert_memory_equal(row, "row\tt\t", 5);
    assert_non_null(strstr(row, "\tns\tg"));
    fake_free(f);
}

static void result_tail_in_either_order(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "out 0x80 1 7\n"
              "in 0x80 1 == 7 -> $a\n"
              "in 0x80 1 -> $b == 7\n"
              "set $c = $a == $b\n"
              "expect $c == 1\n");
    fake_free(f);
}

/* ---- interpreter: interrupts, log-dirty, counters ---------------------------------- */

static int failing_irq_level(void *opaque, unsigned vcpu, const GuestIrq *irq, Error **errp)
{
    error_setg(errp, "no line %u.%c", irq->dev, 'a' + irq->intx);
    return -ENODEV;
}

static void wait_irq_forms(void **state)
{
    Fake *f = fake_new();
    f->isa_raised[4] = true;
    run_ok(f, "wait-irq isa 4\nirq-level isa 4 == 1\nirq-level isa 3 -> $l\nexpect $l == 0");
    assert_int_equal(f->last_timeout_ns, GUEST_DEFAULT_IRQ_TIMEOUT_NS);
    run_fails(f, "wait-irq isa 3 timeout 5ms", ETIMEDOUT,
              "t.gs:1: vcpu 0: wait-irq isa 3 timeout 5ms: wait-irq: no interrupt within "
              "5000000 ns");
    assert_int_equal(f->last_irq.kind, GUEST_IRQ_ISA);
    assert_int_equal(f->last_irq.isa, 3);
    run_fails(f, "wait-irq intx 0, 3, c timeout 2 s", ETIMEDOUT, "no interrupt");
    assert_int_equal(f->last_irq.kind, GUEST_IRQ_INTX);
    assert_int_equal(f->last_irq.dev, 3);
    assert_int_equal(f->last_irq.intx, 2);
    assert_int_equal(f->last_timeout_ns, 2000000000ull);
    f->msi_pending = true;
    f->msi_data_raised = 0x4041;
    run_fails(f, "wait-irq msi data 0x4040 addr 0xfee00000", ETIMEDOUT, "no interrupt");
    assert_true(f->last_irq.match_data && f->last_irq.match_addr);
    assert_int_equal(f->last_irq.msi_addr, 0xfee00000);
    run_ok(f, "$d = 0x4041\nwait-irq msi data $d");
    run_fails(f, "$dev = 32\nwait-irq intx 0 $dev a", EINVAL,
              "t.gs:2: vcpu 0: wait-irq intx 0 $dev a: INTx needs bus <= 255");
    run_fails(f, "$i = 16\nirq-level isa $i", EINVAL, "ISA IRQ is above 15");
    GuestBackendOps failing = fake_ops;
    failing.irq_level = failing_irq_level;
    GuestScript *s = parse_ok("irq-level intx 0 1 b");
    Error *err = NULL;
    assert_int_equal(guest_run(s, &failing, f, &err), -ENODEV);
    assert_string_equal(error_get_pretty(err),
                        "t.gs:1: vcpu 0: irq-level intx 0 1 b: irq-level: no line 1.b");
    error_free(err);
    guest_script_free(s);
    f->msi_pending = true;
    run_ok(f, "wait-irq msi timeout 100us");
    assert_false(f->last_irq.match_data);
    assert_int_equal(f->last_timeout_ns, 100000);
    fake_free(f);
}

static void log_dirty_and_counters(void **state)
{
    Fake *f = fake_new();
    f->modified_memory = 3;
    run_ok(f, "log-dirty on\n"
              "poke 0x1000 1 1\n"
              "fill 0x3ff0 0x20 1            # spans pfns 3 and 4\n"
              "dirty 0 16 == 3\n"
              "dirty 0 16 clean -> $d\n"
              "expect $d == 3\n"
              "dirty 0 16 == 0\n"
              "log-dirty off\n"
              "expect-count modified_memory >= 1\n"
              "count \"modified_memory\" -> $m\n"
              "expect $m == 3\n");
    run_fails(f, "dirty 0 4", EINVAL, "t.gs:1: vcpu 0: dirty 0 4: dirty: log-dirty is off");
    run_fails(f, "expect-count modified_memory == 4", EPROTO, "expected == 0x4, got 0x3");
    run_fails(f, "count nothing", ENOENT, "count: no counter named 'nothing'");
    run_fails(f, "$n = 0\ndirty 0 $n", EINVAL, "pfn count 0 is not 1..0x1000000");
    fake_free(f);
}

/* ---- control flow: if, while, break ------------------------------------------------ */

/* The ioreqs sent were exactly n, with these data values. */
static void assert_logged_data(const Fake *f, const uint64_t *want, unsigned n)
{
    assert_int_equal(f->nlog, n);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(f->log[i].req.data, want[i]);
}

static void if_else_chains(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "repeat 4 as $i {\n"
              "    if $i == 0 { out 0x80 1 10 } else if $i & 1 == 1 { out 0x80 1 11 }"
              " else { out 0x80 1 12 }\n"
              "}\n"
              "if 0 { out 0x80 1 13 }\n"
              "if 7 > 3 {\n"
              "    out 0x80 1 14\n"
              "} else {\n"
              "    out 0x80 1 15\n"
              "}\n");
    static const uint64_t want[] = { 10, 11, 12, 11, 14 };
    assert_logged_data(f, want, ARRAY_SIZE(want));
    fake_free(f);
}

static void while_loops_and_bounds(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "$n = 0\n"
              "while $n < 5 { out 0x80 1 $n; $n = $n + 1 }\n"
              "while 0 max 0 { fail \"never runs\" }\n"
              "expect $n == 5\n");
    assert_int_equal(f->nlog, 5);
    assert_int_equal(f->log[4].req.data, 4);

    /* A condition that stays true hits the bound and says so. */
    run_fails(f, "$x = 1\nwhile $x == 1 max 3 { out 0x80 1 0 }", ETIMEDOUT,
              "t.gs:2: vcpu 0: while $x == 1 max 3: condition still true after 3 "
              "iterations (max 3)");
    uint64_t start = now_ms();
    run_fails(f, "while 1 timeout 20ms { sleep 1ms }", ETIMEDOUT,
              "t.gs:1: vcpu 0: while 1 timeout 20ms: condition still true after ");
    assert_true(now_ms() - start < 5000);
    run_fails(f, "while 1 max 1000000000 timeout 5 ms { }", ETIMEDOUT, "(timeout 5.000 ms)");

    /* The bounds start again each time the loop is entered. */
    run_ok(f, "repeat 3 { $k = 0\n while $k < 2 max 2 { $k = $k + 1 } }");
    GuestScript *s = parse_ok("while 1 { }");
    assert_int_equal(s->programs[0].insns[1].timeout_ns.value,
                     GUEST_DEFAULT_WHILE_TIMEOUT_NS);
    guest_script_free(s);
    fake_free(f);
}

static void break_leaves_the_innermost_loop(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "repeat 3 as $i {\n"
              "    repeat 100 as $j { if $j == 2 { break }\n out 0x80 1 $i * 16 + $j }\n"
              "    out 0x81 1 $i\n"
              "}\n"
              "$n = 0\n"
              "while 1 { $n = $n + 1; if $n == 4 { break } }\n"
              "expect $n == 4\n"
              "time 1000 \"not reported\" { break }\n");
    static const uint64_t want[] = { 0x00, 0x01, 0, 0x10, 0x11, 1, 0x20, 0x21, 2 };
    assert_logged_data(f, want, ARRAY_SIZE(want));
    assert_int_equal(f->time_reports, 0);               /* left early: no report */
    fake_free(f);
}

/* ---- parameters --------------------------------------------------------------------- */

static int run_with_params(Fake *f, const char *text, const char *const *assignments,
                           unsigned n, Error **errp)
{
    GuestScript *s = parse_ok(text);
    int ret = 0;
    for (unsigned i = 0; !ret && i < n; i++)
        ret = guest_script_set_param_text(s, assignments[i], errp);
    if (!ret)
        ret = guest_run(s, &fake_ops, f, errp);
    guest_script_free(s);
    return ret;
}

static void params_from_outside(void **state)
{
    Fake *f = fake_new();
    Error *err = NULL;
    const char *given[] = { "port=0x80", "n=3", "flags=0b1_0000_0001" };
    static const char script[] =
        "param $n\n"
        "param $step = 2 * 8\n"
        "param $flags                   # declared: the script also assigns it\n"
        "vcpu 0 { repeat $n as $i { out $port 1 $i * $step } }\n"
        "vcpu 1 { expect $flags == 0x101; $flags = 0; expect $flags == 0 }\n";
    assert_int_equal(run_with_params(f, script, given, 3, &err), 0);
    assert_int_equal(f->nlog, 3);
    assert_int_equal(f->log[2].req.addr, 0x80);
    assert_int_equal(f->log[2].req.data, 32);

    /* A default can be overridden (and a script may assign its parameters). */
    const char *step[] = { "step=1", "n=2", "port=0x84", "flags=0x101" };
    f->nlog = 0;
    assert_int_equal(run_with_params(f, script, step, 4, &err), 0);
    assert_int_equal(f->nlog, 2);
    assert_int_equal(f->log[1].req.addr, 0x84);
    assert_int_equal(f->log[1].req.data, 1);

    /* A parameter without a value is an error before any vCPU runs. */
    f->nlog = 0;
    assert_int_equal(run_with_params(f, script, given, 1, &err), -EINVAL);
    assert_string_equal(error_get_pretty(err),
                        "t.gs:1:7: parameter $n has no value: give it with --param n=VALUE "
                        "or a default (param $n = VALUE)");
    error_free(err);
    err = NULL;
    assert_int_equal(run_with_params(f, "expect $never == 1", NULL, 0, &err), -EINVAL);
    assert_string_equal(error_get_pretty(err),
                        "t.gs:1:8: $never is read but never set: give it with --param "
                        "never=VALUE or set it in the script");
    error_free(err);
    assert_int_equal(f->nlog, 0);
    fake_free(f);
}

static void param_errors(void **state)
{
    static const struct { const char *script, *assignment, *message; } cases[] = {
        { "param $a = 1", "b=2", "the script has no parameter $b" },
        { "$a = 1\nexpect $a", "a=2", "the script has no parameter $a" },
        { "param $a", "a", "'a' is not NAME=VALUE" },
        { "param $a", "=1", "'=1' is not NAME=VALUE" },
        { "param $a", "a=", "parameter $a: '' is not a number" },
        { "param $a", "a=-1", "parameter $a: '-1' is not a number" },
        { "param $a", "a=12abc", "'12abc' is not a number" },
        { "param $a", "a=1 2", "'1 2' is not a number" },
        { "param $a", "a=5ms", "'5ms' is not a number" },
        { "param $a", "a=0x1_0000_0000_0000_0000", "is not a number" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        GuestScript *s = parse_ok(cases[i].script);
        Error *err = NULL;
        assert_int_not_equal(guest_script_set_param_text(s, cases[i].assignment, &err), 0);
        if (!strstr(error_get_pretty(err), cases[i].message))
            fail_msg("'%s': message '%s' lacks '%s'", cases[i].assignment,
                     error_get_pretty(err), cases[i].message);
        error_free(err);
        guest_script_free(s);
    }
    GuestScript *s = parse_ok("param $a");
    Error *err = NULL;
    assert_int_equal(guest_script_set_param(s, "a", 1, NULL), 0);
    assert_int_equal(guest_script_set_param(s, "a", 2, &err), -EEXIST);
    assert_string_equal(error_get_pretty(err), "parameter $a is given twice");
    error_free(err);
    assert_int_equal(guest_script_check_params(s, NULL), 0);
    guest_script_free(s);
}

/* ---- MSIs ------------------------------------------------------------------------ */

static void msi_data_and_address_are_readable(void **state)
{
    Fake *f = fake_new();
    f->msi_pending = true;
    f->msi_addr_raised = 0xfee01000;
    f->msi_data_raised = 0x4041;
    run_ok(f, "irq-level msi == 1\nirq-level msi data 0x4042 == 0\n"
              "wait-irq msi timeout 10ms -> $d, $a\n"
              "expect $d == 0x4041\nexpect $a == 0xfee01000\n"
              "irq-level msi == 0\n");
    f->msi_pending = true;
    run_ok(f, "wait-irq msi addr 0xfee01000 == 0x4041");
    f->msi_pending = true;
    run_fails(f, "wait-irq msi -> $d == 0x4042", EPROTO, "expected == 0x4042, got 0x4041");
    fake_free(f);
}

/* ---- backend failures ------------------------------------------------------------- */

static void backend_errors_carry_errno(void **state)
{
    Fake *f = fake_new();
    f->ioreq_errno = EIO;
    run_fails(f, "\nout 0x80 1 0", EIO,
              "t.gs:2: vcpu 0: out 0x80 1 0: ioreq: slot of vcpu 0: Input/output error");
    f->ioreq_error_silent = true;
    run_fails(f, "in 0x80 1", EIO, "t.gs:1: vcpu 0: in 0x80 1: ioreq: Input/output error");

    GuestBackendOps none = { 0 };
    static const char *const needs[] = {
        "out 0x80 1 0", "peek 0 1", "poke 0 1 0", "wait-irq isa 1", "irq-level isa 1",
        "log-dirty on", "dirty 0 1", "count x",
    };
    for (size_t i = 0; i < ARRAY_SIZE(needs); i++) {
        GuestScript *s = parse_ok(needs[i]);
        Error *err = NULL;
        assert_int_equal(guest_run(s, &none, NULL, &err), -ENOSYS);
        assert_non_null(strstr(error_get_pretty(err), "the backend has no"));
        error_free(err);
        guest_script_free(s);
    }
    fake_free(f);
}

/* ---- several vCPUs -------------------------------------------------------------- */

static void vcpus_run_concurrently(void **state)
{
    Fake *f = fake_new();
    run_ok(f, "vcpu 0 { repeat 100 { out 0x80 1 0 } }\n"
              "vcpu 3 { repeat 100 { out 0x84 1 3 } }\n"
              "vcpu 1 { repeat 100 { out 0x81 1 1 } }\n");
    unsigned per_vcpu[4] = { 0 };
    assert_int_equal(f->nlog, 300);
    for (unsigned i = 0; i < f->nlog; i++) {
        unsigned v = f->log[i].vcpu;
        assert_true(v < 4);
        assert_int_equal(f->log[i].req.data, v);    /* each vCPU ran its own program */
        per_vcpu[v]++;
    }
    assert_int_equal(per_vcpu[0], 100);
    assert_int_equal(per_vcpu[1], 100);
    assert_int_equal(per_vcpu[3], 100);
    fake_free(f);
}

static void failing_vcpu_stops_the_others(void **state)
{
    Fake *f = fake_new();
    run_fails(f, "vcpu 0 { repeat 100000 { sleep 1ms } }\n"
                 "vcpu 1 { sleep 5ms; expect 1 == 2 }\n",
              EPROTO, "t.gs:2: vcpu 1: expect 1 == 2: expected == 0x2, got 0x1");
    fake_free(f);
}

static void sleeping_vcpu_notices_stop(void **state)
{
    Fake *f = fake_new();
    uint64_t start = now_ms();
    run_fails(f, "vcpu 0 { sleep 30s }\nvcpu 1 { fail \"stop\" }\n", EPROTO, "stop");
    assert_true(now_ms() - start < 10000);
    fake_free(f);
}

static void run_program_honours_stop(void **state)
{
    GuestScript *s = parse_ok("out 0x80 1 0");
    atomic_bool stop = true;
    Error *err = NULL;
    assert_int_equal(guest_run_program(s, 0, &fake_ops, NULL, &stop, &err), -ECANCELED);
    assert_non_null(strstr(error_get_pretty(err), "cancelled"));
    error_free(err);
    guest_script_free(s);
}

/* ---- include ------------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void include_and_load(void **state)
{
    char dir[] = "/tmp/guest-script-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char main_path[256], lib_path[256], bad_path[256], loop_path[256];
    snprintf(main_path, sizeof(main_path), "%s/main.gs", dir);
    snprintf(lib_path, sizeof(lib_path), "%s/lib.gs", dir);
    snprintf(bad_path, sizeof(bad_path), "%s/bad.gs", dir);
    snprintf(loop_path, sizeof(loop_path), "%s/loop.gs", dir);
    write_file(lib_path, "$base = 0x3f8\nout $base 1 0x41\n");
    write_file(main_path, "include \"lib.gs\"\nin $base 1 == 0x41\n");
    write_file(bad_path, "# line 1\nout 0x80 7 0\n");
    write_file(loop_path, "include \"loop.gs\"\n");

    Fake *f = fake_new();
    Error *err = NULL;
    GuestScript *s = guest_script_load(main_path, &err);
    assert_non_null(s);
    assert_int_equal(s->nfiles, 2);
    assert_int_equal(guest_run(s, &fake_ops, f, &err), 0);
    assert_int_equal(f->nlog, 2);
    guest_script_free(s);

    char text[300];
    snprintf(text, sizeof(text), "vcpu 1 {\n include \"%s\"\n}", bad_path);
    assert_null(guest_script_parse("t.gs", text, strlen(text), &err));
    char want[300];
    snprintf(want, sizeof(want), "%s:2:10: bad access size 7", bad_path);
    assert_non_null(strstr(error_get_pretty(err), want));
    error_free(err);
    err = NULL;

    assert_null(guest_script_load(loop_path, &err));
    assert_non_null(strstr(error_get_pretty(err), "includes nested deeper than 8"));
    error_free(err);
    err = NULL;

    assert_null(guest_script_load(dir, &err));          /* a directory */
    assert_non_null(strstr(error_get_pretty(err), "is not a regular file"));
    error_free(err);

    unlink(main_path);
    unlink(lib_path);
    unlink(bad_path);
    unlink(loop_path);
    rmdir(dir);
    fake_free(f);
}

/* The example scripts in tests/guest-scripts/ stay valid. */
static void example_scripts_parse(void **state)
{
    const char *top = getenv("XENDM_TOP");
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/tests/guest-scripts", top && *top ? top : ".");
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s (run from the top of the tree or set XENDM_TOP)", dir);
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".gs"))
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        Error *err = NULL;
        GuestScript *s = guest_script_load(path, &err);
        if (!s)
            fail_msg("%s", error_get_pretty(err));
        assert_true(s->nprograms > 0);
        guest_script_free(s);
        n++;
    }
    closedir(d);
    assert_true(n >= 5);
}

/* ---- fuzz --------------------------------------------------------------------- */

static const char *const fuzz_words[] = {
    "in", "out", "rep-in", "rep-out", "mmio-read", "mmio-write", "rep-mmio-read",
    "rep-mmio-write", "raw", "peek", "poke", "fill", "compare", "compare-mem", "set",
    "expect", "wait-irq", "irq-level", "log-dirty", "dirty", "count", "expect-count",
    "echo", "sleep", "done", "exit", "fail", "repeat", "time", "vcpu", "as", "df",
    "isa", "intx", "msi", "data", "addr", "timeout", "on", "off", "clean", "type=",
    "size=", "dir=read", "$a", "$b", "$a =", "0", "1", "4", "8", "0x3f8", "0xffffffff",
    "-1", "10ms", "1s", "\"s\"", "'c'", "{", "}", "(", ")", "->", "==", "!=", "<", ">=",
    "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "~", "!", ",", ";", "\n", "#",
    "modified_memory", "a", "include", "if", "else", "else if", "while", "break", "max",
    "param", "param $a", "param $b = 1", "$c", "} else {",
};

/* Raises *stop once the current run passes its deadline (scripts that loop without
 * calling the backend, or sleep long, end that way). */
typedef struct Watchdog {
    atomic_bool *stop;
    _Atomic uint64_t deadline_ms;   /* 0: idle */
    atomic_bool quit;
} Watchdog;

static void *watchdog_thread(void *arg)
{
    Watchdog *w = arg;
    while (!atomic_load(&w->quit)) {
        uint64_t d = atomic_load(&w->deadline_ms);
        if (d && now_ms() > d)
            atomic_store(w->stop, true);
        usleep(1000);
    }
    return NULL;
}

/* Garbage in: the parser returns an error or a script; a script runs without crashing. */
static void fuzz_parser_and_interpreter(void **state)
{
    uint64_t rng = test_seed("fuzz_parser_and_interpreter");
    Fake *f = fake_new();
    atomic_bool stop = false;
    unsigned parsed = 0;
    char text[600];
    uint64_t deadline = now_ms() + 4000;
    Watchdog dog = { .stop = &stop };
    pthread_t dog_thread;
    assert_int_equal(pthread_create(&dog_thread, NULL, watchdog_thread, &dog), 0);
    for (unsigned iter = 0; iter < 20000 && now_ms() < deadline; iter++) {
        size_t len = 0;
        if (iter % 3 == 0) {                    /* raw bytes */
            len = test_rand_below(&rng, 200);
            for (size_t i = 0; i < len; i++)
                text[i] = (char)test_rand(&rng);
        } else {                                /* token soup */
            unsigned n = (unsigned)test_rand_below(&rng, 24);
            for (unsigned i = 0; i < n; i++) {
                const char *w = fuzz_words[test_rand_below(&rng, sizeof(fuzz_words) /
                                                                sizeof(fuzz_words[0]))];
                size_t wl = strlen(w);
                if (len + wl + 1 >= sizeof(text))
                    break;
                memcpy(text + len, w, wl);
                len += wl;
                text[len++] = test_rand_below(&rng, 4) ? ' ' : '\n';
            }
        }
        Error *err = NULL;
        GuestScript *s = guest_script_parse("fuzz.gs", text, len, &err);
        if (!s) {
            assert_non_null(err);
            assert_non_null(strstr(error_get_pretty(err), "fuzz.gs"));
            error_free(err);
            continue;
        }
        parsed++;
        for (unsigned p = 0; p < s->nprograms; p++) {
            atomic_store(&stop, false);
            f->stop_after = &stop;
            f->calls = 0;
            f->stop_calls = 50;
            f->nlog = 0;
            err = NULL;
            atomic_store(&dog.deadline_ms, now_ms() + 20);
            guest_run_program(s, p, &fake_ops, f, &stop, &err);
            atomic_store(&dog.deadline_ms, 0);
            error_free(err);
        }
        guest_script_free(s);
    }
    atomic_store(&dog.quit, true);
    pthread_join(dog_thread, NULL);
    printf("# fuzz: %u scripts parsed and ran\n", parsed);
    assert_true(parsed > 0);
    fake_free(f);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_builds_programs),
        cmocka_unit_test(parse_empty_script),
        cmocka_unit_test(parse_errors_have_positions),
        cmocka_unit_test(lexical_forms),
        cmocka_unit_test(parse_limits),
        cmocka_unit_test(pio_out_in_and_expect),
        cmocka_unit_test(expect_mismatch_reports_line),
        cmocka_unit_test(mmio_sizes_and_fields),
        cmocka_unit_test(rep_forms_set_ptr_and_df),
        cmocka_unit_test(raw_sends_every_field),
        cmocka_unit_test(memory_poke_peek_fill_compare),
        cmocka_unit_test(loops_and_variables),
        cmocka_unit_test(done_ends_vcpu),
        cmocka_unit_test(time_block_reports),
        cmocka_unit_test(echo_and_sleep),
        cmocka_unit_test(default_output_goes_to_stdout),
        cmocka_unit_test(result_tail_in_either_order),
        cmocka_unit_test(wait_irq_forms),
        cmocka_unit_test(log_dirty_and_counters),
        cmocka_unit_test(if_else_chains),
        cmocka_unit_test(while_loops_and_bounds),
        cmocka_unit_test(break_leaves_the_innermost_loop),
        cmocka_unit_test(params_from_outside),
        cmocka_unit_test(param_errors),
        cmocka_unit_test(msi_data_and_address_are_readable),
        cmocka_unit_test(backend_errors_carry_errno),
        cmocka_unit_test(vcpus_run_concurrently),
        cmocka_unit_test(failing_vcpu_stops_the_others),
        cmocka_unit_test(sleeping_vcpu_notices_stop),
        cmocka_unit_test(run_program_honours_stop),
        cmocka_unit_test(include_and_load),
        cmocka_unit_test(example_scripts_parse),
        cmocka_unit_test(fuzz_parser_and_interpreter),
    };
    return cmocka_run_group_tests_name("mockxen_guest_script", tests, NULL, NULL);
}
