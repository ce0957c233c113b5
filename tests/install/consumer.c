/* A program built against the installed tree only. */
#include <osprofiler/osprofiler.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    osp_profiler_t *p = osp_init("k", "install-check", NULL);
    if (!p || strcmp(osp_profiler_base_id(p), "install-check") != 0)
        return 1;
    printf("consumer ok: libosprofiler %s\n", osp_version_string());
    osp_clean();
    return osp_version() == OSP_VERSION_HEX ? 0 : 1;
}
