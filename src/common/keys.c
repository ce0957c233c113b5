/* SPDX-License-Identifier: Apache-2.0 */
/* keys - osprofiler._utils.split for hmac_keys: split on commas, strip each
 * item, drop empty ones. Freed keys are wiped: they are secrets. */
#include "keys.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osprofiler/osprofiler.h>

#include "pytext.h"

void osp__free_keys(char **keys, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (keys[i]) {
            /* Keys are secrets: do not leave them in freed heap memory. */
            memset(keys[i], 0, strlen(keys[i]));
            free(keys[i]);
        }
    }
    free(keys);
}

int osp__split_keys(const char *text, char ***out, size_t *count) {
    char **keys = NULL;
    size_t n = 0;
    const char *p = text ? text : "";
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p;
        size_t len = (size_t)(end - p);
        osp__py_strip(&a, &len); /* str.strip(): Unicode spaces too */
        const char *b = a + len;
        if (b > a) {
            char **grown = realloc(keys, (n + 1) * sizeof *keys);
            if (!grown || !(grown[n] = strndup(a, (size_t)(b - a)))) {
                if (grown)
                    keys = grown;
                osp__free_keys(keys, n);
                return OSP_ENOMEM;
            }
            keys = grown;
            n++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = keys;
    *count = n;
    return OSP_OK;
}

int osp__parse_bool(const char *v, bool *out) {
    static const char *const yes[] = {"true", "1", "on", "yes"};
    static const char *const no[] = {"false", "0", "off", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}
