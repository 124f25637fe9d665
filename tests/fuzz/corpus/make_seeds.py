#!/usr/bin/env python3
"""Write the hand-made seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/.

Each seed is a small valid program in its target's input format: it gets libFuzzer
(make fuzz) past what random bytes rarely form, such as a device brought up with a
write, a read and a flush in its queue. Run it again after changing an input format
(the formats are described at the top of each tests/fuzz/fuzz_*.c) and commit the
result.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- fuzz_virtio_blk: a driver program (tests/fuzz/fuzz_virtio_blk.c) --------------

# Opcodes: the order of the actions[] table.
(BRING_UP, CHAIN, KICK, SERVE, WORK, RAM_BYTES, DESC, AVAIL, RING_FIELD, FEATURES,
 STATUS, QUEUE, CONFIG_READ, CONFIG_WRITE, REG_READ, REG_WRITE, ACK, SELECT) = range(18)
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = range(6)   # kind & 7
K_INDIRECT, K_SPLIT_HEADER, K_STATUS_IN_DATA = 8, 0x10, 0x20
HEAP_AT = 0x10000


class Program:
    """A fuzz_virtio_blk input: disk d (brought up first with all features offered),
    then actions. Tracks the harness's heap allocator so data can be filled in."""

    def __init__(self, disk, bring_up=True):
        self.b = bytearray([0x80 | disk]) + b"\xff" * 8 + b"\0" if bring_up else bytearray([disk])
        self.heap = HEAP_AT

    def op(self, opcode, *operands):
        self.b += bytes([opcode]) + b"".join(operands)
        return self

    def alloc(self, length, align):
        self.heap = (self.heap + align - 1) & ~(align - 1)
        at = self.heap
        self.heap += length
        return at

    def ram(self, addr, data):
        for i in range(0, len(data), 255):
            piece = data[i:i + 255]
            self.op(RAM_BYTES, struct.pack("<IB", addr + i, len(piece)), piece)

    def request(self, kind, sector, sectors=0, fill=None):
        """A chain with one data buffer of `sectors` sectors (none for 0), sector < 64,
        data at a 512-aligned heap address (filled with `fill` when given)."""
        self.alloc(16, 16)                                  # the header
        ops = bytes([kind, sector])
        bufs = 2 if kind & K_SPLIT_HEADER else 1
        if sectors:
            data = self.alloc(512 * sectors, 512)
            ops += bytes([1, sectors - 1, 0x00])            # one buffer, aligned heap
            bufs += 1
            if fill is not None:
                self.ram(data, bytes((fill + i) & 0xff for i in range(255)))
        else:
            ops += bytes([0])
        if not (kind & K_STATUS_IN_DATA and sectors and kind & 7 == T_IN):
            self.alloc(1, 1)                                # the status byte
            bufs += 1
        if kind & K_INDIRECT:
            ops += b"\x00"                                  # the table on the heap
            self.alloc(16 * bufs, 16)
        return self.op(CHAIN, ops)

    def segment_request(self, kind, sector, num, flags):
        """Discard or write-zeroes of `num` sectors from `sector` (< 64)."""
        self.alloc(16, 16)
        self.alloc(16, 16)
        self.alloc(1, 1)
        return self.op(CHAIN, bytes([kind, 0, 1, sector, 0, num, flags]))

    def get_id(self, length):
        self.alloc(16, 16)
        self.alloc(length, 512)
        self.alloc(1, 1)
        return self.op(CHAIN, bytes([T_GET_ID, 0, 1, 0x80]), struct.pack("<H", length),
                       b"\x00")

    def kick_and_serve(self, queue=0):
        return self.op(KICK, bytes([queue])).op(SERVE, b"\x01").op(SERVE, b"\x01")


def virtio_blk_seeds():
    seeds = {}
    p = Program(disk=0)                         # io_uring, 2 queues of 1024
    p.request(T_OUT, 5, sectors=8, fill=1).kick_and_serve()
    p.request(T_IN, 5, sectors=8).kick_and_serve()
    p.request(T_FLUSH, 0).kick_and_serve()
    seeds["write_read_flush_uring"] = p

    p = Program(disk=1)                         # threads, queue of 8, write-through
    for kind in (T_OUT | K_INDIRECT, T_IN | K_INDIRECT, T_FLUSH | K_INDIRECT):
        p.request(kind, 9, sectors=2 if kind & 7 != T_FLUSH else 0, fill=7)
    p.kick_and_serve().op(WORK).kick_and_serve()
    seeds["indirect_batch_threads"] = p

    p = Program(disk=2)                         # O_DIRECT
    p.request(T_OUT | K_SPLIT_HEADER, 3, sectors=1, fill=3).kick_and_serve()
    p.request(T_IN | K_STATUS_IN_DATA, 3, sectors=1).kick_and_serve()
    p.request(T_FLUSH, 0).kick_and_serve()
    seeds["split_header_direct"] = p

    p = Program(disk=3)                         # read-only
    p.request(T_IN, 0, sectors=4).get_id(20).request(T_OUT, 0, sectors=1, fill=9)
    p.kick_and_serve()
    seeds["read_only_get_id"] = p

    p = Program(disk=0)
    p.segment_request(T_WRITE_ZEROES, 8, 16, 0).segment_request(T_WRITE_ZEROES, 40, 8, 1)
    p.segment_request(T_DISCARD, 56, 8, 0).kick_and_serve()
    p.op(CONFIG_WRITE, bytes([0x00, 0x00, 0x00]))   # writeback byte := 0 (write-through)
    p.request(T_OUT, 1, sectors=1, fill=5).op(KICK, b"\x00")
    p.op(STATUS, b"\x00")                       # reset with the write in flight
    seeds["zeroes_discard_reset"] = p

    p = Program(disk=1)                         # tmpfs: no ZERO_RANGE, zeroes are written
    p.request(T_OUT, 20, sectors=8, fill=13)
    p.segment_request(T_WRITE_ZEROES, 20, 4, 0).segment_request(T_WRITE_ZEROES, 24, 4, 1)
    p.kick_and_serve().request(T_IN, 20, sectors=8).kick_and_serve()
    seeds["zeroes_written_tmpfs"] = p

    p = Program(disk=0, bring_up=False)         # brought up by hand: EVENT_IDX, INDIRECT
    p.op(STATUS, b"\x00").op(STATUS, b"\x03")
    p.op(FEATURES, b"\x01", struct.pack("<I", 1))                      # VERSION_1
    p.op(FEATURES, b"\x00", struct.pack("<I", 1 << 29 | 1 << 28 | 1 << 9))
    p.op(STATUS, b"\x0b")
    p.op(QUEUE, bytes([0, 4, 0, 0])).op(QUEUE, bytes([1, 5, 0, 0]))   # 64 and 32 entries
    p.op(STATUS, b"\x0f")
    p.op(SELECT, b"\x01").request(T_OUT | K_INDIRECT, 2, sectors=1, fill=11)
    p.kick_and_serve(queue=1)
    p.op(CONFIG_READ, bytes([0x40, 2])).op(REG_READ, struct.pack("<HB", 0x70, 2))
    p.op(ACK, b"\x00")
    seeds["manual_bring_up_two_queues"] = p
    p = Program(disk=1)                         # queue of 8, depth 8: 8 more wait for depth
    for i in range(16):                         # indirect: one ring descriptor each
        p.request((T_OUT if i % 2 else T_IN) | K_INDIRECT, 16 + i, sectors=1)
        if i == 7:
            p.op(KICK, b"\x00")
    p.kick_and_serve().op(WORK).kick_and_serve().op(WORK).op(SERVE, b"\x01")
    seeds["depth_starved_threads"] = p

    p = Program(disk=0)                         # more completions than one wake-up takes
    for i in range(300):
        p.request(T_IN, i % 64, sectors=1)
        if i % 64 == 63:
            p.op(KICK, b"\x00").op(WORK)
    p.op(KICK, b"\x00").op(SERVE, b"\x01").op(WORK).op(SERVE, b"\x01").op(WORK)
    seeds["many_in_flight_uring"] = p

    p = Program(disk=1)                         # disabled with requests in flight, size 0
    for i in range(4):
        p.request(T_OUT, i, sectors=1, fill=i)
    p.op(KICK, b"\x00")
    disable = bytes([0, 0x80, 0, 0, 0, 0x80]) + b"\0" * 4   # size 0, rings, ready 0
    p.op(QUEUE, disable).op(QUEUE, disable).op(SERVE, b"\x01").op(WORK)
    seeds["queue_disabled_in_flight"] = p
    return {name: bytes(prog.b) for name, prog in seeds.items()}


# ---- fuzz_virtio_rng: a driver program (tests/fuzz/fuzz_virtio_rng.c) ---------------
# The same driver and opcodes as fuzz_virtio_blk (one device: the first byte's bit 7
# alone matters). A chain: kind (bits 0-2 buffers - 1, 3 indirect, 4 one read-only,
# 5 short), then per buffer its length (short: one byte, + 1; else a take_len byte:
# 0..63 is (n + 1) * 512) and a take_addr byte (0: fresh heap), then for a read-only
# buffer its index, and for indirect the table's place (0: heap).
RNG_INDIRECT, RNG_READ_ONLY, RNG_SHORT = 8, 0x10, 0x20


def rng_chain(p, lengths, indirect=False, read_only=None):
    """lengths: short (1..256) buffer lengths if all are at most 256, else 512 multiples."""
    short = all(n <= 256 for n in lengths)
    kind = (len(lengths) - 1) | (RNG_INDIRECT if indirect else 0) | (RNG_SHORT if short else 0)
    kind |= RNG_READ_ONLY if read_only is not None else 0
    ops = bytes([kind])
    for n in lengths:
        ops += bytes([n - 1 if short else n // 512 - 1, 0x00])
    if read_only is not None:
        ops += bytes([read_only])
    if indirect:
        ops += b"\x00"
    return p.op(CHAIN, ops)


def virtio_rng_seeds():
    seeds = {}
    p = Program(disk=0)                         # brought up: one queue of 64
    rng_chain(p, [512]).kick_and_serve()
    seeds["one_buffer"] = p

    p = Program(disk=0)
    rng_chain(p, [16, 200, 1, 64], indirect=True, read_only=1).kick_and_serve()
    rng_chain(p, [8, 8], read_only=0).kick_and_serve()
    seeds["indirect_mixed_read_only"] = p

    p = Program(disk=0)                         # more than a chain's 4096 bytes offered
    rng_chain(p, [16384]).op(KICK, b"\x00")
    rng_chain(p, [4096, 4096, 512], indirect=True).kick_and_serve()
    seeds["large_buffers"] = p

    p = Program(disk=0)                         # 64 chains in one notify: the budget
    for _ in range(64):
        rng_chain(p, [32])
    p.op(KICK, b"\x00").op(WORK).op(SERVE, b"\x00")
    seeds["budget_full_queue"] = p

    p = Program(disk=0)                         # reset with chains posted, then again
    rng_chain(p, [64]).op(STATUS, b"\x00").op(BRING_UP, b"\xff" * 8, b"\x01")
    rng_chain(p, [64]).kick_and_serve().op(ACK, b"\x00")
    seeds["reset_and_again"] = p
    return {name: bytes(prog.b) for name, prog in seeds.items()}


# ---- fuzz_control: clients of the control protocol (tests/fuzz/fuzz_control.c) ------
# A flags byte (bit 0: the address spaces exist), then pieces: a length below 0x80 and
# that many bytes (one read; 0: the client shuts down its side), 0x80: the next client.

def control_input(clients, address_spaces=True):
    """clients: lists of reads (bytes; b"" shuts down)."""
    out = bytearray([1 if address_spaces else 0])
    for i, reads in enumerate(clients):
        if i:
            out += b"\x80"
        for r in reads:
            for at in range(0, max(len(r), 1), 127):
                piece = r[at:at + 127]
                out += bytes([len(piece)]) + piece
    return bytes(out)


def control_seeds():
    commands = [b"help", b"stats", b"mtree", b"flatview", b"stop"]
    return {
        "every_command": control_input([[c + b"\n"] for c in commands]),
        "no_address_spaces": control_input([[b"mtree\n"], [b"flatview\n"], [b"stats\n"]],
                                           address_spaces=False),
        "line_in_pieces": control_input([[b"st", b"a", b"ts", b"\n"]]),
        "shut_down_without_newline": control_input([[b"help", b""]]),
        "overlong_line": control_input([[b"x" * 300]]),
        "two_lines_in_one_read": control_input([[b"help\nstop\n"]]),
        "nul_in_line": control_input([[b"st\0op\n"], [b"\0\n"]]),
        "unknown_command": control_input([[b"reboot now please\n"], [b"\n"]]),
    }


# ---- fuzz_options: command lines (tests/fuzz/fuzz_options.c) -----------------------
# argv after "xendm", NUL-separated.

def argv(*args):
    return b"\0".join(a.encode() for a in args)


def options_seeds():
    devices = ["-D", "virtio-blk,file=disk.img,readonly=on,queue-size=64,serial=fuzz",
               "--device", "virtio-blk-pci,file=disk.img,aio=threads,num-queues=2,"
               "cache=writethrough,discard=ignore,readonly=on",
               "-D", "virtio-rng,addr=0xfeb01000,irq=7", "-D", "virtio-rng-pci,slot=6",
               "-D", "uart,port=0x2f8,irq=3,chardev=null", "-D", "pci-testdev,slot=7,fn=1"]
    chardevs = ["-D", "uart,chardev=file:out.txt", "-D", "uart,port=0x2f8,chardev=file:o:i",
                "-D", "uart,port=0x3e8,chardev=unix:/run/s.sock", "-D",
                "uart,port=0x2e8,chardev=stdout"]
    return {
        "domid_only": argv("--domid", "1"),
        "every_flag": argv("-d", "7", "-m", "512", "--no-defaults", "--no-buffered-ioreqs",
                           "--legacy-ioreq-pages", "--log-dirty", "--mapcache-bucket", "64",
                           "--mapcache-max", "16", "--no-restrict", "--stats", "-",
                           "--control", "/run/xendm.sock", "--log", "info"),
        "devices": argv("-d", "1", *devices),
        "chardevs": argv("--domid=2", *chardevs),
        "writable_disk": argv("-d", "3", "-D", "virtio-blk-pci,file=d.img,slot=9,cache=none"),
        "runas_chroot": argv("-d", "1", "--runas", "root:0", "--chroot", "/"),
        "help": argv("--help"),
        "version": argv("-V"),
        "list_devices": argv("--list-devices"),
        # Regression: an early exit inside a short-option cluster left glibc's getopt
        # pointing into this argv; the next parse went on from there.
        "cluster_exit_then_parse": argv("-hV"),
        "too_many_devices": argv("-d", "1", *(["-D", "virtio-rng-pci"] * 17)),
        "bad_values": argv("-d", "1", "--memory", "4000", "--mapcache-bucket", "3"),
    }


# ---- fuzz_ioreq: raw ioreq_t images (tests/fuzz/fuzz_ioreq.c) ----------------------

IOREQ_TYPE_COPY, IOREQ_TYPE_PCI_CONFIG = 1, 2


def ioreq(addr, data, size, type_=IOREQ_TYPE_COPY):
    """A single write (count 1, data by value, state 0, _pad0 0: nothing reshaped)."""
    return struct.pack("<QQIIIHBB", addr, data, 1, size, 0, 0, 0, type_)


class IoreqProgram:
    def __init__(self):
        self.b = bytearray()

    def write(self, addr, value, size):
        self.b += ioreq(addr, value, size)

    def ram(self, addr, data):
        data = data + b"\0" * (-len(data) % 8)
        for i in range(0, len(data), 8):
            self.write(addr + i, struct.unpack_from("<Q", data, i)[0], 8)

    def chain(self, desc, avail, first, index, bufs):
        """Descriptors first.. for bufs (addr, len, device_writes) and avail entry index."""
        for i, (addr, length, writes) in enumerate(bufs):
            more = i + 1 < len(bufs)
            flags = (1 if more else 0) | (2 if writes else 0)
            self.ram(desc + 16 * (first + i),
                     struct.pack("<QIHH", addr, length, flags, first + i + 1 if more else 0))
        self.write(avail + 4 + 2 * index, first, 2)
        self.write(avail + 2, index + 1, 2)


def blk_requests(p, desc, avail, notify, hdrs, data, status):
    """Write 512 bytes to sector 2, read them back, flush; each notified."""
    p.ram(data, bytes(range(256)) * 2)
    for i, (type_, writes) in enumerate(((1, False), (0, True), (4, None))):
        p.ram(hdrs + 16 * i, struct.pack("<IIQ", type_, 0, 2 if type_ != 4 else 0))
        bufs = [(hdrs + 16 * i, 16, False)]
        if writes is not None:
            bufs.append((data + 0x1000 * (type_ == 0), 512, writes))
        bufs.append((status + i, 1, True))
        p.chain(desc, avail, 3 * i, i, bufs)
        notify()


def ioreq_mmio_seed():
    base, desc, avail, used = 0xe0190000, 0x10000, 0x11000, 0x12000
    p = IoreqProgram()
    for reg, val in ((0x70, 0), (0x70, 3), (0x24, 1), (0x20, 1), (0x24, 0), (0x20, 0x200),
                     (0x70, 0xb), (0x30, 0), (0x38, 16), (0x80, desc), (0x84, 0),
                     (0x90, avail), (0x94, 0), (0xa0, used), (0xa4, 0), (0x44, 1),
                     (0x70, 0xf)):
        p.write(base + reg, val, 4)
    blk_requests(p, desc, avail, lambda: p.write(base + 0x50, 0, 4),
                 0x20000, 0x21000, 0x23000)
    return bytes(p.b)


def ioreq_pci_seed():
    bar, sbdf = 0xe1000000, 5 << 3                  # virtio-blk-pci in slot 5
    desc, avail, used = 0x30000, 0x31000, 0x32000
    p = IoreqProgram()
    p.b += ioreq(sbdf << 32 | 0x10, bar, 4, IOREQ_TYPE_PCI_CONFIG)       # BAR 0
    p.b += ioreq(sbdf << 32 | 0x04, 0x6, 2, IOREQ_TYPE_PCI_CONFIG)       # memory, master
    # Common configuration: status, features (VERSION_1), queue 0, DRIVER_OK.
    for off, val, size in ((0x14, 0, 1), (0x14, 3, 1), (0x08, 1, 4), (0x0c, 1, 4),
                           (0x08, 0, 4), (0x0c, 0x200, 4), (0x14, 0xb, 1), (0x16, 0, 2),
                           (0x18, 16, 2), (0x20, desc, 4), (0x24, 0, 4), (0x28, avail, 4),
                           (0x2c, 0, 4), (0x30, used, 4), (0x34, 0, 4), (0x1c, 1, 2),
                           (0x14, 0xf, 1)):
        p.write(bar + off, val, size)
    blk_requests(p, desc, avail, lambda: p.write(bar + 0x2000, 0, 2),
                 0x40000, 0x41000, 0x43000)
    return bytes(p.b)


def ioreq_grant_rng_seed():
    """virtio-rng with grant_usage=1 (0xe01a0000): rings and buffers at grant addresses.
    In fuzz_ioreq.c ref r grants RAM page r, read-write when r % 3 == 0, read-only when
    r % 3 == 1: the first buffer (ref 0x39) is filled, the second (ref 0x3a, read-only)
    is refused and the device asks for a reset."""
    base, grant = 0xe01a0000, 1 << 63
    desc, avail, used = 0x30, 0x33, 0x36                # refs = RAM pages
    p = IoreqProgram()
    for reg, val in ((0x70, 0), (0x70, 3), (0x24, 1), (0x20, 3), (0x24, 0), (0x20, 0),
                     (0x70, 0xb), (0x30, 0), (0x38, 8), (0x80, desc << 12),
                     (0x84, grant >> 32), (0x90, avail << 12), (0x94, grant >> 32),
                     (0xa0, used << 12), (0xa4, grant >> 32), (0x44, 1), (0x70, 0xf)):
        p.write(base + reg, val, 4)
    for i, ref in enumerate((0x39, 0x3a)):
        p.chain(desc << 12, avail << 12, i, i, [(grant | ref << 12 | 0x10, 64, True)])
        p.write(base + 0x50, 0, 4)
    return bytes(p.b)


# ---- fuzz_buffered_ring: a buffered ioreq page (tests/fuzz/fuzz_buffered_ring.c) -----

def buffered_page(slots):
    """The page's two pointers and slots (type, dir, size code, addr, data)."""
    out = struct.pack("<II", 0, len(slots))
    for type_, dir_, size, addr, data in slots:
        out += struct.pack("<II", type_ | dir_ << 9 | size << 10 | addr << 12, data)
    return out


def buffered_seeds():
    uart = [(0, 0, 0, 0x3f8, c) for c in b"hello\n"]           # PIO writes to the UART
    vga = [(1, 0, 2, 0xa0000, 0x11223344), (1, 0, 1, 0xa0010, 0xbeef),
           (1, 0, 3, 0xa0020, 0x55667788), (1, 0, 3, 0xa0020, 0x99aabbcc)]  # 8 bytes
    return {"uart_hello": buffered_page(uart), "vga_writes": buffered_page(vga)}


def main():
    corpora = {
        "fuzz_virtio_blk": virtio_blk_seeds(),
        "fuzz_ioreq": {"virtio_blk_mmio": ioreq_mmio_seed(), "virtio_blk_pci": ioreq_pci_seed(),
                       "virtio_rng_grants": ioreq_grant_rng_seed()},
        "fuzz_buffered_ring": buffered_seeds(),
        "fuzz_virtio_rng": virtio_rng_seeds(),
        "fuzz_control": control_seeds(),
        "fuzz_options": options_seeds(),
    }
    for target, seeds in corpora.items():
        os.makedirs(os.path.join(HERE, target), exist_ok=True)
        for name, data in seeds.items():
            if len(data) > 4096:
                sys.exit(f"{target}/{name}: {len(data)} bytes, more than make fuzz's -max_len")
            with open(os.path.join(HERE, target, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
