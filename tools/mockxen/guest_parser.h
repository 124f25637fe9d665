/*
 * tools/mockxen/guest_parser.h — the guest script parser's state and helpers, shared by
 * guest_parse.c (blocks, includes, whole scripts) and guest_stmt.c (one handler per
 * simple statement). Private to those two files.
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

typedef struct Parser {
    GuestScript *script;
    GuestExprCtx ectx;
    GuestLexer *lx;
    uint16_t file;                  /* index of lx's file in script->files */
    unsigned vcpu;                  /* programs statements go to */
    bool in_vcpu_block;
    unsigned loop_depth;
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
/* The value tail of a statement: [-> $v] [CMP expr], in either order. */
int parser_result(Parser *p, GuestResult *r);

/* The simple statement named `keyword` (guest_stmt.c), or NULL. */
const StmtDef *guest_find_statement(const char *keyword);

#endif
