/* lib/dicom: writing single-frame CT Image Storage files (the phantom's output and the
 * tests' input) in every transfer syntax the node accepts. JPEG lossless, JPEG-LS and
 * RLE go through DCMTK's encoders; JPEG 2000 through OpenJPEG, with the encapsulated
 * pixel sequence built here because open-source DCMTK has no J2K codec. */
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrlerp.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpls/djrparam.h"

#include "codecs.h"
#include "j2k.h"
#include "osteoscout/dicom.h"
#include "uid.h"

namespace {

/* DS is limited to 16 characters; keep as many significant digits as fit. */
void format_ds(double v, char out[17]) {
    for (int prec = 15; prec >= 1; prec--) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strlen(buf) <= 16) {
            memcpy(out, buf, strlen(buf) + 1);
            return;
        }
    }
    snprintf(out, 17, "0");
}

std::string ds_list(const double *v, int n) {
    std::string s;
    for (int i = 0; i < n; i++) {
        char buf[17];
        format_ds(v[i], buf);
        if (i) s += '\\';
        s += buf;
    }
    return s;
}

const char *or_empty(const char *s) { return s ? s : ""; }

struct writer {
    DcmDataset *ds;
    OFCondition st = EC_Normal;
    void put(const DcmTagKey &tag, const char *value) {
        if (st.good()) st = ds->putAndInsertString(tag, or_empty(value));
    }
    void put(const DcmTagKey &tag, const std::string &value) { put(tag, value.c_str()); }
    void put_ds(const DcmTagKey &tag, double v) {
        char buf[17];
        format_ds(v, buf);
        put(tag, buf);
    }
    void put_is(const DcmTagKey &tag, int v) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", v);
        put(tag, buf);
    }
    void put_us(const DcmTagKey &tag, Uint16 v) {
        if (st.good()) st = ds->putAndInsertUint16(tag, v);
    }
};

void put_attributes(const os_ct_write *w, writer &o) {
    char frame_of_ref[OS_UID_MAX];
    os_dicom_internal_derived_uid(w->series_uid, frame_of_ref);
    double slope = w->rescale_slope != 0 ? w->rescale_slope : 1.0;

    /* SOP Common, Patient, General Study */
    o.put(DCM_SpecificCharacterSet, "ISO_IR 100");
    o.put(DCM_ImageType, w->image_type ? w->image_type : "ORIGINAL\\PRIMARY\\AXIAL");
    o.put(DCM_SOPClassUID, OS_SOP_CT);
    o.put(DCM_SOPInstanceUID, w->sop_uid);
    o.put(DCM_StudyDate, w->study_date);
    o.put(DCM_SeriesDate, w->study_date);
    o.put(DCM_ContentDate, w->study_date);
    o.put(DCM_StudyTime, w->study_time);
    o.put(DCM_SeriesTime, w->study_time);
    o.put(DCM_ContentTime, w->study_time);
    o.put(DCM_AccessionNumber, w->accession_number);
    o.put(DCM_Modality, "CT");
    o.put(DCM_Manufacturer, w->manufacturer);
    o.put(DCM_ReferringPhysicianName, "");
    if (w->study_description) o.put(DCM_StudyDescription, w->study_description);
    if (w->series_description) o.put(DCM_SeriesDescription, w->series_description);
    o.put(DCM_PatientName, w->patient_name);
    o.put(DCM_PatientID, w->patient_id);
    o.put(DCM_PatientBirthDate, "");
    o.put(DCM_PatientSex, w->patient_sex);
    if (w->patient_age) o.put(DCM_PatientAge, w->patient_age);
    if (w->patient_size_m > 0) o.put_ds(DCM_PatientSize, w->patient_size_m);

    /* CT Image, General Series, Frame of Reference, General Image, Image Plane */
    o.put(DCM_SliceThickness, ds_list(&w->slice_thickness, 1));
    o.put_ds(DCM_KVP, w->kvp);
    o.put(DCM_ConvolutionKernel, w->convolution_kernel);
    o.put(DCM_PatientPosition, "HFS");
    /* Type 2C: a validator cannot tell the trunk is unpaired without it; empty is honest. */
    o.put(DCM_Laterality, "");
    o.put(DCM_StudyInstanceUID, w->study_uid);
    o.put(DCM_SeriesInstanceUID, w->series_uid);
    o.put(DCM_StudyID, "1");
    o.put_is(DCM_SeriesNumber, w->series_number);
    o.put_is(DCM_AcquisitionNumber, 1);
    o.put_is(DCM_InstanceNumber, w->instance_number);
    o.put(DCM_ImagePositionPatient, ds_list(w->position, 3));
    o.put(DCM_ImageOrientationPatient, ds_list(w->orientation, 6));
    o.put(DCM_FrameOfReferenceUID, frame_of_ref);
    o.put(DCM_PositionReferenceIndicator, "");
    /* Slice location: the position along the slice normal, as scanners write it. */
    const double *r = w->orientation, *c = w->orientation + 3;
    double nrm[3] = {r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]};
    o.put_ds(DCM_SliceLocation,
             nrm[0] * w->position[0] + nrm[1] * w->position[1] + nrm[2] * w->position[2]);

    /* Image Pixel, VOI LUT */
    o.put_us(DCM_SamplesPerPixel, 1);
    o.put(DCM_PhotometricInterpretation, "MONOCHROME2");
    o.put_us(DCM_Rows, (Uint16)w->rows);
    o.put_us(DCM_Columns, (Uint16)w->cols);
    o.put(DCM_PixelSpacing, ds_list(w->pixel_spacing, 2));
    o.put_us(DCM_BitsAllocated, 16);
    o.put_us(DCM_BitsStored, 16);
    o.put_us(DCM_HighBit, 15);
    o.put_us(DCM_PixelRepresentation, 1);
    /* Every syntax we write is lossless, so the image has never been lossy compressed. */
    o.put(DCM_LossyImageCompression, "00");
    o.put(DCM_WindowCenter, "40");
    o.put(DCM_WindowWidth, "400");
    o.put_ds(DCM_RescaleIntercept, w->rescale_intercept);
    o.put_ds(DCM_RescaleSlope, slope);
    o.put(DCM_RescaleType, "HU");
}

struct ts_info {
    const char *uid;
    E_TransferSyntax xfer;
};

const ts_info k_syntaxes[] = {
    {OS_TS_IMPLICIT_LE, EXS_LittleEndianImplicit},
    {OS_TS_EXPLICIT_LE, EXS_LittleEndianExplicit},
    {OS_TS_JPEG_LOSSLESS_SV1, EXS_JPEGProcess14SV1},
    {OS_TS_JPEG_LS_LOSSLESS, EXS_JPEGLSLossless},
    {OS_TS_RLE, EXS_RLELossless},
    {OS_TS_J2K_LOSSLESS, EXS_JPEG2000LosslessOnly},
};

/* J2K: one codestream, one fragment, after an empty Basic Offset Table (which
 * single-frame images may leave empty). */
int put_j2k_pixels(const os_ct_write *w, const int16_t *stored, DcmDataset *ds, const char *path,
                   os_error *err) {
    size_t n = (size_t)w->rows * (size_t)w->cols;
    std::vector<int32_t> samples(stored, stored + n);
    uint8_t *code = nullptr;
    size_t code_len = 0;
    int rc = os_dicom_internal_j2k_encode(samples.data(), w->rows, w->cols, 16, 1, &code,
                                          &code_len, err);
    if (rc < 0) return os_error_wrap(err, "%s", path);
    /* Fragments must have even length; a trailing zero after the EOC marker is the
     * customary padding and decoders ignore it. */
    std::vector<Uint8> frag(code, code + code_len);
    free(code);
    if (frag.size() % 2) frag.push_back(0);

    DcmPixelSequence *seq = new DcmPixelSequence(DCM_PixelSequenceTag);
    seq->insert(new DcmPixelItem(DCM_PixelItemTag));
    DcmPixelItem *item = new DcmPixelItem(DCM_PixelItemTag);
    seq->insert(item);
    OFCondition st = item->putUint8Array(frag.data(), (unsigned long)frag.size());
    DcmPixelData *pd = new DcmPixelData(DCM_PixelData);
    pd->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, seq);
    if (st.good()) st = ds->insert(pd, true);
    else delete pd;
    if (st.bad())
        return os_error_set(err, -EIO, "%s: cannot store the JPEG 2000 pixel data: %s", path,
                            st.text());
    return 0;
}

int write_ct(const os_ct_write *w, const int16_t *stored, const char *path, os_error *err) {
    const char *ts_uid = w->transfer_syntax_uid ? w->transfer_syntax_uid : OS_TS_EXPLICIT_LE;
    const ts_info *ts = nullptr;
    for (const ts_info &t : k_syntaxes)
        if (strcmp(t.uid, ts_uid) == 0) ts = &t;
    if (!ts)
        return os_error_set(err, -ENOTSUP, "%s: cannot write transfer syntax %s", path, ts_uid);
    if (w->rows <= 0 || w->cols <= 0 || w->rows > 65535 || w->cols > 65535)
        return os_error_set(err, -EINVAL, "%s: image size %d×%d is not a valid DICOM size", path,
                            w->cols, w->rows);
    if (!w->study_uid || !w->series_uid || !w->sop_uid || !*w->study_uid || !*w->series_uid ||
        !*w->sop_uid)
        return os_error_set(err, -EINVAL, "%s: study, series and SOP instance UIDs are required",
                            path);

    os_dicom_internal_quiet_dcmtk();
    DcmFileFormat ff;
    DcmDataset *ds = ff.getDataset();
    writer o{ds};
    put_attributes(w, o);
    if (o.st.bad())
        return os_error_set(err, -EINVAL, "%s: cannot set an attribute: %s", path, o.st.text());

    size_t n = (size_t)w->rows * (size_t)w->cols;
    OFCondition st = EC_Normal;
    if (ts->xfer == EXS_JPEG2000LosslessOnly) {
        int rc = put_j2k_pixels(w, stored, ds, path, err);
        if (rc < 0) return rc;
    } else {
        st = ds->putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16 *>(stored),
                                         (unsigned long)n);
        if (st.bad())
            return os_error_set(err, -EIO, "%s: cannot store the pixel data: %s", path, st.text());
        DcmRepresentationParameter *param = nullptr;
        DJ_RPLossless jpeg_param(1, 0); /* process 14, selection value 1 */
        DJLSRepresentationParameter jls_param(0, OFTrue);
        DcmRLERepresentationParameter rle_param;
        if (ts->xfer == EXS_JPEGProcess14SV1) param = &jpeg_param;
        if (ts->xfer == EXS_JPEGLSLossless) param = &jls_param;
        if (ts->xfer == EXS_RLELossless) param = &rle_param;
        if (param) {
            os_dicom_internal_register_codecs();
            st = ds->chooseRepresentation(ts->xfer, param);
            if (st.bad() || !ds->canWriteXfer(ts->xfer))
                return os_error_set(err, -EIO, "%s: compressing to %s failed: %s", path, ts->uid,
                                    st.bad() ? st.text() : "the encoder produced nothing");
        }
    }
    st = ff.saveFile(path, ts->xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0,
                     EWM_createNewMeta);
    if (st.bad()) return os_error_set(err, -EIO, "%s: cannot write: %s", path, st.text());
    return 0;
}

} // namespace

extern "C" int os_dicom_write_ct(const os_ct_write *w, const int16_t *stored, const char *path,
                                 os_error *err) {
    if (!w || !stored || !path) return os_error_set(err, -EINVAL, "os_dicom_write_ct: NULL argument");
    try {
        return write_ct(w, stored, path, err);
    } catch (const std::exception &e) {
        return os_error_set(err, -ENOMEM, "%s: cannot write: %s", path, e.what());
    } catch (...) {
        return os_error_set(err, -EIO, "%s: cannot write: unexpected C++ exception", path);
    }
}
