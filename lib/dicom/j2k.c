/* lib/dicom internal: JPEG 2000 decode/encode with OpenJPEG over memory buffers.
 * OpenJPEG only streams through callbacks, so a small in-memory stream is defined
 * here; its messages are captured (never printed) to explain failures. */
#include "j2k.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openjpeg.h>

/* ---- memory streams ------------------------------------------------------------ */

typedef struct mem_stream {
    uint8_t *data;
    size_t len, cap, pos;
    int growable;
} mem_stream;

static OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T n, void *ud) {
    mem_stream *m = ud;
    if (m->pos >= m->len) return (OPJ_SIZE_T)-1;
    if (n > m->len - m->pos) n = m->len - m->pos;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return n;
}

static OPJ_SIZE_T mem_write(void *buf, OPJ_SIZE_T n, void *ud) {
    mem_stream *m = ud;
    if (m->pos + n > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap < m->pos + n) cap *= 2;
        uint8_t *p = realloc(m->data, cap);
        if (!p) return (OPJ_SIZE_T)-1;
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->pos, buf, n);
    m->pos += n;
    if (m->pos > m->len) m->len = m->pos;
    return n;
}

static OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *ud) {
    mem_stream *m = ud;
    OPJ_OFF_T limit = m->growable ? (OPJ_OFF_T)m->cap + (OPJ_OFF_T)(1u << 30) : (OPJ_OFF_T)m->len;
    OPJ_OFF_T to = (OPJ_OFF_T)m->pos + n;
    if (to < 0) to = 0;
    if (to > limit) to = limit;
    OPJ_OFF_T moved = to - (OPJ_OFF_T)m->pos;
    m->pos = (size_t)to;
    return moved;
}

static OPJ_BOOL mem_seek(OPJ_OFF_T to, void *ud) {
    mem_stream *m = ud;
    if (to < 0 || (!m->growable && (size_t)to > m->len)) return OPJ_FALSE;
    m->pos = (size_t)to;
    return OPJ_TRUE;
}

static opj_stream_t *mem_stream_open(mem_stream *m, int input) {
    opj_stream_t *s = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, input ? OPJ_TRUE : OPJ_FALSE);
    if (!s) return NULL;
    opj_stream_set_user_data(s, m, NULL);
    if (input) {
        opj_stream_set_user_data_length(s, m->len);
        opj_stream_set_read_function(s, mem_read);
    } else {
        opj_stream_set_write_function(s, mem_write);
    }
    opj_stream_set_skip_function(s, mem_skip);
    opj_stream_set_seek_function(s, mem_seek);
    return s;
}

/* ---- messages ------------------------------------------------------------------ */

typedef struct opj_msg {
    char text[256];
} opj_msg;

static void keep_first_error(const char *msg, void *ud) {
    opj_msg *m = ud;
    if (m->text[0] != '\0') return;
    snprintf(m->text, sizeof m->text, "%s", msg);
    size_t n = strlen(m->text);
    while (n > 0 && (m->text[n - 1] == '\n' || m->text[n - 1] == '\r')) m->text[--n] = '\0';
}

static void ignore_message(const char *msg, void *ud) {
    (void)msg;
    (void)ud;
}

static void route_messages(opj_codec_t *codec, opj_msg *m) {
    m->text[0] = '\0';
    opj_set_error_handler(codec, keep_first_error, m);
    opj_set_warning_handler(codec, ignore_message, NULL);
    opj_set_info_handler(codec, ignore_message, NULL);
}

static const char *why(const opj_msg *m) {
    return m->text[0] ? m->text : "OpenJPEG gave no reason";
}

/* ---- decode -------------------------------------------------------------------- */

/* DICOM allows a raw codestream (the norm) but some writers wrap it in JP2 boxes. */
static OPJ_CODEC_FORMAT sniff_format(const uint8_t *buf, size_t len) {
    static const uint8_t jp2_sig[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a};
    if (len >= 12 && memcmp(buf, jp2_sig, 12) == 0) return OPJ_CODEC_JP2;
    if (len >= 2 && buf[0] == 0xff && buf[1] == 0x4f) return OPJ_CODEC_J2K;
    return OPJ_CODEC_UNKNOWN;
}

int os_dicom_internal_j2k_decode(const uint8_t *buf, size_t len, int rows, int cols,
                                 int32_t *dst, int *is_signed, int *precision, os_error *err) {
    OPJ_CODEC_FORMAT fmt = sniff_format(buf, len);
    if (fmt == OPJ_CODEC_UNKNOWN)
        return os_error_set(err, -EINVAL,
                            "JPEG 2000 fragment (%zu bytes) starts with neither a codestream "
                            "marker nor a JP2 signature",
                            len);

    mem_stream m = {(uint8_t *)buf, len, len, 0, 0};
    opj_msg msg;
    opj_codec_t *codec = opj_create_decompress(fmt);
    opj_stream_t *stream = mem_stream_open(&m, 1);
    opj_image_t *image = NULL;
    int rc = 0;
    if (!codec || !stream) {
        rc = os_error_set(err, -ENOMEM, "out of memory setting up the JPEG 2000 decoder");
        goto out;
    }
    route_messages(codec, &msg);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(codec, &params) || !opj_read_header(stream, codec, &image)) {
        rc = os_error_set(err, -EIO, "JPEG 2000 header is unreadable: %s", why(&msg));
        goto out;
    }
    if (!opj_decode(codec, stream, image) || !opj_end_decompress(codec, stream)) {
        rc = os_error_set(err, -EIO, "JPEG 2000 codestream does not decode: %s", why(&msg));
        goto out;
    }
    if (image->numcomps != 1) {
        rc = os_error_set(err, -ENOTSUP, "JPEG 2000 image has %u components, expected 1 (grey)",
                          image->numcomps);
        goto out;
    }
    opj_image_comp_t *c = &image->comps[0];
    if ((int)c->w != cols || (int)c->h != rows || c->dx != 1 || c->dy != 1 || !c->data) {
        rc = os_error_set(err, -EINVAL, "JPEG 2000 image is %u×%u, header says %d×%d", c->w, c->h,
                          cols, rows);
        goto out;
    }
    memcpy(dst, c->data, (size_t)rows * (size_t)cols * sizeof *dst);
    *is_signed = c->sgnd ? 1 : 0;
    *precision = (int)c->prec;
out:
    if (image) opj_image_destroy(image);
    if (stream) opj_stream_destroy(stream);
    if (codec) opj_destroy_codec(codec);
    return rc;
}

/* ---- encode -------------------------------------------------------------------- */

int os_dicom_internal_j2k_encode(const int32_t *src, int rows, int cols, int precision,
                                 int is_signed, uint8_t **out, size_t *out_len, os_error *err) {
    *out = NULL;
    *out_len = 0;
    if (rows <= 0 || cols <= 0 || precision < 1 || precision > 16)
        return os_error_set(err, -EINVAL, "cannot JPEG 2000 encode %d×%d at %d bits", cols, rows,
                            precision);

    opj_image_cmptparm_t cp;
    memset(&cp, 0, sizeof cp);
    cp.dx = cp.dy = 1;
    cp.w = (OPJ_UINT32)cols;
    cp.h = (OPJ_UINT32)rows;
    cp.prec = (OPJ_UINT32)precision;
    cp.sgnd = is_signed ? 1 : 0;
    opj_image_t *image = opj_image_create(1, &cp, OPJ_CLRSPC_GRAY);
    if (!image) return os_error_set(err, -ENOMEM, "out of memory creating a JPEG 2000 image");
    image->x1 = (OPJ_UINT32)cols;
    image->y1 = (OPJ_UINT32)rows;
    memcpy(image->comps[0].data, src, (size_t)rows * (size_t)cols * sizeof *src);

    opj_cparameters_t params;
    opj_set_default_encoder_parameters(&params);
    params.irreversible = 0; /* 5/3 integer wavelet: the only lossless one */
    params.tcp_mct = 0;      /* one grey component: no colour transform */
    params.tcp_numlayers = 1;
    params.tcp_rates[0] = 0; /* 0 = no rate limit, i.e. keep every bit */
    params.cp_disto_alloc = 1;
    /* Each resolution halves the image; OpenJPEG refuses more levels than the
     * smallest side allows, so small test images need fewer than the default 6. */
    int minside = rows < cols ? rows : cols;
    int levels = 1;
    while (levels < 6 && (minside >> levels) >= 1) levels++;
    params.numresolution = levels;

    mem_stream m = {NULL, 0, 0, 0, 1};
    opj_msg msg;
    opj_codec_t *codec = opj_create_compress(OPJ_CODEC_J2K);
    opj_stream_t *stream = mem_stream_open(&m, 0);
    int rc = 0;
    if (!codec || !stream) {
        rc = os_error_set(err, -ENOMEM, "out of memory setting up the JPEG 2000 encoder");
        goto out;
    }
    route_messages(codec, &msg);
    if (!opj_setup_encoder(codec, &params, image) || !opj_start_compress(codec, image, stream) ||
        !opj_encode(codec, stream) || !opj_end_compress(codec, stream)) {
        rc = os_error_set(err, -EIO, "JPEG 2000 encoding failed: %s", why(&msg));
        goto out;
    }
    *out = m.data;
    *out_len = m.len;
    m.data = NULL;
out:
    free(m.data);
    if (stream) opj_stream_destroy(stream);
    if (codec) opj_destroy_codec(codec);
    opj_image_destroy(image);
    return rc;
}
