/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_config - an oslo-style .conf file read for [profiler]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <osprofiler/osprofiler.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    osp_config_t *cfg = osp_config_new();
    osp_error_t err;
    if (cfg)
        osp_config_load_string(cfg, text, "fuzz.conf", &err);
    osp_config_free(cfg);
    free(text);
    return 0;
}
