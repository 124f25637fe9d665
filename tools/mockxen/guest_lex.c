/*
 * tools/mockxen/guest_lex.c — tokenizer for the guest script language.
 *
 * The source is untrusted text of known length: every read is bounds-checked against
 * `len`, NUL bytes and non-ASCII characters are errors, numbers that overflow 64 bits
 * are errors, and tokens longer than GUEST_TOKEN_TEXT_MAX are errors.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tools/mockxen/guest_internal.h"
#include "util/macros.h"

int guest_lex_error(const GuestLexer *lx, const GuestToken *tok, Error **errp,
                    const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    error_setg(errp, "%s:%u:%u: %s", lx->file, tok->line, tok->col, msg);
    return -EINVAL;
}

static int peek_char(const GuestLexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

static void advance_char(GuestLexer *lx)
{
    if (lx->src[lx->pos] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->pos++;
}

static bool is_ident_start(int c)
{
    return c >= 0 && (isalpha(c) || c == '_');
}

static bool is_ident_char(int c)
{
    return c >= 0 && (isalnum(c) || c == '_' || c == '-' || c == '.');
}

/* Skip blanks, commas are not blanks; a '#' comment runs to the end of the line. */
static void skip_blanks(GuestLexer *lx)
{
    for (;;) {
        int c = peek_char(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            advance_char(lx);
        } else if (c == '\\' && peek_char(lx, 1) == '\n') {
            advance_char(lx);           /* line continuation */
            advance_char(lx);
        } else if (c == '#') {
            while (peek_char(lx, 0) >= 0 && peek_char(lx, 0) != '\n')
                advance_char(lx);
        } else {
            return;
        }
    }
}

static int digit_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* Number: decimal, 0x hex, 0b binary, '_' separators, optional unit suffix. */
static int lex_number(GuestLexer *lx, GuestToken *tok, Error **errp)
{
    unsigned base = 10;
    if (peek_char(lx, 0) == '0' && (peek_char(lx, 1) == 'x' || peek_char(lx, 1) == 'X')) {
        base = 16;
    } else if (peek_char(lx, 0) == '0' &&
               (peek_char(lx, 1) == 'b' || peek_char(lx, 1) == 'B') &&
               (peek_char(lx, 2) == '0' || peek_char(lx, 2) == '1')) {
        base = 2;
    }
    if (base != 10) {
        advance_char(lx);
        advance_char(lx);
    }
    uint64_t v = 0;
    unsigned ndigits = 0;
    for (;;) {
        int c = peek_char(lx, 0);
        if (c == '_' && ndigits) {
            advance_char(lx);
            continue;
        }
        int d = c >= 0 ? digit_value(c) : 99;
        if (d >= (int)base)
            break;
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            return guest_lex_error(lx, tok, errp, "number does not fit in 64 bits");
        v = v * base + (uint64_t)d;
        ndigits++;
        advance_char(lx);
    }
    if (!ndigits)
        return guest_lex_error(lx, tok, errp, "number without digits");
    size_t n = 0;
    while (is_ident_char(peek_char(lx, 0))) {
        if (n + 1 < sizeof(tok->suffix))
            tok->suffix[n] = (char)peek_char(lx, 0);
        n++;
        advance_char(lx);
    }
    if (n >= sizeof(tok->suffix)) {
        return guest_lex_error(lx, tok, errp, "bad character in number");
    }
    tok->suffix[n] = '\0';
    if (n && strcmp(tok->suffix, "ns") && strcmp(tok->suffix, "us") &&
        strcmp(tok->suffix, "ms") && strcmp(tok->suffix, "s"))
        return guest_lex_error(lx, tok, errp, "bad character in number");
    tok->kind = TK_NUM;
    tok->num = v;
    return 0;
}

static bool is_var_char(int c)
{
    return c >= 0 && (isalnum(c) || c == '_');
}

/* A name made of characters accepted by `is_char`. */
static int lex_word(GuestLexer *lx, GuestToken *tok, bool (*is_char)(int), Error **errp)
{
    size_t n = 0;
    while (is_char(peek_char(lx, 0))) {
        if (n + 1 >= sizeof(tok->text))
            return guest_lex_error(lx, tok, errp, "name too long");
        tok->text[n++] = (char)peek_char(lx, 0);
        advance_char(lx);
    }
    tok->text[n] = '\0';
    return 0;
}

static int lex_escape(GuestLexer *lx, GuestToken *tok, char *out, Error **errp)
{
    int c = peek_char(lx, 0);
    switch (c) {
    case 'n': *out = '\n'; break;
    case 't': *out = '\t'; break;
    case 'r': *out = '\r'; break;
    case '0': *out = '\0'; break;
    case '\\': case '"': case '\'': *out = (char)c; break;
    case 'x': {
        int hi = peek_char(lx, 1), lo = peek_char(lx, 2);
        if (hi < 0 || lo < 0 || digit_value(hi) > 15 || digit_value(lo) > 15)
            return guest_lex_error(lx, tok, errp, "\\x needs two hex digits");
        *out = (char)(digit_value(hi) * 16 + digit_value(lo));
        advance_char(lx);
        advance_char(lx);
        break;
    }
    default:
        return guest_lex_error(lx, tok, errp, "unknown escape in string");
    }
    advance_char(lx);
    return 0;
}

/* "string" (stops at a NUL escape: strings are C strings) or 'c' character literal. */
static int lex_quoted(GuestLexer *lx, GuestToken *tok, Error **errp)
{
    int quote = peek_char(lx, 0);
    size_t n = 0;
    advance_char(lx);
    for (;;) {
        int c = peek_char(lx, 0);
        if (c < 0 || c == '\n')
            return guest_lex_error(lx, tok, errp, "unterminated %s",
                                   quote == '"' ? "string" : "character");
        if (c == quote)
            break;
        char ch = (char)c;
        if (c == '\\') {
            advance_char(lx);
            int ret = lex_escape(lx, tok, &ch, errp);
            if (ret)
                return ret;
        } else if (c == 0 || c >= 0x80) {
            return guest_lex_error(lx, tok, errp, "character 0x%02x in string", c);
        } else {
            advance_char(lx);
        }
        if (n + 1 >= sizeof(tok->text))
            return guest_lex_error(lx, tok, errp, "string too long");
        tok->text[n++] = ch;
    }
    advance_char(lx);
    tok->text[n] = '\0';
    if (quote == '"') {
        tok->kind = TK_STR;
        return 0;
    }
    if (n != 1)
        return guest_lex_error(lx, tok, errp, "character literal must hold one character");
    tok->kind = TK_NUM;
    tok->num = (unsigned char)tok->text[0];
    tok->suffix[0] = '\0';
    return 0;
}

static const struct {
    const char *text;
    enum GuestPunct punct;
} puncts[] = {          /* two-character operators first */
    { "->", P_ARROW }, { "<<", P_SHL }, { ">>", P_SHR }, { "==", P_EQ }, { "!=", P_NE },
    { "<=", P_LE }, { ">=", P_GE },
    { "(", P_LPAREN }, { ")", P_RPAREN }, { "{", P_LBRACE }, { "}", P_RBRACE },
    { ",", P_COMMA }, { "=", P_ASSIGN }, { "+", P_PLUS }, { "-", P_MINUS },
    { "*", P_STAR }, { "/", P_SLASH }, { "%", P_PERCENT }, { "&", P_AMP },
    { "|", P_PIPE }, { "^", P_CARET }, { "~", P_TILDE }, { "!", P_BANG },
    { "<", P_LT }, { ">", P_GT },
};

static int lex_punct(GuestLexer *lx, GuestToken *tok, Error **errp)
{
    for (size_t i = 0; i < ARRAY_SIZE(puncts); i++) {
        size_t n = strlen(puncts[i].text);
        if (lx->pos + n <= lx->len && !memcmp(lx->src + lx->pos, puncts[i].text, n)) {
            for (size_t k = 0; k < n; k++)
                advance_char(lx);
            tok->kind = TK_PUNCT;
            tok->punct = puncts[i].punct;
            return 0;
        }
    }
    int c = peek_char(lx, 0);
    return guest_lex_error(lx, tok, errp, "unexpected character 0x%02x", c);
}

static int lex_token(GuestLexer *lx, GuestToken *tok, Error **errp)
{
    skip_blanks(lx);
    memset(tok, 0, offsetof(GuestToken, text) + 1);
    tok->line = lx->line;
    tok->col = lx->col;
    tok->start = lx->pos;
    int c = peek_char(lx, 0);
    int ret = 0;
    if (c < 0) {
        tok->kind = TK_EOF;
    } else if (c == '\n' || c == ';') {
        advance_char(lx);
        tok->kind = TK_EOL;
    } else if (c >= '0' && c <= '9') {
        ret = lex_number(lx, tok, errp);
    } else if (c == '$') {
        advance_char(lx);
        if (!is_ident_start(peek_char(lx, 0)))
            return guest_lex_error(lx, tok, errp, "'$' must start a variable name");
        tok->kind = TK_VAR;
        ret = lex_word(lx, tok, is_var_char, errp);
    } else if (is_ident_start(c)) {
        tok->kind = TK_IDENT;
        ret = lex_word(lx, tok, is_ident_char, errp);
    } else if (c == '"' || c == '\'') {
        ret = lex_quoted(lx, tok, errp);
    } else {
        ret = lex_punct(lx, tok, errp);
    }
    tok->end = lx->pos;
    return ret;
}

int guest_lex_next(GuestLexer *lx, Error **errp)
{
    lx->prev_end = lx->tok.end;
    return lex_token(lx, &lx->tok, errp);
}

int guest_lex_init(GuestLexer *lx, const char *file, const char *src, size_t len,
                   Error **errp)
{
    memset(lx, 0, sizeof(*lx));
    lx->file = file;
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
    return lex_token(lx, &lx->tok, errp);
}

enum GuestCmp guest_tok_cmp(const GuestToken *tok)
{
    static const struct { enum GuestPunct punct; enum GuestCmp cmp; } map[] = {
        { P_EQ, GCMP_EQ }, { P_NE, GCMP_NE }, { P_LT, GCMP_LT },
        { P_LE, GCMP_LE }, { P_GT, GCMP_GT }, { P_GE, GCMP_GE },
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (guest_tok_is(tok, map[i].punct))
            return map[i].cmp;
    return GCMP_NONE;
}

const char *guest_tok_describe(const GuestToken *tok, char *buf, size_t size)
{
    switch (tok->kind) {
    case TK_EOF: return "end of file";
    case TK_EOL: return "end of line";
    case TK_NUM: snprintf(buf, size, "number %#llx", (unsigned long long)tok->num); break;
    case TK_VAR: snprintf(buf, size, "$%s", tok->text); break;
    case TK_IDENT: snprintf(buf, size, "'%s'", tok->text); break;
    case TK_STR: snprintf(buf, size, "string \"%.40s\"", tok->text); break;
    case TK_PUNCT:
        for (size_t i = 0; i < ARRAY_SIZE(puncts); i++)
            if (puncts[i].punct == tok->punct)
                snprintf(buf, size, "'%s'", puncts[i].text);
        break;
    }
    return buf;
}
