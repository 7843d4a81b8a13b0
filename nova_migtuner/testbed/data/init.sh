#!/bin/busybox sh
# PID 1 of the nova_migtuner test bed guest (busybox initramfs).
# devtmpfs is required: without it /dev/null, /dev/console and /dev/ttyS1
# do not exist.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "mtw-init: userspace up"
/bin/mtworkload
echo "mtw-init: workload exited rc=$?"
# PID 1 must never exit (the kernel would panic).
while true; do /bin/busybox sleep 3600; done
