/* The phantom's anatomy: a fixed cross-section of simple shapes with known HU, the same on
 * every slice. Internal to lib/phantom; a later issue replaces it with realistic anatomy. */
#ifndef OSTEOSCOUT_PHANTOM_BODY_H
#define OSTEOSCOUT_PHANTOM_BODY_H

#include <stdint.h>
#include <cjson/cJSON.h>

/* Known attenuation of each tissue, HU. */
#define PH_HU_AIR (-1000)
#define PH_HU_FAT (-100)
#define PH_HU_SOFT 40
#define PH_HU_MUSCLE 45
#define PH_HU_AORTA 150
#define PH_HU_CSF 10
#define PH_HU_TRABECULAR 200
#define PH_HU_CORTICAL 700

typedef struct ph_ellipse {
    double cx, cy, ax, ay; /* centre and semi-axes, LPS mm */
} ph_ellipse;

typedef struct ph_body {
    ph_ellipse skin, fat_inner; /* fat is between the two */
    ph_ellipse vertebra;        /* circle: cortical shell outside trabecular_r */
    double trabecular_r;
    ph_ellipse arch, canal;     /* neural arch: bone ring around the spinal canal */
    ph_ellipse psoas[2];
    ph_ellipse aorta;
} ph_body;

/* Lays the shapes out for a field of view of fov_x × fov_y mm centred on the origin. Sizes
 * scale with the field of view so small test phantoms still hold every tissue, and thin
 * layers are kept at least 1.5 pixels thick so they are sampled at any pixel size. */
void ph_body_layout(ph_body *b, double fov_x, double fov_y, double pixel_mm);

/* Noise-free HU of the slice: x0, y0 is the centre of pixel (0, 0). */
void ph_body_render(const ph_body *b, int rows, int cols, double pixel_mm, double x0, double y0,
                    int16_t *hu);

/* {"tissues_hu": {...}, "structures": {...}} for truth.json. */
void ph_body_truth(const ph_body *b, cJSON *truth);

#endif
