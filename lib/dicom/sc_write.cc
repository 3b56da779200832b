/* lib/dicom: one report page as a single-frame RGB Secondary Capture Image (PS3.3 A.8.1) in a
 * new series of the CT's study: Modality OT, ConversionType WSD, DERIVED\SECONDARY\OTHER,
 * BurnedInAnnotation YES, every analysed CT instance as a source image, uncompressed. No
 * patient geometry (position, orientation, frame of reference, pixel spacing): a page is a
 * picture, not a slice, and viewers must not try to locate it in the patient. */
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include "osteoscout/dicom_report.h"
#include "sr_common.h"

using namespace os_report_internal;

namespace {

#define OS_SOP_SC "1.2.840.10008.5.1.4.1.1.7"

struct writer {
    DcmItem &ds;
    OFCondition st = EC_Normal;
    void put(const DcmTagKey &tag, const std::string &v) {
        if (st.good()) st = ds.putAndInsertString(tag, v.c_str());
    }
    void put_us(const DcmTagKey &tag, Uint16 v) {
        if (st.good()) st = ds.putAndInsertUint16(tag, v);
    }
};

int write_sc(const os_report_page *page, int instance_number, const os_report_source *src,
             const os_report_opts *o, const char *series_uid, const char *path, char sop_uid[OS_UID_MAX],
             os_error *err) {
    setup_dcmtk();
    DcmFileFormat ctff;
    int rc = load_ct(src->ct_path, ctff, err);
    if (rc < 0) return os_error_wrap(err, "SC %s", path);
    DcmDataset &ct = *ctff.getDataset();
    std::string ct_class = src->sop_class_uid && *src->sop_class_uid ? src->sop_class_uid
                                                                      : ct_string(ct, DCM_SOPClassUID);

    char uid[OS_UID_MAX];
    os_dicom_new_uid(uid);
    std::string da, tm;
    now_da_tm(da, tm);
    char num[16];

    DcmFileFormat ff;
    DcmDataset *ds = ff.getDataset();
    writer w{*ds};
    /* SOP Common */
    w.put(DCM_SOPClassUID, OS_SOP_SC);
    w.put(DCM_SOPInstanceUID, uid);
    w.put(DCM_InstanceCreationDate, da);
    w.put(DCM_InstanceCreationTime, tm);
    /* Patient, General Study, Patient Study: the CT's, verbatim */
    if (w.st.good()) w.st = copy_patient_study(ct, *ds);
    /* General Series */
    w.put(DCM_Modality, "OT");
    w.put(DCM_SeriesInstanceUID, series_uid);
    snprintf(num, sizeof num, "%d", o ? o->sc_series_number : 9001);
    w.put(DCM_SeriesNumber, num);
    w.put(DCM_SeriesDate, da);
    w.put(DCM_SeriesTime, tm);
    w.put(DCM_SeriesDescription, "OsteoScout report (automated, to be reviewed)");
    /* Type 2C: a validator cannot tell the trunk is unpaired without it; empty is honest. */
    w.put(DCM_Laterality, "");
    /* General Equipment, SC Equipment */
    w.put(DCM_Manufacturer, "OsteoScout");
    w.put(DCM_ConversionType, "WSD");
    w.put(DCM_SecondaryCaptureDeviceManufacturer, "OsteoScout");
    w.put(DCM_SecondaryCaptureDeviceManufacturerModelName, "OsteoScout");
    /* General Image, SC Image */
    snprintf(num, sizeof num, "%d", instance_number);
    w.put(DCM_InstanceNumber, num);
    w.put(DCM_PatientOrientation, "");
    w.put(DCM_ContentDate, da);
    w.put(DCM_ContentTime, tm);
    w.put(DCM_DateOfSecondaryCapture, da);
    w.put(DCM_TimeOfSecondaryCapture, tm);
    w.put(DCM_ImageType, "DERIVED\\SECONDARY\\OTHER");
    std::string title(page->title, strnlen(page->title, sizeof page->title));
    w.put(DCM_DerivationDescription, title.empty() ? "OsteoScout report page" : title);
    if (!title.empty()) w.put(DCM_ImageComments, title);
    w.put(DCM_BurnedInAnnotation, "YES");
    w.put(DCM_RecognizableVisualFeatures, "NO");
    w.put(DCM_LossyImageCompression, "00");
    for (size_t i = 0; w.st.good() && i < src->n_instances; i++) {
        const char *ref = src->sop_instance_uids[i];
        if (!ref || !*ref) continue;
        DcmItem *item = nullptr;
        w.st = ds->findOrCreateSequenceItem(DCM_SourceImageSequence, item, -2);
        if (w.st.good()) w.st = item->putAndInsertString(DCM_ReferencedSOPClassUID, ct_class.c_str());
        if (w.st.good()) w.st = item->putAndInsertString(DCM_ReferencedSOPInstanceUID, ref);
        DcmItem *purpose = nullptr;
        if (w.st.good()) w.st = item->findOrCreateSequenceItem(DCM_PurposeOfReferenceCodeSequence, purpose, -2);
        if (w.st.good()) w.st = purpose->putAndInsertString(DCM_CodeValue, "121322");
        if (w.st.good()) w.st = purpose->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
        if (w.st.good())
            w.st = purpose->putAndInsertString(DCM_CodeMeaning, "Source image for image processing operation");
    }
    /* Image Pixel: 8-bit RGB, colour-by-pixel */
    w.put_us(DCM_SamplesPerPixel, 3);
    w.put(DCM_PhotometricInterpretation, "RGB");
    w.put_us(DCM_PlanarConfiguration, 0);
    w.put_us(DCM_Rows, (Uint16)page->rows);
    w.put_us(DCM_Columns, (Uint16)page->cols);
    w.put_us(DCM_BitsAllocated, 8);
    w.put_us(DCM_BitsStored, 8);
    w.put_us(DCM_HighBit, 7);
    w.put_us(DCM_PixelRepresentation, 0);
    if (w.st.good()) {
        /* rows*cols*3 is even or padded by DCMTK on write. */
        unsigned long n = (unsigned long)page->rows * (unsigned long)page->cols * 3ul;
        w.st = ds->putAndInsertUint8Array(DCM_PixelData, page->rgb, n);
    }
    if (w.st.bad()) return os_error_set(err, -EINVAL, "SC %s: cannot set an attribute: %s", path, w.st.text());

    OFCondition st = ff.saveFile(path, EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL,
                                 EPD_withoutPadding, 0, 0, EWM_createNewMeta);
    if (st.bad()) return os_error_set(err, -EIO, "SC %s: cannot write: %s", path, st.text());
    snprintf(sop_uid, OS_UID_MAX, "%s", uid);
    return 0;
}

} // namespace

extern "C" int os_dicom_write_sc(const os_report_page *page, int instance_number, const os_report_source *src,
                                 const os_report_opts *o, const char *series_uid, const char *path,
                                 char sop_uid[OS_UID_MAX], os_error *err) {
    if (!page || !sop_uid) return os_error_set(err, -EINVAL, "os_dicom_write_sc: NULL argument");
    int rc = check_common(src, series_uid, path, "os_dicom_write_sc", err);
    if (rc < 0) return rc;
    if (!page->rgb || page->rows <= 0 || page->cols <= 0 || page->rows > 65535 || page->cols > 65535)
        return os_error_set(err, -EINVAL, "SC %s: page \"%s\" has no valid %d×%d RGB image", path, page->title,
                            page->cols, page->rows);
    try {
        return write_sc(page, instance_number, src, o, series_uid, path, sop_uid, err);
    } catch (const std::exception &e) {
        return os_error_set(err, -ENOMEM, "SC %s: cannot write: %s", path, e.what());
    } catch (...) {
        return os_error_set(err, -EIO, "SC %s: cannot write: unexpected C++ exception", path);
    }
}
