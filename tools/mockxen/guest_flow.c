/*
 * tools/mockxen/guest_flow.c — the control flow of the guest script language: the
 * loops `repeat`, `time` and `while`, `if`/`else`, and `break`, compiled to jumps in the
 * vCPU's flat instruction array (syntax in GUEST-SCRIPT.md):
 *
 *   repeat N { B }        LOOP_BEGIN(N, exit) B LOOP_END(back to B)
 *   while C { B }         WHILE_INIT  WHILE_TEST(C, exit)  B  JUMP(WHILE_TEST)
 *   if C { B } else { E } BRANCH(C, E)  B  JUMP(end)  E
 *   break                 JUMP(the innermost loop's exit)
 *
 * A jump whose target is not known yet (a `break`, the jump over an `else`) is kept on
 * a chain threaded through the target fields themselves and patched when the target
 * is reached, so no list is allocated. Every block counts against GUEST_MAX_NESTING,
 * which bounds the parser's recursion.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tools/mockxen/guest_parser.h"

/* Point every jump on the chain starting at `head` at `target`. */
static void patch_chain(Parser *p, uint32_t head, uint32_t target)
{
    while (head != GUEST_NO_TARGET) {
        GuestInsn *in = parser_insn(p, head);
        head = in->target;
        in->target = target;
    }
}

/* A new instruction of kind `op` for the statement at `start`; its index in *index. */
static GuestInsn *new_flow_insn(Parser *p, const GuestToken *start, enum GuestOp op,
                                uint32_t *index)
{
    GuestInsn *in = parser_new_insn(p, start);
    if (in) {
        in->op = (uint8_t)op;
        in->depth = (uint8_t)p->loop_depth;
        *index = parser_insn_count(p) - 1;
    }
    return in;
}

/* '{' statements '}', the '}' consumed; a loop's body also collects its breaks. */
static int parse_body(Parser *p, const GuestToken *start, bool loop)
{
    if (p->block_depth >= GUEST_MAX_NESTING)
        return guest_lex_error(p->lx, start, p->errp, "blocks nested deeper than %d",
                               GUEST_MAX_NESTING);
    int ret = parser_lbrace(p);
    if (ret)
        return ret;
    p->block_depth++;
    if (loop)
        p->break_chain[p->loop_depth++] = GUEST_NO_TARGET;
    ret = parser_block(p, true);
    if (loop)
        p->loop_depth--;
    p->block_depth--;
    return ret ? ret : next(p);
}

/*
 * The body of the loop whose head is instruction `head`, then the loop's last
 * instruction: a copy of the head (slot, name, variable, source) made an `end_op`
 * jumping to `back`. The head's exit and every `break` in the body go past it.
 */
static int parse_loop_body(Parser *p, const GuestToken *start, uint32_t head,
                           enum GuestOp end_op, uint32_t back)
{
    int ret = parse_body(p, start, true);
    if (ret)
        return ret;
    uint32_t end_index;
    GuestInsn *end = new_flow_insn(p, start, end_op, &end_index);
    if (!end)
        return -ENOMEM;
    *end = *parser_insn(p, head);
    end->op = (uint8_t)end_op;
    end->target = back;
    parser_insn(p, head)->target = end_index + 1;
    patch_chain(p, p->break_chain[p->loop_depth], end_index + 1);
    return 0;
}

/* The name of a `time` block's report: "file:line" unless the script gave one. */
static int time_name(Parser *p, GuestInsn *in, const GuestToken *start)
{
    int ret = 0;
    in->goal = "";
    if (tok(p)->kind == TK_STR) {
        ret = parser_own_token_text(p, &in->name);
        if (!ret && tok(p)->kind == TK_STR)
            ret = parser_own_token_text(p, &in->goal);
        return ret;
    }
    char name[GUEST_TOKEN_TEXT_MAX + 32];
    snprintf(name, sizeof(name), "%s:%u", p->lx->file, start->line);
    in->name = parser_own_text(p, name, strlen(name));
    return in->name ? 0 : parser_out_of_memory(p);
}

/* repeat N [as $i] { ... } / time N ["name" ["goal"]] { ... } */
static int parse_counted_loop(Parser *p, const GuestToken *start, bool timed)
{
    uint32_t begin;
    GuestInsn *in = new_flow_insn(p, start, GOP_LOOP_BEGIN, &begin);
    if (!in)
        return -ENOMEM;
    in->timed = timed;
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
    if (!ret && timed)
        ret = time_name(p, in, start);
    parser_finish_insn(p, in);
    return ret ? ret : parse_loop_body(p, start, begin, GOP_LOOP_END, begin + 1);
}

int guest_parse_repeat(Parser *p, const GuestToken *start)
{
    return parse_counted_loop(p, start, false);
}

int guest_parse_time(Parser *p, const GuestToken *start)
{
    return parse_counted_loop(p, start, true);
}

/* The bounds of a while loop: [max N] [timeout DURATION], in either order. */
static int parse_while_bounds(Parser *p, GuestInsn *test)
{
    for (;;) {
        bool max = !test->count.present && at_word(p, "max");
        bool timeout = !test->timeout_ns.present && at_word(p, "timeout");
        if (!max && !timeout)
            break;
        int ret = next(p);
        if (!ret)
            ret = max ? parser_arg(p, &test->count) : parser_duration(p, &test->timeout_ns);
        if (ret)
            return ret;
    }
    if (!test->timeout_ns.present)
        test->timeout_ns = (GuestExpr){ .present = true, .is_const = true,
                                        .value = GUEST_DEFAULT_WHILE_TIMEOUT_NS };
    return 0;
}

/* while COND [max N] [timeout DURATION] { ... } */
int guest_parse_while(Parser *p, const GuestToken *start)
{
    uint32_t init_index, test_index;
    if (!new_flow_insn(p, start, GOP_WHILE_INIT, &init_index))
        return -ENOMEM;
    GuestInsn *test = new_flow_insn(p, start, GOP_WHILE_TEST, &test_index);
    if (!test)
        return -ENOMEM;
    int ret = next(p);
    if (!ret)
        ret = guest_expr_parse(p->lx, &p->ectx, true, &test->value, p->errp);
    if (!ret)
        ret = parse_while_bounds(p, test);
    parser_finish_insn(p, test);
    parser_insn(p, init_index)->src_len = test->src_len;
    return ret ? ret : parse_loop_body(p, start, test_index, GOP_JUMP, test_index);
}

/* One `if COND { ... }` clause; the BRANCH's index in *branch. */
static int parse_if_clause(Parser *p, const GuestToken *start, uint32_t *branch)
{
    GuestInsn *in = new_flow_insn(p, start, GOP_BRANCH, branch);
    if (!in)
        return -ENOMEM;
    int ret = next(p);
    if (!ret)
        ret = guest_expr_parse(p->lx, &p->ectx, true, &in->value, p->errp);
    parser_finish_insn(p, in);
    return ret ? ret : parse_body(p, start, false);
}

/*
 * if COND { ... } [else if COND { ... }]... [else { ... }]. `else` must follow the
 * '}' on the same line. Each clause but the last ends with a jump to the end.
 */
int guest_parse_if(Parser *p, const GuestToken *start)
{
    uint32_t to_end = GUEST_NO_TARGET, branch;
    int ret = parse_if_clause(p, start, &branch);
    while (!ret && at_word(p, "else")) {
        GuestToken at_else = *tok(p);
        uint32_t jump_index;
        GuestInsn *jump = new_flow_insn(p, &at_else, GOP_JUMP, &jump_index);
        if (!jump)
            return -ENOMEM;
        jump->target = to_end;
        to_end = jump_index;
        parser_insn(p, branch)->target = jump_index + 1;
        branch = GUEST_NO_TARGET;
        ret = next(p);
        if (ret)
            break;
        if (at_word(p, "if")) {
            GuestToken at_if = *tok(p);
            ret = parse_if_clause(p, &at_if, &branch);
        } else {
            ret = parse_body(p, &at_else, false);
            break;
        }
    }
    if (ret)
        return ret;
    if (branch != GUEST_NO_TARGET)
        parser_insn(p, branch)->target = parser_insn_count(p);
    patch_chain(p, to_end, parser_insn_count(p));
    return 0;
}

int guest_parse_else(Parser *p, const GuestToken *start)
{
    return guest_lex_error(p->lx, start, p->errp,
                           "'else' must follow the '}' of an 'if' on the same line");
}

/* break: leave the innermost repeat/time/while loop. */
int guest_parse_break(Parser *p, const GuestToken *start)
{
    if (!p->loop_depth)
        return guest_lex_error(p->lx, start, p->errp, "'break' outside a loop");
    uint32_t index;
    GuestInsn *in = new_flow_insn(p, start, GOP_JUMP, &index);
    if (!in)
        return -ENOMEM;
    in->target = p->break_chain[p->loop_depth - 1];
    p->break_chain[p->loop_depth - 1] = index;
    int ret = next(p);
    parser_finish_insn(p, in);
    return ret ? ret : parser_end_of_statement(p);
}
