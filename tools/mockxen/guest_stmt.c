/*
 * tools/mockxen/guest_stmt.c — the simple statements of the guest script language: one
 * handler per keyword, each parsing its operands into a GuestInsn (the `statements`
 * table is the map). Control flow (`repeat`, `time`, `while`, `if`, `break`) is in
 * guest_flow.c, `vcpu`, `include` and `param` in guest_parse.c; the syntax is
 * documented in GUEST-SCRIPT.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/grow.h"
#include "tools/mockxen/guest_parser.h"
#include "util/macros.h"

/* in/out/mmio-read/mmio-write/rep-*: ADDR, SIZE, [COUNT, GPA [df] | VALUE] [tail] */
static int stmt_access(Parser *p, GuestInsn *in, const StmtDef *def)
{
    in->write = def->write;
    in->rep = def->rep;
    int ret = parser_arg(p, &in->addr);
    if (!ret)
        ret = parser_arg_size(p, def->sizes, &in->size);
    if (ret)
        return ret;
    if (def->rep) {
        ret = parser_arg(p, &in->count);
        if (!ret)
            ret = parser_arg(p, &in->buf);
        return ret ? ret : parser_accept_word(p, "df", &in->df);
    }
    if (def->write)
        return parser_arg(p, &in->value);
    return parser_result(p, &in->result, false);
}

/* peek GPA, SIZE [tail] / poke GPA, SIZE, VALUE */
static int stmt_mem_word(Parser *p, GuestInsn *in, const StmtDef *def)
{
    in->write = def->write;
    int ret = parser_arg(p, &in->addr);
    if (!ret)
        ret = parser_arg_size(p, SIZES_ALL, &in->size);
    if (ret)
        return ret;
    return def->write ? parser_arg(p, &in->value) : parser_result(p, &in->result, false);
}

/* fill GPA, LEN, BYTE / compare GPA, LEN, BYTE */
static int stmt_mem_bytes(Parser *p, GuestInsn *in, const StmtDef *def)
{
    int ret = parser_arg(p, &in->addr);
    if (!ret)
        ret = parser_arg(p, &in->count);
    GuestToken at = *tok(p);
    if (!ret)
        ret = parser_arg(p, &in->value);
    if (!ret && in->value.is_const && in->value.value > 0xff)
        return guest_lex_error(p->lx, &at, p->errp, "byte value %#llx is above 0xff",
                               (unsigned long long)in->value.value);
    return ret;
}

/* compare-mem GPA, GPA2, LEN */
static int stmt_compare_mem(Parser *p, GuestInsn *in, const StmtDef *def)
{
    int ret = parser_arg(p, &in->addr);
    if (!ret)
        ret = parser_arg(p, &in->buf);
    return ret ? ret : parser_arg(p, &in->count);
}

/* [set] $v = expr */
static int stmt_set(Parser *p, GuestInsn *in, const StmtDef *def)
{
    if (tok(p)->kind != TK_VAR)
        return parser_expected(p, "a $variable");
    int slot = parser_var_slot(p, tok(p));
    int ret = slot < 0 ? slot : next(p);
    if (ret)
        return ret;
    in->result.store_var = (int16_t)slot;
    if (!guest_tok_is(tok(p), P_ASSIGN))
        return parser_expected(p, "'='");
    ret = next(p);
    return ret ? ret : guest_expr_parse(p->lx, &p->ectx, true, &in->value, p->errp);
}

/* expect EXPR [CMP EXPR] */
static int stmt_expect(Parser *p, GuestInsn *in, const StmtDef *def)
{
    int ret = guest_expr_parse(p->lx, &p->ectx, false, &in->value, p->errp);
    return ret ? ret : parser_result(p, &in->result, false);
}

/*
 * isa N | spi N | intx BUS, DEV, PIN | msi [data E] [addr E]. The kind and MSI match flags go
 * to in->irq, the numbers to expressions (guest_irq_resolve says which); constant ones
 * are range-checked now, the rest when the statement runs.
 */
static int parse_irq(Parser *p, GuestInsn *in)
{
    GuestToken at = *tok(p);
    GuestIrq *irq = &in->irq;
    bool found;
    int ret;
    if (at_word(p, "isa") || at_word(p, "spi")) {
        irq->kind = at_word(p, "isa") ? GUEST_IRQ_ISA : GUEST_IRQ_SPI;
        ret = next(p);
        if (!ret)
            ret = parser_arg(p, &in->addr);
    } else if (at_word(p, "intx")) {
        irq->kind = GUEST_IRQ_INTX;
        ret = next(p);
        if (!ret)
            ret = parser_arg(p, &in->addr);
        if (!ret)
            ret = parser_arg(p, &in->value);
        static const char *const pins[] = { "a", "b", "c", "d" };
        for (unsigned i = 0; !ret && i < 4 && !in->count.present; i++) {
            if (at_word(p, pins[i])) {
                in->count = (GuestExpr){ .present = true, .is_const = true, .value = i };
                ret = next(p);
            }
        }
        if (!ret && !in->count.present)
            ret = parser_arg(p, &in->count);
    } else if (at_word(p, "msi")) {
        irq->kind = GUEST_IRQ_MSI;
        ret = next(p);
        if (!ret)
            ret = parser_accept_word(p, "data", &irq->match_data);
        if (!ret && irq->match_data)
            ret = parser_arg(p, &in->value);
        if (!ret)
            ret = parser_accept_word(p, "addr", &found);
        if (!ret && found) {
            irq->match_addr = true;
            ret = parser_arg(p, &in->addr);
        }
    } else {
        return parser_expected(p, "'isa', 'spi', 'intx' or 'msi'");
    }
    if (ret)
        return ret;
    const GuestExpr *ops[] = { &in->addr, &in->value, &in->count };
    for (unsigned i = 0; i < 3; i++)
        if (ops[i]->present && !ops[i]->is_const)
            return 0;
    GuestIrq check = *irq;
    const char *why = guest_irq_resolve(&check, in->addr.value, in->value.value,
                                        in->count.value);
    return why ? guest_lex_error(p->lx, &at, p->errp, "%s", why) : 0;
}

/* wait-irq IRQ [timeout DURATION] [tail]; for msi the tail sees the data, and
 * `-> $data, $addr` stores the address too. */
static int stmt_wait_irq(Parser *p, GuestInsn *in, const StmtDef *def)
{
    bool found;
    int ret = parse_irq(p, in);
    if (!ret)
        ret = parser_accept_word(p, "timeout", &found);
    if (!ret && found)
        ret = parser_duration(p, &in->timeout_ns);
    else
        in->timeout_ns = (GuestExpr){ .present = true, .is_const = true,
                                      .value = GUEST_DEFAULT_IRQ_TIMEOUT_NS };
    if (ret)
        return ret;
    GuestToken at = *tok(p);
    ret = parser_result(p, &in->result, in->irq.kind == GUEST_IRQ_MSI);
    if (!ret && in->irq.kind != GUEST_IRQ_MSI &&
        (in->result.store_var >= 0 || in->result.cmp != GCMP_NONE))
        return guest_lex_error(p->lx, &at, p->errp, "only 'wait-irq msi' has a value");
    return ret;
}

/* irq-level IRQ [tail]: a line's level, or how many matching MSIs are queued */
static int stmt_irq_level(Parser *p, GuestInsn *in, const StmtDef *def)
{
    int ret = parse_irq(p, in);
    return ret ? ret : parser_result(p, &in->result, false);
}

/* log-dirty on|off */
static int stmt_log_dirty(Parser *p, GuestInsn *in, const StmtDef *def)
{
    bool off;
    int ret = parser_accept_word(p, "on", &in->write);
    if (!ret && !in->write) {
        ret = parser_accept_word(p, "off", &off);
        if (!ret && !off)
            return parser_expected(p, "'on' or 'off'");
    }
    return ret;
}

/* dirty FIRST_PFN, NR [clean] [tail] */
static int stmt_dirty(Parser *p, GuestInsn *in, const StmtDef *def)
{
    int ret = parser_arg(p, &in->addr);
    GuestToken at = *tok(p);
    if (!ret)
        ret = parser_arg(p, &in->count);
    if (!ret && in->count.is_const && in->count.value > GUEST_MAX_DIRTY_PFNS)
        return guest_lex_error(p->lx, &at, p->errp, "at most %llu pfns",
                               (unsigned long long)GUEST_MAX_DIRTY_PFNS);
    if (!ret)
        ret = parser_accept_word(p, "clean", &in->write);
    return ret ? ret : parser_result(p, &in->result, false);
}

/* grant-table GPA, FRAMES */
static int stmt_grant_table(Parser *p, GuestInsn *in, const StmtDef *def)
{
    int ret = parser_arg(p, &in->addr);
    return ret ? ret : parser_arg(p, &in->count);
}

/* grant REF, GFN [readonly] [domid D] */
static int stmt_grant(Parser *p, GuestInsn *in, const StmtDef *def)
{
    bool readonly, domid;
    int ret = parser_arg(p, &in->addr);
    if (!ret)
        ret = parser_arg(p, &in->value);
    if (!ret)
        ret = parser_accept_word(p, "readonly", &readonly);
    in->write = !readonly;
    if (!ret)
        ret = parser_accept_word(p, "domid", &domid);
    if (!ret && domid)
        ret = parser_arg(p, &in->count);
    return ret;
}

/* grant-revoke REF [tail] */
static int stmt_grant_revoke(Parser *p, GuestInsn *in, const StmtDef *def)
{
    int ret = parser_arg(p, &in->addr);
    return ret ? ret : parser_result(p, &in->result, false);
}

/* count NAME [tail] / expect-count NAME CMP EXPR */
static int stmt_count(Parser *p, GuestInsn *in, const StmtDef *def)
{
    if (tok(p)->kind != TK_IDENT && tok(p)->kind != TK_STR)
        return parser_expected(p, "a counter name");
    int ret = parser_own_token_text(p, &in->name);
    if (!ret)
        ret = parser_result(p, &in->result, false);
    if (!ret && def->write && in->result.cmp == GCMP_NONE)
        return parser_expected(p, "a comparison (== != < <= > >=)");
    return ret;
}

/* echo ("string" | expr)... */
static int stmt_echo(Parser *p, GuestInsn *in, const StmtDef *def)
{
    enum { MAX_ECHO_PARTS = 64 };
    unsigned cap = 0;
    while (!at_end_of_statement(p)) {
        if (in->nparts == MAX_ECHO_PARTS)
            return guest_lex_error(p->lx, tok(p), p->errp, "echo has too many parts");
        GuestEchoPart *grown = mx_grow(in->parts, &cap, in->nparts + 1, sizeof(*grown), 4);
        if (!grown)
            return parser_out_of_memory(p);
        in->parts = grown;
        GuestEchoPart *part = &in->parts[in->nparts++];
        memset(part, 0, sizeof(*part));
        int ret = tok(p)->kind == TK_STR ? parser_own_token_text(p, &part->text)
                                         : guest_expr_parse(p->lx, &p->ectx, false,
                                                            &part->expr, p->errp);
        if (!ret)
            ret = parser_skip_comma(p);
        if (ret)
            return ret;
    }
    return 0;
}

static int stmt_sleep(Parser *p, GuestInsn *in, const StmtDef *def)
{
    return parser_duration(p, &in->timeout_ns);
}

static int stmt_no_args(Parser *p, GuestInsn *in, const StmtDef *def)
{
    return 0;
}

/* fail ["message"] */
static int stmt_fail(Parser *p, GuestInsn *in, const StmtDef *def)
{
    if (tok(p)->kind == TK_STR)
        return parser_own_token_text(p, &in->name);
    in->name = "fail";
    return 0;
}

/* raw FIELD=EXPR ... [tail] */
static int raw_symbol(Parser *p, enum GuestRawField field, GuestExpr *e)
{
    static const struct { enum GuestRawField field; const char *name; uint64_t v; } syms[] = {
        { GRAW_TYPE, "pio", IOREQ_TYPE_PIO }, { GRAW_TYPE, "copy", IOREQ_TYPE_COPY },
        { GRAW_TYPE, "mmio", IOREQ_TYPE_COPY },
        { GRAW_TYPE, "pci-config", IOREQ_TYPE_PCI_CONFIG },
        { GRAW_TYPE, "timeoffset", IOREQ_TYPE_TIMEOFFSET },
        { GRAW_TYPE, "invalidate", IOREQ_TYPE_INVALIDATE },
        { GRAW_DIR, "read", IOREQ_READ }, { GRAW_DIR, "write", IOREQ_WRITE },
    };
    if (tok(p)->kind == TK_IDENT) {
        for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
            if (syms[i].field == field && at_word(p, syms[i].name)) {
                *e = (GuestExpr){ .present = true, .is_const = true, .value = syms[i].v };
                return next(p);
            }
        }
    }
    return guest_expr_parse(p->lx, &p->ectx, false, e, p->errp);
}

static int stmt_raw(Parser *p, GuestInsn *in, const StmtDef *def)
{
    static const struct { const char *name; enum GuestRawField field; } fields[] = {
        { "type", GRAW_TYPE }, { "addr", GRAW_ADDR }, { "data", GRAW_DATA },
        { "count", GRAW_COUNT }, { "size", GRAW_SIZE }, { "dir", GRAW_DIR },
        { "df", GRAW_DF }, { "ptr", GRAW_PTR }, { "data_is_ptr", GRAW_PTR },
        { "state", GRAW_STATE }, { "eport", GRAW_EPORT }, { "vp_eport", GRAW_EPORT },
    };
    static const uint64_t defaults[GRAW_NFIELDS] = {
        [GRAW_COUNT] = 1, [GRAW_SIZE] = 1, [GRAW_STATE] = STATE_IOREQ_READY,
    };
    for (unsigned f = 0; f < GRAW_NFIELDS; f++)
        in->raw[f] = (GuestExpr){ .present = true, .is_const = true, .value = defaults[f] };
    while (tok(p)->kind == TK_IDENT) {
        size_t i;
        for (i = 0; i < ARRAY_SIZE(fields); i++)
            if (at_word(p, fields[i].name))
                break;
        if (i == ARRAY_SIZE(fields))
            return parser_expected(p, "an ioreq field (type addr data count size dir df ptr "
                                   "state eport)");
        int ret = next(p);
        if (!ret && !guest_tok_is(tok(p), P_ASSIGN))
            return parser_expected(p, "'='");
        if (!ret)
            ret = next(p);
        if (!ret)
            ret = raw_symbol(p, fields[i].field, &in->raw[fields[i].field]);
        if (!ret)
            ret = parser_skip_comma(p);
        if (ret)
            return ret;
    }
    return parser_result(p, &in->result, false);
}

static const StmtDef statements[] = {
    { "in",             stmt_access,      GOP_PIO,   false, false, SIZES_PIO },
    { "out",            stmt_access,      GOP_PIO,   true,  false, SIZES_PIO },
    { "rep-in",         stmt_access,      GOP_PIO,   false, true,  SIZES_PIO },
    { "rep-out",        stmt_access,      GOP_PIO,   true,  true,  SIZES_PIO },
    { "mmio-read",      stmt_access,      GOP_MMIO,  false, false, SIZES_ALL },
    { "mmio-write",     stmt_access,      GOP_MMIO,  true,  false, SIZES_ALL },
    { "rep-mmio-read",  stmt_access,      GOP_MMIO,  false, true,  SIZES_ALL },
    { "rep-mmio-write", stmt_access,      GOP_MMIO,  true,  true,  SIZES_ALL },
    { "raw",            stmt_raw,         GOP_RAW,   false, false, 0 },
    { "peek",           stmt_mem_word,    GOP_PEEK,  false, false, 0 },
    { "poke",           stmt_mem_word,    GOP_POKE,  true,  false, 0 },
    { "fill",           stmt_mem_bytes,   GOP_FILL,  true,  false, 0 },
    { "compare",        stmt_mem_bytes,   GOP_COMPARE_BYTE, false, false, 0 },
    { "compare-mem",    stmt_compare_mem, GOP_COMPARE_MEM,  false, false, 0 },
    { "set",            stmt_set,         GOP_SET,   false, false, 0 },
    { "expect",         stmt_expect,      GOP_EXPECT, false, false, 0 },
    { "wait-irq",       stmt_wait_irq,    GOP_WAIT_IRQ, false, false, 0 },
    { "irq-level",      stmt_irq_level,   GOP_IRQ_LEVEL, false, false, 0 },
    { "log-dirty",      stmt_log_dirty,   GOP_LOG_DIRTY, false, false, 0 },
    { "dirty",          stmt_dirty,       GOP_DIRTY, false, false, 0 },
    { "count",          stmt_count,       GOP_COUNT, false, false, 0 },
    { "expect-count",   stmt_count,       GOP_COUNT, true,  false, 0 },
    { "grant-table",    stmt_grant_table, GOP_GRANT_TABLE, false, false, 0 },
    { "grant",          stmt_grant,       GOP_GRANT, false, false, 0 },
    { "grant-revoke",   stmt_grant_revoke, GOP_GRANT_REVOKE, false, false, 0 },
    { "echo",           stmt_echo,        GOP_ECHO,  false, false, 0 },
    { "sleep",          stmt_sleep,       GOP_SLEEP, false, false, 0 },
    { "done",           stmt_no_args,     GOP_DONE,  false, false, 0 },
    { "exit",           stmt_no_args,     GOP_DONE,  false, false, 0 },
    { "fail",           stmt_fail,        GOP_FAIL,  false, false, 0 },
};

const StmtDef *guest_find_statement(const char *keyword)
{
    for (size_t i = 0; i < ARRAY_SIZE(statements); i++)
        if (!strcmp(keyword, statements[i].keyword))
            return &statements[i];
    return NULL;
}
