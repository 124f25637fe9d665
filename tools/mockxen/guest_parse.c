/*
 * tools/mockxen/guest_parse.c — the guest script parser: statements to instructions.
 *
 * Each vCPU gets one flat instruction array; `repeat`/`time` blocks become a
 * LOOP_BEGIN/LOOP_END pair that jump to each other, `vcpu N { }` switches the array
 * statements go to (top-level statements belong to vCPU 0), and `include` parses
 * another file in place. Recursion is bounded by GUEST_MAX_NESTING and
 * GUEST_MAX_INCLUDE, so hostile input cannot exhaust the stack. Statement syntax is
 * documented in GUEST-SCRIPT.md; the handlers of simple statements are in
 * guest_stmt.c.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/grow.h"
#include "tools/mockxen/guest_parser.h"

#define MAX_INSNS_PER_VCPU (1u << 20)

static int parse_block(Parser *p, bool closed_by_brace);

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

/* ---- the value tail: [-> $v] [CMP expr] ------------------------------------------ */

int parser_result(Parser *p, GuestResult *r)
{
    r->store_var = -1;
    r->cmp = GCMP_NONE;
    for (unsigned i = 0; i < 2; i++) {
        enum GuestCmp cmp = guest_tok_cmp(tok(p));
        int ret = 0;
        if (guest_tok_is(tok(p), P_ARROW) && r->store_var < 0) {
            ret = next(p);
            if (!ret && tok(p)->kind != TK_VAR)
                return parser_expected(p, "a $variable after '->'");
            int slot = ret ? ret : parser_var_slot(p, tok(p));
            if (slot < 0)
                return slot;
            r->store_var = (int16_t)slot;
            ret = next(p);
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

/* ---- instruction arrays ---------------------------------------------------------- */

static GuestInsn *new_insn(Parser *p, const GuestToken *start)
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
    in->loop_var = -1;
    return in;
}

static void finish_insn(Parser *p, GuestInsn *in)
{
    in->src_len = (uint32_t)(p->lx->prev_end - (size_t)(in->src - p->lx->src));
}

static int expect_end_of_statement(Parser *p)
{
    return at_end_of_statement(p) ? 0 : parser_expected(p, "end of statement");
}

static int parse_simple(Parser *p, const StmtDef *def, const GuestToken *start)
{
    GuestInsn *in = new_insn(p, start);
    if (!in)
        return -ENOMEM;
    in->op = (uint8_t)def->op;
    int ret = def->op == GOP_SET && start->kind == TK_VAR ? 0 : next(p);
    if (!ret)
        ret = def->handler(p, in, def);
    if (!ret)
        ret = expect_end_of_statement(p);
    finish_insn(p, in);
    return ret;
}

/* ---- blocks ---------------------------------------------------------------------- */

static int expect_lbrace(Parser *p)
{
    return guest_tok_is(tok(p), P_LBRACE) ? next(p) : parser_expected(p, "'{'");
}

/* repeat N [as $i] { ... } / time N ["name" ["goal"]] { ... } */
static int parse_loop(Parser *p, const GuestToken *start, bool timed)
{
    if (p->loop_depth >= GUEST_MAX_NESTING)
        return guest_lex_error(p->lx, start, p->errp, "loops nested deeper than %d",
                               GUEST_MAX_NESTING);
    GuestInsn *in = new_insn(p, start);
    if (!in)
        return -ENOMEM;
    uint32_t begin = p->progs[p->vcpu].n - 1;
    in->op = GOP_LOOP_BEGIN;
    in->timed = timed;
    in->depth = (uint8_t)p->loop_depth;
    int ret = next(p);
    if (!ret)
        ret = parser_arg(p, &in->addr);
    bool found = false;
    if (!ret && !timed)
        ret = parser_accept_word(p, "as", &found);
    if (!ret && found) {
        if (tok(p)->kind != TK_VAR)
            return parser_expected(p, "a $variable after 'as'");
        int slot = parser_var_slot(p, tok(p));
        if (slot < 0)
            return slot;
        in->loop_var = (int16_t)slot;
        ret = next(p);
    }
    in->goal = "";
    if (!ret && timed && tok(p)->kind == TK_STR) {
        ret = parser_own_token_text(p, &in->name);
        if (!ret && tok(p)->kind == TK_STR)
            ret = parser_own_token_text(p, &in->goal);
    }
    if (!ret && timed && !in->name) {
        char name[GUEST_TOKEN_TEXT_MAX + 32];
        snprintf(name, sizeof(name), "%s:%u", p->lx->file, start->line);
        in->name = parser_own_text(p, name, strlen(name));
        if (!in->name)
            return parser_out_of_memory(p);
    }
    finish_insn(p, in);
    if (!ret)
        ret = expect_lbrace(p);
    if (ret)
        return ret;
    p->loop_depth++;
    ret = parse_block(p, true);
    p->loop_depth--;
    if (ret)
        return ret;
    GuestInsn *end = new_insn(p, start);
    if (!end)
        return -ENOMEM;
    GuestInsn *insns = p->progs[p->vcpu].insns;     /* may have moved */
    *end = insns[begin];
    end->op = GOP_LOOP_END;
    end->target = begin + 1;
    insns[begin].target = p->progs[p->vcpu].n;
    return next(p);                                 /* the '}' */
}

/* vcpu N { ... } */
static int parse_vcpu_block(Parser *p, const GuestToken *start)
{
    if (p->in_vcpu_block || p->loop_depth)
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
        ret = expect_lbrace(p);
    if (ret)
        return ret;
    unsigned saved = p->vcpu;
    p->vcpu = (unsigned)id;
    p->progs[id].used = true;
    p->in_vcpu_block = true;
    ret = parse_block(p, true);
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
        ret = expect_end_of_statement(p);
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

static int parse_statement(Parser *p)
{
    GuestToken start = *tok(p);
    if (start.kind == TK_VAR)
        return parse_simple(p, guest_find_statement("set"), &start);     /* $v = expr */
    if (start.kind != TK_IDENT)
        return parser_expected(p, "a statement");
    if (!strcmp(start.text, "repeat") || !strcmp(start.text, "time"))
        return parse_loop(p, &start, start.text[0] == 't');
    if (!strcmp(start.text, "vcpu"))
        return parse_vcpu_block(p, &start);
    if (!strcmp(start.text, "include"))
        return parse_include(p, &start);
    const StmtDef *def = guest_find_statement(start.text);
    if (def)
        return parse_simple(p, def, &start);
    return guest_lex_error(p->lx, &start, p->errp, "unknown statement '%s'", start.text);
}

/* Statements up to EOF, or up to the matching '}' (left as the current token). */
static int parse_block(Parser *p, bool closed_by_brace)
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
    p->file = (uint16_t)s->nfiles++;
    p->lx = &lx;
    int ret = guest_lex_init(&lx, fname, copy, len, p->errp);
    if (!ret)
        ret = parse_block(p, false);
    p->lx = saved_lx;
    p->file = saved_file;
    return ret;
}

/* ---- whole scripts --------------------------------------------------------------- */

/* Every variable that is read must be assigned somewhere. */
static int check_variables(Parser *p)
{
    GuestExprCtx *c = &p->ectx;
    for (unsigned i = 0; i < p->script->nvars; i++) {
        if (c->var_used[i] && !c->var_set[i]) {
            error_setg(p->errp, "%s:%u:%u: variable $%s is never set", c->var_use_file[i],
                       c->var_use_line[i], c->var_use_col[i], p->script->vars[i]);
            return -EINVAL;
        }
    }
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
        ret = check_variables(p);
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
