/* SPDX-License-Identifier: Apache-2.0 */
/* version - the runtime version, for checks against OSP_VERSION_HEX. */
#include <osprofiler/osprofiler.h>

unsigned long osp_version(void) { return OSP_VERSION_HEX; }
const char *osp_version_string(void) { return OSP_VERSION_STRING; }
