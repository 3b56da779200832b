/* lib/report: the Secondary Capture pages (os_report_draw_pages). Three single-frame RGB
 * images drawn with cairo: the sagittal spine, the axial L3 slice, the summary panel. Each
 * carries the burned-in banner and the software version; none carries the patient's name (the
 * viewer shows it from the DICOM header). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "draw_util.h"

int os_report_draw_pages(const os_volume *vol, const os_anatomy *a, const os_measurements *m, const cJSON *result,
                         os_report_page pages[OS_REPORT_MAX_PAGES], int *n_pages, os_error *err) {
    if (!pages || !n_pages) return os_error_set(err, -EINVAL, "os_report_draw_pages: no output array");
    *n_pages = 0;
    memset(pages, 0, sizeof *pages * OS_REPORT_MAX_PAGES);
    rp_info info;
    rp_info_from_json(&info, result);
    info.n_pages = 3;

    int rc;
    info.page_no = 1;
    rc = rp_draw_sagittal(vol, a, m, &info, &pages[0], err);
    if (!rc) {
        *n_pages = 1;
        info.page_no = 2;
        rc = rp_draw_axial(vol, a, m, &info, &pages[1], err);
    }
    if (!rc) {
        *n_pages = 2;
        info.page_no = 3;
        rc = rp_draw_summary(a, m, result, &info, &pages[2], err);
    }
    if (rc) {
        os_report_free_pages(pages, *n_pages);
        *n_pages = 0;
        return rc;
    }
    *n_pages = 3;
    return 0;
}

void os_report_free_pages(os_report_page *pages, int n) {
    if (!pages) return;
    for (int i = 0; i < n && i < OS_REPORT_MAX_PAGES; i++) {
        free(pages[i].rgb);
        pages[i].rgb = NULL;
        pages[i].rows = pages[i].cols = 0;
    }
}
