/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_sidecar_config - osprofiler-sidecar's own file (libconfuse): every
 * option, bad types, unterminated strings, includes of missing files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_tmpdir.h"

#include "sidecar/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "%s/osp-fuzz-sidecar.%ld.conf", fuzz_tmpdir(),
                 (long)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    osp_sc_config_t c;
    osp_error_t err;
    if (osp_sc_config_load(&c, path, &err) == OSP_OK) {
        osp_sc_overrides_t ov = {0};
        if (osp_sc_config_override(&c, &ov, &err) == OSP_OK)
            osp_sc_config_check(&c, &err);
        osp_sc_config_free(&c);
    }
    unlink(path);
    return 0;
}
