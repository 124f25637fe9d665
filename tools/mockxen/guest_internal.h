/*
 * tools/mockxen/guest_internal.h — pieces shared by the guest script parser and
 * interpreter, private to tools/mockxen/guest_*.c.
 *
 * guest_lex.c turns script text into tokens (one token of lookahead, positions for
 * messages); guest_expr.c parses expressions into a script's step pool and evaluates
 * them. Nothing here allocates except the step pool, which the script owns.
 */
#ifndef MOCKXEN_GUEST_INTERNAL_H
#define MOCKXEN_GUEST_INTERNAL_H

#include "tools/mockxen/guest.h"

#define GUEST_MAX_SCRIPT_BYTES (16u << 20)
#define GUEST_MAX_DIRTY_PFNS   (1ull << 24)    /* per `dirty` statement */

/*
 * Read a whole script file (a regular file of at most GUEST_MAX_SCRIPT_BYTES) into a
 * malloc'd buffer the caller frees.
 */
int guest_read_file(const char *path, char **text, size_t *len, Error **errp);

/* ---- lexer ------------------------------------------------------------------------ */

enum GuestTokKind {
    TK_EOF,
    TK_EOL,         /* newline or ';' */
    TK_NUM,         /* integer, maybe with a unit suffix ("10ms") */
    TK_VAR,         /* $name (text = name) */
    TK_IDENT,       /* keyword or name: letters, digits, '_', '-', '.' */
    TK_STR,         /* "string" (text = decoded contents) */
    TK_PUNCT,       /* operator or bracket (punct) */
};

enum GuestPunct {
    P_LPAREN, P_RPAREN, P_LBRACE, P_RBRACE, P_COMMA, P_ARROW, P_ASSIGN,
    P_PLUS, P_MINUS, P_STAR, P_SLASH, P_PERCENT, P_AMP, P_PIPE, P_CARET, P_TILDE,
    P_BANG, P_SHL, P_SHR, P_EQ, P_NE, P_LT, P_LE, P_GT, P_GE,
};

#define GUEST_TOKEN_TEXT_MAX 512

typedef struct GuestToken {
    enum GuestTokKind kind;
    enum GuestPunct punct;
    uint32_t line, col;
    size_t start, end;              /* byte span in the source */
    uint64_t num;
    char suffix[4];                 /* TK_NUM unit suffix: "", "ns", "us", "ms", "s" */
    char text[GUEST_TOKEN_TEXT_MAX];
} GuestToken;

typedef struct GuestLexer {
    const char *file;               /* for messages */
    const char *src;
    size_t len, pos;
    uint32_t line, col;
    size_t prev_end;                /* end of the token before `tok` */
    GuestToken tok;                 /* the current (lookahead) token */
} GuestLexer;

/* Start lexing and read the first token. */
int guest_lex_init(GuestLexer *lx, const char *file, const char *src, size_t len,
                   Error **errp);
/* Advance to the next token. */
int guest_lex_next(GuestLexer *lx, Error **errp);
/* Set *errp to "file:line:col: <message>" at token `tok`; returns -EINVAL. */
int guest_lex_error(const GuestLexer *lx, const GuestToken *tok, Error **errp,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Human-readable name of the current token, for "expected X, got Y" messages. */
const char *guest_tok_describe(const GuestToken *tok, char *buf, size_t size);

static inline bool guest_tok_is(const GuestToken *tok, enum GuestPunct p)
{
    return tok->kind == TK_PUNCT && tok->punct == p;
}

/* The comparison a token stands for (== != < <= > >=), or GCMP_NONE. */
enum GuestCmp guest_tok_cmp(const GuestToken *tok);

/* ---- expressions ------------------------------------------------------------------ */

/* The parser's variable table and step pool, owned by the script under construction. */
typedef struct GuestExprCtx {
    GuestScript *script;
    uint32_t steps_cap;
    bool var_set[GUEST_MAX_VARS];       /* assigned somewhere in the script */
    bool var_param[GUEST_MAX_VARS];     /* declared with `param` */
    bool var_used[GUEST_MAX_VARS];      /* read somewhere; first read at: */
    uint16_t var_use_file[GUEST_MAX_VARS];     /* index into script->files */
    uint32_t var_use_line[GUEST_MAX_VARS], var_use_col[GUEST_MAX_VARS];
    uint16_t file;                      /* the file being parsed (index) */
} GuestExprCtx;

/*
 * Parse an expression at lx->tok. With `allow_cmp`, one top-level comparison is
 * allowed (`a == b`); without it the expression stops before a comparison operator
 * (so a statement's `CMP expr` tail can follow). Constant expressions are folded.
 */
int guest_expr_parse(GuestLexer *lx, GuestExprCtx *ctx, bool allow_cmp, GuestExpr *out,
                     Error **errp);
/* Parse an expression that must fold to a constant; `what` names it in messages. */
int guest_expr_parse_const(GuestLexer *lx, GuestExprCtx *ctx, const char *what,
                           uint64_t *out, Error **errp);
/*
 * Multiply an expression by `factor` (durations): folds constants (-ERANGE on
 * overflow), else appends "* factor" to the steps (-ENOMEM).
 */
int guest_expr_scale(GuestExprCtx *ctx, GuestExpr *e, uint64_t factor);
/* Slot for variable `name`, creating it; -ENOSPC past GUEST_MAX_VARS. */
int guest_var_slot(GuestExprCtx *ctx, const char *name);

/*
 * Evaluate steps[0..n) with variables `vars`. 0, or -EDOM on division by zero. All
 * arithmetic is unsigned 64-bit; shifts by 64 or more give 0.
 */
int guest_expr_eval_steps(const GuestExprStep *steps, unsigned n, const uint64_t *vars,
                          uint64_t *out);

/* Evaluate an expression of a parsed script: the hot path for constants is inline. */
static inline int guest_expr_eval(const GuestScript *s, const GuestExpr *e,
                                  const uint64_t *vars, uint64_t *out)
{
    if (e->is_const) {
        *out = e->value;
        return 0;
    }
    return guest_expr_eval_steps(s->steps + e->first, e->nsteps, vars, out);
}

/*
 * Complete *irq (kind and match flags set by the parser) from its evaluated operands:
 * ISA: a = irq; INTx: a = bus, v = device, c = pin; MSI: v = data, a = address.
 * NULL, or a message saying which operand is out of range.
 */
const char *guest_irq_resolve(GuestIrq *irq, uint64_t a, uint64_t v, uint64_t c);

/* Apply a comparison operator. */
bool guest_cmp_holds(enum GuestCmp cmp, uint64_t got, uint64_t want);
const char *guest_cmp_name(enum GuestCmp cmp);

#endif
