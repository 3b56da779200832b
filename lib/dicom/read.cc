/* lib/dicom: reading what the node needs from stored CT files: the header fields that
 * route and select a series (fast: no pixel decoding), the geometry of each frame, and
 * one frame's pixels as Hounsfield units. Classic CT and Enhanced CT (functional groups)
 * both; every accepted transfer syntax (JPEG 2000 through OpenJPEG). */
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcpxitem.h"

#include "codecs.h"
#include "j2k.h"
#include "osteoscout/dicom.h"

namespace {

/* ---- loading ------------------------------------------------------------------- */

/* Values longer than this stay on disk until asked for, so a header read does not copy
 * the pixels into memory; DCMTK still has to find each value's end in the file, which
 * is what exposes a truncated file. */
const Uint32 k_header_max_read = 4096;

int load(const char *path, DcmFileFormat &ff, Uint32 max_read, os_error *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = errno;
        return os_error_set(err, -e, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) return os_error_set(err, -EINVAL, "%s: not a regular file", path);
    os_dicom_internal_quiet_dcmtk();
    OFCondition st = ff.loadFile(path, EXS_Unknown, EGL_noChange, max_read, ERM_autoDetect);
    /* DCMTK reports a file that ends inside an element as EC_StreamNotifyClient or
     * EC_PrematureSequDelimitationItem yet keeps what it parsed: anything but a clean
     * status means the file is not whole. */
    if (st.bad()) {
        if (st == EC_StreamNotifyClient)
            return os_error_set(err, -EIO, "%s: file ends in the middle of an element (truncated)",
                                path);
        return os_error_set(err, -EIO, "%s: not a readable DICOM file (truncated or corrupt): %s",
                            path, st.text());
    }
    if (ff.getDataset()->getOriginalXfer() == EXS_Unknown)
        return os_error_set(err, -EIO, "%s: transfer syntax of the dataset cannot be determined",
                            path);
    return 0;
}

/* ---- small accessors ----------------------------------------------------------- */

void get_string(DcmItem *it, const DcmTagKey &tag, char *dst, size_t cap) {
    OFString s;
    dst[0] = '\0';
    if (it && it->findAndGetOFStringArray(tag, s).good()) {
        size_t n = std::min(s.size(), cap - 1);
        memcpy(dst, s.c_str(), n);
        dst[n] = '\0';
    }
}

int get_int(DcmItem *it, const DcmTagKey &tag, int dflt) {
    Sint32 v;
    if (it && it->findAndGetSint32(tag, v).good()) return (int)v;
    return dflt;
}

int get_us(DcmItem *it, const DcmTagKey &tag, int dflt) {
    Uint16 v;
    if (it && it->findAndGetUint16(tag, v).good()) return (int)v;
    return dflt;
}

/* 1 when all n values are present and numeric. */
int get_doubles(DcmItem *it, const DcmTagKey &tag, double *dst, int n) {
    if (!it) return 0;
    double tmp[6];
    for (int i = 0; i < n; i++)
        if (it->findAndGetFloat64(tag, tmp[i], (unsigned long)i).bad() || !std::isfinite(tmp[i]))
            return 0;
    std::copy(tmp, tmp + n, dst);
    return 1;
}

DcmItem *first_item(DcmItem *it, const DcmTagKey &seq) {
    DcmItem *out = nullptr;
    if (it && it->findAndGetSequenceItem(seq, out, 0).good()) return out;
    return nullptr;
}

int frame_count(DcmDataset *ds) {
    int n = get_int(ds, DCM_NumberOfFrames, 1);
    return n > 0 ? n : 1;
}

bool is_enhanced(DcmDataset *ds) {
    return ds->tagExists(DCM_PerFrameFunctionalGroupsSequence) ||
           ds->tagExists(DCM_SharedFunctionalGroupsSequence);
}

/* ---- geometry ------------------------------------------------------------------ */

struct frame_info {
    os_slice_geom g;
    int has_position, has_orientation;
};

/* The functional group macro `seq` for a frame of an Enhanced CT: a per-frame value
 * overrides the shared one. */
DcmItem *group(DcmDataset *ds, int frame, const DcmTagKey &seq) {
    DcmItem *per = nullptr, *shared = first_item(ds, DCM_SharedFunctionalGroupsSequence);
    ds->findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, per, frame);
    DcmItem *g = first_item(per, seq);
    return g ? g : first_item(shared, seq);
}

frame_info frame_geometry(DcmDataset *ds, int frame) {
    frame_info f;
    memset(&f, 0, sizeof f);
    f.g.frame = frame;
    f.g.rows = get_us(ds, DCM_Rows, 0);
    f.g.cols = get_us(ds, DCM_Columns, 0);
    f.g.rescale_slope = 1.0;
    DcmItem *plane = ds, *orient = ds, *measures = ds, *rescale = ds;
    if (is_enhanced(ds)) {
        plane = group(ds, frame, DCM_PlanePositionSequence);
        orient = group(ds, frame, DCM_PlaneOrientationSequence);
        measures = group(ds, frame, DCM_PixelMeasuresSequence);
        rescale = group(ds, frame, DCM_PixelValueTransformationSequence);
        /* Some writers keep rescale at the top level even in enhanced objects. */
        if (!rescale) rescale = ds;
    }
    f.has_position = get_doubles(plane, DCM_ImagePositionPatient, f.g.position, 3);
    f.has_orientation = get_doubles(orient, DCM_ImageOrientationPatient, f.g.orientation, 6);
    get_doubles(measures, DCM_PixelSpacing, f.g.pixel_spacing, 2);
    get_doubles(measures, DCM_SliceThickness, &f.g.thickness, 1);
    double v;
    if (get_doubles(rescale, DCM_RescaleSlope, &v, 1) && v != 0) f.g.rescale_slope = v;
    if (get_doubles(rescale, DCM_RescaleIntercept, &v, 1)) f.g.rescale_intercept = v;
    return f;
}

/* ---- pixel data presence ------------------------------------------------------- */

DcmPixelData *pixel_data(DcmDataset *ds) {
    DcmElement *e = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, e).bad() || !e) return nullptr;
    if (e->ident() != EVR_PixelData) return nullptr;
    return static_cast<DcmPixelData *>(e);
}

DcmPixelSequence *pixel_sequence(DcmDataset *ds, DcmPixelData *pd) {
    DcmPixelSequence *seq = nullptr;
    if (pd->getEncapsulatedRepresentation(ds->getOriginalXfer(), nullptr, seq).bad()) return nullptr;
    return seq;
}

bool pixel_data_complete(DcmDataset *ds) {
    DcmPixelData *pd = pixel_data(ds);
    if (!pd) return false;
    if (DcmXfer(ds->getOriginalXfer()).isEncapsulated()) {
        DcmPixelSequence *seq = pixel_sequence(ds, pd);
        /* Item 0 is the Basic Offset Table; at least one fragment must follow. A frame
         * may span several fragments, so fewer fragments than frames is still whole
         * only when the offset table says so; a lone fragment is accepted as is. */
        return seq && seq->card() >= 2;
    }
    unsigned long long need = (unsigned long long)get_us(ds, DCM_Rows, 0) *
                              (unsigned long long)get_us(ds, DCM_Columns, 0) *
                              (unsigned long long)frame_count(ds) *
                              (unsigned long long)get_us(ds, DCM_SamplesPerPixel, 1) *
                              (unsigned long long)get_us(ds, DCM_BitsAllocated, 0) / 8;
    return need > 0 && pd->getLength() >= need;
}

/* ---- header -------------------------------------------------------------------- */

int read_header(const char *path, os_dicom_header *out, os_error *err) {
    memset(out, 0, sizeof *out);
    DcmFileFormat ff;
    int rc = load(path, ff, k_header_max_read, err);
    if (rc < 0) return rc;
    DcmDataset *ds = ff.getDataset();

    get_string(ds, DCM_SOPClassUID, out->sop_class_uid, sizeof out->sop_class_uid);
    get_string(ds, DCM_SOPInstanceUID, out->sop_instance_uid, sizeof out->sop_instance_uid);
    get_string(ds, DCM_StudyInstanceUID, out->study_uid, sizeof out->study_uid);
    get_string(ds, DCM_SeriesInstanceUID, out->series_uid, sizeof out->series_uid);
    get_string(ff.getMetaInfo(), DCM_TransferSyntaxUID, out->transfer_syntax_uid,
               sizeof out->transfer_syntax_uid);
    if (!out->transfer_syntax_uid[0]) {
        /* A file without a meta header: report the syntax DCMTK detected. */
        const char *id = DcmXfer(ds->getOriginalXfer()).getXferID();
        snprintf(out->transfer_syntax_uid, sizeof out->transfer_syntax_uid, "%s", id ? id : "");
    }
    get_string(ds, DCM_Modality, out->modality, sizeof out->modality);
    get_string(ds, DCM_SeriesDescription, out->series_description, sizeof out->series_description);
    get_string(ds, DCM_PatientSex, out->patient_sex, sizeof out->patient_sex);
    get_string(ds, DCM_ImageType, out->image_type, sizeof out->image_type);
    get_string(ds, DCM_ConvolutionKernel, out->convolution_kernel, sizeof out->convolution_kernel);
    if (!out->convolution_kernel[0] && is_enhanced(ds)) {
        DcmItem *recon = group(ds, 0, DCM_CTReconstructionSequence);
        get_string(recon, DCM_ConvolutionKernel, out->convolution_kernel,
                   sizeof out->convolution_kernel);
    }
    if (!out->image_type[0] && is_enhanced(ds)) {
        DcmItem *ft = group(ds, 0, DCM_CTImageFrameTypeSequence);
        get_string(ft, DCM_FrameType, out->image_type, sizeof out->image_type);
    }
    out->series_number = get_int(ds, DCM_SeriesNumber, 0);
    out->instance_number = get_int(ds, DCM_InstanceNumber, 0);

    frame_info f = frame_geometry(ds, 0);
    out->has_orientation = f.has_orientation;
    memcpy(out->orientation, f.g.orientation, sizeof out->orientation);
    out->has_position = f.has_position;
    memcpy(out->position, f.g.position, sizeof out->position);
    memcpy(out->position_last, f.g.position, sizeof out->position_last);
    out->slice_thickness = f.g.thickness;
    memcpy(out->pixel_spacing, f.g.pixel_spacing, sizeof out->pixel_spacing);
    out->rows = f.g.rows;
    out->cols = f.g.cols;
    out->frames = frame_count(ds);
    if (out->frames > 1 && is_enhanced(ds)) {
        /* Selection needs the z extent a multi-frame object covers, not only its first frame. */
        frame_info last = frame_geometry(ds, out->frames - 1);
        if (last.has_position) memcpy(out->position_last, last.g.position, sizeof out->position_last);
    }
    double size;
    if (get_doubles(ds, DCM_PatientSize, &size, 1) && size > 0) out->patient_size_m = size;
    out->pixel_data_ok = pixel_data_complete(ds) ? 1 : 0;
    return 0;
}

/* ---- geometry ------------------------------------------------------------------ */

int read_geometry(const char *path, os_slice_geom **frames, size_t *n, os_error *err) {
    *frames = nullptr;
    *n = 0;
    DcmFileFormat ff;
    int rc = load(path, ff, k_header_max_read, err);
    if (rc < 0) return rc;
    DcmDataset *ds = ff.getDataset();
    int count = frame_count(ds);
    os_slice_geom *g = static_cast<os_slice_geom *>(calloc((size_t)count, sizeof *g));
    if (!g) return os_error_set(err, -ENOMEM, "%s: out of memory for %d frames", path, count);
    char sop_class[OS_UID_MAX] = "", sop_uid[OS_UID_MAX] = "";
    get_string(ds, DCM_SOPClassUID, sop_class, sizeof sop_class);
    get_string(ds, DCM_SOPInstanceUID, sop_uid, sizeof sop_uid);
    for (int i = 0; i < count; i++) {
        g[i] = frame_geometry(ds, i).g;
        memcpy(g[i].sop_class_uid, sop_class, sizeof sop_class);
        memcpy(g[i].sop_instance_uid, sop_uid, sizeof sop_uid);
    }
    *frames = g;
    *n = (size_t)count;
    return 0;
}

/* ---- pixels -------------------------------------------------------------------- */

struct pixel_format {
    int bits_allocated, bits_stored, high_bit, is_signed;
};

/* Stored value of one native sample: the BitsStored bits ending at HighBit, sign
 * extended when PixelRepresentation says two's complement. */
inline int32_t stored_value(uint32_t raw, const pixel_format &pf) {
    int shift = pf.high_bit + 1 - pf.bits_stored;
    uint32_t v = (raw >> shift) & ((1u << pf.bits_stored) - 1u);
    if (pf.is_signed && (v & (1u << (pf.bits_stored - 1)))) return (int32_t)v - (int32_t)(1u << pf.bits_stored);
    return (int32_t)v;
}

inline int16_t to_hu(int32_t stored, double slope, double intercept) {
    double hu = std::nearbyint((double)stored * slope + intercept);
    if (!(hu >= -32768.0)) return -32768; /* also catches NaN */
    if (hu > 32767.0) return 32767;
    return (int16_t)hu;
}

int native_frame(const char *path, DcmPixelData *pd, const pixel_format &pf, int frame, size_t npix,
                 std::vector<int32_t> &out, os_error *err) {
    size_t first = (size_t)frame * npix;
    out.resize(npix);
    if (pf.bits_allocated == 16) {
        Uint16 *a = nullptr;
        if (pd->getUint16Array(a).bad() || !a)
            return os_error_set(err, -EIO, "%s: Pixel Data cannot be read as 16-bit words", path);
        size_t have = pd->getLength() / 2;
        if (have < first + npix)
            return os_error_set(err, -EIO,
                                "%s: Pixel Data has %zu bytes, frame %d needs bytes up to %zu", path,
                                have * 2, frame, (first + npix) * 2);
        for (size_t i = 0; i < npix; i++) out[i] = stored_value(a[first + i], pf);
    } else {
        Uint8 *a = nullptr;
        if (pd->getUint8Array(a).bad() || !a)
            return os_error_set(err, -EIO, "%s: Pixel Data cannot be read as bytes", path);
        size_t have = pd->getLength();
        if (have < first + npix)
            return os_error_set(err, -EIO,
                                "%s: Pixel Data has %zu bytes, frame %d needs bytes up to %zu", path,
                                have, frame, first + npix);
        for (size_t i = 0; i < npix; i++) out[i] = stored_value(a[first + i], pf);
    }
    return 0;
}

/* Byte ranges (item index lists) of each frame in an encapsulated pixel sequence. */
int frame_fragments(const char *path, DcmPixelSequence *seq, int frames, int frame,
                    std::vector<unsigned long> &items, os_error *err) {
    unsigned long card = seq->card();
    if (card < 2) return os_error_set(err, -EIO, "%s: encapsulated Pixel Data has no fragments", path);
    unsigned long nfrag = card - 1;
    items.clear();
    if (frames == 1) {
        for (unsigned long i = 1; i < card; i++) items.push_back(i);
        return 0;
    }
    if (nfrag == (unsigned long)frames) {
        items.push_back((unsigned long)frame + 1);
        return 0;
    }
    /* Several fragments per frame: the Basic Offset Table, when filled, gives each
     * frame's first byte counted from the first fragment's item tag. */
    DcmPixelItem *bot = nullptr;
    Uint8 *botv = nullptr;
    if (seq->getItem(bot, 0).good() && bot->getLength() >= 4u * (Uint32)frames &&
        bot->getUint8Array(botv).good() && botv) {
        auto offset = [&](int f) -> unsigned long long {
            if (f >= frames) return ULLONG_MAX;
            const Uint8 *p = botv + 4 * f;
            return (unsigned long long)p[0] | ((unsigned long long)p[1] << 8) |
                   ((unsigned long long)p[2] << 16) | ((unsigned long long)p[3] << 24);
        };
        unsigned long long pos = 0, lo = offset(frame), hi = offset(frame + 1);
        for (unsigned long i = 1; i < card; i++) {
            DcmPixelItem *it = nullptr;
            if (seq->getItem(it, i).bad()) break;
            if (pos >= lo && pos < hi) items.push_back(i);
            pos += 8 + it->getLength();
        }
        if (!items.empty()) return 0;
    }
    /* No usable offset table: a frame starts at each fragment that opens a codestream. */
    int f = -1;
    for (unsigned long i = 1; i < card; i++) {
        DcmPixelItem *it = nullptr;
        Uint8 *v = nullptr;
        if (seq->getItem(it, i).bad()) break;
        bool starts = it->getLength() >= 2 && it->getUint8Array(v).good() && v &&
                      ((v[0] == 0xff && v[1] == 0x4f) || (it->getLength() >= 12 && v[4] == 'j' &&
                                                           v[5] == 'P'));
        if (starts || f < 0) f++;
        if (f == frame) items.push_back(i);
    }
    if (items.empty())
        return os_error_set(err, -EIO, "%s: frame %d not found among %lu JPEG 2000 fragments", path,
                            frame, nfrag);
    return 0;
}

int j2k_frame(const char *path, DcmDataset *ds, DcmPixelData *pd, const pixel_format &pf,
              int frames, int frame, int rows, int cols, std::vector<int32_t> &out, os_error *err) {
    DcmPixelSequence *seq = pixel_sequence(ds, pd);
    if (!seq) return os_error_set(err, -EIO, "%s: JPEG 2000 Pixel Data is not encapsulated", path);
    std::vector<unsigned long> items;
    int rc = frame_fragments(path, seq, frames, frame, items, err);
    if (rc < 0) return rc;
    std::vector<uint8_t> code;
    for (unsigned long i : items) {
        DcmPixelItem *it = nullptr;
        Uint8 *v = nullptr;
        if (seq->getItem(it, i).bad() || it->getUint8Array(v).bad())
            return os_error_set(err, -EIO, "%s: JPEG 2000 fragment %lu cannot be read", path, i);
        if (v) code.insert(code.end(), v, v + it->getLength());
    }
    out.resize((size_t)rows * (size_t)cols);
    int sgnd = 0, prec = 0;
    rc = os_dicom_internal_j2k_decode(code.data(), code.size(), rows, cols, out.data(), &sgnd,
                                      &prec, err);
    if (rc < 0) return os_error_wrap(err, "%s: frame %d", path, frame);
    /* Some writers code signed pixels as unsigned codestreams; the DICOM header is
     * authoritative for the sign, so reinterpret the stored bits as two's complement. */
    if (pf.is_signed && !sgnd) {
        int bits = std::min(pf.bits_stored, 31);
        int32_t half = (int32_t)1 << (bits - 1), full = (int32_t)((uint32_t)1 << bits);
        for (int32_t &v : out)
            if (v >= half) v -= full;
    }
    return 0;
}

bool decodable_by_dcmtk(E_TransferSyntax x) {
    return x == EXS_JPEGProcess14SV1 || x == EXS_JPEGProcess14 || x == EXS_JPEGLSLossless ||
           x == EXS_JPEGLSLossy || x == EXS_RLELossless;
}

int read_frame_hu(const char *path, int frame, int16_t *dst, int rows, int cols, os_error *err) {
    DcmFileFormat ff;
    int rc = load(path, ff, UINT32_MAX, err);
    if (rc < 0) return rc;
    DcmDataset *ds = ff.getDataset();
    int frames = frame_count(ds);
    int r = get_us(ds, DCM_Rows, 0), c = get_us(ds, DCM_Columns, 0);
    if (frame < 0 || frame >= frames)
        return os_error_set(err, -EINVAL, "%s: frame %d requested, file has %d", path, frame, frames);
    if (r != rows || c != cols)
        return os_error_set(err, -EINVAL, "%s: image is %d×%d, caller expected %d×%d", path, c, r,
                            cols, rows);
    if (get_us(ds, DCM_SamplesPerPixel, 1) != 1)
        return os_error_set(err, -ENOTSUP, "%s: %d samples per pixel, CT must be greyscale", path,
                            get_us(ds, DCM_SamplesPerPixel, 1));
    pixel_format pf;
    pf.bits_allocated = get_us(ds, DCM_BitsAllocated, 0);
    pf.bits_stored = get_us(ds, DCM_BitsStored, pf.bits_allocated);
    pf.high_bit = get_us(ds, DCM_HighBit, pf.bits_stored - 1);
    pf.is_signed = get_us(ds, DCM_PixelRepresentation, 0) == 1;
    if (pf.bits_allocated != 8 && pf.bits_allocated != 16)
        return os_error_set(err, -ENOTSUP, "%s: BitsAllocated %d is not supported (8 or 16)", path,
                            pf.bits_allocated);
    if (pf.bits_stored < 1 || pf.bits_stored > pf.bits_allocated || pf.high_bit < pf.bits_stored - 1 ||
        pf.high_bit >= pf.bits_allocated)
        return os_error_set(err, -EINVAL, "%s: BitsStored %d / HighBit %d do not fit BitsAllocated %d",
                            path, pf.bits_stored, pf.high_bit, pf.bits_allocated);
    DcmPixelData *pd = pixel_data(ds);
    if (!pd) return os_error_set(err, -EINVAL, "%s: no Pixel Data", path);

    E_TransferSyntax xfer = ds->getOriginalXfer();
    DcmXfer xf(xfer);
    size_t npix = (size_t)rows * (size_t)cols;
    std::vector<int32_t> stored;
    if (xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000) {
        rc = j2k_frame(path, ds, pd, pf, frames, frame, rows, cols, stored, err);
    } else if (xf.isEncapsulated()) {
        if (!decodable_by_dcmtk(xfer))
            return os_error_set(err, -ENOTSUP, "%s: unsupported transfer syntax %s (%s%s)", path,
                                xf.getXferID(), xf.getXferName(), xf.isLossy() ? " is lossy" : "");
        os_dicom_internal_register_codecs();
        OFCondition st = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
        if (st.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
            return os_error_set(err, -EIO, "%s: cannot decompress %s: %s", path, xf.getXferName(),
                                st.bad() ? st.text() : "no decoder produced pixels");
        pd = pixel_data(ds);
        if (!pd) return os_error_set(err, -EIO, "%s: Pixel Data vanished while decompressing", path);
        rc = native_frame(path, pd, pf, frame, npix, stored, err);
    } else {
        rc = native_frame(path, pd, pf, frame, npix, stored, err);
    }
    if (rc < 0) return rc;

    frame_info f = frame_geometry(ds, frame);
    for (size_t i = 0; i < npix; i++)
        dst[i] = to_hu(stored[i], f.g.rescale_slope, f.g.rescale_intercept);
    return 0;
}

template <typename F> int guarded(const char *path, os_error *err, F fn) {
    try {
        return fn();
    } catch (const std::bad_alloc &) {
        return os_error_set(err, -ENOMEM, "%s: out of memory", path);
    } catch (const std::exception &e) {
        return os_error_set(err, -EIO, "%s: %s", path, e.what());
    } catch (...) {
        return os_error_set(err, -EIO, "%s: unexpected C++ exception", path);
    }
}

} // namespace

extern "C" int os_dicom_read_header(const char *path, os_dicom_header *out, os_error *err) {
    if (!path || !out) return os_error_set(err, -EINVAL, "os_dicom_read_header: NULL argument");
    return guarded(path, err, [&] { return read_header(path, out, err); });
}

extern "C" int os_dicom_read_geometry(const char *path, os_slice_geom **frames, size_t *n,
                                      os_error *err) {
    if (!path || !frames || !n)
        return os_error_set(err, -EINVAL, "os_dicom_read_geometry: NULL argument");
    return guarded(path, err, [&] { return read_geometry(path, frames, n, err); });
}

extern "C" int os_dicom_read_frame_hu(const char *path, int frame, int16_t *dst, int rows, int cols,
                                      os_error *err) {
    if (!path || !dst || rows <= 0 || cols <= 0)
        return os_error_set(err, -EINVAL, "os_dicom_read_frame_hu: invalid argument");
    return guarded(path, err, [&] { return read_frame_hu(path, frame, dst, rows, cols, err); });
}
