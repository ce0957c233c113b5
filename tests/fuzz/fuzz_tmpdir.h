/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_tmpdir - where the file-based targets (spool, sidecar_config) write
 * their input: tmpfs when there is one, since on a disk the write, fsync and
 * unlink of every input cost more than the parser under test. */
#ifndef OSP_FUZZ_TMPDIR_H
#define OSP_FUZZ_TMPDIR_H

#include <sys/stat.h>

static inline const char *fuzz_tmpdir(void) {
    struct stat st;
    return stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
}

#endif
