/*
 * tools/mockxen/guest.h — the scripted guest of mockxen: script parser, interpreter, and
 * the backend interface the daemon implements.
 *
 * mockxen's "guest" is a set of scripted vCPUs. A script (language: GUEST-SCRIPT.md) is
 * parsed once by guest_script_parse()/guest_script_load() into one flat instruction
 * array per vCPU; guest_run() then runs every vCPU's program in its own thread. The
 * interpreter keeps per-vCPU state only (variables, loop counters); everything that
 * touches the domain — sending an ioreq through the vCPU's slot, guest RAM, interrupts,
 * log-dirty, counters, output — goes through the GuestBackend ops below, which the
 * daemon implements and which are called concurrently from several vCPU threads (each
 * call carries the vCPU id).
 *
 * Ownership: a GuestScript owns its instructions, strings and file names. Its parameters
 * are given values (guest_script_set_param) after parsing; from the first run on it is
 * immutable, so several threads may run it at once; free it with
 * guest_script_free() after every run using it has returned. Errors come back as
 * 0/-errno plus an Error (util/error.h) whose message carries file:line[:col]:
 *   - parse errors:        NULL from the parser, "file:line:col: message";
 *   - failed expectations: -EPROTO, "file:line: vcpu N: <statement>: expected X, got Y";
 *   - failed backend ops:  the op's -errno, "file:line: vcpu N: <what>: <op message>".
 * guest_run() returns 0 only if every vCPU ran to its end (or `done`) with every
 * expectation held; mockxen turns that into its exit status.
 */
#ifndef MOCKXEN_GUEST_H
#define MOCKXEN_GUEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/hvm/ioreq.h>

#include "util/error.h"

#define GUEST_MAX_VCPUS      128   /* vcpu ids are 0 .. GUEST_MAX_VCPUS-1 */
#define GUEST_MAX_VARS       64    /* distinct $variables per script */
#define GUEST_MAX_NESTING    16    /* nested blocks: repeat/time/while/if */
#define GUEST_MAX_INCLUDE    8     /* include depth */
#define GUEST_DEFAULT_IRQ_TIMEOUT_NS 1000000000ull    /* wait-irq without `timeout` */
#define GUEST_DEFAULT_WHILE_TIMEOUT_NS 10000000000ull /* while without `timeout` */

/* ---- backend interface (implemented by the mockxen daemon) ---------------------------- */

enum GuestIrqKind {
    GUEST_IRQ_ISA,      /* ISA IRQ line `isa` (xendevicemodel_set_isa_irq_level) */
    GUEST_IRQ_INTX,     /* PCI INTx (xendevicemodel_set_pci_intx_level) */
    GUEST_IRQ_MSI,      /* MSI (xendevicemodel_inject_msi) */
    GUEST_IRQ_SPI,      /* Arm SPI `isa` (GIC id; xendevicemodel_set_irq_level) */
};

typedef struct GuestIrq {
    enum GuestIrqKind kind;
    uint32_t isa;                   /* ISA: irq number; SPI: its GIC id */
    uint16_t segment;               /* INTx: PCI segment, bus, device, pin (0=INTA..3=INTD) */
    uint8_t bus, dev, intx;
    bool match_data;                /* MSI: only an MSI whose data == msi_data counts */
    bool match_addr;                /* MSI: only an MSI whose address == msi_addr counts */
    uint32_t msi_data;
    uint64_t msi_addr;
} GuestIrq;

/* An MSI as the device model injected it (xendevicemodel_inject_msi). */
typedef struct GuestMsi {
    uint64_t addr;
    uint32_t data;
} GuestMsi;

/* Flags for GuestBackendOps.ioreq. */
#define GUEST_IOREQ_RAW  (1u << 0)  /* hostile-input form: send every field exactly as
                                       given (state, vp_eport, pad bits included) and do
                                       not reject odd combinations; still time out if the
                                       device model never answers */

/*
 * Every op returns 0 (or a non-negative value where stated) or -errno and then sets
 * *errp saying what failed. Any op may be NULL: the interpreter then fails the
 * statement that needs it with -ENOSYS. Ops are called from the vCPU's own thread.
 */
typedef struct GuestBackendOps {
    /*
     * Put *req in vCPU `vcpu`'s ioreq slot, signal the device model and wait for
     * STATE_IORESP_READY; copy the response `data` back into req->data. Without
     * GUEST_IOREQ_RAW the interpreter fills addr, data, count, size, dir, df,
     * data_is_ptr and type, and the backend sets state and vp_eport itself (and decodes
     * 0xcf8/0xcfc port accesses into IOREQ_TYPE_PCI_CONFIG, routes, answers unclaimed
     * reads with all ones). -ETIMEDOUT if the device model does not answer.
     */
    int (*ioreq)(void *opaque, unsigned vcpu, ioreq_t *req, unsigned flags, Error **errp);

    /* Guest RAM at guest-physical `gpa`: -EFAULT if [gpa, gpa+len) is not all RAM. */
    int (*mem_read)(void *opaque, unsigned vcpu, uint64_t gpa, void *buf, size_t len,
                    Error **errp);
    int (*mem_write)(void *opaque, unsigned vcpu, uint64_t gpa, const void *buf,
                     size_t len, Error **errp);

    /*
     * Block until `irq` is raised by the device model (ISA/INTx: the line is or goes
     * high; MSI: a matching MSI is injected — each wait consumes one such MSI, oldest
     * first, and stores it in *msi) or timeout_ns passes (-ETIMEDOUT).
     */
    int (*wait_irq)(void *opaque, unsigned vcpu, const GuestIrq *irq, uint64_t timeout_ns,
                    GuestMsi *msi, Error **errp);
    /*
     * ISA/INTx: the current level (0/1) of the line. MSI: how many matching MSIs are
     * queued (injected and not yet consumed by a wait).
     */
    int (*irq_level)(void *opaque, unsigned vcpu, const GuestIrq *irq, Error **errp);

    /* Turn log-dirty mode on or off for the domain. */
    int (*log_dirty)(void *opaque, unsigned vcpu, bool enable, Error **errp);
    /*
     * Fill bitmap (nr bits, bit i = pfn first_pfn + i, zeroed by the caller) with the
     * pages dirtied since log-dirty was enabled or last cleaned; if `clean`, clear those
     * pages' dirty state (Xen's LOGDIRTY CLEAN). -EINVAL if log-dirty is off.
     */
    int (*dirty_bitmap)(void *opaque, unsigned vcpu, uint64_t first_pfn, uint64_t nr,
                        bool clean, unsigned long *bitmap, Error **errp);

    /* The grant table (mockxen.h, grant_table.c): place it at gpa (nr_frames of RAM);
     * write entry ref granting domain `domid` access to frame gfn; revoke entry ref (1
     * if revoked, 0 while a device model has it mapped). */
    int (*grant_table)(void *opaque, unsigned vcpu, uint64_t gpa, uint32_t nr_frames,
                       Error **errp);
    int (*grant)(void *opaque, unsigned vcpu, uint32_t ref, uint16_t domid, uint32_t gfn,
                 bool readonly, Error **errp);
    int (*grant_revoke)(void *opaque, unsigned vcpu, uint32_t ref, Error **errp);

    /* Value of the named counter (e.g. "modified_memory"); -ENOENT if unknown. */
    int (*counter)(void *opaque, unsigned vcpu, const char *name, uint64_t *value,
                   Error **errp);

    /* Output of `echo` (one line, no newline). NULL: printed to stdout as "vcpuN: text". */
    void (*print)(void *opaque, unsigned vcpu, const char *text);
    /*
     * Result of a `time` block: `iterations` runs took total_ns. NULL: printed to stdout
     * as a benchmark row "row\t<name>\t<ns per iteration>\tns\t<goal>".
     */
    void (*report_time)(void *opaque, unsigned vcpu, const char *name, const char *goal,
                        uint64_t iterations, uint64_t total_ns);
} GuestBackendOps;

/* ---- parsed script representation -------------------------------------------------- */

/*
 * Expressions are compiled to a tiny postfix program kept in the script's step pool; a
 * constant expression is folded at parse time to `is_const` with its value inline, so
 * the interpreter's hot path is a load and never does string work.
 */
enum GuestExprOp {
    GEXPR_CONST, GEXPR_VAR,                       /* push value / push $var */
    GEXPR_NEG, GEXPR_NOT, GEXPR_LNOT,             /* unary -, ~, ! */
    GEXPR_MUL, GEXPR_DIV, GEXPR_MOD, GEXPR_ADD, GEXPR_SUB, GEXPR_SHL, GEXPR_SHR,
    GEXPR_AND, GEXPR_XOR, GEXPR_OR,
    GEXPR_EQ, GEXPR_NE, GEXPR_LT, GEXPR_LE, GEXPR_GT, GEXPR_GE,
};

typedef struct GuestExprStep {
    uint8_t op;                 /* enum GuestExprOp */
    uint8_t var;                /* GEXPR_VAR: variable slot */
    uint64_t value;             /* GEXPR_CONST */
} GuestExprStep;

#define GUEST_EXPR_MAX_STEPS 64  /* per expression */
#define GUEST_EXPR_MAX_STACK 16  /* evaluation depth; deeper nesting is a parse error */

typedef struct GuestExpr {
    bool present;               /* false: the optional operand was not given */
    bool is_const;              /* folded: the value is `value`, no steps */
    uint16_t nsteps;            /* otherwise steps[first .. first+nsteps) of the pool */
    uint32_t first;
    uint64_t value;
} GuestExpr;

enum GuestCmp { GCMP_NONE, GCMP_EQ, GCMP_NE, GCMP_LT, GCMP_LE, GCMP_GT, GCMP_GE };

/* The optional tail of every statement that produces a value: `-> $v` and `CMP expr`. */
typedef struct GuestResult {
    int16_t store_var;          /* variable slot, or -1 */
    int16_t store_addr;         /* wait-irq msi `-> $data, $addr`: the address, or -1 */
    uint8_t cmp;                /* enum GuestCmp */
    GuestExpr expect;
} GuestResult;

enum GuestOp {
    GOP_PIO,            /* in/out, rep-in/rep-out */
    GOP_MMIO,           /* mmio-read/mmio-write, rep-mmio-read/rep-mmio-write */
    GOP_RAW,            /* raw: every ioreq_t field from the script */
    GOP_PEEK, GOP_POKE, GOP_FILL, GOP_COMPARE_BYTE, GOP_COMPARE_MEM,
    GOP_SET,            /* $v = expr */
    GOP_EXPECT,         /* expect expr [CMP expr] */
    GOP_WAIT_IRQ, GOP_IRQ_LEVEL,
    GOP_LOG_DIRTY, GOP_DIRTY,
    GOP_COUNT,
    GOP_GRANT_TABLE, GOP_GRANT, GOP_GRANT_REVOKE,
    GOP_ECHO,
    GOP_SLEEP,
    GOP_FAIL,           /* fail "msg": end this vCPU with a failed expectation */
    /* control flow: these set the next instruction themselves */
    GOP_LOOP_BEGIN,     /* repeat/time: evaluate count; 0 iterations jumps to `target` */
    GOP_LOOP_END,       /* next iteration jumps back to `target`; `time` reports */
    GOP_WHILE_INIT,     /* while: start the loop's bounds (iterations, clock) */
    GOP_WHILE_TEST,     /* while: `value` false jumps to `target`; a bound hit fails */
    GOP_BRANCH,         /* if: `value` false jumps to `target` */
    GOP_JUMP,           /* jump to `target` (else, break, the end of a while body) */
    GOP_DONE,           /* done/exit: end this vCPU successfully */
};

/* One piece of an `echo` line: a literal string or an expression printed in hex. */
typedef struct GuestEchoPart {
    const char *text;           /* literal, or NULL for `expr` */
    GuestExpr expr;
} GuestEchoPart;

enum GuestRawField {
    GRAW_TYPE, GRAW_ADDR, GRAW_DATA, GRAW_COUNT, GRAW_SIZE, GRAW_DIR, GRAW_DF, GRAW_PTR,
    GRAW_STATE, GRAW_EPORT, GRAW_NFIELDS
};

/*
 * One statement. Which operands are used depends on `op`; GUEST-SCRIPT.md is the
 * syntax, guest_parse.c the mapping. Value-producing statements (in, mmio-read, raw,
 * peek, $v =, expect, irq-level, dirty, count) end with `result`.
 */
typedef struct GuestInsn {
    uint8_t op;                 /* enum GuestOp */
    uint8_t size;               /* access size in bytes (1, 2, 4, 8) */
    bool write;                 /* out/mmio-write/poke; log-dirty on; dirty ... clean;
                                   grant: not readonly */
    bool df;                    /* rep-*: direction flag */
    bool rep;                   /* rep-*: data_is_ptr = 1, `buf` is the guest buffer */
    bool timed;                 /* loop: `time` rather than `repeat` */
    uint8_t depth;              /* repeat/time/while: the loop's state slot */
    int16_t loop_var;           /* loop: `as $i` variable slot, or -1 */
    uint16_t file;              /* index into GuestScript.files */
    uint32_t line;
    uint32_t target;            /* control flow: jump target (instruction index) */
    const char *src;            /* the statement's text, for messages (not NUL-terminated) */
    uint32_t src_len;

    GuestExpr addr;             /* port, MMIO address, gpa, first pfn; loop: iterations;
                                   irq: ISA irq, INTx bus, MSI address */
    GuestExpr value;            /* value written, fill/compare byte; set/expect: the value;
                                   irq: INTx device, MSI data; while/if: the condition */
    GuestExpr count;            /* rep count; fill/compare length; dirty: number of pfns;
                                   irq: INTx pin; while: `max` iterations (or absent) */
    GuestExpr buf;              /* rep: guest buffer gpa; compare-mem: second gpa */
    GuestExpr timeout_ns;       /* wait-irq and while timeout; sleep duration */
    GuestExpr raw[GRAW_NFIELDS];
    GuestResult result;
    GuestIrq irq;               /* wait-irq/irq-level: kind and MSI match flags; the
                                   numbers come from addr/value/count at run time */
    const char *name;           /* time: report name; count: counter name; fail: message */
    const char *goal;           /* time: goal text for the report ("" if none) */
    GuestEchoPart *parts;       /* echo */
    uint32_t nparts;
} GuestInsn;

typedef struct GuestProgram {
    unsigned vcpu;
    GuestInsn *insns;
    uint32_t ninsns;
} GuestProgram;

/*
 * A parameter: a variable every vCPU starts with, set from outside the script
 * (`mockxen --param name=value`) or from its `param $name = default`. A variable the
 * script reads but never assigns is a parameter without a default.
 */
typedef struct GuestParam {
    int16_t var;                /* variable slot */
    bool has_value;             /* a default or a value was given */
    bool given;                 /* set by guest_script_set_param() */
    bool declared;              /* `param $name` in the script (else: read, never set) */
    uint64_t value;
    uint16_t file;              /* where it is declared, or first read */
    uint32_t line, col;
} GuestParam;

typedef struct GuestScript {
    GuestProgram *programs;     /* one per vCPU that has statements, sorted by vcpu id */
    unsigned nprograms;
    GuestParam *params;         /* in order of declaration (implicit ones last) */
    unsigned nparams;
    char **files;               /* file names (main script first, then includes) */
    unsigned nfiles;
    char **vars;                /* variable names without '$', slot = index */
    unsigned nvars;
    GuestExprStep *steps;       /* step pool of every non-constant GuestExpr */
    uint32_t nsteps;
    char **texts;               /* source texts and strings owned by the script */
    unsigned ntexts;
} GuestScript;

/* ---- entry points ---------------------------------------------------------------- */

/*
 * Parse `len` bytes of script text (a NUL byte outside a comment is a parse error, not
 * the end of the text). `name` is used in
 * messages and to resolve `include` relative to its directory. NULL on error.
 */
GuestScript *guest_script_parse(const char *name, const char *text, size_t len,
                                Error **errp);
/* Read and parse a script file. */
GuestScript *guest_script_load(const char *path, Error **errp);
void guest_script_free(GuestScript *script);

/* Highest vCPU id used + 1 (0 for an empty script): how many ioreq slots are needed. */
unsigned guest_script_nr_vcpus(const GuestScript *script);

/*
 * Parameters: call before running the script (not while it runs). `name` is without
 * '$'. -ENOENT if the script has no parameter `name`, -EEXIST if it was given already.
 */
int guest_script_set_param(GuestScript *script, const char *name, uint64_t value,
                           Error **errp);
/* The same from "name=value" text, the value written as an integer in a script
 * (decimal, 0x hex, 0b binary, '_' separators). -EINVAL for malformed text. */
int guest_script_set_param_text(GuestScript *script, const char *assignment, Error **errp);
/* 0 if every parameter has a value (given or default); otherwise -EINVAL naming the
 * first one that has none, where the script declares or reads it. */
int guest_script_check_params(const GuestScript *script, Error **errp);

/*
 * Run every vCPU program concurrently, one thread each, and wait for all of them.
 * When one vCPU fails the others stop at their next statement. Returns 0 if all held;
 * otherwise the first failure's -errno and message (further failures are logged).
 * A parameter without a value fails the run before any vCPU starts
 * (guest_script_check_params).
 */
int guest_run(const GuestScript *script, const GuestBackendOps *ops, void *opaque,
              Error **errp);

/*
 * Run one program (script->programs[index]) in the calling thread; for callers that
 * manage their own threads. `stop` (may be NULL) is polled between statements: once it
 * is true the run ends with -ECANCELED.
 */
int guest_run_program(const GuestScript *script, unsigned index,
                      const GuestBackendOps *ops, void *opaque, atomic_bool *stop,
                      Error **errp);

#endif
