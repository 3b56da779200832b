/* The configuration's [series] and [measure] sections as the options of the steps they
 * steer, so the daemon and the offline CLI read them the same way. */
#include "osteoscout/pipeline.h"

void os_pipeline_select_rules(const os_config *cfg, os_select_rules *out) {
    out->min_slices = cfg->series_min_slices;
    out->max_thickness_mm = cfg->series_max_thickness_mm;
    out->min_z_coverage_mm = cfg->series_min_z_coverage_mm;
    out->max_tilt_deg = cfg->series_max_tilt_deg;
}

void os_pipeline_measure_opts(const os_config *cfg, os_measure_opts *out) {
    os_measure_opts_defaults(out);
    out->bmd_osteoporosis_hu = cfg->measure_bmd_osteoporosis_hu;
    out->bmd_low_hu = cfg->measure_bmd_low_hu;
    out->phase_offset_hu[OS_PHASE_NONCONTRAST] = cfg->measure_phase_offset_noncontrast_hu;
    out->phase_offset_hu[OS_PHASE_ARTERIAL] = cfg->measure_phase_offset_arterial_hu;
    out->phase_offset_hu[OS_PHASE_PORTAL] = cfg->measure_phase_offset_portal_hu;
    out->smi_cutoff_male = cfg->measure_smi_cutoff_male;
    out->smi_cutoff_female = cfg->measure_smi_cutoff_female;
    out->trab_erosion_mm = cfg->measure_trabecular_erosion_mm;
}
