/* Unit tests for devices/registry.c (option strings, the type table, creation by name)
 * and devices/irq.c (IRQ lines), using the UART as the device created by name. */
#include "tests/unit/support.h"

#include <errno.h>
#include <linux/serial_reg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "devices/uart16550.h"
#include "util/macros.h"

/* ---- option strings ---- */

static void opts_parse_type_and_keys(void **state)
{
    DeviceOpts o;
    assert_int_equal(device_opts_parse(&o, "uart,port=0x2f8,irq=3,chardev=file:/a:/b", NULL), 0);
    assert_string_equal(o.type, "uart");
    assert_int_equal(o.count, 3);
    assert_string_equal(device_opts_get(&o, "port"), "0x2f8");
    assert_string_equal(device_opts_get(&o, "chardev"), "file:/a:/b");
    assert_null(device_opts_get(&o, "speed"));
    uint64_t v;
    assert_int_equal(device_opts_get_u64(&o, "port", 0, 0xffff, &v, NULL), 0);
    assert_int_equal(v, 0x2f8);
    assert_int_equal(device_opts_get_u64(&o, "irq", 0, 15, &v, NULL), 0);
    assert_int_equal(v, 3);
    assert_int_equal(device_opts_get_u64(&o, "absent", 42, 15, &v, NULL), 0);
    assert_int_equal(v, 42);                                /* default, unchecked */
    assert_int_equal(device_opts_get_u64(&o, "port", 0, 0xff, &v, NULL), -ERANGE);
    Error *err = NULL;
    assert_int_equal(device_opts_get_u64(&o, "chardev", 0, 1, &v, &err), -EINVAL);
    assert_string_equal(error_get_pretty(err),
                        "device 'uart': chardev='file:/a:/b' is not a number");
    error_free(err);
    device_opts_free(&o);
    assert_int_equal(device_opts_parse(&o, "bare", NULL), 0);
    assert_string_equal(o.type, "bare");
    assert_int_equal(o.count, 0);
    device_opts_free(&o);
}

static void opts_numbers_refuse_junk(void **state)
{
    static const char *const bad[] = { "x=", "x=-1", "x=12z", "x=0x", "x=99999999999999999999" };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        char str[64];
        snprintf(str, sizeof(str), "t,%s", bad[i]);
        DeviceOpts o;
        assert_int_equal(device_opts_parse(&o, str, NULL), 0);
        uint64_t v = 7;
        assert_int_equal(device_opts_get_u64(&o, "x", 0, UINT64_MAX, &v, NULL), -EINVAL);
        assert_int_equal(v, 7);
        device_opts_free(&o);
    }
}

static void opts_parse_errors(void **state)
{
    static const struct { const char *str, *msg; } bad[] = {
        { "", "do not start with a device type" },
        { ",port=1", "do not start with a device type" },
        { "uart,port", "option 'port' is not key=value" },
        { "uart,,port=1", "have an empty option" },
        { "uart,", "have an empty option" },
        { "uart,=1", "option '=1' is not key=value" },
        { "uart,irq=1,irq=2", "option 'irq' given twice" },
        { "t,a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1,k=1,l=1,m=1,n=1,o=1,p=1,q=1",
          "more than 16 options" },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        DeviceOpts o;
        Error *err = NULL;
        assert_true(device_opts_parse(&o, bad[i].str, &err) < 0);
        if (!strstr(error_get_pretty(err), bad[i].msg))
            fail_msg("'%s': '%s' lacks '%s'", bad[i].str, error_get_pretty(err), bad[i].msg);
        error_free(err);
        assert_null(o.storage);
    }
}

/* ---- the type table ---- */

static void builtin_types_registered_themselves(void **state)
{
    assert_non_null(device_type_find("uart"));
    assert_non_null(device_type_find("pci-testdev"));
    assert_null(device_type_find("nope"));
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    device_types_print(out);
    fclose(out);
    char *testdev = strstr(text, "pci-testdev: "), *uart = strstr(text, "uart: 16550A");
    assert_non_null(testdev);
    assert_non_null(uart);
    assert_true(testdev < uart);                            /* sorted by name */
    free(text);
}

/* ---- creation by name, with a fake ISA router ---- */

typedef struct Board {
    MemoryRegion io_root;
    AddressSpace as_io;
    TestIrqs irqs;              /* ISA only: the board has no INTx router */
    DeviceBoard board;
} Board;

static int board_setup(void **state)
{
    Board *b = calloc(1, sizeof(*b));
    memory_region_init(&b->io_root, NULL, "io", 0x10000);
    assert_int_equal(address_space_init(&b->as_io, &b->io_root, "io", NULL), 0);
    test_irqs_init(&b->irqs);
    b->irqs.router.set_pci_intx = NULL;
    b->board = (DeviceBoard){ .system_io = &b->io_root, .irq = &b->irqs.router };
    *state = b;
    return 0;
}

static int board_teardown(void **state)
{
    Board *b = *state;
    address_space_destroy(&b->as_io);
    memory_region_finalize(&b->io_root);
    free(b);
    return 0;
}

static void uart_created_by_name_is_mapped_and_wired(void **state)
{
    Board *b = *state;
    Device *dev = device_create(&b->board, "uart,port=0x2f8,irq=3,chardev=null", NULL);
    assert_non_null(dev);
    assert_string_equal(dev->type->name, "uart");
    MemoryRegion *mr = uart16550_region((Uart16550 *)dev);
    assert_ptr_equal(address_space_lookup(&b->as_io, 0x2f8).mr, mr);
    assert_ptr_equal(address_space_lookup(&b->as_io, 0x2ff).mr, mr);
    assert_null(address_space_lookup(&b->as_io, 0x300).mr);
    mr->ops->write(mr->opaque, UART_IER, UART_IER_THRI, 1);
    assert_true(b->irqs.isa[3]);
    device_destroy(dev);
    assert_null(address_space_lookup(&b->as_io, 0x2f8).mr);
    assert_false(b->irqs.isa[3]);                           /* lowered on destroy */
}

static void uart_defaults_to_com1(void **state)
{
    Board *b = *state;
    Device *dev = device_create(&b->board, "uart,chardev=null", NULL);
    assert_non_null(dev);
    MemoryRegion *mr = uart16550_region((Uart16550 *)dev);
    assert_ptr_equal(address_space_lookup(&b->as_io, UART16550_DEFAULT_PORT).mr, mr);
    mr->ops->write(mr->opaque, UART_IER, UART_IER_THRI, 1);
    assert_true(b->irqs.isa[UART16550_DEFAULT_IRQ]);
    device_destroy(dev);
}

static void uart_input_reaches_the_guest_through_the_event_loop_hooks(void **state)
{
    Board *b = *state;
    char in[64], out[64], spec[200];
    snprintf(in, sizeof(in), "/tmp/xendm-registry-%d.in", (int)getpid());
    snprintf(out, sizeof(out), "/tmp/xendm-registry-%d.out", (int)getpid());
    FILE *fp = fopen(in, "w");
    fputs("ok", fp);
    fclose(fp);
    snprintf(spec, sizeof(spec), "uart,chardev=file:%s:%s", out, in);
    Device *dev = device_create(&b->board, spec, NULL);
    assert_non_null(dev);
    MemoryRegion *mr = uart16550_region((Uart16550 *)dev);
    assert_true(device_poll_fd(dev) >= 0);
    assert_int_equal(device_handle_readable(dev, NULL), 1);  /* 16450 mode: room for 1 */
    assert_int_equal(device_poll_fd(dev), -1);               /* full until the guest reads */
    assert_int_equal(mr->ops->read(mr->opaque, UART_RX, 1), 'o');
    assert_int_equal(device_handle_readable(dev, NULL), 1);
    assert_int_equal(mr->ops->read(mr->opaque, UART_RX, 1), 'k');
    device_destroy(dev);
    unlink(in);
    unlink(out);
}

static void devices_without_input_have_no_fd(void **state)
{
    static const DeviceType quiet_type = { .name = "quiet" };
    Device quiet = { .type = &quiet_type };
    assert_int_equal(device_poll_fd(&quiet), -1);
    assert_int_equal(device_handle_readable(&quiet, NULL), 0);
}

static void create_errors_name_the_problem(void **state)
{
    Board *b = *state;
    static const struct { const char *str, *msg; } bad[] = {
        { "floppy", "unknown device type 'floppy'" },
        { "uart,speed=9600", "device 'uart' has no option 'speed'" },
        { "uart,irq=16", "irq=16 is above the maximum 0xf" },
        { "uart,port=0xfff9", "port=0xfff9 is above the maximum" },
        { "uart,port=com1", "port='com1' is not a number" },
        { "uart,chardev=tty", "unknown backend 'tty'" },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        Error *err = NULL;
        assert_null(device_create(&b->board, bad[i].str, &err));
        if (!strstr(error_get_pretty(err), bad[i].msg))
            fail_msg("'%s': '%s' lacks '%s'", bad[i].str, error_get_pretty(err), bad[i].msg);
        error_free(err);
    }
    DeviceBoard no_irq = b->board;
    no_irq.irq = NULL;
    Error *err = NULL;
    assert_null(device_create(&no_irq, "uart,chardev=null", &err));
    assert_non_null(strstr(error_get_pretty(err), "no ISA interrupt router"));
    error_free(err);
    assert_null(address_space_lookup(&b->as_io, UART16550_DEFAULT_PORT).mr);
    device_destroy(NULL);
}

/* ---- IRQ lines ---- */

static void irq_lines_forward_changes_and_retry_failures(void **state)
{
    Board *b = *state;
    IrqLine line;
    assert_int_equal(irq_line_init_isa(&line, &b->irqs.router, 5, NULL), 0);
    irq_line_set_level(&line, true);
    assert_true(b->irqs.isa[5]);
    assert_true(irq_line_get_level(&line));
    b->irqs.fail_with = -EIO;                               /* backend fails: level kept */
    irq_line_set_level(&line, false);
    assert_true(irq_line_get_level(&line));
    b->irqs.fail_with = 0;
    irq_line_set_level(&line, false);                       /* retried */
    assert_false(b->irqs.isa[5]);
    Error *err = NULL;
    assert_int_equal(irq_line_init_isa(&line, &b->irqs.router, 16, &err), -EINVAL);
    assert_string_equal(error_get_pretty(err), "ISA irq 16 out of range (0..15)");
    error_free(err);
    err = NULL;
    assert_int_equal(irq_line_init_pci_intx(&line, &b->irqs.router, PCI_SBDF(0, 0, 0x18), 0, &err),
                     -EINVAL);
    assert_string_equal(error_get_pretty(err), "PCI 0000:00:03.0: the board has no INTx router");
    error_free(err);
    assert_int_equal(irq_line_init_pci_intx(&line, &b->irqs.router, 0, 4, NULL), -EINVAL);
    irq_line_init_none(&line);
    irq_line_set_level(&line, true);                        /* unconnected: remembered */
    assert_true(irq_line_get_level(&line));
}

/* Arm: SPI lines (GIC ids 32..1019) through the router's set_spi; on a board with a
 * GIC a virtio-mmio device's irq= is an SPI; without a port space there is no UART. */
static void spi_lines_and_boards_without_isa(void **state)
{
    TestIrqs t;
    IrqLine line;
    Error *err = NULL;
    test_irqs_init(&t);
    assert_int_equal(irq_line_init_spi(&line, &t.router, 33, NULL), 0);
    irq_line_set_level(&line, true);
    assert_true(t.spi == 33 && t.spi_level);
    irq_line_set_level(&line, false);
    assert_false(t.spi_level);
    assert_int_equal(irq_line_init_spi(&line, &t.router, 31, &err), -EINVAL);
    assert_string_equal(error_get_pretty(err), "irq 31 is not an SPI (GIC ids 32..1019)");
    error_free(err);
    err = NULL;
    assert_int_equal(irq_line_init_spi(&line, &t.router, 1020, &err), -EINVAL);
    error_free(err);
    err = NULL;
    t.router.set_spi = NULL;
    assert_int_equal(irq_line_init_spi(&line, &t.router, 40, &err), -EINVAL);
    assert_string_equal(error_get_pretty(err), "SPI 40: the board has no GIC interrupt router");
    error_free(err);

    TestBoard b;
    test_board_init(&b, 1 << 20);
    b.board.irq_spi = true;
    b.board.system_io = NULL;
    Device *dev = device_create(&b.board, "virtio-rng,addr=0x2000000,irq=33", NULL);
    assert_non_null(dev);
    test_board_write(&b, 0x2000070, 0, 4);
    device_destroy(dev);
    err = NULL;
    assert_null(device_create(&b.board, "virtio-rng,addr=0x2000000,irq=5", &err));
    assert_string_equal(error_get_pretty(err), "irq 5 is not an SPI (GIC ids 32..1019)");
    error_free(err);
    err = NULL;
    assert_null(device_create(&b.board, "uart,chardev=null", &err));
    assert_non_null(strstr(error_get_pretty(err), "no port I/O"));
    error_free(err);
    test_board_fini(&b);
}

int main(void)
{
#define B(fn) cmocka_unit_test_setup_teardown(fn, board_setup, board_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opts_parse_type_and_keys),
        cmocka_unit_test(spi_lines_and_boards_without_isa),
        cmocka_unit_test(opts_numbers_refuse_junk),
        cmocka_unit_test(opts_parse_errors),
        cmocka_unit_test(builtin_types_registered_themselves),
        B(uart_created_by_name_is_mapped_and_wired),
        B(uart_defaults_to_com1),
        B(uart_input_reaches_the_guest_through_the_event_loop_hooks),
        cmocka_unit_test(devices_without_input_have_no_fd),
        B(create_errors_name_the_problem),
        B(irq_lines_forward_changes_and_retry_failures),
    };
    return cmocka_run_group_tests_name("device_registry", tests, NULL, NULL);
}
