/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_spool - a segment file a previous run left (torn, corrupt, forged):
 * the sidecar opens its spool, replays every readable record and must
 * neither crash nor hand out a record that fails its checks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_tmpdir.h"

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
    osp_msg_t *m;
    while ((m = osp_spool_read(s, 64))) {
        while (m) {
            osp_msg_t *next = m->next;
            if (!m->publisher || !m->event_type)
                abort();
            osp_spool_done(s, m);
            osp_msg_free(m);
            m = next;
        }
    }
    osp_spool_close(s);
    unlink(path); /* whatever the spool left of it */
    return 0;
}
