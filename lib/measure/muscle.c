/* lib/measure: skeletal muscle and fat at one level's mid-vertebral slice — the body-
 * composition figures (Mitsiopoulos 1998 HU ranges, Prado 2008 index cut-offs) read from
 * anatomy's tissue map and the raw HU. Areas count every voxel anatomy assigned to the
 * tissue; mean attenuation uses muscle-range voxels only (-29…150 HU), as the literature
 * defines it, so fat streaks inside a muscle lower the area of muscle, not its HU. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "measure_internal.h"

void mx_muscle(const os_volume *vol, const os_anatomy *a, const os_measure_opts *o, int level,
               os_muscle_measure *mm) {
    memset(mm, 0, sizeof *mm);
    mm->slice_z_mm = mm->area_cm2 = mm->mean_hu = mm->index_cm2_m2 = NAN;
    mm->sat_cm2 = mm->vat_cm2 = mm->imat_cm2 = NAN;
    for (int g = 0; g <= OS_MUSCLE_GROUPS; g++) mm->group_area_cm2[g] = mm->group_mean_hu[g] = NAN;
    mm->sarcopenia = -1;
    const os_level_slice *sl = level >= 0 && level < OS_LEVEL_COUNT ? &a->slices[level] : NULL;
    if (!sl || !sl->present || !sl->tissue || sl->z < 0 || sl->z >= vol->nz) {
        snprintf(mm->note, sizeof mm->note, "%s not in the scan: muscle not measured", os_level_name(level));
        return;
    }
    mm->present = 1;
    mm->slice_z_mm = sl->z_mm;
    size_t plane = (size_t)vol->nx * vol->ny;
    const int16_t *hu = vol->hu + (size_t)sl->z * plane;
    long count[OS_TISSUE_COUNT] = {0}, in_range[OS_MUSCLE_GROUPS + 1] = {0};
    double sum[OS_MUSCLE_GROUPS + 1] = {0};
    for (size_t k = 0; k < plane; k++) {
        int t = sl->tissue[k];
        if (t <= 0 || t >= OS_TISSUE_COUNT) continue;
        count[t]++;
        if (t <= OS_MUSCLE_GROUPS && hu[k] >= OS_MUSCLE_HU_MIN && hu[k] <= OS_MUSCLE_HU_MAX)
            in_range[t]++, sum[t] += hu[k];
    }
    double px_cm2 = vol->spacing[0] * vol->spacing[1] / 100.0;
    long n_all = 0, n_range = 0;
    double s_all = 0;
    for (int g = 1; g <= OS_MUSCLE_GROUPS; g++) {
        mm->group_area_cm2[g] = count[g] * px_cm2;
        mm->group_mean_hu[g] = in_range[g] ? sum[g] / in_range[g] : NAN;
        n_all += count[g], n_range += in_range[g], s_all += sum[g];
    }
    mm->area_cm2 = n_all * px_cm2;
    mm->mean_hu = n_range ? s_all / n_range : NAN;
    mm->sat_cm2 = count[OS_TISSUE_SAT] * px_cm2;
    mm->vat_cm2 = count[OS_TISSUE_VAT] * px_cm2;
    mm->imat_cm2 = count[OS_TISSUE_IMAT] * px_cm2;
    double h = o->patient_size_m;
    if (h > 0.5 && h < 2.6) mm->index_cm2_m2 = mm->area_cm2 / (h * h);
    double cut = o->patient_sex == 'M' ? o->smi_cutoff_male : o->patient_sex == 'F' ? o->smi_cutoff_female : NAN;
    /* The published cut-offs are L3 indices; elsewhere the index is reported, not judged. */
    if (level == OS_L3 && isfinite(mm->index_cm2_m2) && isfinite(cut)) mm->sarcopenia = mm->index_cm2_m2 <= cut;
    if (!n_all) snprintf(mm->note, sizeof mm->note, "no skeletal muscle found on the %s slice", os_level_name(level));
    else if (isnan(mm->index_cm2_m2))
        snprintf(mm->note, sizeof mm->note, "patient height unknown: no skeletal muscle index");
    else if (mm->sarcopenia < 0 && level == OS_L3)
        snprintf(mm->note, sizeof mm->note, "patient sex unknown: sarcopenia not judged");
}
