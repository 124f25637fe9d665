#!/bin/bash
# block.fio_randread_4k_qd32_kiops: fio's io_uring engine on bench_block's workload
# (4 KiB random reads, 32 in flight, a page-cached 64 MiB file), the reference for
# block.randread_4k_qd32_io_uring_kiops. Best of 3 runs of 0.5 s.
set -u
command -v fio >/dev/null || { echo "fio is not installed (make deps)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/xendm-bench-fio-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
best=0
for run in 1 2 3; do
    iops=$(fio --name=randread --filename="$tmp/image" --size=64M --rw=randread --bs=4k \
               --ioengine=io_uring --iodepth=32 --runtime=0.5 --time_based --ramp_time=0 \
               --invalidate=0 --output-format=json 2>/dev/null |
           python3 -c 'import json, sys; print(int(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))') ||
        { echo "fio failed" >&2; exit 1; }
    [ "$iops" -gt "$best" ] && best=$iops
done
printf 'row\tblock.fio_randread_4k_qd32_kiops\t%d\tkIOPS\tfio --ioengine=io_uring, same workload\n' \
    $((best / 1000))
