/*
 * tools/mockxen/guest_expr.c — expressions of the guest script language: parsing into
 * postfix steps (with constant folding) and evaluation.
 *
 * Precedence, loosest first: comparison (== != < <= > >=, at most one, only where the
 * caller allows it or inside parentheses), |, ^, &, << >>, + -, * / %, unary - ~ !.
 * Comparisons bind loosest so `$lsr & 0x20 == 0x20` means `($lsr & 0x20) == 0x20`.
 * The parser bounds recursion, step count and evaluation stack depth, so no input can
 * make the evaluator overflow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/grow.h"
#include "tools/mockxen/guest_internal.h"
#include "util/macros.h"

#define MAX_NESTING 48      /* parentheses and unary operators */

typedef struct ExprParser {
    GuestLexer *lx;
    GuestExprCtx *ctx;
    Error **errp;
    GuestExprStep steps[GUEST_EXPR_MAX_STEPS];
    unsigned n;
    unsigned nesting;
    const GuestToken *start;
} ExprParser;

static int parse_cmp_level(ExprParser *p, bool allow_cmp);

static int emit(ExprParser *p, enum GuestExprOp op, uint8_t var, uint64_t value)
{
    if (p->n >= GUEST_EXPR_MAX_STEPS)
        return guest_lex_error(p->lx, &p->lx->tok, p->errp,
                               "expression too long (more than %d steps)",
                               GUEST_EXPR_MAX_STEPS);
    p->steps[p->n++] = (GuestExprStep){ .op = op, .var = var, .value = value };
    return 0;
}

int guest_var_slot(GuestExprCtx *ctx, const char *name)
{
    GuestScript *s = ctx->script;
    for (unsigned i = 0; i < s->nvars; i++)
        if (!strcmp(s->vars[i], name))
            return (int)i;
    if (s->nvars >= GUEST_MAX_VARS)
        return -ENOSPC;
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    s->vars[s->nvars] = copy;
    return (int)s->nvars++;
}

static int parse_primary(ExprParser *p)
{
    GuestToken *tok = &p->lx->tok;
    char desc[64];
    int ret;
    if (tok->kind == TK_NUM) {
        if (tok->suffix[0])
            return guest_lex_error(p->lx, tok, p->errp,
                                   "unit '%s' is only allowed in a duration", tok->suffix);
        ret = emit(p, GEXPR_CONST, 0, tok->num);
        return ret ? ret : guest_lex_next(p->lx, p->errp);
    }
    if (tok->kind == TK_VAR) {
        int slot = guest_var_slot(p->ctx, tok->text);
        if (slot < 0)
            return guest_lex_error(p->lx, tok, p->errp, "too many variables (at most %d)",
                                   GUEST_MAX_VARS);
        if (!p->ctx->var_used[slot]) {
            p->ctx->var_used[slot] = true;
            p->ctx->var_use_file[slot] = p->ctx->file;
            p->ctx->var_use_line[slot] = tok->line;
            p->ctx->var_use_col[slot] = tok->col;
        }
        ret = emit(p, GEXPR_VAR, (uint8_t)slot, 0);
        return ret ? ret : guest_lex_next(p->lx, p->errp);
    }
    if (guest_tok_is(tok, P_LPAREN)) {
        ret = guest_lex_next(p->lx, p->errp);
        if (!ret)
            ret = parse_cmp_level(p, true);
        if (ret)
            return ret;
        if (!guest_tok_is(tok, P_RPAREN))
            return guest_lex_error(p->lx, tok, p->errp, "expected ')', got %s",
                                   guest_tok_describe(tok, desc, sizeof(desc)));
        return guest_lex_next(p->lx, p->errp);
    }
    return guest_lex_error(p->lx, tok, p->errp, "expected a number, $variable or '(', got %s",
                           guest_tok_describe(tok, desc, sizeof(desc)));
}

static int parse_unary(ExprParser *p)
{
    GuestToken *tok = &p->lx->tok;
    enum GuestExprOp op;
    if (guest_tok_is(tok, P_MINUS))
        op = GEXPR_NEG;
    else if (guest_tok_is(tok, P_TILDE))
        op = GEXPR_NOT;
    else if (guest_tok_is(tok, P_BANG))
        op = GEXPR_LNOT;
    else
        return parse_primary(p);
    int ret = guest_lex_next(p->lx, p->errp);
    if (!ret)
        ret = parse_unary(p);
    return ret ? ret : emit(p, op, 0, 0);
}

/* Binary levels, tightest first; each maps punctuators to step ops. */
static const struct BinaryLevel {
    unsigned nops;
    enum GuestPunct punct[3];
    enum GuestExprOp op[3];
} levels[] = {
    { 3, { P_STAR, P_SLASH, P_PERCENT }, { GEXPR_MUL, GEXPR_DIV, GEXPR_MOD } },
    { 2, { P_PLUS, P_MINUS }, { GEXPR_ADD, GEXPR_SUB } },
    { 2, { P_SHL, P_SHR }, { GEXPR_SHL, GEXPR_SHR } },
    { 1, { P_AMP }, { GEXPR_AND } },
    { 1, { P_CARET }, { GEXPR_XOR } },
    { 1, { P_PIPE }, { GEXPR_OR } },
};
#define NLEVELS ARRAY_SIZE(levels)

static int parse_binary(ExprParser *p, unsigned level)
{
    int ret = level ? parse_binary(p, level - 1) : parse_unary(p);
    while (!ret) {
        const struct BinaryLevel *l = &levels[level];
        unsigned i;
        for (i = 0; i < l->nops; i++)
            if (guest_tok_is(&p->lx->tok, l->punct[i]))
                break;
        if (i == l->nops)
            break;
        ret = guest_lex_next(p->lx, p->errp);
        if (!ret)
            ret = level ? parse_binary(p, level - 1) : parse_unary(p);
        if (!ret)
            ret = emit(p, l->op[i], 0, 0);
    }
    return ret;
}

/* The comparison operators of both enums come in the same order. */
_Static_assert(GEXPR_NE - GEXPR_EQ == GCMP_NE - GCMP_EQ &&
               GEXPR_LT - GEXPR_EQ == GCMP_LT - GCMP_EQ &&
               GEXPR_LE - GEXPR_EQ == GCMP_LE - GCMP_EQ &&
               GEXPR_GT - GEXPR_EQ == GCMP_GT - GCMP_EQ &&
               GEXPR_GE - GEXPR_EQ == GCMP_GE - GCMP_EQ, "GuestExprOp vs GuestCmp order");

static enum GuestExprOp cmp_op(enum GuestCmp cmp)
{
    return (enum GuestExprOp)(GEXPR_EQ + (cmp - GCMP_EQ));
}

static int parse_cmp_level(ExprParser *p, bool allow_cmp)
{
    if (++p->nesting > MAX_NESTING)
        return guest_lex_error(p->lx, &p->lx->tok, p->errp, "expression nested too deeply");
    int ret = parse_binary(p, NLEVELS - 1);
    enum GuestCmp cmp = guest_tok_cmp(&p->lx->tok);
    if (!ret && allow_cmp && cmp != GCMP_NONE) {
        ret = guest_lex_next(p->lx, p->errp);
        if (!ret)
            ret = parse_binary(p, NLEVELS - 1);
        if (!ret)
            ret = emit(p, cmp_op(cmp), 0, 0);
    }
    p->nesting--;
    return ret;
}

static unsigned max_stack_depth(const GuestExprStep *steps, unsigned n)
{
    unsigned depth = 0, max = 0;
    for (unsigned i = 0; i < n; i++) {
        if (steps[i].op == GEXPR_CONST || steps[i].op == GEXPR_VAR)
            depth++;
        else if (steps[i].op > GEXPR_LNOT)
            depth--;
        if (depth > max)
            max = depth;
    }
    return max;
}

/* Append steps to the script's pool and point *out at them. */
static int pool_append(GuestExprCtx *ctx, const GuestExprStep *steps, unsigned n,
                       GuestExpr *out)
{
    GuestScript *s = ctx->script;
    GuestExprStep *grown = mx_grow(s->steps, &ctx->steps_cap, (size_t)s->nsteps + n,
                                   sizeof(*grown), 256);
    if (!grown)
        return -ENOMEM;
    s->steps = grown;
    memcpy(s->steps + s->nsteps, steps, n * sizeof(steps[0]));
    out->first = s->nsteps;
    out->nsteps = (uint16_t)n;
    s->nsteps += n;
    return 0;
}

int guest_expr_scale(GuestExprCtx *ctx, GuestExpr *e, uint64_t factor)
{
    if (e->is_const) {
        if (factor && e->value > UINT64_MAX / factor)
            return -ERANGE;
        e->value *= factor;
        return 0;
    }
    GuestExprStep steps[GUEST_EXPR_MAX_STEPS + 2];
    memcpy(steps, ctx->script->steps + e->first, e->nsteps * sizeof(steps[0]));
    steps[e->nsteps] = (GuestExprStep){ .op = GEXPR_CONST, .value = factor };
    steps[e->nsteps + 1] = (GuestExprStep){ .op = GEXPR_MUL };
    return pool_append(ctx, steps, e->nsteps + 2u, e);
}

int guest_expr_parse(GuestLexer *lx, GuestExprCtx *ctx, bool allow_cmp, GuestExpr *out,
                     Error **errp)
{
    ExprParser p = { .lx = lx, .ctx = ctx, .errp = errp };
    GuestToken start = lx->tok;
    int ret = parse_cmp_level(&p, allow_cmp);
    if (ret)
        return ret;
    if (max_stack_depth(p.steps, p.n) > GUEST_EXPR_MAX_STACK)
        return guest_lex_error(lx, &start, errp, "expression nested too deeply");
    memset(out, 0, sizeof(*out));
    out->present = true;
    bool has_var = false;
    for (unsigned i = 0; i < p.n; i++)
        has_var |= p.steps[i].op == GEXPR_VAR;
    if (has_var) {
        ret = pool_append(ctx, p.steps, p.n, out);
        if (ret)
            error_setg(errp, "%s: out of memory for expressions", lx->file);
        return ret;
    }
    if (guest_expr_eval_steps(p.steps, p.n, NULL, &out->value))
        return guest_lex_error(lx, &start, errp, "division by zero");
    out->is_const = true;
    return 0;
}

int guest_expr_parse_const(GuestLexer *lx, GuestExprCtx *ctx, const char *what,
                           uint64_t *out, Error **errp)
{
    GuestToken start = lx->tok;
    GuestExpr e;
    int ret = guest_expr_parse(lx, ctx, false, &e, errp);
    if (ret)
        return ret;
    if (!e.is_const)
        return guest_lex_error(lx, &start, errp, "%s must be a constant", what);
    *out = e.value;
    return 0;
}

static uint64_t apply_binary(enum GuestExprOp op, uint64_t a, uint64_t b)
{
    switch (op) {
    case GEXPR_MUL: return a * b;
    case GEXPR_DIV: return a / b;
    case GEXPR_MOD: return a % b;
    case GEXPR_ADD: return a + b;
    case GEXPR_SUB: return a - b;
    case GEXPR_SHL: return b >= 64 ? 0 : a << b;
    case GEXPR_SHR: return b >= 64 ? 0 : a >> b;
    case GEXPR_AND: return a & b;
    case GEXPR_XOR: return a ^ b;
    case GEXPR_OR:  return a | b;
    case GEXPR_EQ:  return a == b;
    case GEXPR_NE:  return a != b;
    case GEXPR_LT:  return a < b;
    case GEXPR_LE:  return a <= b;
    case GEXPR_GT:  return a > b;
    case GEXPR_GE:  return a >= b;
    default:        abort();    /* the parser emits only the ops above */
    }
}

int guest_expr_eval_steps(const GuestExprStep *steps, unsigned n, const uint64_t *vars,
                          uint64_t *out)
{
    uint64_t stack[GUEST_EXPR_MAX_STACK];
    unsigned sp = 0;
    for (unsigned i = 0; i < n; i++) {
        const GuestExprStep *st = &steps[i];
        switch (st->op) {
        case GEXPR_CONST: stack[sp++] = st->value; break;
        case GEXPR_VAR:   stack[sp++] = vars[st->var]; break;
        case GEXPR_NEG:   stack[sp - 1] = -stack[sp - 1]; break;
        case GEXPR_NOT:   stack[sp - 1] = ~stack[sp - 1]; break;
        case GEXPR_LNOT:  stack[sp - 1] = !stack[sp - 1]; break;
        default:
            if ((st->op == GEXPR_DIV || st->op == GEXPR_MOD) && stack[sp - 1] == 0)
                return -EDOM;
            stack[sp - 2] = apply_binary(st->op, stack[sp - 2], stack[sp - 1]);
            sp--;
        }
    }
    *out = stack[0];
    return 0;
}

bool guest_cmp_holds(enum GuestCmp cmp, uint64_t got, uint64_t want)
{
    switch (cmp) {
    case GCMP_NONE: return got != 0;
    case GCMP_EQ:   return got == want;
    case GCMP_NE:   return got != want;
    case GCMP_LT:   return got < want;
    case GCMP_LE:   return got <= want;
    case GCMP_GT:   return got > want;
    case GCMP_GE:   return got >= want;
    }
    return false;
}

const char *guest_cmp_name(enum GuestCmp cmp)
{
    static const char *const names[] = { "!= 0", "==", "!=", "<", "<=", ">", ">=" };
    return (unsigned)cmp < ARRAY_SIZE(names) ? names[cmp] : "?";
}
