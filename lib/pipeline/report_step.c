/* The objects that go back to PACS: Secondary Capture pages (series 9001) and the TID 1500 SR
 * (series 9002), written once into the job's outbox so every delivery attempt sends the very
 * same instances (same UIDs), and listed in the result's "outputs" for the sender. Each file
 * is written under a temporary name, fsync'd and renamed, so the outbox never holds half a
 * file after a crash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osteoscout/dicom_report.h"
#include "osteoscout/fs.h"
#include "pipeline_internal.h"

static void add_output(cJSON *outputs, const char *kind, const char *path, const char *sop, const char *series) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "sop_instance_uid", sop);
    cJSON_AddStringToObject(o, "series_instance_uid", series);
    cJSON_AddItemToArray(outputs, o);
}

static int publish(const char *tmp, const char *final, os_error *err) {
    if (os_fs_fsync_path(tmp, err)) return -1;
    if (rename(tmp, final) != 0) return os_error_set(err, -errno, "cannot rename %s: %s", tmp, strerror(errno));
    return os_fs_fsync_parent(final, err);
}

/* Every instance of the analysed series, once each (an Enhanced CT file holds many frames). */
static const char **source_instances(const pl_series *s, size_t *n) {
    const char **uids = calloc(s->n_paths ? s->n_paths : 1, sizeof *uids);
    if (!uids) return NULL;
    size_t count = 0;
    size_t last = (size_t)-1;
    for (size_t i = 0; i < s->n_geoms; i++) {
        if (s->geoms[i].source == last) continue;
        last = s->geoms[i].source;
        uids[count++] = s->geoms[i].sop_instance_uid;
    }
    *n = count;
    return uids;
}

int pl_write_report(cJSON *result, const pl_series *s, const os_anatomy *a, const os_measurements *m,
                    const os_pipeline_opts *opts, os_error *err) {
    const char *dir = opts->outbox_dir;
    os_report_opts defaults;
    os_report_opts_defaults(&defaults);
    const os_report_opts *ro = opts->report ? opts->report : &defaults;
    if (os_fs_mkdirs(dir, 0700, err)) return os_error_wrap(err, "report");

    size_t n_inst = 0;
    const char **inst = source_instances(s, &n_inst);
    if (!inst) return os_error_set(err, -ENOMEM, "out of memory listing the source instances");
    os_report_source src = {
        .ct_path = s->paths[0],
        .sop_class_uid = s->geoms[0].sop_class_uid,
        .sop_instance_uids = inst,
        .n_instances = n_inst,
    };

    cJSON *outputs = cJSON_CreateArray();
    os_report_page pages[OS_REPORT_MAX_PAGES];
    int n_pages = 0;
    char sc_series[OS_UID_MAX], sr_series[OS_UID_MAX], sop[OS_UID_MAX];
    char path[4096], tmp[4200];
    os_dicom_new_uid(sc_series);
    os_dicom_new_uid(sr_series);

    int rc = os_report_draw_pages(&s->vol, a, m, result, pages, &n_pages, err);
    for (int i = 0; !rc && i < n_pages; i++) {
        snprintf(path, sizeof path, "%s/sc-%d.dcm", dir, i + 1);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        rc = os_dicom_write_sc(&pages[i], i + 1, &src, ro, sc_series, tmp, sop, err);
        if (!rc) rc = publish(tmp, path, err);
        if (!rc) add_output(outputs, "sc", path, sop, sc_series);
    }
    os_report_free_pages(pages, n_pages);
    /* The SR lists the pages' siblings only through the result; it is written last so that it
     * can say everything the pages show. */
    if (!rc) {
        snprintf(path, sizeof path, "%s/sr.dcm", dir);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        rc = os_dicom_write_sr(result, &src, ro, sr_series, tmp, sop, err);
        if (!rc) rc = publish(tmp, path, err);
        if (!rc) add_output(outputs, "sr", path, sop, sr_series);
    }
    free(inst);
    if (rc) {
        remove(tmp);
        cJSON_Delete(outputs);
        return os_error_wrap(err, "report");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(result, "outputs");
    cJSON_AddItemToObject(result, "outputs", outputs);
    return 0;
}
