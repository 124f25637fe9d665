/*
 * tools/mockxen/guest_parse.c — the guest script parser: statements to instructions.
 *
 * Each vCPU gets one flat instruction array; `vcpu N { }` switches the array
 * statements go to (top-level statements belong to vCPU 0), `include` parses another
 * file in place, and `param` declares a parameter. Recursion is bounded by
 * GUEST_MAX_NESTING and GUEST_MAX_INCLUDE, so hostile input cannot exhaust the stack.
 * Statement syntax is documented in GUEST-SCRIPT.md; the handlers of simple statements
 * are in guest_stmt.c, the control-flow blocks (repeat, time, while, if, break) in
 * guest_flow.c.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/grow.h"
#include "tools/mockxen/guest_parser.h"
#include "util/macros.h"

#define MAX_INSNS_PER_VCPU (1u << 20)

/* ---- helpers shared with guest_stmt.c --------------------------------------------- */

int parser_expected(Parser *p, const char *expected)
{
    char desc[64];
    return guest_lex_error(p->lx, tok(p), p->errp, "expected %s, got %s", expected,
                           guest_tok_describe(tok(p), desc, sizeof(desc)));
}

/* Consume `word` if it is the current token. */
int parser_accept_word(Parser *p, const char *word, bool *found)
{
    *found = at_word(p, word);
    return *found ? next(p) : 0;
}

int parser_skip_comma(Parser *p)
{
    return guest_tok_is(tok(p), P_COMMA) ? next(p) : 0;
}

int parser_arg(Parser *p, GuestExpr *e)
{
    int ret = guest_expr_parse(p->lx, &p->ectx, false, e, p->errp);
    return ret ? ret : parser_skip_comma(p);
}

int parser_arg_const(Parser *p, const char *what, uint64_t *v)
{
    int ret = guest_expr_parse_const(p->lx, &p->ectx, what, v, p->errp);
    return ret ? ret : parser_skip_comma(p);
}

int parser_arg_size(Parser *p, unsigned allowed, uint8_t *size)
{
    GuestToken at = *tok(p);
    uint64_t v;
    int ret = parser_arg_const(p, "access size", &v);
    if (ret)
        return ret;
    if (v > 8 || !(allowed & (1u << v)))
        return guest_lex_error(p->lx, &at, p->errp, "bad access size %llu (allowed: %s)",
                               (unsigned long long)v, allowed == SIZES_PIO ? "1, 2, 4"
                                                                           : "1, 2, 4, 8");
    *size = (uint8_t)v;
    return 0;
}

int parser_var_slot(Parser *p, const GuestToken *at)
{
    int slot = guest_var_slot(&p->ectx, at->text);
    if (slot < 0)
        return guest_lex_error(p->lx, at, p->errp, "too many variables (at most %d)",
                               GUEST_MAX_VARS);
    p->ectx.var_set[slot] = true;
    return slot;
}

/* Keep a copy of `text` for the script's lifetime. */
const char *parser_own_text(Parser *p, const char *text, size_t len)
{
    GuestScript *s = p->script;
    char **grown = mx_grow(s->texts, &p->texts_cap, s->ntexts + 1, sizeof(*grown), 16);
    if (!grown)
        return NULL;
    s->texts = grown;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, text, len);
    copy[len] = '\0';
    s->texts[s->ntexts++] = copy;
    return copy;
}

int parser_out_of_memory(Parser *p)
{
    error_setg(p->errp, "%s:%u: out of memory", p->lx->file, tok(p)->line);
    return -ENOMEM;
}

int parser_own_token_text(Parser *p, const char **out)
{
    *out = parser_own_text(p, tok(p)->text, strlen(tok(p)->text));
    return *out ? next(p) : parser_out_of_memory(p);
}

/* ---- the value tail: [-> $v [, $w]] [CMP expr] ----------------------------------- */

/* The $variable at the current token, marked as assigned; then advance. */
static int store_target(Parser *p, int16_t *slot_out)
{
    if (tok(p)->kind != TK_VAR)
        return parser_expected(p, "a $variable after '->'");
    int slot = parser_var_slot(p, tok(p));
    if (slot < 0)
        return slot;
    *slot_out = (int16_t)slot;
    return next(p);
}

int parser_result(Parser *p, GuestResult *r, bool two_stores)
{
    r->store_var = -1;
    r->store_addr = -1;
    r->cmp = GCMP_NONE;
    for (unsigned i = 0; i < 2; i++) {
        enum GuestCmp cmp = guest_tok_cmp(tok(p));
        int ret = 0;
        if (guest_tok_is(tok(p), P_ARROW) && r->store_var < 0) {
            ret = next(p);
            if (!ret)
                ret = store_target(p, &r->store_var);
            if (!ret && two_stores && guest_tok_is(tok(p), P_COMMA)) {
                ret = next(p);
                if (!ret)
                    ret = store_target(p, &r->store_addr);
            }
        } else if (cmp != GCMP_NONE && r->cmp == GCMP_NONE) {
            r->cmp = (uint8_t)cmp;
            ret = next(p);
            if (!ret)
                ret = guest_expr_parse(p->lx, &p->ectx, false, &r->expect, p->errp);
        }
        if (ret)
            return ret;
    }
    return 0;
}

int parser_duration(Parser *p, GuestExpr *e)
{
    static const struct { const char *unit; uint64_t ns; } units[] = {
        { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
    };
    GuestToken at = *tok(p);
    const char *unit = "ms";
    int ret;
    if (at.kind == TK_NUM && at.suffix[0]) {
        *e = (GuestExpr){ .present = true, .is_const = true, .value = at.num };
        unit = at.suffix;
        ret = next(p);
    } else {
        ret = guest_expr_parse(p->lx, &p->ectx, false, e, p->errp);
        for (size_t i = 0; !ret && i < ARRAY_SIZE(units); i++) {
            if (at_word(p, units[i].unit)) {
                unit = units[i].unit;
                ret = next(p);
                break;
            }
        }
    }
    for (size_t i = 0; !ret && i < ARRAY_SIZE(units); i++) {
        if (!strcmp(unit, units[i].unit)) {
            ret = guest_expr_scale(&p->ectx, e, units[i].ns);
            if (ret == -ERANGE)
                return guest_lex_error(p->lx, &at, p->errp, "duration too long");
            return ret ? parser_out_of_memory(p) : 0;
        }
    }
    return ret;
}

/* ---- instruction arrays ---------------------------------------------------------- */

GuestInsn *parser_new_insn(Parser *p, const GuestToken *start)
{
    ProgBuilder *b = &p->progs[p->vcpu];
    if (b->n == MAX_INSNS_PER_VCPU) {
        guest_lex_error(p->lx, start, p->errp, "more than %u statements for vcpu %u",
                        MAX_INSNS_PER_VCPU, p->vcpu);
        return NULL;
    }
    GuestInsn *grown = mx_grow(b->insns, &b->cap, b->n + 1, sizeof(*grown), 64);
    if (!grown) {
        parser_out_of_memory(p);
        return NULL;
    }
    b->insns = grown;
    b->used = true;
    GuestInsn *in = &b->insns[b->n++];
    memset(in, 0, sizeof(*in));
    in->file = p->file;
    in->line = start->line;
    in->src = p->lx->src + start->start;
    in->result.store_var = -1;
    in->result.store_addr = -1;
    in->loop_var = -1;
    return in;
}

void parser_finish_insn(Parser *p, GuestInsn *in)
{
    in->src_len = (uint32_t)(p->lx->prev_end - (size_t)(in->src - p->lx->src));
}

int parser_end_of_statement(Parser *p)
{
    return at_end_of_statement(p) ? 0 : parser_expected(p, "end of statement");
}

static int parse_simple(Parser *p, const StmtDef *def, const GuestToken *start)
{
    GuestInsn *in = parser_new_insn(p, start);
    if (!in)
        return -ENOMEM;
    in->op = (uint8_t)def->op;
    int ret = def->op == GOP_SET && start->kind == TK_VAR ? 0 : next(p);
    if (!ret)
        ret = def->handler(p, in, def);
    if (!ret)
        ret = parser_end_of_statement(p);
    parser_finish_insn(p, in);
    return ret;
}

/* ---- blocks ---------------------------------------------------------------------- */

int parser_lbrace(Parser *p)
{
    return guest_tok_is(tok(p), P_LBRACE) ? next(p) : parser_expected(p, "'{'");
}

/* vcpu N { ... } */
static int parse_vcpu_block(Parser *p, const GuestToken *start)
{
    if (p->in_vcpu_block || p->block_depth)
        return guest_lex_error(p->lx, start, p->errp,
                               "'vcpu' blocks cannot be nested in other blocks");
    GuestToken at;
    uint64_t id;
    int ret = next(p);
    at = *tok(p);
    if (!ret)
        ret = parser_arg_const(p, "vcpu id", &id);
    if (!ret && id >= GUEST_MAX_VCPUS)
        return guest_lex_error(p->lx, &at, p->errp, "vcpu id %llu is not below %d",
                               (unsigned long long)id, GUEST_MAX_VCPUS);
    if (!ret)
        ret = parser_lbrace(p);
    if (ret)
        return ret;
    unsigned saved = p->vcpu;
    p->vcpu = (unsigned)id;
    p->progs[id].used = true;
    p->in_vcpu_block = true;
    ret = parser_block(p, true);
    p->in_vcpu_block = false;
    p->vcpu = saved;
    return ret ? ret : next(p);
}

static int parse_text(Parser *p, const char *name, const char *text, size_t len);

/* include "path": relative paths are relative to the including file's directory. */
static int parse_include(Parser *p, const GuestToken *start)
{
    if (p->include_depth >= GUEST_MAX_INCLUDE)
        return guest_lex_error(p->lx, start, p->errp, "includes nested deeper than %d",
                               GUEST_MAX_INCLUDE);
    int ret = next(p);
    if (ret)
        return ret;
    if (tok(p)->kind != TK_STR)
        return parser_expected(p, "a file name in quotes");
    char path[PATH_MAX];
    const char *rel = tok(p)->text;
    if (rel[0] == '/') {
        snprintf(path, sizeof(path), "%s", rel);
    } else {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", p->lx->file);
        snprintf(path, sizeof(path), "%s/%s", dirname(dir), rel);
    }
    GuestToken at = *tok(p);
    ret = next(p);
    if (!ret)
        ret = parser_end_of_statement(p);
    if (ret)
        return ret;
    char *text;
    size_t len;
    Error *err = NULL;
    ret = guest_read_file(path, &text, &len, &err);
    if (ret) {
        guest_lex_error(p->lx, &at, p->errp, "include: %s", error_get_pretty(err));
        error_free(err);
        return ret;
    }
    p->include_depth++;
    ret = parse_text(p, path, text, len);
    p->include_depth--;
    free(text);
    return ret;
}

/* param $name [= CONSTANT]: a parameter of the script, with an optional default. */
static int parse_param(Parser *p, const GuestToken *start)
{
    if (p->block_depth || p->in_vcpu_block)
        return guest_lex_error(p->lx, start, p->errp, "'param' belongs outside blocks");
    int ret = next(p);
    if (ret)
        return ret;
    if (tok(p)->kind != TK_VAR)
        return parser_expected(p, "a $variable after 'param'");
    GuestToken name = *tok(p);
    int slot = guest_var_slot(&p->ectx, name.text);
    if (slot < 0)
        return guest_lex_error(p->lx, &name, p->errp, "too many variables (at most %d)",
                               GUEST_MAX_VARS);
    if (p->ectx.var_param[slot])
        return guest_lex_error(p->lx, &name, p->errp, "parameter $%s is declared twice",
                               name.text);
    p->ectx.var_param[slot] = true;         /* so at most GUEST_MAX_VARS declarations */
    GuestParam *param = &p->params[p->nparams++];
    *param = (GuestParam){ .var = (int16_t)slot, .declared = true, .file = p->file,
                           .line = name.line, .col = name.col };
    ret = next(p);
    if (!ret && guest_tok_is(tok(p), P_ASSIGN)) {
        ret = next(p);
        if (!ret)
            ret = guest_expr_parse_const(p->lx, &p->ectx, "a parameter's default",
                                         &param->value, p->errp);
        param->has_value = true;
    }
    return ret ? ret : parser_end_of_statement(p);
}

/* Statements that are not simple: blocks, control flow, declarations. */
static const struct {
    const char *keyword;
    int (*parse)(Parser *p, const GuestToken *start);
} compound[] = {
    { "repeat", guest_parse_repeat }, { "time", guest_parse_time },
    { "while", guest_parse_while }, { "if", guest_parse_if },
    { "else", guest_parse_else }, { "break", guest_parse_break },
    { "vcpu", parse_vcpu_block }, { "include", parse_include }, { "param", parse_param },
};

static int parse_statement(Parser *p)
{
    GuestToken start = *tok(p);
    if (start.kind == TK_VAR)
        return parse_simple(p, guest_find_statement("set"), &start);     /* $v = expr */
    if (start.kind != TK_IDENT)
        return parser_expected(p, "a statement");
    for (size_t i = 0; i < ARRAY_SIZE(compound); i++)
        if (!strcmp(start.text, compound[i].keyword))
            return compound[i].parse(p, &start);
    const StmtDef *def = guest_find_statement(start.text);
    if (def)
        return parse_simple(p, def, &start);
    return guest_lex_error(p->lx, &start, p->errp, "unknown statement '%s'", start.text);
}

int parser_block(Parser *p, bool closed_by_brace)
{
    for (;;) {
        int ret = 0;
        if (tok(p)->kind == TK_EOL)
            ret = next(p);
        else if (tok(p)->kind == TK_EOF)
            return closed_by_brace ? parser_expected(p, "'}'") : 0;
        else if (guest_tok_is(tok(p), P_RBRACE))
            return closed_by_brace ? 0 : parser_expected(p, "a statement ('}' has no '{')");
        else
            ret = parse_statement(p);
        if (ret)
            return ret;
    }
}

/* Parse one file's text (kept by the script for instruction `src` pointers). */
static int parse_text(Parser *p, const char *name, const char *text, size_t len)
{
    GuestScript *s = p->script;
    if (s->nfiles >= UINT16_MAX) {
        error_setg(p->errp, "%s: too many files", name);
        return -EINVAL;
    }
    char **files = realloc(s->files, (s->nfiles + 1) * sizeof(*files));
    char *fname = strdup(name);
    const char *copy = parser_own_text(p, text, len);
    if (files)
        s->files = files;
    if (!files || !fname || !copy) {
        free(fname);
        error_setg(p->errp, "%s: out of memory", name);
        return -ENOMEM;
    }
    s->files[s->nfiles] = fname;
    GuestLexer lx;
    GuestLexer *saved_lx = p->lx;
    uint16_t saved_file = p->file;
    p->file = p->ectx.file = (uint16_t)s->nfiles++;
    p->lx = &lx;
    int ret = guest_lex_init(&lx, fname, copy, len, p->errp);
    if (!ret)
        ret = parser_block(p, false);
    p->lx = saved_lx;
    p->file = p->ectx.file = saved_file;
    return ret;
}

/* ---- whole scripts --------------------------------------------------------------- */

/*
 * The script's parameters: the declared ones, then every variable that is read but
 * neither assigned nor declared (it can only get its value from outside).
 */
static int collect_params(Parser *p)
{
    GuestExprCtx *c = &p->ectx;
    GuestScript *s = p->script;
    unsigned n = p->nparams;
    for (unsigned i = 0; i < s->nvars; i++) {
        if (c->var_used[i] && !c->var_set[i] && !c->var_param[i])
            p->params[n++] = (GuestParam){ .var = (int16_t)i, .file = c->var_use_file[i],
                                           .line = c->var_use_line[i],
                                           .col = c->var_use_col[i] };
    }
    s->params = calloc(n ? n : 1, sizeof(*s->params));
    if (!s->params) {
        error_setg(p->errp, "out of memory for %u parameters", n);
        return -ENOMEM;
    }
    memcpy(s->params, p->params, n * sizeof(*s->params));
    s->nparams = n;
    return 0;
}

/* Move the builders' arrays into script->programs, in vcpu order. */
static int collect_programs(Parser *p)
{
    GuestScript *s = p->script;
    unsigned n = 0;
    for (unsigned v = 0; v < GUEST_MAX_VCPUS; v++)
        n += p->progs[v].used;
    s->programs = calloc(n ? n : 1, sizeof(*s->programs));
    if (!s->programs) {
        error_setg(p->errp, "out of memory for %u programs", n);
        return -ENOMEM;
    }
    for (unsigned v = 0; v < GUEST_MAX_VCPUS; v++) {
        ProgBuilder *b = &p->progs[v];
        if (!b->used)
            continue;
        s->programs[s->nprograms++] = (GuestProgram){
            .vcpu = v, .insns = b->insns, .ninsns = b->n,
        };
        b->insns = NULL;
    }
    return 0;
}

static void free_builders(Parser *p)
{
    for (unsigned v = 0; v < GUEST_MAX_VCPUS; v++) {
        for (uint32_t i = 0; i < p->progs[v].n; i++)
            free(p->progs[v].insns ? p->progs[v].insns[i].parts : NULL);
        free(p->progs[v].insns);
    }
}

GuestScript *guest_script_parse(const char *name, const char *text, size_t len,
                                Error **errp)
{
    if (len > GUEST_MAX_SCRIPT_BYTES) {
        error_setg(errp, "%s: script of %zu bytes is above the %u byte limit", name, len,
                   GUEST_MAX_SCRIPT_BYTES);
        return NULL;
    }
    Parser *p = calloc(1, sizeof(*p));
    GuestScript *s = calloc(1, sizeof(*s));
    char **vars = calloc(GUEST_MAX_VARS, sizeof(*vars));
    if (!p || !s || !vars) {
        free(p);
        free(s);
        free(vars);
        error_setg(errp, "%s: out of memory", name);
        return NULL;
    }
    s->vars = vars;
    p->script = s;
    p->ectx.script = s;
    p->errp = errp;
    int ret = parse_text(p, name, text, len);
    if (!ret)
        ret = collect_params(p);
    if (!ret)
        ret = collect_programs(p);
    free_builders(p);
    free(p);
    if (ret) {
        guest_script_free(s);
        return NULL;
    }
    return s;
}
