/*
 * tools/mockxen/guest_parser.h — the guest script parser's state and helpers, shared by
 * guest_parse.c (vcpu blocks, includes, parameters, whole scripts), guest_flow.c
 * (repeat, time, while, if, break) and guest_stmt.c (one handler per simple
 * statement). Private to those files.
 *
 * The Parser owns the growing instruction arrays until the script is complete; the
 * GuestScript under construction owns everything else (texts, files, variables,
 * expression steps). Helpers return 0 or -errno after setting p->errp with the
 * position of the offending token.
 */
#ifndef MOCKXEN_GUEST_PARSER_H
#define MOCKXEN_GUEST_PARSER_H

#include <string.h>

#include "tools/mockxen/guest_internal.h"

/* One vCPU's instruction array while it grows. */
typedef struct ProgBuilder {
    bool used;
    GuestInsn *insns;
    uint32_t n, cap;
} ProgBuilder;

/* No jump target yet: ends a chain of jumps waiting for theirs (Parser.break_chain). */
#define GUEST_NO_TARGET UINT32_MAX

typedef struct Parser {
    GuestScript *script;
    GuestExprCtx ectx;
    GuestLexer *lx;
    uint16_t file;                  /* index of lx's file in script->files */
    unsigned vcpu;                  /* programs statements go to */
    bool in_vcpu_block;
    unsigned block_depth;           /* enclosing repeat/time/while/if blocks */
    unsigned loop_depth;            /* enclosing repeat/time/while blocks */
    /* Per enclosing loop, its `break` jumps: each one's target is the index of the
     * previous one, until the loop's end is known (GUEST_NO_TARGET ends the chain). */
    uint32_t break_chain[GUEST_MAX_NESTING];
    GuestParam params[GUEST_MAX_VARS];  /* `param` declarations */
    unsigned nparams;
    unsigned include_depth;
    unsigned texts_cap;
    ProgBuilder progs[GUEST_MAX_VCPUS];
    Error **errp;
} Parser;

/* A simple statement: keyword, handler and the flags the handler shares. */
typedef struct StmtDef StmtDef;
typedef int (*StmtHandler)(Parser *p, GuestInsn *in, const StmtDef *def);

/* Access size sets for StmtDef.sizes. */
#define SIZES_PIO  ((1u << 1) | (1u << 2) | (1u << 4))
#define SIZES_ALL  (SIZES_PIO | (1u << 8))

struct StmtDef {
    const char *keyword;
    StmtHandler handler;
    enum GuestOp op;
    bool write;
    bool rep;
    unsigned sizes;
};


static inline GuestToken *tok(Parser *p)
{
    return &p->lx->tok;
}

static inline int next(Parser *p)
{
    return guest_lex_next(p->lx, p->errp);
}

static inline bool at_word(Parser *p, const char *word)
{
    return tok(p)->kind == TK_IDENT && !strcmp(tok(p)->text, word);
}

static inline bool at_end_of_statement(Parser *p)
{
    return tok(p)->kind == TK_EOL || tok(p)->kind == TK_EOF || guest_tok_is(tok(p), P_RBRACE);
}

/* "expected <what>, got <current token>" at the current token. */
int parser_expected(Parser *p, const char *what);
/* Consume `word` if it is the current token; *found says whether it was. */
int parser_accept_word(Parser *p, const char *word, bool *found);
int parser_skip_comma(Parser *p);
/* One positional argument: an expression (no comparison), then an optional comma. */
int parser_arg(Parser *p, GuestExpr *e);
int parser_arg_const(Parser *p, const char *what, uint64_t *v);
/* A constant access size whose bit is set in `allowed` (SIZES_*). */
int parser_arg_size(Parser *p, unsigned allowed, uint8_t *size);
/* The slot of the variable named by token `at`, marked as assigned. */
int parser_var_slot(Parser *p, const GuestToken *at);
/* A copy of `text` owned by the script; NULL if out of memory. */
const char *parser_own_text(Parser *p, const char *text, size_t len);
/* Keep the current token's text and advance. */
int parser_own_token_text(Parser *p, const char **out);
int parser_out_of_memory(Parser *p);
/* The value tail of a statement: [-> $v] [CMP expr], in either order. With `two_stores`
 * the store may name a second variable: `-> $v, $w` (into r->store_addr). */
int parser_result(Parser *p, GuestResult *r, bool two_stores);
/* A duration: a number with a unit (10ms), or an expression and an optional unit word
 * (ns us ms s; milliseconds without one), scaled to nanoseconds. */
int parser_duration(Parser *p, GuestExpr *e);

/* ---- instruction arrays and blocks (guest_parse.c) ---------------------------------- */

/* Append an instruction for the statement starting at `start` to the current vCPU's
 * array (which may move: keep indices, not pointers, across other appends). */
GuestInsn *parser_new_insn(Parser *p, const GuestToken *start);
/* The statement's source text ends at the token before the current one. */
void parser_finish_insn(Parser *p, GuestInsn *in);
int parser_end_of_statement(Parser *p);
/* Consume a '{'. */
int parser_lbrace(Parser *p);
/* Statements up to EOF, or up to the matching '}' (left as the current token). */
int parser_block(Parser *p, bool closed_by_brace);

static inline uint32_t parser_insn_count(Parser *p)
{
    return p->progs[p->vcpu].n;
}

static inline GuestInsn *parser_insn(Parser *p, uint32_t index)
{
    return &p->progs[p->vcpu].insns[index];
}

/* ---- control flow (guest_flow.c); `start` is the keyword ------------------------------ */

int guest_parse_repeat(Parser *p, const GuestToken *start);
int guest_parse_time(Parser *p, const GuestToken *start);
int guest_parse_while(Parser *p, const GuestToken *start);
int guest_parse_if(Parser *p, const GuestToken *start);
/* `else` where a statement starts: it was not right after an if block's '}'. */
int guest_parse_else(Parser *p, const GuestToken *start);
int guest_parse_break(Parser *p, const GuestToken *start);

/* The simple statement named `keyword` (guest_stmt.c), or NULL. */
const StmtDef *guest_find_statement(const char *keyword);

#endif
