/*
 * Guest workload of the nova_migtuner test bed.
 *
 * Runs as a child of the initramfs init.  Parameters come from the kernel
 * command line (/proc/cmdline), because that is the only channel the host
 * controls for a direct kernel boot without disks or network:
 *
 *   mt_kind=idle|constant|bursty  workload shape
 *   mt_dirty_mib=N                buffer size in MiB (touched once at start)
 *   mt_rate=R                     dirty rate in MiB/s (one byte per 4 KiB page)
 *   mt_on=X mt_off=Y              bursty: X s at rate R, then Y s idle
 *   mt_hb_ms=M                    heartbeat period in ms (0 disables)
 *   mt_hb_dev=ttyS1|ttyS0         serial port of the heartbeat (ttyS0 is the
 *                                 console: the only port a nova guest has)
 *   mt_report_s=S                 rate report period in s
 *   mt_progress_ms=P              progress line period in ms (0 disables)
 *   mt_req_rate=Q                 "requests" per second: each a fixed small
 *                                 CPU-bound unit (a hash over 4 KiB)
 *
 * Output:
 *   console (stdout, ttyS0): "mtw ready ..." once the buffer is touched, then
 *       "mtw rate_mib_s=... target_mib_s=... phase=... uptime_s=..." every
 *       mt_report_s seconds (liveness and achieved rate): rate and target
 *       are averages over the report window, phase is the current phase;
 *   /dev/<mt_hb_dev>: "h<seq>\n" every mt_hb_ms ms, written by a separate process so
 *       that the host can timestamp it and measure downtime independently of
 *       libvirt;
 *   /dev/<mt_hb_dev>: "p<pages> r<requests> u<uptime_ms> g<gap_us>\n" every
 *       mt_progress_ms ms, from the workload itself: pages dirtied and
 *       requests completed since start (cumulative, so a lost line loses no
 *       work), the guest's uptime, and the longest gap between two completed
 *       requests since the previous line (guest clock).  The host
 *       timestamps these lines too: the application's progress as an
 *       outside observer sees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE 4096UL
#define PAGES_PER_MIB (1024UL * 1024UL / PAGE_SIZE)
/* Granularity of the dirtying loop: small enough for a smooth rate, large
 * enough that the guest mostly sleeps. */
#define SLICE_NS 5000000L
/* When the dirtier falls behind by more than this, forget the backlog rather
 * than catching up in one burst (the report then shows the shortfall). */
#define MAX_BACKLOG_S 0.5
/* One request: FNV-1a over this many bytes of a private buffer.  Small, so
 * that a paced request loop adds little load (the requests measure how
 * promptly the guest runs, not how fast). */
#define REQUEST_BYTES 4096

struct params {
    char kind[64];
    unsigned long dirty_mib;
    double rate;
    double on_s;
    double off_s;
    unsigned long hb_ms;
    char hb_dev[16];
    double report_s;
    unsigned long progress_ms;
    double req_rate;
};

static unsigned char request_buf[REQUEST_BYTES];
static volatile uint32_t request_sink;

static void serve_request(void)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < REQUEST_BYTES; i++)
        h = (h ^ request_buf[i]) * 16777619u;
    request_buf[h % REQUEST_BYTES] ^= 1;
    request_sink = h;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
    /* Unbuffered writes: every line must reach the serial port at once. */
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)!write(STDOUT_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static const char *cmdline_value(const char *cmdline, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    const char *p = cmdline;

    while ((p = strstr(p, key)) != NULL) {
        if ((p == cmdline || p[-1] == ' ') && p[klen] == '=') {
            size_t i = 0;
            p += klen + 1;
            while (p[i] && p[i] != ' ' && p[i] != '\n' && i + 1 < outlen) {
                out[i] = p[i];
                i++;
            }
            out[i] = '\0';
            return out;
        }
        p += klen;
    }
    return NULL;
}

static void read_params(struct params *prm)
{
    char cmdline[4096] = "";
    char val[64];
    int fd = open("/proc/cmdline", O_RDONLY);

    if (fd >= 0) {
        ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);
        if (n > 0)
            cmdline[n] = '\0';
        close(fd);
    }
    strcpy(prm->kind, "idle");
    prm->dirty_mib = 0;
    prm->rate = 0;
    prm->on_s = 5;
    prm->off_s = 5;
    prm->hb_ms = 2;
    strcpy(prm->hb_dev, "ttyS1");
    prm->report_s = 2;
    prm->progress_ms = 100;
    prm->req_rate = 0;
    if (cmdline_value(cmdline, "mt_kind", val, sizeof(val)))
        snprintf(prm->kind, sizeof(prm->kind), "%s", val);
    if (cmdline_value(cmdline, "mt_dirty_mib", val, sizeof(val)))
        prm->dirty_mib = strtoul(val, NULL, 10);
    if (cmdline_value(cmdline, "mt_rate", val, sizeof(val)))
        prm->rate = strtod(val, NULL);
    if (cmdline_value(cmdline, "mt_on", val, sizeof(val)))
        prm->on_s = strtod(val, NULL);
    if (cmdline_value(cmdline, "mt_off", val, sizeof(val)))
        prm->off_s = strtod(val, NULL);
    if (cmdline_value(cmdline, "mt_hb_ms", val, sizeof(val)))
        prm->hb_ms = strtoul(val, NULL, 10);
    if (cmdline_value(cmdline, "mt_hb_dev", val, sizeof(val)) &&
            (strcmp(val, "ttyS0") == 0 || strcmp(val, "ttyS1") == 0))
        snprintf(prm->hb_dev, sizeof(prm->hb_dev), "%s", val);
    if (cmdline_value(cmdline, "mt_report_s", val, sizeof(val)))
        prm->report_s = strtod(val, NULL);
    if (cmdline_value(cmdline, "mt_progress_ms", val, sizeof(val)))
        prm->progress_ms = strtoul(val, NULL, 10);
    if (cmdline_value(cmdline, "mt_req_rate", val, sizeof(val)))
        prm->req_rate = strtod(val, NULL);
    if (prm->req_rate < 0)
        prm->req_rate = 0;
    if (strcmp(prm->kind, "idle") == 0)
        prm->rate = 0;
    if (prm->report_s <= 0)
        prm->report_s = 2;
}

static void sleep_ns(long ns)
{
    struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void heartbeat_loop(unsigned long hb_ms, const char *dev)
{
    struct termios tio;
    struct timespec next;
    unsigned long seq = 0;
    char line[32];
    char path[32];
    int fd;

    snprintf(path, sizeof(path), "/dev/%s", dev);
    fd = open(path, O_WRONLY | O_NOCTTY);
    if (fd < 0) {
        say("mtw heartbeat: cannot open %s: %s\n", path, strerror(errno));
        _exit(1);
    }
    /* Raw output: no newline translation, no flow control. */
    if (tcgetattr(fd, &tio) == 0) {
        cfmakeraw(&tio);
        cfsetospeed(&tio, B115200);
        tcsetattr(fd, TCSANOW, &tio);
    }
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        int n = snprintf(line, sizeof(line), "h%lu\n", seq++);
        (void)!write(fd, line, (size_t)n);
        /* Absolute deadlines keep the period stable; after a long stop
         * (migration downtime) skip the missed ticks instead of bursting. */
        next.tv_nsec += (long)hb_ms * 1000000L;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        {
            struct timespec cur;
            clock_gettime(CLOCK_MONOTONIC, &cur);
            if (cur.tv_sec > next.tv_sec + 1)
                next = cur;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
    }
}

int main(void)
{
    struct params prm;
    volatile unsigned char *buf = NULL;
    unsigned long npages;
    unsigned long page = 0;
    unsigned char stamp = 1;
    double start, report_at, phase_start;
    double done = 0, window_pages = 0, window_start;
    /* Integral of the target rate over the report window, so that each
     * report compares the achieved rate with the rate asked for in the same
     * window (a bursty window can span on and off phases). */
    double target_integral = 0, last_t;
    int burst_on = 1;
    /* Progress: cumulative pages and requests, written by this process to
     * the heartbeat's port (a tty write of one short line is atomic, so it
     * never splits a heartbeat line). */
    int progress_fd = -1;
    unsigned long long pages_total = 0, requests_total = 0;
    double progress_at = 0, req_start, req_done = 0, last_request = 0;
    double max_gap = 0;

    read_params(&prm);
    npages = prm.dirty_mib * PAGES_PER_MIB;

    if (prm.hb_ms > 0) {
        pid_t pid = fork();
        if (pid == 0)
            heartbeat_loop(prm.hb_ms, prm.hb_dev);
        if (pid < 0)
            say("mtw heartbeat: fork failed: %s\n", strerror(errno));
    }

    if (npages) {
        buf = mmap(NULL, npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (buf == MAP_FAILED) {
            say("mtw error: cannot map %lu MiB: %s\n", prm.dirty_mib, strerror(errno));
            buf = NULL;
            npages = 0;
        } else {
            /* Non-zero content, so that migration has to send real pages
             * rather than zero pages. */
            for (unsigned long i = 0; i < npages; i++)
                buf[i * PAGE_SIZE] = (unsigned char)(i | 1);
        }
    }
    if (npages == 0)
        prm.rate = 0;

    if (prm.progress_ms > 0) {
        char path[32];
        snprintf(path, sizeof(path), "/dev/%s", prm.hb_dev);
        progress_fd = open(path, O_WRONLY | O_NOCTTY);
        if (progress_fd < 0)
            say("mtw progress: cannot open %s: %s\n", path, strerror(errno));
    }

    say("mtw ready kind=%s dirty_mib=%lu rate_mib_s=%.1f on_s=%.1f off_s=%.1f hb_ms=%lu "
        "progress_ms=%lu req_rate=%.1f\n",
        prm.kind, prm.dirty_mib, prm.rate, prm.on_s, prm.off_s, prm.hb_ms,
        prm.progress_ms, prm.req_rate);

    start = now_s();
    phase_start = start;
    window_start = start;
    report_at = start + prm.report_s;
    last_t = start;
    req_start = start;
    last_request = start;
    progress_at = start + prm.progress_ms / 1000.0;
    for (;;) {
        double t = now_s();
        double target = 0;

        if (strcmp(prm.kind, "bursty") == 0 && prm.rate > 0) {
            double len = burst_on ? prm.on_s : prm.off_s;
            if (t - phase_start >= len) {
                burst_on = !burst_on;
                phase_start = t;
                done = 0;
            }
            target = burst_on ? prm.rate : 0;
        } else {
            target = prm.rate;
        }

        if (target > 0) {
            double pps = target * PAGES_PER_MIB;
            double due = (t - phase_start) * pps;
            if (due - done > pps * MAX_BACKLOG_S)
                done = due - pps * MAX_BACKLOG_S;
            while (done < due) {
                buf[page * PAGE_SIZE] = stamp;
                if (++page == npages) {
                    page = 0;
                    stamp = (unsigned char)(stamp + 1) | 1;
                }
                done += 1;
                window_pages += 1;
                pages_total += 1;
            }
        } else {
            done = 0;
            phase_start = strcmp(prm.kind, "bursty") == 0 ? phase_start : t;
        }

        if (prm.req_rate > 0) {
            /* Paced like the dirtier: requests arrive at req_rate and queue
             * up to MAX_BACKLOG_S when the guest runs late. */
            double due = (t - req_start) * prm.req_rate;
            if (due - req_done > prm.req_rate * MAX_BACKLOG_S)
                req_done = due - prm.req_rate * MAX_BACKLOG_S;
            while (req_done + 1 <= due) {
                double finished;
                serve_request();
                req_done += 1;
                requests_total += 1;
                finished = now_s();
                if (finished - last_request > max_gap)
                    max_gap = finished - last_request;
                last_request = finished;
            }
        }

        if (progress_fd >= 0 && t >= progress_at) {
            char line[96];
            int n = snprintf(line, sizeof(line), "p%llu r%llu u%.0f g%.0f\n",
                             pages_total, requests_total, (t - start) * 1000.0,
                             max_gap * 1e6);
            (void)!write(progress_fd, line, (size_t)n);
            max_gap = 0;
            progress_at += prm.progress_ms / 1000.0;
            if (progress_at < t)
                progress_at = t + prm.progress_ms / 1000.0;
        }

        target_integral += target * (t - last_t);
        last_t = t;
        if (t >= report_at) {
            double rate = window_pages / PAGES_PER_MIB / (t - window_start);
            double window_target = target_integral / (t - window_start);
            const char *phase = target > 0 ? "on" : "off";
            say("mtw rate_mib_s=%.1f target_mib_s=%.1f phase=%s uptime_s=%.1f\n",
                rate, window_target, phase, t - start);
            window_pages = 0;
            target_integral = 0;
            window_start = t;
            report_at = t + prm.report_s;
        }
        sleep_ns(SLICE_NS);
    }
    return 0;
}
