/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_spool - a segment file a previous run left (torn, corrupt, forged;
 * version 3 or 2): the sidecar opens its spool, reads every readable record,
 * turns each entry into a message, and must neither crash, nor loop, nor
 * hand out a payload that is not a trace point Python reads, nor leave
 * points it neither replayed nor counted lost. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_tmpdir.h"

#include "common/point.h"
#include "sidecar/entry.h"
#include "sidecar/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/osp-fuzz-spool.%ld", fuzz_tmpdir(), (long)getpid());
        mkdir(dir, 0700);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/%016llu.seg", dir, 1ULL);
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    osp_error_t err;
    osp_spool_t *s = osp_spool_open(dir, 1 << 30, &err);
    if (!s)
        return 0;
    osp_buf_t scratch = OSP_BUF_INIT;
    osp_chunk_t *c;
    uint64_t lost;
    while ((c = osp_spool_read(s, &lost)) || lost) {
        if (!c)
            continue;
        osp_entry_t e;
        uint64_t n = 0;
        while (osp_chunk_next(c, &e)) {
            n++;
            osp_msg_t *m = osp_msg_from_entry(&e, &scratch, &err);
            if (!m)
                continue;
            osp_point_view_t v;
            if (!m->publisher || !m->event_type ||
                osp__point_scan(m->payload, m->len, &v, &err) != OSP_OK)
                abort(); /* a payload ceilometer could not read */
            osp_msg_free(m);
        }
        osp_spool_done(s, c->spool_seg, n);
        osp_chunk_free(c);
    }
    osp__buf_free(&scratch);
    if (osp_spool_pending(s) != 0)
        abort(); /* read to the end, every point replayed or counted lost */
    osp_spool_close(s);
    unlink(path); /* whatever the spool left of it */
    char lock[128];
    snprintf(lock, sizeof lock, "%s/lock", dir);
    unlink(lock);
    return 0;
}
