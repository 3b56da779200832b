/* lib/dicom: the Comprehensive SR that carries OsteoScout's numbers back to PACS.
 *
 * TID 1500 "Imaging Measurement Report" (root 126000, DCM), built with DCMTK's dcmsr/cmr:
 * language en-US, a device observer (TID 1004), the procedure reported, an image library of
 * the CT slices measured on, and TID 1501 measurement groups — one per vertebra, one per
 * muscle level, one per risk model — each with a tracking identifier and tracking UID, its
 * algorithm (TID 4019, added by hand: DCMTK 3.6.7 does not expose it on TID 1501) and NUMs
 * tied by a SCOORD to the slice they were measured on. Codes are in sr_codes.h.
 *
 * A group without a number is invalid TID 1501, so a vertebra or level whose values are all
 * null is left out; so is the whole report when nothing at all was measured. */
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <set>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmsr/cmr/tid1500.h"
#include "dcmtk/dcmsr/dsrdoc.h"

#include "osteoscout/dicom_report.h"
#include "sr_codes.h"
#include "sr_common.h"
#include "uid.h"

using namespace os_report_internal;

namespace {

typedef TID1500_MeasurementReport::TID1501_Measurements group_t;

/* The CT slice and pixel a measurement was made on. */
struct slice_ref {
    bool ok = false;
    std::string sop_class, sop_uid;
    double column = 0, row = 0;
};

bool json_num(const cJSON *o, const char *key, double *v) {
    const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, key) : nullptr;
    if (!cJSON_IsNumber(x) || !std::isfinite(x->valuedouble)) return false;
    *v = x->valuedouble;
    return true;
}

std::string json_str(const cJSON *o, const char *key) {
    const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, key) : nullptr;
    return cJSON_IsString(x) && x->valuestring ? x->valuestring : "";
}

slice_ref parse_ref(const cJSON *owner, const std::string &default_class) {
    slice_ref r;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(owner, "reference");
    if (!cJSON_IsObject(o)) return r;
    r.sop_uid = json_str(o, "sop_instance_uid");
    r.sop_class = json_str(o, "sop_class_uid");
    if (r.sop_class.empty()) r.sop_class = default_class;
    bool have_px = json_num(o, "column", &r.column) && json_num(o, "row", &r.row);
    r.ok = !r.sop_uid.empty() && !r.sop_class.empty() && have_px && r.column >= 0 && r.row >= 0;
    return r;
}

/* One NUM of a group and what qualifies it. */
struct num_item {
    DSRCodedEntryValue concept, unit;
    double value = 0;
    DSRCodedEntryValue topographical; /* TID 300 modifier, may be empty */
    bool mean = false;                /* TID 300 derivation: mean */
    std::string meaning;              /* equivalent meaning of the concept name, may be empty */
};

num_item make_num(const DSRCodedEntryValue &concept, const DSRCodedEntryValue &unit, double value) {
    num_item n;
    n.concept = concept;
    n.unit = unit;
    n.value = value;
    return n;
}

class report_builder {
  public:
    report_builder(DcmItem &ct, const std::string &default_class)
        : ct_(ct), default_class_(default_class), report_(CMR_CID7021::ImagingMeasurementReport) {}

    TID1500_MeasurementReport &report() { return report_; }
    const std::vector<slice_ref> &referenced() const { return referenced_; }
    int groups() const { return groups_; }

    /* The first failure, with what was being done. */
    OFCondition st = EC_Normal;
    std::string failed_at;

    bool check(const OFCondition &c, const char *what) {
        if (st.good() && c.bad()) {
            st = c;
            failed_at = what;
        }
        return st.good();
    }

    void header(const os_report_opts *o, const std::string &device_uid) {
        check(report_.setLanguage(CID5000_Languages::English_US), "language");
        /* The report's constructor includes TID 1600 but leaves it without its root item. */
        if (!report_.getImageLibrary().hasImageLibrary())
            check(report_.getImageLibrary().createNewImageLibrary(), "image library");
        check(report_.getObservationContext().addDeviceObserver(
                  device_uid, o && o->device_name ? o->device_name : "", "OsteoScout", "OsteoScout"),
              "device observer");
        check(report_.addProcedureReported(CMR_CID100::CTUnspecifiedBodyRegion), "procedure reported");
    }

    /* A TID 1501 group; `items` must not be empty. */
    void group(const std::string &tracking_id, const DSRCodedEntryValue &finding,
               const DSRCodedEntryValue &site, const std::vector<num_item> &items, const slice_ref &ref,
               const std::string &algo_name, const std::string &algo_version,
               const DSRCodedEntryValue &eval_concept = DSRCodedEntryValue(),
               const DSRCodedEntryValue &eval_value = DSRCodedEntryValue()) {
        if (!st.good() || items.empty()) return;
        if (groups_ > 0 && !check(report_.addIndividualMeasurements(), "new measurement group")) return;
        group_t &g = report_.getIndividualMeasurements();
        char uid[OS_UID_MAX];
        os_dicom_new_uid(uid);
        check(g.setTrackingIdentifier(tracking_id.c_str()), "tracking identifier");
        check(g.setTrackingUniqueIdentifier(uid), "tracking UID");
        if (finding.isValid()) check(g.setFinding(finding), "finding");
        if (site.isValid()) check(g.addFindingSite(site), "finding site");
        if (ref.ok) add_to_library(ref);
        for (const num_item &n : items) {
            group_t::MeasurementValue mv(format_ds(n.value).c_str(),
                                         CID7181_AbstractMultiDimensionalImageModelComponentUnits(n.unit));
            if (!check(g.addMeasurement(CID7469_GenericIntensityAndSizeMeasurements(n.concept), mv),
                       "measurement"))
                return;
            group_t::TID300_Measurement &m = g.getMeasurement();
            if (n.topographical.isValid())
                check(m.addModifier(OS_CODE_TOPOGRAPHICAL_MODIFIER, n.topographical), "measurement modifier");
            if (n.mean)
                check(m.setDerivation(CID7464_GeneralRegionOfInterestMeasurementModifiers(
                          DSRCodedEntryValue(OS_CODE_MEAN))),
                      "derivation");
            if (!n.meaning.empty())
                check(m.setEquivalentMeaningOfConceptName(n.meaning.c_str()), "equivalent meaning");
            if (ref.ok) {
                DSRSpatialCoordinatesValue point(DSRTypes::GT_Point);
                /* SCOORD pixel coordinates put the centre of the first pixel at 0.5\0.5. */
                point.getGraphicDataList().addItem((Float32)(ref.column + 0.5), (Float32)(ref.row + 0.5));
                check(m.addSpatialCoordinates(OS_CODE_SOURCE_OF_MEASUREMENT, point,
                                              DSRImageReferenceValue(ref.sop_class.c_str(), ref.sop_uid.c_str())),
                      "spatial coordinates");
            }
        }
        if (eval_concept.isValid() && eval_value.isValid())
            check(g.addQualitativeEvaluation(eval_concept, eval_value), "qualitative evaluation");
        /* TID 4019 Algorithm Identification: two HAS CONCEPT MOD TEXT items on the group. */
        if (!algo_name.empty() && !algo_version.empty() && st.good()) {
            if (g.gotoRoot() > 0 && check(g.addExtraContentItem(DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text,
                                                                DSRTypes::AM_belowCurrent),
                                          "algorithm name")) {
                check(g.getCurrentContentItem().setConceptName(OS_CODE_ALGORITHM_NAME), "algorithm name");
                check(g.getCurrentContentItem().setStringValue(algo_name.c_str()), "algorithm name");
                check(g.addExtraContentItem(DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent),
                      "algorithm version");
                check(g.getCurrentContentItem().setConceptName(OS_CODE_ALGORITHM_VERSION), "algorithm version");
                check(g.getCurrentContentItem().setStringValue(algo_version.c_str()), "algorithm version");
            }
        }
        groups_++;
    }

  private:
    void add_to_library(const slice_ref &ref) {
        if (!seen_.insert(ref.sop_uid).second) return;
        referenced_.push_back(ref);
        TID1600_ImageLibrary &lib = report_.getImageLibrary();
        if (!library_group_) {
            if (!check(lib.addImageGroup(), "image library group")) return;
            library_group_ = true;
            /* Descriptors the slices share, from the CT file: everything but its position. */
            static const DcmTagKey shared[] = {
                DCM_SOPClassUID, DCM_Modality, DCM_StudyDate, DCM_StudyTime, DCM_ContentDate,
                DCM_ContentTime, DCM_BodyPartExamined, DCM_FrameOfReferenceUID, DCM_Rows, DCM_Columns,
                DCM_PixelSpacing, DCM_ImageOrientationPatient, DCM_SliceThickness};
            DcmItem common;
            for (const DcmTagKey &t : shared)
                if (ct_.tagExistsWithValue(t)) ct_.findAndInsertCopyOfElement(t, &common);
            OFCondition c = lib.addImageGroupDescriptors(common, TID1600_ImageLibrary::withAllDescriptors);
            if (c != CMR_EC_NoImageLibraryEntryDescriptorsToBeAdded) check(c, "image library descriptors");
        }
        DcmItem entry;
        check(entry.putAndInsertString(DCM_SOPClassUID, ref.sop_class.c_str()), "image library entry");
        check(entry.putAndInsertString(DCM_SOPInstanceUID, ref.sop_uid.c_str()), "image library entry");
        check(entry.putAndInsertString(DCM_Modality, "CT"), "image library entry");
        if (st.good()) {
            OFCondition c = lib.addImageEntry(entry, TID1600_ImageLibrary::withoutDescriptors);
            if (c != CMR_EC_NoImageLibraryEntryDescriptorsToBeAdded) check(c, "image library entry");
        }
    }

    DcmItem &ct_;
    std::string default_class_;
    TID1500_MeasurementReport report_;
    std::set<std::string> seen_;
    std::vector<slice_ref> referenced_;
    bool library_group_ = false;
    int groups_ = 0;
};

void add_vertebrae(report_builder &b, const cJSON *result, const std::string &ct_class,
                   const std::string &sw_name, const std::string &sw_version) {
    const cJSON *verts = cJSON_GetObjectItemCaseSensitive(result, "vertebrae");
    const cJSON *v;
    cJSON_ArrayForEach(v, verts) {
        std::string label = json_str(v, "label");
        if (label.empty()) continue;
        std::vector<num_item> items;
        double x;
        static const struct {
            const char *key, *meaning;
            DSRBasicCodedEntry where;
        } heights[] = {
            {"height_anterior_mm", "Anterior vertebral body height", OS_CODE_ANTERIOR},
            {"height_middle_mm", "Middle vertebral body height", OS_CODE_MID},
            {"height_posterior_mm", "Posterior vertebral body height", OS_CODE_POSTERIOR},
        };
        for (const auto &h : heights)
            if (json_num(v, h.key, &x)) {
                num_item n = make_num(OS_CODE_HEIGHT, OS_UNIT_MM, x);
                n.topographical = h.where;
                n.meaning = h.meaning;
                items.push_back(n);
            }
        if (json_num(v, "ratio_min_max", &x)) items.push_back(make_num(OS_CODE_HEIGHT_RATIO, OS_UNIT_NONE, x));
        double grade = -1;
        bool have_grade = json_num(v, "genant_grade", &grade) && grade >= 0 && grade <= 3;
        if (have_grade) items.push_back(make_num(OS_CODE_GENANT_GRADE, OS_UNIT_GRADE, std::floor(grade)));
        if (json_num(v, "trabecular_hu_mean", &x)) {
            num_item n = make_num(OS_CODE_ATTENUATION, OS_UNIT_HU, x);
            n.mean = true;
            n.meaning = "Mean trabecular attenuation";
            items.push_back(n);
        }
        if (items.empty()) continue;
        DSRCodedEntryValue fracture = have_grade ? DSRCodedEntryValue(grade >= 1 ? OS_CODE_PRESENT : OS_CODE_ABSENT)
                                                 : DSRCodedEntryValue();
        b.group(label + " vertebra", DSRCodedEntryValue(), os_sr_vertebra_code(label.c_str()), items,
                parse_ref(v, ct_class), sw_name, sw_version, DSRCodedEntryValue(OS_CODE_COMPRESSION_FRACTURE),
                fracture);
    }
}

void add_muscle(report_builder &b, const cJSON *result, const std::string &ct_class, const std::string &sw_name,
                const std::string &sw_version) {
    const cJSON *muscle = cJSON_GetObjectItemCaseSensitive(result, "muscle");
    static const char *const levels[] = {"L3", "L1"};
    for (const char *level : levels) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(muscle, level);
        if (!cJSON_IsObject(m)) continue;
        std::vector<num_item> items;
        double x;
        if (json_num(m, "area_cm2", &x)) {
            num_item n = make_num(OS_CODE_AREA, OS_UNIT_CM2, x);
            n.meaning = "Skeletal muscle area";
            items.push_back(n);
        }
        if (json_num(m, "mean_hu", &x)) {
            num_item n = make_num(OS_CODE_ATTENUATION, OS_UNIT_HU, x);
            n.mean = true;
            n.meaning = "Mean skeletal muscle attenuation";
            items.push_back(n);
        }
        if (json_num(m, "index_cm2_m2", &x)) items.push_back(make_num(OS_CODE_SMI, OS_UNIT_CM2_PER_M2, x));
        if (items.empty()) continue;
        b.group(std::string("Skeletal muscle at ") + level, DSRCodedEntryValue(OS_CODE_SKELETAL_MUSCLE),
                os_sr_vertebra_code(level), items, parse_ref(m, ct_class), sw_name, sw_version);
    }
}

/* Risk models see the whole series: their numbers are anchored on the L1 slice (else the
 * first vertebra measured) so that viewers which draw only NUMs with a SCOORD show them. */
slice_ref risk_anchor(const cJSON *result, const std::string &ct_class) {
    const cJSON *verts = cJSON_GetObjectItemCaseSensitive(result, "vertebrae");
    const cJSON *v;
    slice_ref first;
    cJSON_ArrayForEach(v, verts) {
        slice_ref r = parse_ref(v, ct_class);
        if (!r.ok) continue;
        if (json_str(v, "label") == "L1") return r;
        if (!first.ok) first = r;
    }
    return first;
}

void add_models(report_builder &b, const cJSON *result, const std::string &ct_class) {
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(result, "models");
    if (!cJSON_IsObject(models)) return;
    slice_ref anchor = risk_anchor(result, ct_class);
    const cJSON *m;
    cJSON_ArrayForEach(m, models) {
        if (!cJSON_IsObject(m)) continue;
        if (json_str(m, "status") == "failed") continue; /* its error is on the summary page */
        std::string name = json_str(m, "name");
        if (name.empty() && m->string) name = m->string;
        std::string version = json_str(m, "version");
        std::vector<num_item> items;
        double x;
        if (json_num(m, "prevalent_fracture_probability", &x))
            items.push_back(make_num(OS_CODE_VFX_PROB, OS_UNIT_NONE, x));
        /* "cumulative_risk" is what lib/plugin writes (models.h); "risk" is the older name. */
        const cJSON *risk = cJSON_GetObjectItemCaseSensitive(m, "cumulative_risk");
        if (!cJSON_IsObject(risk)) risk = cJSON_GetObjectItemCaseSensitive(m, "risk");
        static const struct {
            const char *key;
            DSRBasicCodedEntry code;
        } horizons[] = {{"1", OS_CODE_VFX_RISK_1Y},
                        {"2", OS_CODE_VFX_RISK_2Y},
                        {"3", OS_CODE_VFX_RISK_3Y},
                        {"4", OS_CODE_VFX_RISK_4Y},
                        {"5", OS_CODE_VFX_RISK_5Y}};
        for (const auto &h : horizons)
            if (json_num(risk, h.key, &x)) items.push_back(make_num(h.code, OS_UNIT_NONE, x));
        if (items.empty()) continue;
        b.group("Vertebral fracture risk (" + name + ")", DSRCodedEntryValue(OS_CODE_COMPRESSION_FRACTURE),
                DSRCodedEntryValue(), items, anchor, name, version.empty() ? "unknown" : version);
    }
}

int write_sr(const cJSON *result, const os_report_source *src, const os_report_opts *o, const char *series_uid,
             const char *path, char sop_uid[OS_UID_MAX], os_error *err) {
    setup_dcmtk();
    DcmFileFormat ctff;
    int rc = load_ct(src->ct_path, ctff, err);
    if (rc < 0) return os_error_wrap(err, "SR %s", path);
    DcmDataset &ct = *ctff.getDataset();
    std::string ct_class = src->sop_class_uid && *src->sop_class_uid ? src->sop_class_uid
                                                                      : ct_string(ct, DCM_SOPClassUID);
    std::string study_uid = ct_string(ct, DCM_StudyInstanceUID);
    std::string ct_series = ct_string(ct, DCM_SeriesInstanceUID);

    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(result, "software");
    std::string sw_name = json_str(sw, "name"), sw_version = json_str(sw, "version");
    if (sw_name.empty()) sw_name = "OsteoScout";

    std::string device_uid = o && o->device_uid ? o->device_uid : "";
    if (device_uid.empty()) {
        char d[OS_UID_MAX];
        std::string seed = std::string("osteoscout:device-observer:") + (o && o->device_name ? o->device_name : "");
        os_dicom_internal_derived_uid(seed.c_str(), d);
        device_uid = d;
    }

    report_builder b(ct, ct_class);
    b.header(o, device_uid);
    add_vertebrae(b, result, ct_class, sw_name, sw_version);
    add_muscle(b, result, ct_class, sw_name, sw_version);
    add_models(b, result, ct_class);
    if (b.st.bad())
        return os_error_set(err, -EINVAL, "SR %s: cannot add the %s: %s", path, b.failed_at.c_str(), b.st.text());
    if (b.groups() == 0)
        return os_error_set(err, -ENODATA, "SR %s: the result has no measurement to report", path);
    if (!b.report().isValid())
        return os_error_set(err, -EINVAL, "SR %s: the TID 1500 content is incomplete", path);

    DSRDocument doc;
    OFCondition st = doc.setTreeFromRootTemplate(b.report(), OFTrue /*expandTree*/);
    if (st.good()) st = doc.changeDocumentType(DSRTypes::DT_ComprehensiveSR);
    if (st.good()) st = doc.readStudyData(ct);
    if (st.bad()) return os_error_set(err, -EINVAL, "SR %s: cannot build the document: %s", path, st.text());
    doc.createNewSeries();
    char num[16];
    snprintf(num, sizeof num, "%d", o ? o->sr_series_number : 9002);
    if (st.good()) st = doc.setSeriesNumber(num);
    if (st.good()) st = doc.setInstanceNumber("1");
    if (st.good()) st = doc.setSeriesDescription("OsteoScout measurements (automated, unverified)");
    if (st.good()) st = doc.setManufacturer("OsteoScout");
    if (st.good()) st = doc.setManufacturerModelName("OsteoScout");
    if (st.good() && !sw_version.empty()) st = doc.setSoftwareVersions(sw_version.c_str());

    /* The private scheme, declared. */
    char scheme_uid[OS_UID_MAX];
    os_dicom_internal_derived_uid(OS_SR_SCHEME_UID_SEED, scheme_uid);
    if (st.good())
        st = doc.getCodingSchemeIdentification().addItem(OS_SR_SCHEME, scheme_uid, OS_SR_SCHEME_NAME,
                                                          OS_SR_SCHEME_ORG);

    /* Evidence: every instance of the analysed series, and any other slice referenced. */
    DSRSOPInstanceReferenceList &ev = doc.getCurrentRequestedProcedureEvidence();
    for (size_t i = 0; st.good() && i < src->n_instances; i++)
        if (src->sop_instance_uids[i] && *src->sop_instance_uids[i])
            st = ev.addItem(study_uid.c_str(), ct_series.c_str(), ct_class.c_str(), src->sop_instance_uids[i]);
    for (const slice_ref &r : b.referenced())
        if (st.good()) st = ev.addItem(study_uid.c_str(), ct_series.c_str(), r.sop_class.c_str(), r.sop_uid.c_str());
    if (st.good()) st = doc.completeDocument();
    if (st.bad()) return os_error_set(err, -EINVAL, "SR %s: cannot set the document header: %s", path, st.text());

    DcmFileFormat ff;
    DcmDataset *ds = ff.getDataset();
    st = doc.write(*ds);
    if (st.bad()) return os_error_set(err, -EINVAL, "SR %s: cannot encode the document: %s", path, st.text());

    /* The caller's series, a fresh instance UID, and the CT's patient and study verbatim. */
    char uid[OS_UID_MAX];
    os_dicom_new_uid(uid);
    st = ds->putAndInsertString(DCM_SOPInstanceUID, uid);
    if (st.good()) st = ds->putAndInsertString(DCM_SeriesInstanceUID, series_uid);
    if (st.good()) st = copy_patient_study(ct, *ds);
    if (st.bad()) return os_error_set(err, -EINVAL, "SR %s: cannot set the header: %s", path, st.text());

    st = ff.saveFile(path, EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0,
                     EWM_createNewMeta);
    if (st.bad()) return os_error_set(err, -EIO, "SR %s: cannot write: %s", path, st.text());
    snprintf(sop_uid, OS_UID_MAX, "%s", uid);
    return 0;
}

} // namespace

extern "C" int os_dicom_write_sr(const cJSON *result, const os_report_source *src, const os_report_opts *o,
                                 const char *series_uid, const char *path, char sop_uid[OS_UID_MAX],
                                 os_error *err) {
    if (!result || !sop_uid) return os_error_set(err, -EINVAL, "os_dicom_write_sr: NULL argument");
    int rc = check_common(src, series_uid, path, "os_dicom_write_sr", err);
    if (rc < 0) return rc;
    try {
        return write_sr(result, src, o, series_uid, path, sop_uid, err);
    } catch (const std::exception &e) {
        return os_error_set(err, -ENOMEM, "SR %s: cannot write: %s", path, e.what());
    } catch (...) {
        return os_error_set(err, -EIO, "SR %s: cannot write: unexpected C++ exception", path);
    }
}
