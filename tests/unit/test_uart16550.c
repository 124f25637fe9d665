/* Unit tests for devices/uart16550.c: every register, DLAB, FIFOs, interrupts, loopback,
 * the chardev input path, hostile accesses, and accesses through an I/O address space. */
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/serial_reg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/chardev.h"
#include "devices/irq.h"
#include "devices/uart16550.h"

typedef struct Fixture {
    TestIrqs irqs;
    Uart16550 *uart;
    MemoryRegion *mr;
    int out_rd;                 /* what the UART transmitted */
    int in_wr;                  /* what we send to the UART */
    Chardev *chr;
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    test_irqs_init(&f->irqs);
    int out[2], in[2];
    assert_int_equal(pipe2(out, O_NONBLOCK), 0);
    assert_int_equal(pipe2(in, O_NONBLOCK), 0);
    f->out_rd = out[0];
    f->in_wr = in[1];
    f->chr = chardev_from_fds(in[0], out[1], true, NULL);
    assert_non_null(f->chr);
    IrqLine line;
    assert_int_equal(irq_line_init_isa(&line, &f->irqs.router, 4, NULL), 0);
    f->uart = uart16550_new(line, f->chr, NULL);
    assert_non_null(f->uart);
    f->mr = uart16550_region(f->uart);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    uart16550_free(f->uart);
    close(f->out_rd);
    close(f->in_wr);
    free(f);
    return 0;
}

static uint8_t rd(Fixture *f, unsigned reg)
{
    return (uint8_t)f->mr->ops->read(f->mr->opaque, reg, 1);
}

static void wr(Fixture *f, unsigned reg, uint8_t val)
{
    f->mr->ops->write(f->mr->opaque, reg, val, 1);
}

static void rx(Fixture *f, const char *bytes)
{
    uart16550_receive(f->uart, (const uint8_t *)bytes, strlen(bytes));
}

static bool irq(Fixture *f)
{
    return f->irqs.isa[4];
}

/* ---- registers ---- */

static void reset_values(void **state)
{
    Fixture *f = *state;
    assert_int_equal(rd(f, UART_IER), 0);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_NO_INT);
    assert_int_equal(rd(f, UART_LCR), 0);
    assert_int_equal(rd(f, UART_MCR), 0);
    assert_int_equal(rd(f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
    assert_int_equal(rd(f, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
    assert_int_equal(rd(f, UART_SCR), 0);
    assert_false(irq(f));
}

static void scratch_and_lcr_mcr_ier_read_back(void **state)
{
    Fixture *f = *state;
    wr(f, UART_SCR, 0xa5);
    assert_int_equal(rd(f, UART_SCR), 0xa5);
    wr(f, UART_LCR, 0x1b);          /* 8 bits, 2 stop, even parity */
    assert_int_equal(rd(f, UART_LCR), 0x1b);
    wr(f, UART_MCR, 0xff);          /* bits 5..7 do not exist on a 16550A */
    assert_int_equal(rd(f, UART_MCR), 0x1f);
    wr(f, UART_MCR, 0);
    wr(f, UART_IER, 0xf0);          /* only the low four bits exist */
    assert_int_equal(rd(f, UART_IER), 0);
    wr(f, UART_LSR, 0x00);          /* LSR and MSR ignore writes */
    wr(f, UART_MSR, 0x00);
    assert_int_equal(rd(f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
    assert_int_equal(rd(f, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
}

static void dlab_selects_divisor_latch(void **state)
{
    Fixture *f = *state;
    wr(f, UART_IER, UART_IER_RDI);
    wr(f, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
    wr(f, UART_DLL, 0x0c);
    wr(f, UART_DLM, 0x01);
    assert_int_equal(rd(f, UART_DLL), 0x0c);
    assert_int_equal(rd(f, UART_DLM), 0x01);
    wr(f, UART_LCR, UART_LCR_WLEN8);
    assert_int_equal(rd(f, UART_IER), UART_IER_RDI);    /* IER untouched by DLM writes */
    char c;
    assert_int_equal(read(f->out_rd, &c, 1), -1);       /* DLL writes did not transmit */
    wr(f, UART_LCR, UART_LCR_DLAB);
    assert_int_equal(rd(f, UART_DLL), 0x0c);            /* divisor kept */
    assert_int_equal(rd(f, UART_DLM), 0x01);
}

static void thr_writes_go_to_the_chardev(void **state)
{
    Fixture *f = *state;
    for (const char *p = "hi!\n"; *p; p++)
        wr(f, UART_TX, (uint8_t)*p);
    char buf[8] = { 0 };
    assert_int_equal(read(f->out_rd, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "hi!\n");
    assert_int_equal(rd(f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}

/* ---- receive, FIFOs ---- */

static void holding_register_mode_receives_one_byte(void **state)
{
    Fixture *f = *state;
    assert_int_equal(uart16550_can_receive(f->uart), 1);
    rx(f, "a");
    assert_int_equal(uart16550_can_receive(f->uart), 0);
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
    assert_int_equal(rd(f, UART_RX), 'a');
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);
    assert_int_equal(rd(f, UART_RX), 'a');              /* empty RBR keeps the last byte */
    rx(f, "bc");                                        /* second byte overwrites: overrun */
    assert_int_equal(rd(f, UART_LSR), UART_LSR_DR | UART_LSR_OE | UART_LSR_THRE |
                                      UART_LSR_TEMT);
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_OE, 0); /* reading LSR cleared OE */
    assert_int_equal(rd(f, UART_RX), 'c');
}

static void fifo_fills_to_16_then_overruns(void **state)
{
    Fixture *f = *state;
    wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
    assert_int_equal(uart16550_can_receive(f->uart), UART16550_FIFO_SIZE);
    rx(f, "0123456789abcdef");
    assert_int_equal(uart16550_can_receive(f->uart), 0);
    assert_int_equal(rd(f, UART_LSR) & (UART_LSR_DR | UART_LSR_OE), UART_LSR_DR);
    rx(f, "X");                                         /* 17th byte is lost */
    assert_int_equal(rd(f, UART_LSR) & (UART_LSR_DR | UART_LSR_OE),
                     UART_LSR_DR | UART_LSR_OE);
    char got[17] = { 0 };
    for (int i = 0; i < 16; i++)
        got[i] = (char)rd(f, UART_RX);
    assert_string_equal(got, "0123456789abcdef");
    assert_int_equal(rd(f, UART_LSR) & (UART_LSR_DR | UART_LSR_OE), 0);
}

static void fcr_clears_and_switches_fifos(void **state)
{
    Fixture *f = *state;
    wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
    assert_int_equal(rd(f, UART_IIR) & 0xc0, 0xc0);    /* FIFOs enabled */
    rx(f, "abc");
    wr(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);
    rx(f, "abc");
    wr(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_14);  /* no clear: kept */
    assert_int_equal(rd(f, UART_RX), 'a');
    wr(f, UART_FCR, UART_FCR_CLEAR_RCVR | UART_FCR_TRIGGER_8);    /* bit 0 clear: off */
    assert_int_equal(rd(f, UART_IIR) & 0xc0, 0);
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);           /* disabling cleared */
    assert_int_equal(uart16550_can_receive(f->uart), 1);
}

static void trigger_levels_select_data_or_timeout(void **state)
{
    Fixture *f = *state;
    static const struct { uint8_t fcr; unsigned level; } t[] = {
        { UART_FCR_TRIGGER_1, 1 }, { UART_FCR_TRIGGER_4, 4 },
        { UART_FCR_TRIGGER_8, 8 }, { UART_FCR_TRIGGER_14, 14 },
    };
    wr(f, UART_IER, UART_IER_RDI);
    for (unsigned i = 0; i < 4; i++) {
        wr(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | t[i].fcr);
        for (unsigned n = 1; n <= t[i].level; n++) {
            rx(f, "z");
            uint8_t want = n < t[i].level ? UART_IIR_RX_TIMEOUT : UART_IIR_RDI;
            assert_int_equal(rd(f, UART_IIR), 0xc0 | want);
            assert_true(irq(f));
        }
        rd(f, UART_RX);                                 /* below the trigger again */
        if (t[i].level > 1)
            assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
        while (rd(f, UART_LSR) & UART_LSR_DR)
            rd(f, UART_RX);
        assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_NO_INT);
        assert_false(irq(f));
    }
}

/* ---- interrupts ---- */

static void received_data_interrupt(void **state)
{
    Fixture *f = *state;
    rx(f, "a");
    assert_false(irq(f));                               /* IER masks it */
    wr(f, UART_IER, UART_IER_RDI);
    assert_true(irq(f));
    assert_int_equal(rd(f, UART_IIR), UART_IIR_RDI);
    assert_true(irq(f));                                /* IIR read does not clear it */
    rd(f, UART_RX);
    assert_false(irq(f));
    assert_int_equal(rd(f, UART_IIR), UART_IIR_NO_INT);
}

static void thr_empty_interrupt(void **state)
{
    Fixture *f = *state;
    wr(f, UART_IER, UART_IER_THRI);                     /* THR empty: pending at once */
    assert_true(irq(f));
    assert_int_equal(rd(f, UART_IIR), UART_IIR_THRI);   /* reading IIR clears it */
    assert_false(irq(f));
    assert_int_equal(rd(f, UART_IIR), UART_IIR_NO_INT);
    wr(f, UART_IER, UART_IER_THRI);                     /* no 0 -> 1 edge: stays clear */
    assert_false(irq(f));
    wr(f, UART_TX, 'x');                                /* the write completes at once */
    assert_true(irq(f));
    wr(f, UART_IER, 0);                                 /* masked */
    assert_false(irq(f));
    wr(f, UART_IER, UART_IER_THRI);
    assert_true(irq(f));
    char c;
    assert_int_equal(read(f->out_rd, &c, 1), 1);
    assert_int_equal(c, 'x');
}

static void thr_empty_not_cleared_by_iir_when_not_reported(void **state)
{
    Fixture *f = *state;
    wr(f, UART_IER, UART_IER_THRI | UART_IER_RDI);
    rx(f, "a");
    assert_int_equal(rd(f, UART_IIR), UART_IIR_RDI);    /* data outranks THRE */
    rd(f, UART_RX);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_THRI);   /* still pending, now reported */
    assert_int_equal(rd(f, UART_IIR), UART_IIR_NO_INT);
}

static void line_status_interrupt(void **state)
{
    Fixture *f = *state;
    wr(f, UART_IER, UART_IER_RLSI | UART_IER_RDI);
    rx(f, "ab");                                        /* overrun in 16450 mode */
    assert_true(irq(f));
    assert_int_equal(rd(f, UART_IIR), UART_IIR_RLSI);   /* highest priority */
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_OE, UART_LSR_OE);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_RDI);
    rd(f, UART_RX);
    assert_false(irq(f));
}

static void modem_status_interrupt_and_loopback_lines(void **state)
{
    Fixture *f = *state;
    wr(f, UART_IER, UART_IER_MSI);
    assert_false(irq(f));
    /* Loopback with all outputs low: CTS, DSR, DCD drop. */
    wr(f, UART_MCR, UART_MCR_LOOP);
    assert_true(irq(f));
    assert_int_equal(rd(f, UART_IIR), UART_IIR_MSI);
    assert_int_equal(rd(f, UART_MSR), UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
    assert_false(irq(f));                               /* MSR read cleared the deltas */
    wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT1 |
                    UART_MCR_OUT2);
    assert_int_equal(rd(f, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_RI |
                                      UART_MSR_DCD | UART_MSR_DCTS | UART_MSR_DDSR |
                                      UART_MSR_DDCD);
    wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    assert_int_equal(rd(f, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD |
                                      UART_MSR_TERI);  /* RI fell: trailing edge */
    wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT1 |
                    UART_MCR_OUT2);
    assert_int_equal(rd(f, UART_MSR) & UART_MSR_ANY_DELTA, 0);  /* rising RI: no delta */
}

static void loopback_sends_thr_to_rbr(void **state)
{
    Fixture *f = *state;
    wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
    wr(f, UART_MCR, UART_MCR_LOOP);
    assert_int_equal(uart16550_can_receive(f->uart), 0);    /* serial input disconnected */
    rx(f, "ignored");
    for (int i = 0; i < 17; i++)
        wr(f, UART_TX, (uint8_t)('A' + i));
    char c;
    assert_int_equal(read(f->out_rd, &c, 1), -1);       /* nothing left the UART */
    assert_int_equal(rd(f, UART_LSR) & (UART_LSR_DR | UART_LSR_OE),
                     UART_LSR_DR | UART_LSR_OE);        /* 17th byte overran */
    for (int i = 0; i < 16; i++)
        assert_int_equal(rd(f, UART_RX), 'A' + i);
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);
    wr(f, UART_MCR, 0);
    assert_int_equal(uart16550_can_receive(f->uart), 16);
}

static void loopback_break_is_a_flagged_zero(void **state)
{
    Fixture *f = *state;
    const uint8_t idle = UART_LSR_THRE | UART_LSR_TEMT;
    wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
    wr(f, UART_MCR, UART_MCR_LOOP);
    wr(f, UART_IER, UART_IER_RLSI | UART_IER_RDI);
    wr(f, UART_TX, 'a');
    wr(f, UART_LCR, UART_LCR_WLEN8 | UART_LCR_SBC);     /* break behind 'a' */
    wr(f, UART_LCR, UART_LCR_WLEN8 | UART_LCR_SBC);     /* held, not a new break */
    assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RDI);
    assert_int_equal(rd(f, UART_LSR), idle | UART_LSR_DR | UART_LSR_FIFOE);
    assert_int_equal(rd(f, UART_RX), 'a');              /* the break reaches the top */
    assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RLSI);
    assert_int_equal(rd(f, UART_LSR), idle | UART_LSR_DR | UART_LSR_BI | UART_LSR_FIFOE);
    assert_int_equal(rd(f, UART_LSR), idle | UART_LSR_DR);
    assert_int_equal(rd(f, UART_RX), 0);
    assert_int_equal(rd(f, UART_LSR), idle);
    assert_false(irq(f));
    wr(f, UART_FCR, 0);                                 /* 16450 mode: BI, no FIFO error */
    wr(f, UART_LCR, UART_LCR_WLEN8);
    wr(f, UART_LCR, UART_LCR_WLEN8 | UART_LCR_SBC);
    assert_int_equal(rd(f, UART_LSR), idle | UART_LSR_DR | UART_LSR_BI);
    assert_int_equal(rd(f, UART_RX), 0);
    wr(f, UART_MCR, 0);                                 /* outside loopback: no break */
    wr(f, UART_LCR, UART_LCR_WLEN8);
    wr(f, UART_LCR, UART_LCR_WLEN8 | UART_LCR_SBC);
    assert_int_equal(rd(f, UART_LSR), idle);
}

static void interrupt_priority_order(void **state)
{
    Fixture *f = *state;
    wr(f, UART_MCR, UART_MCR_LOOP);                     /* modem deltas pending */
    wr(f, UART_TX, 'a');                                /* loopback data + ... */
    wr(f, UART_TX, 'b');                                /* ... an overrun */
    wr(f, UART_IER, 0x0f);                              /* and THRE */
    assert_int_equal(rd(f, UART_IIR), UART_IIR_RLSI);
    rd(f, UART_LSR);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_RDI);
    rd(f, UART_RX);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_THRI);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_MSI);
    rd(f, UART_MSR);
    assert_int_equal(rd(f, UART_IIR), UART_IIR_NO_INT);
    assert_false(irq(f));
}

static void irq_router_sees_only_changes(void **state)
{
    Fixture *f = *state;
    unsigned before = f->irqs.changes;
    wr(f, UART_SCR, 1);
    wr(f, UART_SCR, 2);
    assert_int_equal(f->irqs.changes, before);
    wr(f, UART_IER, UART_IER_THRI);
    wr(f, UART_SCR, 3);
    assert_int_equal(f->irqs.changes, before + 1);
}

/* ---- chardev input ---- */

static void chardev_input_is_pulled_up_to_fifo_room(void **state)
{
    Fixture *f = *state;
    wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
    assert_int_equal(write(f->in_wr, "0123456789abcdefXYZ", 19), 19);
    int fd = chardev_poll_fd(f->chr);
    assert_true(fd >= 0);
    assert_int_equal(chardev_handle_readable(f->chr, NULL), 16);
    assert_int_equal(chardev_poll_fd(f->chr), -1);      /* FIFO full: do not poll */
    assert_int_equal(rd(f, UART_LSR) & UART_LSR_OE, 0); /* nothing was lost */
    for (int i = 0; i < 16; i++)
        rd(f, UART_RX);
    assert_int_equal(chardev_poll_fd(f->chr), fd);
    assert_int_equal(chardev_handle_readable(f->chr, NULL), 3);
    assert_int_equal(rd(f, UART_RX), 'X');
}

/* ---- hostile accesses ---- */

static void odd_offsets_and_sizes_do_not_crash(void **state)
{
    Fixture *f = *state;
    uint64_t seed = test_seed("uart odd accesses");
    for (int i = 0; i < 10000; i++) {
        hwaddr addr = test_rand(&seed);
        unsigned size = 1u << test_rand_below(&seed, 4);
        if (test_rand(&seed) & 1)
            f->mr->ops->write(f->mr->opaque, addr, test_rand(&seed), size);
        else
            (void)f->mr->ops->read(f->mr->opaque, addr, size);
    }
    /* Offsets wrap within the 8 ports. */
    wr(f, UART_MCR, 0);
    wr(f, UART_LCR, 0);
    f->mr->ops->write(f->mr->opaque, 0x1007, 0x5a, 4);
    assert_int_equal(rd(f, UART_SCR), 0x5a);
}

/* ---- through an I/O address space, as the ioreq loop reaches it ---- */

static void accesses_through_the_io_address_space(void **state)
{
    Fixture *f = *state;
    MemoryRegion io;
    AddressSpace as;
    memory_region_init(&io, NULL, "io", 0x10000);
    assert_int_equal(memory_region_add_subregion(&io, UART16550_DEFAULT_PORT, f->mr, NULL), 0);
    assert_int_equal(address_space_init(&as, &io, "io", NULL), 0);
    MemTxResult r;
    address_space_stb(&as, 0x3ff, 0x5a, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(r, MEMTX_OK);
    assert_int_equal(address_space_ldub(&as, 0x3ff, MEMTXATTRS_UNSPECIFIED, &r), 0x5a);
    assert_int_equal(r, MEMTX_OK);
    address_space_stb(&as, 0x3f9, UART_IER_THRI, MEMTXATTRS_UNSPECIFIED, &r);
    assert_true(irq(f));
    assert_int_equal(address_space_ldub(&as, 0x3fa, MEMTXATTRS_UNSPECIFIED, &r), UART_IIR_THRI);
    assert_false(irq(f));
    address_space_stw_le(&as, 0x3fe, 0xffff, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_not_equal(r, MEMTX_OK);                  /* byte registers only */
    assert_int_equal(rd(f, UART_SCR), 0x5a);
    address_space_destroy(&as);
    memory_region_del_subregion(&io, f->mr, NULL);
    memory_region_finalize(&io);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(reset_values),
        T(scratch_and_lcr_mcr_ier_read_back),
        T(dlab_selects_divisor_latch),
        T(thr_writes_go_to_the_chardev),
        T(holding_register_mode_receives_one_byte),
        T(fifo_fills_to_16_then_overruns),
        T(fcr_clears_and_switches_fifos),
        T(trigger_levels_select_data_or_timeout),
        T(received_data_interrupt),
        T(thr_empty_interrupt),
        T(thr_empty_not_cleared_by_iir_when_not_reported),
        T(line_status_interrupt),
        T(modem_status_interrupt_and_loopback_lines),
        T(loopback_sends_thr_to_rbr),
        T(loopback_break_is_a_flagged_zero),
        T(interrupt_priority_order),
        T(irq_router_sees_only_changes),
        T(chardev_input_is_pulled_up_to_fifo_room),
        T(odd_offsets_and_sizes_do_not_crash),
        T(accesses_through_the_io_address_space),
    };
    return cmocka_run_group_tests_name("uart16550", tests, NULL, NULL);
}
