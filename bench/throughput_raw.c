/* SPDX-License-Identifier: Apache-2.0 */
/*
 * throughput_raw - the raw rabbitmq-c 0.11 side of bench/throughput.sh.
 *
 *   throughput_raw publish --port P --count N [--durable 0|1] [--window W]
 *                          [--broker-pid PID] [--timeout S]
 *   throughput_raw pace    --port P --rate R --seconds S [--durable 0|1]
 *   throughput_raw consume --port P --seconds S --expect N --ready FILE
 *                          [--durable 0|1] [--dump FILE]
 *   throughput_raw delete  --port P
 *
 * publish: the ceiling the sidecar is held against. One connection, channel
 *   1, frame_max 131072, the sidecar's declarations (exchange "openstack"
 *   topic, queue and binding "profiler.info", durable per --durable, like
 *   amqp_durable_queues), confirm.select, then N basic.publish with
 *   properties 0xf800 (application/json, utf-8, empty headers, delivery_mode
 *   2, priority 0) and the same ~630-byte notification body the sidecar
 *   builds (throughput_common.h). Sliding window: at most W unconfirmed;
 *   acks (honouring "multiple") are read when the window is full, plus
 *   whatever is already buffered. Timed from the first publish until every
 *   message is confirmed; then the queue depth is read back (passive
 *   declare, polled) to show the messages are there.
 * pace: the latency baseline: R messages/s for S seconds on the same
 *   connection setup and window, each carrying t_send_ns (CLOCK_REALTIME
 *   just before basic.publish); between sends it reads acks until the next
 *   send is due. What a consumer measures then is broker + consumer alone.
 * consume: latency probe. Declares the same queue, basic.consume no_ack, and
 *   for each message carrying "t_send_ns" records CLOCK_REALTIME(arrival) -
 *   t_send_ns. Writes FILE once consuming; ends after --expect such
 *   messages or --seconds. Receipt by a consumer comes after the message is
 *   in the queue, so these figures are an upper bound of "confirmed in the
 *   queue" (for a non-durable queue RabbitMQ confirms on enqueue). --dump
 *   writes "t_send_ns latency_ns" per sample.
 * delete: queue.delete profiler.info and exchange.delete openstack, each on
 *   its own channel (a missing one is fine), so the next run may declare
 *   them with other flags.
 *
 * Each mode prints one JSON object on stdout. Loopback only; every wait is
 * bounded (--timeout, default 300 s).
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/resource.h>

#include "throughput_common.h"

#define EXCHANGE "openstack"
#define QUEUE    "profiler.info"

static int port = 0, durable = 0;
static long window = 1000, count = 100000, expect = 0, broker_pid = 0;
static double seconds = 10, timeout_s = 300, rate = 1000;
static const char *ready_file = NULL, *dump_file = NULL;

static void die(const char *what, const char *why) {
    fprintf(stderr, "throughput_raw: %s: %s\n", what, why);
    exit(1);
}

static void check(amqp_rpc_reply_t r, const char *what) {
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        die(what, amqp_error_string2(r.library_error));
    char buf[256] = "server exception";
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD ||
         r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        amqp_channel_close_t *c = r.reply.decoded; /* same layout for both */
        snprintf(buf, sizeof buf, "server error %u %.*s", c->reply_code,
                 (int)c->reply_text.len, (const char *)c->reply_text.bytes);
    }
    die(what, buf);
}

static amqp_connection_state_t connect_broker(void) {
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (!s)
        die("socket", "out of memory");
    struct timeval tv = {10, 0};
    int rc = amqp_socket_open_noblock(s, "127.0.0.1", port, &tv);
    if (rc != AMQP_STATUS_OK)
        die("connect", amqp_error_string2(rc));
    amqp_set_rpc_timeout(c, &tv);
    check(amqp_login(c, "/", 0, 131072, 60, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
          "login");
    amqp_channel_open(c, 1);
    check(amqp_get_rpc_reply(c), "channel.open");
    return c;
}

static void close_broker(amqp_connection_state_t c) {
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

/* The sidecar's sequence (publisher.c declare()): exchange, queue, bind,
 * exchange again; durable applies to exchange and queue alike. */
static void declare(amqp_connection_state_t c) {
    amqp_bytes_t ex = amqp_cstring_bytes(EXCHANGE), q = amqp_cstring_bytes(QUEUE);
    amqp_exchange_declare(c, 1, ex, amqp_cstring_bytes("topic"), 0, durable, 0, 0,
                          amqp_empty_table);
    check(amqp_get_rpc_reply(c), "exchange.declare");
    amqp_queue_declare(c, 1, q, 0, durable, 0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(c), "queue.declare");
    amqp_queue_bind(c, 1, q, ex, q, amqp_empty_table);
    check(amqp_get_rpc_reply(c), "queue.bind");
    amqp_exchange_declare(c, 1, ex, amqp_cstring_bytes("topic"), 0, durable, 0, 0,
                          amqp_empty_table);
    check(amqp_get_rpc_reply(c), "exchange.declare");
}

static long queue_depth(amqp_connection_state_t c, long want, double max_s) {
    int64_t end = tp_mono_ns() + (int64_t)(max_s * 1e9);
    long last = -1;
    int stable = 0;
    for (;;) {
        amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(QUEUE),
                                                         1, 0, 0, 0, amqp_empty_table);
        check(amqp_get_rpc_reply(c), "queue.declare passive");
        long n = (long)ok->message_count;
        if (n >= want || tp_mono_ns() > end)
            return n;
        stable = n == last ? stable + 1 : 0;
        last = n;
        if (stable >= 40)
            return n;
        usleep(5000);
    }
}

static double cpu_self(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int do_publish(void) {
    amqp_connection_state_t c = connect_broker();
    declare(c);
    amqp_queue_purge(c, 1, amqp_cstring_bytes(QUEUE));
    check(amqp_get_rpc_reply(c), "queue.purge");
    amqp_confirm_select(c, 1);
    check(amqp_get_rpc_reply(c), "confirm.select");

    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
                   AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                   AMQP_BASIC_PRIORITY_FLAG; /* 0xf800 */
    props.content_type = amqp_cstring_bytes("application/json");
    props.content_encoding = amqp_cstring_bytes("utf-8");
    props.headers = amqp_empty_table;
    props.delivery_mode = 2;
    props.priority = 0;

    unsigned char *acked = calloc((size_t)count + 2, 1);
    if (!acked)
        die("calloc", "out of memory");
    uint64_t next_tag = 1, low = 1; /* low: lowest unconfirmed tag */
    long confirmed = 0, nacked = 0, waits = 0;
    size_t body_len = 0;
    char point[1024], body[2048];
    uint64_t salt = (uint64_t)tp_real_ns();
    amqp_bytes_t ex = amqp_cstring_bytes(EXCHANGE), rk = amqp_cstring_bytes(QUEUE);

    tp_cpu_snap_t snap0 = tp_cpu_snap();
    double bcpu0 = tp_proc_cpu_s(broker_pid), cpu0 = cpu_self();
    int64_t t0 = tp_mono_ns(), deadline = t0 + (int64_t)(timeout_s * 1e9);
    while (confirmed < count) {
        /* Publish while the window has room. */
        while ((long)(next_tag - 1) < count && (long)(next_tag - low) < window) {
            int64_t now = tp_real_ns();
            size_t pl = tp_point(point, sizeof point, salt, next_tag, "db-start", now);
            size_t bl = tp_body(body, sizeof body, salt, next_tag, point, pl, now);
            body_len = bl;
            amqp_bytes_t b = {bl, body};
            int rc = amqp_basic_publish(c, 1, ex, rk, 0, 0, &props, b);
            if (rc != AMQP_STATUS_OK)
                die("basic.publish", amqp_error_string2(rc));
            next_tag++;
        }
        /* Read acks: block only when the window is full (or all are sent). */
        bool full = (long)(next_tag - low) >= window || (long)(next_tag - 1) >= count;
        struct timeval tv = {full ? 1 : 0, 0};
        for (;;) {
            amqp_frame_t f;
            int rc = amqp_simple_wait_frame_noblock(c, &f, &tv);
            if (rc == AMQP_STATUS_TIMEOUT) {
                if (full && tp_mono_ns() > deadline)
                    die("confirms", "timed out");
                if (full && tv.tv_sec) {
                    waits++;
                    continue; /* still nothing: keep waiting (bounded) */
                }
                break;
            }
            if (rc != AMQP_STATUS_OK)
                die("wait frame", amqp_error_string2(rc));
            tv.tv_sec = 0; /* then drain what is buffered */
            tv.tv_usec = 0;
            if (f.frame_type != AMQP_FRAME_METHOD)
                continue;
            if (f.payload.method.id == AMQP_BASIC_ACK_METHOD ||
                f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
                uint64_t tag;
                bool multiple;
                if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
                    amqp_basic_ack_t *a = f.payload.method.decoded;
                    tag = a->delivery_tag;
                    multiple = a->multiple;
                } else {
                    amqp_basic_nack_t *a = f.payload.method.decoded;
                    tag = a->delivery_tag;
                    multiple = a->multiple;
                    nacked++;
                }
                if (tag >= next_tag)
                    die("ack", "tag beyond what was published");
                for (uint64_t t = multiple ? low : tag; t <= tag; t++)
                    if (!acked[t]) {
                        acked[t] = 1;
                        confirmed++;
                    }
                while (low < next_tag && acked[low])
                    low++;
            } else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                       f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
                die("publish", "the broker closed the channel");
            }
        }
    }
    int64_t t1 = tp_mono_ns();
    double cpu = cpu_self() - cpu0, bcpu1 = tp_proc_cpu_s(broker_pid),
           mb = tp_cpu_since(&snap0);
    long depth = queue_depth(c, count, 10);
    close_broker(c);
    free(acked);
    double secs = (double)(t1 - t0) / 1e9;
    printf(
        "{\"mode\": \"raw\", \"durable\": %d, \"window\": %ld, \"count\": %ld, "
        "\"confirmed\": %ld, \"nacked\": %ld, \"seconds\": %.6f, \"msgs_per_s\": %.1f, "
        "\"body_len\": %zu, \"queue_depth\": %ld, \"client_cpu_s\": %.3f, "
        "\"broker_cpu_s\": %.3f, \"full_window_waits_1s\": %ld, "
        "\"machine_cpu_pct\": %.1f}\n",
        durable, window, count, confirmed, nacked, secs, (double)confirmed / secs,
        body_len, depth, cpu, bcpu0 >= 0 && bcpu1 >= 0 ? bcpu1 - bcpu0 : -1.0, waits,
        100.0 * mb / secs);
    return confirmed == count && nacked == 0 ? 0 : 3;
}

/* Read acks until the monotonic time `until` (ns); returns confirmed count. */
static long pace_acks(amqp_connection_state_t c, int64_t until, uint64_t *low,
                      unsigned char *acked, uint64_t next_tag) {
    long got = 0;
    for (;;) {
        int64_t left = until - tp_mono_ns();
        if (left < 0)
            left = 0;
        struct timeval tv = {(time_t)(left / 1000000000),
                             (long)(left % 1000000000) / 1000};
        amqp_frame_t f;
        int rc = amqp_simple_wait_frame_noblock(c, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT)
            return got;
        if (rc != AMQP_STATUS_OK)
            die("wait frame", amqp_error_string2(rc));
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            for (uint64_t t = a->multiple ? *low : a->delivery_tag;
                 t <= a->delivery_tag && t < next_tag; t++)
                if (!acked[t]) {
                    acked[t] = 1;
                    got++;
                }
            while (*low < next_tag && acked[*low])
                (*low)++;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD ||
                   f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                   f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            die("pace", "nack or close from the broker");
        }
        if (tp_mono_ns() >= until)
            return got;
    }
}

static int do_pace(void) {
    amqp_connection_state_t c = connect_broker();
    declare(c);
    amqp_confirm_select(c, 1);
    check(amqp_get_rpc_reply(c), "confirm.select");
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
                   AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                   AMQP_BASIC_PRIORITY_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.content_encoding = amqp_cstring_bytes("utf-8");
    props.headers = amqp_empty_table;
    props.delivery_mode = 2;
    long total = (long)(rate * seconds), confirmed = 0;
    unsigned char *acked = calloc((size_t)total + 2, 1);
    if (!acked)
        die("calloc", "out of memory");
    uint64_t next_tag = 1, low = 1, salt = (uint64_t)tp_real_ns();
    int64_t period = (int64_t)(1e9 / rate), t0 = tp_mono_ns() + 1000000;
    tp_cpu_snap_t snap0 = tp_cpu_snap();
    double bcpu0 = tp_proc_cpu_s(broker_pid);
    char point[1024], body[2048];
    amqp_bytes_t ex = amqp_cstring_bytes(EXCHANGE), rk = amqp_cstring_bytes(QUEUE);
    for (long i = 0; i < total; i++) {
        confirmed += pace_acks(c, t0 + i * period, &low, acked, next_tag);
        int64_t now = tp_real_ns();
        size_t pl = tp_point(point, sizeof point, salt, next_tag, "db-stop", now);
        size_t bl = tp_body(body, sizeof body, salt, next_tag, point, pl, now);
        amqp_bytes_t b = {bl, body};
        if ((long)(next_tag - low) >= window)
            die("pace", "window full");
        int rc = amqp_basic_publish(c, 1, ex, rk, 0, 0, &props, b);
        if (rc != AMQP_STATUS_OK)
            die("basic.publish", amqp_error_string2(rc));
        next_tag++;
    }
    double secs = (double)(tp_mono_ns() - t0) / 1e9, mb = tp_cpu_since(&snap0),
           bcpu = tp_proc_cpu_s(broker_pid) - bcpu0;
    int64_t end = tp_mono_ns() + 10000000000LL;
    while (confirmed < total && tp_mono_ns() < end)
        confirmed += pace_acks(c, tp_mono_ns() + 100000000, &low, acked, next_tag);
    close_broker(c);
    free(acked);
    printf("{\"mode\": \"pace\", \"durable\": %d, \"rate\": %.0f, \"seconds\": %.3f, "
           "\"points\": %ld, \"confirmed\": %ld, \"machine_cpu_pct\": %.1f, "
           "\"broker_cpu_pct\": %.1f}\n",
           durable, rate, secs, total, confirmed, 100.0 * mb / secs,
           broker_pid > 0 ? 100.0 * bcpu / secs : -1.0);
    return confirmed == total ? 0 : 3;
}

static int do_consume(void) {
    amqp_connection_state_t c = connect_broker();
    declare(c);
    amqp_basic_consume(c, 1, amqp_cstring_bytes(QUEUE), amqp_empty_bytes, 0, 1, 0,
                       amqp_empty_table);
    check(amqp_get_rpc_reply(c), "basic.consume");
    if (ready_file) {
        FILE *f = fopen(ready_file, "w");
        if (f)
            fclose(f);
    }
    size_t cap = expect > 0 ? (size_t)expect : 100000, n = 0;
    int64_t *lat = malloc(cap * sizeof *lat);
    if (!lat)
        die("malloc", "out of memory");
    long other = 0, bad = 0;
    FILE *dump = dump_file ? fopen(dump_file, "w") : NULL;
    int64_t end = tp_mono_ns() + (int64_t)(seconds * 1e9), first = 0, last = 0;
    while ((expect <= 0 || (long)n < expect) && tp_mono_ns() < end) {
        amqp_envelope_t env;
        struct timeval tv = {0, 200000};
        amqp_maybe_release_buffers(c);
        amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
        int64_t now = tp_real_ns();
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            check(r, "consume");
        const char *b = env.message.body.bytes;
        size_t bl = env.message.body.len;
        const char *key = "\"t_send_ns\": ";
        const char *p = memmem(b, bl, key, strlen(key));
        if (!p) {
            other++;
        } else {
            char num[32];
            size_t k = 0;
            p += strlen(key);
            while (k < sizeof num - 1 && p + k < b + bl && p[k] >= '0' && p[k] <= '9') {
                num[k] = p[k];
                k++;
            }
            num[k] = '\0';
            int64_t t = strtoll(num, NULL, 10);
            if (t <= 0) {
                bad++;
            } else {
                if (n == cap) {
                    cap *= 2;
                    int64_t *g = realloc(lat, cap * sizeof *lat);
                    if (!g)
                        die("realloc", "out of memory");
                    lat = g;
                }
                lat[n++] = now - t;
                if (dump)
                    fprintf(dump, "%" PRId64 " %" PRId64 "\n", t, now - t);
                if (!first)
                    first = now;
                last = now;
            }
        }
        amqp_destroy_envelope(&env);
    }
    close_broker(c);
    if (dump)
        fclose(dump);
    qsort(lat, n, sizeof *lat, tp_cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)lat[i];
    printf(
        "{\"mode\": \"consume\", \"durable\": %d, \"received\": %zu, \"expected\": %ld, "
        "\"without_t_send\": %ld, \"unparsable\": %ld, \"span_s\": %.3f, "
        "\"lat_min_us\": %.1f, \"lat_p50_us\": %.1f, \"lat_p90_us\": %.1f, "
        "\"lat_p99_us\": %.1f, \"lat_p999_us\": %.1f, \"lat_max_us\": %.1f, "
        "\"lat_mean_us\": %.1f}\n",
        durable, n, expect, other, bad, (double)(last - first) / 1e9,
        n ? (double)lat[0] / 1e3 : 0.0, (double)tp_pct(lat, n, 50) / 1e3,
        (double)tp_pct(lat, n, 90) / 1e3, (double)tp_pct(lat, n, 99) / 1e3,
        (double)tp_pct(lat, n, 99.9) / 1e3, n ? (double)lat[n - 1] / 1e3 : 0.0,
        n ? sum / (double)n / 1e3 : 0.0);
    free(lat);
    return expect > 0 && (long)n < expect ? 3 : 0;
}

/* Delete on a fresh channel; a 404 (not there) closes only that channel. */
static const char *try_delete(amqp_connection_state_t c, int ch, bool queue) {
    amqp_channel_open(c, (amqp_channel_t)ch);
    if (amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL)
        return "channel.open failed";
    if (queue)
        amqp_queue_delete(c, (amqp_channel_t)ch, amqp_cstring_bytes(QUEUE), 0, 0);
    else
        amqp_exchange_delete(c, (amqp_channel_t)ch, amqp_cstring_bytes(EXCHANGE), 0);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        amqp_channel_close(c, (amqp_channel_t)ch, AMQP_REPLY_SUCCESS);
        return "deleted";
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t ok;
        amqp_send_method(c, (amqp_channel_t)ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        return "absent or refused";
    }
    check(r, queue ? "queue.delete" : "exchange.delete");
    return "?";
}

static int do_delete(void) {
    amqp_connection_state_t c = connect_broker();
    const char *q = try_delete(c, 2, true);
    const char *e = try_delete(c, 3, false);
    close_broker(c);
    printf("{\"mode\": \"delete\", \"queue\": \"%s\", \"exchange\": \"%s\"}\n", q, e);
    return 0;
}

static void usage(void) {
    fputs("usage: throughput_raw publish|pace|consume|delete --port P [--count N]\n"
          "       [--durable 0|1] [--rate R]\n"
          "       [--window W] [--broker-pid PID] [--timeout S] [--seconds S]\n"
          "       [--expect N] [--ready FILE] [--dump FILE]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--count"))
            count = atol(v);
        else if (!strcmp(a, "--durable"))
            durable = atoi(v) != 0;
        else if (!strcmp(a, "--window"))
            window = atol(v);
        else if (!strcmp(a, "--broker-pid"))
            broker_pid = atol(v);
        else if (!strcmp(a, "--timeout"))
            timeout_s = atof(v);
        else if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--expect"))
            expect = atol(v);
        else if (!strcmp(a, "--ready"))
            ready_file = v;
        else if (!strcmp(a, "--rate"))
            rate = atof(v);
        else if (!strcmp(a, "--dump"))
            dump_file = v;
        else
            usage();
    }
    if (port <= 0 || count < 1 || window < 1 || rate <= 0)
        usage();
    if (!strcmp(mode, "publish"))
        return do_publish();
    if (!strcmp(mode, "consume"))
        return do_consume();
    if (!strcmp(mode, "pace"))
        return do_pace();
    if (!strcmp(mode, "delete"))
        return do_delete();
    usage();
    return 2;
}
