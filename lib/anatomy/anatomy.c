/* os_anatomy_find: the spine first, then the muscles and fat, which are placed by level and
 * so need the labelled vertebrae. Kept apart so the spine half links without the muscles. */
#include "osteoscout/anatomy.h"

int os_anatomy_find(const os_volume *vol, const os_anatomy_opts *opts, os_anatomy *out, os_error *err) {
    int rc = os_anatomy_find_spine(vol, opts, out, err);
    if (rc) return rc;
    rc = os_anatomy_find_muscles(vol, opts, out, err);
    if (rc) os_anatomy_free(out);
    return rc;
}
