/* SPDX-License-Identifier: Apache-2.0 */
/* oslo_conf - reads OpenStack .conf files exactly as oslo.config does
 * (docs/oslo-config.md): the one reader of the library ([profiler]) and the
 * sidecar (a service's transport_url and [oslo_messaging_*] options).
 *
 * What oslo does, and so this: no line-length limit; '#' and ';' comment
 * lines; "key = value" and "key: value"; indented continuation lines joined
 * with '\n'; one pair of matching outer quotes removed; a section that
 * appears twice is one section; group names are case-insensitive except
 * DEFAULT; in a file the last assignment wins, and a later file wins over
 * an earlier one (a directory is its *.conf files in name order); values
 * are $option / ${option} / ${group.option} substituted when read.
 *
 * Errors name file and line, and never quote a line or a value: either may
 * hold a password. */
#ifndef OSP_COMMON_OSLO_CONF_H
#define OSP_COMMON_OSLO_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include <osprofiler/osprofiler.h>

typedef enum {
    OSP_OPT_STR,
    OSP_OPT_BOOL,
    OSP_OPT_INT,
    OSP_OPT_FLOAT,
    OSP_OPT_LIST,  /* ListOpt of strings */
    OSP_OPT_MULTI, /* MultiStrOpt: every assignment of every file */
} osp_opt_type_t;

/* An option as its owner registers it with oslo.config: what $substitution
 * needs (which names exist, their defaults and types) and the deprecated
 * names a lookup also tries. */
typedef struct osp_oslo_opt {
    const char *group; /* "DEFAULT" or the group */
    const char *name;
    osp_opt_type_t type;
    const char *def; /* the default as oslo holds it (a list as "a,b"); NULL: None */
    const char *min, *max; /* INT and FLOAT bounds, as text; NULL: none */
    /* Deprecated names, tried after the name in each file: a NULL group is
     * the option's group, a NULL name its name. Up to 3. */
    struct {
        const char *group, *name;
    } deprecated[3];
} osp_oslo_opt_t;

typedef struct osp_oslo_conf osp_oslo_conf_t;

/* opts: options the caller registers beyond oslo_opts.h's known ones (kept,
 * not copied; may be NULL). */
osp_oslo_conf_t *osp__oslo_conf_new(const osp_oslo_opt_t *opts, size_t nopts);
void osp__oslo_conf_free(osp_oslo_conf_t *c);

/* Read a file, or a directory's *.conf files in name order, on top of what
 * was read before. OSP_OK, OSP_ECONFIGFILE (cannot read), OSP_ECONFIG (not
 * what oslo.config accepts), OSP_ENOMEM; err says where. */
int osp__oslo_conf_read_path(osp_oslo_conf_t *c, const char *path, osp_error_t *err);
/* The same for text in memory (name: what errors call it). */
int osp__oslo_conf_read_text(osp_oslo_conf_t *c, const char *name, const char *text,
                             size_t len, osp_error_t *err);

/* Where a value was set. */
typedef struct osp_oslo_loc {
    const char *file; /* NULL: not set in any file (the default) */
    int line;
} osp_oslo_loc_t;

/* The value of a registered option as oslo returns it, substituted; the
 * typed getters convert as oslo's types do. Each returns OSP_OK and sets
 * *out only when a file sets the option (loc->file non-NULL), leaving *out
 * as it is otherwise; OSP_ECONFIG (err names file and line) when the value
 * is not of the type or a substitution fails; OSP_ENOMEM. */
int osp__oslo_get_str(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, char **out,
                      osp_oslo_loc_t *loc, osp_error_t *err);
int osp__oslo_get_bool(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, bool *out,
                       osp_oslo_loc_t *loc, osp_error_t *err);
int osp__oslo_get_int(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, long long *out,
                      osp_oslo_loc_t *loc, osp_error_t *err);
int osp__oslo_get_float(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, double *out,
                        osp_oslo_loc_t *loc, osp_error_t *err);
/* LIST and MULTI: *out (and *n) replaced by a new array of new strings,
 * the old one freed with osp__free_keys. */
int osp__oslo_get_list(osp_oslo_conf_t *c, const osp_oslo_opt_t *opt, char ***out,
                       size_t *n, osp_oslo_loc_t *loc, osp_error_t *err);

/* oslo's number conversions on their own (booleans: osp__parse_bool in
 * keys.h). Python's int() / float(): 0, 1 when the text is empty or white (oslo's
 * None), -1 when it is not a number (or beyond a long long). */
int osp__oslo_parse_int(const char *text, long long *out);
int osp__oslo_parse_float(const char *text, double *out);

#endif
