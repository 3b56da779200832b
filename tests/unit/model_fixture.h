/* Shared by the model tests (test_infer, test_modelinput, test_plugin): a python3 with torch,
 * a tiny TorchScript model obeying docs/model-inputs.md's interface with its model card, and
 * a phantom CT loaded into a volume. Static functions: each test includes what it uses. */
#ifndef OS_TEST_MODEL_FIXTURE_H
#define OS_TEST_MODEL_FIXTURE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* pyenv or a venv may shadow Debian's interpreter, which is the one with python3-torch. */
static inline const char *fixture_find_python(void) {
    static const char *const candidates[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import torch' >/dev/null 2>&1", candidates[i]);
        if (system(cmd) == 0) return candidates[i];
    }
    return NULL;
}

/* The tiny model: per level the mean of the bone and muscle images (absent levels masked
 * out) → a linear detection head and a discrete-time hazard head whose cumulative product
 * gives monotone cumulative risks at years 1..5. Seeded, so its numbers are stable. It checks
 * its input shapes and raises a ValueError naming the problem, as a real export should. */
static const char fixture_tiny_model_py[] =
    "import json, sys, torch\n"
    "from typing import Tuple\n"
    "torch.manual_seed(0)\n"
    "class Tiny(torch.nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.det = torch.nn.Linear(10, 1)\n"
    "        self.haz = torch.nn.Linear(10, 5)\n"
    "        self.detection = len(sys.argv) < 4\n"
    "    def forward(self, bone: torch.Tensor, muscle: torch.Tensor, present: torch.Tensor)"
    " -> Tuple[torch.Tensor, torch.Tensor]:\n"
    "        if bone.dim() != 5 or bone.size(1) != 5 or bone.size(2) != 12 or bone.size(3) != 160"
    " or bone.size(4) != 160:\n"
    "            raise ValueError('bone must be [B,5,12,160,160]')\n"
    "        if muscle.shape != bone.shape:\n"
    "            raise ValueError('muscle must have the shape of bone')\n"
    "        if present.dim() != 2 or present.size(1) != 5:\n"
    "            raise ValueError('present must be [B,5]')\n"
    "        w = present.clamp(0.0, 1.0)\n"
    "        b = bone.mean(dim=(2, 3, 4)) * w * 5.0\n"
    "        m = muscle.mean(dim=(2, 3, 4)) * w * 5.0\n"
    "        x = torch.cat([b, m], 1)\n"
    "        prob = torch.sigmoid(self.det(x)).squeeze(1)\n"
    "        hazard = torch.sigmoid(self.haz(x) - 2.0)\n"
    "        cum = 1.0 - torch.cumprod(1.0 - hazard, dim=1)\n"
    "        if not self.detection:\n"
    "            prob = torch.full_like(prob, float('nan'))\n"
    "        return prob, cum\n"
    "torch.jit.script(Tiny()).save(sys.argv[1])\n"
    "card = {'format': 'osteoscout-model-card', 'card_version': 1,\n"
    "        'name': 'tiny-multitask', 'version': '0.0.1',\n"
    "        'inputs': {'format': 'osteoscout-model-inputs', 'version': 1, 'variant': 'bone+muscle'},\n"
    "        'outputs': {'prevalent_fracture_probability': 'P(prevalent vertebral fracture)',\n"
    "                    'cumulative_risk': 'P(new fracture by year k)'},\n"
    "        'horizons_years': [1, 2, 3, 4, 5], 'synthetic': True, 'calibrated': False,\n"
    "        'training': {'cohort': 'none: random weights for tests'},\n"
    "        'validation': {}, 'intended_use': 'tests of the serving path only'}\n"
    "json.dump(card, open(sys.argv[2], 'w'), indent=1)\n";

/* Writes dir/tiny_mt.pt and dir/tiny_mt.json (its card); 0 on success. With nodet set, writes
 * dir/tiny_nodet.pt: a prediction-only model whose first output is NaN (as model/net.py's). */
static inline int fixture_write_tiny_model_as(const char *python, const char *dir, int nodet) {
    char script[512], cmd[2048];
    snprintf(script, sizeof script, "%s/make_tiny.py", dir);
    FILE *f = fopen(script, "w");
    if (!f) return -1;
    fputs(fixture_tiny_model_py, f);
    fclose(f);
    if (nodet)
        snprintf(cmd, sizeof cmd, "%s '%s' '%s/tiny_nodet.pt' '%s/tiny_nodet.json' nodet", python, script, dir, dir);
    else
        snprintf(cmd, sizeof cmd, "%s '%s' '%s/tiny_mt.pt' '%s/tiny_mt.json'", python, script, dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static inline int fixture_write_tiny_model(const char *python, const char *dir) {
    return fixture_write_tiny_model_as(python, dir, 0);
}

static inline void fixture_rm_rf(const char *dir) {
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#ifdef OSTEOSCOUT_VOLUME_H
#include "osteoscout/dicom.h"
#include "osteoscout/phantom.h"
#include "osteoscout/pipeline.h"

static inline int fixture_load_dir(const char *dir, os_volume *vol) {
    os_error err;
    os_error_clear(&err);
    int rc = os_pipeline_load_dir(dir, vol, &err);
    if (rc) fprintf(stderr, "fixture_load_dir: %s\n", err.msg);
    return rc;
}

/* A phantom T12…L5 (1 mm pixels, 3 mm slices, light noise) into vol; 0 on success.
 * tweak (may be NULL) adjusts the options before writing. */
static inline int fixture_phantom_volume(uint64_t seed, void (*tweak)(os_phantom_opts *), os_volume *vol) {
    char tmpl[] = "/tmp/os_test_fixture_XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) return -1;
    os_phantom_opts o;
    os_phantom_defaults(&o);
    o.seed = seed;
    o.z_from = OS_T12;
    o.z_to = OS_PHANTOM_S1;
    o.pixel_mm = 1.0;
    o.rows = o.cols = 400;
    o.slice_spacing_mm = o.slice_thickness_mm = 3.0;
    o.noise_sd_hu = 10;
    if (tweak) tweak(&o);
    os_error err;
    os_error_clear(&err);
    int rc = os_phantom_write_series(&o, dir, &err);
    if (rc) fprintf(stderr, "phantom: %s\n", err.msg);
    if (!rc) rc = fixture_load_dir(dir, vol);
    fixture_rm_rf(dir);
    return rc;
}
#endif

#endif
